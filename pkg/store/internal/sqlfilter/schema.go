// Package sqlfilter translates a directory.Query (its SCIM filter, RFC
// 7644 §3.4.2.2, its sortBy, §3.4.2.3, and its page) into the SQL of the
// stores in pkg/store, once for every backend. What SQL cannot say the same
// way in every dialect (placeholders, reading JSON, folding case, comparing
// text and times) is asked of a Dialect; everything else, the attribute
// tables, the meaning of each operator, the errors, is here.
//
// Compare values are always bound as parameters; the only text spliced into
// the SQL comes from the attribute tables (column names and JSON keys) and
// the Dialect.
//
// Attributes kept as columns (id, externalId, userName, displayName,
// active, meta.created, meta.lastModified) compare against the indexed
// columns; userName and displayName compare their lower-cased *_key copies.
// User.groups and Group.members compare against the membership rows. Every
// other known attribute is read from the JSON resource, multi-valued ones
// through one row per value in an EXISTS, and compared case-insensitively
// unless the attribute is caseExact. An attribute that is not in the tables
// (or cannot be compared, like password) is an EBADFILTER error, never a
// silently wrong answer.
//
// The rules are scim.Match's, which evaluates a filter on one document in
// Go; storetest.FilterDifferential checks on thousands of generated users
// and filters that both select the same resources. In short (match.go has
// the reasons): ne is not (eq), also around a multi-valued attribute
// (emails.value ne "x" is "no email is x"); "" is an absent value; pr is
// "has a non-empty value", for complex attributes "has a non-empty
// sub-attribute"; string attributes compare only with strings; caseExact
// is the schema's (scim.UserSchema, scim.GroupSchema). Compare values are
// used as the expression holds them: scim.ParseFilter has decoded their
// JSON escapes already, and CheckFilterLimits bounds their number.
//
// Every condition the translator emits is true or false, never NULL, so
// that "not" keeps SCIM's two-valued meaning: not (title eq "x") matches a
// user without a title.
package sqlfilter

import (
	"strings"

	"github.com/kacescim/kacescim/pkg/scim"
)

// Type is the SCIM data type of an attribute, as far as filtering and
// sorting care.
type Type int

// The types of Attr.Type.
const (
	String Type = iota
	Bool
	Time
	Complex
)

// Attr describes one filterable attribute.
type Attr struct {
	Name      string
	Type      Type
	Multi     bool
	CaseExact bool
	// Column, when set, is the SQL expression holding the attribute: a
	// column of the resource table or, for a sub-attribute of a relation,
	// of the relation's FROM clause. For a case-insensitive string it
	// yields the lower-cased value. When empty, the attribute lives in the
	// JSON resource at Path.
	Column string
	// Optional marks a column where the empty string is an absent value.
	Optional bool
	// Path is the JSON keys from the document root or, for a sub-attribute
	// of a multi-valued attribute, from one of its values.
	Path []string
	Subs map[string]*Attr // sub-attributes of a complex attribute, by lower-case name
	// Relation, when set, keeps the values of this multi-valued complex
	// attribute as rows: EXISTS (SELECT 1 FROM <From> WHERE <Link> AND ...).
	Relation *Relation
	// Unsupported, when set, is why the attribute cannot be filtered.
	Unsupported string
}

// Relation is where the rows of a multi-valued attribute are kept.
type Relation struct{ From, Link string }

// Schema is what the translator knows about one resource type.
type Schema struct {
	Table string // the table FindUsers/FindGroups select from
	// Ref is how queries name Table: the table's name or an alias.
	Ref string
	// Search is the SQL of the JSON document case-insensitive attributes
	// are read from, Resource the one caseExact ones are (the same column
	// when the dialect folds case in SQL).
	Search, Resource string
	core             string           // the core schema URN, accepted as a prefix
	attrs            map[string]*Attr // core attributes by lower-case name
	exts             map[string]map[string]*Attr
}

// Naming is how a backend's SQL names what a schema refers to.
type Naming struct {
	// Ref is how queries name the resource table (its name, or an alias).
	Ref string
	// Search and Resource are Schema.Search and Schema.Resource.
	Search, Resource string
	// Folded is the SQL of the text column col (of a joined table: g.id,
	// u.id, gm.display) lower-cased as strings.ToLower does.
	Folded func(col string) string
}

func (n Naming) col(name string) string { return n.Ref + "." + name }

func str(name string) *Attr   { return &Attr{Name: name, Type: String} }
func exact(name string) *Attr { return &Attr{Name: name, Type: String, CaseExact: true} }
func boolean(name string) *Attr {
	return &Attr{Name: name, Type: Bool}
}
func col(a *Attr, column string) *Attr { a.Column = column; return a }

// optionalCol is col for a column that holds "" when the attribute is absent.
func optionalCol(a *Attr, column string) *Attr {
	a.Column, a.Optional = column, true
	return a
}
func unsupported(name, why string) *Attr {
	return &Attr{Name: name, Unsupported: why}
}
func complexAttr(name string, multi bool, subs ...*Attr) *Attr {
	a := &Attr{Name: name, Type: Complex, Multi: multi, Subs: map[string]*Attr{}}
	for _, s := range subs {
		a.Subs[strings.ToLower(s.Name)] = s
	}
	return a
}

// multiValue is the usual shape of a multi-valued attribute (emails,
// phoneNumbers, ims, roles, entitlements): value, display, type, primary.
func multiValue(name string, value *Attr) *Attr {
	return complexAttr(name, true, value, str("display"), str("type"), boolean("primary"))
}

