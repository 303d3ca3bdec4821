// Package record holds what every store in pkg/store computes in Go, the
// same way whatever its SQL: the stored forms of resources and directory
// fields, the keys derived from them, the rules a mapping must follow, and
// the messages of the refusals that follow from them. Nothing here talks
// to a database.
package record

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
)

// ExpectedVersion is the version an optional ifVersion argument names, 0
// (any) when it names none.
func ExpectedVersion(ifVersion []int64) int64 {
	if len(ifVersion) == 0 {
		return 0
	}
	return ifVersion[0]
}

// MarshalResource is the stored form of a resource document.
func MarshalResource(m map[string]any) (string, error) {
	return marshalObject(m, "the resource")
}

// MarshalFields is the stored form of a user's directory fields.
func MarshalFields(m map[string]any) (string, error) {
	return marshalObject(m, "the directory-user fields")
}

func marshalObject(m map[string]any, what string) (string, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", directory.Errorf(directory.EINVALID, "%s cannot be stored as JSON: %v", what, err)
	}
	return string(b), nil
}

// EmailKey is the email_key of a user with these fields: its Email
// lower-cased, or nil (NULL) if it has none.
func EmailKey(fields map[string]any) any {
	if s, ok := fields[directory.FieldEmail].(string); ok && s != "" {
		return strings.ToLower(s)
	}
	return nil
}

// SameFields reports whether the fields derived (a, as MarshalFields
// wrote them) hold the same values as the stored ones (b). Equal text
// settles it at once (json.Marshal sorts the keys); otherwise they are
// compared as decoded JSON, where every number is a float64 (7 and 7.0
// are the same value) and key order or spacing do not matter.
func SameFields[T string | []byte](a string, b T) bool {
	if a == string(b) {
		return true
	}
	var x, y map[string]any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	if len(x) == 0 && len(y) == 0 {
		return true // {} and null
	}
	return reflect.DeepEqual(x, y)
}

// StoredMappings are the mappings ReplaceMappings stores: all but the
// Required ones (which exist for every provider), each with a SCIM path
// and a field (EINVALID otherwise).
func StoredMappings(mappings []*directory.Mapping) ([]*directory.Mapping, error) {
	var stored []*directory.Mapping
	for _, m := range mappings {
		if m == nil || m.Required {
			continue
		}
		if strings.TrimSpace(m.SCIMPath) == "" || strings.TrimSpace(m.Field) == "" {
			return nil, directory.Errorf(directory.EINVALID, "a mapping needs a SCIM path and a field")
		}
		stored = append(stored, m)
	}
	return stored, nil
}

// CustomFieldKeys are the lower-cased names of the fields of ms that are
// not built in: the custom fields that must exist.
func CustomFieldKeys(ms []*directory.Mapping) []string {
	var custom []string
	for _, m := range ms {
		if _, ok := directory.IsBuiltinField(strings.TrimSpace(m.Field)); !ok {
			custom = append(custom, strings.ToLower(m.Field))
		}
	}
	return custom
}

// CheckMappedFields is EINVALID unless the field of every mapping of ms
// is built in or one of the custom fields whose lower-cased names are
// existing.
func CheckMappedFields(ms []*directory.Mapping, existing []string) error {
	for _, m := range ms {
		if _, ok := directory.IsBuiltinField(strings.TrimSpace(m.Field)); !ok && !slices.Contains(existing, strings.ToLower(m.Field)) {
			return directory.Errorf(directory.EINVALID, "there is no field named %s: create it first with `kacescim fields add %s`",
				m.Field, shellArg(m.Field))
		}
	}
	return nil
}

// FieldUse is a mapping that uses a custom field.
type FieldUse struct{ Provider, Path, Field string }

// FieldInUse is the ECONFLICT error of deleting the custom field named
// field while the mappings uses (at least one) use it: it names the first,
// the command that removes it, and how many more there are.
func FieldInUse(field string, uses []FieldUse) error {
	first := uses[0]
	msg := fmt.Sprintf("custom field %q is used by provider %s's mapping %s → %s: remove that mapping first (kacescim mappings remove --provider %s --field %s)",
		field, first.Provider, first.Path, first.Field, shellArg(first.Provider), shellArg(field))
	if more := len(uses) - 1; more > 0 {
		var others []string
		for _, u := range uses[1:] {
			if !slices.Contains(others, u.Provider) {
				others = append(others, u.Provider)
			}
		}
		label := "provider"
		if len(others) > 1 {
			label = "providers"
		}
		msg += fmt.Sprintf("; %d more mapping(s) use it too (%s %s)", more, label, strings.Join(others, ", "))
	}
	return directory.Errorf(directory.ECONFLICT, "%s", msg)
}

// shellArg is s as one argument of a command line shown in a message.
func shellArg(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n'\"\\$`;&|<>()*?[]#~") {
		return strconv.Quote(s)
	}
	return s
}

// The number of log entries FindLog returns when the query names none, and
// at the most.
const (
	DefaultLogLimit = 100
	MaxLogLimit     = 10_000
)

// LogLimit is how many entries FindLog returns for a LogQuery.Limit of
// limit.
func LogLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultLogLimit
	case limit > MaxLogLimit:
		return MaxLogLimit
	}
	return limit
}

// RederiveChunk is how many users ReplaceMappings loads, derives and
// writes at a time.
const RederiveChunk = 500

