package server_test

import (
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// TestContentPolicyOnBothStores: the same bad values get the same 400 on
// SQLite and on PostgreSQL, where a long userName used to be a 500 (an
// index row too large) on one and a 201 on the other, and a NUL a 201 on
// one and a 400 on the other; nothing is written.
func TestContentPolicyOnBothStores(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			var e *scimEnv
			if store == "sqlite" {
				e = newSCIMEnv(t)
			} else {
				e = newSCIMEnvOn(t, storetest.PostgresDSN(t))
			}
			id := e.createUser("good@example.com")
			gid := e.must(e.do("POST", "/Groups", `{"displayName":"Good"}`), 201).str("id")
			long := strings.Repeat("u", 3000)
			for _, tc := range []struct {
				name, method, path, body, scimType, detail string
			}{
				{"3 kB userName", "POST", "/Users", `{"userName":"` + long + `"}`, "invalidValue", "userName is 3000 bytes long: at most 1024"},
				{"60 kB userName", "POST", "/Users", `{"userName":"` + strings.Repeat("u", 60<<10) + `"}`, "invalidValue", "at most 1024"},
				{"3 kB externalId", "POST", "/Users", `{"userName":"x@example.com","externalId":"` + long + `"}`, "invalidValue", "externalId is 3000 bytes"},
				{"3 kB email", "POST", "/Users", `{"userName":"x@example.com","emails":[{"value":"` + long + `"}]}`, "invalidValue", "emails.value is 3000 bytes"},
				{"NUL in userName", "POST", "/Users", `{"userName":"a\u0000b@example.com"}`, "invalidValue", "NUL"},
				{"NUL in an extension", "POST", "/Users", `{"userName":"y@example.com","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R\u0000D"}}`, "invalidValue", "department holds a NUL"},
				{"invalid UTF-8", "POST", "/Users", "{\"userName\":\"bad\xff\xfe@example.com\"}", "invalidSyntax", "not valid UTF-8 (at byte 16)"},
				{"PUT a long userName", "PUT", "/Users/" + id, `{"userName":"` + long + `"}`, "invalidValue", "userName is 3000"},
				{"PATCH a NUL", "PATCH", "/Users/" + id, `{"Operations":[{"op":"replace","path":"displayName","value":"a\u0000"}]}`, "invalidValue", "NUL"},
				{"3 kB group name", "POST", "/Groups", `{"displayName":"` + long + `"}`, "invalidValue", "displayName is 3000"},
				{"rename a group to 3 kB", "PATCH", "/Groups/" + gid, `{"Operations":[{"op":"replace","value":{"displayName":"` + long + `"}}]}`, "invalidValue", "displayName is 3000"},
				{"a member of 3 kB", "PATCH", "/Groups/" + gid, `{"Operations":[{"op":"add","path":"members","value":[{"value":"` + long + `"}]}]}`, "invalidValue", "members.value is 3000"},
			} {
				r := e.do(tc.method, tc.path, tc.body)
				if r.status != 400 || r.str("scimType") != tc.scimType || !strings.Contains(r.str("detail"), tc.detail) {
					t.Errorf("%s: %d %s %q, want 400 %s %q", tc.name, r.status, r.str("scimType"), r.str("detail"), tc.scimType, tc.detail)
				}
			}
			if r := e.must(e.do("GET", "/Users", ""), 200); r.get("totalResults") != 1.0 {
				t.Errorf("%v users after the refusals, want 1", r.get("totalResults"))
			}
			if r := e.must(e.do("GET", "/Users/"+id, ""), 200); r.str("userName") != "good@example.com" {
				t.Errorf("the user after the refused PUT and PATCH: %s", r.body)
			}

			// A 1 MB userName inside serve's default body limit is refused
			// by the length policy, not by the body limit or the store.
			e.maxBodyBytes = server.DefaultMaxBodyBytes
			e.restart()
			r := e.do("POST", "/Users", `{"userName":"`+strings.Repeat("u", 1<<20)+`"}`)
			if r.status != 400 || r.str("scimType") != "invalidValue" || !strings.Contains(r.str("detail"), "userName is 1048576 bytes long: at most 1024") {
				t.Errorf("1 MB userName: %d %s %q, want 400 invalidValue", r.status, r.str("scimType"), r.str("detail"))
			}
		})
	}
}
