package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// groupFromDoc validates a normalized Group document and fills g from it:
// the indexed fields, the members (users of the same provider; the store
// checks that they exist) and the rest of the resource.
func groupFromDoc(g *directory.Group, doc map[string]any) error {
	name, _ := doc["displayName"].(string)
	if name == "" {
		return scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "displayName is required and must be a non-empty string")
	}
	g.DisplayName = name
	g.ExternalID, _ = doc["externalId"].(string)
	members, _ := doc["members"].([]any)
	g.Members = make([]directory.Member, 0, len(members))
	for _, m := range members {
		mm, _ := m.(map[string]any)
		value, _ := mm["value"].(string)
		if value == "" {
			return scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "every member needs a value: the id of a user")
		}
		if t, _ := mm["type"].(string); t != "" && !strings.EqualFold(t, "User") {
			return scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "member %q has type %q: only users can be members of a group", value, t)
		}
		display, _ := mm["display"].(string)
		g.Members = append(g.Members, directory.Member{Value: value, Display: display})
	}
	delete(doc, "members")
	delete(doc, "externalId")
	g.Resource = doc
	return nil
}

// groupDoc is the document a PATCH applies to, and the one a PUT replaces.
// Members carry their type and $ref as GET shows them (base is the SCIM
// base URL): both are immutable, set for every member, and a PATCH or PUT
// may restate but not change them.
func groupDoc(g *directory.Group, base string) map[string]any {
	doc := scim.CopyMap(g.Resource)
	if g.ExternalID != "" {
		doc["externalId"] = g.ExternalID
	}
	if len(g.Members) > 0 {
		members := make([]any, len(g.Members))
		for i, m := range g.Members {
			members[i] = memberDoc(m, base)
		}
		doc["members"] = members
	}
	return doc
}

// memberDoc is a member as a group document holds it: only users are
// members, so its type is User and its $ref the user's location.
func memberDoc(m directory.Member, base string) map[string]any {
	mm := map[string]any{"value": m.Value, "$ref": base + "/Users/" + m.Value, "type": "User"}
	if m.Display != "" {
		mm["display"] = m.Display
	}
	return mm
}

func (s *Server) renderGroup(r *http.Request, g *directory.Group, withMembers bool) map[string]any {
	out := make(map[string]any, len(g.Resource)+5)
	for k, v := range g.Resource {
		out[k] = v
	}
	out["schemas"] = []string{scim.GroupURN}
	out["id"] = g.ID
	if g.ExternalID != "" {
		out["externalId"] = g.ExternalID
	}
	base := s.scimBaseURL(r)
	if withMembers {
		members := make([]any, len(g.Members))
		for i, m := range g.Members {
			members[i] = memberDoc(m, base)
		}
		out["members"] = members
	}
	out["meta"] = meta("Group", base+"/Groups/"+g.ID, g.Created, g.LastModified, g.Version)
	return out
}

// wantsMembers reports whether a group projected by proj holds members,
// which is what decides whether they are read at all: not when
// excludedAttributes names members (Entra reads groups that way, interop
// quirk 19), nor when attributes leaves them out (attributes=displayName),
// so that reading a group of 100,000 members costs what reading an empty
// one does.
func wantsMembers(proj *scim.Projection) bool { return proj.Returns("members") }

// writeGroup writes g as proj selects it, with its ETag. g.Members must
// have been read when wantsMembers(proj).
func (s *Server) writeGroup(w http.ResponseWriter, r *http.Request, status int, g *directory.Group, proj *scim.Projection) error {
	w.Header().Set("ETag", etag(g.Version))
	if status == http.StatusCreated {
		w.Header().Set("Location", s.scimBaseURL(r)+"/Groups/"+g.ID)
	}
	writeSCIM(w, status, proj.Apply(s.renderGroup(r, g, wantsMembers(proj))))
	return nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, p *directory.Provider) error {
	body, err := s.readObject(w, r)
	if err != nil {
		return err
	}
	proj, err := projection(r, groupRT)
	if err != nil {
		return err
	}
	doc, err := scim.Normalize(groupRT, body, s.dialect(p))
	if err != nil {
		return err
	}
	now := s.dir.Now()
	g := &directory.Group{ProviderID: p.ID, ID: uuid.NewString(), Created: now, LastModified: now}
	if err := groupFromDoc(g, doc); err != nil {
		return err
	}
	if err := s.store.CreateGroup(r.Context(), g); err != nil {
		return err
	}
	infoFrom(r.Context()).resourceID = g.ID
	return s.writeGroup(w, r, http.StatusCreated, g, proj)
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	proj, err := projection(r, groupRT)
	if err != nil {
		return err
	}
	withMembers := wantsMembers(proj)
	if withMembers && r.Header.Get("If-None-Match") != "" {
		// Answer a revalidation without reading the members.
		g, err := s.store.FindGroupByID(r.Context(), p.ID, id, false)
		if err != nil {
			return notFound(err, "Group", id)
		}
		if notModified(w, r, g.Version) {
			return nil
		}
	}
	g, err := s.store.FindGroupByID(r.Context(), p.ID, id, withMembers)
	if err != nil {
		return notFound(err, "Group", id)
	}
	if notModified(w, r, g.Version) {
		return nil
	}
	return s.writeGroup(w, r, http.StatusOK, g, proj)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, p *directory.Provider) error {
	q, err := listQuery(r)
	if err != nil {
		return err
	}
	if err := sortFor(&q, groupRT); err != nil {
		return err
	}
	proj, err := projection(r, groupRT)
	if err != nil {
		return err
	}
	q.WithMembers = wantsMembers(proj)
	groups, total, err := s.store.FindGroups(r.Context(), p.ID, q)
	if err != nil {
		return err
	}
	res := make([]any, len(groups))
	for i, g := range groups {
		res[i] = proj.Apply(s.renderGroup(r, g, q.WithMembers))
	}
	writeSCIM(w, http.StatusOK, newList(total, q.StartIndex, res))
	return nil
}

