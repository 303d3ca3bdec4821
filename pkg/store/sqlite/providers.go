package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// providerSelect reads a provider with its keys, one row a key (a
// provider without keys gives one row of NULL key columns), in the order
// scanProviders folds them: keys oldest first.
const providerSelect = `SELECT p.id, p.name, p.enabled, p.strict, p.rate_limit, p.synced_users, p.last_sync_at, p.created, p.updated, p.rev,
	k.id, k.hash, k.hint, k.created, k.expires, k.replaced, k.last_used
	FROM providers p LEFT JOIN provider_keys k ON k.provider_id = p.id `

// providerOrder is the ORDER BY that keeps a provider's rows together.
const providerOrder = ` ORDER BY p.name_key, p.id, k.created, k.id`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanProviders folds the rows of providerSelect into providers.
func scanProviders(rows *sql.Rows) ([]*directory.Provider, error) {
	defer rows.Close()
	var ps []*directory.Provider
	for rows.Next() {
		var (
			p                                    directory.Provider
			lastSync                             sql.NullInt64
			created, updated                     int64
			keyID, keyHint                       sql.NullString
			keyHash                              []byte
			keyCreated, expires, replaced, kused sql.NullInt64
		)
		if err := rows.Scan(&p.ID, &p.Name, &p.Enabled, &p.Strict, &p.RateLimit, &p.SyncedUsers, &lastSync, &created, &updated, &p.Rev,
			&keyID, &keyHash, &keyHint, &keyCreated, &expires, &replaced, &kused); err != nil {
			return nil, err
		}
		if n := len(ps); n == 0 || ps[n-1].ID != p.ID {
			if lastSync.Valid {
				p.LastSyncAt = fromMS(lastSync.Int64)
			}
			p.Created, p.Updated = fromMS(created), fromMS(updated)
			ps = append(ps, &p)
		}
		if keyID.Valid {
			last := ps[len(ps)-1]
			last.Keys = append(last.Keys, directory.Key{
				ID: keyID.String, Hash: keyHash, Hint: keyHint.String, Created: fromMS(keyCreated.Int64),
				Expires: msOrZero(expires), Replaced: msOrZero(replaced), LastUsed: msOrZero(kused),
			})
		}
	}
	return ps, rows.Err()
}

