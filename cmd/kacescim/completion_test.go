package main

import (
	"strings"
	"testing"
)

// complete runs cobra's hidden __complete command for args (the last one
// is what is being completed) and returns the candidates it printed.
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	r := runCLI(t, false, append([]string{"__complete"}, args...)...)
	if r.code != 0 {
		t.Fatalf("__complete %v: exit %d %s", args, r.code, r.stderr)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") {
			out = append(out, l)
		}
	}
	return out
}

// TestCompletion: provider names come from the running server's admin
// API (and nothing, silently, when it is away); suites and checks are
// known offline, after a comma too.
func TestCompletion(t *testing.T) {
	isolateEnv(t)
	srv := fakeAdminAPI(t)
	conn := []string{"--server", srv.URL, "--token", testToken}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append([]string{"provider", "show"}, append(conn, "")...), "Entra ID Okta"},
		{append([]string{"provider", "show"}, append(conn, "ok")...), "Okta"},
		{append([]string{"provider", "rotate-key"}, append(conn, "E")...), "Entra ID"},
		{append([]string{"provider", "show", "Okta"}, append(conn, "")...), ""}, // one NAME only
		{append([]string{"provider", "revoke-key"}, append(conn, "O")...), "Okta"},
		{append([]string{"provider", "revoke-key", "Okta"}, append(conn, "")...), "kq7m2x9fa kb4n8r2ce"},
		{append([]string{"provider", "revoke-key", "Okta"}, append(conn, "kb")...), "kb4n8r2ce"},
		{append([]string{"mappings", "list"}, append(conn, "--provider", "")...), "Entra ID Okta"},
		{[]string{"provider", "show", "--server", "http://127.0.0.1:1", "--token", "t", ""}, ""},
		{[]string{"test", "--suite", "okta-life"}, "okta-lifecycle"},
		{[]string{"test", "--suite", "okta-lifecycle,okta-li"}, "okta-lifecycle,okta-lifecycle"},
	} {
		if got := strings.Join(complete(t, tc.args...), " "); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.args, got, tc.want)
		}
	}
	checks := complete(t, "test", "--only", "")
	if len(checks) < 50 || !strings.Contains(strings.Join(checks, "\n"), "okta-lifecycle/*") {
		t.Errorf("--only offers %d names: %.300q", len(checks), checks)
	}
}
