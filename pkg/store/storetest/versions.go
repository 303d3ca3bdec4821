package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
)

func testUserOptimisticLocking(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	u := newUser(t, s, p.ID, "alice")
	first, err := s.FindUserByID(c, p.ID, u.ID)
	must(t, err)
	second, err := s.FindUserByID(c, p.ID, u.ID)
	must(t, err)

	first.DisplayName = "first"
	must(t, s.UpdateUser(c, first))
	second.DisplayName = "second"
	err = s.UpdateUser(c, second)
	wantCode(t, err, directory.ESTALE)
	if second.Version != 1 {
		t.Errorf("Version after a stale update = %d, want 1", second.Version)
	}
	got, err := s.FindUserByID(c, p.ID, u.ID)
	must(t, err)
	if got.DisplayName != "first" || got.Version != 2 {
		t.Errorf("after a stale update: displayName %q version %d", got.DisplayName, got.Version)
	}
	// Re-read and retry works.
	got.DisplayName = "second"
	must(t, s.UpdateUser(c, got))
	if got.Version != 3 {
		t.Errorf("Version = %d, want 3", got.Version)
	}
}

func testGroupOptimisticLocking(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	alice := newUser(t, s, p.ID, "alice")
	bob := newUser(t, s, p.ID, "bob")
	newGroup(t, s, p.ID, "team", alice)
	all, _, err := s.FindGroups(c, p.ID, directory.Query{Count: 1, WithMembers: true})
	must(t, err)
	first := all[0]
	second := *first
	second.Members = slices.Clone(first.Members)

	first.Members = append(first.Members, directory.Member{Value: bob.ID})
	must(t, s.UpdateGroup(c, first))
	second.Members = nil
	wantCode(t, s.UpdateGroup(c, &second), directory.ESTALE)
	checkMembers(t, s, first, directory.Member{Value: alice.ID, Display: "alice"}, directory.Member{Value: bob.ID})
}

// testConditionalWrites checks the writes that carry If-Match (RFC 7644
// §3.14) to the store: DeleteUser and DeleteGroup with ifVersion, and
// ApplyGroupDelta with IfVersion. A version that is not current is ESTALE
// and writes nothing; a missing resource is ENOTFOUND whatever the version.
func testConditionalWrites(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	alice := newUser(t, s, p.ID, "alice")
	bob := newUser(t, s, p.ID, "bob")
	alice.DisplayName = "Alice"
	must(t, s.UpdateUser(c, alice)) // version 2

	// Users.
	wantCode(t, s.DeleteUser(c, p.ID, alice.ID, 1), directory.ESTALE)
	wantCode(t, s.DeleteUser(c, p.ID, alice.ID, 3), directory.ESTALE)
	if got, err := s.FindUserByID(c, p.ID, alice.ID); err != nil || got.Version != 2 || got.DisplayName != "Alice" {
		t.Fatalf("after stale deletes: %+v, %v", got, err)
	}
	if n := syncedUsers(t, s, p.ID); n != 2 {
		t.Errorf("SyncedUsers after stale deletes = %d, want 2", n)
	}
	must(t, s.DeleteUser(c, p.ID, alice.ID, 2))
	_, err := s.FindUserByID(c, p.ID, alice.ID)
	wantCode(t, err, directory.ENOTFOUND)
	wantCode(t, s.DeleteUser(c, p.ID, alice.ID, 2), directory.ENOTFOUND)
	wantCode(t, s.DeleteUser(c, p.ID, uuid.NewString(), 1), directory.ENOTFOUND)
	if n := syncedUsers(t, s, p.ID); n != 1 {
		t.Errorf("SyncedUsers = %d, want 1", n)
	}
	must(t, s.DeleteUser(c, p.ID, bob.ID, 0)) // 0: any version
	carol := newUser(t, s, p.ID, "carol")

	// Group deltas.
	g := newGroup(t, s, p.ID, "team", carol)
	_, err = s.ApplyGroupDelta(c, p.ID, g.ID, directory.GroupDelta{DisplayName: "renamed", RemoveMembers: []string{carol.ID},
		LastModified: t0.Add(time.Minute), IfVersion: 2})
	wantCode(t, err, directory.ESTALE)
	checkGroup(t, s, nil, g, "team", 1, t0)
	checkMembers(t, s, g, directory.Member{Value: carol.ID, Display: "carol"})
	got, err := s.ApplyGroupDelta(c, p.ID, g.ID, directory.GroupDelta{DisplayName: "renamed", LastModified: t0.Add(time.Minute), IfVersion: 1})
	must(t, err)
	checkGroup(t, s, got, g, "renamed", 2, t0.Add(time.Minute))
	_, err = s.ApplyGroupDelta(c, p.ID, uuid.NewString(), directory.GroupDelta{LastModified: t0, IfVersion: 1})
	wantCode(t, err, directory.ENOTFOUND)

	// Group deletes.
	wantCode(t, s.DeleteGroup(c, p.ID, g.ID, 1), directory.ESTALE)
	checkGroup(t, s, nil, g, "renamed", 2, t0.Add(time.Minute))
	checkMembers(t, s, g, directory.Member{Value: carol.ID, Display: "carol"})
	must(t, s.DeleteGroup(c, p.ID, g.ID, 2))
	_, err = s.FindGroupByID(c, p.ID, g.ID, false)
	wantCode(t, err, directory.ENOTFOUND)
	wantCode(t, s.DeleteGroup(c, p.ID, g.ID, 2), directory.ENOTFOUND)
	checkUserGroups(t, s, carol)
}
