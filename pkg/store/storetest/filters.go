package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

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
		res := map[string]any{"userName": sp.userName, "active": sp.active}
		for k, v := range sp.resource {
			res[k] = v
		}
		u := &directory.User{
			ProviderID: f.p.ID, ID: "id-" + sp.short, UserName: sp.userName, ExternalID: sp.externalID,
			DisplayName: sp.displayName, Resource: res,
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
