package server_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// listNames pages through GET path (which holds its query) count at a
// time and returns attr of every resource, in order; it checks that every
// page reports the same total.
func (e *scimEnv) listNames(t *testing.T, path, attr string, count int) []string {
	t.Helper()
	var names []string
	total := -1
	for start := 1; total < 0 || start <= total; start += count {
		r := e.must(e.do("GET", fmt.Sprintf("%s&startIndex=%d&count=%d", path, start, count), ""), 200)
		n := int(r.get("totalResults").(float64))
		if total >= 0 && n != total {
			t.Errorf("%s: totalResults %d, then %d", path, total, n)
		}
		total = n
		res, _ := r.get("Resources").([]any)
		for i := range res {
			names = append(names, r.str(fmt.Sprintf("Resources.%d.%s", i, attr)))
		}
		if len(res) == 0 {
			break
		}
	}
	return names
}

func TestSortUsers(t *testing.T) {
	e := newSCIMEnv(t)
	create := func(userName, rest string) string {
		t.Helper()
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName + `"` + rest + `}`
		return e.must(e.do("POST", "/Users", body), 201).str("id")
	}
	// Created in this order (meta.created follows it: the test clock ticks
	// on every call).
	ids := map[string]string{
		"delta": create("delta", `,"displayName":"Team","externalId":"e3","name":{"familyName":"Young"},
			"emails":[{"value":"z@x.com","primary":true}],"`+enterpriseURN+`":{"employeeNumber":"20"}`),
		"Alpha": create("Alpha", `,"displayName":"team","emails":[{"value":"b@x.com"}]`),
		"charlie": create("charlie", `,"externalId":"E1","name":{"familyName":"adams"},
			"emails":[{"value":"y@x.com"},{"value":"a@x.com","primary":true}]`),
		"bravo": create("bravo", `,"displayName":"Zulu","externalId":"e2","name":{"familyName":"Brown"},"`+enterpriseURN+`":{"employeeNumber":"100"}`),
		"echo":  create("echo", `,"displayName":"alpha","externalId":"e10","emails":[{"value":"C@x.com"}]`),
	}
	// meta.lastModified: charlie, then delta, change after the others.
	for _, n := range []string{"charlie", "delta"} {
		e.must(e.do("PATCH", "/Users/"+ids[n], `{"Operations":[{"op":"replace","path":"title","value":"x"}]}`), 200)
	}
	byID := slices.Sorted(func(yield func(string) bool) {
		for _, id := range ids {
			if !yield(id) {
				return
			}
		}
	})
	nameOf := map[string]string{}
	for n, id := range ids {
		nameOf[id] = n
	}
	var idOrder []string
	for _, id := range byID {
		idOrder = append(idOrder, nameOf[id])
	}
	reversed := func(s []string) []string { s = slices.Clone(s); slices.Reverse(s); return s }

	byEmail := []string{"charlie", "Alpha", "echo", "delta", "bravo"}
	cases := []struct {
		sortBy    string
		asc, desc []string // desc nil: the reverse of asc (no ties, no missing values)
	}{
		{sortBy: "userName", asc: []string{"Alpha", "bravo", "charlie", "delta", "echo"}},
		// Team and team tie (case-insensitive): creation order both ways.
		// charlie has none: last ascending, first descending.
		{sortBy: "displayName", asc: []string{"echo", "delta", "Alpha", "bravo", "charlie"},
			desc: []string{"charlie", "bravo", "delta", "Alpha", "echo"}},
		// caseExact: E1 < e10 < e2 < e3 bytewise; Alpha has none.
		{sortBy: "externalId", asc: []string{"charlie", "echo", "bravo", "delta", "Alpha"},
			desc: []string{"Alpha", "delta", "bravo", "echo", "charlie"}},
		{sortBy: "id", asc: idOrder},
		{sortBy: "meta.created", asc: []string{"delta", "Alpha", "charlie", "bravo", "echo"}},
		{sortBy: "meta.lastModified", asc: []string{"Alpha", "bravo", "echo", "charlie", "delta"}},
		// Not indexed, with missing values.
		{sortBy: "name.familyName", asc: []string{"charlie", "bravo", "delta", "Alpha", "echo"},
			desc: []string{"Alpha", "echo", "delta", "bravo", "charlie"}},
		// The primary email, or else the first; folded.
		// bravo has none.
		{sortBy: "emails", asc: byEmail, desc: []string{"bravo", "delta", "echo", "Alpha", "charlie"}},
		{sortBy: "emails.value", asc: byEmail, desc: []string{"bravo", "delta", "echo", "Alpha", "charlie"}},
		{sortBy: enterpriseURN + ":employeeNumber", asc: []string{"bravo", "delta", "Alpha", "charlie", "echo"},
			desc: []string{"Alpha", "charlie", "echo", "delta", "bravo"}},
	}
	for _, tc := range cases {
		desc := tc.desc
		if desc == nil {
			desc = reversed(tc.asc)
		}
		for _, order := range []struct {
			param string
			want  []string
		}{{"", tc.asc}, {"&sortOrder=ascending", tc.asc}, {"&sortOrder=descending", desc}, {"&sortOrder=DESCENDING", desc}} {
			for _, count := range []int{2, 5} {
				path := "/Users?sortBy=" + url.QueryEscape(tc.sortBy) + order.param
				if got := e.listNames(t, path, "userName", count); !slices.Equal(got, order.want) {
					t.Errorf("%s (pages of %d):\n got %v\nwant %v", path, count, got, order.want)
				}
			}
		}
	}

	// Sorting, filtering and projecting together.
	path := "/Users?filter=" + url.QueryEscape(`externalId pr`) + "&sortBy=DisplayName&sortOrder=Descending&attributes=userName"
	if got := e.listNames(t, path, "userName", 3); !slices.Equal(got, []string{"charlie", "bravo", "delta", "echo"}) {
		t.Errorf("filter + sort: %v", got)
	}
	r := e.must(e.do("GET", path+"&count=1", ""), 200)
	wantKeys(t, "sorted and projected", r.get("Resources.0"), "schemas", "id", "userName")
	// sortOrder without sortBy is checked, and otherwise ignored.
	if got := e.listNames(t, "/Users?sortOrder=descending", "userName", 5); !slices.Equal(got, []string{"delta", "Alpha", "charlie", "bravo", "echo"}) {
		t.Errorf("sortOrder alone: %v", got)
	}

	// Refusals: 400 invalidValue naming what is wrong.
	for _, tc := range []struct{ query, names string }{
		{"sortBy=userName&sortOrder=up", `"up"`},
		{"sortOrder=ascending,descending", `"ascending,descending"`},
		{"sortBy=nosuch", `"nosuch"`},
		{"sortBy=name", `"name"`},
		{"sortBy=groups.display", `"groups.display"`},
		{"sortBy=meta.version", `"meta.version"`},
		{"sortBy=password", `"password"`},
		{"sortBy=" + url.QueryEscape(`emails[type eq "work"].value`), `emails[type eq`},
		{"sortBy=" + url.QueryEscape(enterpriseURN+":manager"), "manager"},
	} {
		r := e.do("GET", "/Users?"+tc.query, "")
		wantSCIMError(t, r, 400, "invalidValue")
		if detail := r.str("detail"); !strings.Contains(detail, tc.names) && !strings.Contains(detail, strings.ReplaceAll(tc.names, `"`, `\"`)) {
			t.Errorf("%s: detail %q does not name %s", tc.query, detail, tc.names)
		}
	}
	// An empty sortOrder is the default.
	e.must(e.do("GET", "/Users?sortBy=userName&sortOrder=", ""), 200)
}

