package conformance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestFasterThan(t *testing.T) {
	s, err := ParseScenario("t.json", []byte(`{"name":"t","steps":[{"name":"s","method":"GET","path":"/Groups",
		"expect":{"assert":[{"text":true,"op":"faster_than","value":600}]}}]}`))
	if err != nil {
		t.Fatalf("faster_than refused: %v", err)
	}
	a := s.Steps[0].Expect.Assert[0]
	sr := &scenarioRun{runner: &runner{}}
	for _, tc := range []struct {
		elapsed  time.Duration
		expected any
		fail     string
	}{
		{elapsed: 12 * time.Millisecond, expected: json.Number("600")},
		{elapsed: 599 * time.Millisecond, expected: "600"},
		{elapsed: 600 * time.Millisecond, expected: json.Number("600"), fail: "expected less than 600 ms, got 600 ms"},
		{elapsed: 2 * time.Second, expected: json.Number("600"), fail: "got 2000 ms"},
		{elapsed: time.Millisecond, expected: nil, fail: "expected a limit in milliseconds"},
		{elapsed: time.Millisecond, expected: "soon", fail: "expected a limit in milliseconds"},
	} {
		got := sr.assert(&answer{elapsed: tc.elapsed, body: []byte("not JSON")}, a, tc.expected)
		switch {
		case tc.fail == "" && got != "":
			t.Errorf("%v < %v: failed: %s", tc.elapsed, tc.expected, got)
		case tc.fail != "" && !strings.Contains(got, tc.fail):
			t.Errorf("%v < %v: got %q, want a failure with %q", tc.elapsed, tc.expected, got, tc.fail)
		}
	}
}
