package directory

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kacescim/kacescim/pkg/scim"
)

// GroupsPath is the SCIM path that, mapped to a field, fills it with the
// comma-delimited names of the groups the provider pushed the user into.
const GroupsPath = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Group:externalId"

// GroupsSeparator joins group names in the Groups field.
const GroupsSeparator = ","

// RequiredMappings are created with every provider and cannot be changed.
// Disabled is the inverse of active. They are what Derive applies before
// the provider's own mappings: the directory's Disabled bit has no other
// source than the user's active attribute.
func RequiredMappings() []Mapping {
	return []Mapping{
		{SCIMPath: "userName", Field: FieldEmail, Required: true},
		{SCIMPath: "displayName", Field: FieldName, Required: true},
		{SCIMPath: "id", Field: FieldGUID, Required: true},
		{SCIMPath: "active", Field: FieldDisabled, Required: true, Inverted: true},
	}
}

// required is RequiredMappings compiled. Their attributes are in the core
// User schema, which every provider's User type extends.
var required = sync.OnceValue(func() []compiledMapping {
	rt := scim.UserResourceType()
	var out []compiledMapping
	for _, m := range RequiredMappings() {
		p, err := compilePath(rt, m.SCIMPath)
		if err != nil {
			panic(fmt.Sprintf("required mapping %s → %s: %v", m.SCIMPath, m.Field, err))
		}
		out = append(out, compiledMapping{Mapping: m, path: p})
	}
	return out
})

// SuggestedMappings are the mappings KACE Cloud suggests, offered by
// `kacescim mappings suggest`, never forced. Manager, Department,
// Organization, Mobile and Groups are custom fields the admin creates first.
func SuggestedMappings() []Mapping {
	const ent = scim.EnterpriseUserURN + ":"
	return []Mapping{
		{SCIMPath: ent + "manager.value", Field: "Manager"},
		{SCIMPath: ent + "department", Field: "Department"},
		{SCIMPath: ent + "organization", Field: "Organization"},
		{SCIMPath: `phoneNumbers[type eq "mobile"].value`, Field: "Mobile"},
		{SCIMPath: GroupsPath, Field: "Groups"},
		{SCIMPath: `addresses[type eq "work"].streetAddress`, Field: FieldAddress},
		{SCIMPath: `addresses[type eq "work"].locality`, Field: FieldCity},
		{SCIMPath: `addresses[type eq "work"].region`, Field: FieldState},
		{SCIMPath: `addresses[type eq "work"].postalCode`, Field: FieldZip},
		{SCIMPath: `addresses[type eq "work"].country`, Field: FieldCountry},
	}
}

// Mapper is a provider's mappings, checked and compiled: what turns a SCIM
// User into the fields of its directory user.
type Mapper struct {
	rt          *scim.ResourceType
	optional    []compiledMapping
	groupsField string
}

type compiledMapping struct {
	Mapping
	path *scim.AttrPath
}

