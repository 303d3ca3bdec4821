package main

import (
	"encoding/json"
	"testing"
)

// testBuild is the build runCLI's commands report.
var testBuild = buildInfo{Version: "test", Commit: "0123456789abcdef0123", Modified: true,
	Time: "2026-12-01T10:00:00Z", Go: "go1.26.8", Platform: "linux/amd64"}

// TestVersion: --version, -v and version print one line with the version,
// the commit (cut to 12), whether the checkout was modified, the dates and
// the Go version; version -o json gives each as a field.
func TestVersion(t *testing.T) {
	isolateEnv(t)
	const want = "kacescim test (commit 0123456789ab, modified, committed 2026-12-01T10:00:00Z, go1.26.8 linux/amd64)\n"
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		if r := runCLI(t, false, args...); r.code != 0 || r.stdout != want {
			t.Errorf("%v: exit %d, %q %q, want %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
	r := runCLI(t, false, "version", "-o", "json")
	var got buildInfo
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got != testBuild {
		t.Errorf("version -o json: %v %+v, want %+v", err, got, testBuild)
	}
}

// TestBuildInfoString: a release build's link-time date, and a build with
// no commit recorded, which says how to record one.
func TestBuildInfoString(t *testing.T) {
	for _, tc := range []struct {
		b    buildInfo
		want string
	}{
		{buildInfo{Version: "v1.2.3", Commit: "abc", Date: "2026-12-03T19:00:00Z", Go: "go1.26.8", Platform: "linux/arm64"},
			"v1.2.3 (commit abc, built 2026-12-03T19:00:00Z, go1.26.8 linux/arm64)"},
		{buildInfo{Go: "go1.26.8", Platform: "linux/amd64"},
			"dev (commit unknown: built without version control data (go run, or -buildvcs=false); go build -buildvcs=true ./cmd/kacescim records it, go1.26.8 linux/amd64)"},
		{buildInfo{}, "dev"},
	} {
		if got := tc.b.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.b, got, tc.want)
		}
	}
}
