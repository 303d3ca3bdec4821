package sqlfilter

import (
	"fmt"
	"strings"
	"time"

	"github.com/scim2/filter-parser/v2"

	"github.com/kacescim/kacescim/pkg/directory"
)

// Dialect is what a backend's SQL says its own way. Its methods are given
// SQL built from the attribute tables and return SQL; compare values reach
// them already checked (a string for a string attribute, lower-cased unless
// it is caseExact) and must be bound with Args.Bind.
type Dialect interface {
	// Placeholder is the marker of the n-th parameter of a statement (from 1).
	Placeholder(n int) string
	// Const is the condition that always (true) or never (false) holds.
	Const(b bool) string
	// Elements is how the values of the multi-valued attribute at path in
	// the JSON document doc are read as rows.
	Elements(doc string, path []string) Elements
	// Present is the condition that the complex value at path in doc holds
	// a number, a boolean or a non-empty string at any depth (RFC 7644
	// §3.4.2.2, "contains a non-empty node").
	Present(doc string, path []string) string
	// StringPresent is the condition that the JSON value o is a non-empty
	// string.
	StringPresent(o Operand) string
	// CompareString is o op v for a string attribute, op one of eq (also
	// for ne, which the caller negates), co, sw, ew, gt, ge, lt and le. For
	// an operand in JSON it is false unless the value is a non-empty
	// string; for a column it need not care whether the column is Optional.
	CompareString(a *Args, o Operand, op filter.CompareOperator, v string) string
	// BoolPresent is the condition that the JSON value o is a boolean.
	BoolPresent(o Operand) string
	// BoolEqual is the condition that the JSON value o is the boolean v.
	BoolEqual(a *Args, o Operand, v bool) string
	// Millis binds the time of the unix millisecond msec as a time column
	// compares with it.
	Millis(a *Args, msec int64) string
	// Text is the SQL value at path in the JSON document doc that a sort
	// key reads.
	Text(doc string, path []string) string
	// SortString makes x, the Text of the string attribute a, a sort key:
	// NULL when it is "" (absent), folded unless a is caseExact, ordered as
	// the bytes of strings.ToLower order.
	SortString(a *Attr, x string) string
	// CustomSortKey is the sort key of the attribute name of the extension
	// urn that no table describes (a single-valued string a mapping
	// declared), read from the Search document doc with its path bound as
	// a parameter.
	CustomSortKey(a *Args, doc, urn, name string) string
}

// Elements is how a dialect reads the values of a multi-valued attribute:
// one row per value.
type Elements struct {
	From   string // the FROM item
	Object string // the condition that the row's value is a JSON object
	Value  string // the row's value, a JSON document
	// Primary is the condition (never NULL) that the value's "primary" is
	// true, Index its position in the array.
	Primary, Index string
}

// Operand is where a simple attribute's value is read: a column
// expression (never NULL), or a JSON document.
type Operand struct {
	Attr   *Attr
	Column string
	// Doc, when Column is empty, is the SQL of the JSON document holding
	// the value at Attr.Path: the resource or, when Elem, one value of a
	// multi-valued attribute (Elements.Value).
	Doc  string
	Elem bool
}

// Args accumulates the arguments of a statement, in the order of their
// placeholders.
type Args struct {
	d    Dialect
	list []any
}

// Bind adds v and returns its placeholder.
func (a *Args) Bind(v any) string {
	a.list = append(a.list, v)
	return a.d.Placeholder(len(a.list))
}

// invalidFilter is the error for a filter the store cannot evaluate: an
// EBADFILTER, which the server answers with 400 invalidFilter.
func invalidFilter(format string, args ...any) error {
	return directory.Errorf(directory.EBADFILTER, format, args...)
}

// translator builds the condition of one filter.
type translator struct {
	s    *Schema
	d    Dialect
	args *Args
}

func (t *translator) bind(v any) string { return t.args.Bind(v) }

