package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTestCommandExplore runs --explore against a real kacescim server:
// it passes, and the same seed sends the same sequence.
func TestTestCommandExplore(t *testing.T) {
	isolateEnv(t)
	s := startTestServer(t, t.TempDir(), "adm-secret-0123456789")
	r := runCLI(t, false, "test", "--url", s.base, "--key", s.key, "--explore", "60", "--seed", "5")
	noSecrets(t, r, s.key)
	if r.code != exitOK || !strings.Contains(r.stdout, "Explored: seed 5, 60 operations") || !strings.HasPrefix(r.stdout, "explore  ") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if m := summaryLine.FindStringSubmatch(lastLine(r.stdout)); m == nil || m[2] != "0" || m[3] != "0" {
		t.Errorf("last line %q, want nothing failed or skipped", lastLine(r.stdout))
	}

	names := func() []string {
		r := runCLI(t, false, "-o", "json", "test", "--url", s.base, "--key", s.key, "--explore", "60", "--seed", "5")
		res, _ := testResult(t, r.stdout)
		if r.code != exitOK || res.Explore == nil || res.Explore.Seed != 5 || res.Explore.Operations != 60 {
			t.Fatalf("exit %d, exploration %+v\n%s", r.code, res.Explore, r.stderr)
		}
		var out []string
		for _, c := range res.Reports[0].Checks {
			out = append(out, c.Name)
		}
		return out
	}
	if a, b := names(), names(); !slices.Equal(a, b) || len(a) < 60 {
		t.Errorf("the same seed sent different sequences (%d and %d checks)", len(a), len(b))
	}
}

// TestTestCommandExploreShrinks puts a fault in front of a kacescim
// server (a DELETE of a user answered 204 and not applied): --explore
// fails, writes the shortest failing sequence, and --scenarios replays it
// failing the same check.
func TestTestCommandExploreShrinks(t *testing.T) {
	isolateEnv(t)
	s := startTestServer(t, t.TempDir(), "adm-secret-0123456789")
	target, err := url.Parse(s.url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/Users/") {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(broken.Close)
	base := broken.URL + "/scim/v2"
	dir := filepath.Join(t.TempDir(), "found")

	r := runCLI(t, false, "test", "--url", base, "--key", s.key, "--no-admin", "--explore", "200", "--seed", "11", "--explore-dir", dir)
	noSecrets(t, r, s.key)
	file := filepath.Join(dir, "seed-11.json")
	if r.code != exitError || !strings.Contains(r.stdout, "first failure: ") || !strings.Contains(r.stderr, "is in "+file+"; replay it with: kacescim test --scenarios "+dir) {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"suite": "explore"`) || strings.Count(string(data), `"method"`) > 6 {
		t.Errorf("shrunk scenario:\n%s", data)
	}
	// The shrunk sequence's failing check, from the report's "shrunk ..."
	// line: "..., failing the same way: NAME: failure".
	_, after, ok := strings.Cut(r.stdout, "failing the same way: ")
	failed, _, _ := strings.Cut(after, ": state:")
	if !ok || !strings.Contains(failed, "delete user") {
		t.Fatalf("report:\n%s", r.stdout)
	}

	replay := runCLI(t, false, "test", "--url", base, "--key", s.key, "--no-admin", "--scenarios", dir)
	if replay.code != exitError || !strings.Contains(replay.stdout, "FAIL  "+failed+": state") {
		t.Fatalf("replay: exit %d, want a failure of %q\n%s\n%s", replay.code, failed, replay.stdout, replay.stderr)
	}
}

// TestTestCommandStrict: --strict judges the server as following the RFCs
// alone: the checks of the identity providers' dialect are skipped, saying
// why; the RFC's checks still pass against kacescim.
func TestTestCommandStrict(t *testing.T) {
	isolateEnv(t)
	s := startTestServer(t, t.TempDir(), "adm-secret-0123456789")
	r := runCLI(t, false, "test", "--url", s.base, "--key", s.key, "--suite", "entra", "--strict")
	if r.code != exitOK || !strings.Contains(r.stdout, "note: needs lenient: the run judges the server as following the RFCs alone (--strict)") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "SKIP  Entra PATCH: ops in any case") {
		t.Errorf("the PascalCase op check was not skipped:\n%s", r.stdout)
	}
}
