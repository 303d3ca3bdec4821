package scim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scim2/filter-parser/v2"
)

// Filter limits. A filter costs the store one condition per comparison
// on every row it cannot find through an index (and the general parser
// about a hundred microseconds per comparison), so ParseFilter refuses a
// filter beyond these limits with 400 tooMany (RFC 7644 §3.12: "the
// specified filter yields many more results than the server is willing to
// calculate or process") instead of letting it become a slow scan. The
// limits are far above what identity providers send (Okta and Entra ID
// look resources up with one comparison).
const (
	// MaxFilterComparisons is the most attribute comparisons (attrExp,
	// including pr and those inside value paths) a filter may hold.
	MaxFilterComparisons = 50
	// MaxFilterBytes is the longest filter accepted, checked before
	// anything else reads it: fifty comparisons of long values fit, and
	// parsing costs microseconds per byte.
	MaxFilterBytes = 8 << 10
	// MaxFilterDepth is the deepest nesting a filter may have. A
	// comparison is at depth 1; a chain of one logical operator
	// (a or b or c) adds one level however long it is; each not (...),
	// each value path attr[...] and each switch between and and or adds
	// another. not (a and (b or c)) is depth 4.
	MaxFilterDepth = 10
	// maxFilterParens bounds the brackets the raw text may nest before
	// it reaches the parser: redundant parentheses ((a)) add no depth to
	// the expression, so they get some slack, but not without bound.
	maxFilterParens = 3 * MaxFilterDepth
)

// ParseFilter parses a SCIM filter, turning the parser's error into a 400
// invalidFilter that quotes the filter. String compare values come back
// decoded: filter-parser keeps the text between the quotes as written, so
// ParseFilter decodes its JSON escapes (RFC 7644 §3.4.2.2 takes compValue
// from JSON), once, here, and `userName eq "a\"b"` compares with a"b in
// Match and in the store alike. A filter beyond MaxFilterComparisons or
// MaxFilterDepth is a 400 tooMany.
func ParseFilter(raw string) (filter.Expression, error) {
	if len(raw) > MaxFilterBytes {
		return nil, Errorf(http.StatusBadRequest, TypeTooMany,
			"the filter is %d bytes long: at most %d are accepted; split it into simpler queries", len(raw), MaxFilterBytes)
	}
	raw = strings.TrimSpace(raw)
	if expr, ok := parseSimpleEq(raw); ok {
		return expr, nil
	}
	// Count before parsing, so that a filter of a thousand comparisons is
	// refused for the price of one pass over its text.
	if n, depth := scanFilter(raw); n > MaxFilterComparisons || depth > maxFilterParens {
		return nil, tooMany(raw)
	}
	expr, err := filter.ParseFilter(upperHexEscapes(raw))
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidFilter, "cannot parse filter %q: check the attribute names, operators and quoting (RFC 7644 §3.4.2.2)", Clip(raw))
	}
	if err := decodeValues(expr); err != nil {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidFilter, "filter %q: %v", Clip(raw), err)
	}
	if err := CheckFilterLimits(expr); err != nil {
		return nil, err
	}
	return expr, nil
}

// CheckFilterLimits returns a 400 tooMany if expr holds more than
// MaxFilterComparisons comparisons or nests deeper than MaxFilterDepth.
// ParseFilter applies it; the store applies it again to the expressions it
// is given, so that no caller can hand it an arbitrarily large condition.
func CheckFilterLimits(expr filter.Expression) error {
	n, depth := filterSize(expr, "")
	if n > MaxFilterComparisons || depth > MaxFilterDepth {
		return Errorf(http.StatusBadRequest, TypeTooMany,
			"the filter is too complex (%d comparisons nested %d deep): at most %d comparisons nested %d deep are accepted; split it into simpler queries",
			n, depth, MaxFilterComparisons, MaxFilterDepth)
	}
	return nil
}

func tooMany(raw string) error {
	return Errorf(http.StatusBadRequest, TypeTooMany,
		"the filter %q is too complex: at most %d comparisons nested %d deep are accepted; split it into simpler queries",
		Clip(raw), MaxFilterComparisons, MaxFilterDepth)
}

// clipBytes is how much of a client's input an error message quotes.
const clipBytes = 200

