package conformance

import (
	"context"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/kacescim/kacescim/pkg/client"
)

// Options configure Run.
type Options struct {
	// BaseURL is the SCIM base URL under test, e.g. https://host/scim/v2.
	BaseURL string
	// Token is the identity provider's key. Steps send it as "Bearer
	// <token>" unless they say otherwise; it is redacted from reports.
	Token string
	// Suites selects the suites to run by name; empty runs every suite of
	// the scenarios given.
	Suites []string
	// Only, when not empty, reports just the checks whose names match one
	// of its patterns (path.Match syntax, case-insensitive; "suite/name"
	// or "name"). Scenarios without such a check are not run; the other
	// steps of those that are still run, unreported, to set up state.
	Only []string
	// Skip lists patterns of checks not to run: their steps are not sent,
	// and steps needing what they would have captured are skipped too.
	Skip []string
	// IsolationToken is the key of a second provider of the same server
	// (tenant B), for the isolation suite: with it, that suite checks that
	// nothing of Token's provider can be seen or changed with it; without
	// it, the suite's checks are skipped. It is redacted from reports.
	IsolationToken string
	// OAuth is the OAuth client the run authenticated with (its token
	// endpoint, client ID and secret), for the auth suite's token
	// endpoint checks; nil leaves them to Credentials, or skips them.
	OAuth *OAuthClient
	// Credentials manages a throw-away provider's keys and secrets (a
	// kacescim admin API), for the auth suite's rotation, expiry and
	// revocation checks; nil skips them.
	Credentials Credentials
	// Keep leaves what the scenarios created in place: no cleanup steps
	// are sent.
	Keep bool
	// Verbose keeps each check's full request and response (key
	// redacted) in Check.Transcript.
	Verbose bool
	// Directory reads the directory users of the provider whose key is
	// Token; with it, steps' directory expectations are checked. Nil
	// leaves them out.
	Directory Directory
	// NoState turns off the state checks, which are on by default: the
	// runner keeps a model of every user and group a scenario creates,
	// derived from the requests it sends, and after each successful write
	// compares the write's answer and a read-back GET with it (a
	// "<step>: state" check; see the package documentation).
	NoState bool
	// Explore, when more than 0, adds the explore suite: that many
	// operations Okta and Entra ID send (creates, lookups, PUTs, PATCHes,
	// group pushes, deletes, paging), drawn from Seed, checked against
	// the model after every step. When a check fails, the run shrinks the
	// sequence to the shortest it finds that fails the same way, in at
	// most ShrinkRuns runs (0: 300), and returns it in Result.Explore.
	// The same Seed and Explore give the same sequence.
	Explore    int
	Seed       uint64
	ShrinkRuns int
	// Capabilities override what the server's discovery endpoints say,
	// e.g. {CapLenient: false} for a server that refuses non-RFC input.
	Capabilities map[Capability]bool
	// Vars override variables (built-in and scenarios' own) by name.
	Vars map[string]string
	// Transport sends the requests; nil uses a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// ClientOptions configure the SCIM client, e.g. client.WithTimeout.
	ClientOptions []client.Option
}

// Directory reads directory users, for mapping outcomes.
type Directory interface {
	// User returns the fields of the directory user made from the SCIM
	// user id, as text; found is false when there is none.
	User(ctx context.Context, id string) (fields map[string]string, found bool, err error)
}

// Result is the outcome of a Run: a report per suite, and what the run
// left behind on the server.
type Result struct {
	Reports []*Report `json:"reports"`
	// Leftovers are resources the run created and could not remove (or,
	// with Options.Keep, did not remove), one line each.
	Leftovers []string `json:"leftovers,omitempty"`
	// Capabilities are what the run found the server (and itself) able to
	// do, after Options.Capabilities.
	Capabilities map[Capability]bool `json:"capabilities,omitempty"`
	// Explore is what Options.Explore's sequence found; nil without it.
	Explore *Exploration `json:"explore,omitempty"`
}

// OK reports whether no MUST check failed in any suite.
func (r *Result) OK() bool {
	for _, rep := range r.Reports {
		if !rep.OK() {
			return false
		}
	}
	return true
}

// Totals returns the number of passed, failed and skipped checks.
func (r *Result) Totals() (passed, failed, skipped int) {
	for _, rep := range r.Reports {
		passed += rep.Passed()
		failed += rep.Failed()
		skipped += rep.Skipped()
	}
	return passed, failed, skipped
}

