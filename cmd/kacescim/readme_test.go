package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// walkthrough is the README's Quickstart: its ```sh blocks, in order, from
// "## Quickstart" to the next section.
func walkthrough(t *testing.T, readme string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "\n## Quickstart\n")
	if !ok {
		t.Fatal("the README has no ## Quickstart")
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	var blocks []string
	for {
		_, after, ok := strings.Cut(rest, "\n```sh\n")
		if !ok {
			break
		}
		block, tail, ok := strings.Cut(after, "\n```\n")
		if !ok {
			t.Fatal("a ```sh block of the Quickstart does not end")
		}
		blocks = append(blocks, block)
		rest = tail
	}
	if len(blocks) < 4 {
		t.Fatalf("the Quickstart has %d sh blocks", len(blocks))
	}
	return blocks
}

// runWalkthrough runs blocks as one bash script with `set -euo pipefail`,
// from the repository's root, as a new user would: a fresh home and data
// directory, kacescim on PATH. `go install ./cmd/kacescim` (and nothing
// else the go command might be asked) is this test binary, which is
// kacescim (TestMain), so that the walkthrough costs no build; the server
// listens on a port of its own (KACESCIM_LISTEN) instead of 8080, and
// $EDITOR saves what it is given.
func runWalkthrough(t *testing.T, blocks []string) (string, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	home, bin, shims := t.TempDir(), t.TempDir(), t.TempDir()
	goShim := `#!/bin/sh
if [ "$*" = "install ./cmd/kacescim" ]; then exec ln -sf "$KACESCIM_WALKTHROUGH_BINARY" "$GOBIN/kacescim"; fi
echo "the walkthrough's go shim runs only 'go install ./cmd/kacescim', not: go $*" >&2
exit 2
`
	if err := os.WriteFile(filepath.Join(shims, "go"), []byte(goShim), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "set -euo pipefail\n" + strings.Join(blocks, "\n") + "\n"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = filepath.Join("..", "..")
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, envPrefix+"_") || k == "EDITOR" || k == "VISUAL" || k == "COLUMNS" || strings.HasPrefix(k, "XDG_") {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(env,
		"HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, ".local", "share"), "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"GOBIN="+bin, "PATH="+shims+":"+bin+":"+os.Getenv("PATH"),
		"KACESCIM_WALKTHROUGH_BINARY="+exe, "KACESCIM_LISTEN=127.0.0.1:0", "EDITOR=true")
	// serve runs in the script's process group: whatever the script
	// leaves running goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A file, not a pipe: a serve the script leaves behind would hold a
	// pipe open, and Run would wait for it.
	out, err := os.CreateTemp(t.TempDir(), "walkthrough")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	b, rerr := os.ReadFile(out.Name())
	if rerr != nil {
		t.Fatal(rerr)
	}
	return string(b), err
}

// TestREADMEWalkthrough runs the README's Quickstart exactly as written,
// every block in order, and checks what it did; a README command that no
// longer works fails it.
func TestREADMEWalkthrough(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := walkthrough(t, string(readme))
	out, err := runWalkthrough(t, blocks)
	if err != nil {
		t.Fatalf("the README's walkthrough failed (%v):\n%s", err, out)
	}
	for _, want := range []string{
		"Ready:    yes",                  // status --wait
		`"userName": "jane@example.com"`, // scim POST
		"Synced users:",                  // provider show
		"Added mapping",                  // mappings add
		"EmployeeNumber",                 // ... of the field the walkthrough adds
		"1815",                           // mappings preview of testdata/user.json
		"Email:     jane@example.com",    // users show jane@example.com
		"Removed provider okta",          // the end
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the walkthrough's output has no %q:\n%s", want, out)
		}
	}
	// The key of provider add --quiet went into KACESCIM_KEY, not onto
	// the screen: the only keys shown are the two rotations' and enable's.
	if keys := regexp.MustCompile(`kcs_[A-Za-z0-9_-]{20,}`).FindAllString(out, -1); len(keys) != 3 {
		t.Errorf("the walkthrough showed %d keys, want 3 (rotate-key twice, enable):\n%s", len(keys), out)
	}
	for _, want := range []string{"the old key keeps working until", "\tgrace\t", "the old key no longer works"} {
		if !strings.Contains(out, want) {
			t.Errorf("the walkthrough's key rotation has no %q:\n%s", want, out)
		}
	}

	// A command the CLI no longer takes stops the walkthrough.
	broken := strings.Join(blocks, "\n")
	broken = strings.Replace(broken, "kacescim users show jane@example.com", "kacescim users show jane@example.com --no-such-flag", 1)
	if out, err := runWalkthrough(t, []string{broken}); err == nil || !strings.Contains(out, "unknown flag: --no-such-flag") {
		t.Errorf("a walkthrough with a broken command passed (%v):\n%s", err, out)
	}
}
