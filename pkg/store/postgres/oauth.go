package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// oauthClientSelect reads a client with its secrets, one row a secret, in
// the order findOAuthClient folds them.
const oauthClientSelect = `SELECT c.provider_id, c.client_id, c.created, c.rev,
	s.id, s.hash, s.hint, s.created, s.expires, s.last_used
	FROM oauth_clients c LEFT JOIN oauth_secrets s ON s.provider_id = c.provider_id `

func (db *DB) findOAuthClient(ctx context.Context, where string, arg any) (*directory.OAuthClient, error) {
	s := subject{Kind: "OAuth client"}
	rows, err := db.pool.Query(ctx, oauthClientSelect+where+` ORDER BY s.created, s.id`, arg)
	if err != nil {
		return nil, dbError(err, s)
	}
	defer rows.Close()
	var c *directory.OAuthClient
	for rows.Next() {
		var (
			providerID, clientID    string
			created                 time.Time
			rev                     int64
			id, hint                *string
			hash                    []byte
			sCreated, expires, used *time.Time
		)
		if err := rows.Scan(&providerID, &clientID, &created, &rev, &id, &hash, &hint, &sCreated, &expires, &used); err != nil {
			return nil, dbError(err, s)
		}
		if c == nil {
			c = &directory.OAuthClient{ProviderID: providerID, ClientID: clientID, Created: created.UTC(), Rev: rev}
		}
		if id != nil {
			c.Secrets = append(c.Secrets, directory.Secret{ID: *id, Hash: hash, Hint: *hint,
				Created: utcOrZero(sCreated), Expires: utcOrZero(expires), LastUsed: utcOrZero(used)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, s)
	}
	if c == nil {
		return nil, storeerr.NotFound(s)
	}
	return c, nil
}

// FindOAuthClient returns the provider's client; ENOTFOUND if none.
func (db *DB) FindOAuthClient(ctx context.Context, providerID string) (*directory.OAuthClient, error) {
	return db.findOAuthClient(ctx, `WHERE c.provider_id = $1`, providerID)
}

// FindOAuthClientByID returns the client with that client ID.
func (db *DB) FindOAuthClientByID(ctx context.Context, clientID string) (*directory.OAuthClient, error) {
	return db.findOAuthClient(ctx, `WHERE c.client_id = $1`, clientID)
}

// SaveOAuthClient creates the client or makes its secrets c.Secrets.
func (db *DB) SaveOAuthClient(ctx context.Context, c *directory.OAuthClient) error {
	s := subject{Kind: "provider", ID: c.ProviderID}
	ids := make([]string, len(c.Secrets))
	for i, x := range c.Secrets {
		ids[i] = x.ID
	}
	err := db.write(ctx, func(tx pgx.Tx) error {
		// A new client (Rev 0) is inserted, a stored one moved on from
		// the revision read: either finding another request's write first
		// is ESTALE.
		var tag pgconn.CommandTag
		var err error
		if c.Rev == 0 {
			tag, err = tx.Exec(ctx, `INSERT INTO oauth_clients (provider_id, client_id, created, rev) VALUES ($1, $2, $3, 1)
				ON CONFLICT (provider_id) DO NOTHING`, c.ProviderID, c.ClientID, ms(c.Created))
		} else {
			tag, err = tx.Exec(ctx, `UPDATE oauth_clients SET rev = rev + 1 WHERE provider_id = $1 AND rev = $2`, c.ProviderID, c.Rev)
		}
		if err != nil {
			return dbError(err, s)
		}
		if tag.RowsAffected() == 0 {
			var rev int64
			if c.Rev != 0 && tx.QueryRow(ctx, `SELECT rev FROM oauth_clients WHERE provider_id = $1`, c.ProviderID).Scan(&rev) != nil {
				return storeerr.NotFound(s)
			}
			return storeerr.Stale(subject{Kind: "OAuth client", ID: c.ClientID}, rev, c.Rev)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_secrets WHERE provider_id = $1 AND id <> ALL($2::text[])`, c.ProviderID, ids); err != nil {
			return dbError(err, s)
		}
		for _, x := range c.Secrets {
			if _, err := tx.Exec(ctx, `INSERT INTO oauth_secrets (id, provider_id, hash, hint, created, expires) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (id) DO UPDATE SET expires = excluded.expires WHERE oauth_secrets.provider_id = excluded.provider_id`,
				x.ID, c.ProviderID, x.Hash, x.Hint, ms(x.Created), ms(x.Expires)); err != nil {
				return dbError(err, s)
			}
		}
		return nil
	})
	if err == nil {
		c.Rev++
	}
	return err
}

// CreateAccessToken stores t, moves its secret's last use and deletes
// the provider's expired tokens; EFORBIDDEN if the provider is disabled
// by then. The provider's row is read FOR SHARE: a disable running at the
// same time is waited for, so that it cannot delete the provider's tokens
// before this one is written.
func (db *DB) CreateAccessToken(ctx context.Context, t *directory.AccessToken) error {
	s := subject{Kind: "client secret", ID: t.SecretID}
	return db.write(ctx, func(tx pgx.Tx) error {
		var enabled bool
		if err := tx.QueryRow(ctx, `SELECT enabled FROM providers WHERE id = $1 FOR SHARE`, t.ProviderID).Scan(&enabled); err != nil {
			return dbError(err, subject{Kind: "provider", ID: t.ProviderID})
		}
		if !enabled {
			return directory.Errorf(directory.EFORBIDDEN, "the provider is disabled")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO oauth_tokens (hash, provider_id, secret_id, created, expires) VALUES ($1, $2, $3, $4, $5)`,
			t.Hash, t.ProviderID, t.SecretID, ms(t.Created), ms(t.Expires)); err != nil {
			return dbError(err, s)
		}
		if _, err := tx.Exec(ctx, `UPDATE oauth_secrets SET last_used = $1 WHERE id = $2 AND (last_used IS NULL OR last_used < $1)`,
			ms(t.Created), t.SecretID); err != nil {
			return dbError(err, s)
		}
		_, err := tx.Exec(ctx, `DELETE FROM oauth_tokens WHERE provider_id = $1 AND expires <= $2`, t.ProviderID, ms(t.Created))
		return dbError(err, s)
	})
}

// FindAccessToken returns the token with that hash and its provider, in
// one round trip.
func (db *DB) FindAccessToken(ctx context.Context, hash []byte) (*directory.AccessToken, *directory.Provider, error) {
	s := subject{Kind: "access token"}
	if len(hash) == 0 {
		return nil, nil, storeerr.NotFound(s)
	}
	t := &directory.AccessToken{Hash: hash}
	err := db.pool.QueryRow(ctx, `SELECT provider_id, secret_id, created, expires FROM oauth_tokens WHERE hash = $1`, hash).
		Scan(&t.ProviderID, &t.SecretID, &t.Created, &t.Expires)
	if err != nil {
		return nil, nil, dbError(err, s)
	}
	t.Created, t.Expires = t.Created.UTC(), t.Expires.UTC()
	p, err := db.FindProviderByID(ctx, t.ProviderID)
	if err != nil {
		return nil, nil, err
	}
	return t, p, nil
}
