package server

import (
	"net/http"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

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
			members[i] = m.Doc(base)
		}
		out["members"] = members
	}
	out["meta"] = meta("Group", base+"/Groups/"+g.ID, g.Created, g.LastModified, g.Version)
	return out
}

// wantsMembers reports whether a group projected by proj holds members,
// which is what decides whether they are read at all: not when
// excludedAttributes names members (Entra reads every group that way, as
// its documentation advises), nor when attributes leaves them out
// (attributes=displayName),
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
	g, err := s.dir.CreateGroup(r.Context(), p, body)
	if err != nil {
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
		g, err := s.dir.FindGroup(r.Context(), p, id, false)
		if err != nil {
			return err
		}
		if notModified(w, r, g.Version) {
			return nil
		}
	}
	g, err := s.dir.FindGroup(r.Context(), p, id, withMembers)
	if err != nil {
		return err
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
	groups, total, err := s.dir.FindGroups(r.Context(), p, q)
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

func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	body, err := s.readObject(w, r)
	if err != nil {
		return err
	}
	proj, err := projection(r, groupRT)
	if err != nil {
		return err
	}
	g, err := s.dir.ReplaceGroup(r.Context(), s.target(r, p, id), body)
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, http.StatusOK, g, proj)
}

// patchGroup answers 204, as Entra advises and Okta accepts, unless the
// client asks for attributes back with ?attributes= (excludedAttributes
// alone still gets 204): a 200 would make the server render, and Okta's
// Push Now read, a group of every member after every membership change.
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := scim.DecodePatch(body, p.Dialect())
	if err != nil {
		return err
	}
	proj, err := projection(r, groupRT)
	if err != nil {
		return err
	}
	attributes, _ := projectionParams(r)
	g, err := s.dir.PatchGroup(r.Context(), s.target(r, p, id), req, len(attributes) > 0 && wantsMembers(proj))
	if err != nil {
		return err
	}
	if len(attributes) > 0 {
		return s.writeGroup(w, r, http.StatusOK, g, proj)
	}
	w.Header().Set("ETag", etag(g.Version))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	if err := s.dir.DeleteGroup(r.Context(), s.target(r, p, id)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
