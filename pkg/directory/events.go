package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"
)

// The types of events: what changed in the directory. A user's directory
// fields (Changes) come with user.created, user.updated,
// user.activated, user.deactivated and user.deleted; a group's names with
// group.renamed. A deletion implies the end of the memberships it takes
// with it: they have no events of their own.
const (
	EventUserCreated        = "user.created"
	EventUserUpdated        = "user.updated"
	EventUserActivated      = "user.activated"
	EventUserDeactivated    = "user.deactivated"
	EventUserDeleted        = "user.deleted"
	EventGroupCreated       = "group.created"
	EventGroupRenamed       = "group.renamed"
	EventGroupDeleted       = "group.deleted"
	EventGroupMemberAdded   = "group.member_added"
	EventGroupMemberRemoved = "group.member_removed"
)

// The stores' rows of membership changes, each of which stands for one
// group.member_added (group.member_removed) event per member. They never
// reach a reader of the feed.
const (
	EventGroupMembersAdded   = "group.members_added"
	EventGroupMembersRemoved = "group.members_removed"
)

// EventTypes lists the event types, in the order above.
var EventTypes = []string{EventUserCreated, EventUserUpdated, EventUserActivated, EventUserDeactivated, EventUserDeleted,
	EventGroupCreated, EventGroupRenamed, EventGroupDeleted, EventGroupMemberAdded, EventGroupMemberRemoved}

// Event is one change of the directory, appended by the store in the
// transaction of the change itself: a committed change always has its
// event, a refused or rolled-back one never has. Cursor increases in
// commit order (on PostgreSQL too, across replicas): a consumer that
// asks for the events after the last cursor it saw sees every event
// once.
type Event struct {
	Cursor       int64
	Time         time.Time
	Type         string
	ProviderID   string
	ProviderName string // filled on reads; "" once the provider is removed
	// The user of user.* and group.member_* events, and the group of
	// group.* events, as they are after the change (before it, for a
	// deletion).
	UserID, UserName   string
	GroupID, GroupName string
	// Before and After are the store's JSON around the change: the
	// user's directory-user fields (an object), or the group's name (a
	// string) around a rename; "" for none. Changes reads them.
	Before, After string
}

// FieldChange is one directory-user field an event changed. Before or
// After is nil where the field had or has no value.
type FieldChange struct {
	Field  string
	Before any
	After  any
}

// Changes lists the fields e changed, by name: each field of a created
// user, each that differs around an update, each of a deleted user, and
// displayName for a renamed group.
func (e *Event) Changes() ([]FieldChange, error) {
	if e.Type == EventGroupRenamed {
		var before, after string
		if err := decodeEventJSON(e.Before, &before); err != nil {
			return nil, err
		}
		if err := decodeEventJSON(e.After, &after); err != nil {
			return nil, err
		}
		return []FieldChange{{Field: "displayName", Before: before, After: after}}, nil
	}
	var before, after map[string]any
	if err := decodeEventJSON(e.Before, &before); err != nil {
		return nil, err
	}
	if err := decodeEventJSON(e.After, &after); err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(before))
	for name := range after {
		if _, ok := before[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []FieldChange
	for _, name := range names {
		b, a := before[name], after[name]
		if reflect.DeepEqual(b, a) {
			continue
		}
		out = append(out, FieldChange{Field: name, Before: b, After: a})
	}
	return out, nil
}

func decodeEventJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("event: stored JSON %.40q: %w", s, err)
	}
	return nil
}

// EventQuery selects events: those after the cursor After, in cursor
// order, at most Limit (0: DefaultEventLimit), of one provider and one
// user when set (a user's events include their memberships'). Newest
// selects the newest Limit that match instead (After is then ignored),
// still in cursor order.
type EventQuery struct {
	After      int64
	Limit      int
	ProviderID string
	UserID     string
	Newest     bool
}

// Limits of an EventQuery.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 10_000
)

// EventPage is what FindEvents returns: the events, the newest cursor
// of the whole feed (Last: 0 while it is empty) and the highest cursor
// pruning removed (Pruned: a cursor below it has lost events). Complete
// says that Events are every event up to Last that the query selects (the
// limit cut none), so that a reader may go on after Last.
type EventPage struct {
	Events   []*Event
	Last     int64
	Pruned   int64
	Complete bool
}

// EventLimits is what PruneEvents keeps: events from Before on (zero: no
// bound by age), at most MaxEntries of them (0: no bound by count).
type EventLimits struct {
	Before     time.Time
	MaxEntries int
}