// scope is the inside of a complex attribute's value: in a value path
// (emails[type eq "work"]) the attribute names are its sub-attributes.
type scope struct {
	a       *Attr
	operand func(sub *Attr) Operand
}

// expr translates e; in is the enclosing value path, if any.
func (t *translator) expr(e filter.Expression, in *scope) (string, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		op := "AND"
		switch e.Operator {
		case filter.AND:
		case filter.OR:
			op = "OR"
		default:
			return "", invalidFilter("unknown logical operator %q", e.Operator)
		}
		l, err := t.expr(e.Left, in)
		if err != nil {
			return "", err
		}
		r, err := t.expr(e.Right, in)
		if err != nil {
			return "", err
		}
		return "(" + l + " " + op + " " + r + ")", nil
	case *filter.NotExpression:
		x, err := t.expr(e.Expression, in)
		if err != nil {
			return "", err
		}
		return "NOT (" + x + ")", nil
	case *filter.AttributeExpression:
		if in != nil {
			return t.scoped(e, in)
		}
		return t.attrExpr(e)
	case *filter.ValuePath:
		if in != nil {
			return "", invalidFilter("a value path cannot contain another: %v", e)
		}
		return t.valuePath(e)
	case nil:
		return "", invalidFilter("empty filter")
	default:
		return "", invalidFilter("unsupported filter expression %T", e)
	}
}

// lookup finds the attribute p names (ignoring its sub-attribute).
func (t *translator) lookup(p filter.AttributePath) (*Attr, error) {
	attrs := t.s.attrs
	if uri := p.URI(); uri != "" && !strings.EqualFold(uri, t.s.core) {
		if attrs = t.s.exts[strings.ToLower(uri)]; attrs == nil {
			return nil, invalidFilter("unknown schema %q in attribute %q", uri, p.String())
		}
	}
	a := attrs[strings.ToLower(p.AttributeName)]
	switch {
	case a == nil:
		return nil, invalidFilter("unknown or unsupported attribute %q", p.String())
	case a.Unsupported != "":
		return nil, invalidFilter("%s", a.Unsupported)
	}
	return a, nil
}

// sub finds the sub-attribute name of a.
func sub(a *Attr, name, full string) (*Attr, error) {
	if a.Type != Complex {
		return nil, invalidFilter("attribute %q has no sub-attributes", full)
	}
	s := a.Subs[strings.ToLower(name)]
	switch {
	case s == nil:
		return nil, invalidFilter("unknown or unsupported attribute %q", full)
	case s.Unsupported != "":
		return nil, invalidFilter("%s", s.Unsupported)
	}
	return s, nil
}

// attrExpr translates attrPath op value outside a value path.
func (t *translator) attrExpr(e *filter.AttributeExpression) (string, error) {
	if e.Operator == filter.NE {
		// ne is not (eq) around the whole attribute: emails.value ne "x"
		// means that no email is "x" (and holds for a user without
		// emails), not that some email is not "x".
		eq := *e
		eq.Operator = filter.EQ
		c, err := t.attrExpr(&eq)
		if err != nil {
			return "", err
		}
		return "NOT (" + c + ")", nil
	}
	p := e.AttributePath
	a, err := t.lookup(p)
	if err != nil {
		return "", err
	}
	if p.SubAttribute != nil {
		s, err := sub(a, *p.SubAttribute, p.String())
		if err != nil {
			return "", err
		}
		return t.within(a, func(sc *scope) (string, error) { return t.compare(sc.operand(s), e) })
	}
	switch {
	case a.Type != Complex:
		return t.compare(t.top(a), e)
	case e.Operator == filter.PR:
		return t.present(a), nil
	case a.Multi && a.Subs["value"] != nil:
		// emails co "@x" filters the values: emails.value co "@x".
		s, err := sub(a, "value", p.String()+".value")
		if err != nil {
			return "", err
		}
		return t.within(a, func(sc *scope) (string, error) { return t.compare(sc.operand(s), e) })
	default:
		return "", invalidFilter("attribute %q is complex: filter on one of its sub-attributes", p.String())
	}
}

