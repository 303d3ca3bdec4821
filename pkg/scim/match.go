package scim

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scim2/filter-parser/v2"
)

// ParseFilter parses a SCIM filter, turning the parser's error into a 400
// invalidFilter that quotes the filter.
func ParseFilter(raw string) (filter.Expression, error) {
	raw = strings.TrimSpace(raw)
	if expr, ok := parseSimpleEq(raw); ok {
		return expr, nil
	}
	expr, err := filter.ParseFilter([]byte(raw))
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidFilter, "cannot parse filter %q: check the attribute names, operators and quoting (RFC 7644 §3.4.2.2)", raw)
	}
	return expr, nil
}

// Match reports whether the resource document res (canonical form, with id
// and meta included when they should be matched) satisfies expr. Attribute
// names resolve through rt case-insensitively; an attribute rt does not
// know gives 400 invalidFilter.
func Match(rt *ResourceType, expr filter.Expression, res map[string]any) (bool, error) {
	return match(scope{rt: rt}, expr, res)
}

// scope says what attribute paths are relative to: a whole resource (rt) or
// one element of a multi-valued complex attribute (parent).
type scope struct {
	rt     *ResourceType
	parent *Attribute
}

func (s scope) resolve(p filter.AttributePath, ctx map[string]any) (*Attribute, []any, error) {
	if s.parent != nil {
		a := s.parent.Sub(p.AttributeName)
		if a == nil || p.URIPrefix != nil {
			return nil, nil, Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s has no sub-attribute %q", s.parent.Name, p.String())
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
	if sub == nil && top.Type == TypeComplex && top.MultiValued {
		// "emails co x" means the value sub-attribute of any email.
		sub = top.Sub("value")
		if sub == nil {
			return nil, nil, Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s cannot be compared directly: name a sub-attribute", top.Name)
		}
	}
	if sub == nil {
		if list, ok := v.([]any); ok {
			return top, list, nil
		}
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
		if top == nil || !top.MultiValued || top.Type != TypeComplex {
			return false, Errorf(http.StatusBadRequest, TypeInvalidFilter, "%q is not a multi-valued complex attribute", e.AttributePath.String())
		}
		container := ctx
		if urn != "" {
			container, _ = ctx[urn].(map[string]any)
		}
		list, _ := container[top.Name].([]any)
		inner := scope{parent: top}
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
		a, vals, err := s.resolve(e.AttributePath, ctx)
		if err != nil {
			return false, err
		}
		return compareAny(a, vals, e.Operator, e.CompareValue)
	default:
		return false, Errorf(http.StatusBadRequest, TypeInvalidFilter, "unsupported filter expression")
	}
}

// compareAny is true when any of vals satisfies "op cv". ne is the negation
// of eq, so that an absent attribute is "not equal" to every value.
func compareAny(a *Attribute, vals []any, op filter.CompareOperator, cv any) (bool, error) {
	if op == filter.NE {
		eq, err := compareAny(a, vals, filter.EQ, cv)
		return !eq, err
	}
	if err := checkOperand(a, op, cv); err != nil {
		return false, err
	}
	for _, v := range vals {
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

func checkOperand(a *Attribute, op filter.CompareOperator, cv any) error {
	if op == filter.PR {
		return nil
	}
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
		if _, ok := toFloat(cv); !ok {
			return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s is a number: compare it with a number", a.Name)
		}
	case TypeDateTime:
		s, ok := cv.(string)
		if !ok {
			return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%s is a dateTime: compare it with an RFC 3339 string", a.Name)
		}
		if _, err := parseTime(s); err != nil {
			return Errorf(http.StatusBadRequest, TypeInvalidFilter, "%q is not an RFC 3339 date-time", s)
		}
	}
	return nil
}

func compare(a *Attribute, v any, op filter.CompareOperator, cv any) (bool, error) {
	if op == filter.PR {
		switch t := v.(type) {
		case string:
			return t != "", nil
		case []any:
			return len(t) > 0, nil
		case map[string]any:
			return len(t) > 0, nil
		}
		return true, nil
	}
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
		return ordered(op, cmpFloat(x, y)), nil
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
	if !ok {
		return false, nil
	}
	cs, ok := cv.(string)
	if !ok {
		// A number or boolean compared with a string attribute: compare the
		// text forms, as unquoted values in Microsoft's tests expect.
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

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
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
		// Escapes and inner quotes (`a" or b eq "c`) go to the parser, so
		// that both paths read them the same way.
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