// NewMapper checks the provider's optional mappings against the custom
// fields that exist and compiles them. Mappings to an attribute of an
// extension schema SCIM does not define declare that extension: the
// provider's User resource type then carries it (string attributes), so the
// server accepts, keeps and returns it and lists it in /Schemas.
//
// Errors (EINVALID) say what to do: which `kacescim fields add` to run, which
// mapping already fills a field, why a path is refused.
func NewMapper(optional []*Mapping, custom []*CustomField) (*Mapper, error) {
	rt := scim.UserResourceType()
	declared := map[string]*scim.Schema{}
	// Declare custom extensions first, so that every mapping resolves
	// against the complete resource type.
	for _, m := range optional {
		urn, attr, ok := customExtensionPath(m.SCIMPath)
		if !ok {
			continue
		}
		s := declared[strings.ToLower(urn)]
		if s == nil {
			s = &scim.Schema{ID: urn, Name: extensionName(urn), Description: "Custom extension declared by a kacescim mapping"}
			declared[strings.ToLower(urn)] = s
			rt.Extensions = append(rt.Extensions, s)
		}
		if s.Attr(attr) == nil {
			s.Attributes = append(s.Attributes, &scim.Attribute{Name: attr, Type: scim.TypeString,
				Mutability: scim.ReadWrite, Returned: scim.ReturnedDefault, Uniqueness: "none",
				Description: "Mapped to the directory-user field " + m.Field})
		}
	}
	mp := &Mapper{rt: rt}
	used := map[string]Mapping{}
	for _, r := range RequiredMappings() {
		used[strings.ToLower(r.Field)] = r
	}
	for _, m := range optional {
		field, err := resolveField(m.Field, custom)
		if err != nil {
			return nil, err
		}
		if prev, ok := used[strings.ToLower(field)]; ok {
			if prev.Required {
				return nil, Errorf(EINVALID, "%s is filled by the required mapping %s → %s and cannot be mapped again", field, prev.SCIMPath, prev.Field)
			}
			return nil, Errorf(EINVALID, "%s is already filled by the mapping %s → %s: remove that mapping first", field, prev.SCIMPath, prev.Field)
		}
		c := compiledMapping{Mapping: Mapping{SCIMPath: strings.TrimSpace(m.SCIMPath), Field: field}}
		if strings.EqualFold(c.SCIMPath, GroupsPath) {
			c.SCIMPath = GroupsPath
			mp.groupsField = field
		} else {
			p, err := compilePath(rt, m.SCIMPath)
			if err != nil {
				return nil, err
			}
			c.path = p
			c.SCIMPath = p.String()
		}
		used[strings.ToLower(field)] = c.Mapping
		mp.optional = append(mp.optional, c)
	}
	return mp, nil
}

func resolveField(name string, custom []*CustomField) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Errorf(EINVALID, "a mapping needs a field")
	}
	if f, ok := IsBuiltinField(name); ok {
		return f, nil
	}
	for _, c := range custom {
		if strings.EqualFold(c.Name, name) {
			return c.Name, nil
		}
	}
	return "", Errorf(EINVALID, "there is no field named %s: create it first with `kacescim fields add %s`", name, quoteArg(name))
}

func quoteArg(s string) string {
	if strings.ContainsAny(s, " \t'\"") {
		return strconv.Quote(s)
	}
	return s
}

// compilePath parses a mapping's SCIM path and checks that it selects a
// single simple value.
func compilePath(rt *scim.ResourceType, raw string) (*scim.AttrPath, error) {
	if strings.EqualFold(strings.TrimSpace(raw), "password") {
		return nil, Errorf(EINVALID, "password is never kept and cannot be mapped")
	}
	p, err := scim.ParseAttrPath(rt, raw)
	if err != nil {
		se, _ := scim.AsError(err)
		return nil, Errorf(EINVALID, "%s", se.Detail)
	}
	switch {
	case p.URN == "" && strings.EqualFold(p.Attr.Name, "groups"):
		return nil, Errorf(EINVALID, "map group membership with %s, not %q", GroupsPath, raw)
	case p.Leaf().Type == scim.TypeComplex:
		hint := ""
		if p.Attr.MultiValued {
			hint = fmt.Sprintf(", e.g. %s[type eq \"work\"].%s", p.Attr.Name, firstSub(p.Attr))
		} else {
			hint = fmt.Sprintf(", e.g. %s.%s", p.Attr.Name, firstSub(p.Attr))
		}
		return nil, Errorf(EINVALID, "%q is complex: map one of its sub-attributes%s", raw, hint)
	}
	return p, nil
}

func firstSub(a *scim.Attribute) string {
	if s := a.Sub("value"); s != nil {
		return "value"
	}
	if len(a.SubAttributes) > 0 {
		return a.SubAttributes[0].Name
	}
	return "value"
}

