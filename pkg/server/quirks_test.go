package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestInteropQuirks has one case per row of docs/interop-quirks.md (what
// Okta and Entra really send, and the server bugs that broke them) that
// applies to a server (rows 1–35),
// each asserting the handling the table documents. Every case starts from
// its own server with one user (u, "quirk@example.com") and one group (g)
// holding it.
func TestInteropQuirks(t *testing.T) {
	const patchOp = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	type fixture struct {
		e    *scimEnv
		u, g string
	}
	rows := []struct {
		row  int
		name string
		run  func(t *testing.T, f fixture)
	}{
		{1, "PascalCase op", func(t *testing.T, f fixture) {
			f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"Replace","path":"title","value":"T"}]}`), 200)
			f.e.must(f.e.do("PATCH", "/Groups/"+f.g, `{`+patchOp+`,"Operations":[{"op":"Add","path":"members","value":[{"value":"`+f.u+`"}]}]}`), 204)
			if r := f.e.must(f.e.do("GET", "/Users/"+f.u, ""), 200); r.str("title") != "T" {
				t.Errorf("Replace was dropped: %s", r.body)
			}
		}},
		{2, "booleans as strings", func(t *testing.T, f fixture) {
			r := f.e.must(f.e.do("POST", "/Users", `{"userName":"b@x","active":"True","emails":[{"value":"b@x","primary":"true"}]}`), 201)
			if r.get("active") != true || r.get("emails.0.primary") != true {
				t.Errorf("string booleans not converted: %s", r.body)
			}
			r = f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"replace","path":"active","value":"False"}]}`), 200)
			if r.get("active") != false {
				t.Errorf("active \"False\": %s", r.body)
			}
		}},
		{3, "path-less replace with dotted and URN keys", func(t *testing.T, f fixture) {
			r := f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"replace","value":{"displayName":"D","name.givenName":"G","`+ent+`:employeeNumber":"42"}}]}`), 200)
			m, _ := r.json[ent].(map[string]any)
			if r.str("displayName") != "D" || r.str("name.givenName") != "G" || m["employeeNumber"] != "42" {
				t.Errorf("keys not treated as paths: %s", r.body)
			}
		}},
		{4, "path-less replace {active:false}", func(t *testing.T, f fixture) {
			r := f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"replace","value":{"active":false}}]}`), 200)
			if r.get("active") != false {
				t.Errorf("not deactivated: %s", r.body)
			}
		}},
		{5, "id inside the PATCH value is ignored", func(t *testing.T, f fixture) {
			f.e.must(f.e.do("PATCH", "/Groups/"+f.g, `{`+patchOp+`,"Operations":[{"op":"replace","value":{"id":"other-id","displayName":"Renamed"}}]}`), 204)
			if r := f.e.must(f.e.do("GET", "/Groups/"+f.g, ""), 200); r.str("id") != f.g || r.str("displayName") != "Renamed" {
				t.Errorf("rename: %s", r.body)
			}
		}},
		{6, "remove members with a value list removes only those", func(t *testing.T, f fixture) {
			v := f.e.createUser("v@x")
			f.e.must(f.e.do("PATCH", "/Groups/"+f.g, `{`+patchOp+`,"Operations":[{"op":"add","path":"members","value":[{"value":"`+v+`"}]}]}`), 204)
			f.e.must(f.e.do("PATCH", "/Groups/"+f.g, `{`+patchOp+`,"Operations":[{"op":"remove","path":"members","value":[{"value":"`+f.u+`"}]}]}`), 204)
			if got := memberIDs(f.e.must(f.e.do("GET", "/Groups/"+f.g, ""), 200)); fmt.Sprint(got) != fmt.Sprint([]string{v}) {
				t.Errorf("members %v, want only %s", got, v)
			}
		}},
		{7, "filtered member removal is applied", func(t *testing.T, f fixture) {
			f.e.must(f.e.do("PATCH", "/Groups/"+f.g, `{`+patchOp+`,"Operations":[{"op":"remove","path":"members[value eq \"`+f.u+`\"]"}]}`), 204)
			if got := memberIDs(f.e.must(f.e.do("GET", "/Groups/"+f.g, ""), 200)); len(got) != 0 {
				t.Errorf("leaver still a member: %v", got)
			}
		}},
		{8, "valuePath with sub-attribute: replace, and add that creates", func(t *testing.T, f fixture) {
			f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"new@x"}]}`), 200)
			r := f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"add","path":"phoneNumbers[type eq \"mobile\"].value","value":"555"}]}`), 200)
			if r.str("emails.0.value") != "new@x" || r.str("phoneNumbers.0.value") != "555" || r.str("phoneNumbers.0.type") != "mobile" {
				t.Errorf("valuePath: %s", r.body)
			}
		}},
		{9, "replace with no match is noTarget; add creates", func(t *testing.T, f fixture) {
			wantSCIMError(t, f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"replace","path":"emails[type eq \"home\"].value","value":"h@x"}]}`), 400, "noTarget")
			r := f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"add","path":"emails[type eq \"home\"].value","value":"h@x"}]}`), 200)
			if !strings.Contains(string(r.body), `"h@x"`) {
				t.Errorf("add did not create: %s", r.body)
			}
		}},
		{10, "paths are never stored as flat keys", func(t *testing.T, f fixture) {
			f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"replace","value":{"emails[type eq \"work\"].value":"flat@x"}}]}`), 200)
			r := f.e.must(f.e.do("GET", "/Users/"+f.u, ""), 200)
			for k := range r.json {
				if strings.ContainsAny(k, "[]") {
					t.Errorf("stored a flat key %q", k)
				}
			}
			if r.str("emails.0.value") != "flat@x" {
				t.Errorf("the path key was not applied: %s", r.body)
			}
		}},
		{11, "empty Operations is a no-op", func(t *testing.T, f fixture) {
			f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[]}`), 200)
		}},
		{12, "non-standard group schema URI", func(t *testing.T, f fixture) {
			f.e.must(f.e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"MS"}`), 201)
		}},
		{13, "$ref null in members", func(t *testing.T, f fixture) {
			f.e.must(f.e.do("POST", "/Groups", `{"displayName":"Ref","members":[{"$ref":null,"value":"`+f.u+`"}]}`), 201)
		}},
		{14, "unknown-user filter is an empty ListResponse", func(t *testing.T, f fixture) {
			r := f.e.must(f.e.do("GET", "/Users?filter=userName%20eq%20%22nobody%40x%22", ""), 200)
			if r.get("totalResults") != 0.0 || fmt.Sprint(r.get("Resources")) != "[]" {
				t.Errorf("no match: %s", r.body)
			}
		}},
		{15, "unknown id is a SCIM 404", func(t *testing.T, f fixture) {
			wantSCIMError(t, f.e.do("GET", "/Users/010101001010101011001010101011", ""), 404, "")
		}},
		{16, "duplicates are 409 uniqueness, users and groups", func(t *testing.T, f fixture) {
			wantSCIMError(t, f.e.do("POST", "/Users", userBody("QUIRK@example.com")), 409, "uniqueness")
			wantSCIMError(t, f.e.do("POST", "/Groups", `{"displayName":"quirks"}`), 409, "uniqueness")
		}},
		{17, "what uniqueness sees, filters see", func(t *testing.T, f fixture) {
			wantSCIMError(t, f.e.do("POST", "/Users", userBody("Quirk@Example.com")), 409, "uniqueness")
			if r := f.e.must(f.e.do("GET", "/Users?filter=userName%20eq%20%22Quirk@Example.com%22", ""), 200); r.get("totalResults") != 1.0 {
				t.Errorf("the conflicting user is invisible to the filter: %s", r.body)
			}
		}},
		{18, "userName and group displayName eq are case-insensitive", func(t *testing.T, f fixture) {
			if r := f.e.must(f.e.do("GET", "/Users?filter=userName%20eq%20%22QUIRK@EXAMPLE.COM%22", ""), 200); r.get("totalResults") != 1.0 {
				t.Errorf("userName: %s", r.body)
			}
			if r := f.e.must(f.e.do("GET", "/Groups?filter=displayName%20eq%20%22QUIRKS%22", ""), 200); r.get("totalResults") != 1.0 {
				t.Errorf("displayName: %s", r.body)
			}
		}},
		{19, "excludedAttributes=members on GET and list", func(t *testing.T, f fixture) {
			if r := f.e.must(f.e.do("GET", "/Groups/"+f.g+"?excludedAttributes=members", ""), 200); r.get("members") != nil || r.str("displayName") != "Quirks" {
				t.Errorf("GET: %s", r.body)
			}
			if r := f.e.must(f.e.do("GET", "/Groups?excludedAttributes=members", ""), 200); r.get("Resources.0.members") != nil {
				t.Errorf("list: %s", r.body)
			}
		}},
		{20, "group PATCH answers 204", func(t *testing.T, f fixture) {
			if r := f.e.do("PATCH", "/Groups/"+f.g, `{`+patchOp+`,"Operations":[{"op":"replace","value":{"displayName":"Quirks 2"}}]}`); r.status != http.StatusNoContent || len(r.body) != 0 {
				t.Errorf("status %d, body %q", r.status, r.body)
			}
		}},
		{21, "deactivation is a soft delete", func(t *testing.T, f fixture) {
			f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"replace","value":{"active":false}}]}`), 200)
			r := f.e.must(f.e.do("GET", "/Users/"+f.u, ""), 200)
			r2 := f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"replace","value":{"active":true}}]}`), 200)
			if r.get("active") != false || r2.str("id") != f.u || r2.get("active") != true {
				t.Errorf("deactivate %s / reactivate %s", r.body, r2.body)
			}
		}},
		{22, "PUT replaces and keeps active when omitted", func(t *testing.T, f fixture) {
			r := f.e.must(f.e.do("PUT", "/Users/"+f.u, `{"userName":"quirk@example.com","displayName":"Put"}`), 200)
			if r.get("active") != true || r.get("name") != nil || r.str("displayName") != "Put" {
				t.Errorf("PUT: %s", r.body)
			}
		}},
		{23, "Okta's connection test", func(t *testing.T, f fixture) {
			r := f.e.must(f.e.do("GET", "/Users?startIndex=1&count=2", ""), 200)
			if r.get("itemsPerPage") != 1.0 || r.get("startIndex") != 1.0 || r.get("totalResults") != 1.0 {
				t.Errorf("connection test: %s", r.body)
			}
		}},
		{24, "POST with application/json", func(t *testing.T, f fixture) {
			req, _ := http.NewRequest("POST", f.e.http.URL+"/scim/v2/Users", strings.NewReader(`{"userName":"json@x"}`))
			req.Header.Set("Authorization", "Bearer "+f.e.key)
			req.Header.Set("Content-Type", "application/json")
			res, err := f.e.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 201 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/scim+json") {
				t.Errorf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
			}
		}},
		{25, "bad token is a SCIM 401", func(t *testing.T, f fixture) {
			wantSCIMError(t, f.e.doAuth("GET", "/Users", "", "non-token"), 401, "")
		}},
		{26, "URN-qualified extension attributes in filters", func(t *testing.T, f fixture) {
			f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"add","path":"`+ent+`:employeeNumber","value":"701984"}]}`), 200)
			r := f.e.must(f.e.do("GET", "/Users?filter="+strings.ReplaceAll(ent, ":", "%3A")+"%3AemployeeNumber%20eq%20%22701984%22", ""), 200)
			if r.get("totalResults") != 1.0 {
				t.Errorf("URN filter: %s", r.body)
			}
		}},
		{27, "the standard ':' before extension attributes", func(t *testing.T, f fixture) {
			r := f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"add","path":"`+ent+`:department","value":"R&D"}]}`), 200)
			if m, _ := r.json[ent].(map[string]any); m["department"] != "R&D" {
				t.Errorf("URN path: %s", r.body)
			}
		}},
		{28, "filters Entra matches on: emails[type eq work], externalId", func(t *testing.T, f fixture) {
			for _, q := range []string{`emails%5Btype%20eq%20%22work%22%5D`, `externalId%20eq%20%2200ujl29u0le5T6Aj10h7%22`} {
				if r := f.e.must(f.e.do("GET", "/Users?filter="+q, ""), 200); r.get("totalResults") != 1.0 {
					t.Errorf("%s: %s", q, r.body)
				}
			}
		}},
		{29, "unknown sub-attributes and attributes are ignored", func(t *testing.T, f fixture) {
			r := f.e.must(f.e.do("POST", "/Users", `{"userName":"unk@x","name":{"givenName":"G","nickname2":"n"},"favouriteColour":"blue"}`), 201)
			if strings.Contains(string(r.body), "nickname2") || strings.Contains(string(r.body), "favouriteColour") || r.str("name.givenName") != "G" {
				t.Errorf("unknown attributes: %s", r.body)
			}
		}},
		{30, "password is never kept nor listed", func(t *testing.T, f fixture) {
			r := f.e.must(f.e.do("POST", "/Users", `{"userName":"pw@x","password":"Secret-123"}`), 201)
			s := f.e.must(f.e.do("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", ""), 200)
			if strings.Contains(string(r.body), "Secret-123") || strings.Contains(string(s.body), `"password"`) {
				t.Errorf("password returned or listed")
			}
		}},
		{31, "an unmapped but valid path does not fail the PATCH", func(t *testing.T, f fixture) {
			r := f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[
				{"op":"add","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main St"},
				{"op":"replace","path":"active","value":false}]}`), 200)
			if r.get("active") != false || r.str("addresses.0.streetAddress") != "1 Main St" {
				t.Errorf("PATCH: %s", r.body)
			}
		}},
		{32, "multi-match remove removes the right entries", func(t *testing.T, f fixture) {
			a, b, c := f.e.createUser("a@x"), f.e.createUser("b@x"), f.e.createUser("c@x")
			f.e.must(f.e.do("PATCH", "/Groups/"+f.g, `{`+patchOp+`,"Operations":[{"op":"add","path":"members","value":[{"value":"`+a+`"},{"value":"`+b+`"},{"value":"`+c+`"}]}]}`), 204)
			f.e.must(f.e.do("PATCH", "/Groups/"+f.g, `{`+patchOp+`,"Operations":[{"op":"remove","path":"members[value eq \"`+a+`\" or value eq \"`+b+`\"]"}]}`), 204)
			if got := memberIDs(f.e.must(f.e.do("GET", "/Groups/"+f.g, ""), 200)); fmt.Sprint(got) != fmt.Sprint(sorted(f.u, c)) {
				t.Errorf("members %v", got)
			}
		}},
		{33, "a filtered replace keeps spaces", func(t *testing.T, f fixture) {
			r := f.e.must(f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"replace","path":"emails[type eq \"work\"].display","value":"Quirk  Q. User"}]}`), 200)
			if r.str("emails.0.display") != "Quirk  Q. User" {
				t.Errorf("value cut: %s", r.body)
			}
		}},
		{34, "remove without path is noTarget; PATCH honours attributes", func(t *testing.T, f fixture) {
			wantSCIMError(t, f.e.do("PATCH", "/Users/"+f.u, `{`+patchOp+`,"Operations":[{"op":"remove"}]}`), 400, "noTarget")
			r := f.e.must(f.e.do("PATCH", "/Users/"+f.u+"?attributes=userName", `{`+patchOp+`,"Operations":[{"op":"replace","path":"title","value":"X"}]}`), 200)
			if r.str("userName") != "quirk@example.com" || r.get("title") != nil || r.str("id") != f.u {
				t.Errorf("projection ignored: %s", r.body)
			}
			r = f.e.must(f.e.do("PATCH", "/Groups/"+f.g+"?attributes=displayName", `{`+patchOp+`,"Operations":[{"op":"replace","value":{"displayName":"Q3"}}]}`), 200)
			if r.str("displayName") != "Q3" || r.get("members") != nil {
				t.Errorf("group projection: %s", r.body)
			}
		}},
		{35, "a value filter compared as a whole is invalid", func(t *testing.T, f fixture) {
			wantSCIMError(t, f.e.do("GET", "/Users?filter=emails%5Btype%20eq%20%22work%22%5D%20eq%20%22user%40contoso.com%22", ""), 400, "invalidFilter")
		}},
	}
	for _, row := range rows {
		t.Run(fmt.Sprintf("row%02d %s", row.row, row.name), func(t *testing.T) {
			e := newSCIMEnv(t)
			u := e.createUser("quirk@example.com")
			g := e.must(e.do("POST", "/Groups", `{"displayName":"Quirks","members":[{"value":"`+u+`"}]}`), 201).str("id")
			row.run(t, fixture{e: e, u: u, g: g})
		})
	}
	if len(rows) != 35 {
		t.Errorf("%d rows, want one per row 1–35", len(rows))
	}
}
