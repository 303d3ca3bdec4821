package storetest

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// This file generates the filters of FilterDifferential and FilterFuzz:
// filters over every operator, attribute kind and combination RFC 7644
// §3.4.2.2 allows, whose values are drawn mostly from the documents
// themselves (a corpus) so that filters hit as well as miss.

// corpus is what the filters draw their values from: every string value
// the documents hold, by attribute (lower-case path, "emails.value"), and
// every time.
type corpus struct {
	values map[string][]string
	times  []time.Time
	keys   []string // of values, sorted: filters must not depend on map order
}

func newCorpus() *corpus { return &corpus{values: map[string][]string{}} }

// collect records the string values of doc under their paths.
func (c *corpus) collect(doc map[string]any) {
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case string:
			c.values[prefix] = append(c.values[prefix], t)
		case []any:
			for _, e := range t {
				walk(prefix, e)
			}
		case map[string]any:
			for k, e := range t {
				p := strings.ToLower(k)
				if prefix != "" {
					p = prefix + "." + p
				}
				walk(p, e)
			}
		}
	}
	walk("", doc)
}

// attrKind is what a generated comparison may do with an attribute.
type attrKind int

const (
	kString  attrKind = iota
	kBool             // eq, ne, pr (gt... are invalid)
	kTime             // eq ne gt ge lt le pr
	kComplex          // pr only (anything else is invalid)
)

// genAttr is an attribute the generator may name.
type genAttr struct {
	urn  string // "" for the core schema
	path string // as the schema spells it: "name.givenName"
	kind attrKind
	src  string // corpus key of its values (string attributes)
}

// valuePathSpec is a multi-valued complex attribute and the
// sub-attributes a value filter may name.
type valuePathSpec struct {
	name string
	subs []genAttr // path is the sub-attribute's name, src the corpus key
}

func userAttrs() []genAttr {
	s := func(path string) genAttr { return genAttr{path: path, kind: kString, src: strings.ToLower(path)} }
	e := func(path string) genAttr {
		return genAttr{urn: enterpriseURN, path: path, kind: kString, src: strings.ToLower(enterpriseURN + "." + path)}
	}
	return []genAttr{
		s("userName"), s("userName"), s("displayName"), s("externalId"), s("id"), s("title"), s("nickName"),
		s("userType"), s("locale"), s("profileUrl"), s("name.givenName"), s("name.familyName"), s("name.formatted"),
		s("name.middleName"), s("emails.value"), s("emails.type"), s("emails.display"),
		{path: "emails", kind: kString, src: "emails.value"},
		s("phoneNumbers.value"), s("phoneNumbers.type"), s("addresses.locality"), s("addresses.country"),
		s("addresses.type"), s("addresses.postalCode"), s("photos.value"), s("groups.value"), s("groups.display"),
		{path: "groups", kind: kString, src: "groups.value"},
		e("department"), e("employeeNumber"), e("costCenter"), e("manager.value"),
		{path: "active", kind: kBool}, {path: "emails.primary", kind: kBool}, {path: "phoneNumbers.primary", kind: kBool},
		{path: "addresses.primary", kind: kBool},
		{path: "meta.created", kind: kTime}, {path: "meta.lastModified", kind: kTime},
		{path: "name", kind: kComplex}, {path: "emails", kind: kComplex}, {path: "addresses", kind: kComplex},
		{path: "groups", kind: kComplex}, {path: "phoneNumbers", kind: kComplex}, {path: "meta", kind: kComplex},
		{path: "x509Certificates", kind: kComplex}, {path: "photos", kind: kComplex},
		{urn: enterpriseURN, path: "manager", kind: kComplex},
	}
}

func userValuePaths() []valuePathSpec {
	s := func(attr, sub string) genAttr {
		return genAttr{path: sub, kind: kString, src: strings.ToLower(attr + "." + sub)}
	}
	b := func(sub string) genAttr { return genAttr{path: sub, kind: kBool} }
	return []valuePathSpec{
		{"emails", []genAttr{s("emails", "value"), s("emails", "type"), s("emails", "display"), b("primary")}},
		{"phoneNumbers", []genAttr{s("phoneNumbers", "value"), s("phoneNumbers", "type"), b("primary")}},
		{"addresses", []genAttr{s("addresses", "locality"), s("addresses", "country"), s("addresses", "type"), s("addresses", "postalCode"), b("primary")}},
		{"groups", []genAttr{s("groups", "value"), s("groups", "display")}},
	}
}

