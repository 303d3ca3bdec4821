package directory

import (
	"context"
	"strings"
	"time"
)

// Entry is the directory's record of one SCIM user, what the
// administrator sees as a directory user: its fields as the provider's
// mappings derive them (the Groups field from its memberships).
type Entry struct {
	ProviderID   string
	ProviderName string
	UserID       string // the SCIM id
	Fields       map[string]any
	Updated      time.Time
}

// EntryQuery selects directory users for the admin.
type EntryQuery struct {
	ProviderID string // "" for every provider
	Disabled   *bool  // nil for both
	// Field and Value select users whose field equals value
	// (case-insensitively); Field "" selects all.
	Field, Value string
	// InGroup selects members of the group with this displayName
	// (case-insensitively): how a filter on the Groups field is answered.
	InGroup    string
	StartIndex int // 1-based
	Count      int
}

// Entries lists the directory entries as the admin sees them. A filter on
// a field that a provider's Groups mapping fills selects the members of
// the group with that name.
func (s *Service) Entries(ctx context.Context, providerName string, q EntryQuery) ([]*Entry, int, error) {
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
	users, total, err := s.Store.FindEntries(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*Entry, len(users))
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

// Entry returns the directory entry of the user whose SCIM id or Email
// (case-insensitively) is key.
func (s *Service) Entry(ctx context.Context, key string) (*Entry, error) {
	u, err := s.Store.FindEntry(ctx, strings.TrimSpace(key))
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

func (c *mapperCache) view(ctx context.Context, u *User) (*Entry, error) {
	m, name, err := c.get(ctx, u.ProviderID)
	if err != nil {
		return nil, err
	}
	return &Entry{ProviderID: u.ProviderID, ProviderName: name, UserID: u.ID, Fields: m.Fields(u), Updated: u.LastModified}, nil
}
