package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/client"
)

// RunscopeOptions configure RunRunscope.
type RunscopeOptions struct {
	// BaseURL is the SCIM base URL under test, e.g.
	// https://host/scim/v2. It is the SCIMBaseURL variable, and request
	// steps whose URL is not under it are skipped: they talk to an Okta
	// org, not to the SCIM server.
	BaseURL string
	// Auth is the whole Authorization header value, e.g. "Bearer abc123"
	// or a bare token: the auth variable of Okta's SPEC test. It is
	// redacted from the report.
	Auth string
	// Vars are initial variables. They replace the ones RunRunscope
	// generates (see OktaSPECVariables) but not SCIMBaseURL and auth,
	// which come from BaseURL and Auth.
	Vars map[string]string
	// Pause waits for a pause step. Nil sleeps for the whole duration (the
	// SPEC test pauses 5 s after every request); tests pass a function
	// that returns at once. A non-nil error, such as the context's, ends
	// the run.
	Pause func(ctx context.Context, d time.Duration) error
	// Transport sends the requests; nil uses a clone of
	// http.DefaultTransport. Set TLS settings (a private CA, or skipping
	// verification for a test server) here.
	Transport http.RoundTripper
	// Only, when not empty, reports just the checks whose names match one
	// of its patterns, as Options.Only selects; the other steps still
	// run, unreported, to set up state and variables.
	Only []string
	// Skip lists patterns of request steps not to send, as Options.Skip
	// selects; they are reported as skipped, and so are the steps that
	// need the variables they would have set.
	Skip []string
	// ClientOptions configure the SCIM client used for each request, e.g.
	// client.WithTimeout. The runner installs its own transport over
	// Transport to send each step's headers exactly as the export has
	// them, so client.WithTransport and client.WithInsecureSkipVerify have
	// no effect here.
	ClientOptions []client.Option
}

// Reasons given for skipped checks.
const (
	reasonOutsideBase = "needs a live Okta org"
	reasonNoJS        = "JavaScript scripts are not run"
	reasonSkipped     = "skipped in the export"
)

// RunRunscope runs the request steps of export against the SCIM server at
// opts.BaseURL and reports one check per request step.
//
// The variables start as Okta's SPEC test initial script sets them (see
// OktaSPECVariables), then opts.Vars, then SCIMBaseURL and auth from opts.
// {{name}} is replaced in URLs, headers, bodies and assertion values, and
// variables a step extracts are available to the steps after it. A step
// that needs a variable nobody set fails without being sent, unless the
// step that would have set it was skipped, in which case it is skipped too.
//
// Each step's headers are sent as the export has them, Authorization
// included (Okta's "Check status 401" step sends "non-token"), and raw
// spaces and quotes in URLs are percent-encoded. Post-response JavaScript
// is not run, except Okta's own Groups script, which is evaluated natively.
//
// Steps marked skipped in the export, steps opts.Skip names, and steps
// whose URL is not under BaseURL (calls to an Okta org), are reported as
// skipped; with opts.Only, only the checks it names are reported. Once ctx is done
// or Pause fails, the steps left fail with "not run".
func RunRunscope(ctx context.Context, export *RunscopeExport, opts RunscopeOptions) *Report {
	r := newRunscopeRun(opts)
	defer r.close()
	r.suite = export.Name
	rep := &Report{Suite: export.Name}
	for _, step := range export.Steps {
		switch step.Type {
		case "pause":
			if step.Skipped || r.stopped != nil {
				continue
			}
			d := time.Duration(step.Duration * float64(time.Second))
			if err := r.pause(ctx, d); err != nil {
				r.stopped = err
			}
		case "request":
			r.add(rep, r.request(ctx, step))
		default:
			c := Check{Name: stepName(step), Severity: noteSeverity(step.Note), Status: StatusSkip}
			c.Notes = []string{fmt.Sprintf("step type %q is not supported", step.Type)}
			r.add(rep, c)
		}
	}
	return rep
}

// runscopeRun is the state of one RunRunscope call.
type runscopeRun struct {
	opts      RunscopeOptions
	suite     string // the export's name
	base      string
	vars      map[string]string
	transport http.RoundTripper
	ownsTrans bool
	// unsetBy names, for each variable a step should have extracted but
	// did not, that step; skippedVars holds the variables of skipped steps.
	unsetBy     map[string]string
	skippedVars map[string]bool
	// stopped is set when the run was interrupted (context or Pause).
	stopped error
}

