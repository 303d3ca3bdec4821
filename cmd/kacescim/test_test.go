package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

// testServer is a real kacescim server for `kacescim test` to check.
type testServer struct {
	url, base  string // server URL and SCIM base URL
	key        string // key of provider "okta"
	adminToken string
	srv        *server.Server
}

// startTestServer opens a kacescim server on a random loopback port with
// an enabled provider "okta". dataDir is its data directory (its
// admin-token file is created there); adminToken, when not empty, is its
// admin token instead of that file's.
func startTestServer(t *testing.T, dataDir, adminToken string) *testServer {
	t.Helper()
	srv, ts := servertest.Start(t, server.Config{DataDir: dataDir, AdminToken: adminToken})
	key := servertest.AddProvider(t, srv, "okta")
	return &testServer{url: ts.URL, base: ts.URL + server.SCIMPrefix, key: key, adminToken: adminToken, srv: srv}
}

// providers are the names of the server's providers.
func (s *testServer) providers(t *testing.T) []string {
	t.Helper()
	ps, err := s.srv.Directory().Providers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return names
}

// noSecrets fails when a key or token shows in what a run printed.
func noSecrets(t *testing.T, r cliResult, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && (strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s)) {
			t.Errorf("the output shows a secret (%.8s…)", s)
		}
	}
	// No kacescim key at all, other than the invalid one the 401 checks
	// present.
	for _, k := range regexp.MustCompile(`kcs_[A-Za-z0-9_-]{20,}`).FindAllString(r.stdout+r.stderr, -1) {
		if !strings.HasPrefix(k, "kcs_invalid0") {
			t.Errorf("the output shows a key: %.8s…", k)
		}
	}
}

var summaryLine = regexp.MustCompile(`^(\d+) passed, (\d+) failed, (\d+) skipped$`)

// lastLine is the text report's last line.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// testResult decodes a --output json report.
func testResult(t *testing.T, out string) (*conformance.Result, map[string]conformance.Check) {
	t.Helper()
	var res conformance.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	checks := map[string]conformance.Check{}
	for _, rep := range res.Reports {
		for _, c := range rep.Checks {
			checks[c.Name] = c
		}
	}
	return &res, checks
}

