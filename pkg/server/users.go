package server

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// groupRT is the Group resource type; the User type is per provider
// (directory.Mapper.ResourceType), as mappings may declare extensions.
var groupRT = scim.GroupResourceType()

// passwordSyncDetail answers Okta's password sync, which kacescim does not
// support (the brief: "Sync Password … is not supported").
const passwordSyncDetail = "password sync is not supported by kacescim: clear Sync Password in the identity provider's provisioning settings (Okta: Provisioning > To App)"

func (s *Server) dialect(p *directory.Provider) scim.Options { return scim.Options{} }

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

// userFromDoc validates a normalized User document and fills the indexed
// fields of u from it. active defaults to true when the document has none.
func userFromDoc(u *directory.User, doc map[string]any) error {
	name, _ := doc["userName"].(string)
	if name == "" {
		return scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "userName is required and must be a non-empty string")
	}
	if _, ok := doc["active"].(bool); !ok {
		doc["active"] = true
	}
	u.UserName = name
	u.ExternalID, _ = doc["externalId"].(string)
	u.DisplayName, _ = doc["displayName"].(string)
	u.Active = doc["active"].(bool)
	delete(doc, "externalId") // kept in its column, rendered from there
	u.Resource = doc
	return nil
}

// userDoc is the document a PATCH applies to: the stored resource with
// externalId put back.
func userDoc(u *directory.User) map[string]any {
	doc := scim.CopyMap(u.Resource)
	if u.ExternalID != "" {
		doc["externalId"] = u.ExternalID
	}
	return doc
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

func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, status int, u *directory.User) error {
	w.Header().Set("ETag", etag(u.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", s.scimBaseURL(r)+"/Users/"+u.ID)
	}
	writeSCIM(w, status, s.renderUser(r, u))
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p *directory.Provider) error {
	body, err := s.readObject(w, r)
	if err != nil {
		return err
	}
	mapper, err := s.dir.Mapper(r.Context(), p.ID)
	if err != nil {
		return err
	}
	doc, err := scim.Normalize(mapper.ResourceType(), body, s.dialect(p))
	if err != nil {
		return err
	}
	now := s.dir.Now()
	u := &directory.User{ProviderID: p.ID, ID: uuid.NewString(), Created: now, LastModified: now}
	if err := userFromDoc(u, doc); err != nil {
		return err
	}
	u.Fields = mapper.Derive(u)
	if err := s.store.CreateUser(r.Context(), u); err != nil {
		return err
	}
	infoFrom(r.Context()).resourceID = u.ID
	return s.writeUser(w, r, http.StatusCreated, u)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	u, err := s.store.FindUserByID(r.Context(), p.ID, id)
	if err != nil {
		return notFound(err, "User", id)
	}
	return s.writeUser(w, r, http.StatusOK, u)
}

// notFound gives a missing resource the detail the SPEC test checks.
func notFound(err error, kind, id string) error {
	if directory.ErrorCode(err) == directory.ENOTFOUND {
		return scim.Errorf(http.StatusNotFound, "", "%s %s not found", kind, id)
	}
	return err
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p *directory.Provider) error {
	q, err := listQuery(r)
	if err != nil {
		return err
	}
	users, total, err := s.store.FindUsers(r.Context(), p.ID, q)
	if err != nil {
		return err
	}
	res := make([]any, len(users))
	for i, u := range users {
		res[i] = s.renderUser(r, u)
	}
	writeSCIM(w, http.StatusOK, newList(total, q.StartIndex, res))
	return nil
}

func listQuery(r *http.Request) (directory.Query, error) {
	start, count, err := page(r)
	if err != nil {
		return directory.Query{}, err
	}
	q := directory.Query{StartIndex: start, Count: count}
	if f := r.URL.Query().Get("filter"); f != "" {
		if q.Filter, err = scim.ParseFilter(f); err != nil {
			return q, err
		}
	}
	return q, nil
}

// updateUser runs a read-modify-write of one user, retrying when another
// writer changed it in between, so that concurrent PATCHes never lose each
// other's changes.
//
// The provider's mappings derive the directory-user fields from the new
// resource, and the store writes both in one statement.
func (s *Server) updateUser(ctx context.Context, p *directory.Provider, id string, change func(u *directory.User, rt *scim.ResourceType) error) (*directory.User, error) {
	mapper, err := s.dir.Mapper(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	u, err := readModifyWrite(
		func() (*directory.User, error) { return s.store.FindUserByID(ctx, p.ID, id) },
		func(u *directory.User) error {
			if err := change(u, mapper.ResourceType()); err != nil {
				return err
			}
			u.Fields = mapper.Derive(u)
			u.LastModified = s.dir.Now()
			return nil
		},
		func(u *directory.User) error { return s.store.UpdateUser(ctx, u) })
	return u, notFound(err, "User", id)
}

// readModifyWrite loads a resource, changes it and saves it, starting again
// when the save finds that another writer changed the resource in between
// (ESTALE), so that concurrent PATCHes never lose each other's changes.
func readModifyWrite[T any](load func() (T, error), change func(T) error, save func(T) error) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := load()
		if err == nil {
			err = change(v)
		}
		if err == nil {
			err = save(v)
		}
		if directory.ErrorCode(err) == directory.ESTALE && attempt < maxRetries {
			continue
		}
		return v, err
	}
}

func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	body, err := s.readObject(w, r)
	if err != nil {
		return err
	}
	u, err := s.updateUser(r.Context(), p, id, func(u *directory.User, rt *scim.ResourceType) error {
		d, err := scim.Normalize(rt, body, s.dialect(p))
		if err != nil {
			return err
		}
		if _, ok := d["active"]; !ok {
			// A PUT without active keeps the user's status: Okta rebuilds
			// PUT bodies from GET, and losing active would suspend users.
			d["active"] = u.Active
		}
		return userFromDoc(u, d)
	})
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, u)
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	opts := s.dialect(p)
	req, err := scim.DecodePatch(body, opts)
	if err != nil {
		return err
	}
	if req.IsPasswordOnly() {
		return scim.Errorf(http.StatusBadRequest, scim.TypeMutability, passwordSyncDetail)
	}
	u, err := s.updateUser(r.Context(), p, id, func(u *directory.User, rt *scim.ResourceType) error {
		doc, err := scim.ApplyPatch(rt, userDoc(u), req.Operations, opts)
		if err != nil {
			return err
		}
		return userFromDoc(u, doc)
	})
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusOK, u)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	if err := s.store.DeleteUser(r.Context(), p.ID, id); err != nil {
		return notFound(err, "User", id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