func newRunscopeRun(opts RunscopeOptions) *runscopeRun {
	r := &runscopeRun{
		opts:        opts,
		base:        strings.TrimRight(opts.BaseURL, "/"),
		unsetBy:     map[string]string{},
		skippedVars: map[string]bool{},
	}
	r.transport, r.ownsTrans = ownTransport(opts.Transport)
	r.vars = OktaSPECVariables(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
	for k, v := range opts.Vars {
		r.vars[k] = v
	}
	r.vars["SCIMBaseURL"] = r.base
	r.vars["auth"] = opts.Auth
	return r
}

// add reports c unless RunscopeOptions.Only leaves it out.
func (r *runscopeRun) add(rep *Report, c Check) {
	if len(r.opts.Only) > 0 && !matchCheck(r.opts.Only, r.suite, c.Name) {
		return
	}
	rep.Checks = append(rep.Checks, c)
}

func (r *runscopeRun) close() {
	if r.ownsTrans {
		r.transport.(*http.Transport).CloseIdleConnections()
	}
}

func (r *runscopeRun) pause(ctx context.Context, d time.Duration) error {
	if r.opts.Pause != nil {
		return r.opts.Pause(ctx, d)
	}
	return Sleep(ctx, d)
}

// request runs one request step.
func (r *runscopeRun) request(ctx context.Context, step RunscopeStep) Check {
	c := Check{Name: stepName(step), Severity: noteSeverity(step.Note), Status: StatusSkip}
	p := r.prepare(step)
	skip := func(reason string) Check {
		r.outputsSkipped(step)
		c.Notes = append(c.Notes, p.red.Redact(reason))
		return c
	}
	fail := func(failures ...string) Check {
		r.outputsUnset(step, c.Name)
		c.Status = StatusFail
		for _, f := range failures {
			c.Failures = append(c.Failures, p.red.Redact(f))
		}
		return c
	}

	switch {
	case step.Skipped:
		return skip(reasonSkipped)
	case len(r.opts.Skip) > 0 && matchCheck(r.opts.Skip, r.suite, c.Name):
		return skip(reasonSkipOption)
	case !r.underBase(p.target):
		return skip(reasonOutsideBase)
	}
	if r.stopped == nil && ctx.Err() != nil {
		r.stopped = ctx.Err()
	}
	if r.stopped != nil {
		return fail("not run: " + r.stopped.Error())
	}
	if len(p.missing) > 0 {
		var failures, skipped []string
		for _, name := range p.missing {
			switch {
			case r.unsetBy[name] != "":
				failures = append(failures, fmt.Sprintf("not run: variable %s is not set (step %q did not extract it)", name, r.unsetBy[name]))
			case r.skippedVars[name]:
				skipped = append(skipped, name)
			default:
				failures = append(failures, fmt.Sprintf("not run: variable %s is not set", name))
			}
		}
		if len(failures) > 0 {
			return fail(failures...)
		}
		return skip(fmt.Sprintf("needs %s, set by a skipped step", strings.Join(skipped, ", ")))
	}

	c.Request = &Request{Method: p.method, URL: p.client.URL(p.red.Redact(p.target))}
	start := time.Now()
	resp, err := p.client.Do(ctx, p.method, p.target, p.body)
	c.Duration = time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			r.stopped = ctx.Err()
		}
		return fail("no answer: " + err.Error())
	}
	c.Request.StatusCode = resp.Status
	r.judge(&c, step, p, newAnswer(resp, c.Duration))
	return c
}

// preparedStep is a request step with its variables substituted.
type preparedStep struct {
	method, target string
	body           []byte
	expected       []string // the assertions' values
	missing        []string // variables that were not set
	client         *client.SCIM
	red            Redactor
}

func (r *runscopeRun) prepare(step RunscopeStep) *preparedStep {
	sub := &substituter{vars: r.vars}
	p := &preparedStep{method: strings.ToUpper(step.Method), target: sub.replace(step.URL)}
	if p.method == "" {
		p.method = http.MethodGet
	}
	header := http.Header{}
	for name, values := range step.Headers {
		for _, v := range values {
			header.Add(name, sub.replace(v))
		}
	}
	if body := sub.replace(step.Body); body != "" {
		p.body = []byte(body)
	}
	for _, a := range step.Assertions {
		p.expected = append(p.expected, sub.replace(rawText(a.Value)))
	}
	p.missing = sub.missing

	// The step's headers replace the client's own, Authorization and
	// Content-Type included.
	opts := append(slices.Clone(r.opts.ClientOptions), client.WithTransport(&headerTransport{base: r.transport, header: header}))
	p.client = client.NewSCIM(r.base, "", opts...)
	urlForm := func(s string) string { return strings.TrimPrefix(p.client.URL("/"+s), r.base+"/") }
	p.red = newRedactor(urlForm, append([]string{r.opts.Auth}, header.Values("Authorization")...)...)
	return p
}

