package storetest

import (
	"context"
	"encoding/json"
	"slices"
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
		{"ProviderKeys", testProviderKeys},
		{"OAuth", testOAuth},
		{"Federation", testFederation},
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
		{"RequestLogBatch", testRequestLogBatch},
		{"RequestLogBySize", testRequestLogBySize},
		{"Events", testEvents},
		{"Webhooks", testWebhooks},
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
		ProviderID: providerID, ID: uuid.NewString(), UserName: userName,
		Resource: map[string]any{"userName": userName, "active": true}, Created: t0, LastModified: t0,
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
	if got.ID != want.ID || got.Name != want.Name || got.Enabled != want.Enabled || got.SyncedUsers != want.SyncedUsers {
		t.Errorf("provider = %+v, want %+v", got, want)
	}
	if len(got.Keys) != len(want.Keys) {
		t.Errorf("provider %s has %d keys, want %d", want.Name, len(got.Keys), len(want.Keys))
	} else {
		for i, k := range want.Keys {
			g := got.Keys[i]
			if g.ID != k.ID || string(g.Hash) != string(k.Hash) || g.Hint != k.Hint {
				t.Errorf("key %d = %s %x %q, want %s %x %q", i, g.ID, g.Hash, g.Hint, k.ID, k.Hash, k.Hint)
			}
			for _, tt := range []struct {
				what      string
				got, want time.Time
			}{{"Created", g.Created, k.Created}, {"Expires", g.Expires, k.Expires}, {"Replaced", g.Replaced, k.Replaced}, {"LastUsed", g.LastUsed, k.LastUsed}} {
				if tt.got.IsZero() != tt.want.IsZero() || (!tt.want.IsZero() && !tt.got.Equal(tt.want)) || (!tt.got.IsZero() && tt.got.Location() != time.UTC) {
					t.Errorf("key %s %s = %v, want %v in UTC", k.ID, tt.what, tt.got, tt.want)
				}
			}
		}
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
		got.ExternalID != want.ExternalID || got.DisplayName != want.DisplayName || got.Active() != want.Active() ||
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

func parse(t *testing.T, f string) filter.Expression {
	t.Helper()
	e, err := filter.ParseFilter([]byte(f))
	if err != nil {
		t.Fatalf("parse %s: %v", f, err)
	}
	return e
}

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
