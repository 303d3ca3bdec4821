package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

// The tester must find real faults, and each where it is meant to: every
// entry of brokenServers is the real kacescim server behind a middleware
// that injects one classic bug (a way real SCIM servers have broken Okta
// or Entra ID provisioning, or one RFC 7644 rule broken), and
// TestBrokenServers runs every built-in suite against it
// and asserts the exact set of checks that fail.
//
// A broken server's table entry lists
//   - fail: the checks meant to catch the bug; each must fail;
//   - skip: checks in other steps that wait on a step the bug breaks
//     (a capture it does not set); each must be skipped;
//   - skipAfter: steps that leave the rest of their scenario without the
//     resource it works on (a create that fails): every later check of
//     that scenario may be skipped;
//   - collateral: checks that fail (or are skipped) because of the bug
//     although they are about something else: the scenario does not
//     isolate the fault. Each is a weakness of a scenario, with the
//     change that would remove it in a comment. Each must still fail or
//     be skipped: a collateral check that passes has been fixed, and its
//     entry has to go, so that the table stays exact.
//
// The other checks of a step whose check fails or is skipped (its named
// assertions, its directory check) may be skipped without being listed:
// a wrong status leaves them unjudged, by design. Every other check must
// pass, exactly as against the good server (the control, which fails and
// skips nothing). Entries whose name starts with "gap:" are bugs no check
// catches: they say which check would.
//
// Each broken server runs the scenarios its checks are in (see needs);
// KACESCIM_BROKEN_ALL=1 runs every scenario against every broken server.
type brokenServer struct {
	name string
	// source is what the bug breaks: the identity provider's behaviour
	// it trips over, or the RFC section.
	source     string
	mw         func(next http.Handler) http.Handler
	fail       []string
	skip       []string
	skipAfter  []string
	collateral []string
	// gap, for a bug no check catches, says which check would: the entry
	// asserts that nothing fails, and runs every scenario.
	gap string
}

var brokenServers = slices.Concat(brokenLists, brokenPatches, brokenResources, brokenStates, brokenRaces)

// --- the harness ---

func TestBrokenServers(t *testing.T) {
	catalog := bkCheckCatalog(builtinScenarios(t))
	t.Run("control: the good server", func(t *testing.T) {
		t.Parallel()
		res := bkRun(t, nil, func(*conformance.Scenario) bool { return true }, func(string) bool { return true })
		for key, c := range bkOutcomes(res) {
			if c.Status != conformance.StatusPass {
				t.Errorf("%s: %s %s", key, c.Status, strings.Join(append(c.Failures, c.Notes...), "; "))
			}
		}
		if !res.OK() {
			t.Error("OK() is false against the good server")
		}
		if len(res.Leftovers) > 0 {
			t.Errorf("leftovers: %q", res.Leftovers)
		}
	})
	for _, b := range brokenServers {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			if (len(b.fail) == 0) == (b.gap == "") {
				t.Errorf("an entry needs either checks that fail or a gap")
			}
			for _, list := range [][]string{b.fail, b.skip, b.skipAfter, b.collateral} {
				for _, key := range list {
					if _, ok := catalog.steps[key]; !ok {
						t.Errorf("the table names %q, which no built-in scenario has", key)
					}
				}
			}
			res := bkRun(t, b.mw, b.needs, b.needsGoSuite)
			bkJudge(t, b, catalog, res)
			if b.gap != "" {
				t.Logf("GAP: no check catches %q (%s): %s", b.name, b.source, b.gap)
			}
		})
	}
}

// needsGoSuite reports whether a run against the broken server needs the
// built-in suite written in Go named suite: whether one of b's checks is
// in it.
func (b brokenServer) needsGoSuite(suite string) bool {
	if b.gap != "" || os.Getenv("KACESCIM_BROKEN_ALL") != "" {
		return true
	}
	for _, list := range [][]string{b.fail, b.skip, b.skipAfter, b.collateral} {
		for _, key := range list {
			s, name, _ := strings.Cut(key, "/")
			if s == suite && slices.Contains(conformance.GoSuiteChecks(suite), name) {
				return true
			}
		}
	}
	return false
}

