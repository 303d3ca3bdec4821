package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
)

func TestUserLifecycle(t *testing.T) {
	e := newSCIMEnv(t)
	r := e.must(e.do("POST", "/Users", userBody("test.user@okta.local")), 201)
	id := r.str("id")
	if loc := r.header.Get("Location"); loc != e.http.URL+"/scim/v2/Users/"+id {
		t.Errorf("Location = %q", loc)
	}
	if r.str("meta.location") != e.http.URL+"/scim/v2/Users/"+id || r.str("meta.resourceType") != "User" ||
		r.str("meta.created") == "" || r.str("meta.lastModified") == "" || r.str("meta.version") == "" {
		t.Errorf("meta: %v", r.get("meta"))
	}
	if r.get("password") != nil || strings.Contains(string(r.body), "1mz050nq") {
		t.Errorf("password returned: %s", r.body)
	}
	if r.str("externalId") != "00ujl29u0le5T6Aj10h7" || r.str("locale") != "en-US" {
		t.Errorf("attributes lost: %s", r.body)
	}

	// Okta's update: GET, change, PUT the whole body back (id, meta, groups, password included).
	got := e.must(e.do("GET", "/Users/"+id, ""), 200)
	body := strings.Replace(string(got.body), `"givenName":"Test"`, `"givenName":"Another","middleName":"Excited"`, 1)
	body = strings.Replace(body, `"meta":{`, `"password":"TkdFNVdIVkxhM2c9","meta":{"created":"04-12-2018 00:00:00",`, 1)
	r = e.must(e.do("PUT", "/Users/"+id, body), 200)
	if r.str("name.givenName") != "Another" || r.str("name.middleName") != "Excited" || r.str("id") != id {
		t.Errorf("PUT: %s", r.body)
	}
	if r.str("meta.created") != got.str("meta.created") {
		t.Errorf("PUT changed meta.created from %s to %s", got.str("meta.created"), r.str("meta.created"))
	}
	// A PUT without active keeps the status.
	r = e.must(e.do("PUT", "/Users/"+id, `{"userName":"test.user@okta.local","displayName":"No Active"}`), 200)
	if r.get("active") != true || r.get("name") != nil {
		t.Errorf("PUT without active: %s", r.body)
	}

	// Deactivate: path-less replace. The user stays readable.
	r = e.must(e.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`), 200)
	if r.get("active") != false {
		t.Errorf("deactivate: %s", r.body)
	}
	r = e.must(e.do("GET", "/Users/"+id, ""), 200)
	if r.get("active") != false {
		t.Errorf("after deactivate: %s", r.body)
	}
	// Reactivate keeps the id.
	r = e.must(e.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`), 200)
	if r.get("active") != true || r.str("id") != id {
		t.Errorf("reactivate: %s", r.body)
	}
	// Entra: with path, capitalised op, string boolean.
	r = e.must(e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`), 200)
	if r.get("active") != false {
		t.Errorf("entra deactivate: %s", r.body)
	}
	// DELETE removes.
	e.must(e.do("DELETE", "/Users/"+id, ""), 204)
	wantSCIMError(t, e.do("GET", "/Users/"+id, ""), 404, "")
	wantSCIMError(t, e.do("DELETE", "/Users/"+id, ""), 404, "")
}

func TestPasswordIsNeverKept(t *testing.T) {
	e := newSCIMEnv(t)
	id := e.createUser("pw@example.com")
	e.must(e.do("PUT", "/Users/"+id, `{"userName":"pw@example.com","password":"SecretPutPassword1"}`), 200)
	r := e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","value":{"password":"SecretPatchPassword2"}}]}`)
	wantSCIMError(t, r, 400, "mutability")
	if !strings.Contains(r.str("detail"), "Sync Password") {
		t.Errorf("detail does not say to clear Sync Password: %s", r.str("detail"))
	}
	r = e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"password","value":"SecretPatchPassword3"}]}`)
	wantSCIMError(t, r, 400, "mutability")
	e.stop()
	// Neither the database nor the log holds any of the passwords.
	for _, f := range []string{"kacescim.db", "kacescim.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(e.dataDir, f))
		for _, pw := range []string{"1mz050nq", "SecretPutPassword1", "SecretPatchPassword2", "SecretPatchPassword3"} {
			if strings.Contains(string(b), pw) {
				t.Errorf("%s holds the password %s", f, pw)
			}
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, "1mz050nq") || strings.Contains(logs, "SecretPatch") || strings.Contains(logs, e.key) {
		t.Errorf("the log holds a password or the key")
	}
	if !strings.Contains(e.logs.String(), `"provider":"okta"`) {
		t.Errorf("the request log does not name the provider: %s", e.logs.String())
	}
}

func TestAuthErrors(t *testing.T) {
	e := newSCIMEnv(t)
	id := e.createUser("a@example.com")
	wantSCIMError(t, e.doAuth("GET", "/Users", "", ""), 401, "")
	wantSCIMError(t, e.doAuth("GET", "/Users", "", "Bearer wrong"), 401, "")
	wantSCIMError(t, e.doAuth("GET", "/Users", "", "Basic dXNlcjpwYXNz"), 401, "")
	// Okta's header mode: the bare key.
	e.must(e.doAuth("GET", "/Users/"+id, "", e.key), 200)
	e.must(e.doAuth("GET", "/Users/"+id, "", "bearer "+e.key), 200)

	ctx := context.Background()
	dir := e.srv.Directory()
	if _, err := dir.DisableProvider(ctx, "okta"); err != nil {
		t.Fatal(err)
	}
	wantSCIMError(t, e.do("GET", "/Users/"+id, ""), 403, "")
	wantSCIMError(t, e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","value":{"active":false}}]}`), 403, "")
	wantSCIMError(t, e.do("POST", "/Users", userBody("b@example.com")), 403, "")
	_, newKey, err := dir.EnableProvider(ctx, "okta")
	if err != nil || newKey == "" {
		t.Fatalf("enable: %v %q", err, newKey)
	}
	wantSCIMError(t, e.do("GET", "/Users/"+id, ""), 401, "")
	oldKey := e.key
	e.key = newKey
	r := e.must(e.do("GET", "/Users/"+id, ""), 200)
	if r.get("active") != true {
		t.Errorf("the disabled provider's PATCH changed the user: %s", r.body)
	}
	if r := e.must(e.do("GET", "/Users?filter=userName%20eq%20%22b@example.com%22", ""), 200); r.get("totalResults") != 0.0 {
		t.Errorf("the disabled provider's POST created a user")
	}
	_, rotated, err := dir.RotateKey(ctx, "okta", directory.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantSCIMError(t, e.do("GET", "/Users/"+id, ""), 401, "")
	e.key = rotated
	e.must(e.do("GET", "/Users/"+id, ""), 200)
	if strings.Contains(e.logs.String(), oldKey) || strings.Contains(e.logs.String(), rotated) {
		t.Errorf("a key reached the log")
	}
}

