package storetest

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// This file generates the users and groups of FilterDifferential and
// FilterFuzz, documents with varied, partly absent or empty attributes in
// mixed case and Unicode, and renders them as the server does.

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
