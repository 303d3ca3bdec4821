package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
)

func testUpdateGroupMembers(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	u := make([]*directory.User, 5)
	for i := range u {
		u[i] = newUser(t, s, p.ID, fmt.Sprintf("user%d", i))
	}
	g := newGroup(t, s, p.ID, "team", u[0], u[1], u[2])

	// Remove u1, keep u0 (new display) and u2, add u3 then u4.
	g.Members = []directory.Member{
		{Value: u[3].ID, Display: "three"},
		{Value: u[2].ID, Display: "user2"},
		{Value: u[0].ID, Display: "zero"},
		{Value: u[4].ID, Display: "four"},
		{Value: u[3].ID, Display: "dup"},
	}
	g.LastModified = t0.Add(time.Minute)
	must(t, s.UpdateGroup(c, g))
	if g.Version != 2 {
		t.Errorf("Version = %d, want 2", g.Version)
	}
	checkMembers(t, s, g,
		directory.Member{Value: u[0].ID, Display: "zero"},
		directory.Member{Value: u[2].ID, Display: "user2"},
		directory.Member{Value: u[3].ID, Display: "three"},
		directory.Member{Value: u[4].ID, Display: "four"},
	)
	checkUserGroups(t, s, u[1])
	checkUserGroups(t, s, u[3], g)
	got, err := s.FindGroupByID(c, p.ID, g.ID, false)
	must(t, err)
	sameTime(t, "LastModified", got.LastModified, t0.Add(time.Minute))

	// An unknown member fails the whole update.
	before := g.Version
	g.DisplayName = "renamed"
	g.Members = []directory.Member{{Value: u[1].ID}, {Value: "ghost"}}
	wantCode(t, s.UpdateGroup(c, g), directory.EINVALID)
	if g.Version != before {
		t.Errorf("Version changed by a failed update")
	}
	got, err = s.FindGroupByID(c, p.ID, g.ID, true)
	must(t, err)
	if got.DisplayName != "team" || got.Version != 2 || len(got.Members) != 4 {
		t.Errorf("after a failed update: %+v", got)
	}

	// Emptying the group.
	got.Members = nil
	must(t, s.UpdateGroup(c, got))
	checkMembers(t, s, got)
	checkUserGroups(t, s, u[0])

	ghost := group(p.ID, "ghost")
	ghost.Version = 1
	wantCode(t, s.UpdateGroup(c, ghost), directory.ENOTFOUND)
}

// checkGroup fails t unless the stored group has the name (in the column
// and the resource), version and last-modified time, and got (what a
// write returned) is the same, without members.
func checkGroup(t *testing.T, s directory.Store, got *directory.Group, g *directory.Group, name string, version int64, modified time.Time) {
	t.Helper()
	stored, err := s.FindGroupByID(ctx(t), g.ProviderID, g.ID, false)
	must(t, err)
	for what, x := range map[string]*directory.Group{"stored": stored, "returned": got} {
		if x == nil {
			continue
		}
		if x.ID != g.ID || x.ProviderID != g.ProviderID || x.DisplayName != name || x.Version != version || x.Members != nil {
			t.Errorf("%s group = %+v, want %q version %d without members", what, x, name, version)
		}
		if n := x.Resource["displayName"]; n != name {
			t.Errorf("%s Resource[displayName] = %v, want %q", what, n, name)
		}
		sameTime(t, what+" Created", x.Created, g.Created)
		sameTime(t, what+" LastModified", x.LastModified, modified)
	}
}

