package conformance

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Severity says how much a check matters, in RFC 2119 words.
type Severity string

const (
	// SeverityMust checks decide whether a server conforms (Report.OK).
	SeverityMust Severity = "MUST"
	// SeverityShould checks are recommendations: their failures are
	// reported but do not make Report.OK false.
	SeverityShould Severity = "SHOULD"
	// SeverityMay checks test optional features (RFC 2119 §5: OPTIONAL is
	// MAY), such as Okta's "Optional Test" steps.
	SeverityMay Severity = "MAY"
)

// Status is the outcome of one check.
type Status string

const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	// StatusSkip means the check was not judged; Check.Notes says why.
	StatusSkip Status = "skip"
)

// Report is the outcome of running one suite against one server.
type Report struct {
	// Suite is the suite's name, e.g. "Okta SCIM 2.0 SPEC Test".
	Suite  string  `json:"suite"`
	Checks []Check `json:"checks"`
}

// Check is the outcome of one test of a suite: for a Runscope export, one
// request step and its assertions.
type Check struct {
	// Name is the test's name as the suite gives it (a Runscope step's note).
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	// Source is the document section the check comes from, e.g. "RFC 7644
	// §3.4.2.2" or the identity provider's documentation it follows.
	Source string `json:"source,omitempty"`
	// Scenario names the scenario the check is part of.
	Scenario string `json:"scenario,omitempty"`
	Status   Status `json:"status"`
	// Failures says, one line per failed assertion, what was expected and
	// what came back. It is empty unless Status is StatusFail.
	Failures []string `json:"failures,omitempty"`
	// Notes holds what was not checked and why: the skip reason, a script
	// that was not run, a variable that could not be extracted.
	Notes []string `json:"notes,omitempty"`
	// Request is what was sent; nil when nothing was.
	Request *Request `json:"request,omitempty"`
	// Duration is how long the answer took (Runscope's response_time).
	Duration time.Duration `json:"duration,omitempty"`
	// Transcript is the whole exchange, kept with Options.Verbose.
	Transcript *Transcript `json:"transcript,omitempty"`
}

// Request is the request a check sent, with secrets redacted.
type Request struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// StatusCode is the HTTP status of the answer, 0 when none came.
	StatusCode int `json:"statusCode,omitempty"`
}

// Passed is the number of checks that passed.
func (r *Report) Passed() int { return r.count(StatusPass) }

// Failed is the number of checks that failed, whatever their severity.
func (r *Report) Failed() int { return r.count(StatusFail) }

// Skipped is the number of checks that were not judged.
func (r *Report) Skipped() int { return r.count(StatusSkip) }

func (r *Report) count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// OK reports whether no MUST check failed. Failed SHOULD and MAY checks and
// skipped checks of any severity leave it true.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if c.Status == StatusFail && c.Severity == SeverityMust {
			return false
		}
	}
	return true
}

// WriteText writes the report for a person: the suite name, one line per
// check with its request and failures or notes indented below it, and a
// last line "N passed, N failed, N skipped".
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.Suite != "" {
		fmt.Fprintf(&b, "%s\n", r.Suite)
	}
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s %-6s %s\n", strings.ToUpper(string(c.Status)), c.Severity, c.Name)
		if c.Request != nil {
			fmt.Fprintf(&b, "            %s %s", c.Request.Method, c.Request.URL)
			if c.Request.StatusCode != 0 {
				fmt.Fprintf(&b, " -> %d in %s", c.Request.StatusCode, c.Duration.Round(time.Millisecond/10))
			}
			b.WriteByte('\n')
		}
		for _, f := range c.Failures {
			fmt.Fprintf(&b, "            - %s\n", f)
		}
		for _, n := range c.Notes {
			fmt.Fprintf(&b, "            note: %s\n", n)
		}
	}
	fmt.Fprintf(&b, "%d passed, %d failed, %d skipped\n", r.Passed(), r.Failed(), r.Skipped())
	_, err := io.WriteString(w, b.String())
	return err
}

// Transcript is one exchange in full, for --verbose, with the key
// redacted.
type Transcript struct {
	Request         string   `json:"request"`
	RequestHeaders  []string `json:"requestHeaders,omitempty"`
	RequestBody     string   `json:"requestBody,omitempty"`
	Status          int      `json:"status"`
	ResponseHeaders []string `json:"responseHeaders,omitempty"`
	Response        string   `json:"response,omitempty"`
}
