package sqlite

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scim2/filter-parser/v2"

	"github.com/kacescim/kacescim/pkg/scim"
)

// This file translates a parsed SCIM filter (RFC 7644 §3.4.2.2) into a
// parameterised SQL condition over the users or groups table. Compare values
// are always bound as parameters; the only text spliced into the SQL comes
// from the attribute tables below (column names and JSON paths).
//
// Attributes kept as columns (id, externalId, userName, displayName,
// active, meta.created, meta.lastModified) compare against the indexed
// columns; userName and displayName compare their lower-cased *_key copies.
// User.groups and Group.members compare against the membership rows. Every
// other known attribute is read from the JSON resource with json_extract,
// multi-valued ones through json_each, and compared case-insensitively
// (through folded) unless the attribute is caseExact. An attribute that is
// not in the tables (or cannot be compared, like password) is an
// invalidFilter error, never a silently wrong answer.
//
// The rules are scim.Match's, which evaluates a filter on one document in
// Go; TestFilterDifferential checks on thousands of generated users and
// filters that both select the same resources. In short (match.go has the
// reasons): ne is not (eq), also around a multi-valued attribute
// (emails.value ne "x" is "no email is x"); "" is an absent value; pr is
// "has a non-empty value", for complex attributes "has a non-empty
// sub-attribute"; string attributes compare only with strings; caseExact
// is the schema's (scim.UserSchema, scim.GroupSchema). Compare values are
// used as the expression holds them: scim.ParseFilter has decoded their
// JSON escapes already, and CheckFilterLimits bounds their number.
//
// Every condition the translator emits is 0 or 1, never NULL, so that
// "not" keeps SCIM's two-valued meaning: not (title eq "x") matches a user
// without a title.
//
// A filter on an attribute without an index is a scan of the provider's
// rows, one row at a time: nothing is collected in memory, and folded only
// calls back into Go (which allocates) for text that is not ASCII.

// attrType is the SCIM data type of an attribute, as far as filtering
// cares.
type attrType int

const (
	typeString attrType = iota
	typeBool
	typeTime
	typeComplex
)

// attr describes one filterable attribute.
type attr struct {
	name      string
	typ       attrType
	multi     bool
	caseExact bool
	// column, when set, is the SQL expression holding the attribute: a
	// column of the resource table or, for a sub-attribute of a relation,
	// of the relation's FROM clause. For a case-insensitive string it
	// yields the lower-cased value. When empty, the attribute lives in the
	// JSON resource at path.
	column string
	// optional marks a column where the empty string is an absent value.
	optional bool
	path     []string         // JSON keys from the document root (set by newSchema)
	subs     map[string]*attr // sub-attributes of a complex attribute, by lower-case name
	// relation, when set, keeps the values of this multi-valued complex
	// attribute as rows: EXISTS (SELECT 1 FROM <from> WHERE <link> AND ...).
	relation *relation
	// unsupported, when set, is why the attribute cannot be filtered.
	unsupported string
}

type relation struct{ from, link string }

// resourceSchema is what the translator knows about one resource type.
type resourceSchema struct {
	table string           // the table FindUsers/FindGroups select from (no alias)
	core  string           // the core schema URN, accepted as a prefix
	attrs map[string]*attr // core attributes by lower-case name
	exts  map[string]map[string]*attr
}

func str(name string) *attr   { return &attr{name: name, typ: typeString} }
func exact(name string) *attr { return &attr{name: name, typ: typeString, caseExact: true} }
func boolean(name string) *attr {
	return &attr{name: name, typ: typeBool}
}
func col(a *attr, column string) *attr { a.column = column; return a }

// optionalCol is col for a column that holds "" when the attribute is absent.
func optionalCol(a *attr, column string) *attr {
	a.column, a.optional = column, true
	return a
}
func unsupported(name, why string) *attr {
	return &attr{name: name, unsupported: why}
}
func complexAttr(name string, multi bool, subs ...*attr) *attr {
	a := &attr{name: name, typ: typeComplex, multi: multi, subs: map[string]*attr{}}
	for _, s := range subs {
		a.subs[strings.ToLower(s.name)] = s
	}
	return a
}

