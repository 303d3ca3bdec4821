package conformance_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/golden"
)

// sampleResult has one check of every kind the writers render: passed,
// failed MUST, failed SHOULD and MAY (WARN), skipped, with a transcript,
// without a scenario (a Runscope suite), and leftovers.
func sampleResult() *conformance.Result {
	get := &conformance.Request{Method: "GET", URL: "http://127.0.0.1:8080/scim/v2/Users?startIndex=1&count=2", StatusCode: 200}
	post := &conformance.Request{Method: "POST", URL: "http://127.0.0.1:8080/scim/v2/Users", StatusCode: 400}
	return &conformance.Result{
		Reports: []*conformance.Report{
			{Suite: "okta-lifecycle", Checks: []conformance.Check{
				{Name: "Test API Credentials: GET /Users?startIndex=1&count=2", Severity: conformance.SeverityMust, Source: "docs/okta-traffic.md §1.1",
					Scenario: "User lifecycle", Status: conformance.StatusPass, Request: get, Duration: 1200 * time.Microsecond,
					Transcript: &conformance.Transcript{
						Request:         "GET http://127.0.0.1:8080/scim/v2/Users?startIndex=1&count=2",
						RequestHeaders:  []string{"Accept: application/scim+json", "Authorization: Bearer [REDACTED]"},
						Status:          200,
						ResponseHeaders: []string{"Content-Type: application/scim+json"},
						Response:        "{\"totalResults\":0,\"Resources\":[]}",
					}},
				{Name: "Assign: create (201)", Severity: conformance.SeverityMust, Source: "docs/okta-traffic.md §1.2", Scenario: "User lifecycle",
					Status: conformance.StatusFail, Request: post, Duration: 3 * time.Millisecond,
					Failures: []string{`status: expected 201, got 400 (invalidValue: "active" must be a boolean)`}},
				{Name: "Assign: create: directory user", Severity: conformance.SeverityMust, Source: "brief: mappings", Scenario: "User lifecycle",
					Status: conformance.StatusSkip, Notes: []string{`not judged: "Assign: create (201)" failed`}},
				{Name: "Import: stable order", Severity: conformance.SeverityShould, Source: "RFC 7644 §3.4.2.4", Scenario: "Import",
					Status: conformance.StatusFail, Request: get, Duration: 2 * time.Millisecond,
					Failures: []string{`Resources[*].id: expected sorted ascending, got ["b","a"]`}},
			}},
			{Suite: "Okta SCIM 2.0 SPEC Test", Checks: []conformance.Check{
				{Name: "Required Test: Test Users endpoint", Severity: conformance.SeverityMust, Status: conformance.StatusPass, Request: get, Duration: time.Millisecond},
				{Name: "Optional Test: Verify Groups endpoint", Severity: conformance.SeverityMay, Status: conformance.StatusFail,
					Request:  &conformance.Request{Method: "GET", URL: "http://127.0.0.1:8080/scim/v2/Groups", StatusCode: 404},
					Duration: time.Millisecond, Failures: []string{"status: expected 200, got 404", "script: Resources is missing"}},
				{Name: "Create Okta user with realistic values", Severity: conformance.SeverityMust, Status: conformance.StatusSkip,
					Notes: []string{"needs a live Okta org"}},
			}},
		},
		Leftovers:    []string{"User lifecycle: DELETE /Users/2819c223 (kept)"},
		Capabilities: map[conformance.Capability]bool{conformance.CapGroups: true, conformance.CapDirectory: false},
	}
}

// outputGolden compares got with testdata/output/name; go test
// ./pkg/conformance -run TestWrite -update rewrites the files.
func outputGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", "output", name), got)
}

