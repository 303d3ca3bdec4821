package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
)

// adminListEvents serves GET /admin/v1/events: the change feed after a
// cursor (after; 0 from the oldest kept; without it, the newest events),
// at most limit (default 100, at most 10,000), of one provider
// (provider, by name) and one directory user (user: an email or a SCIM
// id; a removed user's by id).
func (s *Server) adminListEvents(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	q := directory.EventQuery{Limit: directory.DefaultEventLimit, Newest: !v.Has("after")}
	if after := v.Get("after"); v.Has("after") {
		n, err := strconv.ParseInt(after, 10, 64)
		if err != nil || n < 0 {
			return directory.Errorf(directory.EINVALID, "after must be a cursor of the feed (0 or more), not %q", clipText(after, 64))
		}
		q.After = n
	}
	if limit := v.Get("limit"); limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 {
			return directory.Errorf(directory.EINVALID, "limit must be a whole number from 1 to %d, not %q", directory.MaxEventLimit, clipText(limit, 64))
		}
		q.Limit = min(n, directory.MaxEventLimit)
	}
	provider := strings.TrimSpace(v.Get("provider"))
	infoFrom(r.Context()).provider = provider
	page, err := s.dir.EventsOf(r.Context(), provider, strings.TrimSpace(v.Get("user")), q)
	if err != nil {
		return err
	}
	list := adminapi.EventList{Events: make([]adminapi.Event, 0, len(page.Events)), Next: q.After, Last: page.Last}
	if q.Newest || page.Complete {
		// Nothing more matches up to Last: a follower of a quiet
		// provider or user goes on from there, not from an old cursor.
		list.Next = page.Last
	}
	for _, e := range page.Events {
		ae, err := adminEvent(e)
		if err != nil {
			return err
		}
		list.Events = append(list.Events, ae)
		list.Next = e.Cursor
	}
	return s.adminJSON(w, r, http.StatusOK, list)
}

func adminEvent(e *directory.Event) (adminapi.Event, error) {
	changes, err := e.Changes()
	if err != nil {
		return adminapi.Event{}, err
	}
	ae := adminapi.Event{Cursor: e.Cursor, Time: e.Time.UTC(), Type: e.Type, Provider: e.ProviderName}
	if e.UserID != "" {
		ae.User = &adminapi.EventUser{ID: e.UserID, UserName: e.UserName}
	}
	if e.GroupID != "" {
		ae.Group = &adminapi.EventGroup{ID: e.GroupID, DisplayName: e.GroupName}
	}
	for _, c := range changes {
		ae.Changes = append(ae.Changes, adminapi.FieldChange{Field: c.Field, Before: c.Before, After: c.After})
	}
	return ae, nil
}

// adminSnapshot serves GET /admin/v1/snapshot: the directory users and
// groups of one provider (provider, by name) or all, with the feed's
// cursor they are as of.
func (s *Server) adminSnapshot(w http.ResponseWriter, r *http.Request) error {
	provider := strings.TrimSpace(r.URL.Query().Get("provider"))
	infoFrom(r.Context()).provider = provider
	snap, err := s.dir.Snapshot(r.Context(), provider)
	if err != nil {
		return err
	}
	out := adminapi.Snapshot{Cursor: snap.Cursor, Users: make([]adminapi.DirectoryUser, 0, len(snap.Users)),
		Groups: make([]adminapi.SnapshotGroup, 0, len(snap.Groups))}
	names := map[string]string{}
	for _, u := range snap.Users {
		out.Users = append(out.Users, adminDirectoryUser(u))
		names[u.ProviderID] = u.ProviderName
	}
	for _, g := range snap.Groups {
		name, ok := names[g.ProviderID]
		if !ok {
			p, err := s.dir.Store.FindProviderByID(r.Context(), g.ProviderID)
			if err != nil {
				return err
			}
			name, names[g.ProviderID] = p.Name, p.Name
		}
		sg := adminapi.SnapshotGroup{Provider: name, ID: g.ID, DisplayName: g.DisplayName, Members: make([]adminapi.EventUser, 0, len(g.Members))}
		for _, m := range g.Members {
			sg.Members = append(sg.Members, adminapi.EventUser{ID: m.Value, UserName: m.Display})
		}
		out.Groups = append(out.Groups, sg)
	}
	return s.adminJSON(w, r, http.StatusOK, out)
}
