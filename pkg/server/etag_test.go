package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// doIf is e.do with one conditional header.
func (e *scimEnv) doIf(method, path, body, header, value string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+"/scim/v2"+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.key)
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set(header, value)
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, body: b}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out.json); err != nil {
			e.t.Fatalf("%s %s: body is not JSON: %s", method, path, b)
		}
	}
	return out
}

// want412 checks the RFC 7644 §3.14 answer to a failed If-Match: 412, an
// error body without scimType.
func want412(t *testing.T, r resp) {
	t.Helper()
	wantSCIMError(t, r, http.StatusPreconditionFailed, "")
	if !strings.Contains(r.str("detail"), "If-Match") {
		t.Errorf("detail %q does not say why", r.str("detail"))
	}
}

func TestETagUsers(t *testing.T) {
	e := newSCIMEnv(t)
	id := e.createUser("etag@example.com")
	get := func() resp { return e.must(e.do("GET", "/Users/"+id, ""), 200) }
	if r := get(); r.header.Get("ETag") != `W/"1"` || r.str("meta.version") != `W/"1"` {
		t.Fatalf("ETag %q, meta.version %q", r.header.Get("ETag"), r.str("meta.version"))
	}

	// If-None-Match: 304 with the ETag and no body when it names the
	// current version (weakly, or "*"), the resource otherwise.
	for _, tag := range []string{`W/"1"`, `"1"`, `W/"7", W/"1"`, `*`} {
		r := e.doIf("GET", "/Users/"+id, "", "If-None-Match", tag)
		if r.status != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != `W/"1"` {
			t.Errorf("If-None-Match %s: %d %q %v", tag, r.status, r.body, r.header)
		}
	}
	if r := e.doIf("GET", "/Users/"+id+"?attributes=userName", "", "If-None-Match", `W/"2"`); r.status != 200 || r.str("userName") != "etag@example.com" {
		t.Errorf("If-None-Match of another version: %d %s", r.status, r.body)
	}
	wantSCIMError(t, e.doIf("GET", "/Users/nosuch", "", "If-None-Match", "*"), 404, "")

	// If-Match that names another version: 412, and nothing changes.
	patch := `{"Operations":[{"op":"replace","path":"displayName","value":"Changed"}]}`
	for _, tag := range []string{`W/"2"`, `W/"0", "3"`, `"x"`, `W/""`} {
		want412(t, e.doIf("PATCH", "/Users/"+id, patch, "If-Match", tag))
		want412(t, e.doIf("PUT", "/Users/"+id, userBody("put@example.com"), "If-Match", tag))
		want412(t, e.doIf("DELETE", "/Users/"+id, "", "If-Match", tag))
	}
	if r := get(); r.header.Get("ETag") != `W/"1"` || r.str("displayName") != "Test User" || r.str("userName") != "etag@example.com" {
		t.Fatalf("a 412 changed the user: %s", r.body)
	}

	// If-Match that names it, weakly or strongly, in a list or as "*".
	r := e.must(e.doIf("PATCH", "/Users/"+id, patch, "If-Match", `W/"1"`), 200)
	if r.header.Get("ETag") != `W/"2"` || r.str("meta.version") != `W/"2"` || r.str("displayName") != "Changed" {
		t.Errorf("PATCH If-Match W/\"1\": %s %v", r.body, r.header)
	}
	r = e.must(e.doIf("PUT", "/Users/"+id, userBody("etag@example.com"), "If-Match", `"2"`), 200)
	if r.header.Get("ETag") != `W/"3"` {
		t.Errorf("PUT If-Match \"2\": ETag %q", r.header.Get("ETag"))
	}
	e.must(e.doIf("PATCH", "/Users/"+id, patch, "If-Match", `W/"9", W/"3"`), 200)
	e.must(e.doIf("PATCH", "/Users/"+id+"?attributes=id", patch, "If-Match", `*`), 200)
	if r := get(); r.header.Get("ETag") != `W/"5"` {
		t.Errorf("after four writes: ETag %q", r.header.Get("ETag"))
	}
	// A stale If-Match on DELETE; then one in a list; then gone: 404
	// whatever If-Match says.
	want412(t, e.doIf("DELETE", "/Users/"+id, "", "If-Match", `W/"4"`))
	e.must(e.doIf("DELETE", "/Users/"+id, "", "If-Match", `W/"4", W/"5"`), 204)
	wantSCIMError(t, e.doIf("DELETE", "/Users/"+id, "", "If-Match", `W/"5"`), 404, "")
	wantSCIMError(t, e.doIf("PATCH", "/Users/"+id, patch, "If-Match", `*`), 404, "")
	wantSCIMError(t, e.doIf("PUT", "/Users/"+id, userBody("x@example.com"), "If-Match", `W/"5"`), 404, "")

	// Delete with If-Match: * and with a single tag.
	id = e.createUser("star@example.com")
	e.must(e.doIf("DELETE", "/Users/"+id, "", "If-Match", `*`), 204)
	id = e.createUser("one@example.com")
	e.must(e.doIf("DELETE", "/Users/"+id, "", "If-Match", `W/"1"`), 204)
	if r := e.must(e.do("GET", "/Users", ""), 200); r.get("totalResults") != 0.0 {
		t.Errorf("users left: %s", r.body)
	}
}