// scoped translates a sub-attribute comparison inside a value path.
func (t *translator) scoped(e *filter.AttributeExpression, in *scope) (string, error) {
	p := e.AttributePath
	if p.URIPrefix != nil || p.SubAttribute != nil {
		return "", invalidFilter("%q inside %s[...] must be a sub-attribute of %s", p.String(), in.a.Name, in.a.Name)
	}
	s, err := sub(in.a, p.AttributeName, in.a.Name+"."+p.AttributeName)
	if err != nil {
		return "", err
	}
	return t.compare(in.operand(s), e)
}

// valuePath translates attr[valFilter].
func (t *translator) valuePath(v *filter.ValuePath) (string, error) {
	a, err := t.lookup(v.AttributePath)
	if err != nil {
		return "", err
	}
	// A value filter selects values of a multi-valued attribute (RFC 7644
	// §3.4.2.2 "emails[type eq ...]"), as in PATCH paths (scim.ApplyPatch
	// refuses name[givenName eq "x"] too).
	if a.Type != Complex || !a.Multi || v.AttributePath.SubAttribute != nil {
		return "", invalidFilter("%q is not a multi-valued complex attribute: it cannot have a value filter", v.AttributePath.String())
	}
	return t.within(a, func(sc *scope) (string, error) { return t.expr(v.ValueFilter, sc) })
}

// within builds the condition cond gives for one value of the complex
// attribute a: the value itself for a single-valued attribute, any of its
// values (EXISTS) for a multi-valued one.
func (t *translator) within(a *Attr, cond func(*scope) (string, error)) (string, error) {
	switch {
	case a.Relation != nil:
		c, err := cond(&scope{a: a, operand: func(s *Attr) Operand { return Operand{Attr: s, Column: s.Column} }})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s WHERE %s AND %s)", a.Relation.From, a.Relation.Link, c), nil
	case a.Multi:
		el := t.d.Elements(t.s.Search, a.Path)
		c, err := cond(&scope{a: a, operand: func(s *Attr) Operand {
			return Operand{Attr: s, Doc: el.Value, Elem: true}
		}})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s WHERE %s AND %s)", el.From, el.Object, c), nil
	default:
		return cond(&scope{a: a, operand: t.top})
	}
}

// top is the operand of an attribute that is not inside a multi-valued
// one: a column, or a path in the resource.
func (t *translator) top(a *Attr) Operand {
	if a.Column != "" {
		return Operand{Attr: a, Column: a.Column}
	}
	return Operand{Attr: a, Doc: t.s.doc(a)}
}

// doc is the JSON document the attribute a is read from.
func (s *Schema) doc(a *Attr) string {
	if a.CaseExact {
		return s.Resource
	}
	return s.Search
}

// present is "a pr" for a complex attribute a.
func (t *translator) present(a *Attr) string {
	switch {
	case a.Relation != nil:
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s WHERE %s)", a.Relation.From, a.Relation.Link)
	case a.Name == "meta":
		return t.d.Const(true)
	default:
		// A complex value, or a list of them, is present if it holds a
		// non-empty value anywhere: emails [{"value": ""}] is not present.
		return t.d.Present(t.s.Search, a.Path)
	}
}

// compare translates o op value.
func (t *translator) compare(o Operand, e *filter.AttributeExpression) (string, error) {
	switch o.Attr.Type {
	case String:
		return t.compareString(o, e)
	case Bool:
		return t.compareBool(o, e)
	case Time:
		return t.compareTime(o, e)
	}
	return "", invalidFilter("attribute %q cannot be compared", e.AttributePath.String())
}