// needs reports whether a run against the broken server needs scenario s:
// whether one of b's checks is in it. The other scenarios send no request
// the bug changes (every broken server was run against every scenario
// when the table was written, and passed them all);
// KACESCIM_BROKEN_ALL=1 runs them all again, at about four times the
// cost.
func (b brokenServer) needs(s *conformance.Scenario) bool {
	if b.gap != "" || os.Getenv("KACESCIM_BROKEN_ALL") != "" {
		return true
	}
	for _, list := range [][]string{b.fail, b.skip, b.skipAfter, b.collateral} {
		for _, key := range list {
			suite, name, _ := strings.Cut(key, "/")
			if suite == s.Suite && slices.ContainsFunc(s.Steps, func(st conformance.Step) bool { return bkStepHas(st, name) }) {
				return true
			}
		}
	}
	return false
}

// bkStepHas reports whether name is one of the checks of st.
func bkStepHas(st conformance.Step, name string) bool {
	if st.Name == name {
		return true
	}
	for _, a := range st.Expect.Assert {
		if a.Check == name {
			return true
		}
	}
	if d := st.Directory; d != nil && (d.Check == name || d.Check == "" && st.Name+": directory user" == name) {
		return true
	}
	return slices.Contains(conformance.ModelCheckNames(st), name)
}

// bkJudge compares a run against a broken server with what its table
// entry expects.
func bkJudge(t *testing.T, b brokenServer, catalog *bkCatalog, res *conformance.Result) {
	t.Helper()
	got := bkOutcomes(res)
	listed := map[string]string{}
	for _, k := range b.fail {
		listed[k] = "fail"
	}
	for _, k := range b.skip {
		listed[k] = "skip"
	}
	for _, k := range b.collateral {
		listed[k] = "collateral"
	}
	// A step whose main check failed or was skipped may leave its other
	// checks unjudged.
	unjudged := map[string]bool{}
	for _, step := range b.skipAfter {
		for _, later := range catalog.after(step) {
			unjudged[later] = true
		}
	}
	for key, c := range got {
		if c.Status == conformance.StatusPass {
			continue
		}
		for _, sib := range catalog.siblings(key) {
			unjudged[sib] = true
		}
	}
	wantMust := false
	var problems []string
	for _, key := range bkSortedKeys(got) {
		c := got[key]
		why := listed[key]
		switch {
		case why == "fail" && c.Status != conformance.StatusFail:
			problems = append(problems, fmt.Sprintf("meant to catch the bug, but %s: %s", c.Status, key))
		case why == "skip" && c.Status != conformance.StatusSkip:
			problems = append(problems, fmt.Sprintf("should wait on the broken step, but %s: %s %s", c.Status, key, strings.Join(c.Failures, "; ")))
		case why == "collateral" && c.Status == conformance.StatusPass:
			problems = append(problems, fmt.Sprintf("listed as collateral, but passes (the scenario isolates the fault now: remove the entry): %s", key))
		case why == "collateral":
			t.Logf("collateral (a scenario weakness): %s %s", c.Status, key)
		case why == "" && c.Status == conformance.StatusFail:
			problems = append(problems, fmt.Sprintf("fails although not listed: %s: %s", key, strings.Join(c.Failures, "; ")))
		case why == "" && c.Status == conformance.StatusSkip && !unjudged[key]:
			problems = append(problems, fmt.Sprintf("skipped although not listed: %s: %s", key, strings.Join(c.Notes, "; ")))
		}
		if c.Status == conformance.StatusFail && c.Severity == conformance.SeverityMust && (why == "fail" || why == "collateral") {
			wantMust = true
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
	if res.OK() == wantMust {
		t.Errorf("OK() = %v; want %v (whether no MUST check among the expected failures failed)", res.OK(), !wantMust)
	}
	if t.Failed() {
		var buf strings.Builder
		for _, key := range bkSortedKeys(got) {
			if c := got[key]; c.Status != conformance.StatusPass {
				fmt.Fprintf(&buf, "\n  %s %s: %s", c.Status, key, strings.Join(append(c.Failures, c.Notes...), "; "))
			}
		}
		t.Logf("what the run reported besides passes:%s", buf.String())
	}
}

// bkRun runs every built-in suite against a fresh kacescim server
// wrapped in mw (only its SCIM endpoints: the admin API, through which the
// fixture reads the directory, is left alone), with a fixture provider so
// that the mapping bkOutcomes are checked too, and a second provider for
// the isolation suite. needs selects the scenarios, needsGo the suites
// written in Go.
func bkRun(t *testing.T, mw func(http.Handler) http.Handler, needs func(*conformance.Scenario) bool, needsGo func(suite string) bool) *conformance.Result {
	t.Helper()
	ctx := context.Background()
	base, admin := bkStart(t, mw)
	fx, err := conformance.NewFixture(ctx, admin, "kacescim-broken")
	if err != nil {
		t.Fatal(err)
	}
	other, err := conformance.NewFixture(ctx, admin, "kacescim-broken-b")
	if err != nil {
		t.Fatal(err)
	}
	scenarios := slices.DeleteFunc(builtinScenarios(t), func(s *conformance.Scenario) bool { return !needs(s) })
	var suites []string
	for _, suite := range conformance.Suites {
		if conformance.GoSuiteChecks(suite) != nil && needsGo(suite) ||
			slices.ContainsFunc(scenarios, func(s *conformance.Scenario) bool { return s.Suite == suite }) {
			suites = append(suites, suite)
		}
	}
	if mw != nil {
		// The auth suite checks credentials, not the SCIM behaviour these
		// servers break (TestAuthSuite plants its own bugs); the control
		// runs it.
		suites = slices.DeleteFunc(suites, func(s string) bool { return s == "auth" })
	}
	if len(suites) == 0 {
		t.Fatal("the entry needs no suite")
	}
	res := conformance.Run(ctx, scenarios, conformance.Options{
		BaseURL:        base,
		Token:          fx.Key,
		IsolationToken: other.Key,
		Suites:         suites,
		Directory:      fx.Directory(),
		Credentials:    conformance.AdminCredentials(admin),
	})
	// The second provider first: the custom fields of the mappings go
	// with the last one.
	if err := other.Close(ctx); err != nil {
		t.Error(err)
	}
	if err := fx.Close(ctx); err != nil {
		t.Error(err)
	}
	return res
}

// bkStart starts a fresh kacescim server wrapped in mw (only its SCIM
// endpoints: the admin API, through which the fixture reads the
// directory, is left alone) and returns its SCIM base URL and admin API.
func bkStart(t *testing.T, mw func(http.Handler) http.Handler) (string, *client.Admin) {
	t.Helper()
	ctx := context.Background()
	srv, err := servertest.Open(ctx, server.Config{DataDir: t.TempDir(), AdminToken: "test-admin-token"})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	if mw != nil {
		broken := mw(h)
		good := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, server.SCIMPrefix+"/") {
				broken.ServeHTTP(w, r)
				return
			}
			good.ServeHTTP(w, r)
		})
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return ts.URL + server.SCIMPrefix, client.NewAdmin(ts.URL, "test-admin-token")
}

