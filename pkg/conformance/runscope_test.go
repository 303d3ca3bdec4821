package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/conformance"
)

func parse(t *testing.T, export string) *conformance.RunscopeExport {
	t.Helper()
	e, err := conformance.ParseRunscope([]byte(export))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// recorded is what a canned server saw of one request.
type recorded struct {
	method, path, rawQuery, filter, body string
	header                               http.Header
}

// cannedServer answers each "METHOD /path" with a fixed status and body
// and records every request.
type cannedServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []recorded
}

type canned struct {
	status int
	body   string
}

func newCannedServer(t *testing.T, answers map[string]canned) *cannedServer {
	s := &cannedServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.URL.Query().Get("filter"), string(b), r.Header.Clone()})
		s.mu.Unlock()
		a, ok := answers[r.Method+" "+r.URL.Path]
		if !ok {
			a = canned{404, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"no such thing"}`}
		}
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *cannedServer) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

func run(t *testing.T, e *conformance.RunscopeExport, opts conformance.RunscopeOptions) (*conformance.Report, string) {
	t.Helper()
	if opts.Pause == nil {
		opts.Pause = noPause
	}
	rep := conformance.RunRunscope(context.Background(), e, opts)
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	return rep, buf.String()
}

func TestRunscopeFailingAssertions(t *testing.T) {
	srv := newCannedServer(t, map[string]canned{
		"GET /scim/v2/Users/u1": {200, `{"id":"u1","name":{"familyName":"Doe"},"active":true,"totalResults":"3"}`},
		"GET /scim/v2/Broken":   {500, `Internal Server Error`},
	})
	e := parse(t, `{"name":"canned","steps":[
		{"step_type":"request","note":"Required Test: user","method":"GET","url":"{{SCIMBaseURL}}/Users/u1",
		 "headers":{"Authorization":["{{auth}}"]},
		 "assertions":[
			{"source":"response_status","comparison":"equal_number","value":"200"},
			{"source":"response_json","property":"name.familyName","comparison":"equal","value":"Smith"},
			{"source":"response_json","property":"emails[0].value","comparison":"not_empty","value":null},
			{"source":"response_json","property":"totalResults","comparison":"equal_number","value":3},
			{"source":"response_json","property":"active","comparison":"equal","value":"true"},
			{"source":"response_time","comparison":"is_less_than","value":"60000"}
		 ]},
		{"step_type":"request","note":"Optional Test: broken","method":"GET","url":"{{SCIMBaseURL}}/Broken",
		 "assertions":[
			{"source":"response_status","comparison":"equal_number","value":200},
			{"source":"response_json","property":"Resources","comparison":"not_empty","value":null},
			{"source":"response_xml","property":"a","comparison":"equal","value":"b"}
		 ]}
	]}`)
	rep, out := run(t, e, conformance.RunscopeOptions{BaseURL: srv.URL + "/scim/v2", Auth: "Bearer t0ken-value"})

	if len(rep.Checks) != 2 {
		t.Fatalf("%d checks", len(rep.Checks))
	}
	c := rep.Checks[0]
	want := []string{
		`response_json name.familyName equal: expected "Smith", got "Doe"`,
		`response_json emails[0].value not_empty: expected a non-empty value, got no emails[0].value in the body`,
		`response_json totalResults equal_number: expected the number 3, got "3"`,
	}
	if c.Status != conformance.StatusFail || c.Severity != conformance.SeverityMust || !slices.Equal(c.Failures, want) {
		t.Errorf("check 0: %s %s\n got %q\nwant %q", c.Status, c.Severity, c.Failures, want)
	}
	if c.Request == nil || c.Request.Method != "GET" || c.Request.URL != srv.URL+"/scim/v2/Users/u1" || c.Request.StatusCode != 200 {
		t.Errorf("request %+v", c.Request)
	}
	c = rep.Checks[1]
	want = []string{
		`response_status equal_number: expected 200, got 500`,
		`response_json Resources not_empty: expected a non-empty value, got an HTTP 500 answer whose body is not JSON (21 bytes: "Internal Server Error")`,
		`response_xml equal: expected "b", got source "response_xml" is not supported by this runner`,
	}
	if c.Status != conformance.StatusFail || c.Severity != conformance.SeverityMay || !slices.Equal(c.Failures, want) {
		t.Errorf("check 1: %s %s\n got %q\nwant %q", c.Status, c.Severity, c.Failures, want)
	}
	if rep.OK() || rep.Failed() != 2 || rep.Passed() != 0 {
		t.Errorf("OK %v, failed %d, passed %d", rep.OK(), rep.Failed(), rep.Passed())
	}
	if !strings.HasSuffix(out, "\n0 passed, 2 failed, 0 skipped\n") {
		t.Errorf("last line of %q", out)
	}
	if !strings.Contains(out, `    - response_json name.familyName equal: expected "Smith", got "Doe"`) {
		t.Errorf("text report lacks the failure")
	}
}

func TestRunscopeSendsStepRequests(t *testing.T) {
	srv := newCannedServer(t, map[string]canned{
		"POST /scim/v2/Users": {201, `{"id":"abc-1","emails":[{"value":"x@y"}]}`},
		"GET /scim/v2/Users":  {401, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"no"}`},
	})
	e := parse(t, `{"name":"requests","steps":[
		{"step_type":"request","note":"create","method":"POST","url":"{{SCIMBaseURL}}/Users",
		 "headers":{"Content-Type":["application/json"],"Authorization":["{{auth}}"],"Accept":"application/scim+json; charset=utf-8"},
		 "body":"{\"userName\":\"{{randomUsername}}\",\"x\":\"{{extra}}\"}",
		 "assertions":[{"source":"response_status","comparison":"equal_number","value":"201"}],
		 "variables":[{"source":"response_json","name":"newId","property":"id"},
		              {"source":"response_json","name":"mail","property":"emails[0].value"},
		              {"source":"response_headers","name":"ctype","property":"Content-Type"}]},
		{"step_type":"pause","duration":5},
		{"step_type":"pause","duration":10,"skipped":true},
		{"step_type":"request","note":"401","method":"GET",
		 "url":"{{SCIMBaseURL}}/Users?filter=userName eq \"{{mail}}\"&x={{newId}}",
		 "headers":{"Authorization":["non-token"],"User-Agent":["OKTA SCIM Integration"],"Accept-Charset":["utf-8"]},
		 "assertions":[{"source":"response_status","comparison":"equal_number","value":"401"},
		               {"source":"response_json","property":"status","comparison":"equal","value":"401"},
		               {"source":"response_headers","property":"Content-Type","comparison":"equal","value":"{{ctype}}"}]}
	]}`)
	var pauses []time.Duration
	rep, _ := run(t, e, conformance.RunscopeOptions{
		BaseURL: srv.URL + "/scim/v2/", // a trailing slash is fine
		Auth:    "Bearer k3y-value",
		Vars:    map[string]string{"extra": "from-options", "randomUsername": "fixed@atko.com"},
		Pause:   func(_ context.Context, d time.Duration) error { pauses = append(pauses, d); return nil },
	})
	if rep.Passed() != 2 || !rep.OK() {
		t.Errorf("%d passed, OK %v", rep.Passed(), rep.OK())
	}
	if !slices.Equal(pauses, []time.Duration{5 * time.Second}) {
		t.Errorf("pauses %v", pauses)
	}
	seen := srv.requests()
	if len(seen) != 2 {
		t.Fatalf("%d requests", len(seen))
	}
	post, get := seen[0], seen[1]
	if post.method != "POST" || post.path != "/scim/v2/Users" || post.body != `{"userName":"fixed@atko.com","x":"from-options"}` {
		t.Errorf("POST: %+v", post)
	}
	for name, want := range map[string]string{
		"Content-Type":  "application/json",
		"Authorization": "Bearer k3y-value",
		"Accept":        "application/scim+json; charset=utf-8",
	} {
		if got := post.header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("POST %s: %q, want %q", name, got, want)
		}
	}
	if get.filter != `userName eq "x@y"` || !strings.Contains(get.rawQuery, "%20eq%20%22x@y%22") || !strings.HasSuffix(get.rawQuery, "&x=abc-1") {
		t.Errorf("GET query %q (filter %q)", get.rawQuery, get.filter)
	}
	for name, want := range map[string]string{
		"Authorization":  "non-token",
		"User-Agent":     "OKTA SCIM Integration",
		"Accept-Charset": "utf-8",
	} {
		if got := get.header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("GET %s: %q, want %q", name, got, want)
		}
	}
}