// userInvalid are filters both sides must refuse with invalidFilter.
var userInvalid = []string{
	`nosuch eq "x"`, `password eq "x"`, `name eq "x"`, `name.nosuch eq "x"`, `userName.sub eq "x"`,
	`userName eq 5`, `userName eq true`, `userName eq null`, `title gt 1.5`, `active gt true`, `active eq "true"`,
	`active co "t"`, `active eq null`, `meta.created co "2024"`, `meta.created sw "2024"`, `meta.created gt "yesterday"`,
	`meta.lastModified eq "2024-01-01"`, `meta.created eq 5`, `meta.version eq "W/\"1\""`, `meta.location pr`,
	`meta.resourceType eq "User"`, `groups.type eq "direct"`, `groups[type eq "direct"]`, `x509Certificates.value eq "x"`,
	`x509Certificates eq "x"`, `x509Certificates[value pr]`, `emails[nosuch eq "x"]`, `userName[value eq "x"]`,
	`name[givenName eq "x"]`, `emails.value[type eq "work"]`, `emails[value.x eq "y"]`, `members eq "x"`,
	`department eq "x"`, `urn:ietf:params:scim:schemas:core:2.0:User:department eq "x"`,
	enterpriseURN + `:userName eq "x"`, enterpriseURN + `:nosuch pr`, `urn:example:Foo:2.0:User:bar eq "x"`,
	`urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"`, `addresses eq "x"`, `addresses co "x"`,
	`meta eq "x"`, enterpriseURN + `:manager eq "x"`, `emails[primary gt true]`, `emails[type eq 5]`,
	`userName eq "a" and nosuch pr`, `not (nosuch pr)`, `userName pr or active gt false`,
}

func groupAttrs() []genAttr {
	s := func(path string) genAttr { return genAttr{path: path, kind: kString, src: strings.ToLower(path)} }
	return []genAttr{
		s("displayName"), s("displayName"), s("externalId"), s("id"), s("members.value"), s("members.value"), s("members.display"),
		{path: "members", kind: kString, src: "members.value"},
		{path: "meta.created", kind: kTime}, {path: "meta.lastModified", kind: kTime},
		{path: "members", kind: kComplex}, {path: "meta", kind: kComplex},
	}
}

func groupValuePaths() []valuePathSpec {
	return []valuePathSpec{{"members", []genAttr{
		{path: "value", kind: kString, src: "members.value"}, {path: "display", kind: kString, src: "members.display"},
	}}}
}

var groupInvalid = []string{
	`userName eq "x"`, `members.type eq "User"`, `members[type eq "User"]`, `members.nosuch eq "x"`, `displayName eq 1`,
	`urn:ietf:params:scim:schemas:core:2.0:User:displayName eq "x"`, `meta.version pr`, `members.display gt 2`,
	`displayName[value eq "x"]`, `emails pr`, `members.$ref eq "x"`,
}

// filterGen writes random filters for one resource type.
type filterGen struct {
	r       *rand.Rand
	c       *corpus
	core    string // the core schema URN
	attrs   []genAttr
	vpaths  []valuePathSpec
	invalid []string
}

// filter is one random filter: mostly valid, one in twenty invalid.
func (g *filterGen) filter() string {
	if g.r.IntN(20) == 0 {
		f := pick(g.r, g.invalid)
		if g.r.IntN(3) == 0 { // hide it in a larger expression
			f = g.expr(1) + " " + g.logical() + " (" + f + ")"
		}
		return f
	}
	return g.expr(0)
}

func (g *filterGen) logical() string {
	return pick(g.r, []string{"and", "or", "AND", "Or"})
}

// expr is a random filter nested at most a few levels below depth.
func (g *filterGen) expr(depth int) string {
	n := g.r.IntN(100)
	switch {
	case depth >= 4 || n < 45:
		return g.comparison()
	case n < 62:
		return g.valuePath()
	case n < 72:
		return pick(g.r, []string{"not", "NOT", "Not"}) + " (" + g.expr(depth+1) + ")"
	default:
		l, r := g.expr(depth+1), g.expr(depth+1)
		if g.r.IntN(2) == 0 {
			l = "(" + l + ")"
		}
		if g.r.IntN(2) == 0 {
			r = "(" + r + ")"
		}
		return l + " " + g.logical() + " " + r
	}
}

// comparison is attrPath op value on a random attribute.
func (g *filterGen) comparison() string {
	a := pick(g.r, g.attrs)
	return g.attrPath(a) + " " + g.opAndValue(a)
}

// attrPath spells a's path with random case, the core URN on some core
// attributes and the extension's URN always.
func (g *filterGen) attrPath(a genAttr) string {
	p := a.path
	if g.r.IntN(3) == 0 {
		p = mixCase(g.r, p)
	}
	switch {
	case a.urn != "":
		urn := a.urn
		if g.r.IntN(5) == 0 {
			urn = mixCase(g.r, urn)
		}
		return urn + ":" + p
	case g.r.IntN(8) == 0:
		return g.core + ":" + p
	}
	return p
}

