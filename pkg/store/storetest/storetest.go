// Package storetest is the test suite every directory.Store backend must
// pass. A backend's test calls Run with a function that opens a new, empty
// store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) directory.Store {
//			s, err := mybackend.Open(t.Context(), dsnFor(t))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// FilterDifferential and FilterFuzz check a backend's filter translation
// against scim.Match on generated data; PostgresDSN gives a PostgreSQL
// backend's tests a throw-away schema. Only tests import this package, so
// none of it reaches the kacescim binary.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/scim2/filter-parser/v2"

	"github.com/kacescim/kacescim/pkg/directory"
)

// Run runs the suite. open must return a new, empty store each time it is
// called and close it when t ends; the subtests run in parallel, each on
// its own store.
func Run(t *testing.T, open func(t *testing.T) directory.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s directory.Store)
	}{
		{"Providers", testProviders},
		{"ProviderNameConflict", testProviderNameConflict},
		{"DeleteProviderCascades", testDeleteProviderCascades},
		{"RecordSync", testRecordSync},
		{"SyncedUsers", testSyncedUsers},
		{"Users", testUsers},
		{"UserNameUnique", testUserNameUnique},
		{"ProviderIsolation", testProviderIsolation},
		{"UserOptimisticLocking", testUserOptimisticLocking},
		{"Groups", testGroups},
		{"GroupUnknownMember", testGroupUnknownMember},
		{"GroupNameConflict", testGroupNameConflict},
		{"UpdateGroupMembers", testUpdateGroupMembers},
		{"GroupOptimisticLocking", testGroupOptimisticLocking},
		{"GroupDelta", testGroupDelta},
		{"DeleteUserLeavesGroups", testDeleteUserLeavesGroups},
		{"DeleteGroup", testDeleteGroup},
		{"UsersPagination", testUsersPagination},
		{"GroupsPagination", testGroupsPagination},
		{"UserFilters", testUserFilters},
		{"GroupFilters", testGroupFilters},
		{"InvalidFilters", testInvalidFilters},
		{"SortUsers", testSortUsers},
		{"SortGroups", testSortGroups},
		{"InvalidSort", testInvalidSort},
		{"ConditionalWrites", testConditionalWrites},
		{"ConcurrentCreates", testConcurrentCreates},
		{"UserFields", testUserFields},
		{"CustomFields", testCustomFields},
		{"CustomFieldInUse", testCustomFieldInUse},
		{"Mappings", testMappings},
		{"DeleteProviderCascadesMappings", testDeleteProviderCascadesMappings},
		{"ReplaceMappingsRederives", testReplaceMappingsRederives},
		{"ReplaceMappingsRollsBack", testReplaceMappingsRollsBack},
		{"DirectoryUsers", testDirectoryUsers},
		{"DirectoryUser", testDirectoryUser},
		{"RequestLog", testRequestLog},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// t0 is the suite's clock: a whole millisecond, as the service stores
// times.
var t0 = time.Date(2024, 3, 1, 9, 30, 0, 123_000_000, time.UTC)

func ctx(t *testing.T) context.Context { return t.Context() }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantCode fails t unless err carries the directory error code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := directory.ErrorCode(err); got != code {
		t.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}

func newProvider(t *testing.T, s directory.Store, name string) *directory.Provider {
	t.Helper()
	p := &directory.Provider{ID: uuid.NewString(), Name: name, Enabled: true, Created: t0, Updated: t0}
	must(t, s.CreateProvider(ctx(t), p))
	return p
}

func user(providerID, userName string) *directory.User {
	return &directory.User{
		ProviderID: providerID, ID: uuid.NewString(), UserName: userName, Active: true,
		Resource: map[string]any{"userName": userName}, Created: t0, LastModified: t0,
	}
}

func newUser(t *testing.T, s directory.Store, providerID, userName string) *directory.User {
	t.Helper()
	u := user(providerID, userName)
	must(t, s.CreateUser(ctx(t), u))
	return u
}

func group(providerID, name string, members ...*directory.User) *directory.Group {
	g := &directory.Group{
		ProviderID: providerID, ID: uuid.NewString(), DisplayName: name,
		Resource: map[string]any{"displayName": name}, Created: t0, LastModified: t0,
	}
	for _, u := range members {
		g.Members = append(g.Members, directory.Member{Value: u.ID, Display: u.UserName})
	}
	return g
}

func newGroup(t *testing.T, s directory.Store, providerID, name string, members ...*directory.User) *directory.Group {
	t.Helper()
	g := group(providerID, name, members...)
	must(t, s.CreateGroup(ctx(t), g))
	return g
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("%s = %v, want %v in UTC", what, got, want)
	}
}