// multiValue is the usual shape of a multi-valued attribute (emails,
// phoneNumbers, ims, roles, entitlements): value, display, type, primary.
func multiValue(name string, value *attr) *attr {
	return complexAttr(name, true, value, str("display"), str("type"), boolean("primary"))
}

// meta is meta as both resource types keep it: created and lastModified
// are columns, the rest is computed by the server.
func meta() *attr {
	return complexAttr("meta", false,
		col(&attr{name: "created", typ: typeTime}, "created"),
		col(&attr{name: "lastModified", typ: typeTime}, "last_modified"),
		unsupported("resourceType", "meta.resourceType cannot be filtered"),
		unsupported("location", "meta.location cannot be filtered"),
		unsupported("version", "meta.version cannot be filtered"),
	)
}

// newSchema indexes attrs by lower-case name and sets their JSON paths.
func newSchema(table, core string, attrs []*attr, exts map[string][]*attr) *resourceSchema {
	s := &resourceSchema{table: table, core: core, attrs: index(attrs, nil), exts: map[string]map[string]*attr{}}
	for urn, as := range exts {
		s.exts[strings.ToLower(urn)] = index(as, []string{urn})
	}
	return s
}

func index(attrs []*attr, prefix []string) map[string]*attr {
	m := map[string]*attr{}
	for _, a := range attrs {
		setPath(a, prefix)
		m[strings.ToLower(a.name)] = a
	}
	return m
}

func setPath(a *attr, prefix []string) {
	a.path = append(append([]string(nil), prefix...), a.name)
	for _, s := range a.subs {
		if a.multi {
			s.path = []string{s.name} // relative to one value of the array
		} else {
			setPath(s, a.path)
		}
	}
}

// userSchema is the filterable part of RFC 7643 §4.1 and §4.3.
func userSchema() *resourceSchema {
	return newSchema("users", scim.UserURN, []*attr{
		col(exact("id"), "id"),
		optionalCol(exact("externalId"), "external_id"),
		col(str("userName"), "user_name_key"),
		optionalCol(str("displayName"), "display_name_key"),
		col(boolean("active"), "active"),
		meta(),
		complexAttr("name", false, str("formatted"), str("familyName"), str("givenName"),
			str("middleName"), str("honorificPrefix"), str("honorificSuffix")),
		// profileUrl and photos.value are references, caseExact false in
		// RFC 7643 §8.7.1 and in scim.UserSchema.
		str("nickName"), str("profileUrl"), str("title"), str("userType"),
		str("preferredLanguage"), str("locale"), str("timezone"),
		unsupported("password", "password cannot be filtered"),
		multiValue("emails", str("value")),
		multiValue("phoneNumbers", str("value")),
		multiValue("ims", str("value")),
		multiValue("photos", str("value")),
		complexAttr("addresses", true, str("formatted"), str("streetAddress"), str("locality"),
			str("region"), str("postalCode"), str("country"), str("type"), boolean("primary")),
		&attr{name: "groups", typ: typeComplex, multi: true,
			relation: &relation{
				from: "group_members gm JOIN groups g ON g.seq = gm.group_seq",
				link: "gm.user_seq = users.seq",
			},
			// groups.value is caseExact false (RFC 7643 §8.7.1,
			// scim.UserSchema), unlike the id it holds.
			subs: map[string]*attr{
				"value":   col(str("value"), folded("g.id")),
				"display": col(str("display"), "g.display_name_key"),
				"type":    unsupported("type", "groups.type cannot be filtered"),
			}},
		multiValue("entitlements", str("value")),
		multiValue("roles", str("value")),
		multiValue("x509Certificates", unsupported("value", "x509Certificates.value (binary) cannot be filtered")),
	}, map[string][]*attr{
		scim.EnterpriseUserURN: {
			str("employeeNumber"), str("costCenter"), str("organization"), str("division"), str("department"),
			complexAttr("manager", false, str("value"), str("displayName")),
		},
	})
}