// opAndValue is the operator and compare value of a comparison of a.
func (g *filterGen) opAndValue(a genAttr) string {
	op := func(ops ...string) string {
		o := pick(g.r, ops)
		if g.r.IntN(4) == 0 {
			o = mixCase(g.r, o)
		}
		return o
	}
	switch a.kind {
	case kBool:
		o := op("eq", "eq", "ne", "pr")
		if g.r.IntN(25) == 0 {
			o = op("gt", "le", "co") // invalid on a boolean
		}
		if o == "pr" || o == "PR" || o == "Pr" || o == "pR" {
			return o
		}
		return o + " " + pick(g.r, []string{"true", "false"})
	case kTime:
		o := op("eq", "ne", "gt", "ge", "lt", "le", "gt", "lt", "pr")
		if strings.EqualFold(o, "pr") {
			return o
		}
		if g.r.IntN(30) == 0 {
			o = op("co", "sw", "ew")
		}
		return o + " " + quoteTime(g.timeValue())
	case kComplex:
		if g.r.IntN(10) == 0 {
			return op("eq", "co") + " " + g.quoted(g.stringValue(a.src, "co"))
		}
		return op("pr")
	}
	o := op("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "eq", "co", "sw")
	if strings.EqualFold(o, "pr") {
		return o
	}
	return o + " " + g.quoted(g.stringValue(a.src, strings.ToLower(o)))
}

// stringValue is a compare value for the values of src: mostly one of
// them, whole or in part (as op calls for) and in another case, else a
// value of another attribute, a miss or the empty string.
func (g *filterGen) stringValue(src, op string) string {
	vals := g.c.values[src]
	n := g.r.IntN(100)
	switch {
	case n < 60 && len(vals) > 0:
		v := pick(g.r, vals)
		if g.r.IntN(2) == 0 {
			v = mixCase(g.r, v)
		}
		runes := []rune(v)
		if len(runes) < 2 {
			return v
		}
		switch op {
		case "sw":
			return string(runes[:1+g.r.IntN(len(runes))])
		case "ew":
			return string(runes[g.r.IntN(len(runes)):])
		case "co":
			i := g.r.IntN(len(runes))
			return string(runes[i : i+1+g.r.IntN(len(runes)-i)])
		}
		return v
	case n < 75:
		if g.c.keys == nil {
			g.c.keys = slices.Sorted(maps.Keys(g.c.values))
		}
		for _, k := range g.c.keys {
			if vs := g.c.values[k]; len(vs) > 0 && g.r.IntN(4) == 0 {
				return pick(g.r, vs)
			}
		}
		return pick(g.r, missWords)
	case n < 95:
		return pick(g.r, missWords)
	}
	return ""
}

// timeValue is an RFC 3339 value near one of the corpus times, in some
// precision and zone.
func (g *filterGen) timeValue() string {
	if g.r.IntN(40) == 0 {
		return pick(g.r, []string{"yesterday", "2024-01-01", "2024-13-01T00:00:00Z", ""})
	}
	t := pick(g.r, g.c.times)
	t = t.Add(pick(g.r, []time.Duration{0, 0, 0, time.Millisecond, -time.Millisecond, time.Microsecond, -time.Microsecond,
		time.Nanosecond, -time.Nanosecond, time.Second, -time.Hour, 400 * time.Microsecond}))
	if g.r.IntN(3) == 0 {
		t = t.In(time.FixedZone("", pick(g.r, []int{2 * 3600, -5*3600 - 1800, 14 * 3600})))
	}
	return t.Format(pick(g.r, []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05.000000000Z07:00"}))
}

// valuePath is attr[valFilter] on a multi-valued attribute, the filter
// being what the grammar allows inside: one comparison, two joined by
// and/or, or not (...) of those.
func (g *filterGen) valuePath() string {
	vp := pick(g.r, g.vpaths)
	cmp := func() string {
		sub := pick(g.r, vp.subs)
		name := sub.path
		if g.r.IntN(3) == 0 {
			name = mixCase(g.r, name)
		}
		return name + " " + g.opAndValue(sub)
	}
	var inner string
	switch g.r.IntN(6) {
	case 0, 1:
		inner = cmp()
	case 2, 3, 4:
		inner = cmp() + " " + g.logical() + " " + cmp()
	default:
		if g.r.IntN(2) == 0 {
			inner = "not (" + cmp() + ")"
		} else {
			inner = "not (" + cmp() + " " + g.logical() + " " + cmp() + ")"
		}
	}
	name := vp.name
	if g.r.IntN(3) == 0 {
		name = mixCase(g.r, name)
	}
	if g.r.IntN(8) == 0 {
		name = g.core + ":" + name
	}
	return name + "[" + inner + "]"
}

// quoted is s as a filter string: JSON escapes for what needs one, and
// now and then for a character that does not (\/ and \uXXXX, in upper or
// lower case).
func (g *filterGen) quoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04X`, c)
		case c == '/' && g.r.IntN(4) == 0:
			b.WriteString(`\/`)
		case c >= 0x80 && g.r.IntN(4) == 0 || c == 'e' && g.r.IntN(10) == 0:
			format := `\u%04X` // JSON allows lower-case hex digits too
			if g.r.IntN(3) == 0 {
				format = `\u%04x`
			}
			if c > 0xFFFF {
				c -= 0x10000
				fmt.Fprintf(&b, format+format, 0xD800+(c>>10), 0xDC00+(c&0x3FF))
			} else {
				fmt.Fprintf(&b, format, c)
			}
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quoteTime is quoted without the random escapes, for time values.
func quoteTime(s string) string {
	if !utf8.ValidString(s) || strings.ContainsAny(s, `"\`) {
		panic("quoteTime: " + s)
	}
	return `"` + s + `"`
}
