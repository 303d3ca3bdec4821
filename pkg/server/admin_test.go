package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

// lockedBuffer collects the server log, which handlers write concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type adminEnv struct {
	t     *testing.T
	srv   *server.Server
	http  *httptest.Server
	token string
	log   *lockedBuffer
}

// newAdminEnv opens a real server (SQLite in a temp data dir) behind
// httptest. cfg's DataDir and Logger are filled in.
func newAdminEnv(t *testing.T, cfg server.Config, opts ...servertest.Option) *adminEnv {
	t.Helper()
	logs := &lockedBuffer{}
	cfg.DataDir = t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s, err := servertest.Open(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	token := cfg.AdminToken
	if token == "" {
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, adminapi.TokenFile))
		if err != nil {
			t.Fatal(err)
		}
		token = strings.TrimSpace(string(b))
	}
	return &adminEnv{t: t, srv: s, http: hs, token: token, log: logs}
}

// do sends an admin request with the admin token and returns the status
// and body.
func (e *adminEnv) do(method, path, body string) (int, []byte) {
	e.t.Helper()
	return e.doAuth(method, path, body, "Bearer "+e.token)
}

func (e *adminEnv) doAuth(method, path, body, authorization string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent && resp.Header.Get("Content-Type") != "application/json" {
		e.t.Fatalf("%s %s: Content-Type = %q, want application/json", method, path, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, b
}

func decodeAdmin[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// wantError checks an ErrorBody answer.
func wantAdminError(t *testing.T, status int, body []byte, wantStatus int, code, msgContains string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status = %d, want %d (body %s)", status, wantStatus, body)
	}
	eb := decodeAdmin[adminapi.ErrorBody](t, body)
	if eb.Error.Code != code || !strings.Contains(eb.Error.Message, msgContains) {
		t.Fatalf("error = %+v, want code %q and a message containing %q", eb.Error, code, msgContains)
	}
}

const adminProviders = adminapi.Prefix + "/providers"

func TestAdminAuth(t *testing.T) {
	e := newAdminEnv(t, server.Config{})
	for _, tc := range []struct {
		authorization, msg string
	}{
		{"", "missing admin token: send Authorization: Bearer <admin token>"},
		{"Bearer wrong", "invalid admin token"},
		{"Bearer " + e.token + "x", "invalid admin token"},
		{"Basic " + e.token, "malformed Authorization header"},
		{e.token, "malformed Authorization header"},
	} {
		for _, route := range [][2]string{{"GET", adminProviders}, {"POST", adminProviders + "/Okta/enable"}, {"GET", adminapi.Prefix + "/nothing"}} {
			status, body := e.doAuth(route[0], route[1], "", tc.authorization)
			wantAdminError(t, status, body, http.StatusUnauthorized, "unauthorized", tc.msg)
		}
	}
	// The scheme is case-insensitive.
	if status, body := e.doAuth("GET", adminProviders, "", "bearer "+e.token); status != http.StatusOK {
		t.Fatalf("lower-case bearer: %d %s", status, body)
	}
	if strings.Contains(e.log.String(), e.token) {
		t.Fatal("the admin token appears in the log")
	}
}

func TestAdminConfiguredToken(t *testing.T) {
	e := newAdminEnv(t, server.Config{AdminToken: "s3cret-admin-token"})
	if status, body := e.doAuth("GET", adminProviders, "", "Bearer s3cret-admin-token"); status != http.StatusOK {
		t.Fatalf("configured token refused: %d %s", status, body)
	}
}

func TestAdminProviderLifecycle(t *testing.T) {
	e := newAdminEnv(t, server.Config{})
	scimURL := e.http.URL + "/scim/v2"

	// An empty list is [] rather than null.
	status, body := e.do("GET", adminProviders, "")
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"providers":[]`)) {
		t.Fatalf("empty list: %d %s", status, body)
	}

	status, body = e.do("POST", adminProviders, `{"name":"Okta","enabled":true}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	created := decodeAdmin[adminapi.ProviderKeyResponse](t, body)
	key := created.Key
	p := created.Provider
	if !strings.HasPrefix(key, "kcs_") || len(key) != 47 {
		t.Fatalf("key = %q", key)
	}
	if p.Name != "Okta" || !p.Enabled || !p.HasKey || p.KeyMasked != "kcs_••••••••"+key[len(key)-4:] || p.SCIMURL != scimURL || p.ID == "" || p.LastSyncAt != nil || p.CreatedAt.IsZero() {
		t.Fatalf("created provider = %+v", p)
	}
	if !bytes.Contains(body, []byte(`"lastSyncAt":null`)) {
		t.Fatalf("lastSyncAt is not null: %s", body)
	}
	if got, err := e.srv.Directory().Authenticate(context.Background(), "Bearer "+key); err != nil || got.Name != "Okta" {
		t.Fatalf("the returned key does not authenticate: %v", err)
	}

	status, body = e.do("POST", adminProviders, `{"name":"Entra ID"}`)
	if status != http.StatusCreated {
		t.Fatalf("create disabled: %d %s", status, body)
	}
	if bytes.Contains(body, []byte(`"key"`)) || bytes.Contains(body, []byte(`"keyMasked"`)) {
		t.Fatalf("a disabled provider got a key: %s", body)
	}

	status, body = e.do("POST", adminProviders, `{"name":"okta","enabled":true}`)
	wantAdminError(t, status, body, http.StatusConflict, "conflict", `a provider named "okta" already exists`)
	status, body = e.do("POST", adminProviders, `{"name":"a/b"}`)
	wantAdminError(t, status, body, http.StatusBadRequest, "invalid", "use only letters, digits, spaces and - _ .")

	status, body = e.do("GET", adminProviders, "")
	list := decodeAdmin[adminapi.ProviderList](t, body)
	if status != http.StatusOK || len(list.Providers) != 2 || list.Providers[0].Name != "Entra ID" || list.Providers[1].Name != "Okta" {
		t.Fatalf("list: %d %s", status, body)
	}

	entra := adminProviders + "/" + url.PathEscape("Entra ID")
	status, body = e.do("GET", entra, "")
	if got := decodeAdmin[adminapi.Provider](t, body); status != http.StatusOK || got.Name != "Entra ID" || got.Enabled || got.HasKey || got.SCIMURL != scimURL {
		t.Fatalf("get: %d %s", status, body)
	}

	status, body = e.do("POST", entra+"/rotate-key", "")
	wantAdminError(t, status, body, http.StatusBadRequest, "invalid", "provider Entra ID is disabled: enable it to get a new key")

	status, body = e.do("POST", entra+"/enable", "")
	enabled := decodeAdmin[adminapi.ProviderKeyResponse](t, body)
	if status != http.StatusOK || !enabled.Provider.Enabled || !strings.HasPrefix(enabled.Key, "kcs_") {
		t.Fatalf("enable: %d %s", status, body)
	}
	status, body = e.do("POST", entra+"/enable", "")
	if again := decodeAdmin[adminapi.ProviderKeyResponse](t, body); status != http.StatusOK || again.Key != "" || !again.Provider.Enabled {
		t.Fatalf("enable twice: %d %s", status, body)
	}

	status, body = e.do("POST", adminProviders+"/Okta/disable", "")
	if got := decodeAdmin[adminapi.ProviderKeyResponse](t, body); status != http.StatusOK || got.Provider.Enabled || got.Key != "" || !got.Provider.HasKey {
		t.Fatalf("disable: %d %s", status, body)
	}
	status, body = e.do("POST", adminProviders+"/okta/enable", "")
	reenabled := decodeAdmin[adminapi.ProviderKeyResponse](t, body)
	if status != http.StatusOK || reenabled.Key == "" || reenabled.Key == key {
		t.Fatalf("re-enable: %d %s", status, body)
	}
	status, body = e.do("POST", adminProviders+"/Okta/rotate-key", "")
	rotated := decodeAdmin[adminapi.ProviderKeyResponse](t, body)
	if status != http.StatusOK || rotated.Key == "" || rotated.Key == reenabled.Key || rotated.Provider.KeyMasked != "kcs_••••••••"+rotated.Key[len(rotated.Key)-4:] {
		t.Fatalf("rotate: %d %s", status, body)
	}

	status, body = e.do("DELETE", adminProviders+"/Okta", "")
	if status != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("delete: %d %s", status, body)
	}
	status, body = e.do("GET", adminProviders+"/Okta", "")
	wantAdminError(t, status, body, http.StatusNotFound, "not_found", `no provider named "Okta"`)
	status, body = e.do("DELETE", adminProviders+"/Okta", "")
	wantAdminError(t, status, body, http.StatusNotFound, "not_found", `no provider named "Okta"`)
	for _, verb := range []string{"enable", "disable", "rotate-key"} {
		status, body = e.do("POST", adminProviders+"/Okta/"+verb, "")
		wantAdminError(t, status, body, http.StatusNotFound, "not_found", `no provider named "Okta"`)
	}

	status, body = e.do("GET", adminapi.Prefix+"/nothing", "")
	wantAdminError(t, status, body, http.StatusNotFound, "not_found", "no admin endpoint GET /admin/v1/nothing")

	// The request log names the provider, and never a key.
	logs := e.log.String()
	if !strings.Contains(logs, `provider="Entra ID"`) || !strings.Contains(logs, "provider=Okta") {
		t.Fatalf("request log does not name the providers:\n%s", logs)
	}
	for _, k := range []string{key, enabled.Key, reenabled.Key, rotated.Key} {
		if strings.Contains(logs, k) {
			t.Fatal("a security key appears in the log")
		}
	}
}

func TestAdminBadBodies(t *testing.T) {
	e := newAdminEnv(t, server.Config{MaxBodyBytes: 256})
	for _, tc := range []struct{ body, msg string }{
		{"", "request body is empty"},
		{"   ", "request body is empty"},
		{`{"name":`, "invalid JSON in request body: the body ends in the middle of a value"},
		{`{"name":"Okta",}`, "invalid JSON in request body: invalid character '}'"},
		{`{"name":42}`, `invalid JSON in request body: field "name" must be a string, not a number`},
		{`{"name":"Okta","enabeld":true}`, `invalid JSON in request body: unknown field "enabeld"`},
		{`{"name":"Okta"} {}`, "unexpected data after the object"},
		{`["Okta"]`, "invalid JSON in request body: expected a adminapi.CreateProviderRequest, not a array"},
	} {
		status, body := e.do("POST", adminProviders, tc.body)
		wantAdminError(t, status, body, http.StatusBadRequest, "invalid", tc.msg)
	}
	big := `{"name":"` + strings.Repeat("a", 300) + `"}`
	status, body := e.do("POST", adminProviders, big)
	wantAdminError(t, status, body, http.StatusRequestEntityTooLarge, "invalid", "larger than the 256-byte limit")

	// Nothing was created by any of them.
	_, body = e.do("GET", adminProviders, "")
	if list := decodeAdmin[adminapi.ProviderList](t, body); len(list.Providers) != 0 {
		t.Fatalf("bad bodies created providers: %s", body)
	}
}

func TestAdminPublicURL(t *testing.T) {
	e := newAdminEnv(t, server.Config{PublicURL: "https://scim.example.com/kace/"})
	status, body := e.do("POST", adminProviders, `{"name":"Okta","enabled":true}`)
	if got := decodeAdmin[adminapi.ProviderKeyResponse](t, body); status != http.StatusCreated || got.Provider.SCIMURL != "https://scim.example.com/kace/scim/v2" {
		t.Fatalf("create: %d %s", status, body)
	}
}

// An unexpected failure is logged in full and answered as "internal error".
func TestAdminInternalError(t *testing.T) {
	e := newAdminEnv(t, server.Config{})
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	status, body := e.do("GET", adminProviders, "")
	wantAdminError(t, status, body, http.StatusInternalServerError, "internal", "internal error")
	if eb := decodeAdmin[adminapi.ErrorBody](t, body); eb.Error.Message != "internal error" {
		t.Fatalf("internal details leaked: %s", body)
	}
	if logs := e.log.String(); !strings.Contains(logs, "admin request failed") || !strings.Contains(logs, "error=") {
		t.Fatalf("the internal error was not logged:\n%s", logs)
	}
}
