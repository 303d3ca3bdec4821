package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestTablesFitTheTerminal: at 80 and 150 columns no line of a table
// wraps, the long values are cut with an ellipsis and the short columns
// stay whole; --wide, and piped output, keep every value whole.
func TestTablesFitTheTerminal(t *testing.T) {
	isolateEnv(t)
	_, dirConn := startFakeDirectory(t)
	_, logConn := startFakeLog(t)
	admin := fakeAdminAPI(t)
	adminConn := []string{"--server", admin.URL, "--token", testToken}
	for _, tc := range []struct {
		name string
		args []string
		conn []string
		// whole is a value that is cut at 80 columns and shown whole
		// with --wide; kept, one that is never cut.
		whole, kept string
	}{
		{"mappings-list", []string{"mappings", "list", "-p", "Okta"}, dirConn,
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "required, read-only"},
		{"users-list", []string{"users", "list"}, dirConn, "Engineering,Sales", "yes"},
		{"logs", []string{"logs"}, logConn, "", "GET"},
		{"provider-keys", []string{"provider", "keys", "Okta"}, adminConn, "", "grace"},
	} {
		for _, width := range []int{80, 150} {
			t.Run(fmt.Sprint(tc.name, "-", width), func(t *testing.T) {
				r := runCLIInput(t, cliInput{stdoutTTY: true, width: width}, append(tc.args, tc.conn...)...)
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				widest := 0
				for _, l := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n") {
					widest = max(widest, ansi.StringWidth(l))
				}
				if widest > width {
					t.Errorf("a line of %d columns on a terminal of %d:\n%s", widest, width, r.stdout)
				}
				if !strings.Contains(r.stdout, tc.kept) {
					t.Errorf("%q was cut:\n%s", tc.kept, r.stdout)
				}
				if width == 80 {
					golden(t, tc.name+".80.tty.golden", r.stdout)
					if tc.whole != "" && strings.Contains(r.stdout, tc.whole) {
						t.Errorf("%q is whole at 80 columns: nothing was cut?\n%s", tc.whole, r.stdout)
					}
					if !strings.Contains(r.stdout, "…") {
						t.Errorf("no ellipsis marks a cut:\n%s", r.stdout)
					}
				}
			})
		}
		t.Run(tc.name+"-wide", func(t *testing.T) {
			wide := runCLIInput(t, cliInput{stdoutTTY: true, width: 80}, append(append(tc.args, "--wide"), tc.conn...)...)
			narrow := runCLIInput(t, cliInput{stdoutTTY: true}, append(tc.args, tc.conn...)...)
			if wide.code != 0 || wide.stdout != narrow.stdout {
				t.Errorf("--wide at 80 columns differs from a terminal of unknown width:\n%s\n---\n%s", wide.stdout, narrow.stdout)
			}
			if tc.whole != "" && !strings.Contains(wide.stdout, tc.whole) {
				t.Errorf("--wide does not show %q whole:\n%s", tc.whole, wide.stdout)
			}
			piped := runCLIInput(t, cliInput{width: 80}, append(tc.args, tc.conn...)...)
			if strings.Contains(piped.stdout, "…") {
				t.Errorf("piped output is cut to the width:\n%s", piped.stdout)
			}
		})
	}
}

func TestFitColumns(t *testing.T) {
	headers := []string{"NAME", "PATH", "NOTE"}
	rows := [][]string{{"okta", strings.Repeat("p", 60), strings.Repeat("n", 40)}, {"entra", "short", "é日本"}}
	h, got := fitColumns(headers, rows, 50)
	total := 0
	for i := range h {
		w := 0
		for _, r := range append([][]string{h}, got...) {
			w = max(w, ansi.StringWidth(r[i]))
		}
		total += w
	}
	if total+columnGap*2 > 50 {
		t.Errorf("columns of %d and gaps in 50: %q", total, got)
	}
	if got[0][0] != "okta" || got[1][0] != "entra" || got[1][1] != "short" || got[1][2] != "é日本" {
		t.Errorf("short values were cut: %q", got)
	}
	// The cut falls on both long columns, the longest first.
	if !strings.HasSuffix(got[0][1], "…") || !strings.HasSuffix(got[0][2], "…") {
		t.Errorf("long values not cut with an ellipsis: %q", got[0])
	}
	// Fits already: unchanged.
	if _, same := fitColumns(headers, rows, 200); same[0][1] != rows[0][1] {
		t.Errorf("a table that fits was cut")
	}
	// Too many columns for the width: the headers are cut too, to the
	// hard floor.
	h, got = fitColumns(headers, rows, 5)
	if h[0] != "NAME" || h[1] != "PATH" || ansi.StringWidth(got[0][1]) != hardFloor || got[0][1] != "ppp…" {
		t.Errorf("at 5 columns: %q %q", h, got[0])
	}
	h, _ = fitColumns([]string{"DEPARTMENT", "COST CENTER"}, nil, 12)
	if h[0] != "DEPA…" || h[1] != "COST…" {
		t.Errorf("headers cut to %q", h)
	}
}
