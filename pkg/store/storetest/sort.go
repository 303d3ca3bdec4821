package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// customURN is an extension a mapping could declare: the store knows
// nothing of it but what Query.SortBy says.
const customURN = "urn:kace:params:scim:schemas:extension:kace:2.0:User"

// sortRow is one resource of the sort fixtures and the values it sorts by:
// nil for none.
type sortRow struct {
	name string         // userName or displayName, what the test compares
	seq  int            // creation order
	keys map[string]any // sort path → string (already folded when not caseExact), int64 or bool
}

// wantOrder is the order Query.SortBy promises for path: resources with a
// value by value, those without one last ascending and first descending,
// ties in creation order both ways.
func wantOrder(rows []sortRow, path string, desc bool) []string {
	sorted := slices.Clone(rows)
	slices.SortStableFunc(sorted, func(a, b sortRow) int {
		x, y := a.keys[path], b.keys[path]
		switch {
		case x == nil && y == nil:
			return cmp.Compare(a.seq, b.seq)
		case x == nil && desc, y == nil && !desc:
			return -1
		case x == nil, y == nil:
			return 1
		}
		c := compareKeys(x, y)
		if desc {
			c = -c
		}
		if c == 0 {
			return cmp.Compare(a.seq, b.seq)
		}
		return c
	})
	names := make([]string, len(sorted))
	for i, r := range sorted {
		names[i] = r.name
	}
	return names
}

func compareKeys(x, y any) int {
	switch x := x.(type) {
	case string:
		return strings.Compare(x, y.(string))
	case int64:
		return cmp.Compare(x, y.(int64))
	case bool:
		switch {
		case x == y.(bool):
			return 0
		case x:
			return 1
		}
		return -1
	}
	panic(fmt.Sprintf("key of type %T", x))
}

// pageAll reads every page of size n of the query through find and
// returns the names in the order the pages gave them.
func pageAll(t *testing.T, total int, n int, find func(q directory.Query) ([]string, int, error), q directory.Query) []string {
	t.Helper()
	var got []string
	for start := 1; start <= total; start += n {
		q.StartIndex, q.Count = start, n
		names, tot, err := find(q)
		if err != nil {
			t.Fatalf("sortBy %q (descending %v), startIndex %d: %v", q.SortBy, q.SortDescending, start, err)
		}
		if tot != total {
			t.Errorf("sortBy %q: total %d, want %d", q.SortBy, tot, total)
		}
		got = append(got, names...)
	}
	return got
}

// sortUser is one user of testSortUsers.
type sortUser struct {
	userName, displayName, externalID string
	created, modified                 int // seconds after t0
	active                            bool
	familyName                        any // nil: no name at all
	emails                            []any
	employeeNumber, costCenter        string
}