func TestRunscopeSkipsAndDependencies(t *testing.T) {
	srv := newCannedServer(t, map[string]canned{
		"GET /scim/v2/Groups": {200, `{"totalResults":0,"Resources":[]}`},
	})
	e := parse(t, `{"name":"skips","steps":[
		{"step_type":"request","note":"skipped one","skipped":true,"method":"GET","url":"{{SCIMBaseURL}}/Groups",
		 "variables":[{"source":"response_json","name":"fromSkipped","property":"id"}]},
		{"step_type":"request","note":"Okta API","method":"POST","url":"{{oktaOrgUrl}}/api/v1/users?activate=true",
		 "headers":{"Authorization":"SSWS {{oktaToken}}"},
		 "variables":[{"source":"response_json","name":"oktaUserId","property":"id"}]},
		{"step_type":"request","note":"elsewhere","method":"GET","url":"https://example.org/scim/v2/Users"},
		{"step_type":"request","note":"prefix is not a parent","method":"GET","url":"{{SCIMBaseURL}}x/Users"},
		{"step_type":"request","note":"needs skipped vars","method":"GET","url":"{{SCIMBaseURL}}/Users/{{oktaUserId}}?a={{fromSkipped}}"},
		{"step_type":"request","note":"needs an unknown var","method":"GET","url":"{{SCIMBaseURL}}/Users/{{nobodySetsThis}}"},
		{"step_type":"request","note":"script only","method":"GET","url":"{{SCIMBaseURL}}/Groups","scripts":["assert.ok(true);"]},
		{"step_type":"request","note":"assertions and a script","method":"GET","url":"{{SCIMBaseURL}}/Groups",
		 "assertions":[{"source":"response_status","comparison":"equal_number","value":"200"}],
		 "scripts":["", "log(1);"], "before_scripts":["variables.set('a', 1);"]},
		{"step_type":"condition","note":"a branch"},
		{"step_type":"request","note":"no assertions","method":"GET","url":"{{SCIMBaseURL}}/Groups"}
	]}`)
	rep, _ := run(t, e, conformance.RunscopeOptions{BaseURL: srv.URL + "/scim/v2", Vars: map[string]string{"oktaOrgUrl": "https://dev-1.okta.com"}})

	want := []struct {
		status conformance.Status
		note   string
	}{
		{conformance.StatusSkip, "skipped in the export"},
		{conformance.StatusSkip, "needs a live Okta org"},
		{conformance.StatusSkip, "needs a live Okta org"},
		{conformance.StatusSkip, "needs a live Okta org"},
		{conformance.StatusSkip, "needs oktaUserId, fromSkipped, set by a skipped step"},
		{conformance.StatusFail, ""},
		{conformance.StatusSkip, "JavaScript scripts are not run"},
		{conformance.StatusPass, "script skipped: JavaScript scripts are not run"},
		{conformance.StatusSkip, `step type "condition" is not supported`},
		{conformance.StatusPass, ""},
	}
	if len(rep.Checks) != len(want) {
		t.Fatalf("%d checks, want %d", len(rep.Checks), len(want))
	}
	for i, w := range want {
		c := rep.Checks[i]
		if c.Status != w.status || (w.note != "" && !slices.Contains(c.Notes, w.note)) {
			t.Errorf("%s: %s %q, want %s %q", c.Name, c.Status, c.Notes, w.status, w.note)
		}
	}
	if n := rep.Checks[6].Notes; !slices.Equal(n, []string{"JavaScript scripts are not run"}) {
		t.Errorf("script only: notes %q", n)
	}
	if f := rep.Checks[5].Failures; len(f) != 1 || f[0] != "not run: variable nobodySetsThis is not set" {
		t.Errorf("unknown variable: %q", f)
	}
	if n := len(srv.requests()); n != 3 {
		t.Errorf("%d requests reached the server, want 3", n)
	}
	if rep.OK() {
		t.Error("OK() with a failed MUST check")
	}
}

