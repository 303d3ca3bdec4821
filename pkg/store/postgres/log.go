package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/record"
)

// The statements of RecordRequest: the entry alone, or the entry and the
// provider's most recent sync, in one statement (one transaction).
const (
	logInsert = `INSERT INTO request_log (at, provider_id, request_id, method, path, resource_id, status, latency_us, error, client_ip)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`
	// The provider row is updated (and locked) only when the entry is
	// newer than its last sync.
	logInsertSync = `WITH ins AS (` + logInsert + `),
		sync AS (UPDATE providers SET last_sync_at = $1
			WHERE id = $2 AND (last_sync_at IS NULL OR last_sync_at < $1) AND EXISTS (SELECT 1 FROM ins))
		SELECT id FROM ins`
)

// RecordRequest appends e to the provisioning log and, for a successful
// request of a known provider, moves its LastSyncAt forward, in one
// statement; ENOTFOUND if the provider does not exist.
func (db *DB) RecordRequest(ctx context.Context, e *directory.LogEntry) error {
	var provider any
	if e.ProviderID != "" {
		provider = e.ProviderID
	}
	q := logInsert
	if e.ProviderID != "" && e.Status < 400 {
		q = logInsertSync
	}
	err := retry(ctx, func() error {
		return db.pool.QueryRow(ctx, q, ms(e.Time), provider, e.RequestID, e.Method, e.Path, e.ResourceID, e.Status,
			e.Latency.Microseconds(), e.Error, e.ClientIP).Scan(&e.ID)
	})
	if err != nil {
		return dbError(err, subject{Kind: "provider", ID: e.ProviderID})
	}
	if e.KeyID != "" {
		// The key's last use is coarse: it need not share the entry's
		// transaction.
		_, err = db.exec(ctx, keyTouch, ms(e.Time), e.KeyID)
	}
	return dbError(err, subject{Kind: "key", ID: e.KeyID})
}

// keyTouch moves a key's last use forward.
const keyTouch = `UPDATE provider_keys SET last_used = $1 WHERE id = $2 AND (last_used IS NULL OR last_used < $1)`

// RecordRequests appends entries to the provisioning log in one
// transaction (setting their IDs) and moves each provider's LastSyncAt
// forward to its newest successful entry. An entry of a provider that no
// longer exists is kept without one.
func (db *DB) RecordRequests(ctx context.Context, entries []*directory.LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	const insert = `INSERT INTO request_log (at, provider_id, request_id, method, path, resource_id, status, latency_us, error, client_ip)
		VALUES ($1, (SELECT id FROM providers WHERE id = $2), $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`
	return db.write(ctx, func(tx pgx.Tx) error {
		synced := map[string]time.Time{}
		var order []string
		used := map[string]time.Time{}
		var keys []string
		b := &pgx.Batch{}
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
			b.Queue(insert, ms(e.Time), provider, e.RequestID, e.Method, e.Path, e.ResourceID, e.Status, e.Latency.Microseconds(), e.Error, e.ClientIP)
			if e.ProviderID != "" && e.Status < 400 {
				if t, ok := synced[e.ProviderID]; !ok || e.Time.After(t) {
					if !ok {
						order = append(order, e.ProviderID)
					}
					synced[e.ProviderID] = e.Time
				}
			}
		}
		// The providers in a fixed order, so that two batches lock them
		// alike.
		slices.Sort(order)
		for _, id := range order {
			b.Queue(`UPDATE providers SET last_sync_at = $1 WHERE id = $2 AND (last_sync_at IS NULL OR last_sync_at < $1)`, ms(synced[id]), id)
		}
		slices.Sort(keys)
		for _, id := range keys {
			b.Queue(keyTouch, ms(used[id]), id)
		}
		res := tx.SendBatch(ctx, b)
		for _, e := range entries {
			if err := res.QueryRow().Scan(&e.ID); err != nil {
				res.Close()
				return dbError(err, subject{Kind: "log entry"})
			}
		}
		for range len(order) + len(keys) {
			if _, err := res.Exec(); err != nil {
				res.Close()
				return dbError(err, subject{Kind: "provider"})
			}
		}
		return dbError(res.Close(), subject{Kind: "log entry"})
	})
}

// FindLog returns the newest q.Limit matching entries, oldest first.
func (db *DB) FindLog(ctx context.Context, q directory.LogQuery) ([]*directory.LogEntry, error) {
	limit := record.LogLimit(q.Limit)
	var (
		where []string
		args  []any
	)
	bind := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.ProviderID != "" {
		where = append(where, "l.provider_id = "+bind(q.ProviderID))
	}
	if !q.Since.IsZero() {
		where = append(where, "l.at >= "+bind(ms(q.Since)))
	}
	if q.AfterID > 0 {
		where = append(where, "l.id > "+bind(q.AfterID))
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
		FROM request_log l LEFT JOIN providers p ON p.id = l.provider_id ` + cond + ` ORDER BY l.id DESC LIMIT ` + bind(limit)
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, subject{Kind: "log entry"})
	}
	var (
		out []*directory.LogEntry
		e   directory.LogEntry
		lat int64
	)
	_, err = pgx.ForEachRow(rows, []any{&e.ID, &e.Time, &e.ProviderID, &e.ProviderName, &e.RequestID, &e.Method, &e.Path,
		&e.ResourceID, &e.Status, &lat, &e.Error, &e.ClientIP}, func() error {
		x := e
		x.Time, x.Latency = x.Time.UTC(), time.Duration(lat)*time.Microsecond
		out = append(out, &x)
		return nil
	})
	if err != nil {
		return nil, dbError(err, subject{Kind: "log entry"})
	}
	slices.Reverse(out)
	return out, nil
}

// entrySizeSQL is directory.LogEntrySize in SQL.
var entrySizeSQL = fmt.Sprintf(`(%d + octet_length(request_id) + octet_length(method) + octet_length(path)
	+ octet_length(resource_id) + octet_length(error) + octet_length(client_ip))`, directory.LogEntryOverhead)

// PruneLog deletes the entries older than l.Before, then the oldest until
// l.MaxEntries and l.MaxBytes hold, in one transaction. PostgreSQL's
// autovacuum makes the space they held reusable by the entries that come
// next; the files do not shrink.
func (db *DB) PruneLog(ctx context.Context, l directory.LogLimits) (int, error) {
	var deleted int64
	err := db.write(ctx, func(tx pgx.Tx) error {
		deleted = 0
		tag, err := tx.Exec(ctx, `DELETE FROM request_log WHERE at < $1`, ms(l.Before))
		if err != nil {
			return err
		}
		deleted += tag.RowsAffected()
		if l.MaxEntries > 0 {
			tag, err = tx.Exec(ctx, `DELETE FROM request_log WHERE id <= (SELECT id FROM request_log ORDER BY id DESC LIMIT 1 OFFSET $1)`, l.MaxEntries)
			if err != nil {
				return err
			}
			deleted += tag.RowsAffected()
		}
		if l.MaxBytes > 0 {
			// The newest entry past which the entries newer than it add
			// up to more than MaxBytes, and every older one.
			tag, err = tx.Exec(ctx, `DELETE FROM request_log WHERE id <= (SELECT max(id) FROM (
					SELECT id, sum(`+entrySizeSQL+`) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS total FROM request_log
				) sized WHERE total > $1)`, l.MaxBytes)
			if err != nil {
				return err
			}
			deleted += tag.RowsAffected()
		}
		return nil
	})
	return int(deleted), dbError(err, subject{Kind: "log entry"})
}
