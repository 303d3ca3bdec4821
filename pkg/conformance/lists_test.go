package conformance_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/conformance"
)

func TestListsSuite(t *testing.T) {
	t.Run("against kacescim", func(t *testing.T) {
		res, checks, _ := goSuiteRun(t, conformance.Options{Suites: []string{"lists"}, Verbose: true})
		if len(checks) != len(conformance.GoSuiteChecks("lists")) {
			t.Errorf("%d checks; want %d", len(checks), len(conformance.GoSuiteChecks("lists")))
		}
		for name, c := range checks {
			if c.Status != conformance.StatusPass || c.Request == nil {
				t.Errorf("%s: %s %q %q (request %v)", name, c.Status, c.Failures, c.Notes, c.Request)
			}
		}
		if len(res.Leftovers) > 0 {
			t.Errorf("leftovers %q", res.Leftovers)
		}
	})

	t.Run("without groups or filtering", func(t *testing.T) {
		res, checks, _ := goSuiteRun(t, conformance.Options{
			Suites:       []string{"lists"},
			Capabilities: map[conformance.Capability]bool{conformance.CapGroups: false, conformance.CapFilter: false},
			// What it leaves says what it made.
			Keep: true,
		})
		for name, c := range checks {
			switch group := strings.Contains(name, "Groups") || strings.Contains(name, "group is"); {
			case group && (c.Status != conformance.StatusSkip || !strings.Contains(strings.Join(c.Notes, " "), "needs groups")):
				t.Errorf("%s: %s %q, want skipped for want of groups", name, c.Status, c.Notes)
			case !group && c.Status != conformance.StatusPass:
				t.Errorf("%s: %s %q %q", name, c.Status, c.Failures, c.Notes)
			case strings.HasPrefix(name, "lists/Paging /Users") && !strings.Contains(strings.Join(c.Notes, " "), "paged without a filter"):
				t.Errorf("%s: notes %q; want the unfiltered walk noted", name, c.Notes)
			}
		}
		if len(res.Leftovers) != listUsersMade {
			t.Errorf("leftovers %q; want the %d users alone, no group", res.Leftovers, listUsersMade)
		}
		for _, l := range res.Leftovers {
			if !strings.Contains(l, "DELETE /Users/") {
				t.Errorf("leftover %q; want users alone", l)
			}
		}
	})
}

// listUsersMade is how many users the lists suite creates.
const listUsersMade = 6

// A server that claims filtering but refuses sw is paged whole, saying so.
func TestListsSuiteWithoutSw(t *testing.T) {
	refuseSw := bkRefuse(func(r *http.Request, _ []byte) (int, string) {
		if bkIsList(r) && strings.Contains(r.URL.Query().Get("filter"), " sw ") {
			return http.StatusBadRequest, "invalidFilter"
		}
		return 0, ""
	})
	res := bkRun(t, refuseSw, func(*conformance.Scenario) bool { return false }, func(s string) bool { return s == "lists" })
	checks := bkOutcomes(res)
	if len(checks) != len(conformance.GoSuiteChecks("lists")) {
		t.Errorf("%d checks; want %d", len(checks), len(conformance.GoSuiteChecks("lists")))
	}
	for name, c := range checks {
		notes := strings.Join(c.Notes, " ")
		switch {
		case c.Status != conformance.StatusPass:
			t.Errorf("%s: %s %q %q", name, c.Status, c.Failures, c.Notes)
		case strings.HasPrefix(name, "lists/Paging") && (!strings.Contains(notes, "paged without a filter: the filter") || !strings.Contains(notes, "-> 400")):
			t.Errorf("%s: notes %q; want the refused filter and the unfiltered walk noted", name, c.Notes)
		}
	}
}