func TestRunscopeRedactsAuthorization(t *testing.T) {
	// A server that echoes the credentials it was given.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"detail":"bad credentials: `+r.Header.Get("Authorization")+`"}`)
	}))
	defer srv.Close()
	e := parse(t, `{"name":"redact","steps":[
		{"step_type":"request","note":"echo","method":"GET","url":"{{SCIMBaseURL}}/Users?token={{auth}}",
		 "headers":{"Authorization":["{{auth}}"]},
		 "assertions":[{"source":"response_json","property":"detail","comparison":"equal","value":"ok"},
		               {"source":"response_json","property":"","comparison":"equal","value":"{{auth}}"}]}
	]}`)
	_, out := run(t, e, conformance.RunscopeOptions{BaseURL: srv.URL, Auth: "Bearer very-secret/t0k+n=&x<y"})
	if strings.Contains(out, "very-secret") {
		t.Errorf("the report shows the token:\n%s", out)
	}
	if !strings.Contains(out, "[REDACTED]") {
		t.Errorf("nothing was redacted:\n%s", out)
	}
}

func TestRunscopeUnreachableAndCancelled(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL + "/scim/v2"
	srv.Close() // nothing listens any more

	e := parse(t, `{"name":"gone","steps":[
		{"step_type":"request","note":"one","method":"GET","url":"{{SCIMBaseURL}}/Users",
		 "assertions":[{"source":"response_status","comparison":"equal_number","value":"200"}]},
		{"step_type":"pause","duration":5},
		{"step_type":"request","note":"two","method":"GET","url":"{{SCIMBaseURL}}/Users"},
		{"step_type":"request","note":"Optional: three","method":"GET","url":"{{SCIMBaseURL}}/Users"}
	]}`)
	rep, _ := run(t, e, conformance.RunscopeOptions{BaseURL: base, Pause: func(context.Context, time.Duration) error {
		return context.Canceled
	}})
	if c := rep.Checks[0]; c.Status != conformance.StatusFail || len(c.Failures) != 1 || !strings.HasPrefix(c.Failures[0], "no answer: cannot reach") {
		t.Errorf("unreachable: %s %q", c.Status, c.Failures)
	}
	for _, c := range rep.Checks[1:] {
		if c.Status != conformance.StatusFail || len(c.Failures) != 1 || c.Failures[0] != "not run: context canceled" {
			t.Errorf("after the pause failed: %s %s %q", c.Name, c.Status, c.Failures)
		}
	}

	// A context cancelled before the run: nothing is sent, nothing passes.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep = conformance.RunRunscope(ctx, conformance.OktaSPECTest(), conformance.RunscopeOptions{BaseURL: base})
	if rep.OK() || rep.Passed() != 0 || rep.Failed() != len(rep.Checks) {
		t.Errorf("cancelled run: OK %v, %d passed, %d failed of %d", rep.OK(), rep.Passed(), rep.Failed(), len(rep.Checks))
	}
}