func testGroupDelta(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	q := newProvider(t, s, "q")
	u := make([]*directory.User, 5)
	for i := range u {
		u[i] = newUser(t, s, p.ID, fmt.Sprintf("user%d", i))
	}
	stranger := newUser(t, s, q.ID, "stranger")
	team := group(p.ID, "team", u[0], u[1], u[2])
	team.Resource["urn:example:ext"] = map[string]any{"x": "y"}
	must(t, s.CreateGroup(c, team))
	admins := newGroup(t, s, p.ID, "admins", u[0])
	theirs := newGroup(t, s, q.ID, "Crew", stranger) // another provider's name is no conflict
	m := func(u *directory.User, display string) directory.Member {
		return directory.Member{Value: u.ID, Display: display}
	}

	// Rename: the column, the resource (other attributes kept) and the
	// users' groups follow; the members do not change.
	got, err := s.ApplyGroupDelta(c, p.ID, team.ID, directory.GroupDelta{DisplayName: "Crew", LastModified: t0.Add(time.Minute)})
	must(t, err)
	checkGroup(t, s, got, team, "Crew", 2, t0.Add(time.Minute))
	if x := jsonText(t, got.Resource["urn:example:ext"]); x != `{"x":"y"}` {
		t.Errorf("extension after rename = %s", x)
	}
	crew := &directory.Group{ID: team.ID, DisplayName: "Crew"}
	checkUserGroups(t, s, u[0], admins, crew)
	checkUserGroups(t, s, u[1], crew)
	checkMembers(t, s, team, m(u[0], "user0"), m(u[1], "user1"), m(u[2], "user2"))

	// A taken name (case-insensitively) changes nothing, members included.
	_, err = s.ApplyGroupDelta(c, p.ID, team.ID, directory.GroupDelta{
		DisplayName: "ADMINS", AddMembers: []directory.Member{m(u[3], "three")}, RemoveMembers: []string{u[0].ID},
		LastModified: t0.Add(2 * time.Minute),
	})
	wantCode(t, err, directory.ECONFLICT)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, `"ADMINS"`) || !strings.Contains(msg, "already exists") {
		t.Errorf("message = %q", msg)
	}
	checkGroup(t, s, nil, team, "Crew", 2, t0.Add(time.Minute))
	checkMembers(t, s, team, m(u[0], "user0"), m(u[1], "user1"), m(u[2], "user2"))
	// Its own name in another case is no conflict.
	got, err = s.ApplyGroupDelta(c, p.ID, team.ID, directory.GroupDelta{DisplayName: "CREW", LastModified: t0.Add(2 * time.Minute)})
	must(t, err)
	checkGroup(t, s, got, team, "CREW", 3, t0.Add(2*time.Minute))

	// Remove u1, a user who is no member and an id of no user; add u3 and
	// u4 at the end, in order; give u0 a new display, in place.
	got, err = s.ApplyGroupDelta(c, p.ID, team.ID, directory.GroupDelta{
		RemoveMembers: []string{u[1].ID, u[4].ID, "no-such-user", stranger.ID},
		AddMembers:    []directory.Member{m(u[3], "three"), m(u[0], "zero"), m(u[4], "four")},
		LastModified:  t0.Add(3 * time.Minute),
	})
	must(t, err)
	checkGroup(t, s, got, team, "CREW", 4, t0.Add(3*time.Minute))
	checkMembers(t, s, team, m(u[0], "zero"), m(u[2], "user2"), m(u[3], "three"), m(u[4], "four"))
	crew.DisplayName = "CREW"
	checkUserGroups(t, s, u[1])
	checkUserGroups(t, s, u[3], crew)

	// An unknown member, or another provider's user, fails the whole
	// delta: no rename, no removal, no addition, no new version.
	for _, bad := range []string{"ghost", stranger.ID} {
		_, err = s.ApplyGroupDelta(c, p.ID, team.ID, directory.GroupDelta{
			DisplayName:   "renamed",
			RemoveMembers: []string{u[0].ID},
			AddMembers:    []directory.Member{m(u[1], "one"), {Value: bad}},
			LastModified:  t0.Add(4 * time.Minute),
		})
		wantCode(t, err, directory.EINVALID)
		if msg := directory.ErrorMessage(err); !strings.Contains(msg, fmt.Sprintf("%q", bad)) {
			t.Errorf("message = %q", msg)
		}
		checkGroup(t, s, nil, team, "CREW", 4, t0.Add(3*time.Minute))
		checkMembers(t, s, team, m(u[0], "zero"), m(u[2], "user2"), m(u[3], "three"), m(u[4], "four"))
		checkUserGroups(t, s, u[1])
	}
	if _, total, err := s.FindGroups(c, p.ID, directory.Query{Filter: parse(t, `displayName eq "renamed"`)}); err != nil || total != 0 {
		t.Errorf("groups named \"renamed\" after failed deltas: %d, %v", total, err)
	}

	// Removals apply first: a member both removed and added stays one, as
	// the newest member; a user only added by the same delta too.
	got, err = s.ApplyGroupDelta(c, p.ID, team.ID, directory.GroupDelta{
		RemoveMembers: []string{u[2].ID, u[1].ID},
		AddMembers:    []directory.Member{m(u[2], "two"), m(u[1], "one")},
		LastModified:  t0.Add(5 * time.Minute),
	})
	must(t, err)
	checkGroup(t, s, got, team, "CREW", 5, t0.Add(5*time.Minute))
	checkMembers(t, s, team, m(u[0], "zero"), m(u[3], "three"), m(u[4], "four"), m(u[2], "two"), m(u[1], "one"))
	checkUserGroups(t, s, u[2], crew)

	// An empty delta still makes a new version.
	got, err = s.ApplyGroupDelta(c, p.ID, team.ID, directory.GroupDelta{LastModified: t0.Add(6 * time.Minute)})
	must(t, err)
	checkGroup(t, s, got, team, "CREW", 6, t0.Add(6*time.Minute))
	checkMembers(t, s, team, m(u[0], "zero"), m(u[3], "three"), m(u[4], "four"), m(u[2], "two"), m(u[1], "one"))

	// Unknown ids, and a group of another provider, are not found.
	_, err = s.ApplyGroupDelta(c, p.ID, uuid.NewString(), directory.GroupDelta{LastModified: t0})
	wantCode(t, err, directory.ENOTFOUND)
	_, err = s.ApplyGroupDelta(c, q.ID, team.ID, directory.GroupDelta{DisplayName: "stolen", LastModified: t0})
	wantCode(t, err, directory.ENOTFOUND)
	_, err = s.ApplyGroupDelta(c, uuid.NewString(), team.ID, directory.GroupDelta{LastModified: t0})
	wantCode(t, err, directory.ENOTFOUND)
	checkGroup(t, s, nil, team, "CREW", 6, t0.Add(6*time.Minute))

	// The other groups were never touched.
	checkGroup(t, s, nil, theirs, "Crew", 1, t0)
	checkMembers(t, s, theirs, m(stranger, "stranger"))
	checkUserGroups(t, s, stranger, theirs)
	checkGroup(t, s, nil, admins, "admins", 1, t0)
	checkMembers(t, s, admins, m(u[0], "user0"))
}

func testDeleteUserLeavesGroups(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	alice := newUser(t, s, p.ID, "alice")
	bob := newUser(t, s, p.ID, "bob")
	g1 := newGroup(t, s, p.ID, "one", alice, bob)
	g2 := newGroup(t, s, p.ID, "two", alice)
	must(t, s.DeleteUser(c, p.ID, alice.ID))
	checkMembers(t, s, g1, directory.Member{Value: bob.ID, Display: "bob"})
	checkMembers(t, s, g2)
	groups, _, err := s.FindGroups(c, p.ID, directory.Query{Count: 10, WithMembers: true})
	must(t, err)
	for _, g := range groups {
		for _, m := range g.Members {
			if m.Value == alice.ID {
				t.Errorf("deleted user still in %s", g.DisplayName)
			}
		}
	}
	// A new user with the same userName is not a member of anything.
	alice2 := newUser(t, s, p.ID, "alice")
	checkUserGroups(t, s, alice2)
}
