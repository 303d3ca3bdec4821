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
// 0012 fill in the transaction of each change.

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
		where = append(where, record.UserEventsCondition(bind(q.UserID), afterArg))
	}
	query := `SELECT e.seq, e.time, e.type, e.provider_id, COALESCE(p.name, ''), e.user_id, e.user_name, e.group_id, e.group_name,
			COALESCE(e.before, ''), COALESCE(e.after, '')
		FROM events e LEFT JOIN providers p ON p.id = e.provider_id
		WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + order + ` LIMIT ` + bind(max(1, q.Limit))
	page := &directory.EventPage{}
	err := db.read(ctx, func(h handle) error {
		rows, err := h.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e  directory.Event
				at int64
			)
			if err := rows.Scan(&e.Cursor, &at, &e.Type, &e.ProviderID, &e.ProviderName, &e.UserID, &e.UserName,
				&e.GroupID, &e.GroupName, &e.Before, &e.After); err != nil {
				return err
			}
			e.Time = fromMS(at)
			page.Events = append(page.Events, &e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if q.Newest {
			slices.Reverse(page.Events)
		}
		return h.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
			(SELECT pruned FROM events_pruned)`).Scan(&page.Last, &page.Pruned)
	})
	if err != nil {
		return nil, dbError(err, subject{Kind: "event"})
	}
	return page, nil
}

// PruneEvents deletes the events older than l.Before, then the oldest
// beyond l.MaxEntries, a slice a write at a time so that SCIM writes
// wait for none of them long, and moves the pruned cursor past them.
func (db *DB) PruneEvents(ctx context.Context, l directory.EventLimits) (int, error) {
	var cutoff int64
	if !l.Before.IsZero() {
		// Times grow with seq (one writer, one clock): the walk from the
		// oldest stops at the first event young enough to keep.
		var seq sql.NullInt64
		err := db.reader().QueryRowContext(ctx, `SELECT COALESCE((SELECT seq - 1 FROM events WHERE time >= ? ORDER BY seq LIMIT 1),
			(SELECT max(seq) FROM events))`, toMS(l.Before)).Scan(&seq)
		if err != nil {
			return 0, dbError(err, subject{Kind: "event"})
		}
		cutoff = seq.Int64
	}
	if l.MaxEntries > 0 {
		var seq sql.NullInt64
		err := db.reader().QueryRowContext(ctx, `SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?`, l.MaxEntries).Scan(&seq)
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
		var n int64
		err := db.write(ctx, func(h handle) error {
			res, err := h.ExecContext(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? ORDER BY seq LIMIT ?)`, cutoff, pruneSlice)
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil {
				return err
			}
			_, err = h.ExecContext(ctx, `UPDATE events_pruned SET pruned = max(pruned, ?)`, cutoff)
			return err
		})
		if err != nil {
			return total, dbError(err, subject{Kind: "event"})
		}
		total += int(n)
		if n < pruneSlice {
			return total, nil
		}
	}
}
