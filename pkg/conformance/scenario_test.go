package conformance_test

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

// kacescimEnv is a real kacescim server on loopback with admin access.
type kacescimEnv struct {
	base  string
	admin *client.Admin
	srv   *server.Server
}

func newKacescim(t *testing.T) *kacescimEnv {
	t.Helper()
	srv, ts := servertest.Start(t, server.Config{AdminToken: "test-admin-token"})
	return &kacescimEnv{base: ts.URL + server.SCIMPrefix, admin: client.NewAdmin(ts.URL, "test-admin-token"), srv: srv}
}

// TestBuiltinSuitesAgainstKacescim runs every built-in suite against a real
// kacescim server, with a fixture provider so that the mapping outcomes
// are checked too: every check must pass, none may be skipped.
func TestBuiltinSuitesAgainstKacescim(t *testing.T) {
	ctx := context.Background()
	env := newKacescim(t)
	fx, err := conformance.NewFixture(ctx, env.admin, "kacescim-test")
	if err != nil {
		t.Fatal(err)
	}
	// Tenant B of the isolation suite: a second provider of the server.
	other, err := conformance.NewFixture(ctx, env.admin, "kacescim-test-b")
	if err != nil {
		t.Fatal(err)
	}
	otherKey := other.Key
	res := conformance.Run(ctx, builtinScenarios(t), conformance.Options{
		BaseURL:        env.base,
		Token:          fx.Key,
		IsolationToken: otherKey,
		Directory:      fx.Directory(),
		Credentials:    conformance.AdminCredentials(env.admin),
	})
	if err := other.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(res.Reports) != len(conformance.Suites) {
		t.Errorf("%d reports, want one per suite of %q", len(res.Reports), conformance.Suites)
	}
	for _, rep := range res.Reports {
		var buf bytes.Buffer
		if err := rep.WriteText(&buf); err != nil {
			t.Fatal(err)
		}
		t.Log("\n" + buf.String())
		if strings.Contains(buf.String(), fx.Key) || strings.Contains(buf.String(), otherKey) {
			t.Errorf("suite %s: the report shows the key", rep.Suite)
		}
		if rep.Failed() != 0 || rep.Skipped() != 0 || rep.Passed() == 0 {
			t.Errorf("suite %s: %d passed, %d failed, %d skipped; want no failure and no skip", rep.Suite, rep.Passed(), rep.Failed(), rep.Skipped())
		}
	}
	if len(res.Leftovers) > 0 {
		t.Errorf("leftovers: %q", res.Leftovers)
	}
	if err := fx.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if ps, err := env.admin.Providers(ctx); err != nil || len(ps) != 0 {
		t.Errorf("after Close: providers %v, %v; want none", ps, err)
	}
}

