package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/record"
)

// The change feed: the events table, which the triggers of migration
// 0012 and the group writes' membership rows (memberEvents) fill in the
// transaction of each change.

// FindEvents returns the events after q.After, in cursor order, with
// the feed's newest and pruned cursors, all read in one snapshot.
func (db *DB) FindEvents(ctx context.Context, q directory.EventQuery) (*directory.EventPage, error) {
	var args []any
	bind := func(v any) string {
		args = append(args, v)
		return "?" + strconv.Itoa(len(args))
	}
	after, order := q.After, "e.seq"
	if q.Newest {
		after, order = 0, "e.seq DESC"
	}
	afterArg := bind(after)
	where := []string{"e.seq > " + afterArg}
	if q.ProviderID != "" {
		where = append(where, "e.provider_id = "+bind(q.ProviderID))
	}
	if q.UserID != "" {
		where = append(where, record.UserEventsCondition(bind(q.UserID), afterArg, bind(record.MemberPattern(q.UserID)), "members"))
	}
	// A row is at least one event: a limit of rows holds the limit of
	// events (record.ExpandEvents).
	query := `SELECT e.seq, e.time, e.type, e.provider_id, COALESCE(p.name, ''), e.user_id, e.user_name, e.group_id, e.group_name,
			COALESCE(e.before, ''), COALESCE(e.after, ''), e.span, COALESCE(e.members, '')
		FROM events e LEFT JOIN providers p ON p.id = e.provider_id
		WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + order + ` LIMIT ` + bind(max(1, q.Limit))
	page := &directory.EventPage{}
	err := db.read(ctx, func(h handle) error {
		rows, err := h.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var found []record.EventRow
		for rows.Next() {
			var (
				r  record.EventRow
				at int64
			)
			if err := rows.Scan(&r.Cursor, &at, &r.Type, &r.ProviderID, &r.ProviderName, &r.UserID, &r.UserName,
				&r.GroupID, &r.GroupName, &r.Before, &r.After, &r.Span, &r.Members); err != nil {
				return err
			}
			r.Time = fromMS(at)
			found = append(found, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if q.Newest {
			slices.Reverse(found)
		}
		if page.Events, err = record.ExpandEvents(found, after, q.UserID, max(1, q.Limit), q.Newest); err != nil {
			return err
		}
		page.Complete = !q.Newest && len(found) < max(1, q.Limit) && len(page.Events) < max(1, q.Limit)
		return h.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
			(SELECT pruned FROM events_pruned)`).Scan(&page.Last, &page.Pruned)
	})
	if err != nil {
		return nil, dbError(err, subject{Kind: "event"})
	}
	return page, nil
}

// PruneEvents deletes the events older than l.Before, then the oldest
// beyond l.MaxEntries, a slice of rows a write at a time so that SCIM
// writes wait for none of them long, and moves the pruned cursor past
// them; it returns how many events (a membership row's span) it deleted.
func (db *DB) PruneEvents(ctx context.Context, l directory.EventLimits) (int, error) {
	var cutoff int64
	if !l.Before.IsZero() {
		// Times grow with seq (one writer, one clock): the walk from the
		// oldest stops at the first event young enough to keep.
		var seq sql.NullInt64
		err := db.reader().QueryRowContext(ctx, `SELECT COALESCE((SELECT seq - span FROM events WHERE time >= ? ORDER BY seq LIMIT 1),
			(SELECT max(seq) FROM events))`, toMS(l.Before)).Scan(&seq)
		if err != nil {
			return 0, dbError(err, subject{Kind: "event"})
		}
		cutoff = seq.Int64
	}
	if l.MaxEntries > 0 {
		var seq sql.NullInt64
		// The newest row past which the events newer than it (a
		// membership row's span of them) number more than MaxEntries.
		err := db.reader().QueryRowContext(ctx, `SELECT max(seq) FROM (SELECT seq, sum(span) OVER (ORDER BY seq DESC) AS newer FROM events)
			WHERE newer > ?`, l.MaxEntries).Scan(&seq)
		if err != nil && err != sql.ErrNoRows {
			return 0, dbError(err, subject{Kind: "event"})
		}
		cutoff = max(cutoff, seq.Int64)
	}
	if cutoff == 0 {
		return 0, nil
	}
	total := 0
	for {
		var n, events int64 // rows, and the events they stood for
		err := db.write(ctx, func(h handle) error {
			rows, err := h.QueryContext(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? ORDER BY seq LIMIT ?) RETURNING span`, cutoff, pruneSlice)
			if err != nil {
				return err
			}
			n, events = 0, 0
			for rows.Next() {
				var span int64
				if err := rows.Scan(&span); err != nil {
					rows.Close()
					return err
				}
				n++
				events += span
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			_, err = h.ExecContext(ctx, `UPDATE events_pruned SET pruned = max(pruned, ?)`, cutoff)
			return err
		})
		if err != nil {
			return total, dbError(err, subject{Kind: "event"})
		}
		total += int(events)
		if n < pruneSlice {
			return total, nil
		}
	}
}

// Snapshot reads the provider's users, groups and memberships and the
// feed's newest cursor in one read transaction.
func (db *DB) Snapshot(ctx context.Context, providerID string) (*directory.Snapshot, error) {
	var b record.SnapshotBuilder
	err := db.read(ctx, func(h handle) error {
		if err := h.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)`).Scan(&b.Snap.Cursor); err != nil {
			return err
		}
		rows, err := h.QueryContext(ctx, `SELECT seq, provider_id, id, user_name, fields, last_modified FROM users
			WHERE ?1 = '' OR provider_id = ?1 ORDER BY seq`, providerID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				u        directory.User
				seq, mod int64
				fields   string
			)
			if err := rows.Scan(&seq, &u.ProviderID, &u.ID, &u.UserName, &fields, &mod); err != nil {
				rows.Close()
				return err
			}
			u.LastModified = fromMS(mod)
			if err := b.AddUser(seq, &u, fields); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if rows, err = h.QueryContext(ctx, `SELECT seq, provider_id, id, display_name, last_modified FROM groups
			WHERE ?1 = '' OR provider_id = ?1 ORDER BY seq`, providerID); err != nil {
			return err
		}
		for rows.Next() {
			var (
				g        directory.Group
				seq, mod int64
			)
			if err := rows.Scan(&seq, &g.ProviderID, &g.ID, &g.DisplayName, &mod); err != nil {
				rows.Close()
				return err
			}
			g.LastModified = fromMS(mod)
			b.AddGroup(seq, &g)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if rows, err = h.QueryContext(ctx, `SELECT m.group_seq, m.user_seq FROM group_members m JOIN groups g ON g.seq = m.group_seq
			WHERE ?1 = '' OR g.provider_id = ?1 ORDER BY m.seq`, providerID); err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var gs, us int64
			if err := rows.Scan(&gs, &us); err != nil {
				return err
			}
			b.AddMembership(gs, us)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, dbError(err, subject{Kind: "snapshot"})
	}
	return &b.Snap, nil
}
