package postgres

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/record"
)

// The change feed: the events table, which the triggers of migration
// 0007 fill in the transaction of each change (a row per statement for
// memberships) and number at its commit.

// FindEvents returns the events after q.After, in cursor order, with
// the feed's newest and pruned cursors, all read in one snapshot (an
// event is numbered in the transaction that commits it, so the snapshot
// holds every event up to Last).
func (db *DB) FindEvents(ctx context.Context, q directory.EventQuery) (*directory.EventPage, error) {
	var args []any
	bind := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
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
		where = append(where, record.UserEventsCondition(bind(q.UserID), afterArg, bind(record.MemberPattern(q.UserID)), "members::text"))
	}
	// A row is at least one event: a limit of rows holds the limit of
	// events (record.ExpandEvents).
	query := `SELECT e.seq, e.time, e.type, e.provider_id, COALESCE(p.name, ''), e.user_id, e.user_name, e.group_id, e.group_name,
			COALESCE(e.before::text, ''), COALESCE(e.after::text, ''), e.span, COALESCE(e.members::text, '')
		FROM events e LEFT JOIN providers p ON p.id = e.provider_id
		WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + order + ` LIMIT ` + bind(max(1, q.Limit))
	var page *directory.EventPage
	err := db.read(ctx, func(tx pgx.Tx) error {
		page = &directory.EventPage{}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		var found []record.EventRow
		for rows.Next() {
			var r record.EventRow
			if err := rows.Scan(&r.Cursor, &r.Time, &r.Type, &r.ProviderID, &r.ProviderName, &r.UserID, &r.UserName,
				&r.GroupID, &r.GroupName, &r.Before, &r.After, &r.Span, &r.Members); err != nil {
				rows.Close()
				return err
			}
			r.Time = r.Time.UTC()
			found = append(found, r)
		}
		rows.Close()
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
		return tx.QueryRow(ctx, `SELECT seq, pruned FROM event_clock`).Scan(&page.Last, &page.Pruned)
	})
	if err != nil {
		return nil, dbError(err, subject{Kind: "event"})
	}
	return page, nil
}

// PruneEvents deletes the events older than l.Before, then the oldest
// beyond l.MaxEntries, and moves the pruned cursor past them, in one
// transaction; it returns how many events (a membership row's span) it
// deleted.
func (db *DB) PruneEvents(ctx context.Context, l directory.EventLimits) (int, error) {
	var deleted int64
	err := db.write(ctx, func(tx pgx.Tx) error {
		deleted = 0
		var cutoff int64
		if !l.Before.IsZero() {
			// Times grow with seq (numbered at commit): the walk from the
			// oldest stops at the first event young enough to keep.
			err := tx.QueryRow(ctx, `SELECT COALESCE((SELECT seq - span FROM events WHERE seq IS NOT NULL AND time >= $1 ORDER BY seq LIMIT 1),
				(SELECT max(seq) FROM events), 0)`, l.Before).Scan(&cutoff)
			if err != nil {
				return err
			}
		}
		if l.MaxEntries > 0 {
			// The newest row past which the events newer than it (a
			// membership row's span of them) number more than MaxEntries.
			var seq *int64
			err := tx.QueryRow(ctx, `SELECT max(seq) FROM (SELECT seq, sum(span) OVER (ORDER BY seq DESC) AS newer FROM events WHERE seq IS NOT NULL) n
				WHERE newer > $1`, l.MaxEntries).Scan(&seq)
			if err != nil {
				return err
			}
			if seq != nil {
				cutoff = max(cutoff, *seq)
			}
		}
		if cutoff == 0 {
			return nil
		}
		err := tx.QueryRow(ctx, `WITH gone AS (DELETE FROM events WHERE seq <= $1 RETURNING span) SELECT COALESCE(sum(span), 0) FROM gone`, cutoff).Scan(&deleted)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE event_clock SET pruned = greatest(pruned, $1)`, cutoff)
		return err
	})
	return int(deleted), dbError(err, subject{Kind: "event"})
}

// Snapshot reads the provider's users, groups and memberships and the
// feed's newest cursor in one REPEATABLE READ transaction.
func (db *DB) Snapshot(ctx context.Context, providerID string) (*directory.Snapshot, error) {
	var b record.SnapshotBuilder
	err := db.read(ctx, func(tx pgx.Tx) error {
		b = record.SnapshotBuilder{}
		if err := tx.QueryRow(ctx, `SELECT seq FROM event_clock`).Scan(&b.Snap.Cursor); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT seq, provider_id, id, user_name, fields::text, last_modified FROM users
			WHERE $1 = '' OR provider_id = $1 ORDER BY seq`, providerID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				u      directory.User
				seq    int64
				fields string
			)
			if err := rows.Scan(&seq, &u.ProviderID, &u.ID, &u.UserName, &fields, &u.LastModified); err != nil {
				rows.Close()
				return err
			}
			u.LastModified = u.LastModified.UTC()
			if err := b.AddUser(seq, &u, fields); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, `SELECT seq, provider_id, id, display_name, last_modified FROM groups
			WHERE $1 = '' OR provider_id = $1 ORDER BY seq`, providerID); err != nil {
			return err
		}
		for rows.Next() {
			var (
				g   directory.Group
				seq int64
			)
			if err := rows.Scan(&seq, &g.ProviderID, &g.ID, &g.DisplayName, &g.LastModified); err != nil {
				rows.Close()
				return err
			}
			g.LastModified = g.LastModified.UTC()
			b.AddGroup(seq, &g)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, `SELECT m.group_seq, m.user_seq FROM group_members m JOIN groups g ON g.seq = m.group_seq
			WHERE $1 = '' OR g.provider_id = $1 ORDER BY m.seq`, providerID); err != nil {
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
