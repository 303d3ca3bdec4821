package conformance

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

//go:embed scenarios
var builtinFS embed.FS

// BuiltinScenarios returns the scenarios embedded in the binary, in
// suite order (see Suites), each call a fresh copy. The error says which
// embedded file does not parse: a build of a work in progress.
func BuiltinScenarios() ([]*Scenario, error) {
	s, err := LoadScenarios(builtinFS, "scenarios")
	if err != nil {
		return nil, fmt.Errorf("the built-in scenarios of this build cannot be read: %w", err)
	}
	order := func(suite string) int {
		if i := slices.Index(Suites, suite); i >= 0 {
			return i
		}
		return len(Suites)
	}
	slices.SortStableFunc(s, func(a, b *Scenario) int { return order(a.Suite) - order(b.Suite) })
	for _, sc := range s {
		sc.builtin = true
	}
	return s, nil
}

// Suites are the built-in suites, in the order they run: the scenarios'
// and then those written in Go (concurrency: requests sent at once;
// isolation: a second provider's key, Options.IsolationToken; lists:
// paging through whole lists).
var Suites = []string{"okta-spec", "okta-lifecycle", "okta-groups", "entra", "rfc7644", "concurrency", "isolation", "lists", "auth"}

// LoadScenarioDir reads the scenario files (*.json) under dir, a folder
// of the user's: a scenario's suite is its "suite" field, else the name of
// the folder its file is in (dir's own name for a file directly in dir).
// It returns the scenarios and their suites in the order first seen.
func LoadScenarioDir(dir string) ([]*Scenario, []string, error) {
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return nil, nil, fmt.Errorf("%s: not a directory", dir)
	}
	own, err := LoadScenarios(os.DirFS(dir), ".")
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	abs, _ := filepath.Abs(dir)
	var suites []string
	for _, s := range own {
		if s.Suite == "." || s.Suite == "" {
			s.Suite = filepath.Base(abs)
		}
		if !slices.Contains(suites, s.Suite) {
			suites = append(suites, s.Suite)
		}
	}
	return own, suites, nil
}

// SelectSuites resolves the suite names a user asked for
// (case-insensitively) among the built-in suites and extra ones, in the
// spelling they are known by; an unknown name is an error that lists the
// suites there are. Without names it selects extra: a user's own suites
// run alone unless built-in ones are asked for too (nil extra: every
// suite).
func SelectSuites(names, extra []string) ([]string, error) {
	if len(names) == 0 {
		return extra, nil
	}
	valid := slices.Clone(Suites)
	for _, s := range extra {
		if !slices.Contains(valid, s) {
			valid = append(valid, s)
		}
	}
	var out []string
	for _, s := range names {
		s = strings.TrimSpace(s)
		i := slices.IndexFunc(valid, func(v string) bool { return strings.EqualFold(v, s) })
		if i < 0 {
			return nil, fmt.Errorf("unknown suite %q: the suites are %s", s, strings.Join(valid, ", "))
		}
		out = append(out, valid[i])
	}
	return out, nil
}
