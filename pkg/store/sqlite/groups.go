package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/record"
	"github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// groupColumns is what scanGroup reads, in order.
const groupColumns = `seq, id, display_name, external_id, resource, created, last_modified, version`

func scanGroup(row scanner, providerID string) (*directory.Group, int64, error) {
	var (
		g                 directory.Group
		seq               int64
		resource          string
		created, modified int64
	)
	err := row.Scan(&seq, &g.ID, &g.DisplayName, &g.ExternalID, &resource, &created, &modified, &g.Version)
	if err != nil {
		return nil, 0, err
	}
	if g.Resource, err = unmarshalResource(resource); err != nil {
		return nil, 0, err
	}
	g.ProviderID = providerID
	g.Created, g.LastModified = fromMS(created), fromMS(modified)
	return &g, seq, nil
}

// member is a group member resolved to the user row it names.
type member struct {
	userSeq int64
	directory.Member
}

// resolveMembers maps each member value to the seq of the provider's user
// with that id, in one query, keeping the first of duplicate values;
// EINVALID for a value that is not a user of the provider.
func resolveMembers(ctx context.Context, h handle, providerID string, ms []directory.Member) ([]member, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	var (
		out  = make([]member, 0, len(ms))
		seen = make(map[string]bool, len(ms))
		ids  = make([]string, 0, len(ms))
	)
	for _, m := range ms {
		if !seen[m.Value] {
			seen[m.Value] = true
			out = append(out, member{Member: m})
			ids = append(ids, m.Value)
		}
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, dbError(err, subject{})
	}
	const q = `SELECT id, seq FROM users WHERE provider_id = ? AND id IN (SELECT value FROM json_each(?))`
	rows, err := h.QueryContext(ctx, q, providerID, string(list))
	if err != nil {
		return nil, dbError(err, subject{})
	}
	defer rows.Close()
	seqs := make(map[string]int64, len(ids))
	for rows.Next() {
		var (
			id  string
			seq int64
		)
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, dbError(err, subject{})
		}
		seqs[id] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, subject{})
	}
	for i, m := range out {
		seq, ok := seqs[m.Value]
		if !ok {
			return nil, directory.Errorf(directory.EINVALID, "member %q is not a user of this provider", m.Value)
		}
		out[i].userSeq = seq
	}
	return out, nil
}

// memberEvents appends the row of the change feed that stands for one
// event per user (by seq, in order) a write added to (type
// group.members_added) or removed from (group.members_removed) the group
// groupSeq: span cursors, the row's seq the last of them (migration 0012).
// Nothing for no users.
func memberEvents(ctx context.Context, h handle, groupSeq int64, typ string, userSeqs []int64) error {
	if len(userSeqs) == 0 {
		return nil
	}
	const q = `INSERT INTO events (seq, time, type, provider_id, group_id, group_name, span, members)
		SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0) + ?1, CAST(unixepoch('subsec') * 1000 AS INTEGER), ?2,
			g.provider_id, g.id, g.display_name, ?1,
			(SELECT json_group_array(json_array(u.id, u.user_name) ORDER BY j.key) FROM json_each(?3) j JOIN users u ON u.seq = j.value)
		FROM groups g WHERE g.seq = ?4`
	_, err := h.ExecContext(ctx, q, len(userSeqs), typ, intList(userSeqs), groupSeq)
	return dbError(err, subject{Kind: "event"})
}

// userSeqs are the users' seqs of resolved, in order.
func userSeqs(resolved []member) []int64 {
	seqs := make([]int64, len(resolved))
	for i, m := range resolved {
		seqs[i] = m.userSeq
	}
	return seqs
}

// members returns the Members of resolved.
func members(resolved []member) []directory.Member {
	if resolved == nil {
		return nil
	}
	ms := make([]directory.Member, len(resolved))
	for i, m := range resolved {
		ms[i] = m.Member
	}
	return ms
}