// TestBuiltinSuitesAgainstStrictKacescim runs the built-in suites with a
// strict provider: the runner learns from its /ServiceProviderConfig that
// it refuses the identity providers' non-RFC dialect, skips the checks
// that need it, and every other check passes.
func TestBuiltinSuitesAgainstStrictKacescim(t *testing.T) {
	ctx := context.Background()
	env := newKacescim(t)
	fx, err := conformance.NewFixtureFor(ctx, env.admin, adminapi.CreateProviderRequest{Name: "kacescim-strict", Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fx.Close(ctx) })
	other, err := conformance.NewFixtureFor(ctx, env.admin, adminapi.CreateProviderRequest{Name: "kacescim-strict-b", Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close(ctx) })
	scenarios := builtinScenarios(t)
	res := conformance.Run(ctx, scenarios, conformance.Options{BaseURL: env.base, Token: fx.Key, IsolationToken: other.Key, Directory: fx.Directory(),
		Credentials: conformance.AdminCredentials(env.admin)})
	if res.Capabilities[conformance.CapLenient] || !res.Capabilities[conformance.CapStrict] {
		t.Fatalf("capabilities %v: the strict provider was not seen as strict", res.Capabilities)
	}
	skipped := 0
	for _, rep := range res.Reports {
		for _, c := range rep.Checks {
			switch c.Status {
			case conformance.StatusFail:
				t.Errorf("%s / %s failed: %q", rep.Suite, c.Name, c.Failures)
			case conformance.StatusSkip:
				skipped++
				if !strings.Contains(strings.Join(c.Notes, " "), "lenient") && !strings.Contains(strings.Join(c.Notes, " "), "not run") {
					t.Errorf("%s / %s skipped for another reason: %q", rep.Suite, c.Name, c.Notes)
				}
			}
		}
	}
	// Checks every server must pass, which follow dialect steps in their
	// scenario: a strict server has them judged too.
	for _, name := range []string{
		"entra/Entra delete: DELETE /Users/{id} is 204",
		"entra/Value-path replace changes the work email in place",
		"entra/excludedAttributes=members leaves members out of a group",
		"entra/Entra group delete: DELETE /Groups/{id} is 204",
	} {
		suite, check, _ := strings.Cut(name, "/")
		found := false
		for _, rep := range res.Reports {
			for _, c := range rep.Checks {
				if rep.Suite == suite && c.Name == check {
					found = true
					if c.Status != conformance.StatusPass {
						t.Errorf("%s: %s %q, want a pass against a strict provider", name, c.Status, c.Notes)
					}
				}
			}
		}
		if !found {
			t.Errorf("%s: no such check", name)
		}
	}
	p, f, sk := res.Totals()
	t.Logf("strict provider: %d passed, %d failed, %d skipped", p, f, sk)
	if skipped == 0 {
		t.Error("no check was skipped: the Entra dialect checks ran against a strict provider")
	}
	if len(res.Leftovers) > 0 {
		t.Errorf("leftovers: %q", res.Leftovers)
	}
}

// builtinScenarios is conformance.BuiltinScenarios for a test.
func builtinScenarios(tb testing.TB) []*conformance.Scenario {
	tb.Helper()
	s, err := conformance.BuiltinScenarios()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestBuiltinDialectDependencies: a check that applies to every server
// must not be skipped because the server lacks the identity providers'
// non-RFC dialect. A step may wait (after) on a step that needs lenient
// only when it is a read-back (GET) of dialect writes alone; a step that
// also reads back an RFC write, or that is a write itself (a DELETE),
// would be skipped on every RFC-only server.
func TestBuiltinDialectDependencies(t *testing.T) {
	ref := regexp.MustCompile(`{{\s*([A-Za-z0-9_]+)\s*}}`)
	for _, sc := range builtinScenarios(t) {
		dialect := map[string]bool{}
		// captured: whether a variable is set by a step that does not need
		// the dialect (true), or only by dialect steps (false).
		captured := map[string]bool{}
		for _, st := range sc.Steps {
			uses := st.Path + string(st.Body)
			for _, v := range st.Headers {
				uses += v
			}
			if !slices.Contains(st.Requires, conformance.CapLenient) {
				for _, m := range ref.FindAllStringSubmatch(uses, -1) {
					if rfc, ok := captured[m[1]]; ok && !rfc {
						t.Errorf("%s / %s: uses {{%s}}, which only dialect steps capture: it is skipped on every server without the dialect (capture it in a step for a strict server too)", sc.Suite, st.Name, m[1])
					}
				}
			}
			for v := range st.Capture {
				captured[v] = captured[v] || !slices.Contains(st.Requires, conformance.CapLenient)
			}
			if slices.Contains(st.Requires, conformance.CapLenient) {
				dialect[st.Name] = true
				continue
			}
			var on, off []string
			for _, a := range st.After {
				if dialect[a] {
					on = append(on, a)
				} else {
					off = append(off, a)
				}
			}
			if len(on) == 0 {
				continue
			}
			dialect[st.Name] = true
			if !strings.EqualFold(st.Method, http.MethodGet) {
				t.Errorf("%s / %s: a %s waits on the dialect step(s) %q: it is skipped on every server without the dialect (use unlessFailed)", sc.Suite, st.Name, st.Method, on)
			}
			if len(off) > 0 {
				t.Errorf("%s / %s: reads back the RFC step(s) %q and the dialect step(s) %q at once: split it, so that a server without the dialect still has the RFC write read back", sc.Suite, st.Name, off, on)
			}
		}
	}
}
