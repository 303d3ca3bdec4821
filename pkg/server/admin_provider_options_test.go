package server_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/server"
)

// TestAdminProviderOptions sets the dialect and rate limit at creation and
// with PATCH, and checks that they reach the directory.
func TestAdminProviderOptions(t *testing.T) {
	e := newAdminEnv(t, server.Config{})
	ctx := context.Background()

	// Left out, the options are lenient and unlimited, and still on the wire.
	body := e.mustDo("POST", adminProviders, `{"name":"Okta","enabled":true}`, http.StatusCreated)
	if p := decodeAdmin[adminapi.ProviderKeyResponse](t, body).Provider; p.Strict || p.RateLimit != 0 {
		t.Fatalf("defaults: %s", body)
	}
	if !bytes.Contains(body, []byte(`"strict":false`)) || !bytes.Contains(body, []byte(`"rateLimit":0`)) {
		t.Fatalf("the options are missing from %s", body)
	}

	body = e.mustDo("POST", adminProviders, `{"name":"Entra ID","strict":true,"rateLimit":2.5}`, http.StatusCreated)
	if p := decodeAdmin[adminapi.ProviderKeyResponse](t, body).Provider; !p.Strict || p.RateLimit != 2.5 {
		t.Fatalf("create with options: %s", body)
	}
	entra := adminProviders + "/" + url.PathEscape("Entra ID")
	if p := decodeAdmin[adminapi.Provider](t, e.mustDo("GET", entra, "", http.StatusOK)); !p.Strict || p.RateLimit != 2.5 {
		t.Fatalf("get after create: %+v", p)
	}
	if p, err := e.srv.Directory().Provider(ctx, "Entra ID"); err != nil || !p.Strict || p.RateLimit != 2.5 {
		t.Fatalf("stored provider = %+v, %v", p, err)
	}
	list := decodeAdmin[adminapi.ProviderList](t, e.mustDo("GET", adminProviders, "", http.StatusOK))
	if len(list.Providers) != 2 || !list.Providers[0].Strict || list.Providers[0].RateLimit != 2.5 || list.Providers[1].Strict {
		t.Fatalf("list: %+v", list.Providers)
	}

	// An invalid rate limit creates nothing.
	status, body := e.do("POST", adminProviders, `{"name":"Google","rateLimit":-1}`)
	wantAdminError(t, status, body, http.StatusBadRequest, "invalid", "the rate limit must be between 0 (no limit) and 100000 requests per second")
	status, body = e.do("GET", adminProviders+"/Google", "")
	wantAdminError(t, status, body, http.StatusNotFound, "not_found", `no provider named "Google"`)

	// PATCH changes only the fields present: false and 0 are values.
	p := decodeAdmin[adminapi.Provider](t, e.mustDo("PATCH", adminProviders+"/okta", `{"rateLimit":50}`, http.StatusOK))
	if p.Name != "Okta" || p.Strict || p.RateLimit != 50 || !p.Enabled || !p.HasKey || p.UpdatedAt.Before(p.CreatedAt) {
		t.Fatalf("PATCH rateLimit: %+v", p)
	}
	p = decodeAdmin[adminapi.Provider](t, e.mustDo("PATCH", adminProviders+"/Okta", `{"strict":true}`, http.StatusOK))
	if !p.Strict || p.RateLimit != 50 {
		t.Fatalf("PATCH strict: %+v", p)
	}
	p = decodeAdmin[adminapi.Provider](t, e.mustDo("PATCH", entra, `{"strict":false,"rateLimit":0}`, http.StatusOK))
	if p.Strict || p.RateLimit != 0 {
		t.Fatalf("PATCH both to their zero values: %+v", p)
	}
	if p, err := e.srv.Directory().Provider(ctx, "Entra ID"); err != nil || p.Strict || p.RateLimit != 0 {
		t.Fatalf("stored provider after PATCH = %+v, %v", p, err)
	}

	// A PATCH that would change nothing says what can be changed.
	for _, tc := range []struct{ body, msg string }{
		{`{}`, "nothing to change: set strict (true or false), rateLimit (SCIM requests per second, 0 for no limit) or both"},
		{`{"strict":null}`, "nothing to change: set strict"},
		{"", "request body is empty: send a JSON object with strict (true or false), rateLimit"},
		{`{"enabled":true}`, `unknown field "enabled"`},
		{`{"strict":"true"}`, `field "strict" must be a bool, not a string`},
		{`{"rateLimit":100001}`, "the rate limit must be between 0 (no limit) and 100000 requests per second"},
		{`{"strict":true,"rateLimit":-0.5}`, "the rate limit must be between 0"},
	} {
		status, body := e.do("PATCH", adminProviders+"/Okta", tc.body)
		wantAdminError(t, status, body, http.StatusBadRequest, "invalid", tc.msg)
	}
	// None of the refused PATCHes changed anything, not even in part.
	if p := decodeAdmin[adminapi.Provider](t, e.mustDo("GET", adminProviders+"/Okta", "", http.StatusOK)); !p.Strict || p.RateLimit != 50 {
		t.Fatalf("a refused PATCH changed the provider: %+v", p)
	}

	status, body = e.do("PATCH", adminProviders+"/Nope", `{"strict":true}`)
	wantAdminError(t, status, body, http.StatusNotFound, "not_found", `no provider named "Nope"`)
	status, body = e.doAuth("PATCH", adminProviders+"/Okta", `{"strict":false}`, "Bearer wrong")
	wantAdminError(t, status, body, http.StatusUnauthorized, "unauthorized", "invalid admin token")
}
