package server

import (
	"net/http"
	"sort"
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// groupRT is the Group resource type; the User type is per provider
// (directory.Mapper.ResourceType), as mappings may declare extensions.
var groupRT = scim.GroupResourceType()

// resourceSchemas lists the core schema and every extension the document
// holds (the enterprise extension, or one a mapping declared).
func resourceSchemas(core string, doc map[string]any) []string {
	schemas := []string{core}
	var exts []string
	for k := range doc {
		if strings.HasPrefix(k, "urn:") {
			exts = append(exts, k)
		}
	}
	sort.Strings(exts)
	return append(schemas, exts...)
}

// renderUser is the User as the identity provider reads it.
func (s *Server) renderUser(r *http.Request, u *directory.User) map[string]any {
	out := make(map[string]any, len(u.Resource)+5)
	for k, v := range u.Resource {
		out[k] = v
	}
	out["schemas"] = resourceSchemas(scim.UserURN, u.Resource)
	out["id"] = u.ID
	if u.ExternalID != "" {
		out["externalId"] = u.ExternalID
	}
	base := s.scimBaseURL(r)
	if len(u.Groups) > 0 {
		groups := make([]any, len(u.Groups))
		for i, g := range u.Groups {
			groups[i] = map[string]any{"value": g.ID, "display": g.DisplayName, "$ref": base + "/Groups/" + g.ID, "type": "direct"}
		}
		out["groups"] = groups
	}
	out["meta"] = meta("User", base+"/Users/"+u.ID, u.Created, u.LastModified, u.Version)
	return out
}

// writeUser writes u as proj selects it (nil: the default attributes),
// with its ETag.
func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, status int, u *directory.User, proj *scim.Projection) error {
	w.Header().Set("ETag", etag(u.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", s.scimBaseURL(r)+"/Users/"+u.ID)
	}
	writeSCIM(w, status, proj.Apply(s.renderUser(r, u)))
	return nil
}

// userProjection is the projection r asks for on users of p. The User
// type depends on p's mappings (they may declare extensions), so it is
// only loaded when r has attributes or excludedAttributes. Handlers read
// it before they write, so that a malformed parameter changes nothing.
func (s *Server) userProjection(r *http.Request, p *directory.Provider) (*scim.Projection, error) {
	if attributes, excluded := projectionParams(r); len(attributes) == 0 && len(excluded) == 0 {
		return nil, nil
	}
	rt, err := s.dir.UserType(r.Context(), p)
	if err != nil {
		return nil, err
	}
	return projection(r, rt)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p *directory.Provider) error {
	body, err := s.readObject(w, r)
	if err != nil {
		return err
	}
	proj, err := s.userProjection(r, p)
	if err != nil {
		return err
	}
	u, err := s.dir.CreateUser(r.Context(), p, body)
	if err != nil {
		return err
	}
	infoFrom(r.Context()).resourceID = u.ID
	return s.writeUser(w, r, http.StatusCreated, u, proj)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	proj, err := s.userProjection(r, p)
	if err != nil {
		return err
	}
	u, err := s.dir.FindUser(r.Context(), p, id)
	if err != nil {
		return err
	}
	if notModified(w, r, u.Version) {
		return nil
	}
	return s.writeUser(w, r, http.StatusOK, u, proj)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p *directory.Provider) error {
	q, err := listQuery(r)
	if err != nil {
		return err
	}
	var proj *scim.Projection
	// A filter naming a URN may name an extension the provider's mappings
	// declared.
	urnFilter := q.Filter != nil && strings.Contains(strings.ToLower(r.URL.Query().Get("filter")), "urn:")
	if attributes, excluded := projectionParams(r); q.SortBy != "" || len(attributes) > 0 || len(excluded) > 0 || urnFilter {
		// Only then is the provider's User type needed.
		rt, err := s.dir.UserType(r.Context(), p)
		if err != nil {
			return err
		}
		q.Extensions = declaredExtensions(rt)
		if err := sortFor(&q, rt); err != nil {
			return err
		}
		if proj, err = scim.NewProjection(rt, attributes, excluded); err != nil {
			return err
		}
	}
	// Without a projection the users are written from their stored JSON
	// (rawjson.go), where the store keeps it so.
	q.RawResources = proj == nil
	users, total, err := s.dir.FindUsers(r.Context(), p, q)
	if err != nil {
		return err
	}
	s.writeUserList(w, r, total, q.StartIndex, users, proj)
	return nil
}

// target is the resource of p that r names by id, with r's If-Match.
func (s *Server) target(r *http.Request, p *directory.Provider, id string) directory.Target {
	return directory.Target{Provider: p, ID: id, IfMatch: ifMatch(r), Base: s.scimBaseURL(r)}
}

func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	body, err := s.readObject(w, r)
	if err != nil {
		return err
	}
	proj, err := s.userProjection(r, p)
	if err != nil {
		return err
	}
	u, err := s.dir.ReplaceUser(r.Context(), s.target(r, p, id), body)
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, u, proj)
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := scim.DecodePatch(body, p.Dialect())
	if err != nil {
		return err
	}
	proj, err := s.userProjection(r, p)
	if err != nil {
		return err
	}
	u, err := s.dir.PatchUser(r.Context(), s.target(r, p, id), req)
	if err != nil {
		return err
	}
	// 200 with the user, projected when ?attributes= asks: Entra and Okta
	// read the answer of a PATCH as they read a GET, attributes included.
	return s.writeUser(w, r, http.StatusOK, u, proj)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	if err := s.dir.DeleteUser(r.Context(), s.target(r, p, id)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// declaredExtensions are the extensions of the provider's User type beyond
// the enterprise one: those its mappings declared.
func declaredExtensions(rt *scim.ResourceType) []*scim.Schema {
	var out []*scim.Schema
	for _, e := range rt.Extensions {
		if e.ID != scim.EnterpriseUserURN {
			out = append(out, e)
		}
	}
	return out
}