func checkProvider(t *testing.T, got, want *directory.Provider) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Enabled != want.Enabled ||
		string(got.KeyHash) != string(want.KeyHash) || got.KeyHint != want.KeyHint || got.SyncedUsers != want.SyncedUsers {
		t.Errorf("provider = %+v, want %+v", got, want)
	}
	if got.HasKey() != want.HasKey() {
		t.Errorf("HasKey() = %v, want %v", got.HasKey(), want.HasKey())
	}
	sameTime(t, "Created", got.Created, want.Created)
	sameTime(t, "Updated", got.Updated, want.Updated)
	if got.LastSyncAt.IsZero() != want.LastSyncAt.IsZero() || (!want.LastSyncAt.IsZero() && !got.LastSyncAt.Equal(want.LastSyncAt)) {
		t.Errorf("LastSyncAt = %v, want %v", got.LastSyncAt, want.LastSyncAt)
	}
}

func checkUser(t *testing.T, got, want *directory.User) {
	t.Helper()
	if got.ProviderID != want.ProviderID || got.ID != want.ID || got.UserName != want.UserName ||
		got.ExternalID != want.ExternalID || got.DisplayName != want.DisplayName || got.Active != want.Active ||
		got.Version != want.Version {
		t.Errorf("user = %+v, want %+v", got, want)
	}
	if g, w := jsonText(t, got.Resource), jsonText(t, want.Resource); g != w {
		t.Errorf("Resource = %s, want %s", g, w)
	}
	checkFields(t, got, want.Fields)
	sameTime(t, "Created", got.Created, want.Created)
	sameTime(t, "LastModified", got.LastModified, want.LastModified)
}

func groupRefs(refs []directory.GroupRef) []string {
	var s []string
	for _, r := range refs {
		s = append(s, r.ID+"="+r.DisplayName)
	}
	return s
}

func checkUserGroups(t *testing.T, s directory.Store, u *directory.User, want ...*directory.Group) {
	t.Helper()
	got, err := s.FindUserByID(ctx(t), u.ProviderID, u.ID)
	must(t, err)
	var w []string
	for _, g := range want {
		w = append(w, g.ID+"="+g.DisplayName)
	}
	if g := groupRefs(got.Groups); !slices.Equal(g, w) {
		t.Errorf("groups of %s = %v, want %v", u.UserName, g, w)
	}
}

func memberList(ms []directory.Member) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Value+"="+m.Display)
	}
	return s
}

func checkMembers(t *testing.T, s directory.Store, g *directory.Group, want ...directory.Member) {
	t.Helper()
	got, err := s.FindGroupByID(ctx(t), g.ProviderID, g.ID, true)
	must(t, err)
	if g, w := memberList(got.Members), memberList(want); !slices.Equal(g, w) {
		t.Errorf("members of %s = %v, want %v", got.DisplayName, g, w)
	}
}

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
	if got.HasKey() || got.KeyHash != nil {
		t.Errorf("provider without key: KeyHash = %x", got.KeyHash)
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
	a.KeyHash = []byte("0123456789abcdef0123456789abcdef")
	a.KeyHint = "wxyz"
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
	a.KeyHash = []byte("fedcba9876543210fedcba9876543210")
	must(t, s.UpdateProvider(c, a))
	_, err = s.FindProviderByKeyHash(c, []byte("0123456789abcdef0123456789abcdef"))
	wantCode(t, err, directory.ENOTFOUND)
	got, err = s.FindProviderByKeyHash(c, a.KeyHash)
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

func testUsers(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "okta")
	u := &directory.User{
		ProviderID: p.ID, ID: uuid.NewString(), UserName: "Bjensen@Example.com", ExternalID: "00u1",
		DisplayName: "Babs Jensen", Active: true,
		Resource: map[string]any{
			"userName": "Bjensen@Example.com",
			"name":     map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
			"emails":   []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}},
		},
		Created: t0, LastModified: t0,
	}
	must(t, s.CreateUser(c, u))
	if u.Version != 1 {
		t.Errorf("Version after create = %d, want 1", u.Version)
	}
	got, err := s.FindUserByID(c, p.ID, u.ID)
	must(t, err)
	checkUser(t, got, u)
	if len(got.Groups) != 0 {
		t.Errorf("Groups = %v, want none", got.Groups)
	}

	// Update replaces everything but Created.
	upd := *got
	upd.UserName = "babs@example.com"
	upd.ExternalID = "00u1-b"
	upd.DisplayName = "Babs"
	upd.Active = false
	upd.Resource = map[string]any{"userName": "babs@example.com", "title": "Tour Guide"}
	upd.LastModified = t0.Add(time.Minute)
	must(t, s.UpdateUser(c, &upd))
	if upd.Version != 2 {
		t.Errorf("Version after update = %d, want 2", upd.Version)
	}
	got, err = s.FindUserByID(c, p.ID, u.ID)
	must(t, err)
	checkUser(t, got, &upd)

	// The old userName is free; the new one is taken.
	newUser(t, s, p.ID, "bjensen@example.com")
	wantCode(t, s.CreateUser(c, user(p.ID, "BABS@example.com")), directory.ECONFLICT)

	wantCode(t, s.CreateUser(c, user(uuid.NewString(), "nobody")), directory.ENOTFOUND)
	ghost := user(p.ID, "ghost")
	ghost.Version = 1
	wantCode(t, s.UpdateUser(c, ghost), directory.ENOTFOUND)
	_, err = s.FindUserByID(c, p.ID, ghost.ID)
	wantCode(t, err, directory.ENOTFOUND)

	must(t, s.DeleteUser(c, p.ID, u.ID))
	_, err = s.FindUserByID(c, p.ID, u.ID)
	wantCode(t, err, directory.ENOTFOUND)
	wantCode(t, s.DeleteUser(c, p.ID, u.ID), directory.ENOTFOUND)
	upd.Version = 2
	wantCode(t, s.UpdateUser(c, &upd), directory.ENOTFOUND)
}

