package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
)

func testProviders(t *testing.T, s directory.Store) {
	c := ctx(t)
	b := newProvider(t, s, "Okta")
	a := newProvider(t, s, "azure AD")
	if a.SyncedUsers != 0 {
		t.Errorf("new provider SyncedUsers = %d", a.SyncedUsers)
	}

	got, err := s.FindProviderByID(c, a.ID)
	must(t, err)
	checkProvider(t, got, a)
	if got.HasKey() || got.Keys != nil {
		t.Errorf("provider without key: Keys = %v", got.Keys)
	}
	got, err = s.FindProviderByName(c, "AZURE ad")
	must(t, err)
	checkProvider(t, got, a)

	_, err = s.FindProviderByID(c, uuid.NewString())
	wantCode(t, err, directory.ENOTFOUND)
	_, err = s.FindProviderByName(c, "nobody")
	wantCode(t, err, directory.ENOTFOUND)
	_, err = s.FindProviderByKeyHash(c, []byte("no such hash"))
	wantCode(t, err, directory.ENOTFOUND)
	_, err = s.FindProviderByKeyHash(c, nil)
	wantCode(t, err, directory.ENOTFOUND)

	all, err := s.FindProviders(c)
	must(t, err)
	if len(all) != 2 || all[0].ID != a.ID || all[1].ID != b.ID {
		t.Errorf("FindProviders = %v, want azure AD then Okta", all)
	}

	// Update: key, enabled, name, hint, updated.
	a.Name = "Entra ID"
	a.Enabled = false
	a.Keys = []directory.Key{{ID: "k1", Hash: []byte("0123456789abcdef0123456789abcdef"), Hint: "wxyz", Created: t0}}
	a.Updated = t0.Add(time.Hour)
	must(t, s.UpdateProvider(c, a))
	got, err = s.FindProviderByKeyHash(c, []byte("0123456789abcdef0123456789abcdef"))
	must(t, err)
	checkProvider(t, got, a)
	if !got.HasKey() {
		t.Error("HasKey() = false after a key was set")
	}
	_, err = s.FindProviderByName(c, "azure ad")
	wantCode(t, err, directory.ENOTFOUND)
	got, err = s.FindProviderByName(c, "entra id")
	must(t, err)
	checkProvider(t, got, a)

	// A new key replaces the old one.
	a.Keys = []directory.Key{{ID: "k2", Hash: []byte("fedcba9876543210fedcba9876543210"), Hint: "abcd", Created: t0.Add(time.Minute)}}
	must(t, s.UpdateProvider(c, a))
	_, err = s.FindProviderByKeyHash(c, []byte("0123456789abcdef0123456789abcdef"))
	wantCode(t, err, directory.ENOTFOUND)
	got, err = s.FindProviderByKeyHash(c, a.Keys[0].Hash)
	must(t, err)
	checkProvider(t, got, a)

	// Renaming to a taken name (in another case) conflicts.
	a.Name = "OKTA"
	err = s.UpdateProvider(c, a)
	wantCode(t, err, directory.ECONFLICT)
	if !strings.Contains(directory.ErrorMessage(err), `"OKTA"`) {
		t.Errorf("conflict message %q does not name the provider", directory.ErrorMessage(err))
	}
	// Renaming to itself in another case is fine.
	b.Name = "OKTA"
	must(t, s.UpdateProvider(c, b))

	err = s.UpdateProvider(c, &directory.Provider{ID: uuid.NewString(), Name: "ghost"})
	wantCode(t, err, directory.ENOTFOUND)
	wantCode(t, s.DeleteProvider(c, uuid.NewString()), directory.ENOTFOUND)

	must(t, s.DeleteProvider(c, b.ID))
	_, err = s.FindProviderByID(c, b.ID)
	wantCode(t, err, directory.ENOTFOUND)
	wantCode(t, s.DeleteProvider(c, b.ID), directory.ENOTFOUND)
}