// customExtensionPath recognises "urn:…:Schema:attr" paths of extensions
// SCIM does not define; it returns the URN and the attribute.
func customExtensionPath(path string) (urn, attr string, ok bool) {
	path = strings.TrimSpace(path)
	lower := strings.ToLower(path)
	if !strings.HasPrefix(lower, "urn:") || strings.ContainsAny(path, "[]\" ") {
		return "", "", false
	}
	for _, known := range []string{scim.UserURN, scim.EnterpriseUserURN, GroupsPath, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Group"} {
		if strings.HasPrefix(lower, strings.ToLower(known)) {
			return "", "", false
		}
	}
	i := strings.LastIndex(path, ":")
	urn, attr = path[:i], path[i+1:]
	if strings.Count(urn, ":") < 2 || attr == "" || strings.Contains(attr, ".") {
		return "", "", false
	}
	return urn, attr, true
}

func extensionName(urn string) string {
	parts := strings.Split(urn, ":")
	if len(parts) >= 3 {
		return parts[len(parts)-3] + parts[len(parts)-1] // kace:2.0:User → kaceUser
	}
	return urn
}

// ResourceType is the provider's User resource type, with any extension
// its mappings declared.
func (m *Mapper) ResourceType() *scim.ResourceType { return m.rt }

// GroupsField is the field the provider's Groups mapping fills, or "".
func (m *Mapper) GroupsField() string { return m.groupsField }

// Mappings returns the required mappings and then the optional ones, as
// compiled (paths and fields in canonical spelling).
func (m *Mapper) Mappings() []Mapping {
	out := RequiredMappings()
	for _, c := range m.optional {
		out = append(out, c.Mapping)
	}
	return out
}

// Optional returns the optional mappings, ready to store.
func (m *Mapper) Optional() []*Mapping {
	out := make([]*Mapping, len(m.optional))
	for i, c := range m.optional {
		mm := c.Mapping
		out[i] = &mm
	}
	return out
}

// Derive computes the stored fields of u's directory entry from its SCIM
// resource, by the required mappings and then the provider's own: every
// field but Groups, which Fields adds from the memberships when the user
// is read. A field whose attribute is missing, null or empty is left out
// (cleared). Of several matching values the primary one wins, else the
// first in order. Booleans and numbers become text, but for an inverted
// mapping (active → Disabled), whose field is the boolean negation: true
// only when the attribute is false.
func (m *Mapper) Derive(u *User) map[string]any {
	// The attributes the server keeps beside the resource can be mapped
	// too: externalId here, id in fill.
	doc := u.Resource
	if u.ExternalID != "" {
		doc = make(map[string]any, len(u.Resource)+1)
		for k, v := range u.Resource {
			doc[k] = v
		}
		doc["externalId"] = u.ExternalID
	}
	fields := make(map[string]any, 4+len(m.optional))
	for _, c := range required() {
		c.fill(fields, u, doc)
	}
	for _, c := range m.optional {
		if c.path != nil {
			c.fill(fields, u, doc)
		}
	}
	return fields
}

// fill sets c's field from doc, the resource of u, or leaves it out when
// doc has no value for it.
func (c compiledMapping) fill(fields map[string]any, u *User, doc map[string]any) {
	if c.path.URN == "" && c.path.Sub == nil && c.path.Attr.Name == "id" {
		// The server's id, kept beside the resource, not in it.
		if u.ID != "" {
			fields[c.Field] = u.ID
		}
		return
	}
	values := c.path.Values(doc)
	if c.Inverted {
		b, ok := firstValue(values).(bool)
		fields[c.Field] = ok && !b
		return
	}
	for _, v := range values {
		if s := fieldText(v); s != "" {
			fields[c.Field] = s
			return
		}
	}
}

// firstValue is the first of values, nil when there is none.
func firstValue(values []any) any {
	if len(values) == 0 {
		return nil
	}
	return values[0]
}

