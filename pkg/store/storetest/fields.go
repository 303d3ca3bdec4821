package storetest

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
)

// The FieldStore part of the suite: directory-user fields kept with the
// users, custom fields, mappings, re-derivation and the directory-user
// lookups across providers.

// checkFields fails t unless u.Fields is not nil and holds want (nil
// meaning none), compared as JSON: numbers come back as float64.
func checkFields(t *testing.T, u *directory.User, want map[string]any) {
	t.Helper()
	if u.Fields == nil {
		t.Errorf("Fields of %s is nil, want a map", u.UserName)
	}
	if want == nil {
		want = map[string]any{}
	}
	if g, w := jsonText(t, u.Fields), jsonText(t, want); g != w {
		t.Errorf("Fields of %s = %s, want %s", u.UserName, g, w)
	}
}

// keepFields is a derive function that changes nothing.
func keepFields(u *directory.User) (map[string]any, error) { return u.Fields, nil }

func newField(t *testing.T, s directory.Store, name string) *directory.CustomField {
	t.Helper()
	f := &directory.CustomField{Name: name, Created: t0}
	must(t, s.CreateCustomField(ctx(t), f))
	return f
}

func mappingList(ms []*directory.Mapping) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.SCIMPath+" → "+m.Field)
		if m.Required {
			s = append(s, "(required)")
		}
	}
	return s
}

func setMappings(t *testing.T, s directory.Store, providerID string, ms ...directory.Mapping) {
	t.Helper()
	var ptrs []*directory.Mapping
	for _, m := range ms {
		ptrs = append(ptrs, &m)
	}
	_, err := s.ReplaceMappings(ctx(t), providerID, ptrs, keepFields)
	must(t, err)
}

func checkMappings(t *testing.T, s directory.Store, providerID string, want ...directory.Mapping) {
	t.Helper()
	got, err := s.FindMappings(ctx(t), providerID)
	must(t, err)
	var w []*directory.Mapping
	for _, m := range want {
		w = append(w, &m)
	}
	if g, w := mappingList(got), mappingList(w); !slices.Equal(g, w) {
		t.Errorf("mappings = %v, want %v", g, w)
	}
}

// fieldUser is a user of providerID with the given fields.
func fieldUser(t *testing.T, s directory.Store, providerID, userName string, active bool, fields map[string]any) *directory.User {
	t.Helper()
	u := user(providerID, userName)
	u.Active = active
	u.Fields = fields
	must(t, s.CreateUser(ctx(t), u))
	return u
}

func testUserFields(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "okta")
	alice := user(p.ID, "alice")
	alice.Fields = map[string]any{
		directory.FieldEmail: "Alice@Example.com", directory.FieldName: "Alice", directory.FieldDisabled: false,
		"Employee Number": 1001, "Manager": "bob", "Ünïcode": "ß",
	}
	must(t, s.CreateUser(c, alice))
	got, err := s.FindUserByID(c, p.ID, alice.ID)
	must(t, err)
	checkUser(t, got, alice)
	if d, ok := got.Fields[directory.FieldDisabled].(bool); !ok || d {
		t.Errorf("Disabled = %#v, want false", got.Fields[directory.FieldDisabled])
	}
	if n, ok := got.Fields["Employee Number"].(float64); !ok || n != 1001 {
		t.Errorf("Employee Number = %#v, want 1001 (a JSON number)", got.Fields["Employee Number"])
	}

	// No fields: read back as an empty map, never nil.
	bob := newUser(t, s, p.ID, "bob")
	got, err = s.FindUserByID(c, p.ID, bob.ID)
	must(t, err)
	checkFields(t, got, nil)

	users, _, err := s.FindUsers(c, p.ID, directory.Query{StartIndex: 1, Count: 10})
	must(t, err)
	if len(users) != 2 {
		t.Fatalf("FindUsers: %d users", len(users))
	}
	checkFields(t, users[0], alice.Fields)
	checkFields(t, users[1], nil)
	users, _, err = s.FindUsers(c, p.ID, directory.Query{Filter: parse(t, `userName eq "alice"`), Count: 1})
	must(t, err)
	checkFields(t, users[0], alice.Fields)

	// UpdateUser replaces the fields with the resource.
	got, err = s.FindUserByID(c, p.ID, alice.ID)
	must(t, err)
	got.Fields = map[string]any{directory.FieldEmail: "alice@new.example", directory.FieldDisabled: true}
	got.Resource = map[string]any{"userName": "alice", "title": "Boss"}
	got.LastModified = t0.Add(time.Minute)
	must(t, s.UpdateUser(c, got))
	again, err := s.FindUserByID(c, p.ID, alice.ID)
	must(t, err)
	checkUser(t, again, got)

	// A failed (stale) update writes no fields.
	stale := *again
	stale.Version = 1
	stale.Fields = map[string]any{"Manager": "nobody"}
	wantCode(t, s.UpdateUser(c, &stale), directory.ESTALE)
	now, err := s.FindUserByID(c, p.ID, alice.ID)
	must(t, err)
	checkFields(t, now, got.Fields)

	// Updating with nil fields clears them.
	again.Fields = nil
	must(t, s.UpdateUser(c, again))
	got, err = s.FindUserByID(c, p.ID, alice.ID)
	must(t, err)
	checkFields(t, got, nil)
}

