package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/scim"
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
// per directory expectation (with opts.Directory). Like testing/fstest's
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
		if len(opts.Only) > 0 && !slices.ContainsFunc(s.checkNames(), func(n string) bool { return r.matches(opts.Only, s.Suite, n) }) {
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
	red       redactor
}

func newRunner(opts Options) *runner {
	r := &runner{
		opts:   opts,
		base:   strings.TrimRight(opts.BaseURL, "/"),
		caps:   map[Capability]bool{},
		capWhy: map[Capability]string{},
	}
	r.transport, r.ownsTrans = ownTransport(opts.Transport)
	r.red = newRedactor(nil, opts.Token, invalidToken)
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

// discover reads what the server says it supports.
func (r *runner) discover(ctx context.Context) {
	for _, c := range knownCapabilities {
		r.caps[c] = true
	}
	r.caps[CapDirectory] = r.opts.Directory != nil
	if r.opts.Directory == nil {
		r.capWhy[CapDirectory] = "needs admin access to the directory (--admin-url and --admin-token)"
	}
	c := r.client(http.Header{"Authorization": {"Bearer " + r.opts.Token}})
	if resp, err := c.Do(ctx, http.MethodGet, "/ServiceProviderConfig", nil); err == nil && resp.Status == http.StatusOK {
		var spc map[string]any
		if json.Unmarshal(resp.Body, &spc) == nil {
			for _, f := range []struct {
				cap  Capability
				name string
			}{{CapFilter, "filter"}, {CapSort, "sort"}, {CapETag, "etag"}, {CapBulk, "bulk"}, {CapPatch, "patch"}, {CapChangePassword, "changePassword"}} {
				feature, _ := spc[f.name].(map[string]any)
				if supported, ok := feature["supported"].(bool); ok && !supported {
					r.caps[f.cap] = false
					r.capWhy[f.cap] = fmt.Sprintf("the server's /ServiceProviderConfig says %s is not supported", f.name)
				}
			}
			if strictDialect(spc) {
				r.caps[CapLenient] = false
				r.capWhy[CapLenient] = "the server's /ServiceProviderConfig says it refuses non-RFC input (strict)"
			}
		}
	}
	if resp, err := c.Do(ctx, http.MethodGet, "/ResourceTypes", nil); err == nil && resp.Status == http.StatusOK {
		groups, enterprise := readResourceTypes(resp.Body)
		if !groups {
			r.caps[CapGroups] = false
			r.capWhy[CapGroups] = "the server's /ResourceTypes lists no Group"
		}
		if !enterprise {
			r.caps[CapEnterprise] = false
			r.capWhy[CapEnterprise] = "the server's /ResourceTypes lists no enterprise extension"
		}
	}
	for c, v := range r.opts.Capabilities {
		r.caps[c] = v
		if !v && r.capWhy[c] == "" {
			r.capWhy[c] = fmt.Sprintf("the run says the server lacks %s", c)
		}
	}
	// strict and lenient are one fact seen from two sides.
	if _, told := r.opts.Capabilities[CapStrict]; told {
		r.caps[CapLenient] = !r.caps[CapStrict]
	} else {
		r.caps[CapStrict] = !r.caps[CapLenient]
	}
	if r.caps[CapStrict] {
		r.capWhy[CapLenient] = "the server is strict: it refuses input the RFCs do not allow"
	} else {
		r.capWhy[CapStrict] = "the server accepts input beyond the RFCs (lenient), as its /ServiceProviderConfig says or by default"
	}
}

// readResourceTypes reports whether a /ResourceTypes answer (a
// ListResponse, or the bare array some servers send) lists a Group
// resource type and a User extended by the enterprise schema. An answer
// it cannot read claims both: the checks that need them then say what is
// wrong.
func readResourceTypes(body []byte) (groups, enterprise bool) {
	type resourceType struct {
		Name             string `json:"name"`
		Endpoint         string `json:"endpoint"`
		Schema           string `json:"schema"`
		SchemaExtensions []struct {
			Schema string `json:"schema"`
		} `json:"schemaExtensions"`
	}
	var list struct {
		Resources []resourceType `json:"Resources"`
	}
	if json.Unmarshal(body, &list) != nil || list.Resources == nil {
		if json.Unmarshal(body, &list.Resources) != nil {
			return true, true
		}
	}
	for _, rt := range list.Resources {
		if strings.EqualFold(rt.Name, "Group") || strings.EqualFold(strings.Trim(rt.Endpoint, "/"), "Groups") {
			groups = true
		}
		for _, ext := range rt.SchemaExtensions {
			if strings.EqualFold(ext.Schema, scim.EnterpriseUserURN) {
				enterprise = true
			}
		}
	}
	return groups, enterprise
}

// strictDialect finds a kacescim-style dialect extension in a
// ServiceProviderConfig that says the provider is strict.
func strictDialect(spc map[string]any) bool {
	for k, v := range spc {
		if !strings.Contains(strings.ToLower(k), "dialect") {
			continue
		}
		if m, ok := v.(map[string]any); ok && m["strict"] == true {
			return true
		}
	}
	return false
}

// missingCap returns the first capability of caps the run lacks, and why.
func (r *runner) missingCap(caps []Capability) (Capability, string, bool) {
	for _, c := range caps {
		if !r.caps[c] {
			return c, r.capWhy[c], true
		}
	}
	return "", "", false
}

// matches reports whether a check of suite is selected by one of patterns.
func (r *runner) matches(patterns []string, suite, name string) bool {
	return MatchCheck(patterns, suite, name)
}

// MatchCheck reports whether the check name of suite is selected by one of
// patterns, as Options.Only and Options.Skip select: the name or
// "suite/name", exactly or as a path.Match pattern, case-insensitively.
func MatchCheck(patterns []string, suite, name string) bool {
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

// scenarioRun is the state of one scenario: its variables and what its
// steps did.
type scenarioRun struct {
	*runner
	s    *Scenario
	vars map[string]string
	// jsonVars hold the JSON text of variables captured from JSON values,
	// for "{{name|json}}".
	jsonVars map[string]string
	// unset names, for each variable a failed step did not capture, that
	// step; skipped holds the variables of steps that were not run.
	unset   map[string]string
	skipped map[string]bool
	// status is the status of each step's own check, for After.
	status map[string]Status
}

func (r *runner) scenario(s *Scenario) *scenarioRun {
	sr := &scenarioRun{
		runner:   r,
		s:        s,
		vars:     map[string]string{},
		jsonVars: map[string]string{},
		unset:    map[string]string{},
		skipped:  map[string]bool{},
		status:   map[string]Status{},
	}
	sr.vars["rand"] = randomHex(5)
	sr.vars["uuid"] = randomUUID()
	sr.vars["baseURL"] = r.base
	names := make([]string, 0, len(s.Vars))
	for k := range s.Vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		sub := &substituter{vars: sr.vars}
		sr.vars[k] = sub.replaceFiltered(s.Vars[k], nil)
	}
	for k, v := range r.opts.Vars {
		sr.vars[k] = v
	}
	return sr
}

func (sr *scenarioRun) run(ctx context.Context, rep *Report) {
	if c, why, missing := sr.missingCap(sr.s.Requires); missing {
		for _, st := range sr.s.Steps {
			for _, name := range stepCheckNames(st) {
				sr.add(rep, sr.skipCheck(st, name, fmt.Sprintf("needs %s: %s", c, why)))
			}
		}
		return
	}
	for _, st := range sr.s.Steps {
		checks := sr.step(ctx, st)
		sr.status[st.Name] = checks[0].Status
		for _, c := range checks {
			sr.add(rep, c)
		}
	}
}

// add appends c to rep unless --only leaves it out.
func (sr *scenarioRun) add(rep *Report, c Check) {
	if len(sr.opts.Only) > 0 && !sr.matches(sr.opts.Only, sr.s.Suite, c.Name) {
		return
	}
	c.Scenario = sr.s.Name
	rep.Checks = append(rep.Checks, c)
}

func (sr *scenarioRun) skipCheck(st Step, name, why string) Check {
	return Check{Name: name, Severity: sr.severity(st, name), Source: sr.source(st, name), Status: StatusSkip, Notes: []string{sr.red.apply(why)}}
}

func (sr *scenarioRun) severity(st Step, name string) Severity {
	for _, a := range st.Expect.Assert {
		if a.Check == name && a.Severity != "" {
			return a.Severity
		}
	}
	if d := st.Directory; d != nil && d.Severity != "" && d.checkName(st.Name) == name {
		return d.Severity
	}
	if st.Severity != "" {
		return st.Severity
	}
	return SeverityMust
}

func (sr *scenarioRun) source(st Step, name string) string {
	for _, a := range st.Expect.Assert {
		if a.Check == name && a.Source != "" {
			return a.Source
		}
	}
	if d := st.Directory; d != nil && d.Source != "" && d.checkName(st.Name) == name {
		return d.Source
	}
	if st.Source != "" {
		return st.Source
	}
	return sr.s.Source
}

// markSkipped records that st's captures will not be set because it was
// not run.
func (sr *scenarioRun) markSkipped(st Step) {
	for name := range st.Capture {
		sr.skipped[name] = true
	}
}

// markUnset records that st ran but did not capture its variables.
func (sr *scenarioRun) markUnset(st Step) {
	for name := range st.Capture {
		if _, ok := sr.vars[name]; !ok || sr.unset[name] != "" {
			sr.unset[name] = st.Name
		}
	}
}

// step runs one step and returns its checks.
func (sr *scenarioRun) step(ctx context.Context, st Step) []Check {
	names := stepCheckNames(st)
	skipAll := func(why string) []Check {
		sr.markSkipped(st)
		out := make([]Check, 0, len(names))
		for _, n := range names {
			out = append(out, sr.skipCheck(st, n, why))
		}
		return out
	}
	if c, why, missing := sr.missingCap(st.Requires); missing {
		return skipAll(fmt.Sprintf("needs %s: %s", c, why))
	}
	if len(sr.opts.Skip) > 0 && sr.matches(sr.opts.Skip, sr.s.Suite, st.Name) {
		return skipAll("skipped by --skip")
	}
	for _, name := range st.After {
		switch sr.status[name] {
		case StatusPass:
		case StatusFail:
			return skipAll(fmt.Sprintf("not run: waits on %q, which failed", name))
		default:
			return skipAll(fmt.Sprintf("not run: waits on %q, which was not run", name))
		}
	}
	if err := ctx.Err(); err != nil {
		sr.markUnset(st)
		out := make([]Check, 0, len(names))
		for _, n := range names {
			c := sr.skipCheck(st, n, "")
			c.Status, c.Notes, c.Failures = StatusFail, nil, []string{"not run: " + err.Error()}
			out = append(out, c)
		}
		return out
	}
	p, missing := sr.prepare(st)
	if len(missing) > 0 {
		return skipAll(sr.missingReason(missing))
	}

	main := Check{Name: st.Name, Severity: sr.severity(st, st.Name), Source: sr.source(st, st.Name), Status: StatusPass}
	main.Request = &Request{Method: p.method, URL: sr.red.apply(p.client.URL(p.target))}
	start := time.Now()
	resp, err := p.client.Do(ctx, p.method, p.target, p.body)
	main.Duration = time.Since(start)
	if err != nil {
		sr.markUnset(st)
		main.Status = StatusFail
		main.Failures = []string{sr.red.apply("no answer: " + err.Error())}
		out := []Check{main}
		for _, n := range names[1:] {
			out = append(out, sr.skipCheck(st, n, "the request got no answer"))
		}
		return out
	}
	main.Request.StatusCode = resp.Status
	ans := newAnswer(resp, main.Duration)
	if sr.opts.Verbose {
		main.Transcript = sr.transcript(p, resp)
	}

	// The step's own check: the status and the assertions without a check
	// of their own.
	// A wrong status fails the step alone: the assertions describe the
	// answer that should have come, so they are not judged.
	wrongStatus := !statusOK(st.Expect.Status, resp.Status)
	if wrongStatus {
		main.Failures = append(main.Failures, fmt.Sprintf("status: expected %s, got %d%s", describeStatuses(st.Expect.Status), resp.Status, errorDetail(ans)))
	}
	extra := map[string]*Check{}
	var order []string
	for i, a := range st.Expect.Assert {
		if wrongStatus && a.Check == "" {
			continue
		}
		msg := sr.assert(ans, a, p.expected[i])
		if a.Check == "" {
			if msg != "" {
				main.Failures = append(main.Failures, msg)
			}
			continue
		}
		c := extra[a.Check]
		if c == nil {
			c = &Check{Name: a.Check, Severity: sr.severity(st, a.Check), Source: sr.source(st, a.Check), Status: StatusPass, Request: main.Request, Duration: main.Duration}
			extra[a.Check] = c
			order = append(order, a.Check)
		}
		if msg != "" {
			c.Failures = append(c.Failures, msg)
		}
	}
	stepFailed := len(main.Failures) > 0
	if stepFailed {
		main.Status = StatusFail
	}
	out := []Check{main}
	for _, n := range order {
		c := extra[n]
		switch {
		case wrongStatus:
			// The answer is not the one these checks are about: the step's
			// check has said what is wrong.
			*c = sr.skipCheck(st, n, fmt.Sprintf("not judged: %q failed (HTTP %d)", st.Name, resp.Status))
		case len(c.Failures) > 0:
			c.Status = StatusFail
		}
		out = append(out, *c)
	}

	if stepFailed {
		sr.markUnset(st)
	} else {
		for _, msg := range sr.capture(st, ans) {
			main.Notes = append(main.Notes, msg)
		}
	}
	if st.Directory != nil {
		out = append(out, sr.directory(ctx, st, stepFailed))
	}
	return out
}

// missingReason says why a step whose variables are not all set is not
// run.
func (sr *scenarioRun) missingReason(missing []string) string {
	var parts []string
	for _, name := range missing {
		switch {
		case sr.unset[name] != "":
			parts = append(parts, fmt.Sprintf("{{%s}}, which %q did not capture", name, sr.unset[name]))
		case sr.skipped[name]:
			parts = append(parts, fmt.Sprintf("{{%s}}, set by a step that was not run", name))
		default:
			parts = append(parts, fmt.Sprintf("{{%s}}, which no step sets", name))
		}
	}
	return "not run: needs " + strings.Join(parts, "; ")
}

func statusOK(want Statuses, got int) bool {
	if len(want) == 0 {
		return got >= 200 && got < 400
	}
	return slices.Contains(want, got)
}

func describeStatuses(want Statuses) string {
	if len(want) == 0 {
		return "a 2xx or 3xx status"
	}
	s := make([]string, len(want))
	for i, w := range want {
		s[i] = fmt.Sprint(w)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// errorDetail quotes a SCIM error's detail, to say why a status came.
func errorDetail(a *answer) string {
	m, ok := a.doc.(map[string]any)
	if !ok {
		if len(a.body) > 0 && a.jsonErr != nil {
			return " (" + shortBody(a.body) + ")"
		}
		return ""
	}
	detail, _ := m["detail"].(string)
	scimType, _ := m["scimType"].(string)
	switch {
	case detail != "" && scimType != "":
		return fmt.Sprintf(" (%s: %s)", scimType, shorten(detail))
	case detail != "":
		return " (" + shorten(detail) + ")"
	}
	return ""
}

// capture saves the step's captures; it returns a note per capture that
// found nothing.
func (sr *scenarioRun) capture(st Step, ans *answer) []string {
	var notes []string
	names := make([]string, 0, len(st.Capture))
	for k := range st.Capture {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		from := st.Capture[name]
		var (
			v  any
			ok bool
		)
		switch {
		case strings.HasPrefix(strings.ToLower(from), "header:"):
			vals := ans.header.Values(strings.TrimSpace(from[len("header:"):]))
			if ok = len(vals) > 0; ok {
				v = strings.Join(vals, ", ")
			}
		case ans.jsonErr != nil:
		case from == "$":
			v, ok = ans.doc, true
		default:
			v, ok = lookupAll(ans.doc, from)
		}
		if !ok {
			sr.unset[name] = st.Name
			notes = append(notes, fmt.Sprintf("capture %s: nothing at %q", name, from))
			continue
		}
		sr.vars[name] = text(v)
		sr.jsonVars[name] = marshal(v)
		delete(sr.unset, name)
	}
	return notes
}

// directory checks the directory user a step should have produced.
func (sr *scenarioRun) directory(ctx context.Context, st Step, stepFailed bool) Check {
	d := st.Directory
	name := d.checkName(st.Name)
	if !sr.caps[CapDirectory] {
		return sr.skipCheck(st, name, "needs directory: "+sr.capWhy[CapDirectory])
	}
	if stepFailed {
		return sr.skipCheck(st, name, fmt.Sprintf("not judged: %q failed", st.Name))
	}
	sub := &substituter{vars: sr.vars}
	id := sub.replace(d.User)
	want := make(map[string]string, len(d.Fields))
	for k, v := range d.Fields {
		want[k] = sub.replace(v)
	}
	if len(sub.missing) > 0 {
		return sr.skipCheck(st, name, sr.missingReason(sub.missing))
	}
	c := Check{Name: name, Severity: sr.severity(st, name), Source: sr.source(st, name), Status: StatusPass}
	fields, found, err := sr.opts.Directory.User(ctx, id)
	switch {
	case err != nil:
		c.Failures = append(c.Failures, "reading the directory user: "+err.Error())
	case d.Absent && found:
		c.Failures = append(c.Failures, fmt.Sprintf("directory user %s: expected none, found one", id))
	case !d.Absent && !found:
		c.Failures = append(c.Failures, fmt.Sprintf("directory user %s: expected one, found none", id))
	case found:
		keys := make([]string, 0, len(d.Fields))
		for k := range d.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if got := fields[k]; got != want[k] {
				c.Failures = append(c.Failures, fmt.Sprintf("field %s: expected %q, got %q", k, want[k], got))
			}
		}
	}
	if len(c.Failures) > 0 {
		c.Status = StatusFail
		for i := range c.Failures {
			c.Failures[i] = sr.red.apply(c.Failures[i])
		}
	}
	return c
}

// cleanup sends the scenario's cleanup steps and returns what could not be
// removed.
func (sr *scenarioRun) cleanup(ctx context.Context) []string {
	var left []string
	for _, st := range sr.s.Cleanup {
		p, missing := sr.prepare(st)
		if len(missing) > 0 {
			continue // what it removes was never created
		}
		what := fmt.Sprintf("%s: %s %s", sr.s.Name, p.method, sr.red.apply(p.target))
		if sr.opts.Keep {
			left = append(left, what+" (kept)")
			continue
		}
		// Cleanup runs even when the run's context is done.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		resp, err := p.client.Do(cctx, p.method, p.target, p.body)
		cancel()
		switch {
		case err != nil:
			left = append(left, what+": "+sr.red.apply(err.Error()))
		case resp.Status >= 300 && resp.Status != http.StatusNotFound:
			left = append(left, fmt.Sprintf("%s: HTTP %d%s", what, resp.Status, errorDetail(newAnswer(resp, 0))))
		}
	}
	return left
}

// prepared is a step with its variables substituted.
type prepared struct {
	method, target string
	body           []byte
	header         http.Header
	expected       []any // each assertion's value, substituted and decoded
	client         *client.SCIM
}

// prepare substitutes a step's variables; missing lists those not set.
func (sr *scenarioRun) prepare(st Step) (*prepared, []string) {
	sub := &substituter{vars: sr.vars}
	p := &prepared{method: strings.ToUpper(st.Method), header: http.Header{}}
	p.target = substitutePath(sub, st.Path)
	switch st.Auth {
	case "", AuthBearer:
		p.header.Set("Authorization", "Bearer "+sr.opts.Token)
	case AuthBare:
		p.header.Set("Authorization", sr.opts.Token)
	case AuthInvalid:
		p.header.Set("Authorization", "Bearer "+invalidToken)
	case AuthNone:
		p.header["Authorization"] = nil
	}
	switch {
	case st.RawBody != nil:
		p.body = []byte(sub.replace(*st.RawBody))
	case len(st.Body) > 0:
		p.body = []byte(marshal(sr.substituteJSON(sub, decodeLoose(st.Body))))
	}
	if p.body != nil {
		p.header.Set("Content-Type", "application/scim+json")
	}
	for k, v := range st.Headers {
		p.header.Set(k, sub.replace(v))
	}
	for _, a := range st.Expect.Assert {
		var v any
		if len(a.Value) > 0 {
			v = sr.substituteJSON(sub, decodeLoose(a.Value))
		}
		p.expected = append(p.expected, v)
	}
	p.client = sr.client(p.header)
	return p, sub.missing
}

// substitutePath replaces variables in a path, query-escaping those in
// the query.
func substitutePath(sub *substituter, p string) string {
	before, query, hasQuery := strings.Cut(p, "?")
	out := sub.replace(before)
	if hasQuery {
		out += "?" + sub.replaceFiltered(query, queryEscape)
	}
	return out
}

// queryEscape escapes what would change a query's meaning: the rest
// (spaces, quotes) the client encodes as it sends.
func queryEscape(s string) string { return queryEscaper.Replace(s) }

var queryEscaper = strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "#", "%23", "=", "%3D")

// substituteJSON replaces variables in every string (and key) of v.
func (sr *scenarioRun) substituteJSON(sub *substituter, v any) any {
	switch x := v.(type) {
	case string:
		if m := varPattern.FindStringSubmatch(x); m != nil && m[0] == x {
			name, filter, _ := strings.Cut(strings.TrimSpace(m[1]), "|")
			if strings.TrimSpace(filter) == "json" {
				name = strings.TrimSpace(name)
				if raw, ok := sr.jsonVars[name]; ok {
					return decodeLoose([]byte(raw))
				}
				if s, ok := sr.vars[name]; ok {
					return s
				}
				sub.miss(name)
				return x
			}
		}
		return sub.replaceFiltered(x, nil)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = sr.substituteJSON(sub, e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[sub.replaceFiltered(k, nil)] = sr.substituteJSON(sub, e)
		}
		return out
	}
	return v
}

// decodeLoose decodes JSON with json.Number; invalid JSON (validated on
// load) decodes to nil.
func decodeLoose(b []byte) any {
	v, err := decodeJSON(b)
	if err != nil {
		return nil
	}
	return v
}

// transcript is the exchange of a step, for --verbose, the key redacted.
func (sr *scenarioRun) transcript(p *prepared, resp *client.Response) *Transcript {
	t := &Transcript{
		Request:  fmt.Sprintf("%s %s", p.method, p.client.URL(p.target)),
		Status:   resp.Status,
		Response: string(resp.Body),
	}
	for _, k := range sortedKeys(p.header) {
		for _, v := range p.header[k] {
			t.RequestHeaders = append(t.RequestHeaders, k+": "+v)
		}
	}
	if p.body != nil {
		t.RequestBody = string(p.body)
	}
	for _, k := range sortedKeys(resp.Header) {
		for _, v := range resp.Header[k] {
			t.ResponseHeaders = append(t.ResponseHeaders, k+": "+v)
		}
	}
	t.redact(sr.red)
	return t
}

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