// groupSchema is the filterable part of RFC 7643 §4.2.
func groupSchema() *resourceSchema {
	return newSchema("groups", scim.GroupURN, []*attr{
		col(exact("id"), "id"),
		optionalCol(exact("externalId"), "external_id"),
		col(str("displayName"), "display_name_key"),
		meta(),
		&attr{name: "members", typ: typeComplex, multi: true,
			relation: &relation{
				from: "group_members gm JOIN users u ON u.seq = gm.user_seq",
				link: "gm.group_seq = groups.seq",
			},
			// members.value is caseExact false (RFC 7643 §8.7.1,
			// scim.GroupSchema), unlike the id it holds.
			subs: map[string]*attr{
				"value":   col(str("value"), folded("u.id")),
				"display": optionalCol(str("display"), folded("gm.display")),
				"type":    unsupported("type", "members.type cannot be filtered"),
			}},
	}, nil)
}

// with returns s extended with the custom extensions a provider's mappings
// declared: each attribute a case-insensitive string in the JSON resource
// under the extension's URN. s itself is not changed.
func (s *resourceSchema) with(exts []*scim.Schema) *resourceSchema {
	if len(exts) == 0 {
		return s
	}
	out := *s
	out.exts = make(map[string]map[string]*attr, len(s.exts)+len(exts))
	for k, v := range s.exts {
		out.exts[k] = v
	}
	for _, e := range exts {
		if _, known := out.exts[strings.ToLower(e.ID)]; known {
			continue
		}
		attrs := make([]*attr, 0, len(e.Attributes))
		for _, a := range e.Attributes {
			if a.Type == scim.TypeString && !a.MultiValued {
				attrs = append(attrs, str(a.Name))
			}
		}
		out.exts[strings.ToLower(e.ID)] = index(attrs, []string{e.ID})
	}
	return &out
}

// invalidFilter is the error for a filter the store cannot evaluate.
func invalidFilter(format string, args ...any) error {
	return scim.Errorf(http.StatusBadRequest, scim.TypeInvalidFilter, format, args...)
}

// selection is the WHERE clause, and its arguments, that selects the
// provider's resources matching f (all of them for a nil f).
func (s *resourceSchema) selection(providerID string, f filter.Expression) (string, []any, error) {
	if f == nil {
		return "WHERE provider_id = ?", []any{providerID}, nil
	}
	if err := scim.CheckFilterLimits(f); err != nil {
		return "", nil, err
	}
	t := &translator{s: s, args: []any{providerID}}
	cond, err := t.expr(f, nil)
	if err != nil {
		return "", nil, err
	}
	return "WHERE provider_id = ? AND " + cond, t.args, nil
}

// countQuery counts the rows of table that where selects.
func countQuery(table, where string) string { return "SELECT count(*) FROM " + table + " " + where }

// pageQuery reads one page (LIMIT ? OFFSET ?) of the rows of table that
// where selects, in creation order.
func pageQuery(table, columns, where string) string {
	return "SELECT " + columns + " FROM " + table + " " + where + " ORDER BY seq LIMIT ? OFFSET ?"
}

// translator accumulates the arguments of the condition it builds, in the
// order their placeholders appear in the text.
type translator struct {
	s    *resourceSchema
	args []any
}

func (t *translator) bind(v any) string {
	t.args = append(t.args, v)
	return "?"
}

// scope is the inside of a complex attribute's value: in a value path
// (emails[type eq "work"]) the attribute names are its sub-attributes.
type scope struct {
	a       *attr
	operand func(sub *attr) operand
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
func (t *translator) lookup(p filter.AttributePath) (*attr, error) {
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
	case a.unsupported != "":
		return nil, invalidFilter("%s", a.unsupported)
	}
	return a, nil
}