func testCustomFields(t *testing.T, s directory.Store) {
	c := ctx(t)
	fs, err := s.FindCustomFields(c)
	must(t, err)
	if len(fs) != 0 {
		t.Errorf("new store has %d custom fields", len(fs))
	}
	mgr := &directory.CustomField{Name: "Manager", Description: "Who the user reports to", Created: t0}
	must(t, s.CreateCustomField(c, mgr))
	newField(t, s, "department")
	newField(t, s, "Cost Center")
	newField(t, s, "Åsa")

	for _, name := range []string{"MANAGER", "manager", "Department", "cost center", "åSA"} {
		err := s.CreateCustomField(c, &directory.CustomField{Name: name, Created: t0})
		wantCode(t, err, directory.ECONFLICT)
		if msg, want := directory.ErrorMessage(err), `a custom field named "`+name+`" already exists`; msg != want {
			t.Errorf("message = %q, want %q", msg, want)
		}
	}

	fs, err = s.FindCustomFields(c)
	must(t, err)
	var names []string
	for _, f := range fs {
		names = append(names, f.Name)
	}
	// Ordered by name case-insensitively.
	if want := []string{"Cost Center", "department", "Manager", "Åsa"}; !slices.Equal(names, want) {
		t.Errorf("FindCustomFields = %v, want %v", names, want)
	}
	if f := fs[2]; f.Description != mgr.Description {
		t.Errorf("Description = %q, want %q", f.Description, mgr.Description)
	} else {
		sameTime(t, "Created", f.Created, t0)
	}

	wantCode(t, s.DeleteCustomField(c, "nosuch"), directory.ENOTFOUND)
	must(t, s.DeleteCustomField(c, "DEPARTMENT"))
	wantCode(t, s.DeleteCustomField(c, "department"), directory.ENOTFOUND)
	fs, err = s.FindCustomFields(c)
	must(t, err)
	if len(fs) != 3 {
		t.Errorf("%d custom fields after a delete, want 3", len(fs))
	}
	newField(t, s, "Department") // the name is free again
}

func testCustomFieldInUse(t *testing.T, s directory.Store) {
	c := ctx(t)
	okta := newProvider(t, s, "okta")
	entra := newProvider(t, s, "Entra ID")
	newField(t, s, "Manager")
	newField(t, s, "Department")
	manager := directory.Mapping{SCIMPath: enterprise + ":manager.value", Field: "Manager"}
	department := directory.Mapping{SCIMPath: enterprise + ":department", Field: "Department"}
	setMappings(t, s, okta.ID, department, manager)
	setMappings(t, s, entra.ID, department)

	err := s.DeleteCustomField(c, "MANAGER")
	wantCode(t, err, directory.ECONFLICT)
	want := `custom field "Manager" is used by provider okta's mapping ` + enterprise + `:manager.value → Manager: ` +
		`remove that mapping first (kacescim mappings remove --provider okta --field Manager)`
	if msg := directory.ErrorMessage(err); msg != want {
		t.Errorf("message = %q\nwant        %q", msg, want)
	}
	// Several providers: the first by name is named.
	err = s.DeleteCustomField(c, "department")
	wantCode(t, err, directory.ECONFLICT)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, "provider Entra ID's mapping "+department.SCIMPath+" → Department") {
		t.Errorf("message = %q, want it to name provider Entra ID and %s", msg, department.SCIMPath)
	}
	fs, err := s.FindCustomFields(c)
	must(t, err)
	if len(fs) != 2 {
		t.Errorf("%d custom fields after refused deletes, want 2", len(fs))
	}

	// Once the mapping is gone, so may the field be.
	setMappings(t, s, okta.ID, department)
	must(t, s.DeleteCustomField(c, "Manager"))
	wantCode(t, s.DeleteCustomField(c, "Department"), directory.ECONFLICT)
	setMappings(t, s, okta.ID)
	wantCode(t, s.DeleteCustomField(c, "Department"), directory.ECONFLICT) // entra still uses it
	setMappings(t, s, entra.ID)
	must(t, s.DeleteCustomField(c, "Department"))
}

