package scim

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

// renderedUser is a User as the server renders it.
func renderedUser() map[string]any {
	var doc map[string]any
	err := json.Unmarshal([]byte(`{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"id": "u1", "externalId": "e1", "userName": "alice", "displayName": "Alice", "active": true,
		"name": {"givenName": "Alice", "familyName": "Smith"},
		"emails": [{"value": "a@example.com", "type": "work", "primary": true}, {"value": "b@example.com", "type": "home"}],
		"groups": [{"value": "g1", "display": "team", "$ref": "https://x/Groups/g1", "type": "direct"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D", "manager": {"value": "m1", "displayName": "Boss"}},
		"meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z", "location": "https://x/Users/u1", "version": "W/\"1\""}
	}`), &doc)
	if err != nil {
		panic(err)
	}
	return doc
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestProject(t *testing.T) {
	rt := UserResourceType()
	const ent = `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
	const core = `["urn:ietf:params:scim:schemas:core:2.0:User"]`
	const both = `["urn:ietf:params:scim:schemas:core:2.0:User", ` + ent + `]`
	cases := []struct {
		name                 string
		attributes, excluded []string
		want                 string
	}{
		{"attributes keeps id and schemas", []string{"userName"}, nil,
			`{"schemas": ` + core + `, "id": "u1", "userName": "alice"}`},
		{"case-insensitive, sub-attributes", []string{"USERNAME", "name.GIVENNAME", "emails.value"}, nil,
			`{"schemas": ` + core + `, "id": "u1", "userName": "alice", "name": {"givenName": "Alice"},
			  "emails": [{"value": "a@example.com"}, {"value": "b@example.com"}]}`},
		{"URN-qualified core and extension paths", []string{"urn:ietf:params:scim:schemas:core:2.0:User:displayName",
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"}, nil,
			`{"schemas": ` + both + `, "id": "u1", "displayName": "Alice", ` + ent + `: {"manager": {"value": "m1"}}}`},
		{"a whole extension", []string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"}, nil,
			`{"schemas": ` + both + `, "id": "u1", ` + ent + `: {"department": "R&D", "manager": {"value": "m1", "displayName": "Boss"}}}`},
		{"a value filter selects the attribute", []string{`emails[type eq "work"]`, `name[givenName eq "x"].familyName`}, nil,
			`{"schemas": ` + core + `, "id": "u1", "name": {"familyName": "Smith"},
			  "emails": [{"value": "a@example.com", "type": "work", "primary": true}, {"value": "b@example.com", "type": "home"}]}`},
		{"unknown names are ignored", []string{"nickName", "nosuch", "name.nosuch", "urn:nosuch:schema:x", "meta.created"}, nil,
			`{"schemas": ` + core + `, "id": "u1", "meta": {"created": "2024-01-01T00:00:00Z"}}`},
		{"id cannot be excluded", nil, []string{"id", "schemas", "emails", "groups", "meta", "name.familyName",
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "externalId"},
			`{"schemas": ` + both + `, "id": "u1", "userName": "alice", "displayName": "Alice", "active": true,
			  "name": {"givenName": "Alice"}, ` + ent + `: {"manager": {"value": "m1", "displayName": "Boss"}}}`},
		{"excluding a whole extension drops its schema", nil, []string{ent[1 : len(ent)-1], "groups", "emails", "name", "meta"},
			`{"schemas": ` + core + `, "id": "u1", "externalId": "e1", "userName": "alice", "displayName": "Alice", "active": true}`},
		{"excluding every sub-attribute drops the attribute", nil, []string{"emails.value", "emails.type", "emails.primary",
			"groups", "meta", "name", ent[1 : len(ent)-1], "externalId"},
			`{"schemas": ` + core + `, "id": "u1", "userName": "alice", "displayName": "Alice", "active": true}`},
		{"attributes wins over excludedAttributes", []string{"userName"}, []string{"userName"},
			`{"schemas": ` + core + `, "id": "u1", "userName": "alice"}`},
		{"neither: the document as is", nil, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := renderedUser()
			got, err := Project(rt, doc, tc.attributes, tc.excluded)
			if err != nil {
				t.Fatal(err)
			}
			want := renderedUser()
			if tc.want != "" {
				want = decodeJSON(t, tc.want)
			}
			// Compare through JSON: schemas may be []string or []any.
			if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
				t.Errorf("got  %s\nwant %s", g, w)
			}
			if !reflect.DeepEqual(doc, renderedUser()) {
				t.Errorf("Project changed its input")
			}
		})
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var norm any
	json.Unmarshal(b, &norm)
	b, _ = json.Marshal(norm)
	return string(b)
}

func TestProjectReturned(t *testing.T) {
	// A schema with never and request attributes, which the standard ones
	// do not have.
	rt := &ResourceType{ID: "Thing", Name: "Thing", Schema: &Schema{ID: "urn:x:Thing", Attributes: []*Attribute{
		str("name"),
		str("secret", never),
		str("onRequest", func(a *Attribute) { a.Returned = ReturnedRequest }),
		str("tag", always),
		complexAttr("box", []*Attribute{str("open"), str("hidden", never)}),
	}}}
	doc := map[string]any{"schemas": []any{"urn:x:Thing"}, "id": "t1", "name": "n", "secret": "s", "onRequest": "r", "tag": "t",
		"box": map[string]any{"open": "o", "hidden": "h"}}
	cases := []struct {
		attributes, excluded []string
		want                 string
	}{
		{nil, []string{"name"}, `{"schemas":["urn:x:Thing"],"id":"t1","tag":"t","box":{"open":"o"}}`},
		{nil, []string{"tag", "id"}, `{"schemas":["urn:x:Thing"],"id":"t1","name":"n","tag":"t","box":{"open":"o"}}`},
		{[]string{"name"}, nil, `{"schemas":["urn:x:Thing"],"id":"t1","name":"n","tag":"t"}`},
		{[]string{"onRequest", "secret", "box"}, nil, `{"schemas":["urn:x:Thing"],"id":"t1","onRequest":"r","tag":"t","box":{"open":"o"}}`},
		{[]string{"box.hidden"}, nil, `{"schemas":["urn:x:Thing"],"id":"t1","tag":"t"}`},
	}
	for _, tc := range cases {
		got, err := Project(rt, doc, tc.attributes, tc.excluded)
		if err != nil {
			t.Fatal(err)
		}
		if g := jsonOf(t, got); g != jsonOf(t, decodeJSON(t, tc.want)) {
			t.Errorf("attributes %v excluded %v:\n got %s\nwant %s", tc.attributes, tc.excluded, g, tc.want)
		}
	}
	// The nil projection, which the server uses without parameters, leaves
	// the rendered document alone: the server never renders never-returned
	// attributes in the first place.
	var p *Projection
	if !p.Returns("members") || !reflect.DeepEqual(p.Apply(doc), doc) {
		t.Errorf("nil projection")
	}
}

func TestProjectionReturnsMembers(t *testing.T) {
	rt := GroupResourceType()
	for _, tc := range []struct {
		attributes, excluded []string
		want                 bool
	}{
		{nil, []string{"members"}, false},
		{nil, []string{"urn:ietf:params:scim:schemas:core:2.0:Group:Members"}, false},
		{nil, []string{"members.display"}, true},
		{nil, []string{"displayName"}, true},
		{[]string{"displayName"}, nil, false},
		{[]string{"displayName", "members.value"}, nil, true},
		{[]string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, nil, true},
		{[]string{"nosuch"}, nil, false},
		{[]string{"members"}, []string{"members"}, true},
	} {
		p, err := NewProjection(rt, tc.attributes, tc.excluded)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Returns("members"); got != tc.want {
			t.Errorf("attributes %v excluded %v: Returns(members) = %v", tc.attributes, tc.excluded, got)
		}
	}
}

func TestProjectionMalformed(t *testing.T) {
	for _, name := range []string{"emails[type eq \"work\"", "name..givenName", "a.b.c", "1name", "user name", ".x", "emails]",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User[x eq 1]"} {
		for _, param := range []string{"attributes", "excludedAttributes"} {
			var err error
			if param == "attributes" {
				_, err = NewProjection(UserResourceType(), []string{"userName", name}, nil)
			} else {
				_, err = NewProjection(UserResourceType(), nil, []string{name})
			}
			se, ok := AsError(err)
			if !ok || se.Status != http.StatusBadRequest || se.ScimType != TypeInvalidValue {
				t.Errorf("%s=%s: %v, want 400 invalidValue", param, name, err)
			}
		}
	}
}

func TestSplitAttrList(t *testing.T) {
	got := SplitAttrList(` userName, emails[type eq "a,b"].value ,,name.givenName,`)
	want := []string{"userName", `emails[type eq "a,b"].value`, "name.givenName"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
	if got := SplitAttrList(" "); got != nil {
		t.Errorf("blank: %q", got)
	}
}

func TestSortPath(t *testing.T) {
	rt := UserResourceType()
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	for raw, want := range map[string]string{
		"username":               "userName",
		"UserName":               "userName",
		UserURN + ":displayName": "displayName",
		"externalid":             "externalId",
		"ID":                     "id",
		"meta.Created":           "meta.created",
		"meta.lastmodified":      "meta.lastModified",
		"name.familyname":        "name.familyName",
		"emails":                 "emails.value",
		"emails.Type":            "emails.type",
		"active":                 "active",
		ent + ":employeeNumber":  ent + ":employeeNumber",
		"URN:IETF:params:scim:schemas:extension:enterprise:2.0:user:Manager.Value": ent + ":manager.value",
	} {
		got, err := SortPath(rt, raw)
		if err != nil || got != want {
			t.Errorf("SortPath(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"nosuch", "name", "addresses", "meta", "meta.version", "meta.location", "groups", "groups.value",
		"x509Certificates.value", `emails[type eq "work"].value`, ent, ent + ":manager", ent + ":manager.$ref", "urn:x:y:z", "a.b.c", ""} {
		_, err := SortPath(rt, raw)
		se, ok := AsError(err)
		if !ok || se.Status != http.StatusBadRequest || se.ScimType != TypeInvalidValue {
			t.Errorf("SortPath(%q): %v, want 400 invalidValue", raw, err)
		}
	}
	if _, err := SortPath(GroupResourceType(), "members.value"); err == nil {
		t.Errorf("members.value is sortable")
	}
}
