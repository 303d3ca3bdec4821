package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/server"
)

const (
	adminFields    = adminapi.Prefix + "/fields"
	adminUsers     = adminapi.Prefix + "/users"
	oktaMappings   = adminProviders + "/okta/mappings"
	enterpriseUser = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// newFieldsEnv is an admin env with an enabled provider "okta"; it returns
// the provider's security key.
func newFieldsEnv(t *testing.T) (*adminEnv, string) {
	t.Helper()
	e := newAdminEnv(t, server.Config{})
	status, body := e.do("POST", adminProviders, `{"name":"okta","enabled":true}`)
	if status != http.StatusCreated {
		t.Fatalf("create provider: %d %s", status, body)
	}
	return e, decodeAdmin[adminapi.ProviderKeyResponse](t, body).Key
}

// scim sends a SCIM request with the provider key and returns the status
// and the decoded body.
func (e *adminEnv) scim(key, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+"/scim/v2"+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, m
}

func (e *adminEnv) mustDo(method, path, body string, want int) []byte {
	e.t.Helper()
	status, b := e.do(method, path, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	return b
}

func TestAdminFields(t *testing.T) {
	e, _ := newFieldsEnv(t)

	// Built-in fields first, in display order, the GUID described as internal.
	list := decodeAdmin[adminapi.FieldList](t, e.mustDo("GET", adminFields, "", 200))
	var names []string
	for _, f := range list.Fields {
		names = append(names, f.Name)
		if f.Type != "builtin" || f.CreatedAt != nil || f.Description == "" {
			t.Errorf("built-in field %+v", f)
		}
	}
	want := []string{"Email", "Name", "Disabled", "HeliumKeycloakObjectGuid", "Address", "City", "State", "Zip", "Country"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("fields = %v, want %v", names, want)
	}
	if d := list.Fields[3].Description; !strings.Contains(d, "Internal") || !strings.Contains(d, "not displayed") {
		t.Errorf("GUID description = %q", d)
	}

	body := e.mustDo("POST", adminFields, `{"name":"Manager","description":"The manager's id"}`, 201)
	f := decodeAdmin[adminapi.Field](t, body)
	if f.Name != "Manager" || f.Type != "custom" || f.Description != "The manager's id" || f.CreatedAt == nil {
		t.Fatalf("created %s", body)
	}
	e.mustDo("POST", adminFields, `{"name":"Department"}`, 201)

	for _, tc := range []struct {
		body   string
		status int
		code   string
		msg    string
	}{
		{`{"name":"manager"}`, 409, "conflict", `a custom field named "manager" already exists`},
		{`{"name":"city"}`, 400, "invalid", "City is a built-in field"},
		{`{"name":"9lives"}`, 400, "invalid", "starting with a letter"},
		{`{"name":""}`, 400, "invalid", "1 to 64 characters"},
		{`{"name":"X","colour":"red"}`, 400, "invalid", `unknown field "colour"`},
	} {
		status, body := e.do("POST", adminFields, tc.body)
		wantAdminError(t, status, body, tc.status, tc.code, tc.msg)
	}

	// Custom fields follow the built-in ones, by name.
	list = decodeAdmin[adminapi.FieldList](t, e.mustDo("GET", adminFields, "", 200))
	if n := len(list.Fields); n != 11 || list.Fields[9].Name != "Department" || list.Fields[10].Name != "Manager" || list.Fields[10].Type != "custom" {
		t.Fatalf("fields = %+v", list.Fields)
	}

	// A mapped field cannot be removed; the error names the mapping.
	e.mustDo("POST", oktaMappings, `{"scimPath":"`+enterpriseUser+`:manager.value","field":"Manager"}`, 200)
	status, body := e.do("DELETE", adminFields+"/Manager", "")
	wantAdminError(t, status, body, 409, "conflict", enterpriseUser+":manager.value → Manager")
	status, body = e.do("DELETE", adminFields+"/City", "")
	wantAdminError(t, status, body, 400, "invalid", "City is a built-in field and cannot be removed")
	status, body = e.do("DELETE", adminFields+"/Nope", "")
	wantAdminError(t, status, body, 404, "not_found", "Nope")

	if status, body := e.do("DELETE", adminFields+"/Department", ""); status != 204 || len(body) != 0 {
		t.Fatalf("delete: %d %s", status, body)
	}
	e.mustDo("DELETE", oktaMappings+"?field=Manager", "", 200)
	e.mustDo("DELETE", adminFields+"/"+url.PathEscape("manager"), "", 204)
	list = decodeAdmin[adminapi.FieldList](t, e.mustDo("GET", adminFields, "", 200))
	if len(list.Fields) != 9 {
		t.Fatalf("fields after removal = %+v", list.Fields)
	}
}

func TestAdminMappings(t *testing.T) {
	e, _ := newFieldsEnv(t)
	required := []adminapi.Mapping{
		{SCIMPath: "userName", Field: "Email", FieldType: "builtin", Required: true},
		{SCIMPath: "displayName", Field: "Name", FieldType: "builtin", Required: true},
		{SCIMPath: "id", Field: "HeliumKeycloakObjectGuid", FieldType: "builtin", Required: true},
		{SCIMPath: "active", Field: "Disabled", FieldType: "builtin", Required: true},
	}
	list := decodeAdmin[adminapi.MappingList](t, e.mustDo("GET", oktaMappings, "", 200))
	if !reflect.DeepEqual(list.Mappings, required) {
		t.Fatalf("new provider's mappings = %+v", list.Mappings)
	}
	status, body := e.do("GET", adminProviders+"/nope/mappings", "")
	wantAdminError(t, status, body, 404, "not_found", `no provider named "nope"`)

	// The suggested mappings: five custom, five built-in.
	sugg := decodeAdmin[adminapi.MappingList](t, e.mustDo("GET", adminapi.Prefix+"/mappings/suggested", "", 200))
	types := map[string]int{}
	for _, m := range sugg.Mappings {
		types[m.FieldType]++
		if m.Required {
			t.Errorf("suggestion %+v is required", m)
		}
	}
	if len(sugg.Mappings) != 10 || types["custom"] != 5 || types["builtin"] != 5 || sugg.Mappings[6].SCIMPath != `addresses[type eq "work"].locality` {
		t.Fatalf("suggested = %+v", sugg.Mappings)
	}

	// Mapping to a field that does not exist says which one to create.
	status, body = e.do("POST", oktaMappings, `{"scimPath":"title","field":"Title"}`)
	wantAdminError(t, status, body, 400, "invalid", "create it first with `kacescim fields add Title`")

	body = e.mustDo("POST", oktaMappings, `{"scimPath":"addresses[type eq \"work\"].locality","field":"city"}`, 200)
	changed := decodeAdmin[adminapi.MappingsChanged](t, body)
	city := adminapi.Mapping{SCIMPath: `addresses[type eq "work"].locality`, Field: "City", FieldType: "builtin"}
	if len(changed.Mappings) != 5 || changed.Mappings[4] != city || changed.ChangedUsers != 0 {
		t.Fatalf("add: %s", body)
	}
	status, body = e.do("POST", oktaMappings, `{"scimPath":"addresses[type eq \"home\"].locality","field":"City"}`)
	wantAdminError(t, status, body, 400, "invalid", "City is already filled by the mapping")
	status, body = e.do("POST", oktaMappings, `{"scimPath":"nickName","field":"Email"}`)
	wantAdminError(t, status, body, 400, "invalid", "required mapping")

	// PUT replaces the optional mappings; required ones may be listed.
	e.mustDo("POST", adminFields, `{"name":"Department"}`, 201)
	put := adminapi.SetMappingsRequest{Mappings: append(append([]adminapi.Mapping{}, required...),
		adminapi.Mapping{SCIMPath: enterpriseUser + ":department", Field: "Department"},
		adminapi.Mapping{SCIMPath: "title", Field: "State"})}
	b, _ := json.Marshal(put)
	changed = decodeAdmin[adminapi.MappingsChanged](t, e.mustDo("PUT", oktaMappings, string(b), 200))
	if len(changed.Mappings) != 6 || changed.Mappings[4].Field != "Department" || changed.Mappings[4].FieldType != "custom" || changed.Mappings[5].Field != "State" {
		t.Fatalf("put: %+v", changed)
	}
	status, body = e.do("PUT", oktaMappings, `{"mappings":[{"scimPath":"userName","field":"Name","required":true}]}`)
	wantAdminError(t, status, body, 400, "invalid", "the required mappings")
	status, body = e.do("PUT", oktaMappings, `{"mappings":[{"scimPath":"addresses","field":"Address"}]}`)
	wantAdminError(t, status, body, 400, "invalid", "is complex")
	// A refused PUT changes nothing.
	list = decodeAdmin[adminapi.MappingList](t, e.mustDo("GET", oktaMappings, "", 200))
	if !reflect.DeepEqual(list.Mappings, changed.Mappings) {
		t.Fatalf("after refused PUTs: %+v", list.Mappings)
	}

	// DELETE by path or field; required ones and unknown ones are refused.
	body = e.mustDo("DELETE", oktaMappings+"?scimPath="+url.QueryEscape("TITLE"), "", 200)
	if changed := decodeAdmin[adminapi.MappingsChanged](t, body); len(changed.Mappings) != 5 {
		t.Fatalf("delete by path: %s", body)
	}
	status, body = e.do("DELETE", oktaMappings+"?field=Email", "")
	wantAdminError(t, status, body, 400, "invalid", "userName → Email is a required mapping and cannot be removed")
	status, body = e.do("DELETE", oktaMappings+"?field=Zip", "")
	wantAdminError(t, status, body, 404, "not_found", "provider okta has no mapping for Zip")
	status, body = e.do("DELETE", oktaMappings, "")
	wantAdminError(t, status, body, 400, "invalid", "give its SCIM path or its field")
	e.mustDo("DELETE", oktaMappings+"?field=department", "", 200)

	// PUT with an empty list leaves the required mappings.
	changed = decodeAdmin[adminapi.MappingsChanged](t, e.mustDo("PUT", oktaMappings, `{"mappings":[]}`, 200))
	if !reflect.DeepEqual(changed.Mappings, required) {
		t.Fatalf("empty PUT: %+v", changed.Mappings)
	}
}

func TestAdminPreview(t *testing.T) {
	e, _ := newFieldsEnv(t)
	e.mustDo("POST", adminFields, `{"name":"Mobile"}`, 201)
	e.mustDo("POST", oktaMappings, `{"scimPath":"phoneNumbers[type eq \"mobile\"].value","field":"Mobile"}`, 200)
	preview := adminapi.Prefix + "/providers/okta/mappings/preview"

	body := e.mustDo("POST", preview, `{"userName":"ada@example.com","displayName":"Ada","active":false,
		"phoneNumbers":[{"type":"work","value":"1"},{"type":"mobile","value":"555"}]}`, 200)
	got := decodeAdmin[adminapi.Preview](t, body).Fields
	if got["Email"] != "ada@example.com" || got["Name"] != "Ada" || got["Disabled"] != true || got["Mobile"] != "555" || got["HeliumKeycloakObjectGuid"] == nil {
		t.Fatalf("preview = %s", body)
	}
	// Nothing was written.
	list := decodeAdmin[adminapi.DirectoryUserList](t, e.mustDo("GET", adminUsers, "", 200))
	if list.TotalResults != 0 || len(list.Users) != 0 {
		t.Fatalf("preview wrote users: %+v", list)
	}
	for _, tc := range []struct{ body, msg string }{
		{`["x"]`, "the body must be a SCIM User: a JSON object"},
		{`null`, "the body must be a SCIM User: a JSON object"},
		{`{"displayName":"No Name"}`, "userName"},
		{`{"userName":`, "invalid JSON in request body"},
	} {
		status, body := e.do("POST", preview, tc.body)
		wantAdminError(t, status, body, 400, "invalid", tc.msg)
	}
	status, body := e.do("POST", adminProviders+"/nope/mappings/preview", `{"userName":"a@b.c"}`)
	wantAdminError(t, status, body, 404, "not_found", `no provider named "nope"`)
}

func TestAdminDirectoryUsers(t *testing.T) {
	e, key := newFieldsEnv(t)
	// A second provider, so that lists span providers.
	status, body := e.do("POST", adminProviders, `{"name":"entra","enabled":true}`)
	if status != 201 {
		t.Fatalf("create entra: %d %s", status, body)
	}
	entraKey := decodeAdmin[adminapi.ProviderKeyResponse](t, body).Key
	e.mustDo("POST", adminFields, `{"name":"Department"}`, 201)
	e.mustDo("POST", oktaMappings, `{"scimPath":"`+enterpriseUser+`:department","field":"Department"}`, 200)

	ids := map[string]string{}
	create := func(key, userName, dept string, active bool) {
		t.Helper()
		status, u := e.scim(key, "POST", "/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","%s"],
			"userName":%q,"displayName":%q,"active":%t,"%s":{"department":%q},
			"addresses":[{"type":"work","locality":"Austin"}]}`, enterpriseUser, userName, strings.Split(userName, "@")[0], active, enterpriseUser, dept))
		if status != 201 {
			t.Fatalf("create %s: %d %v", userName, status, u)
		}
		ids[userName] = u["id"].(string)
	}
	create(key, "ada@example.com", "R&D", true)
	create(key, "bob@example.com", "Sales", false)
	create(key, "cy@example.com", "r&d", true)
	create(entraKey, "dee@example.com", "R&D", true)

	list := decodeAdmin[adminapi.DirectoryUserList](t, e.mustDo("GET", adminUsers, "", 200))
	if list.TotalResults != 4 || len(list.Users) != 4 {
		t.Fatalf("all users: %+v", list)
	}
	// Ordered by provider name, then creation.
	var order []string
	for _, u := range list.Users {
		order = append(order, u.Provider+":"+u.Fields["Email"].(string))
	}
	if want := []string{"entra:dee@example.com", "okta:ada@example.com", "okta:bob@example.com", "okta:cy@example.com"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("order = %v, want %v", order, want)
	}
	ada := list.Users[1]
	if ada.ID != ids["ada@example.com"] || ada.Updated.IsZero() || !reflect.DeepEqual(ada.Fields, map[string]any{
		"Email": "ada@example.com", "Name": "ada", "Disabled": false, "HeliumKeycloakObjectGuid": ada.ID, "Department": "R&D",
	}) {
		t.Fatalf("ada = %+v", ada)
	}
	// entra maps no Department.
	if _, ok := list.Users[0].Fields["Department"]; ok {
		t.Fatalf("entra user has a Department: %+v", list.Users[0])
	}

	query := func(q string) []string {
		t.Helper()
		l := decodeAdmin[adminapi.DirectoryUserList](t, e.mustDo("GET", adminUsers+"?"+q, "", 200))
		out := []string{fmt.Sprint(l.TotalResults)}
		for _, u := range l.Users {
			out = append(out, u.Fields["Email"].(string))
		}
		return out
	}
	for q, want := range map[string][]string{
		"provider=okta":                               {"3", "ada@example.com", "bob@example.com", "cy@example.com"},
		"provider=OKTA&disabled=true":                 {"1", "bob@example.com"},
		"disabled=false":                              {"3", "dee@example.com", "ada@example.com", "cy@example.com"},
		"field=Department&value=r%26d":                {"2", "ada@example.com", "cy@example.com"},
		"field=email&value=BOB@example.com":           {"1", "bob@example.com"},
		"provider=okta&startIndex=2&count=1":          {"3", "bob@example.com"},
		"startIndex=0&count=0":                        {"4"},
		"startIndex=9":                                {"4"},
		"provider=entra&field=Department&value=R%26D": {"0"},
	} {
		if got := query(q); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", q, got, want)
		}
	}
	for _, tc := range []struct{ q, msg string }{
		{"disabled=maybe", `disabled must be true or false, not "maybe"`},
		{"field=Department", "needs a value"},
		{"value=x", "value needs a field"},
		{"count=lots", `count must be an integer, not "lots"`},
		{"startIndex=first", `startIndex must be an integer`},
	} {
		status, body := e.do("GET", adminUsers+"?"+tc.q, "")
		wantAdminError(t, status, body, 400, "invalid", tc.msg)
	}
	status, body = e.do("GET", adminUsers+"?provider=nope", "")
	wantAdminError(t, status, body, 404, "not_found", `no provider named "nope"`)

	// One user by SCIM id or Email (case-insensitively).
	for _, k := range []string{ids["bob@example.com"], "BOB@example.com"} {
		u := decodeAdmin[adminapi.DirectoryUser](t, e.mustDo("GET", adminUsers+"/"+url.PathEscape(k), "", 200))
		if u.ID != ids["bob@example.com"] || u.Provider != "okta" || u.Fields["Disabled"] != true || u.Fields["Department"] != "Sales" {
			t.Fatalf("GET %s = %+v", k, u)
		}
	}
	status, body = e.do("GET", adminUsers+"/nobody@example.com", "")
	wantAdminError(t, status, body, 404, "not_found", "nobody@example.com")

	// A new mapping re-derives the provider's users and counts them.
	body = e.mustDo("POST", oktaMappings, `{"scimPath":"addresses[type eq \"work\"].locality","field":"City"}`, 200)
	if changed := decodeAdmin[adminapi.MappingsChanged](t, body); changed.ChangedUsers != 3 {
		t.Fatalf("add City: %s", body)
	}
	if got := query("field=City&value=austin"); !reflect.DeepEqual(got, []string{"3", "ada@example.com", "bob@example.com", "cy@example.com"}) {
		t.Fatalf("City filter: %v", got)
	}
	body = e.mustDo("DELETE", oktaMappings+"?field=City", "", 200)
	if changed := decodeAdmin[adminapi.MappingsChanged](t, body); changed.ChangedUsers != 3 {
		t.Fatalf("remove City: %s", body)
	}
}

// Every new route needs the admin token.
func TestAdminFieldRoutesAuth(t *testing.T) {
	e, _ := newFieldsEnv(t)
	for _, route := range [][2]string{
		{"GET", adminFields}, {"POST", adminFields}, {"DELETE", adminFields + "/Manager"},
		{"GET", oktaMappings}, {"POST", oktaMappings}, {"PUT", oktaMappings}, {"DELETE", oktaMappings + "?field=City"},
		{"POST", oktaMappings + "/preview"}, {"GET", adminapi.Prefix + "/mappings/suggested"},
		{"GET", adminUsers}, {"GET", adminUsers + "/ada@example.com"},
	} {
		status, body := e.doAuth(route[0], route[1], "", "Bearer wrong")
		wantAdminError(t, status, body, http.StatusUnauthorized, "unauthorized", "invalid admin token")
	}
}
