package conformance

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Outcomes of a check as reports show them. WARN is a failed SHOULD or MAY
// check: a failure that does not make the run fail.
const (
	OutcomePass = "PASS"
	OutcomeFail = "FAIL"
	OutcomeWarn = "WARN"
	OutcomeSkip = "SKIP"
)

// Outcome is how a report labels the check: PASS, FAIL (a failed MUST),
// WARN (a failed SHOULD or MAY) or SKIP.
func (c Check) Outcome() string {
	switch c.Status {
	case StatusPass:
		return OutcomePass
	case StatusFail:
		if c.Severity == SeverityShould || c.Severity == SeverityMay {
			return OutcomeWarn
		}
		return OutcomeFail
	default:
		return OutcomeSkip
	}
}

// Warnings is the number of failed SHOULD and MAY checks: they count as
// failed in Totals but leave OK true.
func (r *Result) Warnings() int {
	n := 0
	for _, rep := range r.Reports {
		for _, c := range rep.Checks {
			if c.Outcome() == OutcomeWarn {
				n++
			}
		}
	}
	return n
}

// TextStyle colours the parts of a text report, e.g. with lipgloss on a
// terminal. Each function gets plain text and returns it styled; a nil
// function leaves its part plain, so the zero TextStyle is plain text.
type TextStyle struct {
	// Pass, Fail, Warn and Skip style the outcome labels.
	Pass, Fail, Warn, Skip func(string) string
	// Heading styles suite and scenario names.
	Heading func(string) string
	// Detail styles what is below a check: request, source, notes and
	// transcript (not the failures, which are the point).
	Detail func(string) string
}

func styled(f func(string) string, s string) string {
	if f == nil {
		return s
	}
	return f(s)
}

func (st TextStyle) outcome(o string) string {
	switch o {
	case OutcomePass:
		return styled(st.Pass, o)
	case OutcomeFail:
		return styled(st.Fail, o)
	case OutcomeWarn:
		return styled(st.Warn, o)
	default:
		return styled(st.Skip, o)
	}
}

// WriteText writes the result for a person reading it in a pipe or a log:
// the checks grouped by suite (and scenario), each labelled PASS, FAIL,
// WARN or SKIP. A check that did not pass shows its request, what was
// expected and what came back, and the source it is checked against;
// notes say why a check was skipped; transcripts (Options.Verbose) follow
// their check. What the run could not remove comes next, and the last line
// is exactly "N passed, N failed, N skipped" (WARN counts as failed).
func (r *Result) WriteText(w io.Writer) error { return r.WriteTextStyled(w, TextStyle{}) }

// WriteTextStyled is WriteText with the parts styled by st. The layout is
// the same whatever st does.
func (r *Result) WriteTextStyled(w io.Writer, st TextStyle) error {
	var b strings.Builder
	const (
		checkIndent  = "  "
		detailIndent = "        "
	)
	detail := func(indent, s string) {
		for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
			b.WriteString(indent + styled(st.Detail, line) + "\n")
		}
	}
	for i, rep := range r.Reports {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s  %d passed, %d failed, %d skipped\n", styled(st.Heading, rep.Suite), rep.Passed(), rep.Failed(), rep.Skipped())
		scenario := ""
		for _, c := range rep.Checks {
			indent, sub := checkIndent, detailIndent
			if c.Scenario != "" {
				if c.Scenario != scenario {
					b.WriteString(checkIndent + styled(st.Heading, c.Scenario) + "\n")
					scenario = c.Scenario
				}
				indent, sub = checkIndent+"  ", detailIndent+"  "
			}
			o := c.Outcome()
			name := c.Name
			if c.Severity == SeverityShould || c.Severity == SeverityMay {
				name += " (" + string(c.Severity) + ")"
			}
			b.WriteString(indent + st.outcome(o) + "  " + name + "\n")
			if o == OutcomeFail || o == OutcomeWarn {
				if c.Request != nil {
					detail(sub, requestLine(c))
				}
				for _, f := range c.Failures {
					b.WriteString(sub + "- " + f + "\n")
				}
				if c.Source != "" {
					detail(sub, "source: "+c.Source)
				}
			}
			for _, n := range c.Notes {
				detail(sub, "note: "+n)
			}
			if c.Transcript != nil {
				detail(sub, transcriptText(c.Transcript))
			}
		}
	}
	if len(r.Leftovers) > 0 {
		if len(r.Reports) > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(styled(st.Heading, "Left on the server") + "\n")
		for _, l := range r.Leftovers {
			b.WriteString(checkIndent + "- " + l + "\n")
		}
	}
	if ex := r.Explore; ex != nil {
		b.WriteByte('\n')
		b.WriteString(styled(st.Heading, fmt.Sprintf("Explored: seed %d, %d operations", ex.Seed, ex.Operations)) + "\n")
		switch {
		case ex.Failure == "":
			b.WriteString(checkIndent + "no check failed; the same --explore and --seed send the same sequence\n")
		default:
			b.WriteString(checkIndent + "first failure: " + ex.Failure + "\n")
			if ex.Shrunk == nil {
				break
			}
			if ex.Reproduced {
				fmt.Fprintf(&b, "%sshrunk in %d runs to %s, failing the same way: %s\n", checkIndent, ex.ShrinkRuns, plural(len(ex.Shrunk.Steps), "operation"), ex.ShrunkFailure)
			} else {
				fmt.Fprintf(&b, "%sthe sequence up to the failure (%s) did not fail again: a fault that depends on timing, or on what else the server holds\n", checkIndent, plural(len(ex.Shrunk.Steps), "operation"))
			}
			for _, s := range ex.Shrunk.Steps {
				detail(detailIndent, s.Name)
			}
		}
	}
	passed, failed, skipped := r.Totals()
	if warn := r.Warnings(); warn > 0 {
		b.WriteByte('\n')
		if warn == failed {
			fmt.Fprintf(&b, "Every failed check is a SHOULD or MAY (WARN): no MUST failed.\n")
		} else {
			fmt.Fprintf(&b, "%d of the failed checks are SHOULD or MAY (WARN).\n", warn)
		}
	} else if len(r.Reports) > 0 || len(r.Leftovers) > 0 {
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	_, err := io.WriteString(w, b.String())
	return err
}

