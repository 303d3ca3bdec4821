package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kacescim/kacescim/pkg/adminapi"
)

// Fields lists the directory-user fields: the built-in ones first, then
// the custom ones by name.
func (a *Admin) Fields(ctx context.Context) ([]adminapi.Field, error) {
	var list adminapi.FieldList
	if err := a.call(ctx, http.MethodGet, "/fields", nil, nil, &list); err != nil {
		return nil, err
	}
	return list.Fields, nil
}

// CreateField defines a custom directory-user field.
func (a *Admin) CreateField(ctx context.Context, req adminapi.CreateFieldRequest) (*adminapi.Field, error) {
	var f adminapi.Field
	if err := a.call(ctx, http.MethodPost, "/fields", nil, req, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// RemoveField removes a custom field; the server refuses (conflict) while a
// mapping uses it.
func (a *Admin) RemoveField(ctx context.Context, name string) error {
	return a.call(ctx, http.MethodDelete, "/fields/{name}", nameParam(name), nil, nil)
}

// Mappings lists the provider's mappings, the required ones first.
func (a *Admin) Mappings(ctx context.Context, provider string) ([]adminapi.Mapping, error) {
	var list adminapi.MappingList
	if err := a.call(ctx, http.MethodGet, "/providers/{name}/mappings", nameParam(provider), nil, &list); err != nil {
		return nil, err
	}
	return list.Mappings, nil
}

// AddMapping adds one optional mapping to the provider and re-derives its
// directory users.
func (a *Admin) AddMapping(ctx context.Context, provider string, m adminapi.Mapping) (*adminapi.MappingsChanged, error) {
	var resp adminapi.MappingsChanged
	if err := a.call(ctx, http.MethodPost, "/providers/{name}/mappings", nameParam(provider), m, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// RemoveMapping removes the provider's optional mapping with the SCIM path
// or the field given (either may be empty, not both).
func (a *Admin) RemoveMapping(ctx context.Context, provider, scimPath, field string) (*adminapi.MappingsChanged, error) {
	q := url.Values{}
	if scimPath != "" {
		q.Set("scimPath", scimPath)
	}
	if field != "" {
		q.Set("field", field)
	}
	var resp adminapi.MappingsChanged
	if err := a.callQuery(ctx, http.MethodDelete, "/providers/{name}/mappings", nameParam(provider), q, nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// SetMappings replaces the provider's optional mappings at once; required
// mappings may be listed unchanged. Nothing changes if any is refused.
func (a *Admin) SetMappings(ctx context.Context, provider string, mappings []adminapi.Mapping) (*adminapi.MappingsChanged, error) {
	if mappings == nil {
		mappings = []adminapi.Mapping{}
	}
	var resp adminapi.MappingsChanged
	if err := a.call(ctx, http.MethodPut, "/providers/{name}/mappings", nameParam(provider), adminapi.SetMappingsRequest{Mappings: mappings}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// SuggestedMappings returns the mappings KACE Cloud suggests for an Okta
// provider (manager, department, organization, mobile, groups and the work
// address), which `kacescim mappings suggest` offers.
func (a *Admin) SuggestedMappings(ctx context.Context) ([]adminapi.Mapping, error) {
	var list adminapi.MappingList
	if err := a.call(ctx, http.MethodGet, "/mappings/suggested", nil, nil, &list); err != nil {
		return nil, err
	}
	return list.Mappings, nil
}

// PreviewMappings returns the directory-user fields the SCIM User user
// (a JSON object) would get under the provider's mappings. Nothing is
// written.
func (a *Admin) PreviewMappings(ctx context.Context, provider string, user json.RawMessage) (*adminapi.Preview, error) {
	if !json.Valid(user) {
		return nil, errors.New("the SCIM User to preview is not valid JSON")
	}
	var resp adminapi.Preview
	if err := a.call(ctx, http.MethodPost, "/providers/{name}/mappings/preview", nameParam(provider), user, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// DirectoryUserQuery selects directory users; the zero value selects the
// first page of all of them.
type DirectoryUserQuery struct {
	Provider string // "" for every provider
	Disabled *bool  // nil for both
	// Field and Value select users whose field equals value
	// (case-insensitively); both or neither.
	Field, Value string
	StartIndex   int // 1-based; 0 for the server's default
	Count        int // 0 for the server's default page size
}

// DirectoryUsers returns one page of directory users and the total that
// match.
func (a *Admin) DirectoryUsers(ctx context.Context, q DirectoryUserQuery) (*adminapi.DirectoryUserList, error) {
	v := url.Values{}
	if q.Provider != "" {
		v.Set("provider", q.Provider)
	}
	if q.Disabled != nil {
		v.Set("disabled", strconv.FormatBool(*q.Disabled))
	}
	if q.Field != "" {
		v.Set("field", q.Field)
		v.Set("value", q.Value)
	}
	if q.StartIndex > 0 {
		v.Set("startIndex", strconv.Itoa(q.StartIndex))
	}
	if q.Count > 0 {
		v.Set("count", strconv.Itoa(q.Count))
	}
	var list adminapi.DirectoryUserList
	if err := a.callQuery(ctx, http.MethodGet, "/users", nil, v, nil, &list); err != nil {
		return nil, err
	}
	return &list, nil
}

// DirectoryUser returns the directory user whose SCIM id or Email is key.
func (a *Admin) DirectoryUser(ctx context.Context, key string) (*adminapi.DirectoryUser, error) {
	var du adminapi.DirectoryUser
	if err := a.call(ctx, http.MethodGet, "/users/{key}", map[string]string{"key": key}, nil, &du); err != nil {
		return nil, err
	}
	return &du, nil
}
