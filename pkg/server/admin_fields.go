package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
)

// Page sizes of GET /admin/v1/users: count defaults to the first and is
// capped at the second, as SCIM list endpoints do.
const (
	defaultAdminPageSize = 100
	maxAdminPageSize     = 1000
)

// builtinFieldDescriptions describe the built-in fields in GET
// /admin/v1/fields, in the words of KACE Cloud's user details page.
var builtinFieldDescriptions = map[string]string{
	directory.FieldEmail:    "The user's email address (required mapping from userName)",
	directory.FieldName:     "The user's full name (required mapping from displayName)",
	directory.FieldDisabled: "Whether the user is disabled: the inverse of active (required mapping)",
	directory.FieldGUID:     "Internal identifier, the SCIM id (required mapping from id); not displayed on the user details page",
	directory.FieldAddress:  "Street address",
	directory.FieldCity:     "City",
	directory.FieldState:    "State or region",
	directory.FieldZip:      "Postal code",
	directory.FieldCountry:  "Country",
}

// fieldType is the wire name of the kind of field name is.
func fieldType(name string) string {
	if _, ok := directory.IsBuiltinField(name); ok {
		return "builtin"
	}
	return "custom"
}

func adminField(f *directory.CustomField) adminapi.Field {
	created := f.Created.UTC()
	return adminapi.Field{Name: f.Name, Type: "custom", Description: f.Description, CreatedAt: &created}
}

// adminMappings is the wire form of ms, never null.
func adminMappings(ms []directory.Mapping) []adminapi.Mapping {
	out := make([]adminapi.Mapping, 0, len(ms))
	for _, m := range ms {
		out = append(out, adminapi.Mapping{SCIMPath: m.SCIMPath, Field: m.Field, FieldType: fieldType(m.Field), Required: m.Required})
	}
	return out
}

func directoryMappings(ms []adminapi.Mapping) []directory.Mapping {
	out := make([]directory.Mapping, 0, len(ms))
	for _, m := range ms {
		out = append(out, directory.Mapping{SCIMPath: m.SCIMPath, Field: m.Field, Required: m.Required})
	}
	return out
}

func adminDirectoryUser(du *directory.Entry) adminapi.DirectoryUser {
	fields := du.Fields
	if fields == nil {
		fields = map[string]any{}
	}
	return adminapi.DirectoryUser{Provider: du.ProviderName, ID: du.UserID, Fields: fields, Updated: du.Updated.UTC()}
}

func (s *Server) adminListFields(w http.ResponseWriter, r *http.Request) error {
	custom, err := s.dir.CustomFields(r.Context())
	if err != nil {
		return err
	}
	list := adminapi.FieldList{Fields: make([]adminapi.Field, 0, len(directory.BuiltinFields)+len(custom))}
	for _, name := range directory.BuiltinFields {
		list.Fields = append(list.Fields, adminapi.Field{Name: name, Type: "builtin", Description: builtinFieldDescriptions[name]})
	}
	for _, f := range custom {
		list.Fields = append(list.Fields, adminField(f))
	}
	return s.adminJSON(w, r, http.StatusOK, list)
}

func (s *Server) adminCreateField(w http.ResponseWriter, r *http.Request) error {
	var req adminapi.CreateFieldRequest
	if err := s.adminDecode(w, r, &req); err != nil {
		return err
	}
	f, err := s.dir.AddCustomField(r.Context(), req.Name, req.Description)
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusCreated, adminField(f))
}

