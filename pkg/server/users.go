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

// dialect is what the provider's requests are held to: RFC 7644 in strict
// mode, otherwise also Microsoft Entra ID's dialect.
func (s *Server) dialect(p *directory.Provider) scim.Options { return scim.Options{Strict: p.Strict} }

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
	mapper, err := s.dir.Mapper(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	return projection(r, mapper.ResourceType())
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
	proj, err := projection(r, mapper.ResourceType())
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
	return s.writeUser(w, r, http.StatusCreated, u, proj)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	proj, err := s.userProjection(r, p)
	if err != nil {
		return err
	}
	u, err := s.store.FindUserByID(r.Context(), p.ID, id)
	if err != nil {
		return notFound(err, "User", id)
	}
	if notModified(w, r, u.Version) {
		return nil
	}
	return s.writeUser(w, r, http.StatusOK, u, proj)
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
	var proj *scim.Projection
	// A filter naming a URN may name an extension the provider's mappings
	// declared.
	urnFilter := q.Filter != nil && strings.Contains(strings.ToLower(r.URL.Query().Get("filter")), "urn:")
	if attributes, excluded := projectionParams(r); q.SortBy != "" || len(attributes) > 0 || len(excluded) > 0 || urnFilter {
		// Only then is the provider's User type needed.
		mapper, err := s.dir.Mapper(r.Context(), p.ID)
		if err != nil {
			return err
		}
		q.Extensions = declaredExtensions(mapper.ResourceType())
		if err := sortFor(&q, mapper.ResourceType()); err != nil {
			return err
		}
		if proj, err = scim.NewProjection(mapper.ResourceType(), attributes, excluded); err != nil {
			return err
		}
	}
	users, total, err := s.store.FindUsers(r.Context(), p.ID, q)
	if err != nil {
		return err
	}
	res := make([]any, len(users))
	for i, u := range users {
		res[i] = proj.Apply(s.renderUser(r, u))
	}
	writeSCIM(w, http.StatusOK, newList(total, q.StartIndex, res))
	return nil
}

// updateUser runs a read-modify-write of one user, retrying when another
// writer changed it in between, so that concurrent PATCHes never lose each
// other's changes.
//
// ifMatch (nil: no If-Match) makes the write conditional: the user read
// must have a version it names, else 412, and the write then requires
// that version, so a concurrent write in between is 412 too rather than a
// retry (a "*" still retries: any version will do).
//
// The provider's mappings derive the directory-user fields from the new
// resource, and the store writes both in one statement.
func (s *Server) updateUser(ctx context.Context, p *directory.Provider, id string, ifMatch *scim.ETagList, change func(u *directory.User, rt *scim.ResourceType) error) (*directory.User, error) {
	mapper, err := s.dir.Mapper(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	pinned := ifMatch != nil && !ifMatch.Any
	u, err := readModifyWrite(
		func() (*directory.User, error) { return s.store.FindUserByID(ctx, p.ID, id) },
		func(u *directory.User) error {
			if err := checkIfMatch(ifMatch, "User", id, u.Version); err != nil {
				return err
			}
			if err := change(u, mapper.ResourceType()); err != nil {
				return err
			}
			u.Fields = mapper.Derive(u)
			u.LastModified = s.dir.Now()
			return nil
		},
		func(u *directory.User) error {
			return staleIsPrecondition(s.store.UpdateUser(ctx, u), pinned, "User", id)
		})
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
	proj, err := s.userProjection(r, p)
	if err != nil {
		return err
	}
	u, err := s.updateUser(r.Context(), p, id, ifMatch(r), func(u *directory.User, rt *scim.ResourceType) error {
		d, err := scim.Normalize(rt, body, s.dialect(p))
		if err != nil {
			return err
		}
		if _, ok := d["active"]; !ok {
			// A PUT without active keeps the user's status: Okta rebuilds
			// PUT bodies from GET, and losing active would suspend users.
			d["active"] = u.Active
		}
		if err := scim.KeepImmutable(rt, userDoc(u), d); err != nil {
			return err
		}
		return userFromDoc(u, d)
	})
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
	opts := s.dialect(p)
	req, err := scim.DecodePatch(body, opts)
	if err != nil {
		return err
	}
	if req.IsPasswordOnly() {
		return scim.Errorf(http.StatusBadRequest, scim.TypeMutability, passwordSyncDetail)
	}
	proj, err := s.userProjection(r, p)
	if err != nil {
		return err
	}
	u, err := s.updateUser(r.Context(), p, id, ifMatch(r), func(u *directory.User, rt *scim.ResourceType) error {
		doc, err := scim.ApplyPatch(rt, userDoc(u), req.Operations, opts)
		if err != nil {
			return err
		}
		return userFromDoc(u, doc)
	})
	if err != nil {
		return err
	}
	// 200 with the user, projected when ?attributes= asks (interop quirk
	// 34: a PATCH must not ignore it).
	return s.writeUser(w, r, http.StatusOK, u, proj)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	ctx := r.Context()
	version, err := pinnedVersion(ifMatch(r), "User", id, func() (int64, error) {
		u, err := s.store.FindUserByID(ctx, p.ID, id)
		if err != nil {
			return 0, notFound(err, "User", id)
		}
		return u.Version, nil
	})
	if err != nil {
		return err
	}
	if err := s.store.DeleteUser(ctx, p.ID, id, version); err != nil {
		return notFound(staleIsPrecondition(err, version != 0, "User", id), "User", id)
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