// CreateGroup inserts g with Version 1 and its members in one transaction;
// ECONFLICT if the provider already has the displayName
// (case-insensitively), EINVALID if a member is not a user of the same
// provider, ENOTFOUND if there is no such provider. Duplicate member
// values collapse to the first; g.Members is set to what was stored.
func (db *DB) CreateGroup(ctx context.Context, g *directory.Group) error {
	resource, err := record.MarshalResource(g.Resource)
	if err != nil {
		return err
	}
	const (
		provider = `SELECT 1 FROM providers WHERE id = ?`
		insert   = `INSERT INTO groups (provider_id, id, display_name, display_name_key, external_id, resource,
			created, last_modified, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)`
		addMember = `INSERT INTO group_members (group_seq, user_seq, display) VALUES (?, ?, ?)`
	)
	var resolved []member
	err = db.write(ctx, func(h handle) error {
		var one int
		if err := h.QueryRowContext(ctx, provider, g.ProviderID).Scan(&one); err != nil {
			return dbError(err, subject{Kind: "provider", ID: g.ProviderID})
		}
		var err error
		if resolved, err = resolveMembers(ctx, h, g.ProviderID, g.Members); err != nil {
			return err
		}
		res, err := h.ExecContext(ctx, insert, g.ProviderID, g.ID, g.DisplayName, strings.ToLower(g.DisplayName),
			g.ExternalID, resource, toMS(g.Created), toMS(g.LastModified))
		if err != nil {
			return dbError(err, subject{Kind: "group", ID: g.ID, Name: g.DisplayName})
		}
		groupSeq, err := res.LastInsertId()
		if err != nil || len(resolved) == 0 {
			return dbError(err, subject{})
		}
		for _, m := range resolved {
			if _, err := h.ExecContext(ctx, addMember, groupSeq, m.userSeq, m.Display); err != nil {
				return dbError(err, subject{})
			}
		}
		return memberEvents(ctx, h, groupSeq, directory.EventGroupMembersAdded, userSeqs(resolved))
	})
	if err != nil {
		return err
	}
	g.Version = 1
	g.Members = members(resolved)
	return nil
}

