package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// providerColumns is what scanProvider reads, in order.
const providerColumns = `id, name, enabled, key_hash, key_hint, strict, rate_limit, synced_users, last_sync_at, created, updated`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanProvider(row scanner) (*directory.Provider, error) {
	var (
		p        directory.Provider
		lastSync sql.NullInt64
		created  int64
		updated  int64
	)
	if err := row.Scan(&p.ID, &p.Name, &p.Enabled, &p.KeyHash, &p.KeyHint, &p.Strict, &p.RateLimit, &p.SyncedUsers, &lastSync, &created, &updated); err != nil {
		return nil, err
	}
	if len(p.KeyHash) == 0 {
		p.KeyHash = nil
	}
	if lastSync.Valid {
		p.LastSyncAt = fromMS(lastSync.Int64)
	}
	p.Created, p.Updated = fromMS(created), fromMS(updated)
	return &p, nil
}

// CreateProvider inserts p with SyncedUsers 0; ECONFLICT if the name is
// taken (case-insensitively).
func (db *DB) CreateProvider(ctx context.Context, p *directory.Provider) error {
	const q = `INSERT INTO providers (id, name, name_key, enabled, key_hash, key_hint, strict, rate_limit, synced_users, last_sync_at, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`
	_, err := db.exec(ctx, q, p.ID, p.Name, strings.ToLower(p.Name), p.Enabled, blob(p.KeyHash), p.KeyHint,
		p.Strict, p.RateLimit, nullMS(p.LastSyncAt), toMS(p.Created), toMS(p.Updated))
	if err != nil {
		return dbError(err, subject{Kind: "provider", ID: p.ID, Name: p.Name})
	}
	p.SyncedUsers = 0
	return nil
}

// FindProviderByID returns ENOTFOUND if there is no such provider.
func (db *DB) FindProviderByID(ctx context.Context, id string) (*directory.Provider, error) {
	const q = `SELECT ` + providerColumns + ` FROM providers WHERE id = ?`
	p, err := scanProvider(db.reader().QueryRowContext(ctx, q, id))
	return p, dbError(err, subject{Kind: "provider", ID: id})
}

// FindProviderByName matches case-insensitively; ENOTFOUND if none.
func (db *DB) FindProviderByName(ctx context.Context, name string) (*directory.Provider, error) {
	const q = `SELECT ` + providerColumns + ` FROM providers WHERE name_key = ?`
	p, err := scanProvider(db.reader().QueryRowContext(ctx, q, strings.ToLower(name)))
	return p, dbError(err, subject{Kind: "provider", Name: name})
}

// FindProviderByKeyHash returns the provider whose KeyHash is hash;
// ENOTFOUND if none.
func (db *DB) FindProviderByKeyHash(ctx context.Context, hash []byte) (*directory.Provider, error) {
	if len(hash) == 0 {
		return nil, storeerr.NotFound(subject{Kind: "provider"})
	}
	const q = `SELECT ` + providerColumns + ` FROM providers WHERE key_hash = ?`
	p, err := scanProvider(db.reader().QueryRowContext(ctx, q, hash))
	return p, dbError(err, subject{Kind: "provider"})
}

// FindProviders returns every provider ordered by name.
func (db *DB) FindProviders(ctx context.Context) ([]*directory.Provider, error) {
	const q = `SELECT ` + providerColumns + ` FROM providers ORDER BY name_key, id`
	rows, err := db.reader().QueryContext(ctx, q)
	if err != nil {
		return nil, dbError(err, subject{})
	}
	defer rows.Close()
	var ps []*directory.Provider
	for rows.Next() {
		p, err := scanProvider(rows)
		if err != nil {
			return nil, dbError(err, subject{})
		}
		ps = append(ps, p)
	}
	return ps, dbError(rows.Err(), subject{})
}

// UpdateProvider writes Name, Enabled, KeyHash, KeyHint and Updated;
// ENOTFOUND if p.ID does not exist, ECONFLICT on a taken name.
func (db *DB) UpdateProvider(ctx context.Context, p *directory.Provider) error {
	const q = `UPDATE providers SET name = ?, name_key = ?, enabled = ?, key_hash = ?, key_hint = ?, strict = ?, rate_limit = ?, updated = ? WHERE id = ?`
	s := subject{Kind: "provider", ID: p.ID, Name: p.Name}
	res, err := db.exec(ctx, q, p.Name, strings.ToLower(p.Name), p.Enabled, blob(p.KeyHash), p.KeyHint, p.Strict, p.RateLimit, toMS(p.Updated), p.ID)
	return mustAffect(res, err, s)
}

// DeleteProvider removes the provider with all its users and groups (the
// foreign keys cascade); ENOTFOUND if there is no such provider.
func (db *DB) DeleteProvider(ctx context.Context, id string) error {
	const q = `DELETE FROM providers WHERE id = ?`
	res, err := db.exec(ctx, q, id)
	return mustAffect(res, err, subject{Kind: "provider", ID: id})
}

// mustAffect reports ENOTFOUND for s if the statement changed no row.
func mustAffect(res sql.Result, err error, s subject) error {
	if err != nil {
		return dbError(err, s)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbError(err, s)
	}
	if n == 0 {
		return storeerr.NotFound(s)
	}
	return nil
}

// toMS is how times are stored: unix milliseconds.
func toMS(t time.Time) int64 { return t.UnixMilli() }

// fromMS is the UTC time of a stored value.
func fromMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// nullMS stores the zero time as NULL.
func nullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// blob stores an empty byte slice as NULL (the driver would bind a
// zero-length blob, which the UNIQUE key_hash column would then allow once).
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