func TestTestCommandAgainstKacescim(t *testing.T) {
	isolateEnv(t)
	s := startTestServer(t, t.TempDir(), "adm-secret-0123456789")
	conn := []string{"--url", s.base, "--token", s.key, "--suite", "okta-lifecycle"}

	t.Run("text", func(t *testing.T) {
		r := runCLI(t, false, append([]string{"test"}, conn...)...)
		noSecrets(t, r, s.key)
		if r.code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		m := summaryLine.FindStringSubmatch(lastLine(r.stdout))
		if m == nil || m[2] != "0" || m[1] == "0" {
			t.Fatalf("last line %q", lastLine(r.stdout))
		}
		if !strings.HasPrefix(r.stdout, "okta-lifecycle  ") || strings.Contains(r.stdout, "\x1b[") {
			t.Errorf("report:\n%s", r.stdout)
		}
		// Without admin access the directory checks are skipped, saying why.
		if !strings.Contains(r.stdout, "needs directory: needs admin access") {
			t.Errorf("directory checks not skipped with a reason:\n%s", r.stdout)
		}
	})

	t.Run("tty", func(t *testing.T) {
		r := runCLI(t, true, append([]string{"test"}, conn...)...)
		if r.code != exitOK || !strings.Contains(r.stdout, "PASS  Assign:") || !summaryLine.MatchString(lastLine(r.stdout)) {
			t.Fatalf("exit %d\n%s", r.code, r.stdout)
		}
	})

	t.Run("junit", func(t *testing.T) {
		r := runCLI(t, false, append([]string{"test", "--output", "junit"}, conn...)...)
		noSecrets(t, r, s.key)
		if r.code != exitOK {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		var doc struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Skipped  int `xml:"skipped,attr"`
			Suites   []struct {
				Name  string `xml:"name,attr"`
				Tests int    `xml:"tests,attr"`
				Cases []struct {
					Classname string    `xml:"classname,attr"`
					Failure   *struct{} `xml:"failure"`
					Skipped   *struct{} `xml:"skipped"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("not XML: %v\n%s", err, r.stdout)
		}
		if len(doc.Suites) != 1 || doc.Suites[0].Name != "okta-lifecycle" {
			t.Fatalf("suites %+v", doc.Suites)
		}
		cases, failures, skipped := 0, 0, 0
		for _, c := range doc.Suites[0].Cases {
			cases++
			if c.Failure != nil {
				failures++
			}
			if c.Skipped != nil {
				skipped++
			}
			if c.Classname != "okta-lifecycle" {
				t.Errorf("classname %q", c.Classname)
			}
		}
		if cases == 0 || doc.Tests != cases || doc.Suites[0].Tests != cases || doc.Failures != 0 || failures != 0 || doc.Skipped != skipped {
			t.Errorf("tests %d, failures %d, skipped %d; counted %d cases, %d failures, %d skipped", doc.Tests, doc.Failures, doc.Skipped, cases, failures, skipped)
		}

		// The same counts as the text report.
		text := runCLI(t, false, append([]string{"test"}, conn...)...)
		m := summaryLine.FindStringSubmatch(lastLine(text.stdout))
		if m == nil || m[3] != strconv.Itoa(skipped) || m[1] != strconv.Itoa(cases-skipped) {
			t.Errorf("text says %q, JUnit %d cases with %d skipped", lastLine(text.stdout), cases, skipped)
		}
	})

	t.Run("json", func(t *testing.T) {
		r := runCLI(t, false, append([]string{"test", "-o", "json"}, conn...)...)
		noSecrets(t, r, s.key)
		if r.code != exitOK {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		res, checks := testResult(t, r.stdout)
		if !res.OK() || len(res.Reports) != 1 || len(checks) == 0 || len(res.Leftovers) != 0 {
			t.Fatalf("result %+v", res)
		}
		var doc struct {
			OK     bool `json:"ok"`
			Failed int  `json:"failed"`
		}
		if json.Unmarshal([]byte(r.stdout), &doc); !doc.OK || doc.Failed != 0 {
			t.Errorf("ok %v, failed %d", doc.OK, doc.Failed)
		}
	})

	t.Run("only and skip", func(t *testing.T) {
		r := runCLI(t, false, append([]string{"test", "-o", "json", "--only", "Assign:*,okta-lifecycle/Fetch: GET /Users/{id}"}, conn...)...)
		if r.code != exitOK {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		_, checks := testResult(t, r.stdout)
		if _, ok := checks["Fetch: GET /Users/{id}"]; !ok || len(checks) < 3 {
			t.Fatalf("checks %v", checkNames(checks))
		}
		for name, c := range checks {
			if !strings.HasPrefix(name, "Assign:") && name != "Fetch: GET /Users/{id}" {
				t.Errorf("--only let %q through", name)
			}
			if c.Status == conformance.StatusFail {
				t.Errorf("%s failed: %v", name, c.Failures)
			}
		}

		r = runCLI(t, false, append([]string{"test", "-o", "json", "--skip", "Fetch: GET /Users/{id}"}, conn...)...)
		_, checks = testResult(t, r.stdout)
		if c := checks["Fetch: GET /Users/{id}"]; c.Status != conformance.StatusSkip || !strings.Contains(strings.Join(c.Notes, " "), "--skip") {
			t.Errorf("--skip: %+v", c)
		}
	})

	t.Run("out file", func(t *testing.T) {
		dir := t.TempDir()
		xmlFile, jsonFile := filepath.Join(dir, "report.xml"), filepath.Join(dir, "report.json")
		r := runCLI(t, false, append([]string{"test", "--out", xmlFile}, conn...)...)
		if r.code != exitOK || !summaryLine.MatchString(lastLine(r.stdout)) {
			t.Fatalf("exit %d\n%s", r.code, r.stdout)
		}
		b, _ := os.ReadFile(xmlFile)
		if err := xml.Unmarshal(b, new(struct{})); err != nil || !strings.Contains(string(b), "<testsuites") {
			t.Errorf("--out *.xml is not JUnit: %v\n%s", err, b)
		}
		r = runCLI(t, false, append([]string{"test", "--out", jsonFile}, conn...)...)
		b, _ = os.ReadFile(jsonFile)
		if r.code != exitOK || !json.Valid(b) {
			t.Errorf("--out *.json: exit %d, %s", r.code, b)
		}
		// --output json with --out: JSON in the file, text on stdout.
		r = runCLI(t, false, append([]string{"test", "-o", "json", "--out", xmlFile}, conn...)...)
		b, _ = os.ReadFile(xmlFile)
		if r.code != exitOK || !json.Valid(b) || !summaryLine.MatchString(lastLine(r.stdout)) {
			t.Errorf("-o json --out: exit %d, file %.40s, stdout %q", r.code, b, lastLine(r.stdout))
		}
	})

	t.Run("key from the environment", func(t *testing.T) {
		t.Setenv("KACESCIM_KEY", s.key)
		r := runCLI(t, false, "test", "--url", s.base, "--suite", "okta-lifecycle", "--only", "Fetch:*")
		noSecrets(t, r, s.key)
		if r.code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("verbose", func(t *testing.T) {
		r := runCLI(t, false, append([]string{"test", "--verbose", "--only", "Fetch: GET /Users/{id}"}, conn...)...)
		noSecrets(t, r, s.key)
		if r.code != exitOK || !strings.Contains(r.stdout, "> Authorization: Bearer [REDACTED]") || !strings.Contains(r.stdout, "< 200 OK") {
			t.Fatalf("exit %d\n%s", r.code, r.stdout)
		}
	})
}

// writeScenario writes a scenario file under dir/suite.
func writeScenario(t *testing.T, dir, suite, name, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, suite), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, suite, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

const customScenario = `{
  "name": "Custom smoke test",
  "source": "our runbook",
  "steps": [
    {
      "name": "Users list is a ListResponse",
      "method": "GET",
      "path": "/Users?startIndex=1&count=1",
      "expect": {
        "status": 200,
        "assert": [{"json": "schemas", "op": "has_value", "value": "urn:ietf:params:scim:api:messages:2.0:ListResponse"}]
      }
    }
  ]
}`

func TestTestCommandScenariosDir(t *testing.T) {
	isolateEnv(t)
	s := startTestServer(t, t.TempDir(), "adm-secret-0123456789")
	dir := t.TempDir()
	writeScenario(t, dir, "custom", "smoke.json", customScenario)

	r := runCLI(t, false, "test", "--url", s.base, "--token", s.key, "--scenarios", dir)
	noSecrets(t, r, s.key)
	if r.code != exitOK || lastLine(r.stdout) != "1 passed, 0 failed, 0 skipped" || !strings.HasPrefix(r.stdout, "custom  1 passed") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "PASS  Users list is a ListResponse") {
		t.Errorf("report:\n%s", r.stdout)
	}
	// --key is the flag's name; --token, its old name, is a hidden alias
	// that wins; KACESCIM_KEY stands in for --key.
	r = runCLI(t, false, "test", "--url", s.base, "--key", s.key, "--scenarios", dir)
	if r.code != exitOK || lastLine(r.stdout) != "1 passed, 0 failed, 0 skipped" {
		t.Fatalf("--key: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, false, "test", "--url", s.base, "--key", "kcs_wrong", "--token", s.key, "--scenarios", dir)
	if r.code != exitOK {
		t.Fatalf("--token does not win over --key: exit %d\n%s", r.code, r.stderr)
	}
	t.Setenv("KACESCIM_KEY", s.key)
	r = runCLI(t, false, "test", "--url", s.base, "--scenarios", dir)
	if r.code != exitOK {
		t.Fatalf("KACESCIM_KEY: exit %d\n%s", r.code, r.stderr)
	}
	t.Setenv("KACESCIM_KEY", "")

	// The directory's suites are valid --suite names.
	r = runCLI(t, false, "test", "--url", s.base, "--token", s.key, "--scenarios", dir, "--suite", "custom")
	if r.code != exitOK {
		t.Fatalf("--suite custom: exit %d\n%s", r.code, r.stderr)
	}

	// A failed SHOULD is a warning (exit 0); a failed MUST fails the run.
	should := t.TempDir()
	writeScenario(t, should, "custom", "warn.json", `{"name": "Optional", "steps": [
	  {"name": "Nothing at /Nope", "severity": "SHOULD", "source": "RFC 7644 §3.12", "method": "GET", "path": "/Nope", "expect": {"status": 200}}]}`)
	r = runCLI(t, false, "test", "--url", s.base, "--token", s.key, "--scenarios", should)
	if r.code != exitOK || !strings.Contains(r.stdout, "WARN  Nothing at /Nope (SHOULD)") || lastLine(r.stdout) != "0 passed, 1 failed, 0 skipped" ||
		!strings.Contains(r.stdout, "source: RFC 7644 §3.12") || !strings.Contains(r.stdout, "status: expected 200, got 404") {
		t.Fatalf("SHOULD: exit %d\n%s", r.code, r.stdout)
	}
	must := t.TempDir()
	writeScenario(t, must, "custom", "fail.json", `{"name": "Required", "steps": [
	  {"name": "Nothing at /Nope", "method": "GET", "path": "/Nope", "expect": {"status": 200}}]}`)
	r = runCLI(t, false, "test", "--url", s.base, "--token", s.key, "--scenarios", must)
	if r.code != exitError || !strings.Contains(r.stdout, "FAIL  Nothing at /Nope") || r.stderr != "" {
		t.Fatalf("MUST: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// A broken scenario file is a usage error that says what is wrong.
	bad := t.TempDir()
	writeScenario(t, bad, "custom", "bad.json", `{"name": "Bad", "steps": [{"name": "x", "method": "FETCH", "path": "/Users"}]}`)
	r = runCLI(t, false, "test", "--url", s.base, "--token", s.key, "--scenarios", bad)
	if r.code != exitUsage || !strings.Contains(r.stderr, `method "FETCH" is not an HTTP method`) {
		t.Fatalf("bad scenario: exit %d\n%s", r.code, r.stderr)
	}
}

func TestTestCommandRunscope(t *testing.T) {
	isolateEnv(t)
	s := startTestServer(t, t.TempDir(), "adm-secret-0123456789")
	// The SPEC test's precondition: at least one user exists.
	if err := conformance.SeedUser(context.Background(), client.NewSCIM(s.base, s.key), ""); err != nil {
		t.Fatal(err)
	}
	export := filepath.Join("..", "..", "testdata", "okta", "Okta-SCIM-20-SPEC-Test.json")

	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"bearer, no pause", []string{"--no-pause"}},
		{"bare key, pauses scaled", []string{"--auth-header", "--pause-scale", "0.001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := runCLI(t, false, append([]string{"test", "--runscope", export, "--url", s.base, "--token", s.key}, tc.flags...)...)
			noSecrets(t, r, s.key)
			if r.code != exitOK || lastLine(r.stdout) != "12 passed, 0 failed, 0 skipped" {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, "Okta SCIM 2.0 SPEC Test  12 passed") {
				t.Errorf("report:\n%s", r.stdout)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %s: the pauses were not shortened", d)
			}
		})
	}

	t.Run("only", func(t *testing.T) {
		r := runCLI(t, false, "test", "--runscope", export, "--url", s.base, "--token", s.key, "--no-pause", "--only", "*Check status 40?")
		if r.code != exitOK || lastLine(r.stdout) != "2 passed, 0 failed, 0 skipped" {
			t.Fatalf("exit %d\n%s", r.code, r.stdout)
		}
	})
	t.Run("skip", func(t *testing.T) {
		r := runCLI(t, false, "test", "--runscope", export, "--url", s.base, "--token", s.key, "--no-pause", "--skip", "Required Test: Check status 404")
		if r.code != exitOK || lastLine(r.stdout) != "11 passed, 0 failed, 1 skipped" || !strings.Contains(r.stdout, "note: skipped by --skip") {
			t.Fatalf("exit %d\n%s", r.code, r.stdout)
		}
	})
	t.Run("usage", func(t *testing.T) {
		r := runCLI(t, false, "test", "--runscope", export, "--url", s.base, "--token", s.key, "--suite", "okta-lifecycle")
		if r.code != exitUsage || !strings.Contains(r.stderr, "cannot be used with --suite") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		r = runCLI(t, false, "test", "--runscope", filepath.Join(t.TempDir(), "none.json"), "--url", s.base, "--token", s.key)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--runscope: open") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
	})
}

// TestTestCommandMappingOutcomes: with admin access the run uses a
// throw-away provider, checks the directory users, and removes it.
func TestTestCommandMappingOutcomes(t *testing.T) {
	isolateEnv(t)
	const adminToken = "adm-secret-0123456789"
	s := startTestServer(t, t.TempDir(), adminToken)

	r := runCLI(t, false, "test", "--url", s.base, "--admin-url", s.url, "--admin-token", adminToken, "--suite", "okta-lifecycle", "-o", "json")
	noSecrets(t, r, adminToken, s.key)
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(`throw-away provider kacescim-test-[0-9a-f]{6}\b`).MatchString(r.stderr) {
		t.Errorf("stderr %q", r.stderr)
	}
	res, checks := testResult(t, r.stdout)
	directory := 0
	for name, c := range checks {
		if !strings.Contains(name, "directory user") {
			continue
		}
		directory++
		if c.Status != conformance.StatusPass {
			t.Errorf("%s: %s %v %v", name, c.Status, c.Failures, c.Notes)
		}
	}
	if directory == 0 || !res.OK() || len(res.Leftovers) != 0 {
		t.Errorf("%d directory checks, ok %v, leftovers %v", directory, res.OK(), res.Leftovers)
	}
	if ps := s.providers(t); len(ps) != 1 || ps[0] != "okta" {
		t.Errorf("providers after the run: %v", ps)
	}

	// --keep leaves the provider, and says so.
	r = runCLI(t, false, "test", "--admin-url", s.url, "--admin-token", adminToken, "--suite", "okta-lifecycle", "--only", "Fetch:*", "--keep")
	if r.code != exitOK || !regexp.MustCompile(`provider kacescim-test-[0-9a-f]{6} \(kept`).MatchString(r.stdout) {
		t.Fatalf("--keep: exit %d\n%s", r.code, r.stdout)
	}
	if ps := s.providers(t); len(ps) != 2 {
		t.Errorf("providers after --keep: %v", ps)
	}

	// A wrong admin token given explicitly is a usage error.
	r = runCLI(t, false, "test", "--url", s.base, "--admin-token", "wrong-admin-token", "--suite", "okta-lifecycle")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--admin-token") {
		t.Fatalf("wrong admin token: exit %d\n%s", r.code, r.stderr)
	}
}

// TestTestCommandDiscoversLocalAdmin: pointed at a kacescim on loopback
// whose data directory the CLI finds, the tester checks mapping outcomes
// without being told.
func TestTestCommandDiscoversLocalAdmin(t *testing.T) {
	isolateEnv(t)
	dataDir := filepath.Join(os.Getenv("XDG_DATA_HOME"), "kacescim")
	s := startTestServer(t, dataDir, "")

	r := runCLI(t, false, "test", "--url", s.base, "--suite", "okta-lifecycle", "-o", "json")
	token, _ := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	noSecrets(t, r, strings.TrimSpace(string(token)), s.key)
	if r.code != exitOK || !strings.Contains(r.stderr, "throw-away provider kacescim-test-") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	_, checks := testResult(t, r.stdout)
	found := false
	for name, c := range checks {
		if strings.Contains(name, "directory user") {
			found = true
			if c.Status != conformance.StatusPass {
				t.Errorf("%s: %s %v %v", name, c.Status, c.Failures, c.Notes)
			}
		}
	}
	if !found {
		t.Errorf("no directory checks in %v", checkNames(checks))
	}
	if ps := s.providers(t); len(ps) != 1 {
		t.Errorf("providers after the run: %v", ps)
	}

	// A wrong --key with the local admin: the run tests a throw-away
	// provider, and its first line says plainly that the key was refused.
	r = runCLI(t, false, "test", "--url", s.base, "--key", "kcs_wrong-key-0123456789", "--suite", "okta-lifecycle")
	first, _, _ := strings.Cut(r.stderr, "\n")
	if r.code != exitOK || !strings.HasPrefix(first, "Warning: "+s.base+" refused your --key (HTTP 401)") || !strings.Contains(first, "--no-admin") {
		t.Errorf("a refused --key: exit %d, first line %q\n%s", r.code, first, r.stderr)
	}
	noSecrets(t, r, "kcs_wrong-key-0123456789")

	// --no-admin tests the provider of --token as it is.
	r = runCLI(t, false, "test", "--url", s.base, "--token", s.key, "--suite", "okta-lifecycle", "--no-admin")
	if r.code != exitOK || r.stderr != "" || !strings.Contains(r.stdout, "needs admin access") {
		t.Fatalf("--no-admin: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// An admin API that refuses the token found: said once, the run goes on
	// without mapping outcomes.
	if err := os.WriteFile(filepath.Join(dataDir, "admin-token"), []byte("stale-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := startTestServer(t, t.TempDir(), "the-real-admin-token")
	r = runCLI(t, false, "test", "--url", other.base, "--token", other.key, "--suite", "okta-lifecycle")
	noSecrets(t, r, "stale-token-0123456789", other.key)
	if r.code != exitOK || strings.Count(r.stderr, "No mapping outcomes") != 1 || !strings.Contains(r.stdout, "needs admin access") {
		t.Fatalf("stale token: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestTestCommandUsage(t *testing.T) {
	isolateEnv(t)
	s := startTestServer(t, t.TempDir(), "adm-secret-0123456789")
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown suite", []string{"--suite", "okta-lifecycle,nope"}, `unknown suite "nope": the suites are okta-spec, okta-lifecycle`},
		{"output", []string{"-o", "yaml"}, `unknown output format "yaml": use text, json or junit`},
		{"no-pause", []string{"--no-pause"}, "only with --runscope: --no-pause"},
		{"timeout", []string{"--timeout", "0s"}, "--timeout 0s: must be more than 0"},
		{"bad key", []string{"--token", "kcs_not-a-real-key-0123456789"}, "refused the key (HTTP 401)"},
		{"no key", []string{"--token", ""}, "no key: give the identity provider's key with --key"},
		{"unreachable", []string{"--url", closed.URL + "/scim/v2"}, "Error: cannot reach " + closed.URL + "/scim/v2"},
		{"bad url", []string{"--url", "scim.example.com"}, `--url "scim.example.com": give the SCIM base URL`},
		{"args", []string{"extra"}, "takes no arguments"},
		{"explore negative", []string{"--explore", "-1"}, "--explore -1: give a number of operations from 1 to 100000"},
		{"seed alone", []string{"--seed", "3"}, "--seed and --explore-dir go with --explore N"},
		{"explore runscope", []string{"--explore", "5", "--runscope", "x.json"}, "cannot be used with --explore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"test", "--url", s.base, "--token", s.key, "--suite", "okta-lifecycle"}, tc.args...)
			r := runCLI(t, false, args...)
			noSecrets(t, r, s.key)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}

func checkNames[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestTestCommandHelpGolden(t *testing.T) {
	isolateEnv(t)
	r := runCLI(t, false, "test", "--help")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "help-test.golden", r.stdout)
}