func TestETagGroups(t *testing.T) {
	e := newSCIMEnv(t)
	a, b := e.createUser("a@example.com"), e.createUser("b@example.com")
	gid := e.must(e.do("POST", "/Groups", `{"displayName":"Team","members":[{"value":"`+a+`"}]}`), 201).str("id")
	get := func() resp { return e.must(e.do("GET", "/Groups/"+gid, ""), 200) }
	addB := `{"Operations":[{"op":"add","path":"members","value":[{"value":"` + b + `"}]}]}`   // the fast path
	slow := `{"Operations":[{"op":"replace","path":"externalId","value":"G-1"}]}`              // the general path
	put := `{"displayName":"Renamed","members":[{"value":"` + a + `"},{"value":"` + b + `"}]}` // replace

	r := e.doIf("GET", "/Groups/"+gid, "", "If-None-Match", `W/"1"`)
	if r.status != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != `W/"1"` {
		t.Errorf("If-None-Match: %d %q", r.status, r.body)
	}
	r = e.doIf("GET", "/Groups/"+gid+"?excludedAttributes=members", "", "If-None-Match", `W/"1"`)
	if r.status != http.StatusNotModified {
		t.Errorf("If-None-Match ?excludedAttributes=members: %d", r.status)
	}
	if r := e.doIf("GET", "/Groups/"+gid, "", "If-None-Match", `W/"0"`); r.status != 200 || fmt.Sprint(memberIDs(r)) != fmt.Sprint(sorted(a)) {
		t.Errorf("If-None-Match of another version: %d %s", r.status, r.body)
	}

	for _, tag := range []string{`W/"2"`, `W/"3", W/"4"`} {
		want412(t, e.doIf("PATCH", "/Groups/"+gid, addB, "If-Match", tag))
		want412(t, e.doIf("PATCH", "/Groups/"+gid+"?attributes=members", slow, "If-Match", tag))
		want412(t, e.doIf("PUT", "/Groups/"+gid, put, "If-Match", tag))
		want412(t, e.doIf("DELETE", "/Groups/"+gid, "", "If-Match", tag))
	}
	if r := get(); r.header.Get("ETag") != `W/"1"` || r.str("displayName") != "Team" || r.get("externalId") != nil ||
		fmt.Sprint(memberIDs(r)) != fmt.Sprint(sorted(a)) {
		t.Fatalf("a 412 changed the group: %s", r.body)
	}
	// The fast path answers 204 with the new ETag.
	r = e.must(e.doIf("PATCH", "/Groups/"+gid, addB, "If-Match", `W/"1"`), 204)
	if r.header.Get("ETag") != `W/"2"` {
		t.Errorf("fast PATCH ETag %q", r.header.Get("ETag"))
	}
	e.must(e.doIf("PATCH", "/Groups/"+gid, slow, "If-Match", `W/"1", W/"2"`), 204)
	r = e.must(e.doIf("PUT", "/Groups/"+gid, put, "If-Match", `"3"`), 200)
	if r.header.Get("ETag") != `W/"4"` || r.str("displayName") != "Renamed" {
		t.Errorf("PUT: %s %v", r.body, r.header)
	}
	e.must(e.doIf("PATCH", "/Groups/"+gid, addB, "If-Match", `*`), 204)
	want412(t, e.doIf("DELETE", "/Groups/"+gid, "", "If-Match", `W/"4"`))
	e.must(e.doIf("DELETE", "/Groups/"+gid, "", "If-Match", `W/"5"`), 204)
	wantSCIMError(t, e.doIf("DELETE", "/Groups/"+gid, "", "If-Match", `W/"5"`), 404, "")
	wantSCIMError(t, e.doIf("PATCH", "/Groups/"+gid, addB, "If-Match", `W/"5"`), 404, "")
	wantSCIMError(t, e.doIf("PATCH", "/Groups/"+gid, addB, "If-Match", `W/"5", W/"6"`), 404, "")
}

