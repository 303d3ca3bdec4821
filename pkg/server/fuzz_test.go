package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// seedDir is testdata/seeds at the root of the repository (see its
// README.md), relative to this package.
const seedDir = "../../testdata/seeds"

// fuzzMethods are the methods FuzzSCIM sends, chosen by its method byte.
var fuzzMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}

// FuzzSCIM drives the real handler in process with an arbitrary method,
// path (below /scim/v2), body and a few header variants, authenticated as
// one of two providers: "okta" (lenient) and "entra" (strict). The seeds
// are every request shape of the seed corpus: the filters as GET query
// parameters (both encodings) and .search bodies, the resources as POST and
// PUT bodies, the PATCH bodies on a user and on a group, and Bulk requests
// made of them. In a path or body, {user} and {group} stand for the ids of
// a user and a group of the provider, and Postman's {{…}} placeholders for
// the user's id.
//
// Whatever the request, the answer is never a 5xx, and an error (4xx) is a
// SCIM error body (RFC 7644 §3.12: schemas, status as a string, detail)
// sent as application/scim+json; so is a failed operation inside a Bulk
// response. With KACESCIM_TEST_POSTGRES set, every input also goes to a
// server on PostgreSQL, which must give it the same status as the one on
// SQLite (89,098 inputs over 90 s fuzzing found no difference).
//
//	go test -run '^$' -fuzz '^FuzzSCIM$' -fuzztime 60s ./pkg/server
//	scripts/with-postgres.sh go test -run '^$' -fuzz '^FuzzSCIM$' -fuzztime 60s ./pkg/server
func FuzzSCIM(f *testing.F) {
	users, groups, patches, filters := loadSeeds(f)
	add := func(method, p string, body []byte) {
		f.Add(uint8(slices.Index(fuzzMethods, method)), p, body, uint8(0))
	}
	for _, p := range []string{"/Users", "/Groups", "/Users/{user}", "/Groups/{group}", "/Users?startIndex=1&count=2",
		"/Groups?startIndex=1&count=100", "/Users?count=1&startIndex=1", "/Groups/{group}?excludedAttributes=members",
		"/Users?attributes=userName,emails", "/Users?attributes=emails%5Btype+eq+%22work%22%5D", "/Users/00919288221112222",
		"/ServiceProviderConfig", "/serviceConfiguration", "/Schemas", "/ResourceTypes", "/ResourceTypes/User", "/Me", "/",
		"/Users?sortBy=name.familyName&sortOrder=descending", "/Users/{user}?attributes=userName"} {
		add("GET", p, nil)
	}
	for _, flt := range filters {
		// Both encodings of a space: + (OLD) and %20 (R20).
		add("GET", "/Users?filter="+url.QueryEscape(flt)+"&startIndex=1&count=100", nil)
		add("GET", "/Users?filter="+strings.ReplaceAll(url.QueryEscape(flt), "+", "%20"), nil)
		add("GET", "/Groups?filter="+strings.ReplaceAll(url.QueryEscape(flt), "+", "%20"), nil)
		search, _ := json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": flt})
		add("POST", "/.search", search)
	}
	add("POST", "/Users/.search", []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName sw \"O\"","count":2,"startIndex":0,"sortBy":"userName"}`))
	add("POST", "/ServiceProviderConfig", []byte("test"))
	for _, r := range users {
		add("POST", "/Users", r)
		add("PUT", "/Users/{user}", r)
	}
	for _, r := range groups {
		add("POST", "/Groups", r)
		add("PUT", "/Groups/{group}", r)
	}
	for _, p := range patches {
		add("PATCH", "/Users/{user}", p)
		add("PATCH", "/Groups/{group}", p)
		f.Add(uint8(3), "/Users/{user}", p, uint8(16)) // the strict provider
	}
	for _, m := range []string{"DELETE", "PUT", "PATCH", "GET", "POST"} {
		add(m, "/Users/{user}", nil)
		add(m, "/Groups/{group}", nil)
	}
	// Bulk requests: a create and its bulkId reference, a patch, a delete.
	for i := range min(len(users), len(patches)) {
		ops := []map[string]any{
			{"method": "POST", "bulkId": "u1", "path": "/Users", "data": json.RawMessage(compactOr(users[i]))},
			{"method": "PATCH", "path": "/Users/bulkId:u1", "data": json.RawMessage(compactOr(patches[i]))},
			{"method": "POST", "path": "/Groups", "data": map[string]any{"displayName": fmt.Sprintf("bulk %d", i), "members": []any{map[string]any{"value": "bulkId:u1"}}}},
			{"method": "DELETE", "path": "/Users/bulkId:u1"},
		}
		body, _ := json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}, "failOnErrors": i % 3, "Operations": ops})
		add("POST", "/Bulk", body)
	}
	// Header variants (see serve) and both providers on a few requests.
	for v := range uint8(32) {
		f.Add(uint8(3), "/Users/{user}", []byte(`{"Operations":[{"op":"replace","value":{"active":false}}]}`), v)
		f.Add(uint8(0), "/Users/{user}", []byte(nil), v)
	}

	// Each input goes to a server on SQLite and, where the PostgreSQL
	// tests run, to one on PostgreSQL, which must answer it with the same
	// status: the two stores are one product.
	stores := []*fuzzStore{{name: "sqlite", e: newSCIMEnv(f)}}
	if os.Getenv(storetest.PostgresEnv) != "" {
		stores = append(stores, &fuzzStore{name: "postgres", e: newSCIMEnvOn(f, storetest.PostgresDSN(f))})
	}
	ctx := context.Background()
	strict := true
	for _, st := range stores {
		e := st.e
		_, entraKey, err := e.srv.Directory().AddProvider(ctx, "entra", true, directory.ProviderOptions{Strict: &strict})
		if err != nil {
			f.Fatal(err)
		}
		st.provs = []*fuzzProvider{{name: "okta", key: e.key}, {name: "entra", key: entraKey}}
		for _, p := range st.provs {
			for i, r := range users {
				p.do(e, "POST", "/Users", replaceIDs(string(r), fmt.Sprintf("seed-%d", i), ""), 0) // some are refused: fine
			}
			for _, r := range groups {
				p.do(e, "POST", "/Groups", replaceIDs(string(r), "", ""), 0)
			}
			p.ensure(f, e)
		}
	}

	f.Fuzz(func(t *testing.T, method uint8, p string, body []byte, variant uint8) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		var first *httptest.ResponseRecorder
		for _, st := range stores {
			res, ok := st.serve(t, m, p, body, variant)
			if !ok {
				return // not a request an HTTP client could send
			}
			if first == nil {
				first = res
			} else if res.Code != first.Code {
				t.Fatalf("%s %s (variant %d)\nbody: %.2000s\n%s answers %d: %.1000s\n%s answers %d: %.1000s",
					m, p, variant, body, stores[0].name, first.Code, first.Body, st.name, res.Code, res.Body)
			}
		}
	})
}

// fuzzStore is one of FuzzSCIM's servers (one store each) with its
// providers.
type fuzzStore struct {
	name  string
	e     *scimEnv
	provs []*fuzzProvider
}

// serve sends one fuzzed request to the store's server and checks the
// answer: never a 5xx; an error is a SCIM error body; a success is SCIM
// JSON, and a Bulk response's operations follow the same rules. ok is
// false when the request is not one an HTTP client could send.
func (st *fuzzStore) serve(t *testing.T, m, p string, body []byte, variant uint8) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	e := st.e
	prov := st.provs[int(variant>>4)%len(st.provs)]
	if prov.dirty {
		prov.ensure(t, e)
	}
	// Only a DELETE, or one inside a Bulk request, can remove {user}
	// or {group}: check them again after one.
	prov.dirty = m == "DELETE" || strings.Contains(strings.ToLower(p), "bulk")
	p = replaceIDs(p, prov.user, prov.group)
	b := replaceIDs(string(body), prov.user, prov.group)
	e.logs.mu.Lock()
	e.logs.buf.Reset()
	e.logs.mu.Unlock()
	res, target, ok := prov.serve(e, m, p, b, variant)
	if !ok {
		return nil, false
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s %s (%s, provider %s, variant %d)\nbody: %.2000s\n"+format+"\nresponse %d %s: %.2000s\nserver log: %.4000s",
			append(append([]any{m, target, st.name, prov.name, variant, b}, args...), res.Code, res.Header().Get("Content-Type"), res.Body.String(), e.logs.String())...)
	}
	if res.Code >= 500 {
		fail("the status is %d", res.Code)
	}
	u, _ := url.Parse(target)
	if u == nil || !strings.HasPrefix(path.Clean(u.Path)+"/", "/scim/v2/") {
		return res, true // the mux answered (a redirect, the admin API): not SCIM's to judge
	}
	if res.Code >= 400 {
		if why := scimErrorProblem(res.Code, res.Header().Get("Content-Type"), res.Body.Bytes()); why != "" {
			fail("the error response is not a SCIM error: %s", why)
		}
		return res, true
	}
	if res.Code < 200 || res.Code >= 300 {
		return res, true // 304 Not Modified, the mux's redirects of unclean paths
	}
	if res.Body.Len() > 0 {
		if ct := res.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
			fail("Content-Type %q", ct)
		}
		var v any
		if err := json.Unmarshal(res.Body.Bytes(), &v); err != nil {
			fail("the body is not JSON: %v", err)
		}
	}
	if strings.EqualFold(strings.Trim(path.Clean(u.Path), "/"), "scim/v2/bulk") && res.Code == 200 {
		var br struct {
			Operations []struct {
				Status   string          `json:"status"`
				Response json.RawMessage `json:"response"`
			}
		}
		if err := json.Unmarshal(res.Body.Bytes(), &br); err != nil {
			fail("the Bulk response is not a BulkResponse: %v", err)
		}
		for i, op := range br.Operations {
			var code int
			fmt.Sscan(op.Status, &code)
			if code >= 500 || code < 200 {
				fail("Bulk operation %d has status %q", i+1, op.Status)
			}
			if code >= 400 {
				if why := scimErrorProblem(code, "application/scim+json", op.Response); why != "" {
					fail("Bulk operation %d: the error is not a SCIM error: %s", i+1, why)
				}
			}
		}
	}
	return res, true
}

// fuzzProvider is a provider of FuzzSCIM with the ids {user} and {group}
// stand for.
type fuzzProvider struct {
	name, key   string
	user, group string
	n           int
	dirty       bool // a request may have deleted user or group
}

// ensure makes sure the provider's {user} and {group} exist, creating them
// again after a request deleted them.
func (p *fuzzProvider) ensure(tb testing.TB, e *scimEnv) {
	tb.Helper()
	if p.user == "" || p.do(e, "GET", "/Users/"+p.user, "", 0).Code != 200 {
		p.n++
		// A name no fuzzed request can have taken: the clock's nanoseconds.
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"fuzz.base.%d.%d@okta.local",
			"name":{"givenName":"Fuzz","familyName":"Base"},"emails":[{"primary":true,"value":"fuzz.base@okta.local","type":"work"}],"active":true}`, p.n, time.Now().UnixNano())
		res := p.do(e, "POST", "/Users", body, 0)
		if res.Code != 201 {
			tb.Fatalf("create the base user of %s: %d %s", p.name, res.Code, res.Body)
		}
		var u struct{ ID string }
		json.Unmarshal(res.Body.Bytes(), &u)
		p.user = u.ID
	}
	if p.group == "" || p.do(e, "GET", "/Groups/"+p.group, "", 0).Code != 200 {
		p.n++
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Fuzz base %d %d","members":[{"value":%q}]}`, p.n, time.Now().UnixNano(), p.user)
		res := p.do(e, "POST", "/Groups", body, 0)
		if res.Code != 201 {
			tb.Fatalf("create the base group of %s: %d %s", p.name, res.Code, res.Body)
		}
		var g struct{ ID string }
		json.Unmarshal(res.Body.Bytes(), &g)
		p.group = g.ID
	}
}