func (s *Server) adminDeleteField(w http.ResponseWriter, r *http.Request) error {
	if err := s.dir.RemoveCustomField(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// providerName is the {name} of a provider route, noted for the request log.
func providerName(r *http.Request) string {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	return name
}

func (s *Server) adminListMappings(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.dir.Mappings(r.Context(), providerName(r))
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, adminapi.MappingList{Mappings: adminMappings(ms)})
}

func (s *Server) adminAddMapping(w http.ResponseWriter, r *http.Request) error {
	name := providerName(r)
	var req adminapi.Mapping
	if err := s.adminDecode(w, r, &req); err != nil {
		return err
	}
	ms, changed, err := s.dir.AddMapping(r.Context(), name, req.SCIMPath, req.Field)
	return s.adminMappingsChanged(w, r, ms, changed, err)
}

func (s *Server) adminSetMappings(w http.ResponseWriter, r *http.Request) error {
	name := providerName(r)
	var req adminapi.SetMappingsRequest
	if err := s.adminDecode(w, r, &req); err != nil {
		return err
	}
	ms, changed, err := s.dir.SetMappings(r.Context(), name, directoryMappings(req.Mappings))
	return s.adminMappingsChanged(w, r, ms, changed, err)
}

func (s *Server) adminRemoveMapping(w http.ResponseWriter, r *http.Request) error {
	name := providerName(r)
	q := r.URL.Query()
	ms, changed, err := s.dir.RemoveMapping(r.Context(), name, q.Get("scimPath"), q.Get("field"))
	return s.adminMappingsChanged(w, r, ms, changed, err)
}

func (s *Server) adminMappingsChanged(w http.ResponseWriter, r *http.Request, ms []directory.Mapping, changed int, err error) error {
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, adminapi.MappingsChanged{Mappings: adminMappings(ms), ChangedUsers: changed})
}

func (s *Server) adminSuggestedMappings(w http.ResponseWriter, r *http.Request) error {
	return s.adminJSON(w, r, http.StatusOK, adminapi.MappingList{Mappings: adminMappings(directory.SuggestedMappings())})
}

func (s *Server) adminPreview(w http.ResponseWriter, r *http.Request) error {
	name := providerName(r)
	var raw json.RawMessage
	if err := s.adminDecode(w, r, &raw); err != nil {
		return err
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return directory.Errorf(directory.EINVALID, "the body must be a SCIM User: a JSON object")
	}
	fields, err := s.dir.Preview(r.Context(), name, body)
	if err != nil {
		return err
	}
	if fields == nil {
		fields = map[string]any{}
	}
	return s.adminJSON(w, r, http.StatusOK, adminapi.Preview{Fields: fields})
}

func (s *Server) adminListUsers(w http.ResponseWriter, r *http.Request) error {
	q, provider, err := directoryQuery(r)
	if err != nil {
		return err
	}
	infoFrom(r.Context()).provider = provider
	users, total, err := s.dir.Entries(r.Context(), provider, q)
	if err != nil {
		return err
	}
	list := adminapi.DirectoryUserList{Users: make([]adminapi.DirectoryUser, 0, len(users)), TotalResults: total}
	for _, du := range users {
		list.Users = append(list.Users, adminDirectoryUser(du))
	}
	return s.adminJSON(w, r, http.StatusOK, list)
}

// directoryQuery reads the query of GET /admin/v1/users: provider,
// disabled=true|false, field and value (together), startIndex (1-based,
// values below 1 mean 1) and count (default 100, at most 1000).
func directoryQuery(r *http.Request) (directory.EntryQuery, string, error) {
	v := r.URL.Query()
	q := directory.EntryQuery{StartIndex: 1, Count: defaultAdminPageSize}
	if d := v.Get("disabled"); d != "" {
		b, err := strconv.ParseBool(d)
		if err != nil {
			return q, "", directory.Errorf(directory.EINVALID, "disabled must be true or false, not %q", d)
		}
		q.Disabled = &b
	}
	q.Field, q.Value = strings.TrimSpace(v.Get("field")), v.Get("value")
	switch {
	case q.Field != "" && !v.Has("value"):
		return q, "", directory.Errorf(directory.EINVALID, "field %s needs a value to match: add value=...", q.Field)
	case q.Field == "" && v.Has("value"):
		return q, "", directory.Errorf(directory.EINVALID, "value needs a field to match: add field=NAME")
	}
	if s := v.Get("startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, "", directory.Errorf(directory.EINVALID, "startIndex must be an integer, not %q", s)
		}
		q.StartIndex = max(n, 1)
	}
	if s := v.Get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return q, "", directory.Errorf(directory.EINVALID, "count must be an integer, not %q", s)
		}
		q.Count = min(max(n, 0), maxAdminPageSize)
	}
	return q, strings.TrimSpace(v.Get("provider")), nil
}

func (s *Server) adminGetUser(w http.ResponseWriter, r *http.Request) error {
	du, err := s.dir.Entry(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	infoFrom(r.Context()).provider = du.ProviderName
	return s.adminJSON(w, r, http.StatusOK, adminDirectoryUser(du))
}