func testProviderNameConflict(t *testing.T, s directory.Store) {
	newProvider(t, s, "Okta Prod")
	err := s.CreateProvider(ctx(t), &directory.Provider{ID: uuid.NewString(), Name: "okta PROD", Created: t0, Updated: t0})
	wantCode(t, err, directory.ECONFLICT)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, `"okta PROD"`) || !strings.Contains(msg, "already exists") {
		t.Errorf("message = %q", msg)
	}
	all, err := s.FindProviders(ctx(t))
	must(t, err)
	if len(all) != 1 {
		t.Errorf("%d providers after a conflict, want 1", len(all))
	}
}

func testDeleteProviderCascades(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "doomed")
	keep := newProvider(t, s, "kept")
	u := newUser(t, s, p.ID, "alice")
	g := newGroup(t, s, p.ID, "staff", u)
	ku := newUser(t, s, keep.ID, "alice")
	kg := newGroup(t, s, keep.ID, "staff", ku)

	must(t, s.DeleteProvider(c, p.ID))
	_, err := s.FindUserByID(c, p.ID, u.ID)
	wantCode(t, err, directory.ENOTFOUND)
	_, err = s.FindGroupByID(c, p.ID, g.ID, true)
	wantCode(t, err, directory.ENOTFOUND)
	users, total, err := s.FindUsers(c, p.ID, directory.Query{Count: 10})
	must(t, err)
	if len(users) != 0 || total != 0 {
		t.Errorf("FindUsers after delete = %d users, total %d", len(users), total)
	}
	groups, total, err := s.FindGroups(c, p.ID, directory.Query{Count: 10})
	must(t, err)
	if len(groups) != 0 || total != 0 {
		t.Errorf("FindGroups after delete = %d groups, total %d", len(groups), total)
	}

	// The other provider is untouched.
	checkUserGroups(t, s, ku, kg)
	checkMembers(t, s, kg, directory.Member{Value: ku.ID, Display: "alice"})

	// The name is free again, and the new provider starts empty.
	p2 := newProvider(t, s, "DOOMED")
	users, total, err = s.FindUsers(c, p2.ID, directory.Query{Count: 10})
	must(t, err)
	if len(users) != 0 || total != 0 {
		t.Errorf("new provider has %d users, total %d", len(users), total)
	}
}

// recordSync records a successful request of the provider at the given time.
func recordSync(c context.Context, s directory.Store, providerID string, at time.Time) error {
	return s.RecordRequest(c, &directory.LogEntry{Time: at, ProviderID: providerID, Method: "GET", Path: "/scim/v2/Users", Status: 200})
}

func testRecordSync(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "okta")
	at := t0.Add(time.Minute)
	must(t, recordSync(c, s, p.ID, at))
	must(t, recordSync(c, s, p.ID, at.Add(-time.Second))) // older: ignored
	got, err := s.FindProviderByID(c, p.ID)
	must(t, err)
	sameTime(t, "LastSyncAt", got.LastSyncAt, at)
	later := at.Add(time.Hour)
	must(t, recordSync(c, s, p.ID, later))
	must(t, recordSync(c, s, p.ID, later)) // same: no change, no error
	got, err = s.FindProviderByID(c, p.ID)
	must(t, err)
	sameTime(t, "LastSyncAt", got.LastSyncAt, later)
	wantCode(t, recordSync(c, s, uuid.NewString(), later), directory.ENOTFOUND)
}

func syncedUsers(t *testing.T, s directory.Store, providerID string) int64 {
	t.Helper()
	p, err := s.FindProviderByID(ctx(t), providerID)
	must(t, err)
	return p.SyncedUsers
}

