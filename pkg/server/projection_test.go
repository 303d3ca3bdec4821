package server_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
)

const enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// keys are the top-level attribute names of a resource, sorted.
func keys(m any) []string {
	mm, _ := m.(map[string]any)
	var ks []string
	for k := range mm {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// wantKeys fails t unless the resource v has exactly the top-level
// attributes want.
func wantKeys(t *testing.T, what string, v any, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := keys(v); !slices.Equal(got, want) {
		t.Errorf("%s: attributes %v, want %v", what, got, want)
	}
}

const projectedUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"userName":"proj@example.com","displayName":"Pro Jection","externalId":"x-1","title":"Dr",
	"name":{"givenName":"Pro","familyName":"Jection"},
	"emails":[{"value":"proj@example.com","type":"work","primary":true},{"value":"home@example.com","type":"home"}],
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"m-1"}}}`

func TestProjectionUsers(t *testing.T) {
	e := newSCIMEnv(t)
	q := url.QueryEscape

	// POST with attributes: the minimum set and what was named, with the
	// usual headers.
	r := e.must(e.do("POST", "/Users?attributes=userName,name.givenName", projectedUser), 201)
	wantKeys(t, "POST ?attributes", r.json, "schemas", "id", "userName", "name")
	wantKeys(t, "POST ?attributes name", r.get("name"), "givenName")
	if r.header.Get("ETag") != `W/"1"` || r.header.Get("Location") == "" {
		t.Errorf("POST headers: %v", r.header)
	}
	if fmt.Sprint(r.get("schemas")) != "[urn:ietf:params:scim:schemas:core:2.0:User]" {
		t.Errorf("schemas should list only what the projection holds: %v", r.get("schemas"))
	}
	id := r.str("id")

	// GET, case-insensitive names, sub-attributes of a multi-valued one,
	// an extension path with its URN.
	r = e.must(e.do("GET", "/Users/"+id+"?attributes="+q("USERNAME,emails.value,"+enterpriseURN+":manager.value"), ""), 200)
	wantKeys(t, "GET ?attributes", r.json, "schemas", "id", "userName", "emails", enterpriseURN)
	if fmt.Sprint(r.get("emails")) != "[map[value:proj@example.com] map[value:home@example.com]]" ||
		fmt.Sprint(r.json[enterpriseURN]) != "map[manager:map[value:m-1]]" {
		t.Errorf("GET ?attributes: %s", r.body)
	}
	if !strings.Contains(fmt.Sprint(r.get("schemas")), enterpriseURN) {
		t.Errorf("schemas should list the extension: %v", r.get("schemas"))
	}
	// excludedAttributes: everything but, and never id.
	r = e.must(e.do("GET", "/Users/"+id+"?excludedAttributes="+q("emails,meta,id,name.familyName,"+enterpriseURN+",groups"), ""), 200)
	wantKeys(t, "GET ?excludedAttributes", r.json, "schemas", "id", "userName", "displayName", "externalId", "title", "name", "active")
	wantKeys(t, "GET ?excludedAttributes name", r.get("name"), "givenName")
	// A value filter selects its attribute (Microsoft's Postman collection);
	// every value comes back, the filter is not applied.
	r = e.must(e.do("GET", "/Users/"+id+"?attributes="+q(`emails[type eq "work"],displayName`), ""), 200)
	wantKeys(t, "GET ?attributes=emails[...]", r.json, "schemas", "id", "emails", "displayName")
	if n := len(r.get("emails").([]any)); n != 2 {
		t.Errorf("emails[type eq \"work\"]: %d emails", n)
	}
	// Unknown names are ignored; attributes wins over excludedAttributes.
	r = e.must(e.do("GET", "/Users/"+id+"?attributes=nickName,nosuch,urn:no:such:x&excludedAttributes=userName", ""), 200)
	wantKeys(t, "GET ?attributes=unknown", r.json, "schemas", "id")
	r = e.must(e.do("GET", "/Users/"+id+"?attributes=userName&excludedAttributes=userName", ""), 200)
	wantKeys(t, "attributes and excludedAttributes", r.json, "schemas", "id", "userName")

	// PUT and PATCH respond projected; PATCH with ?attributes= is 200 with
	// the projected body: a server that ignores ?attributes= on PATCH
	// answers what the client did not ask for (docs/interop-quirks.md row 34).
	put := strings.Replace(projectedUser, `"title":"Dr"`, `"title":"Prof"`, 1)
	r = e.must(e.do("PUT", "/Users/"+id+"?attributes=title", put), 200)
	wantKeys(t, "PUT ?attributes", r.json, "schemas", "id", "title")
	if r.str("title") != "Prof" || r.header.Get("ETag") != `W/"2"` {
		t.Errorf("PUT: %s %v", r.body, r.header)
	}
	r = e.must(e.do("PATCH", "/Users/"+id+"?attributes=active", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"replace","path":"active","value":false}]}`), 200)
	wantKeys(t, "PATCH ?attributes", r.json, "schemas", "id", "active")
	if r.get("active") != false {
		t.Errorf("PATCH: %s", r.body)
	}
	r = e.must(e.do("PATCH", "/Users/"+id+"?excludedAttributes=meta,emails", `{"Operations":[{"op":"replace","path":"title","value":"Mx"}]}`), 200)
	if r.get("meta") != nil || r.get("emails") != nil || r.str("title") != "Mx" || r.str("userName") == "" {
		t.Errorf("PATCH ?excludedAttributes: %s", r.body)
	}

	// Lists.
	e.createUser("other@example.com")
	r = e.must(e.do("GET", "/Users?attributes=userName", ""), 200)
	if r.get("totalResults") != 2.0 {
		t.Fatalf("list: %s", r.body)
	}
	for i := range 2 {
		wantKeys(t, "list ?attributes", r.get(fmt.Sprintf("Resources.%d", i)), "schemas", "id", "userName")
	}
	r = e.must(e.do("GET", "/Users?filter="+q(`userName eq "proj@example.com"`)+"&attributes="+q(`emails[type eq "work"].value`), ""), 200)
	wantKeys(t, "list ?attributes=emails[...].value", r.get("Resources.0"), "schemas", "id", "emails")
	r = e.must(e.do("GET", "/Users?excludedAttributes=meta,name,emails&count=1", ""), 200)
	if res := r.get("Resources.0"); res == nil || slices.Contains(keys(res), "meta") || !slices.Contains(keys(res), "userName") {
		t.Errorf("list ?excludedAttributes: %s", r.body)
	}

	// A malformed name is 400 invalidValue naming it, on every verb, and a
	// write that gets it changes nothing.
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/Users/" + id, ""},
		{"GET", "/Users", ""},
		{"POST", "/Users", userBody("never@example.com")},
		{"PUT", "/Users/" + id, userBody("renamed@example.com")},
		{"PATCH", "/Users/" + id, `{"Operations":[{"op":"replace","path":"userName","value":"renamed@example.com"}]}`},
	} {
		for _, param := range []string{"attributes", "excludedAttributes"} {
			r := e.do(tc.method, tc.path+"?"+param+"="+q(`userName,emails[type eq "work"`), tc.body)
			wantSCIMError(t, r, 400, "invalidValue")
			if !strings.Contains(r.str("detail"), `emails[type eq \"work\"`) && !strings.Contains(r.str("detail"), `emails[type eq "work"`) {
				t.Errorf("%s %s: detail %q does not name the attribute", tc.method, param, r.str("detail"))
			}
		}
	}
	if r := e.must(e.do("GET", "/Users", ""), 200); r.get("totalResults") != 2.0 || strings.Contains(string(r.body), "renamed@") {
		t.Errorf("a refused request wrote: %s", r.body)
	}
}

