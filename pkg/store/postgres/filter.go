package postgres

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scim2/filter-parser/v2"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// This file translates a parsed SCIM filter (RFC 7644 §3.4.2.2) into a
// parameterised SQL condition over the users or groups table (aliased r),
// with the SQLite store's rules (pkg/store/sqlite/filter.go, which explains
// them) and scim.Match's semantics. Compare values are always bound as
// parameters; the only text spliced into the SQL comes from the attribute
// tables below (column names and JSON keys).
//
// Attributes kept as columns (id, externalId, userName, displayName,
// active, meta.created, meta.lastModified) compare against the indexed
// columns; userName and displayName compare their lower-cased *_key copies,
// which are COLLATE "C" so that a btree index serves eq, sw (as a range)
// and the orderings in byte order, as SQLite's BINARY does. User.groups and
// Group.members compare against the membership rows. Every other known
// attribute is read from the jsonb search column, the resource with every
// string lower-cased in Go at write time, with -> and ->>, multi-valued
// ones through jsonb_array_elements in an EXISTS: PostgreSQL's lower()
// would fold by the server's locale (or not at all beyond ASCII), not as
// strings.ToLower does. An attribute that is not in the tables (or cannot
// be compared, like password) is an invalidFilter error, never a silently
// wrong answer.
//
// Every condition the translator emits is TRUE or FALSE, never NULL, so
// that NOT keeps SCIM's two-valued meaning: not (title eq "x") matches a
// user without a title.
//
// PostgreSQL text cannot hold a NUL character nor invalid UTF-8, so no
// stored value holds one: a compare value that does is answered without
// binding it (eq, co, sw and ew match nothing; the orderings compare with
// the part before the NUL, which orders the same against NUL-free text).

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
	// column of the resource table (aliased r) or, for a sub-attribute of
	// a relation, of the relation's FROM clause. For a case-insensitive
	// string it yields the lower-cased value. When empty, the attribute
	// lives in the JSON resource at path.
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
	table string // the table FindUsers/FindGroups select from (aliased r)
	// search is the jsonb column holding the resource with its strings
	// lower-cased, resource the one holding it as written (for caseExact
	// attributes kept in the document).
	search, resource string
	core             string           // the core schema URN, accepted as a prefix
	attrs            map[string]*attr // core attributes by lower-case name
	exts             map[string]map[string]*attr
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
		col(&attr{name: "created", typ: typeTime}, "r.created"),
		col(&attr{name: "lastModified", typ: typeTime}, "r.last_modified"),
		unsupported("resourceType", "meta.resourceType cannot be filtered"),
		unsupported("location", "meta.location cannot be filtered"),
		unsupported("version", "meta.version cannot be filtered"),
	)
}

