package storetest

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
)

// Mappings from SCIM attributes to custom fields: replacing a provider's
// mappings, which re-derives its users' fields in the same transaction or
// not at all, and what deleting a provider removes.

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
		got, err := s.FindEntry(c, users[0].ID)
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
	_, err = s.FindEntry(c, "changed-user0")
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