// plural is "1 operation", "2 operations".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// requestLine is "METHOD URL -> STATUS in DURATION".
func requestLine(c Check) string {
	s := c.Request.Method + " " + c.Request.URL
	if c.Request.StatusCode != 0 {
		s += fmt.Sprintf(" -> %d in %s", c.Request.StatusCode, c.Duration.Round(time.Millisecond/10))
	}
	return s
}

// transcriptText is an exchange as curl -v shows it: "> " before what was
// sent, "< " before what came back.
func transcriptText(t *Transcript) string {
	var b strings.Builder
	b.WriteString("> " + t.Request + "\n")
	for _, h := range t.RequestHeaders {
		b.WriteString("> " + h + "\n")
	}
	if t.RequestBody != "" {
		b.WriteString(">\n")
		for _, line := range strings.Split(strings.TrimRight(t.RequestBody, "\n"), "\n") {
			b.WriteString("> " + line + "\n")
		}
	}
	fmt.Fprintf(&b, "< %d %s\n", t.Status, http.StatusText(t.Status))
	for _, h := range t.ResponseHeaders {
		b.WriteString("< " + h + "\n")
	}
	if t.Response != "" {
		b.WriteString("<\n")
		for _, line := range strings.Split(strings.TrimRight(t.Response, "\n"), "\n") {
			b.WriteString("< " + line + "\n")
		}
	}
	return b.String()
}

// resultJSON is the JSON form of a Result: the Result's own fields, so
// that it decodes back into a Result, with the totals a CI job wants
// without counting.
type resultJSON struct {
	// OK is true when no MUST check failed (exit status 0).
	OK       bool `json:"ok"`
	Passed   int  `json:"passed"`
	Failed   int  `json:"failed"`
	Skipped  int  `json:"skipped"`
	Warnings int  `json:"warnings"`

	Reports      []reportJSON        `json:"reports"`
	Leftovers    []string            `json:"leftovers"`
	Capabilities map[Capability]bool `json:"capabilities,omitempty"`
	Explore      *Exploration        `json:"explore,omitempty"`
}

type reportJSON struct {
	Suite   string  `json:"suite"`
	OK      bool    `json:"ok"`
	Passed  int     `json:"passed"`
	Failed  int     `json:"failed"`
	Skipped int     `json:"skipped"`
	Checks  []Check `json:"checks"`
}

