package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// RunscopeExport is a test exported from BlazeMeter API Monitoring
// (formerly Runscope) as JSON, the format of Okta's SCIM suites. Fields the
// runner does not use (trigger_url, exported_at, auth, form, ...) are not
// kept.
type RunscopeExport struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Steps       []RunscopeStep `json:"steps"`
}

// RunscopeStep is one step of an export: a request or a pause.
type RunscopeStep struct {
	// Type is "request" or "pause"; other types are reported as skipped.
	Type    string `json:"step_type"`
	Skipped bool   `json:"skipped"`
	// Note is the test's name, e.g. "Required Test: Test Users endpoint".
	Note string `json:"note"`
	// Duration is the length of a pause, in seconds.
	Duration float64 `json:"duration"`

	Method  string                  `json:"method"`
	URL     string                  `json:"url"`
	Headers map[string]HeaderValues `json:"headers"`
	Body    string                  `json:"body"`

	Assertions    []RunscopeAssertion `json:"assertions"`
	Variables     []RunscopeVariable  `json:"variables"`
	Scripts       []string            `json:"scripts"`
	BeforeScripts []string            `json:"before_scripts"`
}

// HeaderValues are the values of one header. Exports write them either as
// an array of strings or as a plain string; both decode to a slice.
type HeaderValues []string

// UnmarshalJSON accepts a string, an array of strings or null.
func (h *HeaderValues) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*h = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*h = HeaderValues{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return fmt.Errorf("header value must be a string or an array of strings: %s", b)
	}
	*h = ss
	return nil
}

// RunscopeAssertion checks one thing about an answer.
type RunscopeAssertion struct {
	// Source is what is checked: response_status, response_json,
	// response_time (milliseconds), response_headers, response_text or
	// response_size.
	Source string `json:"source"`
	// Property is a JSON path for response_json (e.g.
	// "Resources[0].name.familyName") or a header name for
	// response_headers.
	Property string `json:"property"`
	// Comparison is equal, not_equal, equal_number, empty, not_empty,
	// contains, does_not_contain, has_value, has_key, is_null, is_a_number,
	// is_less_than, is_less_than_or_equal, is_greater_than or
	// is_greater_than_or_equal.
	Comparison string `json:"comparison"`
	// Value is the expected value: a JSON string, number or null. Strings
	// may hold {{variables}}.
	Value json.RawMessage `json:"value"`
}

// RunscopeVariable saves part of an answer in a variable for later steps.
type RunscopeVariable struct {
	Source   string `json:"source"`
	Name     string `json:"name"`
	Property string `json:"property"`
}

// ParseRunscope decodes an export.
func ParseRunscope(data []byte) (*RunscopeExport, error) {
	var e RunscopeExport
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode Runscope export: %w", err)
	}
	if len(e.Steps) == 0 {
		return nil, fmt.Errorf("Runscope export %q has no steps", e.Name)
	}
	return &e, nil
}
