package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// providerColumns is what scanProvider reads, in order.
const providerColumns = `id, name, enabled, key_hash, key_hint, strict, rate_limit, synced_users, last_sync_at, created, updated`

func scanProvider(row pgx.Row) (*directory.Provider, error) {
	var (
		p        directory.Provider
		lastSync *time.Time
	)
	if err := row.Scan(&p.ID, &p.Name, &p.Enabled, &p.KeyHash, &p.KeyHint, &p.Strict, &p.RateLimit, &p.SyncedUsers,
		&lastSync, &p.Created, &p.Updated); err != nil {
		return nil, err
	}
	if len(p.KeyHash) == 0 {
		p.KeyHash = nil
	}
	if lastSync != nil {
		p.LastSyncAt = lastSync.UTC()
	}
	p.Created, p.Updated = p.Created.UTC(), p.Updated.UTC()
	return &p, nil
}

// CreateProvider inserts p with SyncedUsers 0; ECONFLICT if the name is
// taken (case-insensitively).
func (db *DB) CreateProvider(ctx context.Context, p *directory.Provider) error {
	const q = `INSERT INTO providers (id, name, name_key, enabled, key_hash, key_hint, strict, rate_limit, synced_users, last_sync_at, created, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11)`
	_, err := db.exec(ctx, q, p.ID, p.Name, strings.ToLower(p.Name), p.Enabled, blob(p.KeyHash), p.KeyHint,
		p.Strict, p.RateLimit, nullTime(p.LastSyncAt), ms(p.Created), ms(p.Updated))
	if err != nil {
		return dbError(err, subject{Kind: "provider", ID: p.ID, Name: p.Name})
	}
	p.SyncedUsers = 0
	return nil
}

// FindProviderByID returns ENOTFOUND if there is no such provider.
func (db *DB) FindProviderByID(ctx context.Context, id string) (*directory.Provider, error) {
	const q = `SELECT ` + providerColumns + ` FROM providers WHERE id = $1`
	p, err := scanProvider(db.pool.QueryRow(ctx, q, id))
	return p, dbError(err, subject{Kind: "provider", ID: id})
}

// FindProviderByName matches case-insensitively; ENOTFOUND if none.
func (db *DB) FindProviderByName(ctx context.Context, name string) (*directory.Provider, error) {
	const q = `SELECT ` + providerColumns + ` FROM providers WHERE name_key = $1`
	p, err := scanProvider(db.pool.QueryRow(ctx, q, strings.ToLower(name)))
	return p, dbError(err, subject{Kind: "provider", Name: name})
}

// FindProviderByKeyHash returns the provider whose KeyHash is hash;
// ENOTFOUND if none.
func (db *DB) FindProviderByKeyHash(ctx context.Context, hash []byte) (*directory.Provider, error) {
	if len(hash) == 0 {
		return nil, storeerr.NotFound(subject{Kind: "provider"})
	}
	const q = `SELECT ` + providerColumns + ` FROM providers WHERE key_hash = $1`
	p, err := scanProvider(db.pool.QueryRow(ctx, q, hash))
	return p, dbError(err, subject{Kind: "provider"})
}

// FindProviders returns every provider ordered by name.
func (db *DB) FindProviders(ctx context.Context) ([]*directory.Provider, error) {
	const q = `SELECT ` + providerColumns + ` FROM providers ORDER BY name_key, id`
	rows, err := db.pool.Query(ctx, q)
	if err != nil {
		return nil, dbError(err, subject{})
	}
	ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*directory.Provider, error) { return scanProvider(row) })
	return ps, dbError(err, subject{})
}

// UpdateProvider writes Name, Enabled, KeyHash, KeyHint, Strict, RateLimit
// and Updated; ENOTFOUND if p.ID does not exist, ECONFLICT on a taken name.
func (db *DB) UpdateProvider(ctx context.Context, p *directory.Provider) error {
	const q = `UPDATE providers SET name = $1, name_key = $2, enabled = $3, key_hash = $4, key_hint = $5, strict = $6,
		rate_limit = $7, updated = $8 WHERE id = $9`
	s := subject{Kind: "provider", ID: p.ID, Name: p.Name}
	n, err := db.exec(ctx, q, p.Name, strings.ToLower(p.Name), p.Enabled, blob(p.KeyHash), p.KeyHint, p.Strict, p.RateLimit,
		ms(p.Updated), p.ID)
	return mustAffect(n, err, s)
}

// DeleteProvider removes the provider with all its users, groups,
// mappings and log entries (the foreign keys cascade, in the statement's
// own transaction); ENOTFOUND if there is no such provider.
func (db *DB) DeleteProvider(ctx context.Context, id string) error {
	n, err := db.exec(ctx, `DELETE FROM providers WHERE id = $1`, id)
	return mustAffect(n, err, subject{Kind: "provider", ID: id})
}

// mustAffect reports ENOTFOUND for s if the statement changed no row.
func mustAffect(n int64, err error, s subject) error {
	if err != nil {
		return dbError(err, s)
	}
	if n == 0 {
		return storeerr.NotFound(s)
	}
	return nil
}

// ms is how times are stored: truncated to the millisecond, as the SQLite
// store keeps them, so that both answer filters on meta.created alike.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ms(t)
}

// blob stores an empty byte slice as NULL (the UNIQUE key_hash column
// would otherwise allow one empty key).
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
