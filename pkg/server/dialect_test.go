package server_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
)

func TestRateLimit(t *testing.T) {
	e := newSCIMEnv(t)
	rate := 2.0
	if _, err := e.srv.Directory().SetProviderOptions(context.Background(), "okta", directory.ProviderOptions{RateLimit: &rate}); err != nil {
		t.Fatal(err)
	}
	var limited resp
	for range 10 {
		if r := e.do("GET", "/Users", ""); r.status == 429 {
			limited = r
			break
		}
	}
	wantSCIMError(t, limited, 429, "")
	if n, err := strconv.Atoi(limited.header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q is not a positive integer", limited.header.Get("Retry-After"))
	}
	// Lifting the limit takes effect on the next request.
	zero := 0.0
	e.srv.Directory().SetProviderOptions(context.Background(), "okta", directory.ProviderOptions{RateLimit: &zero})
	for range 20 {
		e.must(e.do("GET", "/Users", ""), 200)
	}
}

func TestStrictDialect(t *testing.T) {
	e := newSCIMEnv(t)
	id := e.createUser("strict@example.com")
	entra := []struct{ method, path, body string }{
		{"PATCH", "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":false}]}`},
		{"PATCH", "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":"False"}]}`},
		{"POST", "/Users", `{"userName":"s2@example.com","active":"True"}`},
		{"POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"G"}`},
		{"PATCH", "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`},
	}
	// Lenient by default: Entra's dialect is accepted.
	for _, c := range entra {
		if r := e.do(c.method, c.path, c.body); r.status >= 300 {
			t.Errorf("lenient %s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	on := true
	if _, err := e.srv.Directory().SetProviderOptions(context.Background(), "okta", directory.ProviderOptions{Strict: &on}); err != nil {
		t.Fatal(err)
	}
	e.must(e.do("DELETE", "/Users?filter=x", ""), 405)
	for _, c := range entra {
		if r := e.do(c.method, c.path, c.body); r.status != 400 {
			t.Errorf("strict %s %s: %d, want 400: %s", c.method, c.path, r.status, r.body)
		}
	}
	// RFC 7644 requests still work in strict mode.
	e.must(e.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`), 200)
}
