package conformance

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

// stubSCIM is a small SCIM-like handler for testing the runner itself:
// it records what it is sent and answers from a table.
type stubSCIM struct {
	mu   sync.Mutex
	seen []seenRequest
	// answer returns status and body for a request; nil answers 404.
	answer func(r *http.Request, body string) (int, string)
	spc    string
}

type seenRequest struct {
	method, uri, auth, contentType, body string
}

func (s *stubSCIM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.seen = append(s.seen, seenRequest{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/scim+json")
	switch r.URL.Path {
	case "/ServiceProviderConfig":
		io.WriteString(w, s.spc)
		return
	case "/ResourceTypes":
		io.WriteString(w, `{"Resources":[{"name":"User","endpoint":"/Users","schemaExtensions":[{"schema":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]},{"name":"Group","endpoint":"/Groups"}]}`)
		return
	}
	status, body := http.StatusNotFound, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"not found"}`
	if s.answer != nil {
		status, body = s.answer(r, string(b))
	}
	var doc struct {
		Meta struct{ Location string }
	}
	if status == http.StatusCreated && json.Unmarshal([]byte(body), &doc) == nil && doc.Meta.Location != "" {
		w.Header().Set("Location", doc.Meta.Location)
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (s *stubSCIM) requests() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.seen...)
}

func parse(t *testing.T, src string) *Scenario {
	t.Helper()
	s, err := ParseScenario("test.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s.Suite == "" {
		s.Suite = "unit"
	}
	return s
}

func run(t *testing.T, h http.Handler, opts Options, scenarios ...*Scenario) *Result {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	opts.BaseURL = ts.URL
	if opts.Token == "" {
		opts.Token = "kcs_secret-token-value"
	}
	return Run(context.Background(), scenarios, opts)
}

func checks(res *Result) map[string]Check {
	m := map[string]Check{}
	for _, rep := range res.Reports {
		for _, c := range rep.Checks {
			m[c.Name] = c
		}
	}
	return m
}

const createAndRead = `{
  "name": "create and read",
  "vars": {"userName": "u-{{rand}}@example.com"},
  "steps": [
    {"name": "create", "method": "POST", "path": "/Users",
     "body": {"userName": "{{userName}}", "password": "p"},
     "capture": {"userId": "id", "created": "$"},
     "expect": {"status": 201, "assert": [
       {"json": "userName", "op": "equal", "value": "{{userName}}"},
       {"json": "password", "op": "absent", "check": "no password", "severity": "SHOULD"}
     ]}},
    {"name": "read", "method": "GET", "path": "/Users/{{userId}}",
     "expect": {"status": 200, "assert": [{"json": "id", "op": "equal", "value": "{{userId}}"}]}},
    {"name": "echo", "method": "PUT", "path": "/Users/{{userId}}", "body": {"whole": "{{created|json}}"},
     "expect": {"status": 200}},
    {"name": "find", "method": "GET", "path": "/Users?filter=userName eq \"{{userName}}\"",
     "expect": {"status": 200}}
  ],
  "cleanup": [{"method": "DELETE", "path": "/Users/{{userId}}"}]
}`

// goodUsers answers createAndRead as a conforming server would.
func goodUsers(r *http.Request, body string) (int, string) {
	switch {
	case r.Method == http.MethodPost:
		var in map[string]any
		json.Unmarshal([]byte(body), &in)
		return 201, `{"id":"abc 1","userName":"` + in["userName"].(string) + `"}`
	case r.Method == http.MethodGet && r.URL.Path == "/Users/abc 1":
		return 200, `{"id":"abc 1"}`
	case r.Method == http.MethodPut, r.Method == http.MethodDelete:
		return 200, `{}`
	case r.Method == http.MethodGet && r.URL.Path == "/Users":
		return 200, `{"totalResults":1}`
	}
	return 404, `{}`
}

func TestRunPassesAndSubstitutes(t *testing.T) {
	stub := &stubSCIM{answer: goodUsers, spc: `{}`}
	res := run(t, stub, Options{NoState: true}, parse(t, createAndRead)) // the stub keeps no state
	if p, f, s := res.Totals(); p != 5 || f != 0 || s != 0 || !res.OK() {
		t.Fatalf("totals %d/%d/%d, OK %v; want 5 passed: %+v", p, f, s, res.OK(), res.Reports)
	}
	reqs := stub.requests()
	var create, read, echo, find, del seenRequest
	for _, r := range reqs {
		switch {
		case r.method == "POST":
			create = r
		case r.method == "GET" && strings.HasPrefix(r.uri, "/Users/"):
			read = r
		case r.method == "PUT":
			echo = r
		case r.method == "GET" && strings.HasPrefix(r.uri, "/Users?"):
			find = r
		case r.method == "DELETE":
			del = r
		}
	}
	if create.auth != "Bearer kcs_secret-token-value" || create.contentType != "application/scim+json" {
		t.Errorf("create sent Authorization %q, Content-Type %q", create.auth, create.contentType)
	}
	if !strings.Contains(create.body, `"userName":"u-`) || strings.Contains(create.body, "{{") {
		t.Errorf("create body not substituted: %s", create.body)
	}
	if read.uri != "/Users/abc%201" {
		t.Errorf("read URI %q; want the captured id, escaped", read.uri)
	}
	if !strings.Contains(echo.body, `"whole":{"id":"abc 1","userName":"u-`) {
		t.Errorf("{{created|json}} not replaced by the captured object: %s", echo.body)
	}
	if !strings.HasPrefix(find.uri, "/Users?filter=userName%20eq%20%22u-") {
		t.Errorf("filter URI %q", find.uri)
	}
	if del.uri != "/Users/abc%201" {
		t.Errorf("cleanup DELETE %q", del.uri)
	}
	if len(res.Leftovers) != 0 {
		t.Errorf("leftovers %q", res.Leftovers)
	}
}

// One fault fails one check: a create that answers 400 fails "create", and
// the checks that need its id are skipped, not failed, as is its own
// assertion check.
func TestRunOneFaultOneFailure(t *testing.T) {
	stub := &stubSCIM{spc: `{}`, answer: func(r *http.Request, body string) (int, string) {
		if r.Method == http.MethodPost {
			return 400, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"scimType":"invalidValue","detail":"nope","status":"400"}`
		}
		return goodUsers(r, body)
	}}
	res := run(t, stub, Options{}, parse(t, createAndRead))
	cs := checks(res)
	if c := cs["create"]; c.Status != StatusFail || len(c.Failures) != 1 || !strings.Contains(c.Failures[0], "expected 201, got 400 (invalidValue: nope)") {
		t.Errorf("create: %+v", c)
	}
	for _, name := range []string{"no password", "read", "echo"} {
		if cs[name].Status != StatusSkip {
			t.Errorf("%s: %+v; want skipped", name, cs[name])
		}
	}
	if !strings.Contains(strings.Join(cs["read"].Notes, " "), `{{userId}}, which "create" did not capture`) {
		t.Errorf("read notes %q", cs["read"].Notes)
	}
	if cs["find"].Status != StatusPass {
		t.Errorf("find does not depend on create: %+v", cs["find"])
	}
	if res.OK() {
		t.Error("OK with a failed MUST check")
	}
	for _, r := range stub.requests() {
		if r.method == http.MethodDelete {
			t.Errorf("cleanup sent %s %s for a user never created", r.method, r.uri)
		}
	}
}

func TestRunShouldFailureKeepsOK(t *testing.T) {
	stub := &stubSCIM{spc: `{}`, answer: func(r *http.Request, body string) (int, string) {
		if r.Method == http.MethodPost {
			var in map[string]any
			json.Unmarshal([]byte(body), &in)
			return 201, `{"id":"abc 1","userName":"` + in["userName"].(string) + `","password":"p"}`
		}
		return goodUsers(r, body)
	}}
	res := run(t, stub, Options{NoState: true}, parse(t, createAndRead)) // the stub keeps no state
	cs := checks(res)
	if c := cs["no password"]; c.Status != StatusFail || c.Severity != SeverityShould {
		t.Errorf("no password: %+v", c)
	}
	if cs["create"].Status != StatusPass || cs["read"].Status != StatusPass {
		t.Errorf("a failed assertion with a check of its own failed the step: %+v", cs["create"])
	}
	if !res.OK() {
		t.Error("a SHOULD failure made the run fail")
	}
}

func TestRunCapabilitiesFromServiceProviderConfig(t *testing.T) {
	s := parse(t, `{"name": "sorting", "steps": [
	  {"name": "sorted", "requires": ["sort"], "method": "GET", "path": "/Users?sortBy=userName", "expect": {"status": 200}},
	  {"name": "bulk", "requires": ["bulk"], "method": "POST", "path": "/Bulk", "body": {}, "expect": {"status": 200}},
	  {"name": "mapping", "requires": ["directory"], "method": "GET", "path": "/Users", "expect": {"status": 200}}
	]}`)
	stub := &stubSCIM{spc: `{"sort":{"supported":false},"bulk":{"supported":true}}`, answer: func(*http.Request, string) (int, string) { return 200, `{}` }}
	res := run(t, stub, Options{}, s)
	cs := checks(res)
	if c := cs["sorted"]; c.Status != StatusSkip || !strings.Contains(c.Notes[0], "says sort is not supported") {
		t.Errorf("sorted: %+v", c)
	}
	if cs["bulk"].Status != StatusPass {
		t.Errorf("bulk: %+v", cs["bulk"])
	}
	if c := cs["mapping"]; c.Status != StatusSkip || !strings.Contains(c.Notes[0], "admin") {
		t.Errorf("mapping: %+v", c)
	}
	for _, r := range stub.requests() {
		if strings.Contains(r.uri, "sortBy") {
			t.Error("a step needing an unsupported feature was sent")
		}
	}
	if res.Capabilities[CapSort] || !res.Capabilities[CapBulk] {
		t.Errorf("capabilities %v", res.Capabilities)
	}
}

func TestRunOnlyAndSkip(t *testing.T) {
	stub := &stubSCIM{answer: goodUsers, spc: `{}`}
	res := run(t, stub, Options{Only: []string{"unit/rea*"}}, parse(t, createAndRead))
	if cs := checks(res); len(cs) != 1 || cs["read"].Status != StatusPass {
		t.Errorf("--only read: %+v", cs)
	}

	stub = &stubSCIM{answer: goodUsers, spc: `{}`}
	res = run(t, stub, Options{Skip: []string{"CREATE"}}, parse(t, createAndRead))
	cs := checks(res)
	if cs["create"].Status != StatusSkip || cs["read"].Status != StatusSkip || cs["find"].Status != StatusPass {
		t.Errorf("--skip create: %+v", cs)
	}
	for _, r := range stub.requests() {
		if r.method == http.MethodPost {
			t.Error("a skipped step was sent")
		}
	}
}

func TestRunVerboseRedactsKey(t *testing.T) {
	stub := &stubSCIM{spc: `{}`, answer: func(r *http.Request, body string) (int, string) {
		return 201, `{"id":"1","echo":"` + r.Header.Get("Authorization") + `"}`
	}}
	s := parse(t, `{"name": "echo", "steps": [{"name": "post", "method": "POST", "path": "/Users", "body": {"a": 1}, "expect": {"status": 201}}]}`)
	res := run(t, stub, Options{Verbose: true, Token: "kcs_topsecret_value"}, s)
	c := checks(res)["post"]
	if c.Transcript == nil {
		t.Fatal("no transcript with Verbose")
	}
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), "topsecret") {
		t.Errorf("the key is in the result: %s", b)
	}
	if !strings.Contains(c.Transcript.Response, "Bearer [REDACTED]") || !strings.Contains(strings.Join(c.Transcript.RequestHeaders, "\n"), "Authorization: Bearer [REDACTED]") {
		t.Errorf("transcript %+v", c.Transcript)
	}
}

func TestRunAuthModes(t *testing.T) {
	stub := &stubSCIM{spc: `{}`, answer: func(*http.Request, string) (int, string) { return 200, `{}` }}
	s := parse(t, `{"name": "auth", "steps": [
	  {"name": "none", "auth": "none", "method": "GET", "path": "/Users"},
	  {"name": "bare", "auth": "bare", "method": "GET", "path": "/Users"},
	  {"name": "invalid", "auth": "invalid", "method": "GET", "path": "/Users"}
	]}`)
	run(t, stub, Options{Token: "kcs_k"}, s)
	var got []string
	for _, r := range stub.requests() {
		if r.uri == "/Users" {
			got = append(got, r.auth)
		}
	}
	if len(got) != 3 || got[0] != "" || got[1] != "kcs_k" || got[2] != "Bearer "+invalidToken {
		t.Errorf("Authorization headers %q", got)
	}
}

type fakeDirectory map[string]map[string]string

func (d fakeDirectory) User(_ context.Context, id string) (map[string]string, bool, error) {
	f, ok := d[id]
	return f, ok, nil
}

func TestRunDirectoryExpectations(t *testing.T) {
	s := parse(t, `{"name": "dir", "steps": [
	  {"name": "create", "method": "POST", "path": "/Users", "body": {}, "capture": {"id": "id"},
	   "expect": {"status": 201}, "directory": {"user": "{{id}}", "fields": {"Disabled": "false", "Department": ""}}},
	  {"name": "gone", "method": "GET", "path": "/Users", "expect": {"status": 200},
	   "directory": {"user": "{{id}}", "absent": true, "check": "gone from the directory"}}
	]}`)
	stub := &stubSCIM{spc: `{}`, answer: func(r *http.Request, _ string) (int, string) {
		if r.Method == http.MethodPost {
			return 201, `{"id":"u1"}`
		}
		return 200, `{}`
	}}
	res := run(t, stub, Options{Directory: fakeDirectory{"u1": {"Disabled": "true"}}}, s)
	cs := checks(res)
	c := cs["create: directory user"]
	if c.Status != StatusFail || len(c.Failures) != 1 || c.Failures[0] != `field Disabled: expected "false", got "true"` {
		t.Errorf("create: directory user: %+v", c)
	}
	if c := cs["gone from the directory"]; c.Status != StatusFail || !strings.Contains(c.Failures[0], "expected none") {
		t.Errorf("gone: %+v", c)
	}
}

func TestRunCleanupLeftovers(t *testing.T) {
	stub := &stubSCIM{spc: `{}`, answer: func(r *http.Request, body string) (int, string) {
		if r.Method == http.MethodDelete {
			return 500, `{"detail":"disk on fire"}`
		}
		return goodUsers(r, body)
	}}
	res := run(t, stub, Options{}, parse(t, createAndRead))
	if len(res.Leftovers) != 1 || !strings.Contains(res.Leftovers[0], "DELETE /Users/abc 1: HTTP 500 (disk on fire)") {
		t.Errorf("leftovers %q", res.Leftovers)
	}
	stub = &stubSCIM{spc: `{}`, answer: goodUsers}
	res = run(t, stub, Options{Keep: true}, parse(t, createAndRead))
	if len(res.Leftovers) != 1 || !strings.HasSuffix(res.Leftovers[0], "(kept)") {
		t.Errorf("with Keep: leftovers %q", res.Leftovers)
	}
	for _, r := range stub.requests() {
		if r.method == http.MethodDelete {
			t.Error("Keep sent a DELETE")
		}
	}
}

func TestJudgeOps(t *testing.T) {
	doc := decodeLoose([]byte(`{"Resources":[{"userName":"alice","n":2},{"userName":"Bob","n":10},{"userName":"carol","n":3}],
	  "emails":[{"value":"a@x","type":"work","primary":true}],"total":"3","active":false}`))
	for _, tc := range []struct {
		path, op, value string
		want            bool
	}{
		{"Resources[*].userName", "sorted", `"ascending"`, true},
		{"Resources[*].userName", "sorted", `"descending"`, false},
		{"Resources[*].n", "sorted", `"ascending"`, false},
		{"Resources", "length", `3`, true},
		{"Resources", "length", `2`, false},
		{"emails", "has_element", `{"type":"work","primary":true}`, true},
		{"emails", "has_element", `{"type":"home"}`, false},
		{"emails", "lacks_element", `{"type":"home"}`, true},
		{"total", "type", `"number"`, false},
		{"total", "type", `"string"`, true},
		{"active", "equal_json", `false`, true},
		{"active", "equal", `"false"`, true},
		{"Resources[1].userName", "equal_fold", `"BOB"`, true},
		{"Resources[1].userName", "matches", `"^B.b$"`, true},
		{"missing", "absent", ``, true},
		{"missing", "present", ``, false},
		{"Resources[0].n", "one_of", `[1, 2]`, true},
		{"Resources[0]", "equal_json", `{"n":2.0,"userName":"alice"}`, true},
	} {
		v, ok := lookupAll(doc, tc.path)
		var exp any
		if tc.value != "" {
			exp = decodeLoose([]byte(tc.value))
		}
		if _, _, pass := judge(tc.op, v, ok, exp); pass != tc.want {
			t.Errorf("%s %s %s: %v, want %v", tc.path, tc.op, tc.value, pass, tc.want)
		}
	}
}

func TestParseScenarioErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{"name":"x","steps":[{"name":"a","method":"GET","path":"/Users","expect":{"assert":[{"json":"id","op":"equals"}]}}]}`, `op "equals" is not one of`},
		{`{"name":"x","steps":[{"name":"a","method":"FETCH","path":"/Users"}]}`, `method "FETCH"`},
		{`{"name":"x","steps":[{"name":"a","method":"GET","path":"Users"}]}`, `must start with /`},
		{`{"name":"x","steps":[{"name":"a","method":"GET","path":"/U","requires":["teleport"]}]}`, `unknown capability "teleport"`},
		{`{"name":"x","stepz":[]}`, `unknown field "stepz"`},
		{`{"name":"x","steps":[{"name":"a","method":"GET","path":"/U","expect":{"assert":[{"json":"id","header":"ETag","op":"present"}]}}]}`, `exactly one of json, header and text`},
		{`{"name":"x","steps":[{"name":"a","method":"GET","path":"/U","auth":"basic"}]}`, `auth "basic"`},
	} {
		_, err := ParseScenario("bad.json", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v; want %q", tc.src, err, tc.want)
		}
	}
}

func TestLoadScenariosDuplicateNamesAndSuites(t *testing.T) {
	step := `{"name":"%s","steps":[{"name":"same","method":"GET","path":"/Users"}]}`
	fsys := fstest.MapFS{
		"okta/a.json":  {Data: []byte(strings.Replace(step, "%s", "a", 1))},
		"okta/b.json":  {Data: []byte(strings.Replace(step, "%s", "b", 1))},
		"other/c.json": {Data: []byte(strings.Replace(step, "%s", "c", 1))},
	}
	if _, err := LoadScenarios(fsys, "."); err == nil || !strings.Contains(err.Error(), `suite okta: check "same" is in both okta/a.json and okta/b.json`) {
		t.Errorf("duplicate check names: %v", err)
	}
	delete(fsys, "okta/b.json")
	s, err := LoadScenarios(fsys, ".")
	if err != nil || len(s) != 2 || s[0].Suite != "okta" || s[1].Suite != "other" {
		t.Fatalf("LoadScenarios: %v %+v", err, s)
	}
}

func TestBuiltinScenariosLoad(t *testing.T) {
	s, err := BuiltinScenarios()
	if err != nil {
		t.Fatal(err)
	}
	if len(s) == 0 {
		t.Fatal("no built-in scenarios")
	}
	for _, sc := range s {
		if !contains([]any{"okta-spec", "okta-lifecycle", "okta-groups", "entra", "rfc7644"}, sc.Suite) {
			t.Errorf("%s: suite %q is not a built-in suite", sc.file, sc.Suite)
		}
	}
}

func TestRunAfter(t *testing.T) {
	s := parse(t, `{"name": "after", "steps": [
	  {"name": "write", "method": "PATCH", "path": "/Users/1", "body": {}, "expect": {"status": 200}},
	  {"name": "read back", "after": ["write"], "method": "GET", "path": "/Users/1", "expect": {"status": 200}},
	  {"name": "unrelated", "method": "GET", "path": "/Users", "expect": {"status": 200}}
	]}`)
	stub := &stubSCIM{spc: `{}`, answer: func(r *http.Request, _ string) (int, string) {
		if r.Method == http.MethodPatch {
			return 400, `{"detail":"refused"}`
		}
		return 200, `{}`
	}}
	cs := checks(run(t, stub, Options{}, s))
	if cs["write"].Status != StatusFail || cs["unrelated"].Status != StatusPass {
		t.Errorf("write %s, unrelated %s", cs["write"].Status, cs["unrelated"].Status)
	}
	if c := cs["read back"]; c.Status != StatusSkip || c.Notes[0] != `not run: waits on "write", which failed` {
		t.Errorf("read back: %+v", c)
	}
	if _, err := ParseScenario("x.json", []byte(`{"name":"x","steps":[{"name":"a","after":["b"],"method":"GET","path":"/U"},{"name":"b","method":"GET","path":"/U"}]}`)); err == nil || !strings.Contains(err.Error(), `after "b": no earlier step of that name`) {
		t.Errorf("after a later step: %v", err)
	}
}

// TestRunUnlessFailed: a step with unlessFailed is skipped when the step
// it names failed, and runs when that step passed or was not run (a
// dialect step against a strict server).
func TestRunUnlessFailed(t *testing.T) {
	s := parse(t, `{"name": "unlessFailed", "steps": [
	  {"name": "refused", "method": "PATCH", "path": "/Users/1", "body": {}, "expect": {"status": 200}},
	  {"name": "dialect", "requires": ["lenient"], "method": "GET", "path": "/Users/1", "expect": {"status": 200}},
	  {"name": "after refused", "unlessFailed": ["refused"], "method": "DELETE", "path": "/Users/1", "expect": {"status": 204}},
	  {"name": "after dialect", "unlessFailed": ["dialect"], "method": "DELETE", "path": "/Users/2", "expect": {"status": 204}}
	]}`)
	stub := &stubSCIM{spc: `{"urn:kacescim:params:scim:schemas:extension:dialect:2.0:ServiceProviderConfig":{"strict":true}}`, answer: func(r *http.Request, _ string) (int, string) {
		switch r.Method {
		case http.MethodPatch:
			return 400, `{"detail":"refused"}`
		case http.MethodDelete:
			return 204, ``
		}
		return 200, `{}`
	}}
	cs := checks(run(t, stub, Options{}, s))
	if cs["refused"].Status != StatusFail || cs["dialect"].Status != StatusSkip {
		t.Fatalf("refused %s, dialect %s", cs["refused"].Status, cs["dialect"].Status)
	}
	if c := cs["after refused"]; c.Status != StatusSkip || c.Notes[0] != `not run: "refused" failed` {
		t.Errorf("after refused: %+v", c)
	}
	if c := cs["after dialect"]; c.Status != StatusPass {
		t.Errorf("after dialect, whose step was not run: %+v", c)
	}
	if _, err := ParseScenario("x.json", []byte(`{"name":"x","steps":[{"name":"a","unlessFailed":["b"],"method":"GET","path":"/U"},{"name":"b","method":"GET","path":"/U"}]}`)); err == nil || !strings.Contains(err.Error(), `unlessFailed "b": no earlier step of that name`) {
		t.Errorf("unlessFailed a later step: %v", err)
	}
}

func TestRunStrictFromDialectExtension(t *testing.T) {
	s := parse(t, `{"name": "dialect", "steps": [
	  {"name": "entra only", "requires": ["lenient"], "method": "GET", "path": "/Users"},
	  {"name": "strict only", "requires": ["strict"], "method": "GET", "path": "/Users"}
	]}`)
	ok := func(*http.Request, string) (int, string) { return 200, `{}` }
	strict := &stubSCIM{answer: ok, spc: `{"urn:kacescim:params:scim:schemas:extension:dialect:2.0:ServiceProviderConfig":{"strict":true}}`}
	cs := checks(run(t, strict, Options{}, s))
	if cs["entra only"].Status != StatusSkip || cs["strict only"].Status != StatusPass {
		t.Errorf("strict server: %+v", cs)
	}
	lenient := &stubSCIM{answer: ok, spc: `{}`}
	cs = checks(run(t, lenient, Options{}, s))
	if cs["entra only"].Status != StatusPass || cs["strict only"].Status != StatusSkip {
		t.Errorf("lenient server: %+v", cs)
	}
	cs = checks(run(t, lenient, Options{Capabilities: map[Capability]bool{CapStrict: true}}, s))
	if cs["entra only"].Status != StatusSkip || cs["strict only"].Status != StatusPass {
		t.Errorf("told strict: %+v", cs)
	}
}

// A directory expectation naming a variable no step set is skipped, not
// compared with the literal "{{name}}".
func TestRunDirectoryMissingVariable(t *testing.T) {
	s := parse(t, `{"name": "dir", "steps": [
	  {"name": "create", "method": "POST", "path": "/Users", "body": {}, "capture": {"id": "id"},
	   "expect": {"status": 201}, "directory": {"user": "{{id}}", "fields": {"Department": "{{dept}}"}}}
	]}`)
	stub := &stubSCIM{spc: `{}`, answer: func(*http.Request, string) (int, string) { return 201, `{"id":"u1"}` }}
	c := checks(run(t, stub, Options{Directory: fakeDirectory{"u1": {}}}, s))["create: directory user"]
	if c.Status != StatusSkip || !strings.Contains(c.Notes[0], "{{dept}}") {
		t.Errorf("%+v", c)
	}
}

func TestReadResourceTypes(t *testing.T) {
	for _, tc := range []struct {
		body               string
		groups, enterprise bool
	}{
		{`{"Resources":[{"name":"User","endpoint":"/Users","schemaExtensions":[{"schema":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]},{"name":"Group","endpoint":"/Groups"}]}`, true, true},
		{`[{"name":"User","endpoint":"/Users"}]`, false, false},
		{`{"Resources":[{"name":"User","endpoint":"/Users","description":"not a group, no enterprise:2.0:user here"}]}`, false, false},
		{`{"Resources":[{"name":"Team","endpoint":"/groups"}]}`, true, false},
		{`not json`, true, true},
	} {
		g, e := readResourceTypes([]byte(tc.body))
		if g != tc.groups || e != tc.enterprise {
			t.Errorf("%s: groups %v, enterprise %v; want %v, %v", tc.body, g, e, tc.groups, tc.enterprise)
		}
	}
}

// TestRunCaptureNote: a capture that finds nothing in a passing step's
// answer is noted on that step's check, and the steps that need it say
// which step did not capture it.
func TestRunCaptureNote(t *testing.T) {
	stub := &stubSCIM{spc: `{}`, answer: func(r *http.Request, body string) (int, string) {
		if r.Method == http.MethodPost {
			var in map[string]any
			json.Unmarshal([]byte(body), &in)
			return 201, `{"userName":"` + in["userName"].(string) + `"}` // no id
		}
		return goodUsers(r, body)
	}}
	res := run(t, stub, Options{}, parse(t, createAndRead))
	cs := checks(res)
	if c := cs["create"]; c.Status != StatusPass || !slices.Contains(c.Notes, `capture userId: nothing at "id"`) {
		t.Errorf("create: %s, notes %q; want passed with the capture noted", c.Status, c.Notes)
	}
	if c := cs["read"]; c.Status != StatusSkip {
		t.Errorf("read: %+v; want skipped", c)
	}
}