// meta is meta as both resource types keep it: created and lastModified
// are columns, the rest is computed by the server.
func meta(n Naming) *Attr {
	return complexAttr("meta", false,
		col(&Attr{Name: "created", Type: Time}, n.col("created")),
		col(&Attr{Name: "lastModified", Type: Time}, n.col("last_modified")),
		unsupported("resourceType", "meta.resourceType cannot be filtered"),
		unsupported("location", "meta.location cannot be filtered"),
		unsupported("version", "meta.version cannot be filtered"),
	)
}

// newSchema indexes attrs by lower-case name and sets their JSON paths.
func newSchema(table, core string, n Naming, attrs []*Attr, exts map[string][]*Attr) *Schema {
	s := &Schema{Table: table, Ref: n.Ref, Search: n.Search, Resource: n.Resource, core: core,
		attrs: index(attrs, nil), exts: map[string]map[string]*Attr{}}
	for urn, as := range exts {
		s.exts[strings.ToLower(urn)] = index(as, []string{urn})
	}
	return s
}

func index(attrs []*Attr, prefix []string) map[string]*Attr {
	m := map[string]*Attr{}
	for _, a := range attrs {
		setPath(a, prefix)
		m[strings.ToLower(a.Name)] = a
	}
	return m
}

func setPath(a *Attr, prefix []string) {
	a.Path = append(append([]string(nil), prefix...), a.Name)
	for _, s := range a.Subs {
		if a.Multi {
			s.Path = []string{s.Name} // relative to one value of the array
		} else {
			setPath(s, a.Path)
		}
	}
}

// Users is the filterable part of RFC 7643 §4.1 and §4.3, kept in the
// users table.
func Users(n Naming) *Schema {
	return newSchema("users", scim.UserURN, n, []*Attr{
		col(exact("id"), n.col("id")),
		optionalCol(exact("externalId"), n.col("external_id")),
		col(str("userName"), n.col("user_name_key")),
		optionalCol(str("displayName"), n.col("display_name_key")),
		col(boolean("active"), n.col("active")),
		meta(n),
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
		&Attr{Name: "groups", Type: Complex, Multi: true,
			Relation: &Relation{
				From: "group_members gm JOIN groups g ON g.seq = gm.group_seq",
				Link: "gm.user_seq = " + n.col("seq"),
			},
			// groups.value is caseExact false (RFC 7643 §8.7.1,
			// scim.UserSchema), unlike the id it holds.
			Subs: map[string]*Attr{
				"value":   col(str("value"), n.Folded("g.id")),
				"display": col(str("display"), "g.display_name_key"),
				"type":    unsupported("type", "groups.type cannot be filtered"),
			}},
		multiValue("entitlements", str("value")),
		multiValue("roles", str("value")),
		multiValue("x509Certificates", unsupported("value", "x509Certificates.value (binary) cannot be filtered")),
	}, map[string][]*Attr{
		scim.EnterpriseUserURN: {
			str("employeeNumber"), str("costCenter"), str("organization"), str("division"), str("department"),
			complexAttr("manager", false, str("value"), str("displayName")),
		},
	})
}

// Groups is the filterable part of RFC 7643 §4.2, kept in the groups
// table. Every attribute a group filter can name is a column or a
// membership row.
func Groups(n Naming) *Schema {
	return newSchema("groups", scim.GroupURN, n, []*Attr{
		col(exact("id"), n.col("id")),
		optionalCol(exact("externalId"), n.col("external_id")),
		col(str("displayName"), n.col("display_name_key")),
		meta(n),
		&Attr{Name: "members", Type: Complex, Multi: true,
			Relation: &Relation{
				From: "group_members gm JOIN users u ON u.seq = gm.user_seq",
				Link: "gm.group_seq = " + n.col("seq"),
			},
			// members.value is caseExact false (RFC 7643 §8.7.1,
			// scim.GroupSchema), unlike the id it holds.
			Subs: map[string]*Attr{
				"value":   col(str("value"), n.Folded("u.id")),
				"display": optionalCol(str("display"), n.Folded("gm.display")),
				"type":    unsupported("type", "members.type cannot be filtered"),
			}},
	}, nil)
}

// With returns s extended with the custom extensions a provider's mappings
// declared: each attribute a case-insensitive string in the JSON resource
// under the extension's URN. s itself is not changed.
func (s *Schema) With(exts []*scim.Schema) *Schema {
	if len(exts) == 0 {
		return s
	}
	out := *s
	out.exts = make(map[string]map[string]*Attr, len(s.exts)+len(exts))
	for k, v := range s.exts {
		out.exts[k] = v
	}
	for _, e := range exts {
		if _, known := out.exts[strings.ToLower(e.ID)]; known {
			continue
		}
		attrs := make([]*Attr, 0, len(e.Attributes))
		for _, a := range e.Attributes {
			if a.Type == scim.TypeString && !a.MultiValued {
				attrs = append(attrs, str(a.Name))
			}
		}
		out.exts[strings.ToLower(e.ID)] = index(attrs, []string{e.ID})
	}
	return &out
}

// from is the FROM item of the resource table.
func (s *Schema) from() string {
	if s.Ref == s.Table {
		return s.Table
	}
	return s.Table + " " + s.Ref
}

// Quote is the SQL string literal of s. It is only ever given names and
// paths from the attribute tables, never input.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
