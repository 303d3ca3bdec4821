package server_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
)

// TestImmutableMembers: the value, $ref and type of a group's members are
// immutable (RFC 7643 §4.2, §8.7.1). A PATCH or PUT that changes them for
// a member the group has is 400 mutability and writes nothing; restating
// them unchanged is accepted, and so are adding and removing whole
// members. The same for a lenient and a strict provider.
func TestImmutableMembers(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			e := newSCIMEnv(t)
			if _, err := e.srv.Directory().SetProviderOptions(context.Background(), "okta", directory.ProviderOptions{Strict: &strict}); err != nil {
				t.Fatal(err)
			}
			testImmutableMembers(t, e)
		})
	}
}

func testImmutableMembers(t *testing.T, e *scimEnv) {
	const patchOp = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
	u1, u2 := e.createUser("one@example.com"), e.createUser("two@example.com")
	g := e.must(e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Team","members":[{"value":"`+u1+`","display":"One"}]}`), 201)
	gid := g.str("id")
	ref := g.str("members.0.$ref")
	if ref == "" || g.str("members.0.type") != "User" {
		t.Fatalf("member without $ref or type: %s", g.body)
	}
	patch := func(ops string) resp {
		return e.do("PATCH", "/Groups/"+gid, `{`+patchOp+`,"Operations":[`+ops+`]}`)
	}
	// unchanged asserts that the group is still as created: nothing written.
	unchanged := func(t *testing.T, what string) {
		t.Helper()
		r := e.must(e.do("GET", "/Groups/"+gid, ""), 200)
		if fmt.Sprint(memberIDs(r)) != fmt.Sprint([]string{u1}) || r.str("meta.version") != g.str("meta.version") ||
			r.str("members.0.$ref") != ref || r.str("members.0.type") != "User" || r.str("members.0.display") != "One" {
			t.Errorf("%s wrote: %s", what, r.body)
		}
	}

	refused := map[string]string{
		"value by filter":         `{"op":"replace","path":"members[value eq \"` + u1 + `\"].value","value":"` + u2 + `"}`,
		"type by filter":          `{"op":"replace","path":"members[value eq \"` + u1 + `\"].type","value":"Group"}`,
		"$ref by filter":          `{"op":"replace","path":"members[value eq \"` + u1 + `\"].$ref","value":"https://elsewhere.example/Users/` + u1 + `"}`,
		"type removed":            `{"op":"remove","path":"members[value eq \"` + u1 + `\"].type"}`,
		"every member's value":    `{"op":"replace","path":"members.value","value":"` + u2 + `"}`,
		"value merged by filter":  `{"op":"replace","path":"members[value eq \"` + u1 + `\"]","value":{"value":"` + u2 + `","display":"Two"}}`,
		"re-added with a $ref":    `{"op":"add","path":"members","value":[{"value":"` + u1 + `","$ref":"https://elsewhere.example/Users/x"}]}`,
		"re-added as a group":     `{"op":"add","path":"members","value":[{"value":"` + u1 + `","type":"Group"}]}`,
		"after an allowed change": `{"op":"replace","path":"members[value eq \"` + u1 + `\"].display","value":"Uno"},{"op":"replace","path":"members[value eq \"` + u1 + `\"].value","value":"` + u2 + `"}`,
	}
	for name, op := range refused {
		t.Run(name, func(t *testing.T) {
			wantSCIMError(t, patch(op), 400, "mutability")
			unchanged(t, "PATCH "+name)
		})
	}

	// Restating a value unchanged, and a PATCH that only renames, are fine.
	e.must(patch(`{"op":"replace","path":"members[value eq \"`+u1+`\"].type","value":"User"}`), 204)
	e.must(patch(`{"op":"replace","path":"members[value eq \"`+u1+`\"].$ref","value":"`+ref+`"}`), 204)
	e.must(patch(`{"op":"replace","path":"members[value eq \"`+u1+`\"].value","value":"`+u1+`"}`), 204)
	e.must(patch(`{"op":"add","path":"members","value":[{"value":"`+u1+`","$ref":"`+ref+`","type":"User","display":"One"}]}`), 204)

	// Whole members come and go.
	e.must(patch(`{"op":"add","path":"members","value":[{"value":"`+u2+`","type":"User"}]}`), 204)
	e.must(patch(`{"op":"remove","path":"members[value eq \"`+u1+`\"]"}`), 204)
	if r := e.must(e.do("GET", "/Groups/"+gid, ""), 200); fmt.Sprint(memberIDs(r)) != fmt.Sprint([]string{u2}) {
		t.Errorf("members after add and remove: %s", r.body)
	}

	// PUT: another member list is no change of an immutable value; a
	// member restated as GET shows it is accepted, with another type or
	// $ref it is refused and nothing is written.
	put := func(members string) resp {
		return e.do("PUT", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Team","members":[`+members+`]}`)
	}
	r := e.must(put(`{"value":"`+u1+`"}`), 200)
	if fmt.Sprint(memberIDs(r)) != fmt.Sprint([]string{u1}) || r.str("members.0.$ref") != ref {
		t.Errorf("PUT with another member: %s", r.body)
	}
	r = e.must(put(`{"value":"`+u1+`","$ref":"`+ref+`","type":"User","display":"One"}`), 200)
	version := r.str("meta.version")
	wantSCIMError(t, put(`{"value":"`+u1+`","type":"Group"}`), 400, "mutability")
	wantSCIMError(t, put(`{"value":"`+u1+`","$ref":"https://elsewhere.example/Users/`+u1+`"}`), 400, "mutability")
	if r := e.must(e.do("GET", "/Groups/"+gid, ""), 200); r.str("meta.version") != version {
		t.Errorf("a refused PUT wrote: %s", r.body)
	}

	// A Bulk operation is held to the same.
	b := e.must(e.do("POST", "/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"PATCH","path":"/Groups/`+gid+`","data":{`+patchOp+`,"Operations":[{"op":"replace","path":"members[value eq \"`+u1+`\"].value","value":"`+u2+`"}]}}]}`), 200)
	if b.str("Operations.0.status") != "400" || b.str("Operations.0.response.scimType") != "mutability" {
		t.Errorf("Bulk PATCH: %s", b.body)
	}
}
