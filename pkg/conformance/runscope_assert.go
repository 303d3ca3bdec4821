package conformance

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// extract returns the value a variable takes.
func (a *answer) extract(v RunscopeVariable) (string, error) {
	val, ok, problem := a.value(v.Source, v.Property)
	if !ok {
		return "", fmt.Errorf("%s", problem)
	}
	return text(val), nil
}

// assert judges one assertion; it returns "" when it holds, otherwise a
// message naming the assertion, what was expected and what came.
func (a *answer) assert(as RunscopeAssertion, expected string) string {
	label := as.Source
	if as.Property != "" && (as.Source == "response_json" || as.Source == "response_headers") {
		label += " " + as.Property
	}
	if as.Source == "response_time" {
		label += " (ms)"
	}
	label += " " + as.Comparison
	v, ok, problem := a.value(as.Source, as.Property)
	want, got, pass := compare(as.Comparison, v, ok, expected)
	if pass {
		return ""
	}
	if !ok && problem != "" && got == "nothing" {
		got = problem
	}
	return fmt.Sprintf("%s: expected %s, got %s", label, want, got)
}

// compare applies a Runscope comparison to v (present says whether there
// is a value at all). It returns the expectation and the actual value as
// words for a failure message, and whether the comparison holds.
func compare(comparison string, v any, present bool, expected string) (want, got string, pass bool) {
	got = "nothing"
	if present {
		got = show(v)
	}
	q := strconv.Quote(expected)
	switch comparison {
	case "equal":
		return q, got, present && text(v) == expected
	case "not_equal":
		return "anything but " + q, got, !present || text(v) != expected
	case "empty":
		return "an empty value", got, !present || isEmpty(v)
	case "not_empty":
		return "a non-empty value", got, present && !isEmpty(v)
	case "is_null":
		return "null", got, present && v == nil
	case "contains":
		return "a value containing " + q, got, present && contains(v, expected)
	case "does_not_contain":
		return "a value not containing " + q, got, !present || !contains(v, expected)
	case "has_value":
		return "a value holding " + q, got, present && hasValue(v, expected)
	case "has_key":
		m, isMap := v.(map[string]any)
		_, has := m[expected]
		return "an object with key " + q, got, present && isMap && has
	case "is_a_number":
		_, isNum := v.(json.Number)
		return "a number", got, present && isNum
	case "equal_number", "is_less_than", "is_less_than_or_equal", "is_greater_than", "is_greater_than_or_equal":
		return compareNumbers(comparison, v, present, got, expected)
	default:
		return fmt.Sprintf("a comparison this runner supports (not %q)", comparison), got, false
	}
}

var numberWords = map[string]string{
	"equal_number":             "",
	"is_less_than":             "less than ",
	"is_less_than_or_equal":    "at most ",
	"is_greater_than":          "more than ",
	"is_greater_than_or_equal": "at least ",
}

func compareNumbers(comparison string, v any, present bool, got, expected string) (string, string, bool) {
	want := numberWords[comparison] + expected
	e, err := strconv.ParseFloat(expected, 64)
	if err != nil {
		return fmt.Sprintf("a number to compare with (the suite gives %q)", expected), got, false
	}
	n, isNum := v.(json.Number)
	if !present || !isNum {
		return "the number " + want, got, false
	}
	x, err := n.Float64()
	if err != nil {
		return "the number " + want, got, false
	}
	switch comparison {
	case "equal_number":
		return want, got, x == e
	case "is_less_than":
		return want, got, x < e
	case "is_less_than_or_equal":
		return want, got, x <= e
	case "is_greater_than":
		return want, got, x > e
	default:
		return want, got, x >= e
	}
}

// isEmpty is Runscope's emptiness: null, "", [] or {}.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// contains: an array member equal to want, or want as a substring of the
// value's text (a string's own text, JSON text for the rest).
func contains(v any, want string) bool {
	if arr, ok := v.([]any); ok {
		for _, m := range arr {
			if text(m) == want {
				return true
			}
		}
	}
	return strings.Contains(text(v), want)
}

// hasValue: an array member or object value equal to want, or want as a
// substring of a string.
func hasValue(v any, want string) bool {
	switch x := v.(type) {
	case []any:
		for _, m := range x {
			if text(m) == want {
				return true
			}
		}
		return false
	case map[string]any:
		for _, m := range x {
			if text(m) == want {
				return true
			}
		}
		return false
	case string:
		return strings.Contains(x, want)
	}
	return text(v) == want
}