// judge applies a step's assertions and scripts to its answer and saves
// the variables it extracts.
func (r *runscopeRun) judge(c *Check, step RunscopeStep, p *preparedStep, ans *answer) {
	judged := len(step.Assertions) > 0
	for i, a := range step.Assertions {
		if msg := ans.assert(a, p.expected[i]); msg != "" {
			c.Failures = append(c.Failures, p.red.Redact(msg))
		}
	}
	for _, v := range step.Variables {
		if v.Name == "" {
			continue
		}
		val, err := ans.extract(v)
		if err != nil {
			r.unsetBy[v.Name] = c.Name
			c.Notes = append(c.Notes, p.red.Redact(fmt.Sprintf("variable %s not set: %v", v.Name, err)))
			continue
		}
		r.vars[v.Name] = val
		delete(r.unsetBy, v.Name)
	}
	scriptsSkipped := false
	for _, s := range step.BeforeScripts {
		if strings.TrimSpace(s) != "" {
			scriptsSkipped = true
			c.Notes = append(c.Notes, "before script skipped: "+reasonNoJS)
		}
	}
	for _, s := range step.Scripts {
		if strings.TrimSpace(s) == "" {
			continue
		}
		script := knownScript(s)
		if script == nil {
			scriptsSkipped = true
			c.Notes = append(c.Notes, "script skipped: "+reasonNoJS)
			continue
		}
		judged = true
		for _, msg := range script(ans) {
			c.Failures = append(c.Failures, p.red.Redact("script: "+msg))
		}
	}

	switch {
	case len(c.Failures) > 0:
		c.Status = StatusFail
	case judged || !scriptsSkipped:
		// A step without assertions passes when an answer comes, as in
		// Runscope.
		c.Status = StatusPass
	default:
		// Its only logic was a script that was not run: say so once.
		c.Status = StatusSkip
		c.Notes = slices.DeleteFunc(c.Notes, func(n string) bool { return strings.HasSuffix(n, "script skipped: "+reasonNoJS) })
		c.Notes = append([]string{reasonNoJS}, c.Notes...)
	}
}

// outputsSkipped records that the variables of a skipped step will not be
// set, so that the steps needing them are skipped too.
func (r *runscopeRun) outputsSkipped(step RunscopeStep) {
	for _, v := range step.Variables {
		if v.Name != "" {
			r.skippedVars[v.Name] = true
		}
	}
}

// outputsUnset records that a failed step did not set its variables, so
// that the steps needing them fail and say why.
func (r *runscopeRun) outputsUnset(step RunscopeStep, name string) {
	for _, v := range step.Variables {
		if v.Name != "" {
			r.unsetBy[v.Name] = name
		}
	}
}

// underBase reports whether u is the base URL or below it.
func (r *runscopeRun) underBase(u string) bool {
	if r.base == "" || len(u) < len(r.base) || !strings.EqualFold(u[:len(r.base)], r.base) {
		return false
	}
	rest := u[len(r.base):]
	return rest == "" || strings.ContainsRune("/?#", rune(rest[0]))
}

// stepName is the check name of a step: its note, or its method and URL.
func stepName(step RunscopeStep) string {
	if n := strings.TrimSpace(step.Note); n != "" {
		return n
	}
	return strings.TrimSpace(strings.ToUpper(step.Method) + " " + step.URL)
}

// noteSeverity reads a severity from an Okta-style note: "Required Test:
// ..." is MUST, "Optional Test: ..." is MAY, "Recommended ..." is SHOULD.
// A note that says nothing is MUST: a suite's steps are there to pass.
func noteSeverity(note string) Severity {
	n := strings.ToLower(strings.TrimSpace(note))
	switch {
	case strings.HasPrefix(n, "optional"):
		return SeverityMay
	case strings.HasPrefix(n, "recommended"):
		return SeverityShould
	default:
		return SeverityMust
	}
}

// rawText is an assertion value as text: a string unquoted, null as "",
// anything else (a number) as written.
func rawText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}
