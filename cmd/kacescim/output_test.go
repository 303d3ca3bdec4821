package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	goldenfile "github.com/kacescim/kacescim/pkg/golden"
)

// now is the fixed clock of the output tests.
var now = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

const (
	testToken = "kca_test-admin-token"
	testKey   = "kcs_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
)

func ptr[T any](v T) *T { return &v }

// fakeAdminAPI serves a fixed admin API, so that output can be compared
// byte for byte.
func fakeAdminAPI(t *testing.T) *httptest.Server {
	t.Helper()
	okta := adminapi.Provider{
		ID: "7d0c4e1e-8d4a-4f57-9a51-0c3bb5f0a001", Name: "Okta", Enabled: true, HasKey: true,
		KeyMasked: "kcs_••••••••EFG1", SCIMURL: "https://scim.example.com/scim/v2", Strict: true, RateLimit: 50, SyncedUsers: 1234,
		LastSyncAt: ptr(now.Add(-5 * time.Minute)), CreatedAt: now.Add(-40 * 24 * time.Hour), UpdatedAt: now.Add(-time.Hour),
		Keys: []adminapi.Key{
			{ID: "kq7m2x9fa", Masked: "kcs_••••••••Zz09", State: "grace", CreatedAt: now.Add(-40 * 24 * time.Hour),
				ExpiresAt: ptr(now.Add(20 * time.Hour)), ReplacedAt: ptr(now.Add(-4 * time.Hour)), LastUsedAt: ptr(now.Add(-5 * time.Minute))},
			{ID: "kb4n8r2ce", Masked: "kcs_••••••••EFG1", State: "active", CreatedAt: now.Add(-4 * time.Hour),
				ExpiresAt: ptr(now.Add(90 * 24 * time.Hour))},
		},
	}
	entra := adminapi.Provider{
		ID: "1f6f2a0c-2b7e-4c1e-8a3e-8f8d3c0b0002", Name: "Entra ID", SCIMURL: "https://scim.example.com/scim/v2",
		CreatedAt: now.Add(-2 * time.Hour), UpdatedAt: now.Add(-2 * time.Hour),
	}
	byName := map[string]adminapi.Provider{"okta": okta, "entra id": entra}
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	find := func(w http.ResponseWriter, r *http.Request) (adminapi.Provider, bool) {
		p, ok := byName[strings.ToLower(r.PathValue("name"))]
		if !ok {
			writeJSON(w, 404, adminapi.ErrorBody{Error: adminapi.Error{Code: "not_found", Message: `no provider named "` + r.PathValue("name") + `"`}})
		}
		return p, ok
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/v1/providers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, adminapi.ProviderList{Providers: []adminapi.Provider{entra, okta}})
	})
	mux.HandleFunc("POST /admin/v1/providers", func(w http.ResponseWriter, r *http.Request) {
		var req adminapi.CreateProviderRequest
		json.NewDecoder(r.Body).Decode(&req)
		p := adminapi.Provider{ID: "9b2f0c5e-0000-4000-8000-000000000003", Name: req.Name, Enabled: req.Enabled,
			SCIMURL: okta.SCIMURL, Strict: req.Strict, RateLimit: req.RateLimit, CreatedAt: now, UpdatedAt: now}
		resp := adminapi.ProviderKeyResponse{Provider: p}
		if req.Enabled {
			resp.Provider.HasKey, resp.Provider.KeyMasked, resp.Key = true, "kcs_••••••••DEFG", testKey
		}
		writeJSON(w, 201, resp)
	})
	mux.HandleFunc("GET /admin/v1/providers/{name}", func(w http.ResponseWriter, r *http.Request) {
		if p, ok := find(w, r); ok {
			writeJSON(w, 200, p)
		}
	})
	mux.HandleFunc("PATCH /admin/v1/providers/{name}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := find(w, r)
		if !ok {
			return
		}
		var req adminapi.UpdateProviderRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.Strict != nil {
			p.Strict = *req.Strict
		}
		if req.RateLimit != nil {
			p.RateLimit = *req.RateLimit
		}
		p.UpdatedAt = now
		writeJSON(w, 200, p)
	})
	mux.HandleFunc("POST /admin/v1/providers/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := find(w, r)
		if !ok {
			return
		}
		resp := adminapi.ProviderKeyResponse{Provider: p}
		switch r.PathValue("action") {
		case "enable":
			if !p.Enabled {
				resp.Provider.Enabled, resp.Provider.HasKey, resp.Provider.KeyMasked, resp.Key = true, true, "kcs_••••••••DEFG", testKey
			}
		case "disable":
			resp.Provider.Enabled = false
		case "rotate-key":
			if !p.Enabled {
				writeJSON(w, 400, adminapi.ErrorBody{Error: adminapi.Error{Code: "invalid", Message: "provider " + p.Name + " is disabled: enable it to get a new key"}})
				return
			}
			resp.Provider.KeyMasked, resp.Key = "kcs_••••••••DEFG", testKey
			var req adminapi.NewKeyRequest
			json.NewDecoder(r.Body).Decode(&req)
			old := adminapi.Key{ID: "kb4n8r2ce", Masked: "kcs_••••••••EFG1", State: "grace", CreatedAt: now.Add(-4 * time.Hour),
				ExpiresAt: ptr(now.Add(24 * time.Hour)), ReplacedAt: ptr(now)}
			resp.Provider.Keys = []adminapi.Key{old, {ID: "kd3f5h7jm", Masked: "kcs_••••••••DEFG", State: "active", CreatedAt: now}}
			if req.GraceSeconds != nil && *req.GraceSeconds == 0 {
				resp.Provider.Keys = resp.Provider.Keys[1:]
			}
		}
		writeJSON(w, 200, resp)
	})
	mux.HandleFunc("GET /admin/v1/providers/{name}/keys", func(w http.ResponseWriter, r *http.Request) {
		if p, ok := find(w, r); ok {
			writeJSON(w, 200, adminapi.KeyList{Keys: p.Keys})
		}
	})
	mux.HandleFunc("DELETE /admin/v1/providers/{name}/keys/{id}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := find(w, r)
		if !ok {
			return
		}
		i := slices.IndexFunc(p.Keys, func(k adminapi.Key) bool { return k.ID == r.PathValue("id") })
		if i < 0 {
			writeJSON(w, 404, adminapi.ErrorBody{Error: adminapi.Error{Code: "not_found",
				Message: "provider " + p.Name + ` has no key "` + r.PathValue("id") + `": kacescim provider keys ` + p.Name + " lists them"}})
			return
		}
		p.Keys = slices.Delete(slices.Clone(p.Keys), i, i+1)
		writeJSON(w, 200, adminapi.ProviderKeyResponse{Provider: p})
	})
	mux.HandleFunc("DELETE /admin/v1/providers/{name}", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := find(w, r); ok {
			w.WriteHeader(http.StatusNoContent)
		}
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			writeJSON(w, 401, adminapi.ErrorBody{Error: adminapi.Error{Code: "unauthorized", Message: "invalid admin token"}})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// cliResult is what one command invocation produced.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the command tree in-process, as run() does, over buffers
// whose TTY switch is tty. Call isolateEnv first.
func runCLI(t *testing.T, tty bool, args ...string) cliResult {
	t.Helper()
	return runCLIInput(t, cliInput{stdoutTTY: tty}, args...)
}

// cliInput is what a command reads: stdin and whether it is a terminal,
// and whether stdout is one.
type cliInput struct {
	stdin               string
	stdinTTY, stdoutTTY bool
	width               int // the terminal's columns (0: unknown)
}

// runCLIInput is runCLI with stdin.
func runCLIInput(t *testing.T, in cliInput, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	g := &globalOptions{
		IO:       TestIO(strings.NewReader(in.stdin), &out, &errb),
		Now:      func() time.Time { return now },
		Location: time.UTC,
		Version:  "test",
		Build:    testBuild,
	}
	g.IO.SetStdoutTTY(in.stdoutTTY)
	g.IO.SetStdinTTY(in.stdinTTY)
	g.IO.SetTerminalWidth(in.width)
	root := NewCmdRoot(g)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(context.Background())
	code := exitCode(g, cmd, err)
	return cliResult{stdout: out.String(), stderr: errb.String(), code: code}
}

// isolateEnv keeps the developer's own KACESCIM_* settings, config file
// and data directory out of a test. Empty variables count as unset.
func isolateEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, envPrefix+"_") {
			t.Setenv(k, "")
		}
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_DATA_HOME", t.TempDir())
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", "golden", name), got)
}