func testSyncedUsers(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "a")
	q := newProvider(t, s, "b")
	u1 := newUser(t, s, p.ID, "u1")
	newUser(t, s, p.ID, "u2")
	newUser(t, s, p.ID, "u3")
	newUser(t, s, q.ID, "u1")
	if n := syncedUsers(t, s, p.ID); n != 3 {
		t.Errorf("SyncedUsers = %d, want 3", n)
	}
	// A failed create counts nothing.
	wantCode(t, s.CreateUser(c, user(p.ID, "U2")), directory.ECONFLICT)
	if n := syncedUsers(t, s, p.ID); n != 3 {
		t.Errorf("SyncedUsers after a conflict = %d, want 3", n)
	}
	must(t, s.DeleteUser(c, p.ID, u1.ID))
	wantCode(t, s.DeleteUser(c, p.ID, u1.ID), directory.ENOTFOUND)
	if n := syncedUsers(t, s, p.ID); n != 2 {
		t.Errorf("SyncedUsers after a delete = %d, want 2", n)
	}
	if n := syncedUsers(t, s, q.ID); n != 1 {
		t.Errorf("other provider's SyncedUsers = %d, want 1", n)
	}
	_, total, err := s.FindUsers(c, p.ID, directory.Query{})
	must(t, err)
	if total != 2 {
		t.Errorf("FindUsers total = %d, want 2", total)
	}
}

func testProviderIsolation(t *testing.T, s directory.Store) {
	c := ctx(t)
	a := newProvider(t, s, "a")
	b := newProvider(t, s, "b")
	ua := newUser(t, s, a.ID, "alice")
	ub := newUser(t, s, b.ID, "bob")
	ga := newGroup(t, s, a.ID, "staff", ua)

	_, err := s.FindUserByID(c, b.ID, ua.ID)
	wantCode(t, err, directory.ENOTFOUND)
	_, err = s.FindGroupByID(c, b.ID, ga.ID, true)
	wantCode(t, err, directory.ENOTFOUND)
	for f, want := range map[string]int{
		fmt.Sprintf(`id eq %q`, ua.ID): 0,
		`userName eq "alice"`:          0,
		`userName pr`:                  1, // bob only
	} {
		users, total, err := s.FindUsers(c, b.ID, directory.Query{Filter: parse(t, f), Count: 10})
		must(t, err)
		if total != want || len(users) != want || (want > 0 && users[0].ID != ub.ID) {
			t.Errorf("provider b, %s: %d users (total %d), want %d", f, len(users), total, want)
		}
	}
	groups, total, err := s.FindGroups(c, b.ID, directory.Query{Filter: parse(t, `displayName eq "staff"`), Count: 10})
	must(t, err)
	if len(groups) != 0 || total != 0 {
		t.Errorf("provider b sees %d groups", total)
	}

	// b cannot change or delete a's resources.
	stolen := *ua
	stolen.ProviderID = b.ID
	wantCode(t, s.UpdateUser(c, &stolen), directory.ENOTFOUND)
	wantCode(t, s.DeleteUser(c, b.ID, ua.ID), directory.ENOTFOUND)
	wantCode(t, s.DeleteGroup(c, b.ID, ga.ID), directory.ENOTFOUND)
	// nor put a's user in its group.
	wantCode(t, s.CreateGroup(c, group(b.ID, "theft", ua)), directory.EINVALID)
	if n := syncedUsers(t, s, a.ID); n != 1 {
		t.Errorf("SyncedUsers of a = %d", n)
	}
	checkUserGroups(t, s, ua, ga)
}