func TestErrorStatuses(t *testing.T) {
	e := newSCIMEnv(t)
	id := e.createUser("dup@example.com")
	t.Run("400 invalid JSON", func(t *testing.T) {
		wantSCIMError(t, e.do("POST", "/Users", `{"userName":`), 400, "invalidSyntax")
		wantSCIMError(t, e.do("POST", "/Users", `[1,2]`), 400, "invalidSyntax")
		wantSCIMError(t, e.do("PATCH", "/Users/"+id, `nonsense`), 400, "invalidSyntax")
	})
	t.Run("400 missing userName", func(t *testing.T) {
		wantSCIMError(t, e.do("POST", "/Users", `{"name":{"givenName":"x"}}`), 400, "invalidValue")
		wantSCIMError(t, e.do("PUT", "/Users/"+id, `{"displayName":"x"}`), 400, "invalidValue")
		wantSCIMError(t, e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"remove","path":"userName"}]}`), 400, "invalidValue")
	})
	t.Run("400 wrong types", func(t *testing.T) {
		wantSCIMError(t, e.do("POST", "/Users", `{"userName":"t@x","active":"maybe"}`), 400, "invalidValue")
		wantSCIMError(t, e.do("POST", "/Users", `{"userName":42}`), 400, "invalidValue")
	})
	t.Run("400 bad filter and paging", func(t *testing.T) {
		wantSCIMError(t, e.do("GET", "/Users?filter=userName%20eq", ""), 400, "invalidFilter")
		wantSCIMError(t, e.do("GET", "/Users?filter=nosuch%20eq%20%22x%22", ""), 400, "invalidFilter")
		wantSCIMError(t, e.do("GET", "/Users?count=ten", ""), 400, "invalidValue")
		wantSCIMError(t, e.do("GET", "/Users?startIndex=x", ""), 400, "invalidValue")
	})
	t.Run("404", func(t *testing.T) {
		wantSCIMError(t, e.do("GET", "/Users/nope", ""), 404, "")
		wantSCIMError(t, e.do("PUT", "/Users/nope", userBody("x@y")), 404, "")
		wantSCIMError(t, e.do("PATCH", "/Users/nope", `{"Operations":[{"op":"replace","value":{"active":false}}]}`), 404, "")
		wantSCIMError(t, e.do("GET", "/Groups/nope", ""), 404, "")
		wantSCIMError(t, e.do("GET", "/Nothing", ""), 404, "")
		wantSCIMError(t, e.do("GET", "/Users/a/b", ""), 404, "")
	})
	t.Run("405 before the body is read", func(t *testing.T) {
		for _, p := range []string{"/ServiceProviderConfig", "/ResourceTypes", "/Schemas"} {
			r := e.do("POST", p, "test")
			wantSCIMError(t, r, 405, "")
			if r.header.Get("Allow") != "GET" {
				t.Errorf("%s Allow = %q", p, r.header.Get("Allow"))
			}
		}
		wantSCIMError(t, e.do("DELETE", "/Users", ""), 405, "")
		wantSCIMError(t, e.do("POST", "/Users/"+id, "{}"), 405, "")
	})
	t.Run("409 duplicate userName in any case", func(t *testing.T) {
		wantSCIMError(t, e.do("POST", "/Users", userBody("DUP@Example.COM")), 409, "uniqueness")
		other := e.createUser("other@example.com")
		wantSCIMError(t, e.do("PUT", "/Users/"+other, `{"userName":"Dup@example.com"}`), 409, "uniqueness")
		wantSCIMError(t, e.do("PATCH", "/Users/"+other, `{"Operations":[{"op":"replace","path":"userName","value":"dup@EXAMPLE.com"}]}`), 409, "uniqueness")
	})
	t.Run("413", func(t *testing.T) {
		big := `{"userName":"big@x","title":"` + strings.Repeat("x", 70<<10) + `"}`
		wantSCIMError(t, e.do("POST", "/Users", big), 413, "")
		if r := e.must(e.do("GET", "/Users?filter=userName%20eq%20%22big@x%22", ""), 200); r.get("totalResults") != 0.0 {
			t.Errorf("a 413 body was written")
		}
	})
}

func TestAtomicPatch(t *testing.T) {
	e := newSCIMEnv(t)
	id := e.createUser("atomic@example.com")
	before := e.must(e.do("GET", "/Users/"+id, ""), 200)
	// The first operation is fine, the second fails: nothing may change.
	r := e.do("PATCH", "/Users/"+id, `{"Operations":[
		{"op":"replace","value":{"active":false}},
		{"op":"replace","path":"title","value":"Engineer"},
		{"op":"replace","path":"emails[type eq \"home\"].value","value":"x@y"}]}`)
	wantSCIMError(t, r, 400, "noTarget")
	after := e.must(e.do("GET", "/Users/"+id, ""), 200)
	if string(after.body) != string(before.body) {
		t.Errorf("a failed PATCH changed the user:\nbefore %s\nafter  %s", before.body, after.body)
	}
	// A group PATCH naming an unknown member applies none of its operations.
	uid := e.createUser("member@example.com")
	g := e.must(e.do("POST", "/Groups", `{"displayName":"Atomic","members":[{"value":"`+uid+`"}]}`), 201)
	gid := g.str("id")
	r = e.do("PATCH", "/Groups/"+gid, `{"Operations":[
		{"op":"replace","value":{"displayName":"Renamed"}},
		{"op":"remove","path":"members[value eq \"`+uid+`\"]"},
		{"op":"add","path":"members","value":[{"value":"no-such-user"}]}]}`)
	wantSCIMError(t, r, 400, "invalidValue")
	g2 := e.must(e.do("GET", "/Groups/"+gid, ""), 200)
	if g2.str("displayName") != "Atomic" || g2.str("members.0.value") != uid {
		t.Errorf("a failed group PATCH changed the group: %s", g2.body)
	}
}

func TestPagination(t *testing.T) {
	e := newSCIMEnv(t)
	var ids []string
	for i := range 7 {
		ids = append(ids, e.createUser(fmt.Sprintf("page%d@example.com", i)))
	}
	// Okta's connection test.
	r := e.must(e.do("GET", "/Users?startIndex=1&count=2", ""), 200)
	if r.get("totalResults") != 7.0 || r.get("itemsPerPage") != 2.0 || r.get("startIndex") != 1.0 {
		t.Errorf("page: %s", r.body)
	}
	var seen []string
	for start := 1; start <= 7; start += 3 {
		r := e.must(e.do("GET", fmt.Sprintf("/Users?startIndex=%d&count=3", start), ""), 200)
		for _, u := range r.get("Resources").([]any) {
			seen = append(seen, u.(map[string]any)["id"].(string))
		}
		if r.get("startIndex") != float64(start) {
			t.Errorf("startIndex = %v", r.get("startIndex"))
		}
	}
	if fmt.Sprint(seen) != fmt.Sprint(ids) {
		t.Errorf("paging order %v, want creation order %v", seen, ids)
	}
	if r := e.must(e.do("GET", "/Users?count=0", ""), 200); r.get("totalResults") != 7.0 || len(r.get("Resources").([]any)) != 0 {
		t.Errorf("count=0: %s", r.body)
	}
	if r := e.must(e.do("GET", "/Users?startIndex=0&count=-5", ""), 200); r.get("startIndex") != 1.0 || r.get("itemsPerPage") != 0.0 {
		t.Errorf("startIndex=0&count=-5: %s", r.body)
	}
	if r := e.must(e.do("GET", "/Users?startIndex=100", ""), 200); r.get("totalResults") != 7.0 || r.get("itemsPerPage") != 0.0 {
		t.Errorf("past the end: %s", r.body)
	}
	if r := e.must(e.do("GET", "/Users", ""), 200); r.get("itemsPerPage") != 7.0 {
		t.Errorf("no paging parameters: %s", r.body)
	}
}

func TestLookups(t *testing.T) {
	e := newSCIMEnv(t)
	id := e.createUser("Jane.Doe@Example.com")
	for _, q := range []string{
		`/Users?filter=userName%20eq%20%22jane.doe%40example.com%22`,
		`/Users?filter=userName+eq+%22JANE.DOE%40EXAMPLE.COM%22`,
		`/Users?filter=UserName%20Eq%20%22jane.doe@example.com%22`,
		`/Users?filter=externalId%20eq%20%2200ujl29u0le5T6Aj10h7%22`,
		`/Users?filter=id%20eq%20%22` + id + `%22`,
		`/Users?filter=displayName%20eq%20%22test%20user%22`,
	} {
		r := e.must(e.do("GET", q, ""), 200)
		if r.get("totalResults") != 1.0 || r.str("Resources.0.id") != id {
			t.Errorf("%s: %s", q, r.body)
		}
	}
	// externalId is case-exact.
	if r := e.must(e.do("GET", `/Users?filter=externalId%20eq%20%2200UJL29U0LE5T6AJ10H7%22`, ""), 200); r.get("totalResults") != 0.0 {
		t.Errorf("externalId matched case-insensitively")
	}
	g := e.must(e.do("POST", "/Groups", `{"displayName":"Test SCIMv2","members":[]}`), 201)
	r := e.must(e.do("GET", `/Groups?filter=displayName%20eq%20%22test%20scimv2%22&startIndex=1&count=100`, ""), 200)
	if r.get("totalResults") != 1.0 || r.str("Resources.0.id") != g.str("id") {
		t.Errorf("group displayName eq: %s", r.body)
	}
	wantSCIMError(t, e.do("POST", "/Groups", `{"displayName":"TEST scimv2"}`), 409, "uniqueness")
}

func TestProviderIsolation(t *testing.T) {
	e := newSCIMEnv(t)
	id := e.createUser("shared@example.com")
	_, otherKey, err := e.srv.Directory().AddProvider(context.Background(), "entra", true)
	if err != nil {
		t.Fatal(err)
	}
	other := func(method, path, body string) resp { return e.doAuth(method, path, body, "Bearer "+otherKey) }
	wantSCIMError(t, other("GET", "/Users/"+id, ""), 404, "")
	wantSCIMError(t, other("DELETE", "/Users/"+id, ""), 404, "")
	if r := e.must(other("GET", "/Users", ""), 200); r.get("totalResults") != 0.0 {
		t.Errorf("the other provider sees users: %s", r.body)
	}
	// The same userName may exist under another provider.
	e.must(other("POST", "/Users", userBody("shared@example.com")), 201)
	// Group members must be users of the same provider.
	wantSCIMError(t, other("POST", "/Groups", `{"displayName":"G","members":[{"value":"`+id+`"}]}`), 400, "invalidValue")
	if r := e.must(other("GET", "/Groups", ""), 200); r.get("totalResults") != 0.0 {
		t.Errorf("a refused group was created")
	}
}

func TestProviderCounters(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	p, _ := e.srv.Directory().Provider(ctx, "okta")
	if !p.LastSyncAt.IsZero() || p.SyncedUsers != 0 {
		t.Fatalf("new provider: synced %d, last sync %v", p.SyncedUsers, p.LastSyncAt)
	}
	a := e.createUser("a@example.com")
	e.createUser("b@example.com")
	e.must(e.do("GET", "/Users/"+a, ""), 200)
	p, _ = e.srv.Directory().Provider(ctx, "okta")
	if p.SyncedUsers != 2 || p.LastSyncAt.IsZero() {
		t.Fatalf("synced %d, last sync %v", p.SyncedUsers, p.LastSyncAt)
	}
	last := p.LastSyncAt
	// A failed request is not a sync.
	wantSCIMError(t, e.do("GET", "/Users/nope", ""), 404, "")
	e.must(e.do("DELETE", "/Users/"+a, ""), 204)
	p, _ = e.srv.Directory().Provider(ctx, "okta")
	if p.SyncedUsers != 1 || !p.LastSyncAt.After(last) {
		t.Errorf("after delete: synced %d, last sync %v (was %v)", p.SyncedUsers, p.LastSyncAt, last)
	}
	last = p.LastSyncAt
	wantSCIMError(t, e.do("GET", "/Users/nope", ""), 404, "")
	p, _ = e.srv.Directory().Provider(ctx, "okta")
	if !p.LastSyncAt.Equal(last) {
		t.Errorf("a 404 moved the most recent sync from %v to %v", last, p.LastSyncAt)
	}
}

func TestRestartPersistence(t *testing.T) {
	e := newSCIMEnv(t)
	id := e.createUser("persist@example.com")
	g := e.must(e.do("POST", "/Groups", `{"displayName":"Persist","members":[{"value":"`+id+`","display":"persist@example.com"}]}`), 201)
	e.restart()
	r := e.must(e.do("GET", "/Users/"+id, ""), 200)
	if r.str("userName") != "persist@example.com" || r.str("groups.0.value") != g.str("id") {
		t.Errorf("after restart: %s", r.body)
	}
	r = e.must(e.do("GET", "/Groups/"+g.str("id"), ""), 200)
	if r.str("members.0.value") != id {
		t.Errorf("group after restart: %s", r.body)
	}
	// The admin token survives too.
	b1, err := os.ReadFile(filepath.Join(e.dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	e.restart()
	b2, _ := os.ReadFile(filepath.Join(e.dataDir, "admin-token"))
	if string(b1) != string(b2) {
		t.Errorf("the admin token changed across a restart")
	}
}

func TestDiscovery(t *testing.T) {
	e := newSCIMEnv(t)
	r := e.must(e.do("GET", "/ServiceProviderConfig", ""), 200)
	if r.get("patch.supported") != true || r.get("bulk.supported") != true || r.get("bulk.maxOperations") != 1000.0 || r.get("filter.supported") != true ||
		r.get("changePassword.supported") != false || r.get("authenticationSchemes.0.type") != "oauthbearertoken" {
		t.Errorf("ServiceProviderConfig: %s", r.body)
	}
	r = e.must(e.do("GET", "/ResourceTypes", ""), 200)
	if r.str("Resources.0.endpoint") != "/Users" || r.str("Resources.1.endpoint") != "/Groups" ||
		r.str("Resources.0.schemaExtensions.0.schema") != "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" {
		t.Errorf("ResourceTypes: %s", r.body)
	}
	e.must(e.do("GET", "/ResourceTypes/User", ""), 200)
	r = e.must(e.do("GET", "/Schemas", ""), 200)
	if r.get("totalResults") != 4.0 || !strings.Contains(string(r.body), "User Account") || !strings.Contains(string(r.body), "urn:kacescim:params:scim:schemas:extension:dialect:2.0:ServiceProviderConfig") {
		t.Errorf("Schemas: %s", r.body)
	}
	if strings.Contains(string(r.body), `"password"`) {
		t.Errorf("/Schemas lists password, which is never accepted")
	}
	r = e.must(e.do("GET", "/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", ""), 200)
	if r.str("name") != "EnterpriseUser" {
		t.Errorf("enterprise schema: %s", r.body)
	}
	wantSCIMError(t, e.do("GET", "/Schemas/urn:nope", ""), 404, "")
}

func TestEnterpriseExtension(t *testing.T) {
	e := newSCIMEnv(t)
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","urn:okta:custom:1.0"],
		"userName":"ent@example.com","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","organization":"Quest","employeeNumber":"701984","manager":{"value":"m-1"}},
		"phoneNumbers":[{"value":"555-0100","type":"mobile"}],"addresses":[{"type":"work","locality":"Austin","region":"TX"}]}`
	r := e.must(e.do("POST", "/Users", body), 201)
	id := r.str("id")
	ext := "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	m, _ := r.json[ext].(map[string]any)
	if m["department"] != "R&D" || fmt.Sprint(m["manager"]) != "map[value:m-1]" ||
		!strings.Contains(fmt.Sprint(r.get("schemas")), ext) || strings.Contains(fmt.Sprint(r.get("schemas")), "okta") {
		t.Errorf("enterprise: %s", r.body)
	}
	r = e.must(e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"`+ext+`:department","value":"Sales"}]}`), 200)
	if m, _ := r.json[ext].(map[string]any); m["department"] != "Sales" {
		t.Errorf("patch enterprise: %s", r.body)
	}
}

func TestUnauthenticatedHealth(t *testing.T) {
	e := newSCIMEnv(t)
	res, err := http.Get(e.http.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("healthz: %d", res.StatusCode)
	}
}