// Clip is s as an error message may quote it: its first 200 bytes (cut
// at a rune boundary) and an ellipsis when it is longer, so that no
// answer or log line echoes unbounded input.
func Clip(s string) string {
	if len(s) <= clipBytes {
		return s
	}
	return CutRunes(s, clipBytes) + "…"
}

// CutRunes is the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func CutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// filterSize counts the comparisons of e and measures its depth as
// MaxFilterDepth describes it; parent is the logical operator e is an
// operand of ("" for none).
func filterSize(e filter.Expression, parent filter.LogicalOperator) (n, depth int) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		ln, ld := filterSize(e.Left, e.Operator)
		rn, rd := filterSize(e.Right, e.Operator)
		depth = max(ld, rd)
		if parent != e.Operator {
			depth++
		}
		return ln + rn, depth
	case *filter.NotExpression:
		n, depth = filterSize(e.Expression, "")
		return n, depth + 1
	case *filter.ValuePath:
		n, depth = filterSize(e.ValueFilter, "")
		return n, depth + 1
	default:
		return 1, 1
	}
}

// scanFilter counts, outside quoted strings, the words of raw that are
// comparison operators (an upper bound of the comparisons the parser would
// find: an attribute can only be called eq if no schema knows it) and the
// deepest nesting of brackets.
func scanFilter(raw string) (ops, depth int) {
	nest := 0
	word := 0 // start of the current word
	inString := false
	endWord := func(i int) {
		if i-word == 2 && isCompareOp(raw[word:i]) {
			ops++
		}
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
				word = i + 1
			}
			continue
		}
		switch c {
		case '"':
			endWord(i)
			inString = true
		case ' ', '\t', '(', ')', '[', ']':
			endWord(i)
			word = i + 1
			switch c {
			case '(', '[':
				nest++
				depth = max(depth, nest)
			case ')', ']':
				nest--
			}
		}
	}
	endWord(len(raw))
	return ops, depth
}

// upperHexEscapes is raw with the hex digits of its \uXXXX escapes in
// upper case: JSON, which RFC 7644 takes compValue from, accepts either
// case (RFC 8259 §7), filter-parser's grammar only upper case.
func upperHexEscapes(raw string) []byte {
	b := []byte(raw)
	inString := false
	for i := 0; i < len(b); i++ {
		switch {
		case !inString:
			inString = b[i] == '"'
		case b[i] == '"':
			inString = false
		case b[i] == '\\' && i+1 < len(b):
			i++
			if b[i] == 'u' && i+4 < len(b) {
				for j := i + 1; j <= i+4; j++ {
					if 'a' <= b[j] && b[j] <= 'f' {
						b[j] -= 'a' - 'A'
					}
				}
			}
		}
	}
	return b
}

func isCompareOp(w string) bool {
	switch strings.ToLower(w) {
	case "eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le", "pr":
		return true
	}
	return false
}

