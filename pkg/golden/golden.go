// Package golden compares test output with golden files, and rewrites them
// when the test binary runs with -update:
//
//	go test ./cmd/kacescim -run TestHelpGolden -update
//
// It is for tests only (importing it registers the -update flag), and sits
// outside an internal directory because cmd/kacescim's tests use it too.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files the tests compare with")

// Check compares got with the file at path (relative to the test's package
// directory), or with -update writes got there, creating the directory.
func Check(tb testing.TB, path, got string) {
	tb.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		tb.Errorf("%s differs (run go test -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