// memberReads counts the store reads that fill a group's members.
type memberReads struct {
	directory.Store
	n atomic.Int64
}

func (m *memberReads) FindGroupByID(ctx context.Context, providerID, id string, withMembers bool) (*directory.Group, error) {
	if withMembers {
		m.n.Add(1)
	}
	return m.Store.FindGroupByID(ctx, providerID, id, withMembers)
}

func (m *memberReads) FindGroups(ctx context.Context, providerID string, q directory.Query) ([]*directory.Group, int, error) {
	if q.WithMembers {
		m.n.Add(1)
	}
	return m.Store.FindGroups(ctx, providerID, q)
}

// TestProjectionGroupsSkipMembers proves that a group read whose
// projection leaves members out never reads them (Entra reads every group
// with excludedAttributes=members, docs/interop-quirks.md row 19), through a thin
// counting wrapper over the real store.
func TestProjectionGroupsSkipMembers(t *testing.T) {
	e := newSCIMEnv(t)
	reads := &memberReads{}
	dir := e.srv.Directory()
	reads.Store, dir.Store = dir.Store, reads
	a, b := e.createUser("a@example.com"), e.createUser("b@example.com")
	g := e.must(e.do("POST", "/Groups?excludedAttributes=members", `{"displayName":"Team","externalId":"T-1",
		"members":[{"value":"`+a+`","display":"A"}]}`), 201)
	wantKeys(t, "POST ?excludedAttributes=members", g.json, "schemas", "id", "displayName", "externalId", "meta")
	gid := g.str("id")
	q := url.QueryEscape

	none := func(what string, r resp) {
		t.Helper()
		if n := reads.n.Swap(0); n != 0 {
			t.Errorf("%s read the members %d times", what, n)
		}
		if strings.Contains(string(r.body), `"members"`) {
			t.Errorf("%s returned members: %s", what, r.body)
		}
	}
	some := func(what string) {
		t.Helper()
		if n := reads.n.Swap(0); n == 0 {
			t.Errorf("%s did not read the members", what)
		}
	}

	r := e.must(e.do("GET", "/Groups/"+gid+"?excludedAttributes=members", ""), 200)
	none("GET ?excludedAttributes=members", r)
	wantKeys(t, "GET ?excludedAttributes=members", r.json, "schemas", "id", "displayName", "externalId", "meta")
	r = e.must(e.do("GET", "/Groups/"+gid+"?excludedAttributes="+q("urn:ietf:params:scim:schemas:core:2.0:Group:Members"), ""), 200)
	none("GET ?excludedAttributes=<urn>:members", r)
	r = e.must(e.do("GET", "/Groups/"+gid+"?attributes=displayName", ""), 200)
	none("GET ?attributes=displayName", r)
	wantKeys(t, "GET ?attributes=displayName", r.json, "schemas", "id", "displayName")
	r = e.must(e.do("GET", "/Groups?attributes=displayName&filter="+q(`displayName eq "team"`), ""), 200)
	none("list ?attributes=displayName", r)
	wantKeys(t, "list ?attributes=displayName", r.get("Resources.0"), "schemas", "id", "displayName")
	r = e.must(e.do("GET", "/Groups?excludedAttributes=members", ""), 200)
	none("list ?excludedAttributes=members", r)

	// A membership PATCH: 204 without attributes (excludedAttributes alone
	// included), 200 projected with them, and no member read unless the
	// projection holds members.
	add := func(user string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + user + `"}]}]}`
	}
	r = e.must(e.do("PATCH", "/Groups/"+gid, add(b)), 204)
	none("PATCH", r)
	r = e.must(e.do("PATCH", "/Groups/"+gid+"?excludedAttributes=members", add(b)), 204)
	none("PATCH ?excludedAttributes=members", r)
	r = e.must(e.do("PATCH", "/Groups/"+gid+"?attributes=displayName", add(b)), 200)
	none("PATCH ?attributes=displayName", r)
	wantKeys(t, "PATCH ?attributes=displayName", r.json, "schemas", "id", "displayName")
	if r.header.Get("ETag") != `W/"4"` {
		t.Errorf("PATCH ETag = %q", r.header.Get("ETag"))
	}
	r = e.must(e.do("PATCH", "/Groups/"+gid+"?attributes=members.value", add(b)), 200)
	some("PATCH ?attributes=members.value")
	wantKeys(t, "PATCH ?attributes=members.value", r.json, "schemas", "id", "members")
	if fmt.Sprint(r.get("members")) != fmt.Sprint([]any{map[string]any{"value": a}, map[string]any{"value": b}}) {
		t.Errorf("PATCH ?attributes=members.value: %s", r.body)
	}

	// The controls: a plain GET reads members, so does a list that asks.
	r = e.must(e.do("GET", "/Groups/"+gid, ""), 200)
	some("GET")
	if fmt.Sprint(memberIDs(r)) != fmt.Sprint(sorted(a, b)) {
		t.Errorf("GET members: %s", r.body)
	}
	r = e.must(e.do("GET", "/Groups?attributes=members.display,displayName", ""), 200)
	some("list ?attributes=members.display")
	if fmt.Sprint(r.get("Resources.0.members")) != "[map[display:A]]" {
		t.Errorf("members.display: %s", r.body)
	}

	// PUT responds projected.
	r = e.must(e.do("PUT", "/Groups/"+gid+"?attributes=externalId", `{"displayName":"Team","externalId":"T-2","members":[{"value":"`+b+`"}]}`), 200)
	wantKeys(t, "PUT ?attributes=externalId", r.json, "schemas", "id", "externalId")
	// A malformed name is refused before the write.
	wantSCIMError(t, e.do("PATCH", "/Groups/"+gid+"?attributes=a.b.c", add(a)), 400, "invalidValue")
	if r := e.must(e.do("GET", "/Groups/"+gid, ""), 200); fmt.Sprint(memberIDs(r)) != fmt.Sprint(sorted(b)) {
		t.Errorf("a refused PATCH wrote: %s", r.body)
	}
}