// testProviderKeys: a provider's keys are kept as a set, oldest first,
// each found by its hash; an update changes their expiry and replacement
// but not their last use, which only the log moves; a hash is one
// provider's only; deleting the provider deletes its keys.
func testProviderKeys(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := &directory.Provider{ID: uuid.NewString(), Name: "okta", Enabled: true, Created: t0, Updated: t0,
		Keys: []directory.Key{
			{ID: "kold", Hash: []byte("old-hash"), Hint: "0ld1", Created: t0},
			{ID: "knew", Hash: []byte("new-hash"), Hint: "n3w1", Created: t0.Add(time.Second), Expires: t0.Add(90 * 24 * time.Hour)},
		}}
	must(t, s.CreateProvider(c, p))
	other := newProvider(t, s, "entra")
	for _, h := range []string{"old-hash", "new-hash"} {
		got, err := s.FindProviderByKeyHash(c, []byte(h))
		must(t, err)
		checkProvider(t, got, p)
	}

	// Both requests are logged in one batch: each key's last use moves to
	// its newest request, and an older one does not move it back.
	used := t0.Add(time.Hour)
	must(t, s.RecordRequests(c, []*directory.LogEntry{
		{Time: used, ProviderID: p.ID, KeyID: "kold", Method: "GET", Path: "/scim/v2/Users", Status: 200},
		{Time: used.Add(-time.Minute), ProviderID: p.ID, KeyID: "kold", Method: "GET", Path: "/scim/v2/Users", Status: 200},
		{Time: used.Add(time.Second), ProviderID: p.ID, KeyID: "knew", Method: "GET", Path: "/scim/v2/Users/x", Status: 404},
	}))
	must(t, s.RecordRequest(c, &directory.LogEntry{Time: used.Add(2 * time.Second), ProviderID: p.ID, KeyID: "knew",
		Method: "GET", Path: "/scim/v2/Users", Status: 200}))
	p.Keys[0].LastUsed = used
	p.Keys[1].LastUsed = used.Add(2 * time.Second)
	p.LastSyncAt = used.Add(2 * time.Second) // the 404 is no sync
	got, err := s.FindProviderByID(c, p.ID)
	must(t, err)
	checkProvider(t, got, p)

	// A rotation: the old key replaced with an end, a third one added;
	// the last uses stay.
	p.Keys[0].Replaced, p.Keys[0].Expires = t0.Add(2*time.Hour), t0.Add(26*time.Hour)
	p.Keys[1].Replaced = t0.Add(2 * time.Hour)
	p.Keys = append(p.Keys, directory.Key{ID: "kthird", Hash: []byte("third-hash"), Hint: "thr3", Created: t0.Add(2 * time.Hour)})
	p.Updated = t0.Add(2 * time.Hour)
	must(t, s.UpdateProvider(c, p))
	got, err = s.FindProviderByKeyHash(c, []byte("third-hash"))
	must(t, err)
	checkProvider(t, got, p)

	// A write from a stale read (another admin operation wrote since) is
	// refused and changes nothing: the revision moved on.
	stale := *p
	stale.Rev--
	stale.Keys = nil
	wantCode(t, s.UpdateProvider(c, &stale), directory.ESTALE)
	got, err = s.FindProviderByID(c, p.ID)
	must(t, err)
	checkProvider(t, got, p)
	if got.Rev != p.Rev {
		t.Errorf("Rev = %d, want %d", got.Rev, p.Rev)
	}

	// A revoke: the key is gone and its hash finds nothing.
	p.Keys = p.Keys[1:]
	must(t, s.UpdateProvider(c, p))
	_, err = s.FindProviderByKeyHash(c, []byte("old-hash"))
	wantCode(t, err, directory.ENOTFOUND)
	all, err := s.FindProviders(c)
	must(t, err)
	if len(all) != 2 || all[1].ID != p.ID {
		t.Fatalf("FindProviders = %v", all)
	}
	checkProvider(t, all[1], p)
	checkProvider(t, all[0], other)

	// Another provider cannot take a key hash in use, and nothing of
	// that update is written.
	other.Keys = []directory.Key{{ID: "kdup", Hash: []byte("new-hash"), Hint: "dup1", Created: t0}}
	other.Name = "entra renamed"
	wantCode(t, s.UpdateProvider(c, other), directory.ECONFLICT)
	got, err = s.FindProviderByID(c, other.ID)
	must(t, err)
	if got.Name != "entra" || got.HasKey() {
		t.Errorf("a conflicting key update was half applied: name %q, keys %v", got.Name, got.Keys)
	}

	must(t, s.DeleteProvider(c, p.ID))
	_, err = s.FindProviderByKeyHash(c, []byte("third-hash"))
	wantCode(t, err, directory.ENOTFOUND)
	// The freed hash may be used again.
	must(t, s.UpdateProvider(c, other))
}