func TestSortUsersCustomExtension(t *testing.T) {
	e := newSCIMEnv(t)
	const kace = "urn:example:params:scim:schemas:extension:kace:2.0:User"
	dir := e.srv.Directory()
	if _, err := dir.AddCustomField(t.Context(), "CostCenter", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dir.AddMapping(t.Context(), "okta", kace+":costCenter", "CostCenter"); err != nil {
		t.Fatal(err)
	}
	for i, cc := range []string{"b-2", "", "A-1", "c-3"} {
		ext := ""
		if cc != "" {
			ext = `,"` + kace + `":{"costCenter":"` + cc + `"}`
		}
		e.must(e.do("POST", "/Users", fmt.Sprintf(`{"userName":"u%d"%s}`, i, ext)), 201)
	}
	if got := e.listNames(t, "/Users?sortBy="+url.QueryEscape(kace+":COSTCENTER"), "userName", 2); !slices.Equal(got, []string{"u2", "u0", "u3", "u1"}) {
		t.Errorf("custom extension ascending: %v", got)
	}
	if got := e.listNames(t, "/Users?sortOrder=descending&sortBy="+url.QueryEscape(kace+":costCenter"), "userName", 2); !slices.Equal(got, []string{"u1", "u3", "u0", "u2"}) {
		t.Errorf("custom extension descending: %v", got)
	}
}

func TestSortGroups(t *testing.T) {
	e := newSCIMEnv(t)
	a := e.createUser("a@example.com")
	for _, g := range []struct{ name, ext string }{{"Sales", "g2"}, {"admins", ""}, {"Zeta", "G1"}, {"beta", "g2"}} {
		body := fmt.Sprintf(`{"displayName":%q,"externalId":%q,"members":[{"value":%q}]}`, g.name, g.ext, a)
		e.must(e.do("POST", "/Groups", body), 201)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"sortBy=displayName", []string{"admins", "beta", "Sales", "Zeta"}},
		{"sortBy=displayName&sortOrder=descending&excludedAttributes=members", []string{"Zeta", "Sales", "beta", "admins"}},
		{"sortBy=externalId", []string{"Zeta", "Sales", "beta", "admins"}},
		{"sortBy=externalId&sortOrder=descending", []string{"admins", "Sales", "beta", "Zeta"}},
		{"sortBy=meta.created&sortOrder=descending&attributes=displayName", []string{"beta", "Zeta", "admins", "Sales"}},
	} {
		if got := e.listNames(t, "/Groups?"+tc.query, "displayName", 3); !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.query, got, tc.want)
		}
	}
	for _, sortBy := range []string{"members", "members.value", "userName"} {
		wantSCIMError(t, e.do("GET", "/Groups?sortBy="+sortBy, ""), 400, "invalidValue")
	}
}