// do serves one request below /scim/v2 with the provider's key. variant
// picks headers: bit 0 sends Content-Type application/json instead of
// application/scim+json, bit 1 If-Match W/"1", bit 2 If-None-Match *,
// bit 3 the bare key (Okta's "Header" mode) instead of Bearer.
func (p *fuzzProvider) do(e *scimEnv, method, target, body string, variant uint8) *httptest.ResponseRecorder {
	res, _, ok := p.serve(e, method, target, body, variant)
	if !ok {
		return httptest.NewRecorder() // 200, empty: only for fixed, valid targets
	}
	return res
}

// serve is do for any target: ok is false, and nothing is served, when
// target is not a request URI an HTTP client could send; the URI that was
// served is returned.
func (p *fuzzProvider) serve(e *scimEnv, method, target, body string, variant uint8) (*httptest.ResponseRecorder, string, bool) {
	full := "/scim/v2" + target
	u, err := url.ParseRequestURI(full)
	if err != nil || strings.ContainsAny(full, " \t\r\n#") {
		return nil, full, false
	}
	req, err := http.NewRequestWithContext(context.Background(), method, "http://kacescim.test"+u.RequestURI(), strings.NewReader(body))
	if err != nil {
		return nil, full, false
	}
	ct := "application/scim+json; charset=utf-8"
	if variant&1 != 0 {
		ct = "application/json"
	}
	if body != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/scim+json")
	if variant&2 != 0 {
		req.Header.Set("If-Match", `W/"1"`)
	}
	if variant&4 != 0 {
		req.Header.Set("If-None-Match", "*")
	}
	if variant&8 != 0 {
		req.Header.Set("Authorization", p.key)
	} else {
		req.Header.Set("Authorization", "Bearer "+p.key)
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec, req.URL.RequestURI(), true
}

// scimErrorProblem says what is wrong with an error response of status
// code, or "".
func scimErrorProblem(code int, contentType string, body []byte) string {
	if !strings.HasPrefix(contentType, "application/scim+json") {
		return fmt.Sprintf("Content-Type %q", contentType)
	}
	var eb struct {
		Schemas []string `json:"schemas"`
		Status  any      `json:"status"`
		Detail  string   `json:"detail"`
	}
	if err := json.Unmarshal(body, &eb); err != nil {
		return fmt.Sprintf("the body is not JSON: %v", err)
	}
	switch {
	case !slices.Equal(eb.Schemas, []string{"urn:ietf:params:scim:api:messages:2.0:Error"}):
		return fmt.Sprintf("schemas %v", eb.Schemas)
	case eb.Status != fmt.Sprint(code):
		return fmt.Sprintf("status %#v, want the string %q", eb.Status, fmt.Sprint(code))
	case eb.Detail == "":
		return "no detail"
	}
	return ""
}

var placeholder = regexp.MustCompile(`\{\{[^{}]*\}\}`)

// replaceIDs puts the ids of the provider's user and group in place of
// {user} and {group}, and the user's id in place of Postman's {{…}}
// placeholders.
func replaceIDs(s, user, group string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	s = placeholder.ReplaceAllLiteralString(s, user)
	return strings.NewReplacer("{user}", user, "{group}", group).Replace(s)
}

// compactOr is b as compact JSON, or b as a JSON string when it is not
// JSON (the junk body of Microsoft's collection).
func compactOr(b []byte) []byte {
	var out bytes.Buffer
	if json.Compact(&out, b) == nil {
		return out.Bytes()
	}
	s, _ := json.Marshal(string(b))
	return s
}

// loadSeeds reads the seed corpus: user and group bodies (by file name),
// PATCH bodies and filters. A missing directory fails the test.
func loadSeeds(tb testing.TB) (users, groups, patches [][]byte, filters []string) {
	tb.Helper()
	read := func(dir string) map[string][]byte {
		names, _ := filepath.Glob(filepath.Join(seedDir, dir, "*.json"))
		if len(names) == 0 {
			tb.Fatalf("no seed corpus in %s: the fuzz target needs it", filepath.Join(seedDir, dir))
		}
		out := map[string][]byte{}
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				tb.Fatal(err)
			}
			out[filepath.Base(n)] = b
		}
		return out
	}
	res := read("resources")
	for _, n := range slices.Sorted(maps.Keys(res)) {
		if strings.HasPrefix(n, "group-") {
			groups = append(groups, res[n])
		} else {
			users = append(users, res[n])
		}
	}
	pt := read("patch")
	for _, n := range slices.Sorted(maps.Keys(pt)) {
		patches = append(patches, pt[n])
	}
	b, err := os.ReadFile(filepath.Join(seedDir, "filters.txt"))
	if err != nil {
		tb.Fatalf("the fuzz target needs the seed filters: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimRight(sc.Text(), "\r"); l != "" {
			filters = append(filters, l)
		}
	}
	if len(filters) == 0 || len(users) == 0 || len(groups) == 0 || len(patches) == 0 {
		tb.Fatal("the seed corpus is incomplete")
	}
	return users, groups, patches, filters
}