// bkOutcomes are a run's checks by "suite/name".
func bkOutcomes(res *conformance.Result) map[string]conformance.Check {
	out := map[string]conformance.Check{}
	for _, rep := range res.Reports {
		for _, c := range rep.Checks {
			out[rep.Suite+"/"+c.Name] = c
		}
	}
	return out
}

func bkSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// bkCatalog knows, for every built-in check, the step it belongs to.
type bkCatalog struct {
	steps  map[string]string   // check → its step's check
	checks map[string][]string // step's check → every check of the step
	// later holds, for each step's check, the checks of the steps after
	// it in its scenario.
	later map[string][]string
}

func bkCheckCatalog(scenarios []*conformance.Scenario) *bkCatalog {
	c := &bkCatalog{steps: map[string]string{}, checks: map[string][]string{}, later: map[string][]string{}}
	// The suites written in Go: each check its own step.
	for _, suite := range conformance.Suites {
		for _, name := range conformance.GoSuiteChecks(suite) {
			key := suite + "/" + name
			c.steps[key], c.checks[key] = key, []string{key}
		}
	}
	for _, s := range scenarios {
		var mains []string
		for _, st := range s.Steps {
			main := s.Suite + "/" + st.Name
			names := []string{main}
			for _, a := range st.Expect.Assert {
				if a.Check != "" && !slices.Contains(names, s.Suite+"/"+a.Check) {
					names = append(names, s.Suite+"/"+a.Check)
				}
			}
			if d := st.Directory; d != nil {
				name := d.Check
				if name == "" {
					name = st.Name + ": directory user"
				}
				names = append(names, s.Suite+"/"+name)
			}
			for _, n := range conformance.ModelCheckNames(st) {
				names = append(names, s.Suite+"/"+n)
			}
			for _, n := range names {
				c.steps[n] = main
			}
			c.checks[main] = names
			for _, earlier := range mains {
				c.later[earlier] = append(c.later[earlier], names...)
			}
			mains = append(mains, main)
		}
	}
	return c
}

// after are the checks of the steps after step in its scenario.
func (c *bkCatalog) after(step string) []string { return c.later[step] }

// siblings are the other checks of the step key belongs to, when key is
// the step's own check.
func (c *bkCatalog) siblings(key string) []string {
	if c.steps[key] != key {
		return nil
	}
	return c.checks[key]
}

