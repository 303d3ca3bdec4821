// Package servertest starts real kacescim servers for the tests of the
// packages that drive one from outside (the conformance runner, the CLI).
package servertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/server"
)

// Start opens a kacescim server with cfg (in a new temporary data
// directory when cfg.DataDir is empty) and serves it on a random loopback
// port; both are closed when tb ends. The SCIM base URL is the returned
// server's URL + server.SCIMPrefix.
func Start(tb testing.TB, cfg server.Config) (*server.Server, *httptest.Server) {
	tb.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = tb.TempDir()
	}
	srv, err := server.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return srv, ts
}

// AddProvider adds the enabled provider name to srv and returns its key.
func AddProvider(tb testing.TB, srv *server.Server, name string) string {
	tb.Helper()
	_, key, err := srv.Directory().AddProvider(context.Background(), name, true)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// SeedUser creates, through the SCIM API at base with key, the user
// whose existence is the precondition of Okta's SPEC test.
func SeedUser(tb testing.TB, base, key string) {
	tb.Helper()
	seed, err := client.NewSCIM(base, key).DoJSON(context.Background(), http.MethodPost, "/Users", map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": "seed.user@example.com",
		"name":     map[string]string{"givenName": "Seed", "familyName": "User"},
		"emails":   []map[string]any{{"value": "seed.user@example.com", "type": "work", "primary": true}},
		"active":   true,
	})
	if err != nil || seed.Status != http.StatusCreated {
		tb.Fatalf("seed user: %v %+v", err, seed)
	}
}