func testMappings(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "okta")
	q := newProvider(t, s, "entra")
	for _, f := range []string{"Manager", "Mobile", "Groups"} {
		newField(t, s, f)
	}
	checkMappings(t, s, p.ID)
	all := []directory.Mapping{
		{SCIMPath: enterprise + ":manager.value", Field: "Manager"},
		{SCIMPath: `phoneNumbers[type eq "mobile"].value`, Field: "Mobile"},
		{SCIMPath: `addresses[type eq "work"].locality`, Field: directory.FieldCity},
		{SCIMPath: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Group:externalId", Field: "Groups"},
		{SCIMPath: `addresses[type eq "work"].country`, Field: directory.FieldCountry},
	}
	setMappings(t, s, p.ID, all...)
	checkMappings(t, s, p.ID, all...) // in the order given
	checkMappings(t, s, q.ID)

	// Replacing replaces the whole list, in the new order.
	setMappings(t, s, p.ID, all[4], all[0], all[2])
	checkMappings(t, s, p.ID, all[4], all[0], all[2])
	setMappings(t, s, q.ID, all[1])
	checkMappings(t, s, q.ID, all[1])
	checkMappings(t, s, p.ID, all[4], all[0], all[2])
	setMappings(t, s, p.ID)
	checkMappings(t, s, p.ID)
	checkMappings(t, s, q.ID, all[1])

	_, err := s.ReplaceMappings(c, uuid.NewString(), []*directory.Mapping{&all[0]}, keepFields)
	wantCode(t, err, directory.ENOTFOUND)
}

func testDeleteProviderCascadesMappings(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "okta")
	keep := newProvider(t, s, "entra")
	newField(t, s, "Manager")
	newField(t, s, "Mobile")
	setMappings(t, s, p.ID, directory.Mapping{SCIMPath: enterprise + ":manager.value", Field: "Manager"})
	setMappings(t, s, keep.ID, directory.Mapping{SCIMPath: `phoneNumbers[type eq "mobile"].value`, Field: "Mobile"})
	wantCode(t, s.DeleteCustomField(c, "Manager"), directory.ECONFLICT)

	must(t, s.DeleteProvider(c, p.ID))
	must(t, s.DeleteCustomField(c, "Manager")) // no mapping uses it any more
	wantCode(t, s.DeleteCustomField(c, "Mobile"), directory.ECONFLICT)
	checkMappings(t, s, keep.ID, directory.Mapping{SCIMPath: `phoneNumbers[type eq "mobile"].value`, Field: "Mobile"})

	p2 := newProvider(t, s, "okta")
	checkMappings(t, s, p2.ID)
}

// department is the enterprise department of a resource, or "".
func department(res map[string]any) string {
	ext, _ := res[enterprise].(map[string]any)
	d, _ := ext["department"].(string)
	return d
}