func testUserNameUnique(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	q := newProvider(t, s, "q")
	alice := newUser(t, s, p.ID, "Alice")
	err := s.CreateUser(c, user(p.ID, "aLICE"))
	wantCode(t, err, directory.ECONFLICT)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, `"aLICE"`) || !strings.Contains(msg, "already taken") {
		t.Errorf("message = %q", msg)
	}
	// Case-insensitive beyond ASCII.
	newUser(t, s, p.ID, "ÅSA")
	wantCode(t, s.CreateUser(c, user(p.ID, "åsa")), directory.ECONFLICT)

	// Another provider may have the same userName.
	newUser(t, s, q.ID, "alice")

	// Updating to a taken name conflicts; to one's own name in another case does not.
	bob := newUser(t, s, p.ID, "bob")
	bob.UserName = "ALICE"
	wantCode(t, s.UpdateUser(c, bob), directory.ECONFLICT)
	if bob.Version != 1 {
		t.Errorf("Version after a failed update = %d, want 1", bob.Version)
	}
	alice.UserName = "ALICE"
	must(t, s.UpdateUser(c, alice))
	got, err := s.FindUserByID(c, p.ID, bob.ID)
	must(t, err)
	if got.UserName != "bob" || got.Version != 1 {
		t.Errorf("after a failed update: %+v", got)
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

func userNames(us []*directory.User) []string {
	var s []string
	for _, u := range us {
		s = append(s, u.UserName)
	}
	return s
}

func testUsersPagination(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	other := newProvider(t, s, "other")
	var all []string
	for i := range 25 {
		// Names out of alphabetical order: the order is creation order.
		name := fmt.Sprintf("user%02d", (i*7)%25)
		u := user(p.ID, name)
		u.Active = i%2 == 0
		u.Created = t0.Add(time.Duration(i) * time.Second)
		must(t, s.CreateUser(c, u))
		all = append(all, name)
		newUser(t, s, other.ID, name)
	}
	active := []string{}
	for i, n := range all {
		if i%2 == 0 {
			active = append(active, n)
		}
	}
	activeFilter := parse(t, `active eq true`)
	cases := []struct {
		q     directory.Query
		want  []string
		total int
	}{
		{directory.Query{StartIndex: 1, Count: 10}, all[:10], 25},
		{directory.Query{StartIndex: 11, Count: 10}, all[10:20], 25},
		{directory.Query{StartIndex: 21, Count: 10}, all[20:], 25},
		{directory.Query{StartIndex: 0, Count: 3}, all[:3], 25},
		{directory.Query{StartIndex: -5, Count: 3}, all[:3], 25},
		{directory.Query{StartIndex: 1, Count: 0}, nil, 25},
		{directory.Query{StartIndex: 26, Count: 10}, nil, 25},
		{directory.Query{StartIndex: 1, Count: 100}, all, 25},
		{directory.Query{Filter: activeFilter, StartIndex: 2, Count: 3}, active[1:4], 13},
		{directory.Query{Filter: activeFilter, StartIndex: 12, Count: 3}, active[11:], 13},
		{directory.Query{Filter: activeFilter, Count: 0}, nil, 13},
	}
	for _, tc := range cases {
		users, total, err := s.FindUsers(c, p.ID, tc.q)
		must(t, err)
		if got := userNames(users); !slices.Equal(got, tc.want) || total != tc.total {
			t.Errorf("FindUsers(start %d, count %d, filter %v) = %v total %d, want %v total %d",
				tc.q.StartIndex, tc.q.Count, tc.q.Filter, got, total, tc.want, tc.total)
		}
	}
	// Paging through the whole list visits every user once, in order.
	var seen []string
	for start := 1; ; start += 4 {
		users, total, err := s.FindUsers(c, p.ID, directory.Query{StartIndex: start, Count: 4})
		must(t, err)
		if total != 25 {
			t.Fatalf("total = %d", total)
		}
		if len(users) == 0 {
			break
		}
		seen = append(seen, userNames(users)...)
	}
	if !slices.Equal(seen, all) {
		t.Errorf("paged = %v, want %v", seen, all)
	}
	// Pages come with their users' groups.
	u, _, err := s.FindUsers(c, p.ID, directory.Query{StartIndex: 3, Count: 2})
	must(t, err)
	g := newGroup(t, s, p.ID, "g", u[1])
	u, _, err = s.FindUsers(c, p.ID, directory.Query{StartIndex: 3, Count: 2})
	must(t, err)
	if len(u[0].Groups) != 0 || len(u[1].Groups) != 1 || u[1].Groups[0].ID != g.ID {
		t.Errorf("groups on page: %v, %v", u[0].Groups, u[1].Groups)
	}
}

func groupNames(gs []*directory.Group) []string {
	var s []string
	for _, g := range gs {
		s = append(s, g.DisplayName)
	}
	return s
}

func testGroupsPagination(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	other := newProvider(t, s, "other")
	alice := newUser(t, s, p.ID, "alice")
	bob := newUser(t, s, p.ID, "bob")
	var all []string
	for i := range 12 {
		name := fmt.Sprintf("group%02d", (i*5)%12)
		members := []*directory.User{alice}
		if i%3 == 0 {
			members = append(members, bob)
		}
		newGroup(t, s, p.ID, name, members...)
		newGroup(t, s, other.ID, name)
		all = append(all, name)
	}
	gs, total, err := s.FindGroups(c, p.ID, directory.Query{StartIndex: 4, Count: 5})
	must(t, err)
	if got := groupNames(gs); !slices.Equal(got, all[3:8]) || total != 12 {
		t.Errorf("page = %v total %d, want %v total 12", got, total, all[3:8])
	}
	for _, g := range gs {
		if g.Members != nil {
			t.Errorf("Members filled without WithMembers: %v", g.Members)
		}
	}
	gs, total, err = s.FindGroups(c, p.ID, directory.Query{StartIndex: 1, Count: 4, WithMembers: true})
	must(t, err)
	if total != 12 || len(gs) != 4 {
		t.Fatalf("got %d groups, total %d", len(gs), total)
	}
	for i, g := range gs {
		want := []string{alice.ID + "=alice"}
		if i%3 == 0 {
			want = append(want, bob.ID+"=bob")
		}
		if got := memberList(g.Members); !slices.Equal(got, want) {
			t.Errorf("members of %s = %v, want %v", g.DisplayName, got, want)
		}
	}
	gs, total, err = s.FindGroups(c, p.ID, directory.Query{StartIndex: 1, Count: 0})
	must(t, err)
	if len(gs) != 0 || total != 12 {
		t.Errorf("count 0: %d groups, total %d", len(gs), total)
	}
	gs, total, err = s.FindGroups(c, p.ID, directory.Query{StartIndex: 13, Count: 5})
	must(t, err)
	if len(gs) != 0 || total != 12 {
		t.Errorf("past the end: %d groups, total %d", len(gs), total)
	}
	gs, total, err = s.FindGroups(c, p.ID, directory.Query{Filter: parse(t, fmt.Sprintf(`members[value eq %q]`, bob.ID)), StartIndex: 2, Count: 10})
	must(t, err)
	if got := groupNames(gs); !slices.Equal(got, []string{all[3], all[6], all[9]}) || total != 4 {
		t.Errorf("filtered page = %v total %d", got, total)
	}
}

func parse(t *testing.T, f string) filter.Expression {
	t.Helper()
	e, err := filter.ParseFilter([]byte(f))
	if err != nil {
		t.Fatalf("parse %s: %v", f, err)
	}
	return e
}

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// filterFixture is a provider with five users, two groups and a second
// provider whose users would match most filters too.
type filterFixture struct {
	p      *directory.Provider
	users  map[string]*directory.User // by short name: alice, bob, carol, dave, eve
	groups map[string]*directory.Group
}

func newFilterFixture(t *testing.T, s directory.Store) *filterFixture {
	c := ctx(t)
	f := &filterFixture{p: newProvider(t, s, "p"), users: map[string]*directory.User{}, groups: map[string]*directory.Group{}}
	other := newProvider(t, s, "other")
	specs := []struct {
		short, userName, externalID, displayName string
		active                                   bool
		resource                                 map[string]any
	}{
		{"alice", "alice@example.com", "ext-A1", "Alice Archer", true, map[string]any{
			"name":  map[string]any{"givenName": "Alice", "familyName": "Archer"},
			"title": "Engineer",
			"emails": []any{
				map[string]any{"value": "alice@example.com", "type": "work", "primary": true},
				map[string]any{"value": "alice@home.test", "type": "home"},
			},
			enterprise: map[string]any{"employeeNumber": "1001", "department": "R&D", "manager": map[string]any{"value": "mgr-1"}},
		}},
		{"bob", "Bob.Builder", "ext-b2", "Bob Builder", false, map[string]any{
			"name": map[string]any{"familyName": "Builder"},
			"emails": []any{
				map[string]any{"value": "bob@x.test", "type": "home"},
				map[string]any{"value": "bob@work.test", "type": "work"},
			},
		}},
		{"carol", "carol_100%", "EXT-C3", "Carol", true, map[string]any{
			"name":     map[string]any{"familyName": "MÜLLER"},
			"emails":   []any{map[string]any{"value": "carol@x.test", "type": "work"}},
			enterprise: map[string]any{"department": "Sales"},
		}},
		{"dave", "dave*[x]?", "", "", true, map[string]any{}},
		{"eve", "Eve", "ext-e5", "eve", true, map[string]any{
			"emails": []any{map[string]any{"value": "EVE@X.TEST", "type": "Work"}},
		}},
	}
	for i, sp := range specs {
		res := map[string]any{"userName": sp.userName}
		for k, v := range sp.resource {
			res[k] = v
		}
		u := &directory.User{
			ProviderID: f.p.ID, ID: "id-" + sp.short, UserName: sp.userName, ExternalID: sp.externalID,
			DisplayName: sp.displayName, Active: sp.active, Resource: res,
			Created: t0.Add(time.Duration(i) * time.Minute), LastModified: t0.Add(time.Duration(i)*time.Minute + time.Hour),
		}
		must(t, s.CreateUser(c, u))
		f.users[sp.short] = u
		// The same user under the other provider, which no filter on p may return.
		twin := *u
		twin.ProviderID = other.ID
		twin.ID = "other-" + sp.short
		must(t, s.CreateUser(c, &twin))
	}
	eng := group(f.p.ID, "Engineering", f.users["alice"], f.users["carol"])
	eng.ExternalID = "G-1"
	must(t, s.CreateGroup(c, eng))
	f.groups["eng"] = eng
	f.groups["admins"] = newGroup(t, s, f.p.ID, "admins", f.users["alice"])
	f.groups["sales"] = newGroup(t, s, f.p.ID, "Sales Team")
	newGroup(t, s, other.ID, "Engineering")
	return f
}

// at is t0 plus d, as an RFC 3339 filter value.
func at(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }

func testUserFilters(t *testing.T, s directory.Store) {
	f := newFilterFixture(t, s)
	all := []string{"alice", "bob", "carol", "dave", "eve"}
	cases := []struct {
		filter string
		want   []string
	}{
		// userName: case-insensitive.
		{`userName eq "alice@example.com"`, []string{"alice"}},
		{`userName eq "ALICE@Example.COM"`, []string{"alice"}},
		{`UserName EQ "bob.builder"`, []string{"bob"}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "eve"`, []string{"eve"}},
		{`userName ne "EVE"`, []string{"alice", "bob", "carol", "dave"}},
		{`userName co "BUILD"`, []string{"bob"}},
		{`userName sw "Al"`, []string{"alice"}},
		{`userName ew ".COM"`, []string{"alice"}},
		{`userName co "_"`, []string{"carol"}},
		{`userName co "%"`, []string{"carol"}},
		{`userName sw "c%"`, nil},
		{`userName co "*"`, []string{"dave"}},
		{`userName co "[x]"`, []string{"dave"}},
		{`userName ew "?"`, []string{"dave"}},
		{`userName co "a"`, []string{"alice", "carol", "dave"}},
		{`userName gt "c"`, []string{"carol", "dave", "eve"}},
		{`userName ge "carol_100%"`, []string{"carol", "dave", "eve"}},
		{`userName lt "bob"`, []string{"alice"}},
		{`userName le "BOB.BUILDER"`, []string{"alice", "bob"}},
		{`userName pr`, all},
		// externalId: case-exact.
		{`externalId eq "ext-b2"`, []string{"bob"}},
		{`externalId eq "EXT-B2"`, nil},
		{`externalid eq "EXT-C3"`, []string{"carol"}},
		{`externalId ne "ext-b2"`, []string{"alice", "carol", "dave", "eve"}},
		{`externalId co "C3"`, []string{"carol"}},
		{`externalId co "c3"`, nil},
		{`externalId sw "ext-"`, []string{"alice", "bob", "eve"}},
		{`externalId ew "5"`, []string{"eve"}},
		{`externalId gt "ext-b"`, []string{"bob", "eve"}},
		{`externalId le "ext-b2"`, []string{"alice", "bob", "carol"}},
		{`externalId pr`, []string{"alice", "bob", "carol", "eve"}},
		{`not (externalId pr)`, []string{"dave"}},
		// id: case-exact.
		{`id eq "id-carol"`, []string{"carol"}},
		{`id eq "ID-CAROL"`, nil},
		{`id ne "id-carol"`, []string{"alice", "bob", "dave", "eve"}},
		{`id sw "id-"`, all},
		{`id ew "e"`, []string{"alice", "dave", "eve"}},
		{`id co "-b"`, []string{"bob"}},
		{`id gt "id-d"`, []string{"dave", "eve"}},
		{`id pr`, all},
		// displayName: case-insensitive.
		{`displayName eq "alice archer"`, []string{"alice"}},
		{`displayName eq "EVE"`, []string{"eve"}},
		{`displayName sw "b"`, []string{"bob"}},
		{`displayName ew "ER"`, []string{"alice", "bob"}},
		{`displayName co "O"`, []string{"bob", "carol"}},
		{`displayName lt "b"`, []string{"alice"}}, // dave has none
		{`displayName pr`, []string{"alice", "bob", "carol", "eve"}},
		// active.
		{`active eq true`, []string{"alice", "carol", "dave", "eve"}},
		{`active eq false`, []string{"bob"}},
		{`active ne true`, []string{"bob"}},
		{`active pr`, all},
		// and, or, not, precedence.
		{`active eq true and userName sw "c"`, []string{"carol"}},
		{`userName eq "eve" or userName eq "bob.builder"`, []string{"bob", "eve"}},
		{`not (userName eq "eve" or active eq false)`, []string{"alice", "carol", "dave"}},
		{`(userName sw "a" or userName sw "b") and active eq true`, []string{"alice"}},
		{`userName sw "a" or userName sw "b" and active eq true`, []string{"alice"}},
		{`userName sw "e" or userName sw "b" and active eq false`, []string{"bob", "eve"}},
		{`not (not (active eq false))`, []string{"bob"}},
		// meta.
		{fmt.Sprintf(`meta.created gt %q`, at(90*time.Second)), []string{"carol", "dave", "eve"}},
		{fmt.Sprintf(`meta.created ge %q`, at(2*time.Minute)), []string{"carol", "dave", "eve"}},
		{fmt.Sprintf(`meta.created gt %q`, at(2*time.Minute)), []string{"dave", "eve"}},
		{fmt.Sprintf(`meta.created lt %q`, at(time.Minute)), []string{"alice"}},
		{fmt.Sprintf(`meta.created le %q`, at(time.Minute)), []string{"alice", "bob"}},
		{fmt.Sprintf(`meta.created eq %q`, at(time.Minute)), []string{"bob"}},
		{fmt.Sprintf(`meta.created eq %q`, t0.Add(time.Minute).In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano)), []string{"bob"}},
		{fmt.Sprintf(`meta.created ge %q`, at(time.Minute+time.Microsecond)), []string{"carol", "dave", "eve"}},
		{fmt.Sprintf(`meta.created le %q`, at(time.Minute+time.Microsecond)), []string{"alice", "bob"}},
		{fmt.Sprintf(`meta.created eq %q`, at(time.Minute+time.Microsecond)), nil},
		{fmt.Sprintf(`meta.lastModified gt %q`, at(time.Hour+3*time.Minute-time.Millisecond)), []string{"dave", "eve"}},
		{fmt.Sprintf(`urn:ietf:params:scim:schemas:core:2.0:User:meta.created lt %q`, at(time.Minute)), []string{"alice"}},
		// Attributes kept only in the resource, case-insensitive.
		{`name.familyName eq "archer"`, []string{"alice"}},
		{`name.familyName eq "müller"`, []string{"carol"}},
		{`name.FAMILYNAME co "UIL"`, []string{"bob"}},
		{`name.givenName pr`, []string{"alice"}},
		{`name pr`, []string{"alice", "bob", "carol"}},
		{`not (name.familyName eq "archer")`, []string{"bob", "carol", "dave", "eve"}},
		{`name.familyName ne "archer"`, []string{"bob", "carol", "dave", "eve"}},
		{`name.familyName gt "c"`, []string{"carol"}},
		{`title eq "ENGINEER"`, []string{"alice"}},
		{`title pr`, []string{"alice"}},
		{`emails[type eq "work" and value co "@x"]`, []string{"carol", "eve"}},
		{`emails[type eq "work" and value co "@x.test"] or userName eq "dave*[x]?"`, []string{"carol", "dave", "eve"}},
		{`emails.type eq "work" and emails.value co "@x.test"`, []string{"bob", "carol", "eve"}},
		{`emails.value co "@X.TEST"`, []string{"bob", "carol", "eve"}},
		{`emails co "home"`, []string{"alice"}},
		{`emails eq "bob@work.test"`, []string{"bob"}},
		{`emails[type eq "home"]`, []string{"alice", "bob"}},
		{`emails[not (type eq "work")]`, []string{"alice", "bob"}},
		{`emails[primary eq true]`, []string{"alice"}},
		{`emails pr`, []string{"alice", "bob", "carol", "eve"}},
		{`not (emails pr)`, []string{"dave"}},
		{enterprise + `:department eq "r&d"`, []string{"alice"}},
		{enterprise + `:department pr`, []string{"alice", "carol"}},
		{enterprise + `:manager.value eq "MGR-1"`, []string{"alice"}},
		{enterprise + `:employeeNumber sw "10"`, []string{"alice"}},
		// groups, from the memberships.
		{fmt.Sprintf(`groups.value eq %q`, f.groups["eng"].ID), []string{"alice", "carol"}},
		{fmt.Sprintf(`groups eq %q`, f.groups["admins"].ID), []string{"alice"}},
		{`groups[display eq "ADMINS"]`, []string{"alice"}},
		{`groups.display sw "eng"`, []string{"alice", "carol"}},
		{`groups pr`, []string{"alice", "carol"}},
		{`not (groups pr)`, []string{"bob", "dave", "eve"}},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			t.Parallel()
			users, total, err := s.FindUsers(ctx(t), f.p.ID, directory.Query{Filter: parse(t, tc.filter), StartIndex: 1, Count: 100})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range users {
				got = append(got, strings.TrimPrefix(u.ID, "id-"))
			}
			if !slices.Equal(got, tc.want) || total != len(tc.want) {
				t.Errorf("got %v (total %d), want %v", got, total, tc.want)
			}
		})
	}
}

func testGroupFilters(t *testing.T, s directory.Store) {
	f := newFilterFixture(t, s)
	ids := map[string]string{}
	for short, g := range f.groups {
		ids[g.ID] = short
	}
	cases := []struct {
		filter string
		want   []string
	}{
		{`displayName eq "engineering"`, []string{"eng"}},
		{`DISPLAYNAME eq "ADMINS"`, []string{"admins"}},
		{`urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "Admins"`, []string{"admins"}},
		{`displayName sw "s"`, []string{"sales"}},
		{`displayName co "IN"`, []string{"eng", "admins"}},
		{`displayName ne "admins"`, []string{"eng", "sales"}},
		{`displayName gt "b"`, []string{"eng", "sales"}},
		{fmt.Sprintf(`id eq %q`, f.groups["admins"].ID), []string{"admins"}},
		{`externalId eq "G-1"`, []string{"eng"}},
		{`externalId eq "g-1"`, nil},
		{`externalId pr`, []string{"eng"}},
		{`not (externalId pr)`, []string{"admins", "sales"}},
		{fmt.Sprintf(`members[value eq %q]`, f.users["carol"].ID), []string{"eng"}},
		{fmt.Sprintf(`members.value eq %q`, f.users["alice"].ID), []string{"eng", "admins"}},
		{fmt.Sprintf(`members eq %q`, f.users["alice"].ID), []string{"eng", "admins"}},
		{`members[display eq "CAROL_100%"]`, []string{"eng"}},
		{`members pr`, []string{"eng", "admins"}},
		{`not (members pr)`, []string{"sales"}},
		{fmt.Sprintf(`displayName eq "engineering" and members eq %q`, f.users["carol"].ID), []string{"eng"}},
		{fmt.Sprintf(`meta.created ge %q`, at(0)), []string{"eng", "admins", "sales"}},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			t.Parallel()
			groups, total, err := s.FindGroups(ctx(t), f.p.ID, directory.Query{Filter: parse(t, tc.filter), StartIndex: 1, Count: 100})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, g := range groups {
				got = append(got, ids[g.ID])
			}
			if !slices.Equal(got, tc.want) || total != len(tc.want) {
				t.Errorf("got %v (total %d), want %v", got, total, tc.want)
			}
		})
	}
}

func testInvalidFilters(t *testing.T, s directory.Store) {
	p := newProvider(t, s, "p")
	newUser(t, s, p.ID, "alice")
	userCases := []string{
		`password eq "secret"`,
		`nosuch eq "x"`,
		`name eq "x"`,
		`name.nosuch eq "x"`,
		`userName.sub eq "x"`,
		`userName eq 5`,
		`userName eq true`,
		`userName eq null`,
		`active gt true`,
		`active eq "true"`,
		`active co "t"`,
		`meta.created co "2024"`,
		`meta.created gt "yesterday"`,
		`meta.version eq "W/\"1\""`,
		`urn:example:params:scim:schemas:extension:Foo:2.0:User:bar eq "x"`,
		enterprise + `:nosuch eq "x"`,
		`urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"`,
		`x509Certificates.value eq "x"`,
		`emails[nosuch eq "x"]`,
		`userName[value eq "x"]`,
		`members eq "x"`,
		`userName eq "alice" and nosuch pr`,
		`not (nosuch pr)`,
	}
	groupCases := []string{
		`userName eq "x"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:displayName eq "x"`,
		`members.type eq "User"`,
		`members.nosuch eq "x"`,
		`displayName eq 1`,
	}
	check := func(t *testing.T, err error) {
		t.Helper()
		if directory.ErrorCode(err) != directory.EBADFILTER || directory.ErrorMessage(err) == "" {
			t.Errorf("got %v (%T), want a *directory.Error %s with a message", err, err, directory.EBADFILTER)
		}
	}
	for _, f := range userCases {
		t.Run("Users/"+f, func(t *testing.T) {
			_, _, err := s.FindUsers(ctx(t), p.ID, directory.Query{Filter: parse(t, f), Count: 10})
			check(t, err)
		})
	}
	for _, f := range groupCases {
		t.Run("Groups/"+f, func(t *testing.T) {
			_, _, err := s.FindGroups(ctx(t), p.ID, directory.Query{Filter: parse(t, f), Count: 10})
			check(t, err)
		})
	}
}

func testConcurrentCreates(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	const workers, each = 8, 15
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				u := user(p.ID, fmt.Sprintf("w%d-u%d", w, i))
				err := s.CreateUser(c, u)
				if err == nil && i%3 == 0 {
					err = s.CreateGroup(c, group(p.ID, u.UserName, u))
				}
				if err == nil {
					err = recordSync(c, s, p.ID, t0.Add(time.Duration(w*each+i)*time.Second))
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d concurrent writes failed, first: %v", len(errs), errs[0])
	}
	if n := syncedUsers(t, s, p.ID); n != workers*each {
		t.Errorf("SyncedUsers = %d, want %d", n, workers*each)
	}
	users, total, err := s.FindUsers(c, p.ID, directory.Query{Count: workers * each})
	must(t, err)
	if total != workers*each || len(users) != total {
		t.Errorf("FindUsers: %d users, total %d", len(users), total)
	}
	names := userNames(users)
	sort.Strings(names)
	if len(slices.Compact(names)) != workers*each {
		t.Error("duplicate users")
	}
	got, err := s.FindProviderByID(c, p.ID)
	must(t, err)
	sameTime(t, "LastSyncAt", got.LastSyncAt, t0.Add(time.Duration(workers*each-1)*time.Second))
}
