package storetest

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
)

// The directory view of users: the lookups across every provider.

// directoryFixture is two providers, okta and Entra (which sorts first),
// whose users were created interleaved, with Fields, groups of the same
// name under both, and a group of their own.
type directoryFixture struct {
	okta, entra *directory.Provider
	users       map[string]*directory.User
	short       map[string]string // user ID → short name
}

func newDirectoryFixture(t *testing.T, s directory.Store) *directoryFixture {
	f := &directoryFixture{
		okta:  newProvider(t, s, "okta"),
		entra: newProvider(t, s, "Entra"),
		users: map[string]*directory.User{}, short: map[string]string{},
	}
	specs := []struct {
		short    string
		provider *directory.Provider
		active   bool
		dept     string
	}{
		{"alice", f.okta, true, "R&D"},
		{"dave", f.entra, true, "R&D"},
		{"bob", f.okta, false, "Sales"},
		{"erin", f.entra, false, ""},
		{"carol", f.okta, true, "r&d"},
	}
	for _, sp := range specs {
		fields := map[string]any{directory.FieldEmail: sp.short + "@Example.com", directory.FieldDisabled: !sp.active}
		if sp.dept != "" {
			fields["Department"] = sp.dept
		}
		if sp.short == "carol" {
			fields["Level"] = 7
		}
		u := fieldUser(t, s, sp.provider.ID, sp.short, sp.active, fields)
		f.users[sp.short] = u
		f.short[u.ID] = sp.short
	}
	newGroup(t, s, f.okta.ID, "Engineering", f.users["alice"], f.users["carol"])
	newGroup(t, s, f.entra.ID, "engineering", f.users["dave"])
	newGroup(t, s, f.okta.ID, "Sales", f.users["bob"])
	return f
}

func testDirectoryUsers(t *testing.T, s directory.Store) {
	f := newDirectoryFixture(t, s)
	yes, no := true, false
	all := []string{"dave", "erin", "alice", "bob", "carol"} // Entra's users, then okta's, each in creation order
	cases := []struct {
		name  string
		q     directory.EntryQuery
		want  []string
		total int
	}{
		{"all", directory.EntryQuery{StartIndex: 1, Count: 100}, all, 5},
		{"provider", directory.EntryQuery{ProviderID: f.okta.ID, Count: 100}, []string{"alice", "bob", "carol"}, 3},
		{"unknown provider", directory.EntryQuery{ProviderID: uuid.NewString(), Count: 100}, nil, 0},
		{"disabled", directory.EntryQuery{Disabled: &yes, Count: 100}, []string{"erin", "bob"}, 2},
		{"enabled", directory.EntryQuery{Disabled: &no, Count: 100}, []string{"dave", "alice", "carol"}, 3},
		{"field any case", directory.EntryQuery{Field: "department", Value: "R&d", Count: 100}, []string{"dave", "alice", "carol"}, 3},
		{"field", directory.EntryQuery{Field: "Department", Value: "SALES", Count: 100}, []string{"bob"}, 1},
		{"boolean field", directory.EntryQuery{Field: directory.FieldDisabled, Value: "TRUE", Count: 100}, []string{"erin", "bob"}, 2},
		{"boolean field false", directory.EntryQuery{Field: "disabled", Value: "false", Count: 100}, []string{"dave", "alice", "carol"}, 3},
		{"number field", directory.EntryQuery{Field: "Level", Value: "7", Count: 100}, []string{"carol"}, 1},
		{"email", directory.EntryQuery{Field: directory.FieldEmail, Value: "BOB@example.COM", Count: 100}, []string{"bob"}, 1},
		{"no such field", directory.EntryQuery{Field: "Nosuch", Value: "x", Count: 100}, nil, 0},
		{"no such value", directory.EntryQuery{Field: "Department", Value: "R", Count: 100}, nil, 0},
		{"in group", directory.EntryQuery{InGroup: "ENGINEERING", Count: 100}, []string{"dave", "alice", "carol"}, 3},
		{"in group of provider", directory.EntryQuery{ProviderID: f.okta.ID, InGroup: "engineering", Count: 100}, []string{"alice", "carol"}, 2},
		{"in no group", directory.EntryQuery{InGroup: "nosuch", Count: 100}, nil, 0},
		{"combined", directory.EntryQuery{ProviderID: f.okta.ID, Disabled: &no, Field: "Department", Value: "r&d", Count: 100}, []string{"alice", "carol"}, 2},
		{"combined with group", directory.EntryQuery{Disabled: &yes, InGroup: "sales", Count: 100}, []string{"bob"}, 1},
		{"page", directory.EntryQuery{StartIndex: 2, Count: 2}, []string{"erin", "alice"}, 5},
		{"last page", directory.EntryQuery{StartIndex: 5, Count: 2}, []string{"carol"}, 5},
		{"past the end", directory.EntryQuery{StartIndex: 6, Count: 2}, nil, 5},
		{"count 0", directory.EntryQuery{StartIndex: 1, Count: 0}, nil, 5},
		{"start 0", directory.EntryQuery{StartIndex: 0, Count: 1}, []string{"dave"}, 5},
		{"filtered page", directory.EntryQuery{Disabled: &no, StartIndex: 2, Count: 1}, []string{"alice"}, 3},
		{"provider page", directory.EntryQuery{ProviderID: f.okta.ID, StartIndex: 3, Count: 5}, []string{"carol"}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			users, total, err := s.FindEntries(ctx(t), tc.q)
			must(t, err)
			var got []string
			for _, u := range users {
				got = append(got, f.short[u.ID])
			}
			if !slices.Equal(got, tc.want) || total != tc.total {
				t.Errorf("got %v (total %d), want %v (total %d)", got, total, tc.want, tc.total)
			}
		})
	}

	// Users come with their provider, fields and groups.
	users, _, err := s.FindEntries(ctx(t), directory.EntryQuery{Count: 100})
	must(t, err)
	groups := map[string]int{"alice": 1, "bob": 1, "carol": 1, "dave": 1, "erin": 0}
	for _, u := range users {
		short := f.short[u.ID]
		want := f.users[short]
		if u.ProviderID != want.ProviderID || u.UserName != want.UserName || u.Version != 1 {
			t.Errorf("%s: %+v", short, u)
		}
		checkFields(t, u, want.Fields)
		if len(u.Groups) != groups[short] {
			t.Errorf("%s: groups %v", short, u.Groups)
		}
	}
}