// fieldText is the text a directory field holds for a SCIM value.
func fieldText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	return ""
}

// Fields returns the directory user's fields as the admin sees them: the
// stored ones plus Groups, from the user's memberships, sorted by name
// (case-insensitively) and joined with commas. The Groups field is never
// stored, so it is current the moment a group write commits, whatever the
// size of the group.
func (m *Mapper) Fields(u *User) map[string]any {
	out := make(map[string]any, len(u.Fields)+1)
	for k, v := range u.Fields {
		out[k] = v
	}
	if m.groupsField != "" {
		if names := GroupNames(u.Groups); names != "" {
			out[m.groupsField] = names
		}
	}
	return out
}

// GroupNames joins the names of groups in the Groups field's order.
func GroupNames(groups []GroupRef) string {
	names := make([]GroupRef, len(groups))
	copy(names, groups)
	sort.Slice(names, func(i, j int) bool {
		a, b := strings.ToLower(names[i].DisplayName), strings.ToLower(names[j].DisplayName)
		if a != b {
			return a < b
		}
		return names[i].ID < names[j].ID
	})
	parts := make([]string, len(names))
	for i, g := range names {
		parts[i] = g.DisplayName
	}
	return strings.Join(parts, GroupsSeparator)
}

// Mapper loads and compiles the provider's mappings. The SCIM server calls
// it on every write, so it costs two indexed reads, except where the
// Service remembers the provider's Mapper (providerMappers); the compiled
// Mapper of an unchanged set of mappings is reused (mapperMemo).
func (s *Service) Mapper(ctx context.Context, providerID string) (*Mapper, error) {
	var gen uint64
	if s.providerMappers != nil {
		var m *Mapper
		if m, gen = s.providerMappers.get(providerID, time.Now()); m != nil {
			return m, nil
		}
	}
	optional, err := s.Store.FindMappings(ctx, providerID)
	if err != nil {
		return nil, err
	}
	var custom []*CustomField
	if len(optional) > 0 {
		if custom, err = s.Store.FindCustomFields(ctx); err != nil {
			return nil, err
		}
	}
	m, err := s.mappers.compile(optional, custom)
	if err == nil && s.providerMappers != nil {
		s.providerMappers.put(providerID, m, gen, time.Now())
	}
	return m, err
}

