package storetest

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// This file generates the users, groups and filters of FilterDifferential
// and FilterFuzz: documents with varied, partly absent or empty
// attributes in mixed case and Unicode, and filters over every operator,
// attribute kind and combination RFC 7644 §3.4.2.2 allows, whose values
// are drawn mostly from the documents themselves so that filters hit as
// well as miss.

const enterpriseURN = scim.EnterpriseUserURN

// Vocabularies. Some entries differ only in case, some are empty, some
// hold the characters GLOB, LIKE and the filter grammar treat specially,
// some fold differently under Unicode and ASCII rules (K is the Kelvin
// sign, which lower-cases to k; İ lower-cases to i).
var (
	givenNames = []string{"Alice", "alice", "BOB", "Éloïse", "ÉLOÏSE", "Zoë", "Jürgen", "İlkay", "Σοφία", "\u212Aelvin",
		"ǅenan", "Ørjan", "Mary-Jane", "o'Neil", "李", "Ångström", "", "Ned"}
	familyNames = []string{"Archer", "ARCHER", "Builder", "Müller", "MÜLLER", "Straße", "O'Malley", "van der Berg",
		"Ødegård", "ΣΊΣΥΦΟΣ", "Nguyễn", "Smith", "smith", "50%_off", "a*b?[c]", `Quo"ted`, `Back\slash`, ""}
	domains       = []string{"example.com", "Example.COM", "exämple.org", "x.test", "corp.example.com"}
	titles        = []string{"Engineer", "engineer", "Senior Engineer", "VP, Sales", `Chief "Fun" Officer`, `R\D lead`, "Ärztin", "", "Line1\nLine2", "*star*", "ceo"}
	departments   = []string{"R&D", "r&d", "Sales", "Ventes", "Müşteri", "", "IT", "it"}
	emailTypes    = []string{"work", "home", "other", "Work", "HOME", ""}
	phoneTypes    = []string{"work", "mobile", "home", "Mobile"}
	localities    = []string{"Paris", "São Paulo", "MÜNCHEN", "münchen", "Zürich", "", "New York"}
	countries     = []string{"FR", "fr", "BR", "DE", "US"}
	locales       = []string{"en-US", "fr-FR", "de-de", "EN-us"}
	userTypes     = []string{"Employee", "Contractor", "employee", "Intern"}
	genGroupNames = []string{"Engineering", "engineering ops", "Sales Team", "Équipe Ventes", "ADMINS", "Müller Fans", "a*b?[c]", `Quo"ted`, "Δ-team"}
	missWords     = []string{"zzz-nothing", "Ωmega", "no such", "x", "@", ".com", "e", "É", "ß", "*", "?", "[", "%", "_", `"`, `\`, "a*b", "k", "i", " "}
)

// genTime is a time with millisecond precision, mostly in 2019–2024, some
// before 1970 (negative unix milliseconds).
func genTime(r *rand.Rand) time.Time {
	base := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	if r.IntN(20) == 0 {
		base = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)
		return base.Add(time.Duration(r.Int64N(int64(48*time.Hour/time.Millisecond))) * time.Millisecond)
	}
	return base.Add(time.Duration(r.Int64N(int64(5*365*24*time.Hour/time.Millisecond))) * time.Millisecond)
}

// newIDs returns a source of resource ids (UUIDs) drawn from seed, so that
// a seed names the same resources, and so the same filters, on every run:
// ids are compare values too ("id gt …", members.value).
func newIDs(seed uint64) func() string {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	copy(key[8:], "kacescim resource ids")
	src := rand.NewChaCha8(key)
	return func() string {
		id, err := uuid.NewRandomFromReader(src)
		if err != nil {
			panic(err) // ChaCha8 never fails to read
		}
		return id.String()
	}
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// mixCase changes the case of some letters of s.
func mixCase(r *rand.Rand, s string) string {
	switch r.IntN(4) {
	case 0:
		return s
	case 1:
		return strings.ToUpper(s)
	case 2:
		return strings.ToLower(s)
	}
	var b strings.Builder
	for _, c := range s {
		if r.IntN(2) == 0 {
			b.WriteString(strings.ToUpper(string(c)))
		} else {
			b.WriteString(strings.ToLower(string(c)))
		}
	}
	return b.String()
}

// genUserBody is the body an identity provider would POST for user i.
func genUserBody(r *rand.Rand, i int) map[string]any {
	given, family := pick(r, givenNames), pick(r, familyNames)
	body := map[string]any{
		"schemas":  []any{scim.UserURN},
		"userName": mixCase(r, fmt.Sprintf("%s.%s.%d@%s", given, family, i, pick(r, domains))),
	}
	maybe := func(p int, k string, v any) {
		if r.IntN(100) < p {
			body[k] = v
		}
	}
	switch r.IntN(5) {
	case 0: // absent
	case 1:
		body["displayName"] = ""
	default:
		body["displayName"] = strings.TrimSpace(given + " " + family)
	}
	switch r.IntN(5) {
	case 0:
	case 1:
		body["externalId"] = ""
	default:
		body["externalId"] = mixCase(r, fmt.Sprintf("ext-%d-%s", r.IntN(500), pick(r, []string{"a", "B", "é", "Z9"})))
	}
	maybe(80, "active", r.IntN(3) > 0)
	maybe(60, "title", pick(r, titles))
	maybe(30, "nickName", mixCase(r, given))
	maybe(40, "userType", pick(r, userTypes))
	maybe(30, "locale", pick(r, locales))
	maybe(20, "profileUrl", fmt.Sprintf("https://%s/u/%d", pick(r, domains), r.IntN(50)))
	if r.IntN(10) < 8 {
		name := map[string]any{}
		if r.IntN(10) < 8 {
			name["givenName"] = given
		}
		if r.IntN(10) < 8 {
			name["familyName"] = family
		}
		if r.IntN(10) < 3 {
			name["formatted"] = given + " " + family
		}
		if r.IntN(20) == 0 {
			name["middleName"] = ""
		}
		body["name"] = name
	}
	if n := r.IntN(4); n > 0 {
		var emails []any
		for range n {
			e := map[string]any{}
			if r.IntN(10) < 9 {
				e["value"] = mixCase(r, fmt.Sprintf("%s%d@%s", strings.ToLower(given), r.IntN(30), pick(r, domains)))
			} else if r.IntN(2) == 0 {
				e["value"] = ""
			}
			if t := pick(r, emailTypes); t != "" || r.IntN(2) == 0 {
				e["type"] = t
			}
			if r.IntN(3) == 0 {
				e["primary"] = r.IntN(2) == 0
			}
			if r.IntN(8) == 0 {
				e["display"] = mixCase(r, given)
			}
			emails = append(emails, e)
		}
		body["emails"] = onePrimary(emails)
	}
	if n := r.IntN(3); n > 0 {
		var phones []any
		for range n {
			phones = append(phones, map[string]any{"value": fmt.Sprintf("+1 555 %04d", r.IntN(200)), "type": pick(r, phoneTypes), "primary": r.IntN(2) == 0})
		}
		body["phoneNumbers"] = onePrimary(phones)
	}
	if n := r.IntN(3); n > 0 {
		var addrs []any
		for range n {
			a := map[string]any{"locality": pick(r, localities), "country": pick(r, countries), "type": pick(r, emailTypes[:3])}
			if r.IntN(3) == 0 {
				a["primary"] = true
			}
			if r.IntN(3) == 0 {
				a["postalCode"] = fmt.Sprintf("%05d", r.IntN(100000))
			}
			addrs = append(addrs, a)
		}
		body["addresses"] = onePrimary(addrs)
	}
	if r.IntN(15) == 0 {
		body["photos"] = []any{map[string]any{"value": fmt.Sprintf("https://Photos.Example.com/%d.JPG", r.IntN(20)), "type": "photo"}}
	}
	if r.IntN(30) == 0 {
		body["x509Certificates"] = []any{map[string]any{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}}
	}
	if r.IntN(10) < 6 {
		ent := map[string]any{}
		if r.IntN(10) < 8 {
			ent["department"] = pick(r, departments)
		}
		if r.IntN(2) == 0 {
			ent["employeeNumber"] = fmt.Sprintf("%d", 1000+r.IntN(300))
		}
		if r.IntN(4) == 0 {
			ent["costCenter"] = mixCase(r, fmt.Sprintf("cc-%d", r.IntN(10)))
		}
		if r.IntN(2) == 0 {
			m := map[string]any{"value": mixCase(r, fmt.Sprintf("mgr-%d", r.IntN(40)))}
			if r.IntN(5) == 0 {
				m["value"] = ""
			}
			ent["manager"] = m
		}
		body[enterpriseURN] = ent
		body["schemas"] = []any{scim.UserURN, enterpriseURN}
	}
	return body
}

// userFromBody builds the stored user from a body as the server does
// (server.createUser and userFromDoc): normalized, active defaulting to
// true, externalId moved to its column.
func userFromBody(rt *scim.ResourceType, providerID, id string, body map[string]any, created, modified time.Time) (*directory.User, error) {
	doc, err := scim.Normalize(rt, body, scim.Options{})
	if err != nil {
		return nil, err
	}
	if _, ok := doc["active"].(bool); !ok {
		doc["active"] = true
	}
	u := &directory.User{ProviderID: providerID, ID: id, Created: created, LastModified: modified}
	u.UserName, _ = doc["userName"].(string)
	u.ExternalID, _ = doc["externalId"].(string)
	u.DisplayName, _ = doc["displayName"].(string)
	u.Active = doc["active"].(bool)
	delete(doc, "externalId")
	u.Resource = doc
	return u, nil
}

const renderBase = "https://scim.test/scim/v2"

// renderMeta is meta as server.meta renders it.
func renderMeta(resourceType, id string, created, modified time.Time, version int64) map[string]any {
	const layout = "2006-01-02T15:04:05.000Z07:00" // server.timeFormat
	return map[string]any{
		"resourceType": resourceType,
		"created":      created.UTC().Format(layout),
		"lastModified": modified.UTC().Format(layout),
		"location":     renderBase + "/" + resourceType + "s/" + id,
		"version":      fmt.Sprintf(`W/"%d"`, version),
	}
}

// renderUserDoc is the document server.renderUser returns for u.
func renderUserDoc(u *directory.User, groups []directory.GroupRef) map[string]any {
	out := scim.CopyMap(u.Resource)
	out["id"] = u.ID
	if u.ExternalID != "" {
		out["externalId"] = u.ExternalID
	}
	if len(groups) > 0 {
		gs := make([]any, len(groups))
		for i, g := range groups {
			gs[i] = map[string]any{"value": g.ID, "display": g.DisplayName, "$ref": renderBase + "/Groups/" + g.ID, "type": "direct"}
		}
		out["groups"] = gs
	}
	out["meta"] = renderMeta("User", u.ID, u.Created, u.LastModified, 1)
	return out
}

// renderGroupDoc is the document server.renderGroup returns for g with
// its members.
func renderGroupDoc(g *directory.Group) map[string]any {
	out := scim.CopyMap(g.Resource)
	out["id"] = g.ID
	if g.ExternalID != "" {
		out["externalId"] = g.ExternalID
	}
	members := make([]any, len(g.Members))
	for i, m := range g.Members {
		mm := map[string]any{"value": m.Value, "$ref": renderBase + "/Users/" + m.Value, "type": "User"}
		if m.Display != "" {
			mm["display"] = m.Display
		}
		members[i] = mm
	}
	out["members"] = members
	out["meta"] = renderMeta("Group", g.ID, g.Created, g.LastModified, 1)
	return out
}

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

// idSet is a set of resource ids, printed sorted.
type idSet map[string]bool

func (s idSet) String() string {
	ids := make([]string, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// onePrimary keeps the first value marked primary and unmarks the others:
// RFC 7643 §2.4 allows one, and the server refuses a body with more.
func onePrimary(list []any) []any {
	seen := false
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok || m["primary"] != true {
			continue
		}
		if seen {
			m["primary"] = false
		}
		seen = true
	}
	return list
}
