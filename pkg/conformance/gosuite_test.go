package conformance_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/conformance"
)

// goSuiteRun runs the built-in Go suites named against a fresh kacescim
// with opts (BaseURL and Token filled in) and returns their checks by
// name.
func goSuiteRun(t *testing.T, opts conformance.Options) (*conformance.Result, map[string]conformance.Check, string) {
	t.Helper()
	ctx := context.Background()
	env := newKacescim(t)
	fx, err := conformance.NewFixture(ctx, env.admin, "kacescim-go-suites")
	if err != nil {
		t.Fatal(err)
	}
	key := fx.Key
	t.Cleanup(func() { fx.Close(ctx) })
	opts.BaseURL, opts.Token = env.base, key
	res := conformance.Run(ctx, nil, opts)
	checks := map[string]conformance.Check{}
	for _, rep := range res.Reports {
		for _, c := range rep.Checks {
			checks[rep.Suite+"/"+c.Name] = c
		}
	}
	return res, checks, key
}

func TestConcurrencySuite(t *testing.T) {
	t.Run("without PATCH support", func(t *testing.T) {
		res, checks, _ := goSuiteRun(t, conformance.Options{
			Suites:       []string{"concurrency"},
			Capabilities: map[conformance.Capability]bool{conformance.CapPatch: false},
		})
		if len(res.Reports) != 1 || res.Reports[0].Suite != "concurrency" {
			t.Fatalf("reports %+v", res.Reports)
		}
		for _, name := range conformance.GoSuiteChecks("concurrency") {
			c, ok := checks["concurrency/"+name]
			switch {
			case !ok:
				t.Errorf("%s: not reported", name)
			case strings.Contains(name, "POSTs of one userName"):
				if c.Status != conformance.StatusPass {
					t.Errorf("%s: %s %q", name, c.Status, c.Failures)
				}
			case c.Status != conformance.StatusSkip || !strings.Contains(strings.Join(c.Notes, " "), "needs patch"):
				t.Errorf("%s: %s %q, want skipped for want of PATCH", name, c.Status, c.Notes)
			}
		}
		if len(res.Leftovers) > 0 {
			t.Errorf("leftovers %q", res.Leftovers)
		}
	})

	t.Run("--only, --skip, --verbose and --keep", func(t *testing.T) {
		res, checks, key := goSuiteRun(t, conformance.Options{
			Suites:  []string{"concurrency", "isolation"},
			Only:    []string{"concurrency/Concurrent member*", "Concurrent PATCHes*"},
			Skip:    []string{"Concurrent member removes*"},
			Verbose: true,
			Keep:    true,
		})
		if len(res.Reports) != 1 {
			t.Errorf("%d reports; want the concurrency suite's alone (--only selects none of isolation)", len(res.Reports))
		}
		if len(checks) != 3 {
			t.Errorf("checks %v; want the member adds, the removes (skipped) and the user PATCHes", checks)
		}
		for name, c := range checks {
			switch {
			case strings.Contains(name, "removes"):
				if c.Status != conformance.StatusSkip || c.Notes[0] != "skipped by --skip" {
					t.Errorf("%s: %s %q", name, c.Status, c.Notes)
				}
			case c.Status != conformance.StatusPass:
				t.Errorf("%s: %s %q", name, c.Status, c.Failures)
			case c.Transcript == nil || c.Request == nil:
				t.Errorf("%s: no transcript", name)
			case strings.Contains(strings.Join(c.Transcript.RequestHeaders, " "), key) || !strings.Contains(strings.Join(c.Transcript.RequestHeaders, " "), "[REDACTED]"):
				t.Errorf("%s: the key is not redacted: %q", name, c.Transcript.RequestHeaders)
			}
		}
		// 16 members, the group and the patched user, all kept.
		if len(res.Leftovers) != 18 || !strings.HasSuffix(res.Leftovers[0], "(kept)") || !strings.Contains(res.Leftovers[0], "/Groups/") {
			t.Errorf("leftovers %q", res.Leftovers)
		}
	})

	t.Run("--only the removes: the adds run unreported", func(t *testing.T) {
		res, checks, _ := goSuiteRun(t, conformance.Options{Only: []string{"concurrency/Concurrent member removes*"}, Suites: []string{"concurrency"}})
		if len(checks) != 1 {
			t.Fatalf("checks %v", checks)
		}
		for name, c := range checks {
			if !strings.Contains(name, "removes") || c.Status != conformance.StatusPass {
				t.Errorf("%s: %s %q %q", name, c.Status, c.Failures, c.Notes)
			}
		}
		if len(res.Leftovers) > 0 {
			t.Errorf("leftovers %q", res.Leftovers)
		}
	})

	t.Run("not with a user's own scenarios alone", func(t *testing.T) {
		s := &conformance.Scenario{Suite: "mine", Name: "mine", Steps: []conformance.Step{{Name: "list", Method: "GET", Path: "/Users"}}}
		ctx := context.Background()
		env := newKacescim(t)
		fx, err := conformance.NewFixture(ctx, env.admin, "kacescim-mine")
		if err != nil {
			t.Fatal(err)
		}
		defer fx.Close(ctx)
		res := conformance.Run(ctx, []*conformance.Scenario{s}, conformance.Options{BaseURL: env.base, Token: fx.Key})
		if len(res.Reports) != 1 || res.Reports[0].Suite != "mine" {
			t.Errorf("reports %+v; want mine alone", res.Reports)
		}
	})
}

func TestIsolationSuiteWithoutKey(t *testing.T) {
	res, checks, _ := goSuiteRun(t, conformance.Options{Suites: []string{"isolation"}})
	if len(checks) != len(conformance.GoSuiteChecks("isolation")) {
		t.Errorf("%d checks", len(checks))
	}
	for name, c := range checks {
		if c.Status != conformance.StatusSkip || !strings.HasPrefix(c.Notes[0], "needs --isolation-key") {
			t.Errorf("%s: %s %q", name, c.Status, c.Notes)
		}
	}
	if len(res.Leftovers) > 0 {
		t.Errorf("leftovers %q", res.Leftovers)
	}
}
