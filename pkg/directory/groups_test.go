package directory_test

import (
	"slices"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

func (e *scimEnv) createGroup(name string, members ...string) *directory.Group {
	e.t.Helper()
	ms := make([]any, len(members))
	for i, m := range members {
		ms[i] = map[string]any{"value": m}
	}
	g, err := e.dir.CreateGroup(e.ctx, e.p, map[string]any{"schemas": []any{scim.GroupURN}, "displayName": name, "members": ms})
	if err != nil {
		e.t.Fatalf("CreateGroup(%s): %v", name, err)
	}
	return g
}

func (e *scimEnv) memberIDs(id string) []string {
	e.t.Helper()
	g, err := e.dir.FindGroup(e.ctx, e.p, id, true)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, m := range g.Members {
		out = append(out, m.Value)
	}
	slices.Sort(out)
	return out
}

func sorted(ids ...string) []string { slices.Sort(ids); return ids }

func addMembers(ids ...string) *scim.PatchRequest {
	vs := make([]any, len(ids))
	for i, id := range ids {
		vs[i] = map[string]any{"value": id}
	}
	return patch(scim.PatchOperation{Op: "add", Path: "members", Value: vs})
}

func TestCreateGroupMembers(t *testing.T) {
	e := newSCIMEnv(t)
	a := e.createUser(e.p, map[string]any{"userName": "a@example.com"})
	g := e.createGroup("Sales", a.ID)
	if g.Version != 1 || len(g.Members) != 1 || g.Members[0].Value != a.ID {
		t.Fatalf("created %+v", g)
	}
	if u := e.findUser(a.ID); len(u.Groups) != 1 || u.Groups[0].DisplayName != "Sales" {
		t.Errorf("user's groups %v, want Sales", u.Groups)
	}

	// A member must be a user of the same provider; nothing is written.
	other := e.provider("entra", false)
	stranger := e.createUser(other, map[string]any{"userName": "x@example.com"})
	_, err := e.dir.CreateGroup(e.ctx, e.p, map[string]any{"displayName": "Mixed", "members": []any{map[string]any{"value": stranger.ID}}})
	wantCode(t, err, directory.EINVALID)
	_, err = e.dir.CreateGroup(e.ctx, e.p, map[string]any{"displayName": "Nested", "members": []any{map[string]any{"value": g.ID, "type": "Group"}}})
	wantSCIM(t, err, 400, scim.TypeInvalidValue)
	_, err = e.dir.CreateGroup(e.ctx, e.p, map[string]any{"displayName": "sales"})
	wantCode(t, err, directory.ECONFLICT)
	if _, total, _ := e.dir.FindGroups(e.ctx, e.p, directory.Query{StartIndex: 1}); total != 1 {
		t.Errorf("%d groups after refused creates, want 1", total)
	}
}

func TestPatchGroupMembership(t *testing.T) {
	e := newSCIMEnv(t)
	a := e.createUser(e.p, map[string]any{"userName": "a@example.com"})
	b := e.createUser(e.p, map[string]any{"userName": "b@example.com"})
	c := e.createUser(e.p, map[string]any{"userName": "c@example.com"})
	g := e.createGroup("Sales", a.ID)

	// A membership push adds to the members, it does not replace them.
	got, err := e.dir.PatchGroup(e.ctx, e.target(g.ID), addMembers(b.ID), false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Members != nil || got.Version != 2 {
		t.Errorf("without withMembers: members %v, version %d; want none read, 2", got.Members, got.Version)
	}
	if ids := e.memberIDs(g.ID); !slices.Equal(ids, sorted(a.ID, b.ID)) {
		t.Errorf("members %v, want a and b", ids)
	}
	got, err = e.dir.PatchGroup(e.ctx, e.target(g.ID), patch(scim.PatchOperation{Op: "remove", Path: `members[value eq "` + a.ID + `"]`}), true)
	if err != nil || len(got.Members) != 1 || got.Members[0].Value != b.ID {
		t.Fatalf("remove a with withMembers: %v, members %v", err, got.Members)
	}
	// Replacing the whole list is applied to the whole group.
	if _, err = e.dir.PatchGroup(e.ctx, e.target(g.ID), patch(scim.PatchOperation{Op: "replace", Path: "members",
		Value: []any{map[string]any{"value": c.ID}}}), false); err != nil {
		t.Fatal(err)
	}
	if ids := e.memberIDs(g.ID); !slices.Equal(ids, []string{c.ID}) {
		t.Errorf("after replace: members %v, want c", ids)
	}
	// A push naming a user of no one here writes nothing.
	_, err = e.dir.PatchGroup(e.ctx, e.target(g.ID), addMembers(a.ID, "no-such-user"), false)
	wantCode(t, err, directory.EINVALID)
	if ids := e.memberIDs(g.ID); !slices.Equal(ids, []string{c.ID}) {
		t.Errorf("after a refused push: members %v, want c", ids)
	}
	// Renames, as Okta sends them.
	got, err = e.dir.PatchGroup(e.ctx, e.target(g.ID), patch(scim.PatchOperation{Op: "replace", Value: map[string]any{"id": g.ID, "displayName": "Sales EMEA"}}), false)
	if err != nil || got.DisplayName != "Sales EMEA" {
		t.Fatalf("rename: %v, %q", err, got.DisplayName)
	}
	if u := e.findUser(c.ID); len(u.Groups) != 1 || u.Groups[0].DisplayName != "Sales EMEA" {
		t.Errorf("c's groups after the rename: %v", u.Groups)
	}
}

func TestGroupIfMatch(t *testing.T) {
	e := newSCIMEnv(t)
	a := e.createUser(e.p, map[string]any{"userName": "a@example.com"})
	g := e.createGroup("Sales")

	// The membership fast path and the whole-group path both check it.
	_, err := e.dir.PatchGroup(e.ctx, e.target(g.ID, `W/"3"`), addMembers(a.ID), false)
	wantCode(t, err, directory.EPRECONDITION)
	_, err = e.dir.PatchGroup(e.ctx, e.target(g.ID, `W/"3"`, `W/"4"`), patch(scim.PatchOperation{Op: "replace", Path: "members", Value: []any{}}), false)
	wantCode(t, err, directory.EPRECONDITION)
	_, err = e.dir.ReplaceGroup(e.ctx, e.target(g.ID, `"2"`), map[string]any{"displayName": "Sales"})
	wantCode(t, err, directory.EPRECONDITION)
	wantCode(t, e.dir.DeleteGroup(e.ctx, e.target(g.ID, `W/"2"`, `W/"5"`)), directory.EPRECONDITION)
	if ids := e.memberIDs(g.ID); len(ids) != 0 {
		t.Fatalf("members %v after refused writes", ids)
	}

	if got, err := e.dir.PatchGroup(e.ctx, e.target(g.ID, `W/"1"`), addMembers(a.ID), false); err != nil || got.Version != 2 {
		t.Fatalf(`If-Match W/"1": %v`, err)
	}
	if err := e.dir.DeleteGroup(e.ctx, e.target(g.ID, `W/"7"`, `W/"2"`)); err != nil {
		t.Fatal(err)
	}
	_, err = e.dir.FindGroup(e.ctx, e.p, g.ID, false)
	wantCode(t, err, directory.ENOTFOUND)
	if msg := directory.ErrorMessage(err); msg != "Group "+g.ID+" not found" {
		t.Errorf("not-found message %q", msg)
	}
	if u := e.findUser(a.ID); len(u.Groups) != 0 {
		t.Errorf("a still in %v after the group was deleted", u.Groups)
	}
}

// TestReplaceGroupImmutableRef: a member's $ref may be restated as a GET
// shows it (under Target.Base), not changed.
func TestReplaceGroupImmutableRef(t *testing.T) {
	e := newSCIMEnv(t)
	a := e.createUser(e.p, map[string]any{"userName": "a@example.com"})
	g := e.createGroup("Sales", a.ID)
	base := e.target(g.ID).Base
	member := func(ref string) map[string]any {
		return map[string]any{"displayName": "Sales", "members": []any{map[string]any{"value": a.ID, "$ref": ref, "type": "User"}}}
	}
	if _, err := e.dir.ReplaceGroup(e.ctx, e.target(g.ID), member(base+"/Users/"+a.ID)); err != nil {
		t.Fatalf("restated $ref: %v", err)
	}
	_, err := e.dir.ReplaceGroup(e.ctx, e.target(g.ID), member("https://elsewhere.example.com/Users/"+a.ID))
	wantSCIM(t, err, 400, scim.TypeMutability)
	got, err := e.dir.FindGroup(e.ctx, e.p, g.ID, true)
	if err != nil || got.Version != 2 || len(got.Members) != 1 {
		t.Errorf("after the refused PUT: %v, version %d, members %v", err, got.Version, got.Members)
	}
	if doc := got.Members[0].Doc(base); doc["$ref"] != base+"/Users/"+a.ID || doc["type"] != "User" {
		t.Errorf("member doc %v", doc)
	}
}
