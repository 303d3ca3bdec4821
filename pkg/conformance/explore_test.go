package conformance_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/conformance"
)

// TestExploreAgainstKacescim runs a generated sequence of 500 operations
// (as `kacescim test --explore 500` does) against a
// real kacescim server: every check passes, none is skipped.
func TestExploreAgainstKacescim(t *testing.T) {
	ctx := context.Background()
	env := newKacescim(t)
	fx, err := conformance.NewFixture(ctx, env.admin, "kacescim-explore")
	if err != nil {
		t.Fatal(err)
	}
	defer fx.Close(ctx)
	res := conformance.Run(ctx, nil, conformance.Options{BaseURL: env.base, Token: fx.Key, Directory: fx.Directory(), Explore: 500, Seed: 1})
	if len(res.Reports) != 1 || res.Reports[0].Suite != conformance.ExploreSuite {
		t.Fatalf("reports %+v, want the explore suite alone", res.Reports)
	}
	rep := res.Reports[0]
	var buf bytes.Buffer
	_ = rep.WriteText(&buf)
	if rep.Failed() != 0 || rep.Skipped() != 0 || rep.Passed() < 500 {
		t.Errorf("%d passed, %d failed, %d skipped; want 500 or more passed and nothing else\n%s", rep.Passed(), rep.Failed(), rep.Skipped(), buf.String())
	}
	// With mapping outcomes, the writes check their directory users too.
	dir := 0
	for _, c := range rep.Checks {
		if strings.HasSuffix(c.Name, ": directory user") {
			dir++
		}
	}
	if dir < 200 {
		t.Errorf("%d directory checks, want one per write (200 or more)", dir)
	}
	if res.Explore == nil || res.Explore.Failure != "" || res.Explore.Shrunk != nil {
		t.Errorf("exploration %+v, want no failure", res.Explore)
	}
	if len(res.Leftovers) > 0 {
		t.Errorf("leftovers: %q", res.Leftovers)
	}
	t.Log("\n" + buf.String())
}

// TestExploreShrinks plants bugs of the broken-server table in a kacescim
// server and runs a generated sequence against it: the run fails, shrinks
// to a handful of operations, and the shrunk scenario, written as a file
// and read back, fails the same check when replayed.
func TestExploreShrinks(t *testing.T) {
	for _, tc := range []struct {
		bug string
		// most is the length of the shortest sequence with the fault: the
		// creates it needs and the request that trips it.
		most int
	}{
		{"PATCH add to members replaces the members", 4},
		{"PUT silently drops the enterprise extension", 2},
		{"path-less PATCH answered 200 with the resource as it was before the change", 2},
		{"filter on userName finds a user just deleted", 2},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			ctx := context.Background()
			base, admin := bkStart(t, brokenNamed(t, tc.bug).mw)
			fx, err := conformance.NewFixture(ctx, admin, "kacescim-explore")
			if err != nil {
				t.Fatal(err)
			}
			defer fx.Close(ctx)
			opts := conformance.Options{BaseURL: base, Token: fx.Key, Explore: 300, Seed: 6}
			res := conformance.Run(ctx, nil, opts)
			ex := res.Explore
			if res.OK() || ex == nil || ex.Failure == "" || ex.Shrunk == nil {
				t.Fatalf("ok %t, exploration %+v: want a failure, shrunk", res.OK(), ex)
			}
			if !ex.Reproduced || len(ex.Shrunk.Steps) > tc.most || ex.ShrunkFailure == "" {
				t.Errorf("shrunk to %d steps in %d runs (reproduced %t), want at most %d; failure %q", len(ex.Shrunk.Steps), ex.ShrinkRuns, ex.Reproduced, tc.most, ex.ShrunkFailure)
			}
			t.Logf("%s\nshrunk in %d runs to:", ex.Failure, ex.ShrinkRuns)
			for _, st := range ex.Shrunk.Steps {
				t.Logf("  %s: %s %s", st.Name, st.Method, st.Path)
			}

			// Replayed from its file, the shrunk scenario fails the check
			// the last shrinking run failed.
			data, err := conformance.MarshalScenario(ex.Shrunk)
			if err != nil {
				t.Fatal(err)
			}
			s, err := conformance.ParseScenario("shrunk.json", data)
			if err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			opts.Explore = 0
			replay := conformance.Run(ctx, []*conformance.Scenario{s}, opts)
			failed := ""
			for _, c := range replay.Reports[0].Checks {
				if c.Status == conformance.StatusFail && failed == "" {
					failed = c.Name
				}
			}
			if failed == "" || !strings.HasPrefix(ex.ShrunkFailure, failed+":") {
				t.Errorf("replay failed %q first, want the check of %q", failed, ex.ShrunkFailure)
			}
		})
	}
}

func brokenNamed(t *testing.T, name string) brokenServer {
	t.Helper()
	for _, b := range brokenServers {
		if b.name == name {
			return b
		}
	}
	t.Fatalf("no broken server %q", name)
	return brokenServer{}
}

// TestExploreReportsAFaultOnce: a server that refuses Entra's string
// booleans is sent a dozen of them in 300 operations; the first fails,
// the later ones pass with a note naming it.
func TestExploreReportsAFaultOnce(t *testing.T) {
	ctx := context.Background()
	base, admin := bkStart(t, brokenNamed(t, "string booleans refused").mw)
	fx, err := conformance.NewFixture(ctx, admin, "kacescim-explore")
	if err != nil {
		t.Fatal(err)
	}
	defer fx.Close(ctx)
	res := conformance.Run(ctx, nil, conformance.Options{BaseURL: base, Token: fx.Key, Explore: 300, Seed: 6})
	var failed []string
	noted := 0
	for _, c := range res.Reports[0].Checks {
		if c.Status == conformance.StatusFail {
			failed = append(failed, c.Name)
		}
		for _, n := range c.Notes {
			if strings.Contains(n, "(one fault, reported once)") {
				noted++
			}
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0], "as Entra does (PATCH active)") || noted < 3 {
		t.Errorf("failed %q, %d noted as the same fault; want one Entra PATCH active failed and the rest noted", failed, noted)
	}
}