func testSortUsers(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	other := newProvider(t, s, "other")
	email := func(value string, primary bool) any {
		m := map[string]any{"value": value, "type": "work"}
		if primary {
			m["primary"] = true
		}
		return m
	}
	fixture := []sortUser{
		{"carol", "Zed", "x3", 5, 50, true, "Smith", []any{email("c@EXAMPLE.com", false)}, "E10", "cc-b"},
		{"Alice", "", "", 3, 20, false, "jones", []any{email("z@example.com", false), email("a@example.com", true)}, "", ""},
		{"bob", "alpha", "X1", 3, 20, true, nil, nil, "e2", "CC-A"},
		{"alice2", "Alpha", "x2", 9, 10, true, "", []any{email("", true), email("b@example.com", false)}, "E1", ""},
		{"Dave", "beta", "", 1, 60, false, "Écrivain", []any{email("D@example.com", false), email("0@example.com", false)}, "", "cc-c"},
		{"eve", "", "x10", 7, 30, true, "adams", nil, "e3", ""},
		{"Frank", "Zed", "x3", 7, 30, true, "Smith", []any{email("f@example.com", false)}, "", "cc-a"},
		{"grace", "gamma", "", 2, 5, false, "SMITH", nil, "E2", ""},
		{"Heidi", "Beta", "X1", 0, 70, true, nil, []any{email("h@example.com", true)}, "", ""},
		{"ivan", "", "", 4, 40, true, "Zimmer", nil, "", ""},
		{"Judy", "delta", "x2", 6, 40, false, "Adams", []any{email("J@example.com", true)}, "e2", "cc-b"},
		{"mallory", "zed", "", 8, 15, true, "", nil, "", ""},
		{"Oscar", "Épée", "x9", 3, 80, true, "ÉCRIVAIN", []any{email("c@example.com", false)}, "E10", "cc-a"},
	}
	enterprise := scim.EnterpriseUserURN
	paths := []string{"userName", "displayName", "externalId", "id", "meta.created", "meta.lastModified", "active",
		"name.familyName", "emails.value", "emails.type", enterprise + ":employeeNumber", customURN + ":costCenter"}
	var rows []sortRow
	str := func(v string, fold bool) any {
		if v == "" {
			return nil
		}
		if fold {
			return strings.ToLower(v)
		}
		return v
	}
	for i, f := range fixture {
		u := user(p.ID, f.userName)
		u.DisplayName, u.ExternalID, u.Resource["active"] = f.displayName, f.externalID, f.active
		u.Created = t0.Add(time.Duration(f.created) * time.Second)
		u.LastModified = t0.Add(time.Duration(f.modified) * time.Second)
		if f.familyName != nil {
			u.Resource["name"] = map[string]any{"familyName": f.familyName, "givenName": "x"}
		}
		if f.emails != nil {
			u.Resource["emails"] = f.emails
		}
		if f.employeeNumber != "" {
			u.Resource[enterprise] = map[string]any{"employeeNumber": f.employeeNumber}
		}
		if f.costCenter != "" {
			u.Resource[customURN] = map[string]any{"costCenter": f.costCenter}
		}
		must(t, s.CreateUser(c, u))
		// Another provider's users never show in the pages.
		newUser(t, s, other.ID, f.userName)

		keys := map[string]any{
			"userName":                     strings.ToLower(f.userName),
			"displayName":                  str(f.displayName, true),
			"externalId":                   str(f.externalID, false),
			"id":                           u.ID,
			"meta.created":                 int64(f.created),
			"meta.lastModified":            int64(f.modified),
			"active":                       f.active,
			enterprise + ":employeeNumber": str(f.employeeNumber, true),
			customURN + ":costCenter":      str(f.costCenter, true),
		}
		if fn, _ := f.familyName.(string); fn != "" {
			keys["name.familyName"] = strings.ToLower(fn)
		}
		// The primary email, or else the first.
		if len(f.emails) > 0 {
			e := f.emails[0].(map[string]any)
			for _, x := range f.emails {
				if x.(map[string]any)["primary"] == true {
					e = x.(map[string]any)
					break
				}
			}
			keys["emails.value"] = str(e["value"].(string), true)
			keys["emails.type"] = str(e["type"].(string), true)
		}
		for k, v := range keys {
			if v == nil {
				delete(keys, k)
			}
		}
		rows = append(rows, sortRow{name: f.userName, seq: i, keys: keys})
	}
	find := func(q directory.Query) ([]string, int, error) {
		us, total, err := s.FindUsers(c, p.ID, q)
		return userNames(us), total, err
	}
	for _, path := range paths {
		for _, desc := range []bool{false, true} {
			want := wantOrder(rows, path, desc)
			// One page, pages of 4 and pages of 1 give the same order.
			for _, n := range []int{len(rows), 4, 1} {
				got := pageAll(t, len(rows), n, find, directory.Query{SortBy: path, SortDescending: desc})
				if !slices.Equal(got, want) {
					t.Errorf("sortBy %s descending %v, pages of %d:\n got %v\nwant %v", path, desc, n, got, want)
				}
			}
		}
	}

	// The path is matched case-insensitively, URN-qualified core paths too.
	for spelling, canonical := range map[string]string{
		"USERNAME":                 "userName",
		scim.UserURN + ":userName": "userName",
		"Name.FamilyName":          "name.familyName",
		"EMAILS":                   "emails.value",
		strings.ToUpper(enterprise) + ":EMPLOYEENUMBER": enterprise + ":employeeNumber",
	} {
		got := pageAll(t, len(rows), 5, find, directory.Query{SortBy: spelling})
		if want := wantOrder(rows, canonical, false); !slices.Equal(got, want) {
			t.Errorf("sortBy %s:\n got %v\nwant %v", spelling, got, want)
		}
	}

	// A filter and a sort: the matching users only, in order.
	active := parse(t, `active eq true`)
	var activeRows []sortRow
	for _, r := range rows {
		if r.keys["active"] == true {
			activeRows = append(activeRows, r)
		}
	}
	got := pageAll(t, len(activeRows), 3, find, directory.Query{Filter: active, SortBy: "displayName", SortDescending: true})
	if want := wantOrder(activeRows, "displayName", true); !slices.Equal(got, want) {
		t.Errorf("active users by displayName descending:\n got %v\nwant %v", got, want)
	}
	// Past the end, and count 0, still give the total.
	if us, total, err := s.FindUsers(c, p.ID, directory.Query{SortBy: "userName", StartIndex: 100, Count: 5}); err != nil || len(us) != 0 || total != len(rows) {
		t.Errorf("past the end: %d users, total %d, %v", len(us), total, err)
	}
	if us, total, err := s.FindUsers(c, p.ID, directory.Query{SortBy: "name.familyName", Count: 0}); err != nil || len(us) != 0 || total != len(rows) {
		t.Errorf("count 0: %d users, total %d, %v", len(us), total, err)
	}
}