// WriteJSON writes the result as one indented JSON object: ok, passed,
// failed, skipped and warnings (failed SHOULD/MAY checks), then reports
// (per suite: suite, ok, its counts and checks, each with the fields of
// Check: name, severity, source, scenario, status "pass"/"fail"/"skip",
// failures, notes, request, duration in nanoseconds, transcript), leftovers
// and capabilities. The names are those of the Result, Report and Check
// JSON tags, so the document decodes back into a Result.
func (r *Result) WriteJSON(w io.Writer) error {
	passed, failed, skipped := r.Totals()
	doc := resultJSON{
		OK: r.OK(), Passed: passed, Failed: failed, Skipped: skipped, Warnings: r.Warnings(),
		Reports:      make([]reportJSON, 0, len(r.Reports)),
		Leftovers:    r.Leftovers,
		Capabilities: r.Capabilities,
		Explore:      r.Explore,
	}
	if doc.Leftovers == nil {
		doc.Leftovers = []string{}
	}
	for _, rep := range r.Reports {
		checks := rep.Checks
		if checks == nil {
			checks = []Check{}
		}
		doc.Reports = append(doc.Reports, reportJSON{
			Suite: rep.Suite, OK: rep.OK(), Passed: rep.Passed(), Failed: rep.Failed(), Skipped: rep.Skipped(), Checks: checks,
		})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// JUnit XML, as Jenkins, GitLab, GitHub Actions reporters and the like read
// it (the Ant/Surefire schema).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Cases     []junitCase `xml:"testcase"`
	SystemErr *cdata      `xml:"system-err,omitempty"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *cdata        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// cdata is element text kept readable: newlines and quotes as they are.
type cdata struct {
	Text string `xml:",cdata"`
}

// textElement is s as the text of an element, nil (no element) when empty.
func textElement(s string) *cdata {
	if s == "" {
		return nil
	}
	return &cdata{Text: xmlSafe(s)}
}

// xmlSafe replaces what XML 1.0 cannot hold, even in CDATA (control
// characters from a server's body, say), with U+FFFD.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, s)
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes the result as JUnit XML: a <testsuite> per suite and a
// <testcase> per check, with classname the suite and name the check. A
// failed check has a <failure> whose message holds its failures and whose
// type is its severity; failed SHOULD and MAY checks are failures too
// (CI systems know no warnings), their message starting with the severity,
// e.g. "SHOULD: ...". A skipped check has <skipped message="why">. The
// request, source, notes and transcript go in the <failure> text or the
// case's <system-out>. Leftovers are the <system-err> of the last suite.
func (r *Result) WriteJUnit(w io.Writer) error {
	doc := junitSuites{Name: "kacescim test"}
	var total time.Duration
	for _, rep := range r.Reports {
		s := junitSuite{Name: rep.Suite, Tests: len(rep.Checks), Failures: rep.Failed(), Skipped: rep.Skipped()}
		var d time.Duration
		for _, c := range rep.Checks {
			d += c.Duration
			s.Cases = append(s.Cases, junitTestcase(rep.Suite, c))
		}
		s.Time = seconds(d)
		total += d
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	doc.Time = seconds(total)
	if len(r.Leftovers) > 0 {
		text := "left on the server:\n" + strings.Join(r.Leftovers, "\n") + "\n"
		if len(doc.Suites) == 0 {
			doc.Suites = append(doc.Suites, junitSuite{Name: "kacescim test", Time: seconds(0)})
		}
		doc.Suites[len(doc.Suites)-1].SystemErr = textElement(text)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

func junitTestcase(suite string, c Check) junitCase {
	tc := junitCase{Classname: suite, Name: c.Name, Time: seconds(c.Duration)}
	var out strings.Builder
	if c.Scenario != "" {
		out.WriteString("scenario: " + c.Scenario + "\n")
	}
	if c.Request != nil {
		out.WriteString(requestLine(c) + "\n")
	}
	if c.Source != "" {
		out.WriteString("source: " + c.Source + "\n")
	}
	for _, n := range c.Notes {
		out.WriteString("note: " + n + "\n")
	}
	if c.Transcript != nil {
		out.WriteString(transcriptText(c.Transcript))
	}
	switch c.Outcome() {
	case OutcomeFail, OutcomeWarn:
		msg := strings.Join(c.Failures, "; ")
		if msg == "" {
			msg = "failed"
		}
		if c.Outcome() == OutcomeWarn {
			msg = string(c.Severity) + ": " + msg
		}
		text := strings.Join(c.Failures, "\n") + "\n" + out.String()
		tc.Failure = &junitFailure{Message: msg, Type: string(c.Severity), Text: xmlSafe(text)}
	case OutcomeSkip:
		tc.Skipped = &junitSkipped{Message: strings.Join(c.Notes, "; ")}
		tc.SystemOut = textElement(out.String())
	default:
		tc.SystemOut = textElement(out.String())
	}
	return tc
}

// seconds formats d as JUnit's time attribute: seconds with millisecond
// precision.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}
