package conformance

import (
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// opLike checks a value against a pattern the way has_element checks an
// element: for an object, every key of the pattern is there with a like
// value, so one assertion (one check) can hold several attributes
// ({"json": "name", "op": "like", "value": {"givenName": …, "familyName": …}}).
// opHasElements checks that an array has, for each pattern of the value
// (an array), an element like it: several members in one check.
const (
	opLike        = "like"
	opHasElements = "has_elements"
)

// hasElements reports whether v is an array with an element like each of
// the patterns (an array; a single pattern is taken as one).
func hasElements(v, patterns any) bool {
	arr, ok := v.([]any)
	if !ok {
		return false
	}
	ps, ok := patterns.([]any)
	if !ok {
		ps = []any{patterns}
	}
	for _, p := range ps {
		if !slices.ContainsFunc(arr, func(e any) bool { return like(e, p) }) {
			return false
		}
	}
	return true
}

// lookupAll is lookup with "[*]": every element of an array, the rest of
// the path applied to each ("Resources[*].userName"); elements without the
// rest are left out.
func lookupAll(doc any, p string) (any, bool) {
	if p == "$" {
		return doc, true
	}
	before, after, ok := strings.Cut(p, "[*]")
	if !ok {
		return lookup(doc, p)
	}
	v, ok := lookup(doc, before)
	arr, isArr := v.([]any)
	if !ok || !isArr {
		return nil, false
	}
	after = strings.TrimPrefix(after, ".")
	out := make([]any, 0, len(arr))
	for _, e := range arr {
		if after == "" {
			out = append(out, e)
			continue
		}
		if x, ok := lookupAll(e, after); ok {
			out = append(out, x)
		}
	}
	return out, true
}

// opFasterThan judges the time the answer took, not a value of it: the
// whole exchange must take less than the assertion's value, in
// milliseconds (Runscope's is_less_than on response_time). The
// assertion's target (conventionally "text": true) is not looked at.
const opFasterThan = "faster_than"

// assertElapsed judges a faster_than assertion.
func assertElapsed(ans *answer, expected any) string {
	limit, err := strconv.ParseFloat(text(expected), 64)
	if err != nil || expected == nil {
		return fmt.Sprintf("response time %s: expected a limit in milliseconds, the scenario gives %s", opFasterThan, show(expected))
	}
	ms := float64(ans.elapsed.Microseconds()) / 1000
	if ms < limit {
		return ""
	}
	return fmt.Sprintf("response time %s: expected less than %s ms, got %.0f ms", opFasterThan, text(expected), ms)
}

// assert judges one assertion against an answer; it returns "" when it
// holds, otherwise what was expected and what came.
func (sr *scenarioRun) assert(ans *answer, a Assertion, expected any) string {
	if a.Op == opFasterThan {
		return sr.red.Redact(assertElapsed(ans, expected))
	}
	var (
		label   string
		v       any
		present bool
		problem string
	)
	switch {
	case a.Header != "":
		label = "header " + a.Header
		vals := ans.header.Values(a.Header)
		present = len(vals) > 0
		v = strings.Join(vals, ", ")
		if !present {
			problem = "no " + a.Header + " header"
		}
	case a.Text:
		label, v, present = "body", string(ans.body), true
	default:
		p := *a.JSON
		label = "body"
		if p != "" && p != "$" {
			label = p
		}
		switch {
		case ans.jsonErr != nil:
			problem = fmt.Sprintf("an HTTP %d answer whose body is not JSON (%s)", ans.status, shortBody(ans.body))
		case p == "" || p == "$":
			v, present = ans.doc, true
		default:
			v, present = lookupAll(ans.doc, p)
			if !present {
				problem = "no " + p + " in the body"
			}
		}
	}
	want, got, pass := judge(a.Op, v, present, expected)
	if pass {
		return ""
	}
	if !present && problem != "" {
		got = problem
	}
	return sr.red.Redact(fmt.Sprintf("%s %s: expected %s, got %s", label, a.Op, want, got))
}

// judge applies op to v (present says whether there is a value at all).
func judge(op string, v any, present bool, expected any) (want, got string, pass bool) {
	got = "nothing"
	if present {
		got = show(v)
	}
	exp := ""
	if expected != nil {
		exp = text(expected)
	}
	switch op {
	case "present":
		return "a value", got, present
	case "absent":
		return "no value", got, !present
	case "equal_fold":
		return strconv.Quote(exp) + " (any case)", got, present && strings.EqualFold(text(v), exp)
	case "equal_json":
		return show(expected), got, present && jsonEqual(v, expected)
	case "type":
		return "a JSON " + exp, got + " (" + jsonType(v) + ")", present && jsonType(v) == exp
	case "length":
		arr, isArr := v.([]any)
		n, err := strconv.Atoi(exp)
		return fmt.Sprintf("an array of %s", exp), got, present && isArr && err == nil && len(arr) == n
	case "matches":
		re, err := regexp.Compile(exp)
		if err != nil {
			return fmt.Sprintf("a valid regular expression (the scenario gives %q)", exp), got, false
		}
		return "a value matching /" + exp + "/", got, present && re.MatchString(text(v))
	case "has_element":
		arr, _ := v.([]any)
		return "an array with an element like " + show(expected), got, present && slices.ContainsFunc(arr, func(e any) bool { return like(e, expected) })
	case "lacks_element":
		arr, isArr := v.([]any)
		return "no element like " + show(expected), got, !present || (isArr && !slices.ContainsFunc(arr, func(e any) bool { return like(e, expected) }))
	case "sorted":
		return "values sorted " + orDefault(exp, "ascending") + " (any case)", got, present && isSorted(v, exp == "descending")
	case "one_of":
		opts, _ := expected.([]any)
		return "one of " + show(expected), got, present && slices.ContainsFunc(opts, func(o any) bool { return text(o) == text(v) })
	case opLike:
		return "a value like " + show(expected), got, present && like(v, expected)
	case opHasElements:
		return "an array with elements like each of " + show(expected), got, present && hasElements(v, expected)
	}
	return compare(op, v, present, exp)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// jsonEqual compares two decoded JSON values, numbers by value.
func jsonEqual(a, b any) bool {
	na, aNum := a.(json.Number)
	nb, bNum := b.(json.Number)
	if aNum && bNum {
		x, errX := na.Float64()
		y, errY := nb.Float64()
		return errX == nil && errY == nil && x == y
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// like reports whether e matches the pattern p: for an object, every key
// of p is in e with an equal value (strings compared as text, so
// "primary": true matches true), recursively; otherwise equal text.
func like(e, p any) bool {
	pm, isObj := p.(map[string]any)
	if !isObj {
		return text(e) == text(p)
	}
	em, ok := e.(map[string]any)
	if !ok {
		return false
	}
	for k, pv := range pm {
		ev, ok := em[k]
		if !ok {
			return false
		}
		if _, sub := pv.(map[string]any); sub {
			if !like(ev, pv) {
				return false
			}
			continue
		}
		if text(ev) != text(pv) {
			return false
		}
	}
	return true
}

// isSorted reports whether v is an array whose values are in order,
// compared case-insensitively as text (numbers as numbers).
func isSorted(v any, descending bool) bool {
	arr, ok := v.([]any)
	if !ok {
		return false
	}
	for i := 1; i < len(arr); i++ {
		c := compareValues(arr[i-1], arr[i])
		if descending {
			c = -c
		}
		if c > 0 {
			return false
		}
	}
	return true
}

func compareValues(a, b any) int {
	na, aNum := a.(json.Number)
	nb, bNum := b.(json.Number)
	if aNum && bNum {
		x, _ := na.Float64()
		y, _ := nb.Float64()
		return cmp.Compare(x, y)
	}
	return strings.Compare(strings.ToLower(text(a)), strings.ToLower(text(b)))
}