func testSortGroups(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	alice := newUser(t, s, p.ID, "alice")
	fixture := []struct {
		name, externalID  string
		created, modified int
	}{
		{"Sales", "g2", 3, 30}, {"admins", "", 1, 10}, {"Zeta", "G1", 3, 5}, {"beta", "g2", 0, 30},
		{"Alpha", "", 2, 20}, {"Écoles", "g10", 5, 1},
	}
	var rows []sortRow
	for i, f := range fixture {
		g := group(p.ID, f.name, alice)
		g.ExternalID = f.externalID
		g.Created = t0.Add(time.Duration(f.created) * time.Second)
		g.LastModified = t0.Add(time.Duration(f.modified) * time.Second)
		must(t, s.CreateGroup(c, g))
		keys := map[string]any{
			"displayName":       strings.ToLower(f.name),
			"id":                g.ID,
			"meta.created":      int64(f.created),
			"meta.lastModified": int64(f.modified),
		}
		if f.externalID != "" {
			keys["externalId"] = f.externalID
		}
		rows = append(rows, sortRow{name: f.name, seq: i, keys: keys})
	}
	for _, withMembers := range []bool{false, true} {
		find := func(q directory.Query) ([]string, int, error) {
			q.WithMembers = withMembers
			gs, total, err := s.FindGroups(c, p.ID, q)
			for _, g := range gs {
				if withMembers != (len(g.Members) == 1) {
					t.Errorf("WithMembers %v: group %s has %d members", withMembers, g.DisplayName, len(g.Members))
				}
			}
			return groupNames(gs), total, err
		}
		for _, path := range []string{"displayName", "externalId", "id", "meta.created", "meta.lastModified"} {
			for _, desc := range []bool{false, true} {
				want := wantOrder(rows, path, desc)
				for _, n := range []int{len(rows), 2} {
					if got := pageAll(t, len(rows), n, find, directory.Query{SortBy: path, SortDescending: desc}); !slices.Equal(got, want) {
						t.Errorf("sortBy %s descending %v, pages of %d:\n got %v\nwant %v", path, desc, n, got, want)
					}
				}
			}
		}
	}
}

func testInvalidSort(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	newUser(t, s, p.ID, "alice")
	newGroup(t, s, p.ID, "team")
	for _, path := range []string{"nope", "name", "name.nope", "userName.x", "meta", "meta.version", "meta.location",
		"meta.resourceType", "groups", "groups.value", "groups.display", "password", "x509Certificates.value",
		scim.EnterpriseUserURN + ":manager", scim.EnterpriseUserURN + ":nope", "addresses",
		`urn:x:y:"a`, "urn:x:y:a.b", "urn:x:y:"} {
		_, _, err := s.FindUsers(c, p.ID, directory.Query{SortBy: path, Count: 10})
		wantCode(t, err, directory.EINVALID)
		if msg := directory.ErrorMessage(err); !strings.Contains(msg, fmt.Sprintf("%q", path)) {
			t.Errorf("sortBy %s: message %q does not name it", path, msg)
		}
	}
	for _, path := range []string{"members", "members.value", "members.display", "userName", "meta.version", "emails.value"} {
		_, _, err := s.FindGroups(c, p.ID, directory.Query{SortBy: path, Count: 10})
		wantCode(t, err, directory.EINVALID)
	}
}