func testReplaceMappingsRederives(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "okta")
	other := newProvider(t, s, "entra")
	newField(t, s, "Department")
	depts := []string{"R&D", "Sales", "", "R&D", ""}
	var users []*directory.User
	for i, d := range depts {
		u := user(p.ID, "user"+string(rune('0'+i)))
		if d != "" {
			u.Resource[enterprise] = map[string]any{"department": d}
		}
		u.Fields = map[string]any{directory.FieldEmail: u.UserName, "Level": 3}
		if i == 3 {
			u.Fields["Department"] = "R&D" // already derived: unchanged
		}
		u.LastModified = t0.Add(time.Duration(i) * time.Minute)
		must(t, s.CreateUser(c, u))
		users = append(users, u)
	}
	staff := newGroup(t, s, p.ID, "staff", users[1], users[3])
	outsider := fieldUser(t, s, other.ID, "user0", true, map[string]any{"Department": "x"})

	type call struct {
		id     string
		groups []string
		fields string
	}
	var calls []call
	derive := func(u *directory.User) (map[string]any, error) {
		if u.ProviderID != p.ID || u.Resource["userName"] != u.UserName || u.Fields == nil {
			t.Errorf("derive got %+v", u)
		}
		calls = append(calls, call{u.ID, groupRefs(u.Groups), jsonText(t, u.Fields)})
		f := map[string]any{directory.FieldEmail: u.UserName, "Level": 3} // an int; stored, it reads back as float64
		if d := department(u.Resource); d != "" {
			f["Department"] = d
		}
		return f, nil
	}
	mapping := &directory.Mapping{SCIMPath: enterprise + ":department", Field: "Department"}
	n, err := s.ReplaceMappings(c, p.ID, []*directory.Mapping{mapping}, derive)
	must(t, err)
	if n != 2 {
		t.Errorf("changed = %d, want 2 (user0 and user1)", n)
	}
	// derive saw every user, fully loaded, in creation order.
	if len(calls) != len(users) {
		t.Fatalf("derive called %d times, want %d", len(calls), len(users))
	}
	for i, cl := range calls {
		if cl.id != users[i].ID {
			t.Errorf("call %d: user %s, want %s", i, cl.id, users[i].ID)
		}
		wantGroups := []string(nil)
		if i == 1 || i == 3 {
			wantGroups = []string{staff.ID + "=staff"}
		}
		if !slices.Equal(cl.groups, wantGroups) {
			t.Errorf("call %d: groups %v, want %v", i, cl.groups, wantGroups)
		}
		if w := jsonText(t, users[i].Fields); cl.fields != w {
			t.Errorf("call %d: fields %s, want %s", i, cl.fields, w)
		}
	}
	for i, u := range users {
		got, err := s.FindUserByID(c, p.ID, u.ID)
		must(t, err)
		want := map[string]any{directory.FieldEmail: u.UserName, "Level": 3}
		if depts[i] != "" {
			want["Department"] = depts[i]
		}
		checkFields(t, got, want)
		// Re-deriving is not a SCIM change.
		if got.Version != 1 {
			t.Errorf("%s: Version = %d, want 1", u.UserName, got.Version)
		}
		sameTime(t, u.UserName+" LastModified", got.LastModified, u.LastModified)
	}
	got, err := s.FindUserByID(c, other.ID, outsider.ID)
	must(t, err)
	checkFields(t, got, outsider.Fields)

	// The same derivation again changes nothing.
	calls = nil
	n, err = s.ReplaceMappings(c, p.ID, []*directory.Mapping{mapping}, derive)
	must(t, err)
	if n != 0 || len(calls) != len(users) {
		t.Errorf("again: changed = %d (derive called %d times), want 0 (%d)", n, len(calls), len(users))
	}

	// Removing the mapping clears the field where it was set.
	n, err = s.ReplaceMappings(c, p.ID, nil, func(u *directory.User) (map[string]any, error) {
		f := maps.Clone(u.Fields) // derive may start from the stored fields
		delete(f, "Department")
		return f, nil
	})
	must(t, err)
	if n != 3 {
		t.Errorf("after removing the mapping: changed = %d, want 3", n)
	}
	for _, u := range users {
		got, err := s.FindUserByID(c, p.ID, u.ID)
		must(t, err)
		checkFields(t, got, map[string]any{directory.FieldEmail: u.UserName, "Level": 3})
	}
	checkMappings(t, s, p.ID)

	// A derive that edits u.Fields in place and returns it is still seen
	// as a change.
	n, err = s.ReplaceMappings(c, p.ID, nil, func(u *directory.User) (map[string]any, error) {
		u.Fields["Level"] = 4
		return u.Fields, nil
	})
	must(t, err)
	if n != len(users) {
		t.Errorf("in-place derive: changed = %d, want %d", n, len(users))
	}

	// A provider without users.
	n, err = s.ReplaceMappings(c, newProvider(t, s, "empty").ID, []*directory.Mapping{mapping}, derive)
	if err != nil || n != 0 {
		t.Errorf("provider without users: %d, %v", n, err)
	}
}

