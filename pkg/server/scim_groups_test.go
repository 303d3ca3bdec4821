package server_test

import (
	"fmt"
	"sort"
	"testing"
)

func memberIDs(r resp) []string {
	var ids []string
	list, _ := r.get("members").([]any)
	for _, m := range list {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	sort.Strings(ids) // members are a set: compare them sorted
	return ids
}

func TestGroupPush(t *testing.T) {
	e := newSCIMEnv(t)
	a, b, c := e.createUser("a@example.com"), e.createUser("b@example.com"), e.createUser("c@example.com")

	// Push an empty group, then one with members.
	empty := e.must(e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`), 201)
	if empty.str("id") == "" || len(memberIDs(empty)) != 0 || empty.header.Get("Location") == "" {
		t.Errorf("empty group: %s", empty.body)
	}
	g := e.must(e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
		"displayName":"Engineering","members":[{"value":"`+a+`","display":"a@example.com"},{"value":"`+b+`","display":"b@example.com","$ref":null}]}`), 201)
	gid := g.str("id")
	if fmt.Sprint(memberIDs(g)) != fmt.Sprint(sorted(a, b)) {
		t.Errorf("members: %v", memberIDs(g))
	}
	// Users see their groups.
	if r := e.must(e.do("GET", "/Users/"+a, ""), 200); r.str("groups.0.value") != gid || r.str("groups.0.display") != "Engineering" {
		t.Errorf("user groups: %s", r.body)
	}

	patch := func(body string) resp {
		t.Helper()
		return e.must(e.do("PATCH", "/Groups/"+gid, body), 204)
	}
	get := func() resp { return e.must(e.do("GET", "/Groups/"+gid, ""), 200) }

	// Okta: remove by filter and add in one request.
	patch(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"remove","path":"members[value eq \"` + b + `\"]"},
		{"op":"add","path":"members","value":[{"value":"` + c + `","display":"c@example.com"}]}]}`)
	if got := memberIDs(get()); fmt.Sprint(got) != fmt.Sprint(sorted(a, c)) {
		t.Errorf("after remove+add: %v", got)
	}
	// Rename: path-less replace with the id inside.
	patch(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"` + gid + `","displayName":"Engineers"}}]}`)
	if r := get(); r.str("displayName") != "Engineers" || r.str("id") != gid {
		t.Errorf("rename: %s", r.body)
	}
	if r := e.must(e.do("GET", "/Users/"+a, ""), 200); r.str("groups.0.display") != "Engineers" {
		t.Errorf("user groups after rename: %s", r.body)
	}
	// Push Now: replace the whole list, then with [].
	patch(`{"Operations":[{"op":"replace","path":"members","value":[{"value":"` + b + `"},{"value":"` + c + `"}]}]}`)
	if got := memberIDs(get()); fmt.Sprint(got) != fmt.Sprint(sorted(b, c)) {
		t.Errorf("after push now: %v", got)
	}
	// Entra: remove with path members and a value list removes only those.
	patch(`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"` + b + `"}]}]}`)
	if got := memberIDs(get()); fmt.Sprint(got) != fmt.Sprint(sorted(c)) {
		t.Errorf("after entra remove: %v", got)
	}
	patch(`{"Operations":[{"op":"replace","path":"members","value":[]}]}`)
	if got := memberIDs(get()); len(got) != 0 {
		t.Errorf("after push now []: %v", got)
	}
	// excludedAttributes=members.
	if r := e.must(e.do("GET", "/Groups/"+gid+"?excludedAttributes=members", ""), 200); r.get("members") != nil {
		t.Errorf("excludedAttributes=members: %s", r.body)
	}
	// PUT replaces.
	r := e.must(e.do("PUT", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"`+gid+`","displayName":"Eng","members":[{"value":"`+a+`","display":null}]}`), 200)
	if r.str("displayName") != "Eng" || fmt.Sprint(memberIDs(r)) != fmt.Sprint(sorted(a)) {
		t.Errorf("PUT: %s", r.body)
	}
	// Deleting a user removes it from its groups.
	e.must(e.do("DELETE", "/Users/"+a, ""), 204)
	if got := memberIDs(get()); len(got) != 0 {
		t.Errorf("deleted user still a member: %v", got)
	}
	// Delete the group.
	e.must(e.do("DELETE", "/Groups/"+gid, ""), 204)
	wantSCIMError(t, e.do("GET", "/Groups/"+gid, ""), 404, "")
	if r := e.must(e.do("GET", "/Users/"+b, ""), 200); r.get("groups") != nil {
		t.Errorf("user still lists a deleted group: %s", r.body)
	}
	// Okta's Test API Credentials asks for groups too.
	if r := e.must(e.do("GET", "/Groups?startIndex=1&count=100", ""), 200); r.get("totalResults") != 1.0 {
		t.Errorf("groups list: %s", r.body)
	}
	wantSCIMError(t, e.do("POST", "/Groups", `{"members":[]}`), 400, "invalidValue")
	wantSCIMError(t, e.do("POST", "/Groups", `{"displayName":"N","members":[{"value":"`+b+`","type":"Group"}]}`), 400, "invalidValue")
}

func sorted(ids ...string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}