// --- middleware toolkit ---

// bkAnswer is the good server's answer, to be rewritten.
type bkAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (c *bkAnswer) object() (map[string]any, bool) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return nil, false
	}
	return doc, true
}

func (c *bkAnswer) setJSON(v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	c.body = b.Bytes()
}

// scimError replaces the answer with a SCIM error.
func (c *bkAnswer) scimError(status int, scimType, detail string) {
	c.status = status
	c.header = http.Header{"Content-Type": {"application/scim+json"}}
	doc := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, "status": strconv.Itoa(status), "detail": detail}
	if scimType != "" {
		doc["scimType"] = scimType
	}
	c.setJSON(doc)
}

func (c *bkAnswer) write(w http.ResponseWriter) {
	for k, v := range c.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(c.status)
	_, _ = w.Write(c.body)
}

// serve sends r to next and returns the answer.
func bkServe(next http.Handler, r *http.Request) *bkAnswer {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	return &bkAnswer{status: rec.Code, header: rec.Header().Clone(), body: rec.Body.Bytes()}
}

// bkReadBody reads r's body and puts it back.
func bkReadBody(r *http.Request) []byte {
	if r.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	return b
}

// internal makes a request of the server's own from r: same headers, a new
// method and body.
func bkInternal(r *http.Request, method, target string, body []byte) *http.Request {
	req := httptest.NewRequestWithContext(r.Context(), method, target, bytes.NewReader(body))
	req.Header = r.Header.Clone()
	req.Header.Del("Content-Length")
	if body == nil {
		req.Header.Del("Content-Type")
	}
	return req
}

// bkRewrite rewrites the answers to the requests match selects.
func bkRewrite(match func(*http.Request) bool, fn func(*http.Request, *bkAnswer)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !match(r) {
				next.ServeHTTP(w, r)
				return
			}
			c := bkServe(next, r)
			fn(r, c)
			c.write(w)
		})
	}
}

// bkRefuse answers a SCIM error instead of the server when refuse
// returns a status.
func bkRefuse(refuse func(r *http.Request, body []byte) (int, string)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			status, scimType := refuse(r, bkReadBody(r))
			if status == 0 {
				next.ServeHTTP(w, r)
				return
			}
			c := &bkAnswer{}
			c.scimError(status, scimType, "refused by the broken server")
			c.write(w)
		})
	}
}

// rel is r's path relative to the SCIM base URL.
func bkRel(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, server.SCIMPrefix) }

// resource splits a relative path into its endpoint and id.
func bkResource(r *http.Request) (endpoint, id string) {
	parts := strings.SplitN(strings.TrimPrefix(bkRel(r), "/"), "/", 2)
	if len(parts) == 2 {
		return parts[0], parts[1]
	}
	return parts[0], ""
}

func bkIsList(r *http.Request) bool {
	ep, id := bkResource(r)
	return r.Method == http.MethodGet && id == "" && (ep == "Users" || ep == "Groups")
}

func bkIsListResponse(doc map[string]any) bool {
	s, _ := doc["schemas"].([]any)
	return slices.ContainsFunc(s, func(v any) bool { return v == "urn:ietf:params:scim:api:messages:2.0:ListResponse" })
}

func bkPatchOps(r *http.Request, body []byte) []map[string]any {
	if r.Method != http.MethodPatch {
		return nil
	}
	var doc struct {
		Operations []map[string]any
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return nil
	}
	return doc.Operations
}

func bkText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// bkEntraAfterMemberAdd are the Entra group steps that wait on the member
// add's read-back: they expect the three members it adds.
var bkEntraAfterMemberAdd = []string{
	"entra/Entra member add again: members already in the group (200 or 204)",
	"entra/Entra member add again read-back: each member is listed once",
	"entra/Entra group rename: replace displayName",
	"entra/Entra group rename read-back: displayName eq finds the new name",
	`entra/Entra member removal: remove with path "members" and a value`,
	"entra/Entra member removal read-back",
}

var bkDisplayNameEq = regexp.MustCompile(`(?i)^\s*displayName\s+eq\s+"([^"\\]*)"\s*$`)

var bkUserNameEq = regexp.MustCompile(`(?i)^\s*userName\s+eq\s+"([^"\\]*)"\s*$`)

func bkAll(*http.Request) bool { return true }

func bkIsGet(r *http.Request) bool { return r.Method == http.MethodGet }

func bkIsPatch(r *http.Request) bool { return r.Method == http.MethodPatch }