func (t *translator) compareString(o Operand, e *filter.AttributeExpression) (string, error) {
	if e.Operator == filter.PR {
		if o.Column != "" {
			return "(" + o.Column + " <> '')", nil
		}
		return t.d.StringPresent(o), nil
	}
	v, ok := e.CompareValue.(string)
	if !ok {
		return "", invalidFilter("%q is a string attribute: compare it with a string, not %s", e.AttributePath.String(), valueKind(e.CompareValue))
	}
	if !o.Attr.CaseExact {
		v = strings.ToLower(v)
	}
	op := e.Operator
	switch op {
	case filter.NE:
		op = filter.EQ
	case filter.EQ, filter.CO, filter.SW, filter.EW, filter.GT, filter.GE, filter.LT, filter.LE:
	default:
		return "", invalidFilter("unknown operator %q", e.Operator)
	}
	c := t.d.CompareString(t.args, o, op, v)
	if o.Column != "" && o.Attr.Optional {
		// An empty column is an absent attribute, which matches nothing
		// (externalId lt "x" must not return users without one).
		c = o.Column + " <> '' AND " + c
	}
	if e.Operator == filter.NE {
		return "NOT (" + c + ")", nil
	}
	return "(" + c + ")", nil
}

func (t *translator) compareBool(o Operand, e *filter.AttributeExpression) (string, error) {
	if e.Operator == filter.PR {
		if o.Column != "" {
			return t.d.Const(true), nil
		}
		return t.d.BoolPresent(o), nil
	}
	v, ok := e.CompareValue.(bool)
	if !ok {
		return "", invalidFilter("%q is a boolean attribute: compare it with true or false, not %s", e.AttributePath.String(), valueKind(e.CompareValue))
	}
	var c string
	switch e.Operator {
	case filter.EQ, filter.NE:
		if o.Column != "" {
			c = o.Column + " = " + t.bind(v)
		} else {
			c = t.d.BoolEqual(t.args, o, v)
		}
	default:
		return "", invalidFilter("operator %q is not defined for the boolean attribute %q", e.Operator, e.AttributePath.String())
	}
	if e.Operator == filter.NE {
		return "NOT (" + c + ")", nil
	}
	return "(" + c + ")", nil
}

// compareTime compares a time column (whole milliseconds) with an RFC 3339
// value. The value may be more precise than the stored millisecond, so the
// bounds are rounded the way that keeps each comparison exact.
func (t *translator) compareTime(o Operand, e *filter.AttributeExpression) (string, error) {
	if e.Operator == filter.PR {
		return t.d.Const(true), nil
	}
	s, ok := e.CompareValue.(string)
	if !ok {
		return "", invalidFilter("%q is a dateTime attribute: compare it with an RFC 3339 string, not %s", e.AttributePath.String(), valueKind(e.CompareValue))
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", invalidFilter("%q is a dateTime attribute: %q is not an RFC 3339 time", e.AttributePath.String(), s)
	}
	floor := at.Truncate(time.Millisecond)
	lo := floor.UnixMilli() // the stored values ≤ at are the ones ≤ lo
	hi := lo                // the stored values ≥ at are the ones ≥ hi
	exactMS := floor.Equal(at)
	if !exactMS {
		hi++
	}
	cmp := func(op string, msec int64) string {
		return "(" + o.Column + " " + op + " " + t.d.Millis(t.args, msec) + ")"
	}
	switch e.Operator {
	case filter.EQ:
		if !exactMS {
			return t.d.Const(false), nil
		}
		return cmp("=", lo), nil
	case filter.NE:
		if !exactMS {
			return t.d.Const(true), nil
		}
		return cmp("<>", lo), nil
	case filter.GT:
		return cmp(">", lo), nil
	case filter.GE:
		return cmp(">=", hi), nil
	case filter.LT:
		return cmp("<", hi), nil
	case filter.LE:
		return cmp("<=", lo), nil
	}
	return "", invalidFilter("operator %q is not defined for the dateTime attribute %q", e.Operator, e.AttributePath.String())
}

// valueKind names the type of a compare value for error messages.
func valueKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	default:
		return "a number"
	}
}