// decodeValues replaces each string compare value of e by its JSON
// decoding. The grammar only lets valid JSON escapes through.
func decodeValues(e filter.Expression) error {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		if err := decodeValues(e.Left); err != nil {
			return err
		}
		return decodeValues(e.Right)
	case *filter.NotExpression:
		return decodeValues(e.Expression)
	case *filter.ValuePath:
		return decodeValues(e.ValueFilter)
	case *filter.AttributeExpression:
		s, ok := e.CompareValue.(string)
		if !ok || !strings.Contains(s, `\`) {
			return nil
		}
		var u string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &u); err != nil {
			return fmt.Errorf("cannot decode the string %q: %v", s, err)
		}
		e.CompareValue = u
	}
	return nil
}

// Match reports whether the resource document res (canonical form, with id
// and meta included when they should be matched) satisfies expr. Attribute
// names resolve through rt case-insensitively; an attribute rt does not
// know gives 400 invalidFilter.
//
// Match follows the rules the store's SQL translation follows, so that a
// filter selects the same resources in memory and in the database
// (TestFilterDifferential in pkg/store/sqlite checks it):
//
//   - ne is the negation of eq, so that an absent attribute is "not equal"
//     to every value, and emails.value ne "x" means no email is "x".
//   - An empty string is an absent value (the store keeps "" for an
//     absent externalId or displayName and cannot tell them apart): it is
//     not present (pr), and no comparison but ne matches it.
//   - pr is true for a non-empty value; a complex value is present when
//     one of its sub-attributes is, a multi-valued one when one of its
//     values is (RFC 7644 §3.4.2.2: "or if it contains a non-empty node
//     for complex attributes"). emails pr is about the emails, not about
//     their value sub-attribute.
//   - A string attribute compares only with a string: userName eq 5, eq
//     true and eq null are invalidFilter (RFC 7644 §3.4.2.2 compares
//     "attribute and operator values" of the attribute's type).
//   - gt/ge/lt/le on a boolean or binary attribute, co/sw/ew on a
//     dateTime, boolean or number, are invalidFilter (RFC 7644 §3.4.2.2:
//     boolean and binary attributes cannot be ordered; a date has no
//     substrings).
//   - Attributes the server computes when it renders a resource
//     (meta.resourceType, meta.location, meta.version, groups.type,
//     members.type) and binary ones (x509Certificates.value) cannot be
//     filtered: the store does not hold them.
//   - A value path applies to a multi-valued complex attribute only,
//     named without a sub-attribute (as in PATCH paths).
func Match(rt *ResourceType, expr filter.Expression, res map[string]any) (bool, error) {
	return match(scope{rt: rt, query: true}, expr, res)
}

// scope says what attribute paths are relative to: a whole resource (rt) or
// one element of a multi-valued complex attribute (parent). query is set
// for the filters of a query (Match), which follow the store's rules; PATCH
// value filters (patch.go) leave it unset and stay lenient with what they
// compare, as Microsoft's PATCH paths expect.
type scope struct {
	rt     *ResourceType
	parent *Attribute
	query  bool
}

// resolve finds the attribute p names and the values it has in ctx. pr
// says the path is tested for presence: a multi-valued complex attribute
// named alone is then the attribute itself, not its value sub-attribute.
func (s scope) resolve(p filter.AttributePath, ctx map[string]any, pr bool) (*Attribute, []any, error) {
	if s.parent != nil {
		a := s.parent.Sub(p.AttributeName)
		if a == nil || p.URIPrefix != nil {
			return nil, nil, Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s has no sub-attribute %q", s.parent.Name, p.String())
		}
		if s.query {
			if why := unfilterable(s.parent, a); why != "" {
				return nil, nil, Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s", why)
			}
		}
		v, _ := ctx[a.Name]
		if p.SubAttribute != nil {
			sub := a.Sub(*p.SubAttribute)
			if sub == nil {
				return nil, nil, Errorf(http.StatusBadRequest, TypeInvalidFilter, "unknown attribute %q", p.String())
			}
			m, _ := v.(map[string]any)
			return sub, []any{m[sub.Name]}, nil
		}
		return a, []any{v}, nil
	}
	top, sub, urn := s.rt.Lookup(p.URI(), p.AttributeName, p.SubAttributeName())
	if top == nil {
		return nil, nil, Errorf(http.StatusBadRequest, TypeInvalidFilter, "unknown attribute %q in filter", p.String())
	}
	container := ctx
	if urn != "" {
		container, _ = ctx[urn].(map[string]any)
	}
	v := container[top.Name]
	if sub == nil && top.Type == TypeComplex && top.MultiValued && !pr {
		// "emails co x" means the value sub-attribute of any email.
		sub = top.Sub("value")
		if sub == nil {
			return nil, nil, Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s cannot be compared directly: name a sub-attribute", top.Name)
		}
	}
	if s.query && urn == "" {
		if why := unfilterable(top, sub); why != "" {
			return nil, nil, Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s", why)
		}
	}
	if sub == nil {
		return top, []any{v}, nil
	}
	var vals []any
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				vals = append(vals, m[sub.Name])
			}
		}
	case map[string]any:
		vals = append(vals, t[sub.Name])
	}
	return sub, vals, nil
}

// unfilterable says why a query filter cannot name the sub-attribute sub
// of the core attribute top (or top itself, when sub is nil), or "".
func unfilterable(top, sub *Attribute) string {
	a := top
	if sub != nil {
		a = sub
	}
	switch {
	case a.Type == TypeBinary:
		return fmt.Sprintf("%s is binary and cannot be filtered", a.Name)
	case sub == nil:
		return ""
	case sub.Name == "$ref":
		return fmt.Sprintf("%s.$ref is computed by the server and cannot be filtered", top.Name)
	case top.Name == "meta" && sub.Name != "created" && sub.Name != "lastModified":
		return fmt.Sprintf("meta.%s is computed by the server and cannot be filtered: filter on meta.created or meta.lastModified", sub.Name)
	case (top.Name == "groups" || top.Name == "members") && sub.Name == "type":
		return fmt.Sprintf("%s.type is computed by the server and cannot be filtered", top.Name)
	}
	return ""
}

func match(s scope, expr filter.Expression, ctx map[string]any) (bool, error) {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		l, err := match(s, e.Left, ctx)
		if err != nil {
			return false, err
		}
		// Evaluate both sides so that a bad attribute on the right is
		// reported whatever the left side says.
		r, err := match(s, e.Right, ctx)
		if err != nil {
			return false, err
		}
		if e.Operator == filter.AND {
			return l && r, nil
		}
		return l || r, nil
	case *filter.NotExpression:
		m, err := match(s, e.Expression, ctx)
		return !m, err
	case *filter.ValuePath:
		if s.parent != nil {
			return false, Errorf(http.StatusBadRequest, TypeInvalidFilter, "value filters cannot be nested")
		}
		top, _, urn := s.rt.Lookup(e.AttributePath.URI(), e.AttributePath.AttributeName, "")
		if top == nil || !top.MultiValued || top.Type != TypeComplex || e.AttributePath.SubAttribute != nil {
			return false, Errorf(http.StatusBadRequest, TypeInvalidFilter, "%q is not a multi-valued complex attribute: it cannot have a value filter", e.AttributePath.String())
		}
		container := ctx
		if urn != "" {
			container, _ = ctx[urn].(map[string]any)
		}
		list, _ := container[top.Name].([]any)
		inner := scope{parent: top, query: s.query}
		if len(list) == 0 {
			// Still validate the inner filter.
			_, err := match(inner, e.ValueFilter, map[string]any{})
			return false, err
		}
		found := false
		for _, el := range list {
			m, _ := el.(map[string]any)
			ok, err := match(inner, e.ValueFilter, m)
			if err != nil {
				return false, err
			}
			found = found || ok
		}
		return found, nil
	case *filter.AttributeExpression:
		a, vals, err := s.resolve(e.AttributePath, ctx, e.Operator == filter.PR)
		if err != nil {
			return false, err
		}
		return compareAny(a, vals, e.Operator, e.CompareValue, s.query)
	default:
		return false, Errorf(http.StatusBadRequest, TypeInvalidFilter, "unsupported filter expression")
	}
}

// compareAny is true when any of vals satisfies "op cv". ne is the negation
// of eq, so that an absent attribute is "not equal" to every value.
func compareAny(a *Attribute, vals []any, op filter.CompareOperator, cv any, query bool) (bool, error) {
	if op == filter.NE {
		eq, err := compareAny(a, vals, filter.EQ, cv, query)
		return !eq, err
	}
	if err := checkOperand(a, op, cv, query); err != nil {
		return false, err
	}
	for _, v := range vals {
		if op == filter.PR {
			if present(v) {
				return true, nil
			}
			continue
		}
		if v == nil {
			continue
		}
		ok, err := compare(a, v, op, cv)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// present is pr: a value that is not null, "", [] or {}, nor a list or
// object of such values.
func present(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return t != ""
	case []any:
		for _, e := range t {
			if present(e) {
				return true
			}
		}
		return false
	case map[string]any:
		for _, e := range t {
			if present(e) {
				return true
			}
		}
		return false
	}
	return true
}

func checkOperand(a *Attribute, op filter.CompareOperator, cv any, query bool) error {
	switch op {
	case filter.PR:
		return nil
	case filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW, filter.GT, filter.GE, filter.LT, filter.LE:
	default:
		return Errorf(http.StatusBadRequest, TypeInvalidFilter, "unknown operator %q", op)
	}
	substring := op == filter.CO || op == filter.SW || op == filter.EW
	switch a.Type {
	case TypeBoolean:
		if op != filter.EQ {
			return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s is a boolean: only eq, ne and pr apply", a.Name)
		}
		if _, ok := cv.(bool); !ok {
			return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s is a boolean: compare it with true or false", a.Name)
		}
	case TypeComplex:
		return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s is complex: name a sub-attribute", a.Name)
	case TypeInteger, TypeDecimal:
		if substring {
			return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s is a number: co, sw and ew do not apply", a.Name)
		}
		if _, ok := toFloat(cv); !ok {
			return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s is a number: compare it with a number", a.Name)
		}
	case TypeDateTime:
		if substring {
			return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s is a dateTime: co, sw and ew do not apply", a.Name)
		}
		s, ok := cv.(string)
		if !ok {
			return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s is a dateTime: compare it with an RFC 3339 string", a.Name)
		}
		if _, err := parseTime(s); err != nil {
			return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%q is not an RFC 3339 date-time", s)
		}
	case TypeBinary:
		if !substring && op != filter.EQ {
			return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s is binary: gt, ge, lt and le do not apply", a.Name)
		}
		fallthrough
	default: // string, reference, binary
		if _, ok := cv.(string); !ok && query {
			return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s is a string: compare it with a quoted string", a.Name)
		}
	}
	return nil
}

func compare(a *Attribute, v any, op filter.CompareOperator, cv any) (bool, error) {
	switch a.Type {
	case TypeBoolean:
		b, ok := v.(bool)
		return ok && b == cv.(bool), nil
	case TypeInteger, TypeDecimal:
		x, ok1 := toFloat(v)
		y, _ := toFloat(cv)
		if !ok1 {
			return false, nil
		}
		return ordered(op, cmp.Compare(x, y)), nil
	case TypeDateTime:
		vs, _ := v.(string)
		x, err := parseTime(vs)
		if err != nil {
			return false, nil
		}
		y, _ := parseTime(cv.(string))
		return ordered(op, x.Compare(y)), nil
	}
	vs, ok := v.(string)
	if !ok || vs == "" {
		// An empty string is an absent value: only ne matches it.
		return false, nil
	}
	cs, ok := cv.(string)
	if !ok {
		// A number or boolean compared with a string attribute in a PATCH
		// value filter: compare the text forms, as unquoted values in
		// Microsoft's tests expect. (Query filters refuse it.)
		cs = fmtScalar(cv)
	}
	if !a.CaseExact {
		vs, cs = strings.ToLower(vs), strings.ToLower(cs)
	}
	switch op {
	case filter.CO:
		return strings.Contains(vs, cs), nil
	case filter.SW:
		return strings.HasPrefix(vs, cs), nil
	case filter.EW:
		return strings.HasSuffix(vs, cs), nil
	}
	return ordered(op, strings.Compare(vs, cs)), nil
}

func ordered(op filter.CompareOperator, c int) bool {
	switch op {
	case filter.EQ:
		return c == 0
	case filter.GT:
		return c > 0
	case filter.GE:
		return c >= 0
	case filter.LT:
		return c < 0
	case filter.LE:
		return c <= 0
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

func fmtScalar(v any) string {
	switch t := v.(type) {
	case bool:
		if t {
			return "true"
		}
		return "false"
	case float64:
		return strconvFloat(t)
	case int:
		return strconvFloat(float64(t))
	}
	return ""
}

func strconvFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// parseSimpleEq parses the one filter identity providers send on nearly
// every request, `attr eq "value"` or `attr.sub eq "value"`, into the same
// expression filter.ParseFilter builds, without the general parser's cost
// (it allocates about a thousand times per call and took as long as the
// indexed lookup itself). Anything else reports false and goes to the
// general parser; TestParseSimpleEqMatchesParser keeps the two in step.
func parseSimpleEq(raw string) (filter.Expression, bool) {
	s := raw
	i := 0
	for i < len(s) && s[i] != ' ' {
		i++
	}
	path := s[:i]
	rest := strings.TrimLeft(s[i:], " ")
	if len(rest) < 4 || !strings.EqualFold(rest[:2], "eq") || rest[2] != ' ' {
		return nil, false
	}
	value := strings.TrimLeft(rest[3:], " ")
	if len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
		return nil, false
	}
	name, sub, hasSub := strings.Cut(path, ".")
	if !isAttrName(name) || (hasSub && !isAttrName(sub)) {
		return nil, false
	}
	v := value[1 : len(value)-1]
	if strings.ContainsAny(v, `\"`) {
		// Escapes and inner quotes (`a" or b eq "c`) go to the general
		// path, which decodes the escapes (ParseFilter), so that both
		// paths read a value the same way.
		return nil, false
	}
	ap := filter.AttributePath{AttributeName: name}
	if hasSub {
		ap.SubAttribute = &sub
	}
	return &filter.AttributeExpression{AttributePath: ap, Operator: filter.EQ, CompareValue: v}, true
}

// isAttrName is RFC 7644's ATTRNAME: ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA.
func isAttrName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '-' || c == '_')) {
			return false
		}
	}
	return true
}