// sub finds the sub-attribute name of a.
func sub(a *attr, name, full string) (*attr, error) {
	if a.typ != typeComplex {
		return nil, invalidFilter("attribute %q has no sub-attributes", full)
	}
	s := a.subs[strings.ToLower(name)]
	switch {
	case s == nil:
		return nil, invalidFilter("unknown or unsupported attribute %q", full)
	case s.unsupported != "":
		return nil, invalidFilter("%s", s.unsupported)
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
	case a.typ != typeComplex:
		return t.compare(t.top(a), e)
	case e.Operator == filter.PR:
		return t.present(a), nil
	case a.multi && a.subs["value"] != nil:
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
		return "", invalidFilter("%q inside %s[...] must be a sub-attribute of %s", p.String(), in.a.name, in.a.name)
	}
	s, err := sub(in.a, p.AttributeName, in.a.name+"."+p.AttributeName)
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
	if a.typ != typeComplex || !a.multi || v.AttributePath.SubAttribute != nil {
		return "", invalidFilter("%q is not a multi-valued complex attribute: it cannot have a value filter", v.AttributePath.String())
	}
	return t.within(a, func(sc *scope) (string, error) { return t.expr(v.ValueFilter, sc) })
}

// within builds the condition cond gives for one value of the complex
// attribute a: the value itself for a single-valued attribute, any of its
// values (EXISTS) for a multi-valued one.
func (t *translator) within(a *attr, cond func(*scope) (string, error)) (string, error) {
	doc := t.s.table + ".resource"
	switch {
	case a.relation != nil:
		c, err := cond(&scope{a: a, operand: func(s *attr) operand { return operand{a: s, col: s.column} }})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s WHERE %s AND %s)", a.relation.from, a.relation.link, c), nil
	case a.multi:
		c, err := cond(&scope{a: a, operand: func(s *attr) operand {
			return operand{a: s, elem: "e.value", key: s.name}
		}})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("EXISTS (SELECT 1 FROM json_each(%s, %s) AS e WHERE e.type = 'object' AND %s)",
			doc, quote(jsonPath(a.path, false)), c), nil
	default:
		return cond(&scope{a: a, operand: t.top})
	}
}

// top is the operand of an attribute that is not inside a multi-valued
// one: a column, or a JSON path from the document root.
func (t *translator) top(a *attr) operand {
	if a.column != "" {
		return operand{a: a, col: a.column}
	}
	return operand{a: a, doc: t.s.table + ".resource", path: quote(jsonPath(a.path, false))}
}

// present is "a pr" for a complex attribute a.
func (t *translator) present(a *attr) string {
	doc := t.s.table + ".resource"
	path := quote(jsonPath(a.path, false))
	switch {
	case a.relation != nil:
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s WHERE %s)", a.relation.from, a.relation.link)
	case a.name == "meta":
		return "1"
	default:
		// A complex value, or a list of them, is present if it holds a
		// non-empty value anywhere (RFC 7644 §3.4.2.2: "contains a
		// non-empty node"): emails [{"value": ""}] is not present.
		return fmt.Sprintf("EXISTS (SELECT 1 FROM json_tree(%s, %s) AS e WHERE e.type NOT IN ('null', 'object', 'array') AND (e.type <> 'text' OR e.atom <> ''))",
			doc, path)
	}
}

// operand is where a simple attribute's value is read: a column
// expression (never NULL), or a JSON document and path (SQL expressions).
type operand struct {
	a         *attr
	col       string
	doc, path string
	// elem and key, when set, are the JSON text of one value of a
	// multi-valued attribute (an object) and the sub-attribute's key in it.
	elem, key string
}

// jsonType is the JSON type of the value of o ('text', 'true', ...), NULL
// when it has none.
func (o operand) jsonType() string {
	if o.elem != "" {
		return fmt.Sprintf("json_type(%s, %s)", o.elem, quote(jsonPath([]string{o.key}, false)))
	}
	return fmt.Sprintf("json_type(%s, %s)", o.doc, o.path)
}