// TestOutputGolden renders every provider verb on a terminal, piped and as
// JSON, against a fixed admin API and clock.
func TestOutputGolden(t *testing.T) {
	isolateEnv(t)
	srv := fakeAdminAPI(t)
	conn := []string{"--server", srv.URL, "--token", testToken}
	for _, tc := range []struct {
		name string
		tty  bool
		args []string
	}{
		{"list.tty", true, []string{"provider", "list"}},
		{"list.piped", false, []string{"provider", "list"}},
		{"list.json", false, []string{"provider", "list", "--output", "json"}},
		{"list.json.tty", true, []string{"provider", "list", "-o", "json"}},
		{"show.tty", true, []string{"provider", "show", "Okta"}},
		{"show.piped", false, []string{"provider", "show", "Okta"}},
		{"show-hint.piped", false, []string{"provider", "show", "okta", "--show-key-hint"}},
		{"show-nokey.tty", true, []string{"provider", "show", "Entra ID"}},
		{"show.json", false, []string{"provider", "show", "Okta", "--output", "json"}},
		{"show-hint.json", false, []string{"provider", "show", "Okta", "--show-key-hint", "--output", "json"}},
		{"add-enabled.tty", true, []string{"provider", "add", "Okta 2", "--enabled"}},
		{"add-enabled.piped", false, []string{"provider", "add", "Okta2", "--enabled"}},
		{"add-enabled.json", false, []string{"provider", "add", "Okta2", "--enabled", "--output", "json"}},
		{"add-disabled.piped", false, []string{"provider", "add", "Entra ID 2"}},
		{"add-options.tty", true, []string{"provider", "add", "Okta 3", "--enabled", "--strict", "--rate-limit", "12.5"}},
		{"add-options.piped", false, []string{"provider", "add", "Entra3", "--strict", "--rate-limit", "50"}},
		{"add-options.json", false, []string{"provider", "add", "Entra3", "--strict", "--rate-limit", "50", "-o", "json"}},
		{"set.tty", true, []string{"provider", "set", "Entra ID", "--strict", "--rate-limit", "20"}},
		{"set.piped", false, []string{"provider", "set", "okta", "--strict=false", "--rate-limit", "0"}},
		{"set-rate-limit.piped", false, []string{"provider", "set", "Okta", "--rate-limit", "0.5"}},
		{"set.json", false, []string{"provider", "set", "Okta", "--strict=false", "-o", "json"}},
		{"add-disabled.json", false, []string{"provider", "add", "Entra2", "--output", "json"}},
		{"enable.piped", false, []string{"provider", "enable", "Entra ID"}},
		{"enable-again.piped", false, []string{"provider", "enable", "Okta"}},
		{"enable.json", false, []string{"provider", "enable", "Entra ID", "-o", "json"}},
		{"disable.piped", false, []string{"provider", "disable", "Okta"}},
		{"disable.json", false, []string{"provider", "disable", "Okta", "-o", "json"}},
		{"rotate-key.tty", true, []string{"provider", "rotate-key", "Okta"}},
		{"rotate-key.piped", false, []string{"provider", "rotate-key", "Okta"}},
		{"rotate-key.json", false, []string{"provider", "rotate-key", "Okta", "-o", "json"}},
		{"rotate-key-nograce.piped", false, []string{"provider", "rotate-key", "Okta", "--grace", "0"}},
		{"keys.tty", true, []string{"provider", "keys", "Okta"}},
		{"keys.piped", false, []string{"provider", "keys", "Okta"}},
		{"keys.json", false, []string{"provider", "keys", "Okta", "-o", "json"}},
		{"revoke-key.piped", false, []string{"provider", "revoke-key", "Okta", "kq7m2x9fa"}},
		{"remove.piped", false, []string{"provider", "remove", "Okta", "--yes"}},
		{"remove.json", false, []string{"provider", "remove", "Okta", "--yes", "-o", "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.tty, append(tc.args, conn...)...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if strings.Contains(r.stdout, "\x1b[") {
				t.Errorf("escape codes without colour:\n%q", r.stdout)
			}
			golden(t, tc.name+".golden", r.stdout)
			if strings.HasSuffix(tc.name, ".json") || strings.HasSuffix(tc.name, ".json.tty") {
				if !json.Valid([]byte(r.stdout)) {
					t.Errorf("not JSON:\n%s", r.stdout)
				}
			}
		})
	}
}

