package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

// Directory-user fields, kept with the users, and the custom fields they
// may hold.

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

// fieldUser is a user of providerID with the given fields.
func fieldUser(t *testing.T, s directory.Store, providerID, userName string, active bool, fields map[string]any) *directory.User {
	t.Helper()
	u := user(providerID, userName)
	u.Resource["active"] = active
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
	// A SCIM list shows no directory fields: FindUsers leaves them out.
	checkFields(t, users[0], nil)
	checkFields(t, users[1], nil)
	users, _, err = s.FindUsers(c, p.ID, directory.Query{Filter: parse(t, `userName eq "alice"`), Count: 1})
	must(t, err)
	checkFields(t, users[0], nil)

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
