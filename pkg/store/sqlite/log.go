package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/record"
)

// RecordRequest appends e to the provisioning log and, for a successful
// request of a known provider, moves its LastSyncAt forward, in one
// transaction.
func (db *DB) RecordRequest(ctx context.Context, e *directory.LogEntry) error {
	return db.write(ctx, func(h handle) error {
		var provider any
		if e.ProviderID != "" {
			provider = e.ProviderID
		}
		res, err := h.ExecContext(ctx, `INSERT INTO request_log (at, provider_id, request_id, method, path, resource_id, status, latency_us, error, client_ip)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			toMS(e.Time), provider, e.RequestID, e.Method, e.Path, e.ResourceID, e.Status, e.Latency.Microseconds(), e.Error, e.ClientIP)
		if err != nil {
			return dbError(err, subject{Kind: "provider", ID: e.ProviderID})
		}
		if e.ID, err = res.LastInsertId(); err != nil {
			return dbError(err, subject{Kind: "log entry"})
		}
		if err := touchKey(ctx, h, e.KeyID, e.Time); err != nil {
			return err
		}
		if e.ProviderID == "" || e.Status >= 400 {
			return nil
		}
		_, err = h.ExecContext(ctx, `UPDATE providers SET last_sync_at = ?1 WHERE id = ?2 AND (last_sync_at IS NULL OR last_sync_at < ?1)`,
			toMS(e.Time), e.ProviderID)
		return dbError(err, subject{Kind: "provider", ID: e.ProviderID})
	})
}

// RecordRequests appends entries to the provisioning log in one write
// (setting their IDs) and moves each provider's LastSyncAt forward to its
// newest successful entry. An entry of a provider that no longer exists
// is kept without one.
func (db *DB) RecordRequests(ctx context.Context, entries []*directory.LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return db.write(ctx, func(h handle) error {
		synced := map[string]time.Time{}
		var order []string
		used := map[string]time.Time{}
		var keys []string
		for _, e := range entries {
			if e.KeyID != "" {
				if t, ok := used[e.KeyID]; !ok || e.Time.After(t) {
					if !ok {
						keys = append(keys, e.KeyID)
					}
					used[e.KeyID] = e.Time
				}
			}
			var provider any
			if e.ProviderID != "" {
				provider = e.ProviderID
			}
			res, err := h.ExecContext(ctx, `INSERT INTO request_log (at, provider_id, request_id, method, path, resource_id, status, latency_us, error, client_ip)
				VALUES (?1, (SELECT id FROM providers WHERE id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`,
				toMS(e.Time), provider, e.RequestID, e.Method, e.Path, e.ResourceID, e.Status, e.Latency.Microseconds(), e.Error, e.ClientIP)
			if err != nil {
				return dbError(err, subject{Kind: "log entry"})
			}
			if e.ID, err = res.LastInsertId(); err != nil {
				return dbError(err, subject{Kind: "log entry"})
			}
			if e.ProviderID != "" && e.Status < 400 {
				if t, ok := synced[e.ProviderID]; !ok || e.Time.After(t) {
					if !ok {
						order = append(order, e.ProviderID)
					}
					synced[e.ProviderID] = e.Time
				}
			}
		}
		for _, id := range order {
			if _, err := h.ExecContext(ctx, `UPDATE providers SET last_sync_at = ?1 WHERE id = ?2 AND (last_sync_at IS NULL OR last_sync_at < ?1)`,
				toMS(synced[id]), id); err != nil {
				return dbError(err, subject{Kind: "provider", ID: id})
			}
		}
		for _, id := range keys {
			if err := touchKey(ctx, h, id, used[id]); err != nil {
				return err
			}
		}
		return nil
	})
}

// touchKey moves the last use of key id (if any) forward to at.
func touchKey(ctx context.Context, h handle, id string, at time.Time) error {
	if id == "" {
		return nil
	}
	_, err := h.ExecContext(ctx, `UPDATE provider_keys SET last_used = ?1 WHERE id = ?2 AND (last_used IS NULL OR last_used < ?1)`,
		toMS(at), id)
	return dbError(err, subject{Kind: "key", ID: id})
}

// FindLog returns the newest q.Limit matching entries, oldest first.
func (db *DB) FindLog(ctx context.Context, q directory.LogQuery) ([]*directory.LogEntry, error) {
	limit := record.LogLimit(q.Limit)
	var where []string
	var args []any
	if q.ProviderID != "" {
		where, args = append(where, "l.provider_id = ?"), append(args, q.ProviderID)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "l.at >= ?"), append(args, toMS(q.Since))
	}
	if q.AfterID > 0 {
		where, args = append(where, "l.id > ?"), append(args, q.AfterID)
	}
	if q.FailedOnly {
		where = append(where, "l.status >= 400")
	}
	cond := ""
	if len(where) > 0 {
		cond = "WHERE " + strings.Join(where, " AND ")
	}
	// The newest entries first (the id index walked backwards), then
	// reversed, so that a limit keeps the most recent ones.
	query := `SELECT l.id, l.at, COALESCE(l.provider_id, ''), COALESCE(p.name, ''), l.request_id, l.method, l.path,
			l.resource_id, l.status, l.latency_us, l.error, l.client_ip
		FROM request_log l LEFT JOIN providers p ON p.id = l.provider_id ` + cond + ` ORDER BY l.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.reader().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, subject{Kind: "log entry"})
	}
	defer rows.Close()
	var out []*directory.LogEntry
	for rows.Next() {
		var (
			e       directory.LogEntry
			at, lat int64
		)
		if err := rows.Scan(&e.ID, &at, &e.ProviderID, &e.ProviderName, &e.RequestID, &e.Method, &e.Path,
			&e.ResourceID, &e.Status, &lat, &e.Error, &e.ClientIP); err != nil {
			return nil, dbError(err, subject{Kind: "log entry"})
		}
		e.Time, e.Latency = fromMS(at), time.Duration(lat)*time.Microsecond
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, subject{Kind: "log entry"})
	}
	slices.Reverse(out)
	return out, nil
}

// entrySizeSQL is directory.LogEntrySize in SQL.
var entrySizeSQL = fmt.Sprintf(`(%d + octet_length(request_id) + octet_length(method) + octet_length(path)
	+ octet_length(resource_id) + octet_length(error) + octet_length(client_ip))`, directory.LogEntryOverhead)

// pruneSlice is how many entries one write of PruneLog deletes: the
// writes queued behind it wait a few milliseconds at most.
const pruneSlice = 5000

// PruneLog deletes the entries older than l.Before, then the oldest until
// l.MaxEntries and l.MaxBytes hold, a pruneSlice at a time, and gives the
// pages they held back to the file system (vacuum.go).
func (db *DB) PruneLog(ctx context.Context, l directory.LogLimits) (int, error) {
	deleted, err := db.deleteLog(ctx, `DELETE FROM request_log WHERE id IN (SELECT id FROM request_log WHERE at < ?1 LIMIT ?2)`, toMS(l.Before))
	if err != nil {
		return deleted, err
	}
	cutoff, err := db.logCutoff(ctx, l)
	if err != nil {
		return deleted, err
	}
	if cutoff > 0 {
		n, err := db.deleteLog(ctx, `DELETE FROM request_log WHERE id IN (SELECT id FROM request_log WHERE id <= ?1 ORDER BY id LIMIT ?2)`, cutoff)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	if deleted > 0 {
		if _, err := db.reclaim(ctx); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// deleteLog runs query, a DELETE of at most ?2 entries bounded by arg
// (?1), until it deletes fewer, and returns how many it deleted.
func (db *DB) deleteLog(ctx context.Context, query string, arg int64) (int, error) {
	total := 0
	for {
		var n int64
		err := db.write(ctx, func(h handle) error {
			res, err := h.ExecContext(ctx, query, arg, pruneSlice)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, dbError(err, subject{Kind: "log entry"})
		}
		total += int(n)
		if n < pruneSlice {
			return total, nil
		}
	}
}

// logCutoff returns the newest entry that l.MaxEntries or l.MaxBytes
// leaves out (0 for none), read on a reading connection so that the
// writer does not wait for the walk.
func (db *DB) logCutoff(ctx context.Context, l directory.LogLimits) (int64, error) {
	var cutoff int64
	if l.MaxEntries > 0 {
		var id sql.NullInt64
		err := db.reader().QueryRowContext(ctx, `SELECT id FROM request_log ORDER BY id DESC LIMIT 1 OFFSET ?`, l.MaxEntries).Scan(&id)
		if err != nil && err != sql.ErrNoRows {
			return 0, dbError(err, subject{Kind: "log entry"})
		}
		cutoff = id.Int64
	}
	if l.MaxBytes > 0 {
		// The newest entry past which the entries newer than it add up
		// to more than MaxBytes.
		var id sql.NullInt64
		err := db.reader().QueryRowContext(ctx, `SELECT MAX(id) FROM (
				SELECT id, SUM(`+entrySizeSQL+`) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS total FROM request_log
			) WHERE total > ?`, l.MaxBytes).Scan(&id)
		if err != nil {
			return 0, dbError(err, subject{Kind: "log entry"})
		}
		cutoff = max(cutoff, id.Int64)
	}
	return cutoff, nil
}