// newSchema indexes attrs by lower-case name and sets their JSON paths.
func newSchema(table, search, resource, core string, attrs []*attr, exts map[string][]*attr) *resourceSchema {
	s := &resourceSchema{table: table, search: search, resource: resource, core: core, attrs: index(attrs, nil),
		exts: map[string]map[string]*attr{}}
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
	return newSchema("users", "r.search", "r.resource", scim.UserURN, []*attr{
		col(exact("id"), "r.id"),
		optionalCol(exact("externalId"), "r.external_id"),
		col(str("userName"), "r.user_name_key"),
		optionalCol(str("displayName"), "r.display_name_key"),
		col(boolean("active"), "r.active"),
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
				link: "gm.user_seq = r.seq",
			},
			// groups.value is caseExact false (RFC 7643 §8.7.1,
			// scim.UserSchema), unlike the id it holds: g.id_key is the
			// id lower-cased.
			subs: map[string]*attr{
				"value":   col(str("value"), "g.id_key"),
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

// groupSchema is the filterable part of RFC 7643 §4.2. Every attribute a
// group filter can name is a column or a membership row, so groups keep
// no search document.
func groupSchema() *resourceSchema {
	return newSchema("groups", "r.resource", "r.resource", scim.GroupURN, []*attr{
		col(exact("id"), "r.id"),
		optionalCol(exact("externalId"), "r.external_id"),
		col(str("displayName"), "r.display_name_key"),
		meta(),
		&attr{name: "members", typ: typeComplex, multi: true,
			relation: &relation{
				from: "group_members gm JOIN users u ON u.seq = gm.user_seq",
				link: "gm.group_seq = r.seq",
			},
			// members.value is caseExact false (RFC 7643 §8.7.1,
			// scim.GroupSchema), unlike the id it holds.
			subs: map[string]*attr{
				"value":   col(str("value"), "u.id_key"),
				"display": optionalCol(str("display"), "gm.display_key"),
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

// selection is the SQL of one FindUsers or FindGroups query: the
// condition, the order, and the arguments of both, the condition's first.
type selection struct {
	table  string
	where  string
	nWhere int // how many of args the condition binds
	order  string
	args   []any
	limit  int
	offset int
}

// selection translates q for the provider's resources: its filter (all
// of them for a nil one), its order and its page.
func (s *resourceSchema) selection(providerID string, q directory.Query) (*selection, error) {
	t := &translator{s: s, args: []any{providerID}}
	where := "r.provider_id = $1"
	if q.Filter != nil {
		if err := scim.CheckFilterLimits(q.Filter); err != nil {
			return nil, err
		}
		cond, err := t.expr(q.Filter, nil)
		if err != nil {
			return nil, err
		}
		where += " AND " + cond
	}
	sel := &selection{table: s.table, where: where, nWhere: len(t.args)}
	order, err := s.orderBy(t, q)
	if err != nil {
		return nil, err
	}
	sel.order, sel.args = order, t.args
	sel.limit, sel.offset = max(q.Count, 0), max(q.StartIndex, 1)-1
	return sel, nil
}

// count counts the rows the condition selects.
func (s *selection) count() string {
	return "SELECT count(*) FROM " + s.table + " r WHERE " + s.where
}

func (s *selection) whereArgs() []any { return s.args[:s.nWhere] }

// page reads one page of columns of the rows the condition selects, in
// order.
func (s *selection) page(columns string) string {
	n := len(s.args)
	return "SELECT " + columns + " FROM " + s.table + " r WHERE " + s.where + " ORDER BY " + s.order +
		" LIMIT $" + strconv.Itoa(n+1) + " OFFSET $" + strconv.Itoa(n+2)
}

// pageWithTotal is page with total, an SQL expression of the number of
// rows the condition selects, as the first column of every row: the page
// and its total in one statement, so one snapshot and one round trip.
func (s *selection) pageWithTotal(total, columns string) string {
	return s.page(total + ", " + columns)
}

// countExpr is count as a scalar subquery.
func (s *selection) countExpr() string { return "(" + s.count() + ")" }

func (s *selection) pageArgs() []any {
	return append(append([]any(nil), s.args...), s.limit, s.offset)
}

// translator accumulates the arguments of the SQL it builds, numbering
// their placeholders in order.
type translator struct {
	s    *resourceSchema
	args []any
}

func (t *translator) bind(v any) string {
	t.args = append(t.args, v)
	return "$" + strconv.Itoa(len(t.args))
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
	// §3.4.2.2 "emails[type eq ...]"), as in PATCH paths.
	if a.typ != typeComplex || !a.multi || v.AttributePath.SubAttribute != nil {
		return "", invalidFilter("%q is not a multi-valued complex attribute: it cannot have a value filter", v.AttributePath.String())
	}
	return t.within(a, func(sc *scope) (string, error) { return t.expr(v.ValueFilter, sc) })
}

// elements is the FROM item of the values of the multi-valued attribute
// whose jsonb value is x (NULL or not an array: none), one jsonb value v
// per row, numbered n from 1.
func elements(x string) string {
	return "jsonb_array_elements(CASE jsonb_typeof(" + x + ") WHEN 'array' THEN " + x + " ELSE '[]'::jsonb END) WITH ORDINALITY AS e(v, n)"
}

// within builds the condition cond gives for one value of the complex
// attribute a: the value itself for a single-valued attribute, any of its
// values (EXISTS) for a multi-valued one.
func (t *translator) within(a *attr, cond func(*scope) (string, error)) (string, error) {
	switch {
	case a.relation != nil:
		c, err := cond(&scope{a: a, operand: func(s *attr) operand { return operand{a: s, col: s.column} }})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s WHERE %s AND %s)", a.relation.from, a.relation.link, c), nil
	case a.multi:
		c, err := cond(&scope{a: a, operand: func(s *attr) operand {
			return operand{a: s, json: "e.v->" + quote(s.name), text: "e.v->>" + quote(s.name)}
		}})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s WHERE jsonb_typeof(e.v) = 'object' AND %s)",
			elements(jsonPath(t.s.search, a.path, false)), c), nil
	default:
		return cond(&scope{a: a, operand: t.top})
	}
}

// top is the operand of an attribute that is not inside a multi-valued
// one: a column, or a path in the search (or, for a caseExact attribute,
// the resource) document.
func (t *translator) top(a *attr) operand {
	if a.column != "" {
		return operand{a: a, col: a.column}
	}
	doc := t.s.search
	if a.caseExact {
		doc = t.s.resource
	}
	return operand{a: a, json: jsonPath(doc, a.path, false), text: jsonPath(doc, a.path, true)}
}

// presentPath is the SQL/JSON path that finds a non-empty node: RFC 7644
// §3.4.2.2's "contains a non-empty node", as scim.Match's present: a
// number, a boolean or a non-empty string, at any depth.
const presentPath = `'strict $.** ? (@.type() == "number" || @.type() == "boolean" || (@.type() == "string" && @ != ""))'`

// present is "a pr" for a complex attribute a.
func (t *translator) present(a *attr) string {
	switch {
	case a.relation != nil:
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s WHERE %s)", a.relation.from, a.relation.link)
	case a.name == "meta":
		return "TRUE"
	default:
		// emails [{"value": ""}] is not present.
		return "COALESCE(jsonb_path_exists(" + jsonPath(t.s.search, a.path, false) + ", " + presentPath + "), FALSE)"
	}
}

// operand is where a simple attribute's value is read: a column
// expression (never NULL), or a jsonb expression and the ->> expression of
// its text (both NULL when the value is absent).
type operand struct {
	a          *attr
	col        string
	json, text string
}

// jsonString is the condition that the JSON value of o is a non-empty
// string for whose text cond (if any) holds: absent, null, "" or a value
// of another type never matches, and the result is never NULL.
func (o operand) jsonString(cond string) string {
	if cond != "" {
		cond = " AND " + cond
	}
	return "COALESCE(jsonb_typeof(" + o.json + ") = 'string' AND " + o.text + " <> ''" + cond + ", FALSE)"
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
	// Text PostgreSQL can store holds no NUL and is valid UTF-8.
	storable, nul := true, false
	if i := strings.IndexByte(v, 0); i >= 0 {
		v, storable, nul = v[:i], false, true
	}
	if !utf8.ValidString(v) {
		v, storable = strings.ToValidUTF8(v, "\uFFFD"), false
	}
	x, ordered := o.col, o.col // the text, and the text to order in byte order
	if x == "" {
		x, ordered = o.text, "("+o.text+` COLLATE "C")`
	}
	var c string
	switch e.Operator {
	case filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW:
		if !storable {
			c = "FALSE" // no stored text can equal, contain, start or end with it
			break
		}
		switch e.Operator {
		case filter.EQ, filter.NE:
			c = x + " = " + t.bind(v)
		case filter.CO:
			c = "strpos(" + x + ", " + t.bind(v) + ") > 0"
		case filter.SW:
			switch {
			case v == "":
				c = "TRUE"
			case o.col != "":
				// A range, which the column's "C" btree index serves.
				c = x + " >= " + t.bind(v)
				if end, ok := prefixEnd(v); ok {
					c += " AND " + x + " < " + t.bind(end)
				}
			default:
				c = "starts_with(" + x + ", " + t.bind(v) + ")"
			}
		case filter.EW:
			c = "TRUE"
			if v != "" {
				c = "right(" + x + ", " + t.bind(utf8.RuneCountInString(v)) + ") = " + t.bind(v)
			}
		}
	case filter.GT:
		c = ordered + " > " + t.bind(v)
	case filter.GE:
		if !nul {
			c = ordered + " >= " + t.bind(v)
		} else { // x ≥ "a\x00…" is x > "a" for text without NUL
			c = ordered + " > " + t.bind(v)
		}
	case filter.LT:
		if !nul {
			c = ordered + " < " + t.bind(v)
		} else { // x < "a\x00…" is x ≤ "a"
			c = ordered + " <= " + t.bind(v)
		}
	case filter.LE:
		c = ordered + " <= " + t.bind(v)
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
			return "TRUE", nil
		}
		return "COALESCE(jsonb_typeof(" + o.json + ") = 'boolean', FALSE)", nil
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
			c = "COALESCE(" + o.json + " = '" + strconv.FormatBool(v) + "'::jsonb, FALSE)"
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
func (t *translator) compareTime(o operand, e *filter.AttributeExpression) (string, error) {
	if e.Operator == filter.PR {
		return "TRUE", nil
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
	ts := func(msec int64) string { return t.bind(time.UnixMilli(msec).UTC()) }
	switch e.Operator {
	case filter.EQ:
		if !exactMS {
			return "FALSE", nil
		}
		return "(" + o.col + " = " + ts(lo) + ")", nil
	case filter.NE:
		if !exactMS {
			return "TRUE", nil
		}
		return "(" + o.col + " <> " + ts(lo) + ")", nil
	case filter.GT:
		return "(" + o.col + " > " + ts(lo) + ")", nil
	case filter.GE:
		return "(" + o.col + " >= " + ts(hi) + ")", nil
	case filter.LT:
		return "(" + o.col + " < " + ts(hi) + ")", nil
	case filter.LE:
		return "(" + o.col + " <= " + ts(lo) + ")", nil
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

// prefixEnd is the least valid UTF-8 string above every string that
// starts with p in byte order: p with its last character replaced by the
// next one (after dropping trailing U+10FFFF, which has none; surrogates
// are skipped). UTF-8 orders as code points do and no character's
// encoding is a prefix of another's, so [p, end) holds exactly the
// strings that start with p. ok is false when there is none. (SQLite's
// store increments the last byte, which PostgreSQL would refuse as
// invalid UTF-8.)
func prefixEnd(p string) (end string, ok bool) {
	rs := []rune(p)
	for len(rs) > 0 && rs[len(rs)-1] >= utf8.MaxRune {
		rs = rs[:len(rs)-1]
	}
	if len(rs) == 0 {
		return "", false
	}
	next := rs[len(rs)-1] + 1
	if next >= 0xD800 && next <= 0xDFFF {
		next = 0xE000
	}
	rs[len(rs)-1] = next
	return string(rs), true
}

// jsonPath is the jsonb expression of keys in doc (doc->'a'->'b'), or of
// the text of the last one (doc->'a'->>'b') when text.
func jsonPath(doc string, keys []string, text bool) string {
	var b strings.Builder
	b.WriteString(doc)
	for i, k := range keys {
		if text && i == len(keys)-1 {
			b.WriteString("->>")
		} else {
			b.WriteString("->")
		}
		b.WriteString(quote(k))
	}
	return b.String()
}

// quote is the SQL string literal of s. It is only ever given names from
// the attribute tables, never input.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