// msOrZero is the time of a nullable stored value; NULL is the zero time.
func msOrZero(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// findProvider returns the one provider the query's WHERE selects.
func (db *DB) findProvider(ctx context.Context, where string, arg any, s subject) (*directory.Provider, error) {
	rows, err := db.reader().QueryContext(ctx, providerSelect+where+providerOrder, arg)
	if err != nil {
		return nil, dbError(err, s)
	}
	ps, err := scanProviders(rows)
	if err != nil {
		return nil, dbError(err, s)
	}
	if len(ps) == 0 {
		return nil, storeerr.NotFound(s)
	}
	return ps[0], nil
}

// CreateProvider inserts p with its keys and SyncedUsers 0; ECONFLICT if
// the name is taken (case-insensitively) or a key hash is.
func (db *DB) CreateProvider(ctx context.Context, p *directory.Provider) error {
	const q = `INSERT INTO providers (id, name, name_key, enabled, strict, rate_limit, synced_users, last_sync_at, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`
	s := subject{Kind: "provider", ID: p.ID, Name: p.Name}
	err := db.write(ctx, func(h handle) error {
		if _, err := h.ExecContext(ctx, q, p.ID, p.Name, strings.ToLower(p.Name), p.Enabled,
			p.Strict, p.RateLimit, nullMS(p.LastSyncAt), toMS(p.Created), toMS(p.Updated)); err != nil {
			return err
		}
		return writeKeys(ctx, h, p)
	})
	if err != nil {
		return dbError(err, s)
	}
	p.SyncedUsers = 0
	return nil
}

// writeKeys makes the provider's stored keys p.Keys: the others are
// deleted, new ones inserted, and the expiry and replacement of the
// others written (their last use is the log's to move).
func writeKeys(ctx context.Context, h handle, p *directory.Provider) error {
	ids := make([]string, len(p.Keys))
	for i, k := range p.Keys {
		ids[i] = k.ID
	}
	idList, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	if _, err := h.ExecContext(ctx, `DELETE FROM provider_keys WHERE provider_id = ? AND id NOT IN (SELECT value FROM json_each(?))`,
		p.ID, string(idList)); err != nil {
		return err
	}
	for _, k := range p.Keys {
		if len(k.Hash) == 0 {
			return fmt.Errorf("key %s of provider %s has no hash", k.ID, p.ID)
		}
		if _, err := h.ExecContext(ctx, `INSERT INTO provider_keys (id, provider_id, hash, hint, created, expires, replaced)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET expires = excluded.expires, replaced = excluded.replaced WHERE provider_id = excluded.provider_id`,
			k.ID, p.ID, k.Hash, k.Hint, toMS(k.Created), nullMS(k.Expires), nullMS(k.Replaced)); err != nil {
			return err
		}
	}
	return nil
}

// FindProviderByID returns ENOTFOUND if there is no such provider.
func (db *DB) FindProviderByID(ctx context.Context, id string) (*directory.Provider, error) {
	return db.findProvider(ctx, `WHERE p.id = ?`, id, subject{Kind: "provider", ID: id})
}

// FindProviderByName matches case-insensitively; ENOTFOUND if none.
func (db *DB) FindProviderByName(ctx context.Context, name string) (*directory.Provider, error) {
	return db.findProvider(ctx, `WHERE p.name_key = ?`, strings.ToLower(name), subject{Kind: "provider", Name: name})
}

// FindProviderByKeyHash returns the provider one of whose keys has hash,
// with all its keys; ENOTFOUND if none.
func (db *DB) FindProviderByKeyHash(ctx context.Context, hash []byte) (*directory.Provider, error) {
	if len(hash) == 0 {
		return nil, storeerr.NotFound(subject{Kind: "provider"})
	}
	return db.findProvider(ctx, `WHERE p.id = (SELECT provider_id FROM provider_keys WHERE hash = ?)`, hash, subject{Kind: "provider"})
}

// FindProviders returns every provider ordered by name.
func (db *DB) FindProviders(ctx context.Context) ([]*directory.Provider, error) {
	rows, err := db.reader().QueryContext(ctx, providerSelect+providerOrder)
	if err != nil {
		return nil, dbError(err, subject{})
	}
	ps, err := scanProviders(rows)
	return ps, dbError(err, subject{})
}

// UpdateProvider writes Name, Enabled, Strict, RateLimit, Updated and the
// set of Keys in one transaction (a disabled provider's access tokens are
// deleted); ENOTFOUND if p.ID does not exist,
// ECONFLICT on a taken name.
func (db *DB) UpdateProvider(ctx context.Context, p *directory.Provider) error {
	const q = `UPDATE providers SET name = ?, name_key = ?, enabled = ?, strict = ?, rate_limit = ?, updated = ?, rev = rev + 1
		WHERE id = ? AND rev = ?`
	s := subject{Kind: "provider", ID: p.ID, Name: p.Name}
	err := db.write(ctx, func(h handle) error {
		res, err := h.ExecContext(ctx, q, p.Name, strings.ToLower(p.Name), p.Enabled, p.Strict, p.RateLimit, toMS(p.Updated), p.ID, p.Rev)
		if err := mustAffect(res, err, s); err != nil {
			if directory.ErrorCode(err) == directory.ENOTFOUND {
				var rev int64
				if h.QueryRowContext(ctx, `SELECT rev FROM providers WHERE id = ?`, p.ID).Scan(&rev) == nil {
					return storeerr.Stale(s, rev, p.Rev)
				}
			}
			return err
		}
		if !p.Enabled {
			// A disabled provider's access tokens end with it.
			if _, err := h.ExecContext(ctx, `DELETE FROM oauth_tokens WHERE provider_id = ?`, p.ID); err != nil {
				return dbError(err, s)
			}
		}
		return dbError(writeKeys(ctx, h, p), s)
	})
	if err == nil {
		p.Rev++
	}
	return err
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
