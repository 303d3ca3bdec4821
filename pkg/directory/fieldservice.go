package directory

import (
	"context"
	"strings"
	"unicode"

	"github.com/kacescim/kacescim/pkg/scim"
)

// ValidateFieldName checks a custom field name: 1 to 64 letters, digits,
// spaces, '-', '_' or '.', starting with a letter, and no built-in name.
func ValidateFieldName(name string) error {
	if name == "" || len(name) > 64 {
		return Errorf(EINVALID, "a field name needs 1 to 64 characters")
	}
	for i, r := range name {
		ok := unicode.IsLetter(r) || (i > 0 && (unicode.IsDigit(r) || strings.ContainsRune(" -_.", r)))
		if !ok {
			return Errorf(EINVALID, "field name %q: use letters, digits, spaces, '-', '_' or '.', starting with a letter", name)
		}
	}
	if strings.HasSuffix(name, " ") {
		return Errorf(EINVALID, "field name %q ends with a space", name)
	}
	if b, ok := IsBuiltinField(name); ok {
		return Errorf(EINVALID, "%s is a built-in field: choose another name", b)
	}
	return nil
}

// AddCustomField defines a custom directory-user field.
func (s *Service) AddCustomField(ctx context.Context, name, description string) (*CustomField, error) {
	name = strings.TrimSpace(name)
	if err := ValidateFieldName(name); err != nil {
		return nil, err
	}
	f := &CustomField{Name: name, Description: strings.TrimSpace(description), Created: s.now()}
	if err := s.Store.CreateCustomField(ctx, f); err != nil {
		return nil, err
	}
	return f, nil
}

// CustomFields lists the custom fields by name.
func (s *Service) CustomFields(ctx context.Context) ([]*CustomField, error) {
	return s.Store.FindCustomFields(ctx)
}

// RemoveCustomField removes a custom field no mapping uses.
func (s *Service) RemoveCustomField(ctx context.Context, name string) error {
	if b, ok := IsBuiltinField(name); ok {
		return Errorf(EINVALID, "%s is a built-in field and cannot be removed", b)
	}
	return s.Store.DeleteCustomField(ctx, strings.TrimSpace(name))
}

// Mapper loads and compiles the provider's mappings. The SCIM server calls
// it on every write, so it costs two indexed reads; the compiled Mapper of
// an unchanged set of mappings is reused (mapperMemo).
func (s *Service) Mapper(ctx context.Context, providerID string) (*Mapper, error) {
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
	return s.mappers.compile(optional, custom)
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
	u := &User{ID: "(assigned by the server)", Active: true, Resource: doc}
	u.UserName, _ = doc["userName"].(string)
	u.DisplayName, _ = doc["displayName"].(string)
	u.ExternalID, _ = doc["externalId"].(string)
	if a, ok := doc["active"].(bool); ok {
		u.Active = a
	}
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

// DirectoryUsers lists directory users as the admin sees them. A filter on
// a field that a provider's Groups mapping fills selects the members of
// the group with that name.
func (s *Service) DirectoryUsers(ctx context.Context, providerName string, q DirectoryQuery) ([]*DirectoryUser, int, error) {
	mappers := newMapperCache(s)
	if providerName != "" {
		p, err := s.Provider(ctx, providerName)
		if err != nil {
			return nil, 0, err
		}
		q.ProviderID = p.ID
	}
	if q.Field != "" {
		if q.ProviderID != "" {
			m, _, err := mappers.get(ctx, q.ProviderID)
			if err != nil {
				return nil, 0, err
			}
			if strings.EqualFold(m.GroupsField(), q.Field) {
				q.InGroup, q.Field, q.Value = q.Value, "", ""
			}
		} else if isGroupsFieldAnywhere(ctx, s, mappers, q.Field) {
			q.InGroup, q.Field, q.Value = q.Value, "", ""
		}
	}
	users, total, err := s.Store.FindDirectoryUsers(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*DirectoryUser, len(users))
	for i, u := range users {
		if out[i], err = mappers.view(ctx, u); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}

func isGroupsFieldAnywhere(ctx context.Context, s *Service, mappers *mapperCache, field string) bool {
	providers, err := s.Store.FindProviders(ctx)
	if err != nil {
		return false
	}
	for _, p := range providers {
		if m, _, err := mappers.get(ctx, p.ID); err == nil && strings.EqualFold(m.GroupsField(), field) {
			return true
		}
	}
	return false
}

// DirectoryUser returns one directory user by SCIM id or Email.
func (s *Service) DirectoryUser(ctx context.Context, key string) (*DirectoryUser, error) {
	u, err := s.Store.FindDirectoryUser(ctx, strings.TrimSpace(key))
	if err != nil {
		return nil, err
	}
	return newMapperCache(s).view(ctx, u)
}

// mapperCache loads each provider's mapper and name once per call.
type mapperCache struct {
	s     *Service
	byID  map[string]*Mapper
	names map[string]string
}

func newMapperCache(s *Service) *mapperCache {
	return &mapperCache{s: s, byID: map[string]*Mapper{}, names: map[string]string{}}
}

func (c *mapperCache) get(ctx context.Context, providerID string) (*Mapper, string, error) {
	if m, ok := c.byID[providerID]; ok {
		return m, c.names[providerID], nil
	}
	p, err := c.s.Store.FindProviderByID(ctx, providerID)
	if err != nil {
		return nil, "", err
	}
	m, err := c.s.Mapper(ctx, providerID)
	if err != nil {
		return nil, "", err
	}
	c.byID[providerID], c.names[providerID] = m, p.Name
	return m, p.Name, nil
}

func (c *mapperCache) view(ctx context.Context, u *User) (*DirectoryUser, error) {
	m, name, err := c.get(ctx, u.ProviderID)
	if err != nil {
		return nil, err
	}
	return &DirectoryUser{ProviderID: u.ProviderID, ProviderName: name, UserID: u.ID, Fields: m.Fields(u), Updated: u.LastModified}, nil
}