func testReplaceMappingsRollsBack(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "okta")
	newField(t, s, "Department")
	newField(t, s, "Manager")
	old := directory.Mapping{SCIMPath: enterprise + ":department", Field: "Department"}
	setMappings(t, s, p.ID, old)
	var users []*directory.User
	for i := range 5 {
		users = append(users, fieldUser(t, s, p.ID, "user"+string(rune('0'+i)), true, map[string]any{directory.FieldEmail: "u@x"}))
	}
	check := func() {
		t.Helper()
		checkMappings(t, s, p.ID, old)
		for _, u := range users {
			got, err := s.FindUserByID(c, p.ID, u.ID)
			must(t, err)
			checkFields(t, got, u.Fields)
			if got.Version != 1 {
				t.Errorf("%s: Version = %d", u.UserName, got.Version)
			}
		}
		got, err := s.FindDirectoryUser(c, users[0].ID)
		must(t, err)
		checkFields(t, got, users[0].Fields)
	}

	boom := errors.New("boom")
	calls := 0
	failThird := func(err error) func(u *directory.User) (map[string]any, error) {
		calls = 0
		return func(u *directory.User) (map[string]any, error) {
			calls++
			if calls == 3 && err != nil {
				return nil, err
			}
			// Every user changes: the first two are written before the failure.
			return map[string]any{directory.FieldEmail: "changed-" + u.UserName, "Manager": "m"}, nil
		}
	}
	newMappings := []*directory.Mapping{{SCIMPath: enterprise + ":manager.value", Field: "Manager"}}
	n, err := s.ReplaceMappings(c, p.ID, newMappings, failThird(boom))
	if !errors.Is(err, boom) || n != 0 {
		t.Errorf("got %d, %v; want 0 and the derive error", n, err)
	}
	if calls != 3 {
		t.Errorf("derive called %d times after failing on the 3rd", calls)
	}
	check()
	_, err = s.FindDirectoryUser(c, "changed-user0")
	wantCode(t, err, directory.ENOTFOUND)

	// A domain error keeps its code.
	_, err = s.ReplaceMappings(c, p.ID, newMappings, failThird(directory.Errorf(directory.EINVALID, "bad value")))
	wantCode(t, err, directory.EINVALID)
	if msg := directory.ErrorMessage(err); msg != "bad value" {
		t.Errorf("message = %q", msg)
	}
	check()

	// The store is writable afterwards, and a good run goes through.
	n, err = s.ReplaceMappings(c, p.ID, newMappings, failThird(nil))
	must(t, err)
	if n != len(users) {
		t.Errorf("changed = %d, want %d", n, len(users))
	}
	checkMappings(t, s, p.ID, *newMappings[0])
}

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
		q     directory.DirectoryQuery
		want  []string
		total int
	}{
		{"all", directory.DirectoryQuery{StartIndex: 1, Count: 100}, all, 5},
		{"provider", directory.DirectoryQuery{ProviderID: f.okta.ID, Count: 100}, []string{"alice", "bob", "carol"}, 3},
		{"unknown provider", directory.DirectoryQuery{ProviderID: uuid.NewString(), Count: 100}, nil, 0},
		{"disabled", directory.DirectoryQuery{Disabled: &yes, Count: 100}, []string{"erin", "bob"}, 2},
		{"enabled", directory.DirectoryQuery{Disabled: &no, Count: 100}, []string{"dave", "alice", "carol"}, 3},
		{"field any case", directory.DirectoryQuery{Field: "department", Value: "R&d", Count: 100}, []string{"dave", "alice", "carol"}, 3},
		{"field", directory.DirectoryQuery{Field: "Department", Value: "SALES", Count: 100}, []string{"bob"}, 1},
		{"boolean field", directory.DirectoryQuery{Field: directory.FieldDisabled, Value: "TRUE", Count: 100}, []string{"erin", "bob"}, 2},
		{"boolean field false", directory.DirectoryQuery{Field: "disabled", Value: "false", Count: 100}, []string{"dave", "alice", "carol"}, 3},
		{"number field", directory.DirectoryQuery{Field: "Level", Value: "7", Count: 100}, []string{"carol"}, 1},
		{"email", directory.DirectoryQuery{Field: directory.FieldEmail, Value: "BOB@example.COM", Count: 100}, []string{"bob"}, 1},
		{"no such field", directory.DirectoryQuery{Field: "Nosuch", Value: "x", Count: 100}, nil, 0},
		{"no such value", directory.DirectoryQuery{Field: "Department", Value: "R", Count: 100}, nil, 0},
		{"in group", directory.DirectoryQuery{InGroup: "ENGINEERING", Count: 100}, []string{"dave", "alice", "carol"}, 3},
		{"in group of provider", directory.DirectoryQuery{ProviderID: f.okta.ID, InGroup: "engineering", Count: 100}, []string{"alice", "carol"}, 2},
		{"in no group", directory.DirectoryQuery{InGroup: "nosuch", Count: 100}, nil, 0},
		{"combined", directory.DirectoryQuery{ProviderID: f.okta.ID, Disabled: &no, Field: "Department", Value: "r&d", Count: 100}, []string{"alice", "carol"}, 2},
		{"combined with group", directory.DirectoryQuery{Disabled: &yes, InGroup: "sales", Count: 100}, []string{"bob"}, 1},
		{"page", directory.DirectoryQuery{StartIndex: 2, Count: 2}, []string{"erin", "alice"}, 5},
		{"last page", directory.DirectoryQuery{StartIndex: 5, Count: 2}, []string{"carol"}, 5},
		{"past the end", directory.DirectoryQuery{StartIndex: 6, Count: 2}, nil, 5},
		{"count 0", directory.DirectoryQuery{StartIndex: 1, Count: 0}, nil, 5},
		{"start 0", directory.DirectoryQuery{StartIndex: 0, Count: 1}, []string{"dave"}, 5},
		{"filtered page", directory.DirectoryQuery{Disabled: &no, StartIndex: 2, Count: 1}, []string{"alice"}, 3},
		{"provider page", directory.DirectoryQuery{ProviderID: f.okta.ID, StartIndex: 3, Count: 5}, []string{"carol"}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			users, total, err := s.FindDirectoryUsers(ctx(t), tc.q)
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
	users, _, err := s.FindDirectoryUsers(ctx(t), directory.DirectoryQuery{Count: 100})
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
		got, err := s.FindDirectoryUser(c, key)
		if err != nil {
			t.Errorf("FindDirectoryUser(%q): %v", key, err)
			return
		}
		if got.ID != want.ID || got.ProviderID != want.ProviderID || got.UserName != want.UserName {
			t.Errorf("FindDirectoryUser(%q) = %s of %s, want %s of %s", key, got.UserName, got.ProviderID, want.UserName, want.ProviderID)
		}
	}
	got, err := s.FindDirectoryUser(c, alice.ID)
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
		_, err := s.FindDirectoryUser(c, key)
		wantCode(t, err, directory.ENOTFOUND)
	}

	// The same email under two providers.
	fieldUser(t, s, f.entra.ID, "alice", true, map[string]any{directory.FieldEmail: "ALICE@example.com"})
	_, err = s.FindDirectoryUser(c, "alice@example.com")
	wantCode(t, err, directory.ECONFLICT)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, "okta") || !strings.Contains(msg, "Entra") {
		t.Errorf("message %q does not name both providers", msg)
	}
	check(alice.ID, alice) // the id still tells them apart

	// The same id under two providers.
	twin := user(f.entra.ID, "twin")
	twin.ID = alice.ID
	must(t, s.CreateUser(c, twin))
	_, err = s.FindDirectoryUser(c, alice.ID)
	wantCode(t, err, directory.ECONFLICT)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, "okta") || !strings.Contains(msg, "Entra") {
		t.Errorf("message %q does not name both providers", msg)
	}

	// The email follows the fields: UpdateUser ...
	bob, err := s.FindUserByID(c, f.okta.ID, f.users["bob"].ID)
	must(t, err)
	bob.Fields = map[string]any{directory.FieldEmail: "Robert@Example.org"}
	must(t, s.UpdateUser(c, bob))
	_, err = s.FindDirectoryUser(c, "bob@example.com")
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
	_, err = s.FindDirectoryUser(c, "robert@example.org")
	wantCode(t, err, directory.ENOTFOUND)
	check("BOBBY@example.org", bob)

	// Case-insensitive beyond ASCII; a user without an Email only by id.
	asa := fieldUser(t, s, f.okta.ID, "asa", true, map[string]any{directory.FieldEmail: "ÅSA@Example.com"})
	check("åsa@example.com", asa)
	plain := fieldUser(t, s, f.okta.ID, "plain", true, nil)
	check(plain.ID, plain)
	_, err = s.FindDirectoryUser(c, "plain")
	wantCode(t, err, directory.ENOTFOUND)

	must(t, s.DeleteUser(c, f.okta.ID, asa.ID))
	_, err = s.FindDirectoryUser(c, "åsa@example.com")
	wantCode(t, err, directory.ENOTFOUND)
}