// TestErrorsGolden checks what a person reads on stderr, and the exit
// status, for the usual mistakes.
func TestErrorsGolden(t *testing.T) {
	isolateEnv(t)
	srv := fakeAdminAPI(t)
	conn := []string{"--server", srv.URL, "--token", testToken}
	for _, tc := range []struct {
		name string
		code int
		args []string
	}{
		{"not-found", exitError, append([]string{"provider", "show", "Nope"}, conn...)},
		{"rotate-disabled", exitError, append([]string{"provider", "rotate-key", "Entra ID"}, conn...)},
		{"bad-token", exitAuth, []string{"provider", "list", "--server", srv.URL, "--token", "wrong"}},
		{"remove-without-yes", exitError, append([]string{"provider", "remove", "Entra ID"}, conn...)},
		{"missing-name", exitUsage, append([]string{"provider", "show"}, conn...)},
		{"too-many-args", exitUsage, append([]string{"provider", "add", "Entra", "ID"}, conn...)},
		{"unknown-flag", exitUsage, append([]string{"provider", "list", "--colour"}, conn...)},
		{"unknown-command", exitUsage, []string{"provders"}},
		{"bad-output", exitUsage, append([]string{"provider", "list", "-o", "yaml"}, conn...)},
		{"set-nothing", exitUsage, append([]string{"provider", "set", "Entra ID"}, conn...)},
		{"set-negative-rate-limit", exitUsage, append([]string{"provider", "set", "Okta", "--rate-limit", "-1"}, conn...)},
		{"set-bad-strict", exitUsage, append([]string{"provider", "set", "Okta", "--strict=maybe"}, conn...)},
		{"set-not-found", exitError, append([]string{"provider", "set", "Nope", "--strict"}, conn...)},
		{"add-big-rate-limit", exitUsage, append([]string{"provider", "add", "Okta2", "--rate-limit", "100001"}, conn...)},
		{"add-bad-rate-limit", exitUsage, append([]string{"provider", "add", "Okta2", "--rate-limit", "fast"}, conn...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, false, tc.args...)
			if r.code != tc.code || r.stdout != "" {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q", r.code, tc.code, r.stdout, r.stderr)
			}
			golden(t, "error-"+tc.name+".golden", strings.ReplaceAll(r.stderr, srv.URL, "SERVER"))
		})
	}
}