// Run runs scenarios against the SCIM server at opts.BaseURL and reports
// one check per step, per assertion that names a check of its own, and
// per directory expectation (with opts.Directory). The built-in suites
// written in Go (concurrency, isolation) run after the scenarios when
// opts.Suites names them, or when it is empty and scenarios include
// built-in ones (BuiltinScenarios); with opts.Explore, the generated
// sequence runs last, as the explore suite. Like testing/fstest's
// TestFS, it collects every failure instead of stopping at the first.
//
// A step that fails leaves its captures unset, and the steps that need
// them are skipped, not failed, so that one fault fails one check. Once
// ctx is done, the steps left fail with "not run".
func Run(ctx context.Context, scenarios []*Scenario, opts Options) *Result {
	r := newRunner(opts)
	defer r.close()
	res := &Result{}
	r.discover(ctx)
	res.Capabilities = r.caps

	bySuite := map[string]*Report{}
	for _, s := range scenarios {
		if len(opts.Suites) > 0 && !slices.Contains(opts.Suites, s.Suite) {
			continue
		}
		if len(opts.Only) > 0 && !slices.ContainsFunc(s.CheckNames(), func(n string) bool { return r.matches(opts.Only, s.Suite, n) }) {
			continue
		}
		rep := bySuite[s.Suite]
		if rep == nil {
			rep = &Report{Suite: s.Suite}
			bySuite[s.Suite] = rep
			res.Reports = append(res.Reports, rep)
		}
		sr := r.scenario(s)
		sr.run(ctx, rep)
		res.Leftovers = append(res.Leftovers, sr.cleanup(ctx)...)
	}
	// The Go suites: named, or with every built-in suite.
	builtin := slices.ContainsFunc(scenarios, func(s *Scenario) bool { return s.builtin })
	for _, g := range goSuites {
		if len(opts.Suites) > 0 && !slices.Contains(opts.Suites, g.name) || len(opts.Suites) == 0 && !builtin || !g.selected(r) {
			continue
		}
		rep := &Report{Suite: g.name}
		res.Reports = append(res.Reports, rep)
		res.Leftovers = append(res.Leftovers, r.runGoSuite(ctx, g, rep)...)
	}
	if opts.Explore > 0 {
		rep, ex, left := r.explore(ctx)
		res.Reports = append(res.Reports, rep)
		res.Explore = ex
		res.Leftovers = append(res.Leftovers, left...)
	}
	return res
}

// runner is the state of one Run shared by its scenarios.
type runner struct {
	opts      Options
	base      string
	transport http.RoundTripper
	ownsTrans bool
	caps      map[Capability]bool
	capWhy    map[Capability]string
	red       Redactor
	// metaFailed names, for each server-wide metadata rule a check of the
	// run failed (metaFault.once), that check.
	metaFailed map[string]string
}

func newRunner(opts Options) *runner {
	r := &runner{
		opts:   opts,
		base:   strings.TrimRight(opts.BaseURL, "/"),
		caps:   map[Capability]bool{},
		capWhy: map[Capability]string{},

		metaFailed: map[string]string{},
	}
	r.transport, r.ownsTrans = ownTransport(opts.Transport)
	r.red = newRedactor(nil, opts.Token, opts.IsolationToken, invalidToken)
	return r
}

func (r *runner) close() {
	if r.ownsTrans {
		r.transport.(*http.Transport).CloseIdleConnections()
	}
}

// invalidToken is what steps with auth "invalid" present: the shape of a
// kacescim key, valid nowhere.
const invalidToken = "kcs_invalid0invalid0invalid0invalid0invalid0ab"

// client returns a SCIM client sending header (after the key) on every
// request.
func (r *runner) client(header http.Header) *client.SCIM {
	opts := append(slices.Clone(r.opts.ClientOptions), client.WithTransport(&headerTransport{base: r.transport, header: header}))
	return client.NewSCIM(r.base, "", opts...)
}

// matches reports whether a check of suite is selected by one of patterns.
func (r *runner) matches(patterns []string, suite, name string) bool {
	return matchCheck(patterns, suite, name)
}

// reasonSkipOption is the note of a check that Options.Skip or
// RunscopeOptions.Skip (the CLI's --skip) left out.
const reasonSkipOption = "skipped by --skip"

// matchCheck reports whether the check name of suite is selected by one of
// patterns, as Only and Skip of Options and RunscopeOptions select: the
// name or "suite/name", exactly or as a path.Match pattern,
// case-insensitively.
func matchCheck(patterns []string, suite, name string) bool {
	name = strings.ToLower(name)
	full := strings.ToLower(suite) + "/" + name
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == name || p == full {
			return true
		}
		if ok, _ := path.Match(p, name); ok {
			return true
		}
		if ok, _ := path.Match(p, full); ok {
			return true
		}
	}
	return false
}
