package scim

import "strings"

// Attribute types of RFC 7643 §2.3.
const (
	TypeString    = "string"
	TypeBoolean   = "boolean"
	TypeDecimal   = "decimal"
	TypeInteger   = "integer"
	TypeDateTime  = "dateTime"
	TypeBinary    = "binary"
	TypeReference = "reference"
	TypeComplex   = "complex"
)

// Mutability and returned values of RFC 7643 §7.
const (
	ReadOnly  = "readOnly"
	ReadWrite = "readWrite"
	Immutable = "immutable"
	WriteOnly = "writeOnly"

	ReturnedAlways  = "always"
	ReturnedNever   = "never"
	ReturnedDefault = "default"
	ReturnedRequest = "request"
)

// Attribute describes one attribute of a schema (RFC 7643 §7).
type Attribute struct {
	Name            string       `json:"name"`
	Type            string       `json:"type"`
	SubAttributes   []*Attribute `json:"subAttributes,omitempty"`
	MultiValued     bool         `json:"multiValued"`
	Description     string       `json:"description,omitempty"`
	Required        bool         `json:"required"`
	CanonicalValues []string     `json:"canonicalValues,omitempty"`
	CaseExact       bool         `json:"caseExact"`
	Mutability      string       `json:"mutability"`
	Returned        string       `json:"returned"`
	Uniqueness      string       `json:"uniqueness"`
	ReferenceTypes  []string     `json:"referenceTypes,omitempty"`
}