func TestUnreachable(t *testing.T) {
	isolateEnv(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	r := runCLI(t, false, "provider", "list", "--server", url, "--token", "t")
	want := "Error: cannot reach kacescim at " + url + ": is `kacescim serve` running? (set --server)\n"
	if r.code != exitError || r.stderr != want {
		t.Fatalf("exit %d, stderr %q; want %q", r.code, r.stderr, want)
	}
}

func TestHelpGolden(t *testing.T) {
	isolateEnv(t)
	for name, args := range map[string][]string{
		"help-root":             {"--help"},
		"help-provider":         {"provider", "--help"},
		"help-provider-add":     {"provider", "add", "--help"},
		"help-provider-set":     {"provider", "set", "--help"},
		"help-serve":            {"serve", "--help"},
		"help-scim":             {"scim", "--help"},
		"help-fields":           {"fields", "--help"},
		"help-mappings":         {"mappings", "--help"},
		"help-users":            {"users", "--help"},
		"help-mappings-suggest": {"mappings", "suggest", "--help"},
		"help-mappings-edit":    {"mappings", "edit", "--help"},
		"help-users-list":       {"users", "list", "--help"},
		"help-logs":             {"logs", "--help"},
	} {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, false, args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			golden(t, name+".golden", r.stdout)
		})
	}
}

