package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kacescim/kacescim/pkg/scim"
)

// A goSuite is a built-in suite written in Go rather than as scenarios:
// what it checks (requests sent at once, a second key) is beyond a
// scenario's steps. Run runs it when Options.Suites names it, or when
// Suites is empty and the scenarios given include built-in ones.
type goSuite struct {
	name   string
	checks []goCheck
	run    func(ctx context.Context, g *goRun)
}

// goCheck is the name, severity and source of one check of a goSuite.
type goCheck struct {
	name     string
	severity Severity
	source   string
}

// goSuites are the built-in Go suites, in the order they run.
var goSuites = []*goSuite{concurrencySuite, isolationSuite, listsSuite, authSuite}

func goSuiteNamed(name string) *goSuite {
	for _, s := range goSuites {
		if s.name == name {
			return s
		}
	}
	return nil
}

// goRun is the state of one goSuite's run.
type goRun struct {
	*runner
	suite *goSuite
	rep   *Report
	// mu guards left.
	mu sync.Mutex
	// left are the resources to delete at the end, as paths and the key
	// that created them.
	left []goLeftover
	// leftText are what the run left that is not a resource (a
	// throw-away provider it could not remove), one line each.
	leftText []string
}

type goLeftover struct{ path, token string }

// runGoSuite runs s and returns what it could not remove.
func (r *runner) runGoSuite(ctx context.Context, s *goSuite, rep *Report) []string {
	g := &goRun{runner: r, suite: s, rep: rep}
	if err := ctx.Err(); err != nil {
		g.failAll("not run: " + err.Error())
		return nil
	}
	s.run(ctx, g)
	return g.cleanup(ctx)
}

// selected reports whether --only keeps a check of the suite.
func (s *goSuite) selected(r *runner) bool {
	if len(r.opts.Only) == 0 {
		return true
	}
	return slices.ContainsFunc(s.checks, func(c goCheck) bool { return r.matches(r.opts.Only, s.name, c.name) })
}

func (g *goRun) check(name string) Check {
	for _, c := range g.suite.checks {
		if c.name == name {
			return Check{Name: name, Severity: c.severity, Source: c.source, Scenario: g.suite.name, Status: StatusPass}
		}
	}
	panic("conformance: no check " + name + " in suite " + g.suite.name)
}

// wanted reports whether the check name is to be run: not left out by
// --skip (it is then reported as skipped) nor by --only.
func (g *goRun) wanted(name string) bool {
	return !g.skipped(name) && g.reported(name)
}

// skipped reports whether --skip leaves the check name out, and reports it
// skipped if so.
func (g *goRun) skipped(name string) bool {
	if len(g.opts.Skip) > 0 && g.matches(g.opts.Skip, g.suite.name, name) {
		g.skip(name, reasonSkipOption)
		return true
	}
	return false
}

// reported reports whether --only keeps the check name in the report.
func (g *goRun) reported(name string) bool {
	return len(g.opts.Only) == 0 || g.matches(g.opts.Only, g.suite.name, name)
}

// add reports c, its failures and notes redacted, failed when it has
// failures.
func (g *goRun) add(c Check) {
	if len(g.opts.Only) > 0 && !g.matches(g.opts.Only, g.suite.name, c.Name) {
		return
	}
	for i := range c.Failures {
		c.Failures[i] = g.red.Redact(c.Failures[i])
	}
	for i := range c.Notes {
		c.Notes[i] = g.red.Redact(c.Notes[i])
	}
	if len(c.Failures) > 0 {
		c.Status = StatusFail
	}
	g.rep.Checks = append(g.rep.Checks, c)
}

func (g *goRun) skip(name, why string) {
	c := g.check(name)
	c.Status, c.Notes = StatusSkip, []string{why}
	g.add(c)
}

// skipAll skips every check of the suite, saying why.
func (g *goRun) skipAll(why string) {
	for _, c := range g.suite.checks {
		if len(g.opts.Skip) > 0 && g.matches(g.opts.Skip, g.suite.name, c.name) {
			g.skip(c.name, reasonSkipOption)
			continue
		}
		g.skip(c.name, why)
	}
}

// failAll fails every check of the suite (but those --skip leaves out)
// with why.
func (g *goRun) failAll(why string) {
	for _, gc := range g.suite.checks {
		if !g.wanted(gc.name) {
			continue
		}
		c := g.check(gc.name)
		c.Failures = []string{why}
		g.add(c)
	}
}

// exchange is one request of a Go suite and its answer.
type exchange struct {
	method, path string
	status       int // 0: no answer
	err          error
	doc          map[string]any
	hdr          http.Header
	elapsed      time.Duration
	transcript   *Transcript
}

// header is the answer's header (empty when there was none).
func (x *exchange) header() http.Header {
	if x.hdr == nil {
		return http.Header{}
	}
	return x.hdr
}

// ok reports whether the answer is a 2xx.
func (x *exchange) ok() bool { return x.status >= 200 && x.status < 300 }

// describe says what came back, for a failure.
func (x *exchange) describe() string {
	if x.err != nil {
		return fmt.Sprintf("%s %s: no answer: %v", x.method, x.path, x.err)
	}
	s := fmt.Sprintf("%s %s -> %d", x.method, x.path, x.status)
	if d, _ := x.doc["detail"].(string); d != "" {
		s += " (" + shorten(d) + ")"
	}
	return s
}