// bkOn selects the requests with method to endpoint ("Users", "Groups"):
// to one resource (/Users/{id}) when withID, else to the collection.
func bkOn(method, endpoint string, withID bool) func(*http.Request) bool {
	return func(r *http.Request) bool {
		ep, id := bkResource(r)
		return r.Method == method && ep == endpoint && (id != "") == withID
	}
}

// bkIntercept hands the requests match selects to serve, which may pass
// them on to next; the others go to next untouched.
func bkIntercept(match func(*http.Request) bool, serve func(next http.Handler, w http.ResponseWriter, r *http.Request)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !match(r) {
				next.ServeHTTP(w, r)
				return
			}
			serve(next, w, r)
		})
	}
}

// bkCaseExactEq makes the list answers to `attr eq "…"` on endpoint
// (eq matches that filter and captures the value) keep only the resources
// whose attr equals the value exactly, case included.
func bkCaseExactEq(endpoint, attr string, eq *regexp.Regexp) func(http.Handler) http.Handler {
	return bkRewrite(func(r *http.Request) bool {
		return bkOn(http.MethodGet, endpoint, false)(r) && eq.MatchString(r.URL.Query().Get("filter"))
	}, func(r *http.Request, c *bkAnswer) {
		want := eq.FindStringSubmatch(r.URL.Query().Get("filter"))[1]
		doc, ok := c.object()
		if !ok || !bkIsListResponse(doc) {
			return
		}
		res, _ := doc["Resources"].([]any)
		res = slices.DeleteFunc(res, func(v any) bool {
			m, _ := v.(map[string]any)
			return bkText(m[attr]) != want
		})
		doc["Resources"], doc["totalResults"], doc["itemsPerPage"] = res, len(res), len(res)
		c.setJSON(doc)
	})
}

// bkDropOps silently drops the PATCH operations op (any case) whose path
// (has: whether the operation has one) drop selects, on endpoint or, when
// endpoint is "", on any.
func bkDropOps(endpoint, op string, drop func(path string, has bool) bool) func(http.Handler) http.Handler {
	return bkEditPatch(func(r *http.Request, ops []map[string]any) []map[string]any {
		if ep, _ := bkResource(r); endpoint != "" && ep != endpoint {
			return ops
		}
		return slices.DeleteFunc(ops, func(o map[string]any) bool {
			path, has := o["path"]
			return strings.EqualFold(bkText(o["op"]), op) && drop(bkText(path), has)
		})
	})
}

// bkRefuseOp refuses, with 400 and scimType, a PATCH with an operation
// bad selects.
func bkRefuseOp(scimType string, bad func(op map[string]any) bool) func(http.Handler) http.Handler {
	return bkRefuse(func(r *http.Request, body []byte) (int, string) {
		if slices.ContainsFunc(bkPatchOps(r, body), bad) {
			return http.StatusBadRequest, scimType
		}
		return 0, ""
	})
}

// bkEditQuery changes the query before the server sees it.
func bkEditQuery(edit func(r *http.Request, q url.Values)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			before := q.Encode()
			edit(r, q)
			if after := q.Encode(); after != before {
				r.URL.RawQuery = after
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bkDropRequestHeader removes a request header before the server sees it.
func bkDropRequestHeader(name string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del(name)
			next.ServeHTTP(w, r)
		})
	}
}

// bkEditPatch changes a PATCH's operations before the server sees them;
// when edit leaves none, it answers 204 itself.
func bkEditPatch(edit func(r *http.Request, ops []map[string]any) []map[string]any) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPatch {
				next.ServeHTTP(w, r)
				return
			}
			body := bkReadBody(r)
			var doc map[string]any
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			ops := bkPatchOps(r, body)
			if dec.Decode(&doc) != nil || len(ops) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			before, _ := json.Marshal(ops)
			ops = edit(r, ops)
			after, _ := json.Marshal(ops)
			switch {
			case bytes.Equal(before, after):
				next.ServeHTTP(w, r)
			case len(ops) == 0:
				w.WriteHeader(http.StatusNoContent)
			default:
				doc["Operations"] = ops
				b, _ := json.Marshal(doc)
				next.ServeHTTP(w, bkInternal(r, r.Method, r.URL.RequestURI(), b))
			}
		})
	}
}

// bkMerge lays over onto base, objects merged key by key.
func bkMerge(base, over map[string]any) map[string]any {
	for k, v := range over {
		if bm, ok := base[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				base[k] = bkMerge(bm, om)
				continue
			}
		}
		base[k] = v
	}
	return base
}