// Sub returns the sub-attribute called name (case-insensitively), or nil.
func (a *Attribute) Sub(name string) *Attribute {
	for _, s := range a.SubAttributes {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// Schema is a SCIM schema definition (RFC 7643 §7).
type Schema struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Attributes  []*Attribute `json:"attributes"`
}

// Attr returns the top-level attribute called name (case-insensitively), or nil.
func (s *Schema) Attr(name string) *Attribute {
	for _, a := range s.Attributes {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// ResourceType ties a core schema and its extensions to an endpoint.
type ResourceType struct {
	ID          string
	Name        string
	Endpoint    string
	Description string
	Schema      *Schema
	Extensions  []*Schema
}

// Extension returns the extension schema whose URN is urn (case-insensitively).
func (rt *ResourceType) Extension(urn string) *Schema {
	for _, e := range rt.Extensions {
		if strings.EqualFold(e.ID, urn) {
			return e
		}
	}
	return nil
}

// attribute builders keep the schema tables below readable.
func str(name string, opts ...func(*Attribute)) *Attribute {
	return attr(name, TypeString, opts...)
}

func attr(name, typ string, opts ...func(*Attribute)) *Attribute {
	a := &Attribute{Name: name, Type: typ, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: "none"}
	for _, o := range opts {
		o(a)
	}
	return a
}

func complexAttr(name string, subs []*Attribute, opts ...func(*Attribute)) *Attribute {
	a := attr(name, TypeComplex, opts...)
	a.SubAttributes = subs
	return a
}

func multi(a *Attribute)             { a.MultiValued = true }
func required(a *Attribute)          { a.Required = true }
func caseExact(a *Attribute)         { a.CaseExact = true }
func readOnly(a *Attribute)          { a.Mutability = ReadOnly }
func immutable(a *Attribute)         { a.Mutability = Immutable }
func always(a *Attribute)            { a.Returned = ReturnedAlways }
func never(a *Attribute)             { a.Returned = ReturnedNever }
func serverUnique(a *Attribute)      { a.Uniqueness = "server" }
func desc(d string) func(*Attribute) { return func(a *Attribute) { a.Description = d } }
func canonical(v ...string) func(*Attribute) {
	return func(a *Attribute) { a.CanonicalValues = v }
}
func refTypes(v ...string) func(*Attribute) {
	return func(a *Attribute) { a.ReferenceTypes = v }
}

// multiValuedSubs are the sub-attributes every RFC 7643 multi-valued
// attribute carries (value, display, type, primary).
func multiValuedSubs(valueType string, types ...string) []*Attribute {
	return []*Attribute{
		attr("value", valueType),
		str("display"),
		str("type", canonical(types...)),
		attr("primary", TypeBoolean),
	}
}

// UserSchema is the core User schema (RFC 7643 §4.1). password is left out
// on purpose: kacescim never stores it, and listing it makes validators
// believe it is supported.
func UserSchema() *Schema {
	return &Schema{
		ID:          UserURN,
		Name:        "User",
		Description: "User Account",
		Attributes: []*Attribute{
			str("userName", required, serverUnique, desc("Unique identifier for the User, typically used by the user to directly authenticate to the service provider; unique per provider, case-insensitively.")),
			complexAttr("name", []*Attribute{
				str("formatted"), str("familyName"), str("givenName"), str("middleName"),
				str("honorificPrefix"), str("honorificSuffix"),
			}, desc("The components of the user's real name.")),
			str("displayName", desc("The name of the User, suitable for display to end-users; mapped to the directory user's Name.")),
			str("nickName"),
			attr("profileUrl", TypeReference, refTypes("external")),
			str("title"),
			str("userType"),
			str("preferredLanguage"),
			str("locale"),
			str("timezone"),
			attr("active", TypeBoolean, desc("The User's administrative status; mapped, inverted, to the directory user's Disabled.")),
			complexAttr("emails", multiValuedSubs(TypeString, "work", "home", "other"), multi),
			complexAttr("phoneNumbers", multiValuedSubs(TypeString, "work", "home", "mobile", "fax", "pager", "other"), multi),
			complexAttr("ims", multiValuedSubs(TypeString, "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"), multi),
			complexAttr("photos", multiValuedSubs(TypeReference, "photo", "thumbnail"), multi),
			complexAttr("addresses", []*Attribute{
				str("formatted"), str("streetAddress"), str("locality"), str("region"),
				str("postalCode"), str("country"),
				str("type", canonical("work", "home", "other")),
				attr("primary", TypeBoolean),
			}, multi),
			complexAttr("groups", []*Attribute{
				str("value", readOnly),
				attr("$ref", TypeReference, readOnly, refTypes("Group")),
				str("display", readOnly),
				str("type", readOnly, canonical("direct", "indirect")),
			}, multi, readOnly, desc("Groups the user belongs to, as pushed by the identity provider; read-only.")),
			complexAttr("entitlements", multiValuedSubs(TypeString), multi),
			complexAttr("roles", multiValuedSubs(TypeString), multi),
			complexAttr("x509Certificates", multiValuedSubs(TypeBinary), multi),
		},
	}
}

// GroupSchema is the core Group schema (RFC 7643 §4.2).
func GroupSchema() *Schema {
	return &Schema{
		ID:          GroupURN,
		Name:        "Group",
		Description: "Group",
		Attributes: []*Attribute{
			str("displayName", required, serverUnique, desc("A human-readable name for the Group; unique per provider, case-insensitively.")),
			complexAttr("members", []*Attribute{
				str("value", immutable),
				attr("$ref", TypeReference, immutable, refTypes("User")),
				str("display"),
				str("type", immutable, canonical("User")),
			}, multi, desc("Members of the Group: users of the same provider.")),
		},
	}
}

// EnterpriseUserSchema is the enterprise User extension (RFC 7643 §4.3).
func EnterpriseUserSchema() *Schema {
	return &Schema{
		ID:          EnterpriseUserURN,
		Name:        "EnterpriseUser",
		Description: "Enterprise User",
		Attributes: []*Attribute{
			str("employeeNumber"),
			str("costCenter"),
			str("organization"),
			str("division"),
			str("department"),
			complexAttr("manager", []*Attribute{
				str("value"),
				attr("$ref", TypeReference, refTypes("User")),
				str("displayName", readOnly),
			}),
		},
	}
}

// commonAttributes are the attributes every resource has (RFC 7643 §3.1).
func commonAttributes() []*Attribute {
	return []*Attribute{
		str("id", readOnly, always, caseExact, serverUnique),
		str("externalId", caseExact),
		complexAttr("meta", []*Attribute{
			str("resourceType", readOnly, caseExact),
			attr("created", TypeDateTime, readOnly),
			attr("lastModified", TypeDateTime, readOnly),
			attr("location", TypeReference, readOnly),
			str("version", readOnly, caseExact),
		}, readOnly),
	}
}

// UserResourceType is the User resource type at /Users.
func UserResourceType() *ResourceType {
	return &ResourceType{ID: "User", Name: "User", Endpoint: "/Users", Description: "User Account",
		Schema: UserSchema(), Extensions: []*Schema{EnterpriseUserSchema()}}
}

// GroupResourceType is the Group resource type at /Groups.
func GroupResourceType() *ResourceType {
	return &ResourceType{ID: "Group", Name: "Group", Endpoint: "/Groups", Description: "Group",
		Schema: GroupSchema()}
}

// Lookup finds the attribute a path names: an optional schema URN, an
// attribute and an optional sub-attribute. It returns the top-level
// attribute, the sub-attribute (nil when none was named) and the schema URN
// the attribute belongs to ("" for the core schema).
func (rt *ResourceType) Lookup(urn, name, sub string) (top, subAttr *Attribute, schemaURN string) {
	var s *Schema
	switch {
	case urn == "" || strings.EqualFold(urn, rt.Schema.ID):
		s = rt.Schema
	default:
		s = rt.Extension(urn)
		if s == nil {
			return nil, nil, ""
		}
		schemaURN = s.ID
	}
	top = s.Attr(name)
	if top == nil && s == rt.Schema {
		for _, c := range commonAttributes() {
			if strings.EqualFold(c.Name, name) {
				top = c
			}
		}
	}
	if top == nil {
		return nil, nil, ""
	}
	if sub != "" {
		subAttr = top.Sub(sub)
		if subAttr == nil {
			return nil, nil, ""
		}
	}
	return top, subAttr, schemaURN
}