// EventStore keeps the change feed; the store's writes append its events
// (in their own transactions). Store embeds it.
type EventStore interface {
	// FindEvents returns the page of events q selects, with ProviderName,
	// and the feed's Last and Pruned cursors, read after the events.
	FindEvents(ctx context.Context, q EventQuery) (*EventPage, error)
	// PruneEvents deletes the events beyond l, the oldest first, moving
	// Pruned to the highest cursor it deleted; it returns how many.
	PruneEvents(ctx context.Context, l EventLimits) (int, error)
	// Snapshot reads the users and groups of the provider providerID (""
	// for all), in creation order, and the feed's newest cursor, in one
	// snapshot: the directory as of that cursor.
	Snapshot(ctx context.Context, providerID string) (*Snapshot, error)
}

// EventRetention is what the change feed keeps: events younger than
// MaxAge, at most MaxEntries of them (0: no bound of that kind).
type EventRetention struct {
	MaxAge     time.Duration
	MaxEntries int
}

// Events returns the events after q.After. A cursor older than what the
// feed still holds is EGONE: events after it were pruned, and the
// consumer must resync (a snapshot of the directory) before it follows
// the feed again; a cursor beyond the newest event is EINVALID (it is
// not this directory's).
func (s *Service) Events(ctx context.Context, q EventQuery) (*EventPage, error) {
	if q.After < 0 {
		return nil, Errorf(EINVALID, "a cursor is 0 or more, not %d", q.After)
	}
	if q.Limit <= 0 {
		q.Limit = DefaultEventLimit
	}
	q.Limit = min(q.Limit, MaxEventLimit)
	page, err := s.Store.FindEvents(ctx, q)
	if err != nil {
		return nil, err
	}
	switch {
	case q.Newest, q.After == 0: // the newest, or from the oldest kept
	case q.After < page.Pruned:
		return nil, Errorf(EGONE, "the events after cursor %d were pruned (the feed keeps those after %d): resync the directory, then follow the feed from the cursor the snapshot gives", q.After, page.Pruned)
	case q.After > page.Last:
		return nil, Errorf(EINVALID, "cursor %d is beyond the newest event (%d): it is not a cursor of this directory's feed", q.After, page.Last)
	}
	return page, nil
}

// PruneEvents applies r and returns how many events it deleted. Events
// are timed by the database's clock, so their age is the wall clock's.
func (s *Service) PruneEvents(ctx context.Context, r EventRetention) (int, error) {
	l := EventLimits{MaxEntries: r.MaxEntries}
	if r.MaxAge > 0 {
		l.Before = time.Now().Add(-r.MaxAge)
	}
	return s.Store.PruneEvents(ctx, l)
}

// EventsOf is Events of one provider (providerName, "" for all) and one
// directory user (userKey: an email or a SCIM id, "" for all). A key no
// current user has is taken as the id of a removed one, whose events
// the feed may still hold.
func (s *Service) EventsOf(ctx context.Context, providerName, userKey string, q EventQuery) (*EventPage, error) {
	if providerName != "" {
		p, err := s.Provider(ctx, providerName)
		if err != nil {
			return nil, err
		}
		q.ProviderID = p.ID
	}
	if userKey != "" {
		u, err := s.Store.FindEntry(ctx, userKey)
		switch {
		case err == nil:
			q.UserID = u.ID
		case ErrorCode(err) == ENOTFOUND:
			q.UserID = userKey
		default:
			return nil, err
		}
	}
	return s.Events(ctx, q)
}

// Snapshot is the directory as of a cursor of the change feed: what a
// consumer that lost its cursor (EGONE) reads again, then follows the feed
// from Cursor. Users have ProviderID, ID, UserName, Fields, Groups and
// LastModified; Groups have ProviderID, ID, DisplayName and Members (the
// users' ids and userNames).
type Snapshot struct {
	Cursor int64
	Users  []*User
	Groups []*Group
}

// DirectorySnapshot is a Snapshot as the admin sees it: directory users
// with their fields as the mappings derive them (the Groups field too).
type DirectorySnapshot struct {
	Cursor int64
	Users  []*Entry
	Groups []*Group
}

// Snapshot reads the directory of one provider (providerName, "" for
// all) and the feed's newest cursor in one snapshot of the database.
func (s *Service) Snapshot(ctx context.Context, providerName string) (*DirectorySnapshot, error) {
	var providerID string
	if providerName != "" {
		p, err := s.Provider(ctx, providerName)
		if err != nil {
			return nil, err
		}
		providerID = p.ID
	}
	snap, err := s.Store.Snapshot(ctx, providerID)
	if err != nil {
		return nil, err
	}
	out := &DirectorySnapshot{Cursor: snap.Cursor, Users: make([]*Entry, len(snap.Users)), Groups: snap.Groups}
	mappers := newMapperCache(s)
	for i, u := range snap.Users {
		if out.Users[i], err = mappers.view(ctx, u); err != nil {
			return nil, err
		}
	}
	return out, nil
}