// jsonString is the condition that the JSON value of o is a non-empty
// string f.atom for which cond (if any) holds: absent, null, "" or a value
// of another type never matches, and the result is 0 or 1, never NULL.
//
// json_each on the path of a primitive yields one row, with a NULL key,
// that carries both the type and the value: one JSON lookup per row,
// where json_type and json_extract would take one each (and folded three
// more), which made a scan of 100,000 users half again as slow.
func (o operand) jsonString(cond string) string {
	if cond != "" {
		cond = " AND " + cond
	}
	if o.elem != "" {
		// In one value of a multi-valued attribute (a small object),
		// going through its keys costs half of looking one up by path.
		return fmt.Sprintf("EXISTS (SELECT 1 FROM json_each(%s) AS f WHERE f.key = %s AND f.type = 'text' AND f.atom <> ''%s)",
			o.elem, quote(o.key), cond)
	}
	return fmt.Sprintf("EXISTS (SELECT 1 FROM json_each(%s, %s) AS f WHERE f.key IS NULL AND f.type = 'text' AND f.atom <> ''%s)",
		o.doc, o.path, cond)
}

// compare translates o op value.
func (t *translator) compare(o operand, e *filter.AttributeExpression) (string, error) {
	switch o.a.typ {
	case typeString:
		return t.compareString(o, e)
	case typeBool:
		return t.compareBool(o, e)
	case typeTime:
		return t.compareTime(o, e)
	}
	return "", invalidFilter("attribute %q cannot be compared", e.AttributePath.String())
}

func (t *translator) compareString(o operand, e *filter.AttributeExpression) (string, error) {
	if e.Operator == filter.PR {
		if o.col != "" {
			return "(" + o.col + " <> '')", nil
		}
		return o.jsonString(""), nil
	}
	v, ok := e.CompareValue.(string)
	if !ok {
		return "", invalidFilter("%q is a string attribute: compare it with a string, not %s", e.AttributePath.String(), valueKind(e.CompareValue))
	}
	if !o.a.caseExact {
		v = strings.ToLower(v)
	}
	x := o.col
	if x == "" {
		x = "f.atom" // in jsonString
		if !o.a.caseExact {
			x = folded(x)
		}
	}
	var c string
	switch e.Operator {
	case filter.EQ, filter.NE:
		if o.col == "" && !o.a.caseExact && !strings.ContainsRune(v, 0) {
			// Folding keeps the number of characters, so a value of
			// another length cannot be equal: only the others are folded
			// (which, for non-ASCII text, calls back into Go). length()
			// stops at a NUL, hence the exception.
			c = "length(f.atom) = " + t.bind(utf8.RuneCountInString(v)) + " AND "
		}
		c += x + " = " + t.bind(v)
	// co, sw and ew avoid LIKE and GLOB: LIKE folds ASCII, which is wrong
	// for caseExact attributes, and a LIKE or GLOB whose pattern is a
	// parameter makes SQLite compile the statement again every time the
	// parameter changes (it might serve a prefix from an index), which
	// doubled the cost of an indexed userName sw. A prefix is a range
	// instead, which an index serves with no recompiling.
	case filter.CO:
		c = "instr(" + x + ", " + t.bind(v) + ") > 0"
	case filter.SW:
		c = "1"
		if v != "" {
			c = x + " >= " + t.bind(v)
			if end, ok := prefixEnd(v); ok {
				c += " AND " + x + " < " + t.bind(end)
			}
		}
	case filter.EW:
		c = "1"
		if v != "" {
			c = "substr(" + x + ", " + t.bind(-utf8.RuneCountInString(v)) + ") = " + t.bind(v)
		}
	case filter.GT:
		c = x + " > " + t.bind(v)
	case filter.GE:
		c = x + " >= " + t.bind(v)
	case filter.LT:
		c = x + " < " + t.bind(v)
	case filter.LE:
		c = x + " <= " + t.bind(v)
	default:
		return "", invalidFilter("unknown operator %q", e.Operator)
	}
	if o.col == "" {
		c = o.jsonString(c)
	} else if o.a.optional {
		// An empty column is an absent attribute, which matches nothing
		// (externalId lt "x" must not return users without one).
		c = o.col + " <> '' AND " + c
	}
	if e.Operator == filter.NE {
		return "NOT (" + c + ")", nil
	}
	return "(" + c + ")", nil
}

