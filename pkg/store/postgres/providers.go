package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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

// scanProviders folds the rows of providerSelect into providers.
func scanProviders(rows pgx.Rows) ([]*directory.Provider, error) {
	defer rows.Close()
	var ps []*directory.Provider
	for rows.Next() {
		var (
			p                                    directory.Provider
			lastSync                             *time.Time
			keyID, keyHint                       *string
			keyHash                              []byte
			keyCreated, expires, replaced, kused *time.Time
		)
		if err := rows.Scan(&p.ID, &p.Name, &p.Enabled, &p.Strict, &p.RateLimit, &p.SyncedUsers, &lastSync, &p.Created, &p.Updated, &p.Rev,
			&keyID, &keyHash, &keyHint, &keyCreated, &expires, &replaced, &kused); err != nil {
			return nil, err
		}
		if n := len(ps); n == 0 || ps[n-1].ID != p.ID {
			p.LastSyncAt = utcOrZero(lastSync)
			p.Created, p.Updated = p.Created.UTC(), p.Updated.UTC()
			ps = append(ps, &p)
		}
		if keyID != nil {
			last := ps[len(ps)-1]
			last.Keys = append(last.Keys, directory.Key{
				ID: *keyID, Hash: keyHash, Hint: *keyHint, Created: utcOrZero(keyCreated),
				Expires: utcOrZero(expires), Replaced: utcOrZero(replaced), LastUsed: utcOrZero(kused),
			})
		}
	}
	return ps, rows.Err()
}

// utcOrZero is a nullable stored time; NULL is the zero time.
func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// findProvider returns the one provider the query's WHERE selects.
func (db *DB) findProvider(ctx context.Context, where string, arg any, s subject) (*directory.Provider, error) {
	rows, err := db.pool.Query(ctx, providerSelect+where+providerOrder, arg)
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
		VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)`
	s := subject{Kind: "provider", ID: p.ID, Name: p.Name}
	err := db.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, q, p.ID, p.Name, strings.ToLower(p.Name), p.Enabled,
			p.Strict, p.RateLimit, nullTime(p.LastSyncAt), ms(p.Created), ms(p.Updated)); err != nil {
			return dbError(err, s)
		}
		return writeKeys(ctx, tx, p, s)
	})
	if err != nil {
		return err
	}
	p.SyncedUsers = 0
	return nil
}

// writeKeys makes the provider's stored keys p.Keys: the others are
// deleted, new ones inserted, and the expiry and replacement of the
// others written (their last use is the log's to move).
func writeKeys(ctx context.Context, tx pgx.Tx, p *directory.Provider, s subject) error {
	ids := make([]string, len(p.Keys))
	for i, k := range p.Keys {
		ids[i] = k.ID
	}
	if _, err := tx.Exec(ctx, `DELETE FROM provider_keys WHERE provider_id = $1 AND id <> ALL($2::text[])`, p.ID, ids); err != nil {
		return dbError(err, s)
	}
	for _, k := range p.Keys {
		if len(k.Hash) == 0 {
			return fmt.Errorf("key %s of provider %s has no hash", k.ID, p.ID)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO provider_keys (id, provider_id, hash, hint, created, expires, replaced)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO UPDATE SET expires = excluded.expires, replaced = excluded.replaced
			WHERE provider_keys.provider_id = excluded.provider_id`,
			k.ID, p.ID, k.Hash, k.Hint, ms(k.Created), nullTime(k.Expires), nullTime(k.Replaced)); err != nil {
			return dbError(err, s)
		}
	}
	return nil
}

// FindProviderByID returns ENOTFOUND if there is no such provider.
func (db *DB) FindProviderByID(ctx context.Context, id string) (*directory.Provider, error) {
	return db.findProvider(ctx, `WHERE p.id = $1`, id, subject{Kind: "provider", ID: id})
}

// FindProviderByName matches case-insensitively; ENOTFOUND if none.
func (db *DB) FindProviderByName(ctx context.Context, name string) (*directory.Provider, error) {
	return db.findProvider(ctx, `WHERE p.name_key = $1`, strings.ToLower(name), subject{Kind: "provider", Name: name})
}

// FindProviderByKeyHash returns the provider one of whose keys has hash,
// with all its keys, in one round trip; ENOTFOUND if none.
func (db *DB) FindProviderByKeyHash(ctx context.Context, hash []byte) (*directory.Provider, error) {
	if len(hash) == 0 {
		return nil, storeerr.NotFound(subject{Kind: "provider"})
	}
	return db.findProvider(ctx, `WHERE p.id = (SELECT provider_id FROM provider_keys WHERE hash = $1)`, hash, subject{Kind: "provider"})
}

// FindProviders returns every provider ordered by name.
func (db *DB) FindProviders(ctx context.Context) ([]*directory.Provider, error) {
	rows, err := db.pool.Query(ctx, providerSelect+providerOrder)
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
	const q = `UPDATE providers SET name = $1, name_key = $2, enabled = $3, strict = $4, rate_limit = $5, updated = $6, rev = rev + 1
		WHERE id = $7 AND rev = $8`
	s := subject{Kind: "provider", ID: p.ID, Name: p.Name}
	err := db.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, q, p.Name, strings.ToLower(p.Name), p.Enabled, p.Strict, p.RateLimit, ms(p.Updated), p.ID, p.Rev)
		if err := mustAffect(tag.RowsAffected(), err, s); err != nil {
			if directory.ErrorCode(err) == directory.ENOTFOUND {
				var rev int64
				if tx.QueryRow(ctx, `SELECT rev FROM providers WHERE id = $1`, p.ID).Scan(&rev) == nil {
					return storeerr.Stale(s, rev, p.Rev)
				}
			}
			return err
		}
		if !p.Enabled {
			// A disabled provider's access tokens end with it.
			if _, err := tx.Exec(ctx, `DELETE FROM oauth_tokens WHERE provider_id = $1`, p.ID); err != nil {
				return dbError(err, s)
			}
		}
		return writeKeys(ctx, tx, p, s)
	})
	if err == nil {
		p.Rev++
	}
	return err
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
