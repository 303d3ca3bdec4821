package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
)

func testGroups(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	alice := newUser(t, s, p.ID, "alice")
	bob := newUser(t, s, p.ID, "bob")
	carol := newUser(t, s, p.ID, "carol")

	g := group(p.ID, "Engineering", bob, alice)
	g.ExternalID = "G-1"
	g.Members = append(g.Members, directory.Member{Value: bob.ID, Display: "bob again"}) // duplicate collapses
	g.Resource = map[string]any{"displayName": "Engineering", "urn:example:ext": map[string]any{"x": "y"}}
	must(t, s.CreateGroup(c, g))
	if g.Version != 1 {
		t.Errorf("Version = %d, want 1", g.Version)
	}
	checkMembers(t, s, g, directory.Member{Value: bob.ID, Display: "bob"}, directory.Member{Value: alice.ID, Display: "alice"})

	got, err := s.FindGroupByID(c, p.ID, g.ID, false)
	must(t, err)
	if got.ID != g.ID || got.DisplayName != "Engineering" || got.ExternalID != "G-1" || got.Version != 1 || got.ProviderID != p.ID {
		t.Errorf("group = %+v", got)
	}
	if got.Members != nil {
		t.Errorf("Members without withMembers = %v", got.Members)
	}
	if g, w := jsonText(t, got.Resource), jsonText(t, g.Resource); g != w {
		t.Errorf("Resource = %s, want %s", g, w)
	}
	sameTime(t, "Created", got.Created, t0)
	sameTime(t, "LastModified", got.LastModified, t0)
	_, err = s.FindGroupByID(c, p.ID, uuid.NewString(), true)
	wantCode(t, err, directory.ENOTFOUND)

	// Group without members.
	empty := newGroup(t, s, p.ID, "empty")
	checkMembers(t, s, empty)

	// User reads list the groups by displayName.
	admins := newGroup(t, s, p.ID, "admins", alice)
	checkUserGroups(t, s, alice, admins, g)
	checkUserGroups(t, s, bob, g)
	checkUserGroups(t, s, carol)
	users, _, err := s.FindUsers(c, p.ID, directory.Query{StartIndex: 1, Count: 10})
	must(t, err)
	want := map[string][]string{
		alice.ID: {admins.ID + "=admins", g.ID + "=Engineering"},
		bob.ID:   {g.ID + "=Engineering"},
		carol.ID: nil,
	}
	if len(users) != 3 {
		t.Fatalf("FindUsers: %d users", len(users))
	}
	for _, u := range users {
		if got := groupRefs(u.Groups); !slices.Equal(got, want[u.ID]) {
			t.Errorf("FindUsers: groups of %s = %v, want %v", u.UserName, got, want[u.ID])
		}
	}

	// A renamed group is listed under its new name.
	gg, err := s.FindGroupByID(c, p.ID, g.ID, true)
	must(t, err)
	gg.DisplayName = "Aardvarks"
	must(t, s.UpdateGroup(c, gg))
	checkUserGroups(t, s, alice, gg, admins)
}

func testGroupUnknownMember(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	alice := newUser(t, s, p.ID, "alice")
	g := group(p.ID, "staff", alice)
	g.Members = append(g.Members, directory.Member{Value: "no-such-user"})
	err := s.CreateGroup(c, g)
	wantCode(t, err, directory.EINVALID)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, `"no-such-user"`) {
		t.Errorf("message = %q", msg)
	}
	// Nothing was written: no group, no membership, and the name is free.
	_, err = s.FindGroupByID(c, p.ID, g.ID, true)
	wantCode(t, err, directory.ENOTFOUND)
	_, total, err := s.FindGroups(c, p.ID, directory.Query{})
	must(t, err)
	if total != 0 {
		t.Errorf("%d groups after a failed create", total)
	}
	checkUserGroups(t, s, alice)
	newGroup(t, s, p.ID, "staff", alice)

	wantCode(t, s.CreateGroup(c, group(uuid.NewString(), "orphans")), directory.ENOTFOUND)
}

func testGroupNameConflict(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	q := newProvider(t, s, "q")
	newGroup(t, s, p.ID, "Admins")
	err := s.CreateGroup(c, group(p.ID, "ADMINS"))
	wantCode(t, err, directory.ECONFLICT)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, `"ADMINS"`) || !strings.Contains(msg, "already exists") {
		t.Errorf("message = %q", msg)
	}
	newGroup(t, s, q.ID, "admins")
	other := newGroup(t, s, p.ID, "Others")
	other.DisplayName = "admins"
	wantCode(t, s.UpdateGroup(c, other), directory.ECONFLICT)
	got, err := s.FindGroupByID(c, p.ID, other.ID, false)
	must(t, err)
	if got.DisplayName != "Others" || got.Version != 1 {
		t.Errorf("after a failed update: %+v", got)
	}
}

func testDeleteGroup(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	alice := newUser(t, s, p.ID, "alice")
	g := newGroup(t, s, p.ID, "one", alice)
	keep := newGroup(t, s, p.ID, "two", alice)
	must(t, s.DeleteGroup(c, p.ID, g.ID))
	_, err := s.FindGroupByID(c, p.ID, g.ID, false)
	wantCode(t, err, directory.ENOTFOUND)
	wantCode(t, s.DeleteGroup(c, p.ID, g.ID), directory.ENOTFOUND)
	checkUserGroups(t, s, alice, keep)
	newGroup(t, s, p.ID, "ONE") // the name is free
}
