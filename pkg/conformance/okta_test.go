package conformance_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

func noPause(context.Context, time.Duration) error { return nil }

// TestOktaSPECAgainstKacescim runs Okta's own SPEC test against a real
// kacescim server, in both ways Okta presents a key.
func TestOktaSPECAgainstKacescim(t *testing.T) {
	ctx := context.Background()
	srv, ts := servertest.Start(t, server.Config{})
	key := servertest.AddProvider(t, srv, "okta")
	base := ts.URL + server.SCIMPrefix
	// The SPEC test's precondition: at least one user exists.
	if err := conformance.SeedUser(ctx, client.NewSCIM(base, key), ""); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, auth string }{
		{"bearer", "Bearer " + key},
		{"bare key", key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := conformance.RunRunscope(ctx, conformance.OktaSPECTest(), conformance.RunscopeOptions{
				BaseURL: base,
				Auth:    tc.auth,
				Pause:   noPause,
			})
			var buf bytes.Buffer
			if err := rep.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			t.Log("\n" + buf.String())
			if strings.Contains(buf.String(), key) {
				t.Error("the report shows the key")
			}
			if !rep.OK() || rep.Failed() != 0 {
				t.Errorf("OK() = %v, %d failed", rep.OK(), rep.Failed())
			}
			if rep.Passed() != 12 || rep.Skipped() != 0 {
				t.Errorf("%d passed, %d skipped; want 12 and 0", rep.Passed(), rep.Skipped())
			}
		})
	}
}

// TestOktaSPECAgainstBrokenServer: a server that answers 500 to
// everything must fail every required step.
func TestOktaSPECAgainstBrokenServer(t *testing.T) {
	var requests atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"broken"}`))
	}))
	defer ts.Close()

	rep := conformance.RunRunscope(context.Background(), conformance.OktaSPECTest(), conformance.RunscopeOptions{
		BaseURL: ts.URL + "/scim/v2",
		Auth:    "Bearer secret-token",
		Pause:   noPause,
	})
	var buf bytes.Buffer
	rep.WriteText(&buf)
	t.Log("\n" + buf.String())

	if rep.OK() {
		t.Error("OK() = true for a server that answers 500")
	}
	required := 0
	for _, c := range rep.Checks {
		if c.Severity != conformance.SeverityMust {
			continue
		}
		required++
		if c.Status != conformance.StatusFail || len(c.Failures) == 0 {
			t.Errorf("%s: status %s, failures %q", c.Name, c.Status, c.Failures)
		}
	}
	if required != 11 {
		t.Errorf("%d required checks, want 11", required)
	}
	if rep.Passed() != 0 {
		t.Errorf("%d checks passed", rep.Passed())
	}
	// Steps 2 and 12 need ids the server never gave: they fail unsent.
	if n := requests.Load(); n != 10 {
		t.Errorf("%d requests sent, want 10", n)
	}
	if strings.Contains(buf.String(), "secret-token") {
		t.Error("the report shows the token")
	}
	if !strings.HasSuffix(buf.String(), "\n0 passed, 12 failed, 0 skipped\n") {
		t.Errorf("last line of:\n%s", buf.String())
	}
}

// The embedded suite and the copy in testdata/okta must not drift apart.
func TestEmbeddedSuiteMatchesTestdata(t *testing.T) {
	embedded, err := os.ReadFile(filepath.Join("suites", "okta-spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	human, err := os.ReadFile(filepath.Join("..", "..", "testdata", "okta", "Okta-SCIM-20-SPEC-Test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(embedded, human) {
		t.Error("pkg/conformance/suites/okta-spec.json and testdata/okta/Okta-SCIM-20-SPEC-Test.json differ")
	}
	e := conformance.OktaSPECTest()
	if e.Name != "Okta SCIM 2.0 SPEC Test" || len(e.Steps) != 23 {
		t.Errorf("parsed %q with %d steps", e.Name, len(e.Steps))
	}
}