func TestWriteText(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleResult().WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	outputGolden(t, "result.txt.golden", out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if last := lines[len(lines)-1]; last != "2 passed, 3 failed, 2 skipped" {
		t.Errorf("last line %q", last)
	}
	for _, want := range []string{"WARN  Import: stable order (SHOULD)", "FAIL  Assign: create (201)", "source: docs/okta-traffic.md §1.2",
		"SKIP  Create Okta user", "note: needs a live Okta org", "> Authorization: Bearer [REDACTED]", "DELETE /Users/2819c223 (kept)"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

// TestWriteTextStyled: the style functions wrap their parts and change
// nothing else.
func TestWriteTextStyled(t *testing.T) {
	tag := func(name string) func(string) string {
		return func(s string) string { return "<" + name + ">" + s + "</" + name + ">" }
	}
	st := conformance.TextStyle{Pass: tag("p"), Fail: tag("f"), Warn: tag("w"), Skip: tag("s"), Heading: tag("h"), Detail: tag("d")}
	var styled, plain bytes.Buffer
	res := sampleResult()
	if err := res.WriteTextStyled(&styled, st); err != nil {
		t.Fatal(err)
	}
	res.WriteText(&plain)
	for _, want := range []string{"<p>PASS</p>", "<f>FAIL</f>", "<w>WARN</w>", "<s>SKIP</s>", "<h>okta-lifecycle</h>", "<d>source: RFC 7644 §3.4.2.4</d>"} {
		if !strings.Contains(styled.String(), want) {
			t.Errorf("no %q in\n%s", want, styled.String())
		}
	}
	strip := strings.NewReplacer("<p>", "", "</p>", "", "<f>", "", "</f>", "", "<w>", "", "</w>", "", "<s>", "", "</s>", "", "<h>", "", "</h>", "", "<d>", "", "</d>", "")
	if got := strip.Replace(styled.String()); got != plain.String() {
		t.Errorf("styled layout differs from plain:\n%s\n---\n%s", got, plain.String())
	}
}

func TestWriteTextEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := (&conformance.Result{}).WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "0 passed, 0 failed, 0 skipped\n" {
		t.Errorf("got %q", buf.String())
	}
}

func TestWriteJSON(t *testing.T) {
	res := sampleResult()
	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	outputGolden(t, "result.json.golden", buf.String())

	var summary struct {
		OK       bool `json:"ok"`
		Passed   int  `json:"passed"`
		Failed   int  `json:"failed"`
		Skipped  int  `json:"skipped"`
		Warnings int  `json:"warnings"`
		Reports  []struct {
			Suite  string `json:"suite"`
			OK     bool   `json:"ok"`
			Failed int    `json:"failed"`
		} `json:"reports"`
	}
	if err := json.Unmarshal(buf.Bytes(), &summary); err != nil {
		t.Fatal(err)
	}
	if summary.OK || summary.Passed != 2 || summary.Failed != 3 || summary.Skipped != 2 || summary.Warnings != 2 {
		t.Errorf("summary %+v", summary)
	}
	if len(summary.Reports) != 2 || summary.Reports[0].OK || !summary.Reports[1].OK || summary.Reports[1].Failed != 1 {
		t.Errorf("reports %+v", summary.Reports)
	}

	// The document is the Result: it decodes back into one.
	var back conformance.Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, res) {
		t.Errorf("round trip differs:\n%+v\n%+v", back, res)
	}
}

// junitDoc is what a CI system reads of a JUnit report.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name      string `xml:"name,attr"`
		Tests     int    `xml:"tests,attr"`
		Failures  int    `xml:"failures,attr"`
		Skipped   int    `xml:"skipped,attr"`
		SystemErr string `xml:"system-err"`
		Cases     []struct {
			Classname string `xml:"classname,attr"`
			Name      string `xml:"name,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestWriteJUnit(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleResult().WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	outputGolden(t, "result.junit.golden", buf.String())

	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 7 || doc.Failures != 3 || doc.Skipped != 2 || len(doc.Suites) != 2 {
		t.Fatalf("totals: %d tests, %d failures, %d skipped, %d suites", doc.Tests, doc.Failures, doc.Skipped, len(doc.Suites))
	}
	s := doc.Suites[0]
	if s.Name != "okta-lifecycle" || s.Tests != 4 || s.Failures != 2 || s.Skipped != 1 {
		t.Errorf("suite %s: %d tests, %d failures, %d skipped", s.Name, s.Tests, s.Failures, s.Skipped)
	}
	for _, c := range s.Cases {
		if c.Classname != "okta-lifecycle" {
			t.Errorf("case %q has classname %q", c.Name, c.Classname)
		}
	}
	if f := s.Cases[1].Failure; f == nil || f.Type != "MUST" || !strings.HasPrefix(f.Message, "status: expected 201, got 400") ||
		!strings.Contains(f.Text, "source: docs/okta-traffic.md §1.2") {
		t.Errorf("MUST failure: %+v", f)
	}
	if f := s.Cases[3].Failure; f == nil || f.Type != "SHOULD" || !strings.HasPrefix(f.Message, "SHOULD: ") {
		t.Errorf("SHOULD failure: %+v", f)
	}
	if sk := s.Cases[2].Skipped; sk == nil || !strings.Contains(sk.Message, "not judged") {
		t.Errorf("skipped: %+v", sk)
	}
	if !strings.Contains(s.Cases[0].SystemOut, "< 200 OK") {
		t.Errorf("transcript not in system-out: %q", s.Cases[0].SystemOut)
	}
	if f := doc.Suites[1].Cases[1].Failure; f == nil || f.Message != "MAY: status: expected 200, got 404; script: Resources is missing" {
		t.Errorf("MAY failure: %+v", f)
	}
	if !strings.Contains(doc.Suites[1].SystemErr, "DELETE /Users/2819c223 (kept)") {
		t.Errorf("leftovers: %q", doc.Suites[1].SystemErr)
	}
}