func (t *translator) compareBool(o operand, e *filter.AttributeExpression) (string, error) {
	if e.Operator == filter.PR {
		if o.col != "" {
			return "1", nil
		}
		return fmt.Sprintf("ifnull(%s IN ('true', 'false'), 0)", o.jsonType()), nil
	}
	v, ok := e.CompareValue.(bool)
	if !ok {
		return "", invalidFilter("%q is a boolean attribute: compare it with true or false, not %s", e.AttributePath.String(), valueKind(e.CompareValue))
	}
	var c string
	switch e.Operator {
	case filter.EQ, filter.NE:
		if o.col != "" {
			c = o.col + " = " + t.bind(v)
		} else {
			c = o.jsonType() + " IS " + t.bind(fmt.Sprint(v)) // 'true' or 'false'
		}
	default:
		return "", invalidFilter("operator %q is not defined for the boolean attribute %q", e.Operator, e.AttributePath.String())
	}
	if e.Operator == filter.NE {
		return "NOT (" + c + ")", nil
	}
	return "(" + c + ")", nil
}

// compareTime compares a time column (unix ms) with an RFC 3339 value.
// The value may be more precise than the stored millisecond, so the
// bounds are rounded the way that keeps each comparison exact.
func (t *translator) compareTime(o operand, e *filter.AttributeExpression) (string, error) {
	if e.Operator == filter.PR {
		return "1", nil
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
	switch e.Operator {
	case filter.EQ:
		if !exactMS {
			return "0", nil
		}
		return "(" + o.col + " = " + t.bind(lo) + ")", nil
	case filter.NE:
		if !exactMS {
			return "1", nil
		}
		return "(" + o.col + " <> " + t.bind(lo) + ")", nil
	case filter.GT:
		return "(" + o.col + " > " + t.bind(lo) + ")", nil
	case filter.GE:
		return "(" + o.col + " >= " + t.bind(hi) + ")", nil
	case filter.LT:
		return "(" + o.col + " < " + t.bind(hi) + ")", nil
	case filter.LE:
		return "(" + o.col + " <= " + t.bind(lo) + ")", nil
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

// folded is the SQL expression of the text x lower-cased the way
// strings.ToLower does it, which the case-insensitive comparisons need
// (the *_key columns hold strings.ToLower of their column). SQLite's lower()
// folds ASCII only, which is strings.ToLower exactly on ASCII text, and
// costs nothing; foldFunc calls back into Go, which allocates for every
// row, so it is kept for text with a non-ASCII character (more bytes than
// characters). NULL stays NULL.
func folded(x string) string {
	return "(CASE WHEN length(" + x + ") = octet_length(" + x + ") THEN lower(" + x + ") ELSE " + foldFunc + "(" + x + ") END)"
}

// prefixEnd is the least string above every string that starts with p
// in SQLite's BINARY order (memcmp): p with its last byte incremented,
// after dropping trailing 0xFF bytes (which UTF-8 never holds). ok is
// false when there is none (p is empty or all 0xFF).
func prefixEnd(p string) (end string, ok bool) {
	b := []byte(p)
	for len(b) > 0 && b[len(b)-1] == 0xFF {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "", false
	}
	b[len(b)-1]++
	return string(b), true
}

// jsonPath is the SQLite JSON path of keys: $."a"."b", or ."a"."b" when
// relative (appended to an array element's fullkey).
func jsonPath(keys []string, relative bool) string {
	var b strings.Builder
	if !relative {
		b.WriteString("$")
	}
	for _, k := range keys {
		b.WriteString(`."`)
		b.WriteString(k)
		b.WriteString(`"`)
	}
	return b.String()
}

// quote is the SQL string literal of s. It is only ever given paths built
// from the attribute tables, never input.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
