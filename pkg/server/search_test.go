package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

const searchURN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

// searchBody is a SearchRequest with the given members besides schemas.
func searchBody(t *testing.T, fields map[string]any) string {
	t.Helper()
	m := map[string]any{"schemas": []string{searchURN}}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// listIDs are the ids of a ListResponse's resources, in order.
func listIDs(r resp) []string {
	var out []string
	list, _ := r.get("Resources").([]any)
	for _, res := range list {
		id, _ := res.(map[string]any)["id"].(string)
		out = append(out, id)
	}
	return out
}

func (e *scimEnv) createGroup(name string, members ...string) string {
	e.t.Helper()
	return e.must(e.do("POST", "/Groups", groupBody(name, members...)), 201).str("id")
}

// TestSearchIsTheGETList checks that POST {type}/.search answers exactly
// what the GET list with the same parameters answers.
func TestSearchIsTheGETList(t *testing.T) {
	e := newSCIMEnv(t)
	alice, bob := e.createUser("alice@example.com"), e.createUser("bob@example.com")
	e.createUser("carol@example.com")
	e.createGroup("Team A", alice, bob)
	e.createGroup("Team B")

	for _, tc := range []struct {
		endpoint string
		fields   map[string]any
	}{
		{"/Users", map[string]any{}},
		{"/Users", map[string]any{"filter": `userName eq "BOB@example.com"`}},
		{"/Users", map[string]any{"startIndex": 2, "count": 1}},
		{"/Users", map[string]any{"startIndex": 0, "count": -3}},
		{"/Users", map[string]any{"sortBy": "userName", "sortOrder": "descending", "count": 2}},
		{"/Users", map[string]any{"attributes": []string{"userName", "emails"}, "filter": `userName sw "a"`}},
		{"/Groups", map[string]any{"excludedAttributes": []string{"members"}}},
		{"/Groups", map[string]any{"filter": `displayName eq "Team A"`, "attributes": []string{"displayName"}}},
		{"/Groups", map[string]any{"filter": `members.value eq "` + alice + `"`, "sortBy": "displayName"}},
	} {
		name := tc.endpoint + " " + searchBody(t, tc.fields)
		q := url.Values{}
		for k, v := range tc.fields {
			switch v := v.(type) {
			case []string:
				q.Set(k, strings.Join(v, ","))
			default:
				q.Set(k, fmt.Sprint(v))
			}
		}
		get := e.must(e.do("GET", tc.endpoint+"?"+q.Encode(), ""), 200)
		search := e.do("POST", tc.endpoint+"/.search", searchBody(t, tc.fields))
		if search.status != 200 || !bytes.Equal(search.body, get.body) {
			t.Errorf("%s: search answered %d\n%s\nGET answered\n%s", name, search.status, search.body, get.body)
		}
	}

	// Spot checks that the parameters did reach the list.
	r := e.must(e.do("POST", "/Users/.search", searchBody(t, map[string]any{"filter": `userName eq "bob@example.com"`})), 200)
	if r.get("totalResults") != 1.0 || fmt.Sprint(listIDs(r)) != fmt.Sprint([]string{bob}) {
		t.Errorf("filter: %s", r.body)
	}
	r = e.must(e.do("POST", "/Users/.search", searchBody(t, map[string]any{"startIndex": 2, "count": 1})), 200)
	if r.get("totalResults") != 3.0 || r.get("startIndex") != 2.0 || r.get("itemsPerPage") != 1.0 || fmt.Sprint(listIDs(r)) != fmt.Sprint([]string{bob}) {
		t.Errorf("paging: %s", r.body)
	}
	r = e.must(e.do("POST", "/Groups/.search", searchBody(t, map[string]any{"excludedAttributes": []string{"members"}})), 200)
	if strings.Contains(string(r.body), `"members"`) || r.get("totalResults") != 2.0 {
		t.Errorf("excludedAttributes members: %s", r.body)
	}
}

func TestSearchRequestChecks(t *testing.T) {
	e := newSCIMEnv(t)
	e.createUser("alice@example.com")

	// No schemas is accepted: the body is still unmistakably a search.
	r := e.must(e.do("POST", "/Users/.search", `{"filter":"userName eq \"alice@example.com\""}`), 200)
	if r.get("totalResults") != 1.0 {
		t.Errorf("search without schemas: %s", r.body)
	}
	// A wrong one is not: a PatchOp sent here must not list everything.
	for _, path := range []string{"/Users/.search", "/Groups/.search", "/.search"} {
		wantSCIMError(t, e.do("POST", path, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`), 400, "invalidSyntax")
		wantSCIMError(t, e.do("POST", path, `not json`), 400, "invalidSyntax")
		wantSCIMError(t, e.do("POST", path, `["a"]`), 400, "invalidSyntax")
		wantSCIMError(t, e.do("POST", path, ``), 400, "invalidSyntax")
	}
	r = e.do("POST", "/Users/.search", `{"startIndex":"2"}`)
	wantSCIMError(t, r, 400, "invalidSyntax")
	if !strings.Contains(r.str("detail"), "startIndex must be an integer") {
		t.Errorf("detail: %s", r.str("detail"))
	}
	r = e.do("POST", "/Users/.search", `{"attributes":"userName"}`)
	wantSCIMError(t, r, 400, "invalidSyntax")
	if !strings.Contains(r.str("detail"), "attributes must be an array") {
		t.Errorf("detail: %s", r.str("detail"))
	}
	// Errors of the GET list are the search's errors.
	wantSCIMError(t, e.do("POST", "/Users/.search", searchBody(t, map[string]any{"filter": `nosuch eq "x"`})), 400, "invalidFilter")
	wantSCIMError(t, e.do("POST", "/Users/.search", searchBody(t, map[string]any{"filter": `userName eq`})), 400, "invalidFilter")

	// .search is POST only.
	for _, path := range []string{"/Users/.search", "/Groups/.search", "/.search"} {
		r := e.do("GET", path, "")
		wantSCIMError(t, r, 405, "")
		if r.header.Get("Allow") != "POST" {
			t.Errorf("GET %s: Allow %q", path, r.header.Get("Allow"))
		}
		wantSCIMError(t, e.do("PUT", path, `{}`), 405, "")
	}
	// A search needs the key like everything else.
	wantSCIMError(t, e.doAuth("POST", "/.search", `{}`, "Bearer nope"), 401, "")
}

// TestSearchRoot checks POST /.search: Users then Groups, paged as one
// list, each type evaluating the filter on its own.
func TestSearchRoot(t *testing.T) {
	e := newSCIMEnv(t)
	u1, u2, u3 := e.createUser("u1@example.com"), e.createUser("u2@example.com"), e.createUser("u3@example.com")
	g1, g2 := e.createGroup("Team A", u1), e.createGroup("Team B", u1, u2)
	search := func(fields map[string]any) resp {
		t.Helper()
		return e.must(e.do("POST", "/.search", searchBody(t, fields)), 200)
	}
	want := func(r resp, total, start int, wantIDs ...string) {
		t.Helper()
		if r.get("totalResults") != float64(total) || r.get("startIndex") != float64(start) ||
			r.get("itemsPerPage") != float64(len(wantIDs)) || fmt.Sprint(listIDs(r)) != fmt.Sprint(wantIDs) {
			t.Errorf("got total %v start %v items %v %v, want total %d start %d %v\n%s",
				r.get("totalResults"), r.get("startIndex"), r.get("itemsPerPage"), listIDs(r), total, start, wantIDs, r.body)
		}
		if fmt.Sprint(r.get("schemas")) != "[urn:ietf:params:scim:api:messages:2.0:ListResponse]" {
			t.Errorf("schemas = %v", r.get("schemas"))
		}
	}

	r := search(nil)
	want(r, 5, 1, u1, u2, u3, g1, g2)
	if r.str("Resources.0.meta.resourceType") != "User" || r.str("Resources.3.meta.resourceType") != "Group" ||
		r.str("Resources.4.members.1.value") != u2 {
		t.Errorf("resources are not rendered as by their own endpoints: %s", r.body)
	}
	// Paging across the boundary, within the groups, past the end, none.
	want(search(map[string]any{"startIndex": 3, "count": 2}), 5, 3, u3, g1)
	want(search(map[string]any{"startIndex": 2, "count": 1}), 5, 2, u2)
	want(search(map[string]any{"startIndex": 5, "count": 10}), 5, 5, g2)
	want(search(map[string]any{"startIndex": 9}), 5, 9)
	want(search(map[string]any{"count": 0}), 5, 1)
	want(search(map[string]any{"startIndex": -1, "count": 4}), 5, 1, u1, u2, u3, g1)

	// A filter both types know.
	want(search(map[string]any{"filter": `id eq "` + g2 + `" or id eq "` + u2 + `"`}), 2, 1, u2, g2)
	want(search(map[string]any{"filter": `displayName eq "Team A"`}), 1, 1, g1)
	// A filter only one type knows: the other contributes nothing.
	want(search(map[string]any{"filter": `members.value eq "` + u2 + `"`}), 1, 1, g2)
	want(search(map[string]any{"filter": `userName sw "u"`, "startIndex": 2}), 3, 2, u2, u3)
	// A filter no type knows is an error, as is one that does not parse.
	wantSCIMError(t, e.do("POST", "/.search", searchBody(t, map[string]any{"filter": `nosuch eq "x"`})), 400, "invalidFilter")
	wantSCIMError(t, e.do("POST", "/.search", searchBody(t, map[string]any{"filter": `userName eq`})), 400, "invalidFilter")
	// Projection reaches both types; a name one type does not know is
	// ignored there, as in its GET.
	r = search(map[string]any{"excludedAttributes": []string{"members"}})
	if strings.Contains(string(r.body), `"members"`) {
		t.Errorf("excludedAttributes members: %s", r.body)
	}
	r = search(map[string]any{"attributes": []string{"userName", "displayName"}, "startIndex": 3, "count": 2})
	want(r, 5, 3, u3, g1)
	if r.str("Resources.0.userName") != "u3@example.com" || r.get("Resources.0.emails") != nil ||
		r.str("Resources.1.displayName") != "Team A" || r.get("Resources.1.members") != nil {
		t.Errorf("attributes: %s", r.body)
	}

	// Sorting across types is refused, not faked; per type it is the GET's.
	r = e.do("POST", "/.search", searchBody(t, map[string]any{"sortBy": "displayName"}))
	wantSCIMError(t, r, 400, "invalidValue")
	if !strings.Contains(r.str("detail"), "/Users/.search") {
		t.Errorf("detail: %s", r.str("detail"))
	}
}