func TestHumanTime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Second:    "just now",
		time.Minute:         "1 minute ago",
		59 * time.Minute:    "59 minutes ago",
		2 * time.Hour:       "2 hours ago",
		25 * time.Hour:      "1 day ago",
		29 * 24 * time.Hour: "29 days ago",
		40 * 24 * time.Hour: "Feb 2, 2025",
		-2 * time.Hour:      "Mar 14, 2025 14:00",
		-30 * time.Second:   "just now",
	} {
		if got := humanTime(now, now.Add(-d), time.UTC); got != want {
			t.Errorf("humanTime(now-%v) = %q, want %q", d, got, want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"Okta": "Okta", "okta-prod_2.eu": "okta-prod_2.eu", "Entra ID": "'Entra ID'", "it's": `'it'\''s'`, "": "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSCIMCommand drives `kacescim scim` against a stub: body pretty-printed
// on stdout, status on stderr, non-zero exit from 400 on.
func TestSCIMCommand(t *testing.T) {
	isolateEnv(t)
	var got *http.Request
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/scim+json")
		if r.Header.Get("Authorization") != "Bearer kcs_good" {
			w.WriteHeader(401)
			w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"invalid security key"}`))
			return
		}
		if r.Method == "POST" {
			w.WriteHeader(201)
		}
		w.Write([]byte(`{"totalResults":0,"Resources":[]}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "user.json")
	os.WriteFile(file, []byte(`{"userName":"ada@example.com"}`), 0o600)

	r := runCLI(t, false, "scim", "get", `/Users?filter=userName eq "a b"`, "--url", srv.URL+"/scim/v2", "--key", "kcs_good", "-H", "X-Extra: yes")
	if r.code != 0 || r.stderr != "HTTP 200\n" || r.stdout != "{\n  \"totalResults\": 0,\n  \"Resources\": []\n}\n" {
		t.Fatalf("GET: %+v", r)
	}
	if got.Method != "GET" || got.URL.Path != "/scim/v2/Users" || got.URL.Query().Get("filter") != `userName eq "a b"` || got.Header.Get("X-Extra") != "yes" {
		t.Fatalf("GET sent %s %s %v", got.Method, got.URL, got.Header)
	}

	r = runCLI(t, false, "scim", "POST", "Users", "--url", srv.URL+"/scim/v2", "--key", "kcs_good", "--data", "@"+file)
	if r.code != 0 || r.stderr != "HTTP 201\n" || string(gotBody) != `{"userName":"ada@example.com"}` || got.Header.Get("Content-Type") != "application/scim+json" {
		t.Fatalf("POST: %+v, sent %s", r, gotBody)
	}

	// The key comes from KACESCIM_KEY when --key is not given.
	t.Setenv("KACESCIM_KEY", "kcs_wrong")
	r = runCLI(t, false, "scim", "GET", "/Users", "--url", srv.URL+"/scim/v2")
	if r.code != exitError || r.stderr != "HTTP 401\n" || !strings.Contains(r.stdout, `"status": "401"`) {
		t.Fatalf("401: %+v", r)
	}
	r = runCLI(t, false, "scim", "GET", "/Users", "--url", srv.URL+"/scim/v2", "--key", "kcs_good")
	if r.code != 0 {
		t.Fatalf("--key does not win over KACESCIM_KEY: %+v", r)
	}

	r = runCLI(t, false, "scim", "GET", "/Users", "--url", srv.URL, "-H", "no colon")
	if r.code != exitUsage || !strings.Contains(r.stderr, `--header "no colon": use "Name: value"`) {
		t.Fatalf("bad header: %+v", r)
	}
}