// FindGroupByID returns the group, with Members (in the order they were
// added) only if withMembers; ENOTFOUND if none.
func (db *DB) FindGroupByID(ctx context.Context, providerID, id string, withMembers bool) (*directory.Group, error) {
	const q = `SELECT ` + groupColumns + ` FROM groups WHERE provider_id = ? AND id = ?`
	var g *directory.Group
	err := db.read(ctx, func(h handle) error {
		var (
			seq int64
			err error
		)
		g, seq, err = scanGroup(h.QueryRowContext(ctx, q, providerID, id), providerID)
		if err != nil || !withMembers {
			return dbError(err, subject{Kind: "group", ID: id})
		}
		ms, err := groupMembers(ctx, h, []int64{seq})
		g.Members = ms[seq]
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// FindGroups returns one page of the provider's groups in creation order,
// or in the order of q.SortBy (sqlfilter), and the number of groups that
// match q.Filter; Members are filled only if q.WithMembers.
func (db *DB) FindGroups(ctx context.Context, providerID string, q directory.Query) ([]*directory.Group, int, error) {
	sel, err := sqlfilter.Select(dialect{}, db.groups, db.groups, providerID, q)
	if err != nil {
		return nil, 0, err
	}

	var (
		groups []*directory.Group
		total  int
	)
	err = db.read(ctx, func(h handle) error {
		err := h.QueryRowContext(ctx, sel.Count(), sel.WhereArgs()...).Scan(&total)
		if err != nil || sel.Limit == 0 || sel.Offset >= total {
			return dbError(err, subject{})
		}
		rows, err := h.QueryContext(ctx, sel.Page(groupColumns), sel.PageArgs()...)
		if err != nil {
			return dbError(err, subject{})
		}
		defer rows.Close()
		var seqs []int64
		for rows.Next() {
			g, seq, err := scanGroup(rows, providerID)
			if err != nil {
				return dbError(err, subject{})
			}
			groups = append(groups, g)
			seqs = append(seqs, seq)
		}
		if err := rows.Err(); err != nil || !q.WithMembers {
			return dbError(err, subject{})
		}
		rows.Close()
		ms, err := groupMembers(ctx, h, seqs)
		for i, g := range groups {
			g.Members = ms[seqs[i]]
		}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return groups, total, nil
}

// groupMembers returns the members of the groups with the given seqs, each
// list in the order the members were added, in one query.
func groupMembers(ctx context.Context, h handle, seqs []int64) (map[int64][]directory.Member, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	const q = `SELECT gm.group_seq, u.id, gm.display
		FROM group_members gm JOIN users u ON u.seq = gm.user_seq
		WHERE gm.group_seq IN (SELECT value FROM json_each(?))
		ORDER BY gm.group_seq, gm.seq`
	rows, err := h.QueryContext(ctx, q, intList(seqs))
	if err != nil {
		return nil, dbError(err, subject{})
	}
	defer rows.Close()
	ms := map[int64][]directory.Member{}
	for rows.Next() {
		var (
			seq int64
			m   directory.Member
		)
		if err := rows.Scan(&seq, &m.Value, &m.Display); err != nil {
			return nil, dbError(err, subject{})
		}
		ms[seq] = append(ms[seq], m)
	}
	return ms, dbError(rows.Err(), subject{})
}

// UpdateGroup replaces the group and its member list if its stored Version
// equals g.Version, then increments g.Version, all in one transaction. The
// member list is changed by difference: members no longer listed are
// removed, new ones are appended in the order given, kept ones keep their
// place and get the new display. ESTALE, ENOTFOUND, ECONFLICT and EINVALID
// as for users and CreateGroup; g.Members is set to what was stored.
func (db *DB) UpdateGroup(ctx context.Context, g *directory.Group) error {
	resource, err := record.MarshalResource(g.Resource)
	if err != nil {
		return err
	}
	const (
		update = `UPDATE groups SET display_name = ?, display_name_key = ?, external_id = ?, resource = ?,
			last_modified = ?, version = version + 1
			WHERE provider_id = ? AND id = ? AND version = ?
			RETURNING seq`
		current    = `SELECT version FROM groups WHERE provider_id = ? AND id = ?`
		list       = `SELECT user_seq, display FROM group_members WHERE group_seq = ?`
		removeGone = `DELETE FROM group_members WHERE group_seq = ? AND user_seq NOT IN (SELECT value FROM json_each(?))
			RETURNING seq, user_seq`
		add       = `INSERT INTO group_members (group_seq, user_seq, display) VALUES (?, ?, ?)`
		redisplay = `UPDATE group_members SET display = ? WHERE group_seq = ? AND user_seq = ?`
	)
	s := subject{Kind: "group", ID: g.ID, Name: g.DisplayName}
	var resolved []member
	err = db.write(ctx, func(h handle) error {
		var err error
		if resolved, err = resolveMembers(ctx, h, g.ProviderID, g.Members); err != nil {
			return err
		}
		var groupSeq int64
		err = h.QueryRowContext(ctx, update, g.DisplayName, strings.ToLower(g.DisplayName), g.ExternalID, resource,
			toMS(g.LastModified), g.ProviderID, g.ID, g.Version).Scan(&groupSeq)
		if errors.Is(err, sql.ErrNoRows) {
			var v int64
			if err := h.QueryRowContext(ctx, current, g.ProviderID, g.ID).Scan(&v); err != nil {
				return dbError(err, s)
			}
			return storeerr.Stale(s, v, g.Version)
		}
		if err != nil {
			return dbError(err, s)
		}

		had := map[int64]string{}
		rows, err := h.QueryContext(ctx, list, groupSeq)
		if err != nil {
			return dbError(err, subject{})
		}
		for rows.Next() {
			var (
				seq     int64
				display string
			)
			if err := rows.Scan(&seq, &display); err != nil {
				rows.Close()
				return dbError(err, subject{})
			}
			had[seq] = display
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbError(err, subject{})
		}

		keep := userSeqs(resolved)
		if len(had) > 0 {
			gone, _, err := memberships(ctx, h, 0, removeGone, groupSeq, intList(keep))
			if err != nil {
				return err
			}
			if err := memberEvents(ctx, h, groupSeq, directory.EventGroupMembersRemoved, gone); err != nil {
				return err
			}
		}
		var added []int64
		for _, m := range resolved {
			display, ok := had[m.userSeq]
			switch {
			case !ok:
				_, err = h.ExecContext(ctx, add, groupSeq, m.userSeq, m.Display)
				added = append(added, m.userSeq)
			case display != m.Display:
				_, err = h.ExecContext(ctx, redisplay, m.Display, groupSeq, m.userSeq)
			}
			if err != nil {
				return dbError(err, subject{})
			}
		}
		return memberEvents(ctx, h, groupSeq, directory.EventGroupMembersAdded, added)
	})
	if err != nil {
		return err
	}
	g.Version++
	g.Members = members(resolved)
	return nil
}

// DeleteGroup removes the group and its memberships; ENOTFOUND if none.
// With ifVersion, only if the group's version is still that: ESTALE
// otherwise, nothing removed.
func (db *DB) DeleteGroup(ctx context.Context, providerID, id string, ifVersion ...int64) error {
	const q = `DELETE FROM groups WHERE provider_id = ? AND id = ?`
	s := subject{Kind: "group", ID: id}
	v := record.ExpectedVersion(ifVersion)
	if v == 0 {
		res, err := db.exec(ctx, q, providerID, id)
		return mustAffect(res, err, s)
	}
	return db.write(ctx, func(h handle) error {
		if err := checkVersion(ctx, h, "groups", providerID, s, v); err != nil {
			return err
		}
		res, err := h.ExecContext(ctx, q, providerID, id)
		return mustAffect(res, err, s)
	})
}

// The statements of ApplyGroupDelta. Each touches only the rows the delta
// names: the group through UNIQUE (provider_id, id), the members' users
// through UNIQUE (provider_id, id) and their memberships through
// UNIQUE (group_seq, user_seq), so none reads the group's member list.
const (
	// deltaTouch bumps the group when the delta leaves its name alone.
	deltaTouch = `UPDATE groups SET last_modified = ?, version = version + 1
		WHERE provider_id = ? AND id = ?
		RETURNING ` + groupColumns
	// deltaRename also renames it, in the column, its key and the
	// resource the group is rendered from.
	deltaRename = `UPDATE groups SET display_name = ?, display_name_key = ?,
		resource = json_set(resource, '$.displayName', ?),
		last_modified = ?, version = version + 1
		WHERE provider_id = ? AND id = ?
		RETURNING ` + groupColumns
	// deltaRemove removes the memberships of the users whose ids are in
	// the JSON array bound second; ids of no user, or of a user who is no
	// member, match nothing.
	deltaRemove = `DELETE FROM group_members WHERE group_seq = ? AND user_seq IN
		(SELECT seq FROM users WHERE provider_id = ? AND id IN (SELECT value FROM json_each(?)))
		RETURNING seq, user_seq`
	// deltaAddByID adds the [id, display] pairs of the JSON array bound
	// second, for the users of the provider (third) with those ids, in
	// order (a new membership gets the next seq, so it ends the member
	// order), or sets the display of a user who is a member already, who
	// keeps their place. CROSS JOIN keeps json_each the outer loop (SQLite
	// does not reorder it), so that each id is one index lookup instead of
	// a scan of the provider's users per id; the join's condition is in a
	// WHERE, which SQLite asks of an INSERT ... SELECT with an upsert
	// clause.
	deltaAddByID = `INSERT INTO group_members (group_seq, user_seq, display)
		SELECT ?1, u.seq, json_extract(j.value, '$[1]') FROM json_each(?2) j CROSS JOIN users u
		WHERE u.provider_id = ?3 AND u.id = json_extract(j.value, '$[0]') ORDER BY j.key
		ON CONFLICT (group_seq, user_seq) DO UPDATE SET display = excluded.display
		RETURNING seq, user_seq`
	// lastMembership is the newest membership's seq: a membership deltaAddByID
	// returns with a greater one is new, the others were there.
	lastMembership = `SELECT COALESCE(max(seq), 0) FROM group_members`
)

// memberships runs query, a statement on group_members that returns the
// (seq, user_seq) of the memberships it touched, and returns the user
// seqs of those whose membership seq is above after, in membership order,
// and how many it touched in all.
func memberships(ctx context.Context, h handle, after int64, query string, args ...any) (users []int64, touched int, err error) {
	rows, err := h.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, dbError(err, subject{})
	}
	defer rows.Close()
	type row struct{ seq, user int64 }
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.seq, &r.user); err != nil {
			return nil, 0, dbError(err, subject{})
		}
		touched++
		if r.seq > after {
			rs = append(rs, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, dbError(err, subject{})
	}
	slices.SortFunc(rs, func(a, b row) int { return cmp.Compare(a.seq, b.seq) })
	users = make([]int64, len(rs))
	for i, r := range rs {
		users[i] = r.user
	}
	return users, touched, nil
}

// ApplyGroupDelta applies d to the provider's group id in one transaction
// whose cost grows with the members d names, not with the size of the
// group: it never reads the member list.
//
//   - A non-empty d.DisplayName renames the group (in the resource too);
//     ECONFLICT if another group of the provider has that name
//     (case-insensitively).
//   - d.RemoveMembers are removed; ids that are no member, or no user, are
//     ignored.
//   - d.AddMembers are added at the end of the member order, in the order
//     given, or, for users who are members already, keep their place and
//     get the new display. Duplicate values collapse to the first. Each
//     must be a user of the provider: EINVALID naming the first that is
//     not, and nothing is written.
//   - Removals apply before additions, so a user both removed and added by
//     d ends up a member, at the end of the member order.
//
// LastModified is set to d.LastModified and Version incremented, even for
// a delta that changes nothing else. It returns the group as stored,
// without Members; ENOTFOUND if the provider has no such group, ESTALE
// (and nothing written) if d.IfVersion is set and the group's Version is
// no longer that, checked in the delta's write transaction, which no other
// writer can enter.
func (db *DB) ApplyGroupDelta(ctx context.Context, providerID, id string, d directory.GroupDelta) (*directory.Group, error) {
	s := subject{Kind: "group", ID: id, Name: d.DisplayName}
	var g *directory.Group
	err := db.write(ctx, func(h handle) error {
		if err := checkVersion(ctx, h, "groups", providerID, subject{Kind: "group", ID: id}, d.IfVersion); err != nil {
			return err
		}
		var row *sql.Row
		if d.DisplayName == "" {
			row = h.QueryRowContext(ctx, deltaTouch, toMS(d.LastModified), providerID, id)
		} else {
			row = h.QueryRowContext(ctx, deltaRename, d.DisplayName, strings.ToLower(d.DisplayName), d.DisplayName,
				toMS(d.LastModified), providerID, id)
		}
		var (
			groupSeq int64
			err      error
		)
		if g, groupSeq, err = scanGroup(row, providerID); err != nil {
			return dbError(err, s)
		}
		if len(d.RemoveMembers) > 0 {
			ids, err := json.Marshal(d.RemoveMembers)
			if err != nil {
				return dbError(err, subject{})
			}
			removed, _, err := memberships(ctx, h, 0, deltaRemove, groupSeq, providerID, string(ids))
			if err != nil {
				return err
			}
			if err := memberEvents(ctx, h, groupSeq, directory.EventGroupMembersRemoved, removed); err != nil {
				return err
			}
		}
		if len(d.AddMembers) > 0 {
			// The members are found by id and added in one statement,
			// so that the writer runs no query of its own for them; a
			// shortfall is a member that is not a user of the provider,
			// which resolveMembers then names (the savepoint undoes the
			// rest).
			var (
				pairs = make([][2]string, 0, len(d.AddMembers))
				seen  = make(map[string]bool, len(d.AddMembers))
			)
			for _, m := range d.AddMembers {
				if !seen[m.Value] {
					seen[m.Value] = true
					pairs = append(pairs, [2]string{m.Value, m.Display})
				}
			}
			list, err := json.Marshal(pairs)
			if err != nil {
				return dbError(err, subject{})
			}
			var last int64
			if err := h.QueryRowContext(ctx, lastMembership).Scan(&last); err != nil {
				return dbError(err, subject{})
			}
			added, n, err := memberships(ctx, h, last, deltaAddByID, groupSeq, string(list), providerID)
			if err != nil {
				return err
			}
			if n != len(pairs) {
				if _, err := resolveMembers(ctx, h, providerID, d.AddMembers); err != nil {
					return err
				}
				return fmt.Errorf("sqlite: %d of %d members added", n, len(pairs))
			}
			if err := memberEvents(ctx, h, groupSeq, directory.EventGroupMembersAdded, added); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}