// do sends one request with token as the bearer key; body, when not nil,
// is sent as JSON.
func (g *goRun) do(ctx context.Context, token, method, target string, body any) *exchange {
	h := http.Header{"Authorization": {"Bearer " + token}}
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
		h.Set("Content-Type", "application/scim+json")
	}
	c := g.client(h)
	x := &exchange{method: method, path: target}
	start := time.Now()
	resp, err := c.Do(ctx, method, target, raw)
	x.elapsed = time.Since(start)
	if err != nil {
		x.err = fmt.Errorf("%s", g.red.Redact(err.Error()))
		return x
	}
	x.status, x.hdr = resp.Status, resp.Header
	if v, err := decodeJSON(resp.Body); err == nil {
		x.doc, _ = v.(map[string]any)
	}
	if g.opts.Verbose {
		t := &Transcript{Request: fmt.Sprintf("%s %s", method, c.URL(target)), Status: resp.Status, Response: string(resp.Body), RequestBody: string(raw)}
		for _, k := range slices.Sorted(maps.Keys(h)) {
			for _, v := range h[k] {
				t.RequestHeaders = append(t.RequestHeaders, k+": "+v)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(resp.Header)) {
			for _, v := range resp.Header[k] {
				t.ResponseHeaders = append(t.ResponseHeaders, k+": "+v)
			}
		}
		t.redact(&g.red)
		x.transcript = t
	}
	return x
}

// record sets c's request (and transcript) to x's.
func (g *goRun) record(c *Check, x *exchange) {
	c.Request = &Request{Method: x.method, URL: g.red.Redact(g.base + x.path), StatusCode: x.status}
	c.Duration = x.elapsed
	c.Transcript = x.transcript
}

// parallel runs n calls of fn, at most concurrency at once.
func parallel(n int, fn func(i int)) {
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// concurrency is how many requests the Go suites send at once.
const concurrency = 8

// created notes a resource to delete at the end.
func (g *goRun) created(token, path string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.left = append(g.left, goLeftover{path: path, token: token})
}

// createUser creates a user named userName with token and notes it for
// cleanup; it returns the user's id, or the exchange that failed.
func (g *goRun) createUser(ctx context.Context, token, userName string, extra map[string]any) (string, *exchange) {
	body := map[string]any{"schemas": []string{scim.UserURN}, "userName": userName, "active": true}
	for k, v := range extra {
		body[k] = v
	}
	x := g.do(ctx, token, http.MethodPost, "/Users", body)
	id, _ := x.doc["id"].(string)
	if !x.ok() || id == "" {
		return "", x
	}
	g.created(token, "/Users/"+id)
	return id, x
}

// createGroup creates a group with token and notes it for cleanup.
func (g *goRun) createGroup(ctx context.Context, token, displayName string, members []string) (string, *exchange) {
	body := map[string]any{"schemas": []string{scim.GroupURN}, "displayName": displayName}
	if members != nil {
		ms := make([]any, len(members))
		for i, m := range members {
			ms[i] = map[string]any{"value": m}
		}
		body["members"] = ms
	}
	x := g.do(ctx, token, http.MethodPost, "/Groups", body)
	id, _ := x.doc["id"].(string)
	if !x.ok() || id == "" {
		return "", x
	}
	g.created(token, "/Groups/"+id)
	return id, x
}

// cleanup deletes what the suite created, groups first, unless the run
// keeps it; it returns what is left.
func (g *goRun) cleanup(ctx context.Context) []string {
	out := slices.Clone(g.leftText)
	left := slices.Clone(g.left)
	slices.SortStableFunc(left, func(a, b goLeftover) int {
		return boolInt(strings.HasPrefix(b.path, "/Groups/")) - boolInt(strings.HasPrefix(a.path, "/Groups/"))
	})
	for _, l := range left {
		what := fmt.Sprintf("%s: DELETE %s", g.suite.name, l.path)
		if g.opts.Keep {
			out = append(out, what+" (kept)")
			continue
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		x := g.do(cctx, l.token, http.MethodDelete, l.path, nil)
		cancel()
		if x.err != nil || (!x.ok() && x.status != http.StatusNotFound) {
			out = append(out, what+": "+x.describe())
		}
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// memberIDs are the values of a group's members.
func memberIDs(doc map[string]any) []string {
	ms, _ := doc["members"].([]any)
	var out []string
	for _, m := range ms {
		if mm, ok := m.(map[string]any); ok {
			if v, ok := mm["value"].(string); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// resources are the Resources of a ListResponse.
func resources(doc map[string]any) []map[string]any {
	rs, _ := doc["Resources"].([]any)
	var out []map[string]any
	for _, r := range rs {
		if m, ok := r.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// patchOp is a PATCH request of one operation.
func patchOp(op, path string, value any) map[string]any {
	o := map[string]any{"op": op, "path": path}
	if value != nil {
		o["value"] = value
	}
	return map[string]any{"schemas": []string{scim.PatchOpURN}, "Operations": []any{o}}
}
