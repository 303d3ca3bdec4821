package conformance

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/conformance/internal/jsontext"
)

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
	// model is what the resources the scenario created must hold (see
	// model.go).
	model stateModel
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
		model:    stateModel{},
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
	return Check{Name: name, Severity: sr.severity(st, name), Source: sr.source(st, name), Status: StatusSkip, Notes: []string{sr.red.Redact(why)}}
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
		return skipAll(reasonSkipOption)
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
	for _, name := range st.UnlessFailed {
		if sr.status[name] == StatusFail {
			return skipAll(fmt.Sprintf("not run: %q failed", name))
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
	main.Request = &Request{Method: p.method, URL: sr.red.Redact(p.client.URL(p.target))}
	start := time.Now()
	resp, err := p.client.Do(ctx, p.method, p.target, p.body)
	main.Duration = time.Since(start)
	if err != nil {
		sr.markUnset(st)
		delete(sr.model, modelKey(p.target)) // what the server did is unknown
		main.Status = StatusFail
		main.Failures = []string{sr.red.Redact("no answer: " + err.Error())}
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
		// out holds a copy of main: the notes go to the copy reported.
		out[0].Notes = append(out[0].Notes, sr.capture(st, ans)...)
	}
	if st.Directory != nil {
		out = append(out, sr.directory(ctx, st, stepFailed))
	}
	out = append(out, sr.modelStep(ctx, st, p, ans, wrongStatus, &out[0])...)
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
		sr.jsonVars[name] = jsontext.Marshal(v)
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
			c.Failures[i] = sr.red.Redact(c.Failures[i])
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
		what := fmt.Sprintf("%s: %s %s", sr.s.Name, p.method, sr.red.Redact(p.target))
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
			left = append(left, what+": "+sr.red.Redact(err.Error()))
		case resp.Status >= 300 && resp.Status != http.StatusNotFound:
			left = append(left, fmt.Sprintf("%s: HTTP %d%s", what, resp.Status, errorDetail(newAnswer(resp, 0))))
		}
	}
	return left
}