// Okta's CRUD test drives an Okta org: offline, every step is skipped
// and nothing is sent.
func TestOktaCRUDTestNeedsOkta(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "okta", "Okta-SCIM-20-CRUD-Test.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := newCannedServer(t, nil)
	rep, out := run(t, parse(t, string(data)), conformance.RunscopeOptions{BaseURL: srv.URL + "/scim/v2", Auth: "Bearer x-token"})
	if len(rep.Checks) != 13 || rep.Skipped() != 13 || !rep.OK() {
		t.Errorf("%d checks, %d skipped", len(rep.Checks), rep.Skipped())
	}
	for _, c := range rep.Checks {
		if !slices.Equal(c.Notes, []string{"needs a live Okta org"}) {
			t.Errorf("%s: %q", c.Name, c.Notes)
		}
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	if !strings.HasSuffix(out, "\n0 passed, 0 failed, 13 skipped\n") {
		t.Errorf("last line of %q", out)
	}
}

func TestParseRunscopeErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `{"name":"x","steps":[]}`, `{"steps":[{"headers":{"A":1}}]}`} {
		if _, err := conformance.ParseRunscope([]byte(in)); err == nil {
			t.Errorf("ParseRunscope(%q) accepted", in)
		}
	}
}

func TestReport(t *testing.T) {
	rep := &conformance.Report{Suite: "s", Checks: []conformance.Check{
		{Name: "a", Severity: conformance.SeverityMust, Status: conformance.StatusPass},
		{Name: "b", Severity: conformance.SeverityMay, Status: conformance.StatusFail, Failures: []string{"x: expected 1, got 2"}},
		{Name: "c", Severity: conformance.SeverityShould, Status: conformance.StatusFail},
		{Name: "d", Severity: conformance.SeverityMust, Status: conformance.StatusSkip, Notes: []string{"why"}},
	}}
	if rep.Passed() != 1 || rep.Failed() != 2 || rep.Skipped() != 1 || !rep.OK() {
		t.Errorf("counts %d %d %d, OK %v", rep.Passed(), rep.Failed(), rep.Skipped(), rep.OK())
	}
	rep.Checks[0].Status = conformance.StatusFail
	if rep.OK() {
		t.Error("OK() with a failed MUST check")
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	want := "s\n" +
		"FAIL MUST   a\n" +
		"FAIL MAY    b\n" +
		"            - x: expected 1, got 2\n" +
		"FAIL SHOULD c\n" +
		"SKIP MUST   d\n" +
		"            note: why\n" +
		"0 passed, 3 failed, 1 skipped\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	if err := rep.WriteText(errWriter{}); err == nil {
		t.Error("a write error was lost")
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestRunscopeOnlySkip: the library selects the checks of a replay, as the
// scenario runner does: Skip sends nothing for the steps it names, and
// Only reports just the checks it names.
func TestRunscopeOnlySkip(t *testing.T) {
	srv := newCannedServer(t, map[string]canned{
		"GET /scim/v2/Users":  {200, `{"totalResults":0,"Resources":[]}`},
		"GET /scim/v2/Groups": {200, `{"totalResults":0,"Resources":[]}`},
	})
	e := parse(t, `{"name":"select","steps":[
		{"step_type":"request","note":"List users","method":"GET","url":"{{SCIMBaseURL}}/Users",
		 "assertions":[{"source":"response_status","comparison":"equal_number","value":"200"}]},
		{"step_type":"request","note":"List groups","method":"GET","url":"{{SCIMBaseURL}}/Groups",
		 "assertions":[{"source":"response_status","comparison":"equal_number","value":"200"}]}
	]}`)
	base := srv.URL + "/scim/v2"

	rep, _ := run(t, e, conformance.RunscopeOptions{BaseURL: base, Skip: []string{"list GROUPS"}})
	if len(rep.Checks) != 2 || rep.Checks[0].Status != conformance.StatusPass || rep.Checks[1].Status != conformance.StatusSkip {
		t.Fatalf("Skip: checks %+v, want List users passed and List groups skipped", rep.Checks)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("Skip: %d requests reached the server, want 1", n)
	}

	rep, _ = run(t, e, conformance.RunscopeOptions{BaseURL: base, Only: []string{"List g*"}})
	if len(rep.Checks) != 1 || rep.Checks[0].Name != "List groups" || rep.Checks[0].Status != conformance.StatusPass {
		t.Errorf("Only: checks %+v, want List groups alone, passed", rep.Checks)
	}
}