func testDirectoryUser(t *testing.T, s directory.Store) {
	c := ctx(t)
	f := newDirectoryFixture(t, s)
	alice := f.users["alice"]

	check := func(key string, want *directory.User) {
		t.Helper()
		got, err := s.FindEntry(c, key)
		if err != nil {
			t.Errorf("FindEntry(%q): %v", key, err)
			return
		}
		if got.ID != want.ID || got.ProviderID != want.ProviderID || got.UserName != want.UserName {
			t.Errorf("FindEntry(%q) = %s of %s, want %s of %s", key, got.UserName, got.ProviderID, want.UserName, want.ProviderID)
		}
	}
	got, err := s.FindEntry(c, alice.ID)
	must(t, err)
	checkUser(t, got, alice)
	if g := groupRefs(got.Groups); len(g) != 1 || !strings.HasSuffix(g[0], "=Engineering") {
		t.Errorf("groups = %v", g)
	}
	check("alice@example.com", alice)
	check("ALICE@EXAMPLE.COM", alice)
	check("Alice@Example.com", alice)
	check(f.users["erin"].ID, f.users["erin"])
	check("erin@example.COM", f.users["erin"])

	for _, key := range []string{"nobody", "", "alice", "alice@example"} {
		_, err := s.FindEntry(c, key)
		wantCode(t, err, directory.ENOTFOUND)
	}

	// The same email under two providers.
	fieldUser(t, s, f.entra.ID, "alice", true, map[string]any{directory.FieldEmail: "ALICE@example.com"})
	_, err = s.FindEntry(c, "alice@example.com")
	wantCode(t, err, directory.ECONFLICT)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, "okta") || !strings.Contains(msg, "Entra") {
		t.Errorf("message %q does not name both providers", msg)
	}
	check(alice.ID, alice) // the id still tells them apart

	// The same id under two providers.
	twin := user(f.entra.ID, "twin")
	twin.ID = alice.ID
	must(t, s.CreateUser(c, twin))
	_, err = s.FindEntry(c, alice.ID)
	wantCode(t, err, directory.ECONFLICT)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, "okta") || !strings.Contains(msg, "Entra") {
		t.Errorf("message %q does not name both providers", msg)
	}

	// The email follows the fields: UpdateUser ...
	bob, err := s.FindUserByID(c, f.okta.ID, f.users["bob"].ID)
	must(t, err)
	bob.Fields = map[string]any{directory.FieldEmail: "Robert@Example.org"}
	must(t, s.UpdateUser(c, bob))
	_, err = s.FindEntry(c, "bob@example.com")
	wantCode(t, err, directory.ENOTFOUND)
	check("robert@example.ORG", bob)
	// ... and ReplaceMappings.
	_, err = s.ReplaceMappings(c, f.okta.ID, nil, func(u *directory.User) (map[string]any, error) {
		fs := maps.Clone(u.Fields)
		if u.ID == bob.ID {
			fs[directory.FieldEmail] = "Bobby@Example.org"
		}
		return fs, nil
	})
	must(t, err)
	_, err = s.FindEntry(c, "robert@example.org")
	wantCode(t, err, directory.ENOTFOUND)
	check("BOBBY@example.org", bob)

	// Case-insensitive beyond ASCII; a user without an Email only by id.
	asa := fieldUser(t, s, f.okta.ID, "asa", true, map[string]any{directory.FieldEmail: "ÅSA@Example.com"})
	check("åsa@example.com", asa)
	plain := fieldUser(t, s, f.okta.ID, "plain", true, nil)
	check(plain.ID, plain)
	_, err = s.FindEntry(c, "plain")
	wantCode(t, err, directory.ENOTFOUND)

	must(t, s.DeleteUser(c, f.okta.ID, asa.ID))
	_, err = s.FindEntry(c, "åsa@example.com")
	wantCode(t, err, directory.ENOTFOUND)
}