// Mappings returns the provider's mappings: the required ones, then the
// optional ones in order.
func (s *Service) Mappings(ctx context.Context, providerName string) ([]Mapping, error) {
	p, err := s.Provider(ctx, providerName)
	if err != nil {
		return nil, err
	}
	m, err := s.Mapper(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	return m.Mappings(), nil
}

// SetMappings replaces the provider's optional mappings with the given
// ones (required mappings may be listed unchanged; changing one is
// refused), checks them all, and re-derives every user of the provider in
// one transaction. It returns the mappings now in force and how many
// directory users changed.
func (s *Service) SetMappings(ctx context.Context, providerName string, mappings []Mapping) ([]Mapping, int, error) {
	p, err := s.Provider(ctx, providerName)
	if err != nil {
		return nil, 0, err
	}
	var optional []*Mapping
	for _, m := range mappings {
		if isRequired(m) {
			continue // listed unchanged, as `mappings edit` shows them
		}
		if m.Required {
			return nil, 0, Errorf(EINVALID, "the required mappings (%s) cannot be changed", requiredList())
		}
		mm := m
		optional = append(optional, &mm)
	}
	custom, err := s.Store.FindCustomFields(ctx)
	if err != nil {
		return nil, 0, err
	}
	mapper, err := NewMapper(optional, custom)
	if err != nil {
		return nil, 0, err
	}
	changed, err := s.Store.ReplaceMappings(ctx, p.ID, mapper.Optional(), func(u *User) (map[string]any, error) {
		return mapper.Derive(u), nil
	})
	s.providerMappers.forget() // even on an error: the store may have committed
	if err != nil {
		return nil, 0, err
	}
	return mapper.Mappings(), changed, nil
}

// isRequired reports whether m is one of the required mappings.
func isRequired(m Mapping) bool {
	for _, r := range RequiredMappings() {
		if strings.EqualFold(strings.TrimSpace(m.SCIMPath), r.SCIMPath) && strings.EqualFold(strings.TrimSpace(m.Field), r.Field) {
			return true
		}
	}
	return false
}

func requiredList() string {
	var parts []string
	for _, r := range RequiredMappings() {
		parts = append(parts, r.SCIMPath+" → "+r.Field)
	}
	return strings.Join(parts, ", ")
}

// AddMapping adds one optional mapping.
func (s *Service) AddMapping(ctx context.Context, providerName, scimPath, field string) ([]Mapping, int, error) {
	current, err := s.Mappings(ctx, providerName)
	if err != nil {
		return nil, 0, err
	}
	return s.SetMappings(ctx, providerName, append(current, Mapping{SCIMPath: scimPath, Field: field}))
}

// RemoveMapping removes the optional mapping with the given SCIM path or
// field (either may be empty, not both).
func (s *Service) RemoveMapping(ctx context.Context, providerName, scimPath, field string) ([]Mapping, int, error) {
	if scimPath == "" && field == "" {
		return nil, 0, Errorf(EINVALID, "say which mapping to remove: give its SCIM path or its field")
	}
	current, err := s.Mappings(ctx, providerName)
	if err != nil {
		return nil, 0, err
	}
	norm := func(p string) string { return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(p), `\"`, `"`)) }
	var kept []Mapping
	found := false
	for _, m := range current {
		hit := (scimPath == "" || norm(m.SCIMPath) == norm(scimPath)) && (field == "" || strings.EqualFold(m.Field, strings.TrimSpace(field)))
		if hit && m.Required {
			return nil, 0, Errorf(EINVALID, "%s → %s is a required mapping and cannot be removed", m.SCIMPath, m.Field)
		}
		if hit {
			found = true
			continue
		}
		kept = append(kept, m)
	}
	if !found {
		what := scimPath
		if what == "" {
			what = field
		}
		return nil, 0, Errorf(ENOTFOUND, "provider %s has no mapping for %s", providerName, what)
	}
	return s.SetMappings(ctx, providerName, kept)
}

// Preview returns the directory-user fields a SCIM User body would produce
// under the provider's mappings, without writing anything.
func (s *Service) Preview(ctx context.Context, providerName string, body map[string]any) (map[string]any, error) {
	p, err := s.Provider(ctx, providerName)
	if err != nil {
		return nil, err
	}
	m, err := s.Mapper(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	doc, err := scim.Normalize(m.ResourceType(), body, scim.Options{})
	if err != nil {
		return nil, Errorf(EINVALID, "%s", scimDetail(err))
	}
	u := &User{ID: "(assigned by the server)", Resource: doc}
	u.UserName, _ = doc["userName"].(string)
	u.DisplayName, _ = doc["displayName"].(string)
	u.ExternalID, _ = doc["externalId"].(string)
	if id, ok := body["id"].(string); ok && id != "" {
		u.ID = id
	}
	delete(doc, "externalId")
	if u.UserName == "" {
		return nil, Errorf(EINVALID, "the SCIM User has no userName")
	}
	return m.Derive(u), nil
}

func scimDetail(err error) string {
	if se, ok := scim.AsError(err); ok {
		return se.Detail
	}
	return err.Error()
}

// Mapping maps a SCIM attribute path of a provider's users to a
// directory-user field. Required mappings exist for every provider, are
// not stored, and cannot be changed.
type Mapping struct {
	SCIMPath string
	Field    string
	Required bool
	// Inverted fills a boolean field with the negation of a boolean
	// attribute: the required active → Disabled.
	Inverted bool
}