// TestETagPinsTheVersion sends concurrent writes that all name the same
// version: exactly one may win, every other is 412 rather than retried on
// top of the winner.
func TestETagPinsTheVersion(t *testing.T) {
	e := newSCIMEnv(t)
	uid := e.createUser("race@example.com")
	members := make([]string, 8)
	for i := range members {
		members[i] = e.createUser(fmt.Sprintf("m%d@example.com", i))
	}
	gid := e.must(e.do("POST", "/Groups", `{"displayName":"Race"}`), 201).str("id")

	for _, tc := range []struct {
		name, path string
		body       func(i int) string
		ok         int
	}{
		{"user PATCH", "/Users/" + uid, func(i int) string {
			return fmt.Sprintf(`{"Operations":[{"op":"replace","path":"title","value":"t%d"}]}`, i)
		}, 200},
		{"group membership PATCH", "/Groups/" + gid, func(i int) string {
			return `{"Operations":[{"op":"add","path":"members","value":[{"value":"` + members[i] + `"}]}]}`
		}, 204},
		{"group general PATCH", "/Groups/" + gid, func(i int) string {
			return fmt.Sprintf(`{"Operations":[{"op":"replace","path":"externalId","value":"x%d"}]}`, i)
		}, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version := e.must(e.do("GET", tc.path, ""), 200).header.Get("ETag")
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				statuses = map[int]int{}
			)
			for i := range members {
				wg.Go(func() {
					r := e.doIf("PATCH", tc.path, tc.body(i), "If-Match", version)
					mu.Lock()
					statuses[r.status]++
					mu.Unlock()
				})
			}
			wg.Wait()
			if statuses[tc.ok] != 1 || statuses[412] != len(members)-1 {
				t.Errorf("statuses %v: want one %d and %d × 412", statuses, tc.ok, len(members)-1)
			}
			after := e.must(e.do("GET", tc.path, ""), 200)
			if got, want := after.header.Get("ETag"), bump(t, version); got != want {
				t.Errorf("ETag after the race %s, want %s", got, want)
			}
		})
	}
}

// bump is the ETag after one more write.
func bump(t *testing.T, tag string) string {
	var v int
	if _, err := fmt.Sscanf(tag, `W/"%d"`, &v); err != nil {
		t.Fatalf("ETag %q", tag)
	}
	return fmt.Sprintf(`W/"%d"`, v+1)
}

func TestETagAndSortAdvertised(t *testing.T) {
	e := newSCIMEnv(t)
	r := e.must(e.do("GET", "/ServiceProviderConfig", ""), 200)
	if r.get("etag.supported") != true || r.get("sort.supported") != true {
		t.Errorf("ServiceProviderConfig: %s", r.body)
	}
}