// UserEventsCondition is the SQL condition, on the events row e, of a
// directory user's events, the same on every store (their migrations
// create the same events table and indexes): the user's own events
// (events_user), the membership rows that name the user
// (events_group_members), and the renames and deletions of the groups the
// user was a member of when they happened (events_group_changes), since
// each changed the user's Groups field (not after the user's deletion,
// which ended them without a membership row). user, after and member are the
// placeholders of the user's id, of the cursor the events come after and
// of MemberPattern(id); members is the members column as text.
func UserEventsCondition(user, after, member, members string) string {
	const memberRows = `type IN ('` + directory.EventGroupMembersAdded + `', '` + directory.EventGroupMembersRemoved + `')`
	return `e.seq IN (
		SELECT seq FROM events WHERE user_id = ` + user + ` AND user_id <> '' AND seq > ` + after + `
		UNION ALL
		SELECT seq FROM events WHERE ` + memberRows + ` AND seq > ` + after + ` AND ` + members + ` LIKE ` + member + ` ESCAPE '\'
		UNION ALL
		SELECT r.seq FROM events r WHERE r.type IN ('group.renamed', 'group.deleted') AND r.seq > ` + after + `
			AND NOT EXISTS (SELECT 1 FROM events d WHERE d.user_id = ` + user + ` AND d.user_id <> '' AND d.type = 'user.deleted' AND d.seq < r.seq)
			AND (SELECT m.type FROM events m WHERE m.` + memberRows + ` AND m.group_id = r.group_id AND m.seq < r.seq
				AND m.` + members + ` LIKE ` + member + ` ESCAPE '\' ORDER BY m.seq DESC LIMIT 1) = '` + directory.EventGroupMembersAdded + `')`
}

// MemberPattern is the LIKE pattern (escaped with \) of the user id in a
// membership row's members, a JSON array of [id, userName] pairs.
func MemberPattern(id string) string {
	b, _ := json.Marshal(id)
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace("[" + string(b) + ",")
	return "%" + esc + "%"
}

// EventRow is a row of the events table as a store reads it: an event,
// or a membership row that stands for one event per member.
type EventRow struct {
	directory.Event
	Span    int64
	Members string // the JSON array of [id, userName] of a membership row
}

// ExpandEvents turns rows, in cursor order, into the events they stand
// for: a membership row into one event per member, numbered from its
// first cursor (the row's Cursor, its last, minus Span-1). It keeps those
// after the cursor after, of the user userID if set, and at most limit:
// the first limit, or with newest the last.
func ExpandEvents(rows []EventRow, after int64, userID string, limit int, newest bool) ([]*directory.Event, error) {
	var out []*directory.Event
	for i := range rows {
		r := &rows[i]
		var typ string
		switch r.Type {
		case directory.EventGroupMembersAdded:
			typ = directory.EventGroupMemberAdded
		case directory.EventGroupMembersRemoved:
			typ = directory.EventGroupMemberRemoved
		default:
			if r.Cursor > after {
				e := r.Event
				out = append(out, &e)
			}
			continue
		}
		var members [][2]string
		if err := json.Unmarshal([]byte(r.Members), &members); err != nil {
			return nil, fmt.Errorf("event %d: members %.40q: %w", r.Cursor, r.Members, err)
		}
		first := r.Cursor - r.Span + 1
		for j, m := range members {
			cursor := first + int64(j)
			if cursor <= after || userID != "" && m[0] != userID {
				continue
			}
			e := r.Event
			e.Cursor, e.Type, e.UserID, e.UserName = cursor, typ, m[0], m[1]
			out = append(out, &e)
		}
	}
	if len(out) > limit {
		if newest {
			out = out[len(out)-limit:]
		} else {
			out = out[:limit]
		}
	}
	return out, nil
}

// SnapshotBuilder gathers a directory.Snapshot from a store's rows: its
// users and groups by seq, then the memberships between them.
type SnapshotBuilder struct {
	Snap   directory.Snapshot
	users  map[int64]*directory.User
	groups map[int64]*directory.Group
}

// AddUser adds a user row; fields is the stored JSON of its fields.
func (b *SnapshotBuilder) AddUser(seq int64, u *directory.User, fields string) error {
	if err := json.Unmarshal([]byte(fields), &u.Fields); err != nil {
		return fmt.Errorf("user %s: fields: %w", u.ID, err)
	}
	if b.users == nil {
		b.users = map[int64]*directory.User{}
	}
	b.users[seq] = u
	b.Snap.Users = append(b.Snap.Users, u)
	return nil
}

// AddGroup adds a group row.
func (b *SnapshotBuilder) AddGroup(seq int64, g *directory.Group) {
	if b.groups == nil {
		b.groups = map[int64]*directory.Group{}
	}
	b.groups[seq] = g
	b.Snap.Groups = append(b.Snap.Groups, g)
}

// AddMembership adds a membership row, in membership order, between rows
// added before it; one whose group or user the snapshot does not hold is
// ignored.
func (b *SnapshotBuilder) AddMembership(groupSeq, userSeq int64) {
	g, u := b.groups[groupSeq], b.users[userSeq]
	if g == nil || u == nil {
		return
	}
	g.Members = append(g.Members, directory.Member{Value: u.ID, Display: u.UserName})
	u.Groups = append(u.Groups, directory.GroupRef{ID: g.ID, DisplayName: g.DisplayName})
}