// updateGroup is updateUser for groups, If-Match included.
func (s *Server) updateGroup(ctx context.Context, p *directory.Provider, id string, ifMatch *scim.ETagList, change func(g *directory.Group) error) (*directory.Group, error) {
	pinned := ifMatch != nil && !ifMatch.Any
	g, err := readModifyWrite(
		func() (*directory.Group, error) { return s.store.FindGroupByID(ctx, p.ID, id, true) },
		func(g *directory.Group) error {
			if err := checkIfMatch(ifMatch, "Group", id, g.Version); err != nil {
				return err
			}
			if err := change(g); err != nil {
				return err
			}
			g.LastModified = s.dir.Now()
			return nil
		},
		func(g *directory.Group) error {
			return staleIsPrecondition(s.store.UpdateGroup(ctx, g), pinned, "Group", id)
		})
	return g, notFound(err, "Group", id)
}

func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	body, err := s.readObject(w, r)
	if err != nil {
		return err
	}
	proj, err := projection(r, groupRT)
	if err != nil {
		return err
	}
	doc, err := scim.Normalize(groupRT, body, s.dialect(p))
	if err != nil {
		return err
	}
	base := s.scimBaseURL(r)
	g, err := s.updateGroup(r.Context(), p, id, ifMatch(r), func(g *directory.Group) error {
		d := scim.CopyMap(doc)
		if err := scim.KeepImmutable(groupRT, groupDoc(g, base), d); err != nil {
			return err
		}
		return groupFromDoc(g, d)
	})
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, http.StatusOK, g, proj)
}

// patchGroup answers 204, as Entra advises and Okta accepts (interop
// quirk 20), unless the client asks for attributes back with ?attributes=
// (excludedAttributes alone still gets 204).
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	opts := s.dialect(p)
	req, err := scim.DecodePatch(body, opts)
	if err != nil {
		return err
	}
	proj, err := projection(r, groupRT)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var (
		g           *directory.Group
		haveMembers bool // g.Members holds the group's members
	)
	if d, ok := scim.AsMembershipDelta(req.Operations, opts); ok {
		// Membership pushes and renames touch only the members they name,
		// whatever the size of the group; If-Match pins the version the
		// delta's own statement requires.
		delta := groupDelta(d, s.dir.Now())
		delta.IfVersion, err = pinnedVersion(ifMatch(r), "Group", id, s.groupVersion(ctx, p, id))
		if err != nil {
			return err
		}
		g, err = s.store.ApplyGroupDelta(ctx, p.ID, id, delta)
		err = notFound(staleIsPrecondition(err, delta.IfVersion != 0, "Group", id), "Group", id)
	} else {
		haveMembers = true
		g, err = s.updateGroup(ctx, p, id, ifMatch(r), func(g *directory.Group) error {
			doc, err := scim.ApplyPatch(groupRT, groupDoc(g, s.scimBaseURL(r)), req.Operations, opts)
			if err != nil {
				return err
			}
			return groupFromDoc(g, doc)
		})
	}
	if err != nil {
		return err
	}
	if attributes, _ := projectionParams(r); len(attributes) > 0 {
		if wantsMembers(proj) && !haveMembers {
			// The fast path returns the group without its members.
			if g, err = s.store.FindGroupByID(ctx, p.ID, id, true); err != nil {
				return notFound(err, "Group", id)
			}
		}
		return s.writeGroup(w, r, http.StatusOK, g, proj)
	}
	w.Header().Set("ETag", etag(g.Version))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// groupVersion returns a reader of the group's current version (without
// its members), for pinnedVersion.
func (s *Server) groupVersion(ctx context.Context, p *directory.Provider, id string) func() (int64, error) {
	return func() (int64, error) {
		g, err := s.store.FindGroupByID(ctx, p.ID, id, false)
		if err != nil {
			return 0, notFound(err, "Group", id)
		}
		return g.Version, nil
	}
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	ctx := r.Context()
	version, err := pinnedVersion(ifMatch(r), "Group", id, s.groupVersion(ctx, p, id))
	if err != nil {
		return err
	}
	if err := s.store.DeleteGroup(ctx, p.ID, id, version); err != nil {
		return notFound(staleIsPrecondition(err, version != 0, "Group", id), "Group", id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func groupDelta(d *scim.MembershipDelta, now time.Time) directory.GroupDelta {
	out := directory.GroupDelta{DisplayName: d.DisplayName, RemoveMembers: d.Remove, LastModified: now}
	for _, m := range d.Add {
		out.AddMembers = append(out.AddMembers, directory.Member{Value: m.Value, Display: m.Display})
	}
	return out
}
