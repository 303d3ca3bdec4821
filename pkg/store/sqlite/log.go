package sqlite

import (
	"context"
	"database/sql"
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
		for _, e := range entries {
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
		return nil
	})
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

// PruneLog deletes entries older than before, then the oldest beyond keep.
func (db *DB) PruneLog(ctx context.Context, before time.Time, keep int) (int, error) {
	var deleted int64
	err := db.write(ctx, func(h handle) error {
		res, err := h.ExecContext(ctx, `DELETE FROM request_log WHERE at < ?`, toMS(before))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		deleted += n
		if keep <= 0 {
			return nil
		}
		var cutoff sql.NullInt64
		err = h.QueryRowContext(ctx, `SELECT id FROM request_log ORDER BY id DESC LIMIT 1 OFFSET ?`, keep).Scan(&cutoff)
		if err == sql.ErrNoRows || !cutoff.Valid {
			return nil
		}
		if err != nil {
			return err
		}
		res, err = h.ExecContext(ctx, `DELETE FROM request_log WHERE id <= ?`, cutoff.Int64)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		deleted += n
		return nil
	})
	return int(deleted), dbError(err, subject{Kind: "log entry"})
}
