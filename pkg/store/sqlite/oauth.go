package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// oauthClientSelect reads a client with its secrets, one row a secret, in
// the order scanOAuthClient folds them.
const oauthClientSelect = `SELECT c.provider_id, c.client_id, c.created, c.rev,
	s.id, s.hash, s.hint, s.created, s.expires, s.last_used
	FROM oauth_clients c LEFT JOIN oauth_secrets s ON s.provider_id = c.provider_id `

func (db *DB) findOAuthClient(ctx context.Context, where string, arg any) (*directory.OAuthClient, error) {
	s := subject{Kind: "OAuth client"}
	rows, err := db.reader().QueryContext(ctx, oauthClientSelect+where+` ORDER BY s.created, s.id`, arg)
	if err != nil {
		return nil, dbError(err, s)
	}
	defer rows.Close()
	var c *directory.OAuthClient
	for rows.Next() {
		var (
			providerID, clientID string
			created, rev         int64
			id, hint             sql.NullString
			hash                 []byte
			sCreated, expires    sql.NullInt64
			used                 sql.NullInt64
		)
		if err := rows.Scan(&providerID, &clientID, &created, &rev, &id, &hash, &hint, &sCreated, &expires, &used); err != nil {
			return nil, dbError(err, s)
		}
		if c == nil {
			c = &directory.OAuthClient{ProviderID: providerID, ClientID: clientID, Created: fromMS(created), Rev: rev}
		}
		if id.Valid {
			c.Secrets = append(c.Secrets, directory.Secret{ID: id.String, Hash: hash, Hint: hint.String,
				Created: msOrZero(sCreated), Expires: msOrZero(expires), LastUsed: msOrZero(used)})
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
	return db.findOAuthClient(ctx, `WHERE c.provider_id = ?`, providerID)
}

// FindOAuthClientByID returns the client with that client ID.
func (db *DB) FindOAuthClientByID(ctx context.Context, clientID string) (*directory.OAuthClient, error) {
	return db.findOAuthClient(ctx, `WHERE c.client_id = ?`, clientID)
}

// SaveOAuthClient creates the client or makes its secrets c.Secrets.
func (db *DB) SaveOAuthClient(ctx context.Context, c *directory.OAuthClient) error {
	s := subject{Kind: "provider", ID: c.ProviderID}
	ids := make([]string, len(c.Secrets))
	for i, x := range c.Secrets {
		ids[i] = x.ID
	}
	idList, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	err = db.write(ctx, func(h handle) error {
		// A new client (Rev 0) is inserted, a stored one moved on from
		// the revision read: either finding another request's write first
		// is ESTALE.
		var res sql.Result
		var err error
		if c.Rev == 0 {
			res, err = h.ExecContext(ctx, `INSERT INTO oauth_clients (provider_id, client_id, created, rev) VALUES (?, ?, ?, 1)
				ON CONFLICT (provider_id) DO NOTHING`, c.ProviderID, c.ClientID, toMS(c.Created))
		} else {
			res, err = h.ExecContext(ctx, `UPDATE oauth_clients SET rev = rev + 1 WHERE provider_id = ? AND rev = ?`, c.ProviderID, c.Rev)
		}
		if err != nil {
			return dbError(err, s)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			var rev int64
			if c.Rev != 0 && h.QueryRowContext(ctx, `SELECT rev FROM oauth_clients WHERE provider_id = ?`, c.ProviderID).Scan(&rev) != nil {
				return storeerr.NotFound(s)
			}
			return storeerr.Stale(subject{Kind: "OAuth client", ID: c.ClientID}, rev, c.Rev)
		}
		if _, err := h.ExecContext(ctx, `DELETE FROM oauth_secrets WHERE provider_id = ? AND id NOT IN (SELECT value FROM json_each(?))`,
			c.ProviderID, string(idList)); err != nil {
			return dbError(err, s)
		}
		for _, x := range c.Secrets {
			if _, err := h.ExecContext(ctx, `INSERT INTO oauth_secrets (id, provider_id, hash, hint, created, expires) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET expires = excluded.expires WHERE provider_id = excluded.provider_id`,
				x.ID, c.ProviderID, x.Hash, x.Hint, toMS(x.Created), toMS(x.Expires)); err != nil {
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
// by then (checked in the same transaction, so that a disable cannot
// slip between the token endpoint's check and its write).
func (db *DB) CreateAccessToken(ctx context.Context, t *directory.AccessToken) error {
	s := subject{Kind: "client secret", ID: t.SecretID}
	return db.write(ctx, func(h handle) error {
		res, err := h.ExecContext(ctx, `INSERT INTO oauth_tokens (hash, provider_id, secret_id, created, expires)
			SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM providers WHERE id = ?2 AND enabled)`,
			t.Hash, t.ProviderID, t.SecretID, toMS(t.Created), toMS(t.Expires))
		if err != nil {
			return dbError(err, s)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return directory.Errorf(directory.EFORBIDDEN, "the provider is disabled")
		}
		if _, err := h.ExecContext(ctx, `UPDATE oauth_secrets SET last_used = ?1 WHERE id = ?2 AND (last_used IS NULL OR last_used < ?1)`,
			toMS(t.Created), t.SecretID); err != nil {
			return dbError(err, s)
		}
		_, err = h.ExecContext(ctx, `DELETE FROM oauth_tokens WHERE provider_id = ? AND expires <= ?`, t.ProviderID, toMS(t.Created))
		return dbError(err, s)
	})
}

// FindAccessToken returns the token with that hash and its provider.
func (db *DB) FindAccessToken(ctx context.Context, hash []byte) (*directory.AccessToken, *directory.Provider, error) {
	s := subject{Kind: "access token"}
	if len(hash) == 0 {
		return nil, nil, storeerr.NotFound(s)
	}
	t := &directory.AccessToken{Hash: hash}
	var created, expires int64
	err := db.reader().QueryRowContext(ctx, `SELECT provider_id, secret_id, created, expires FROM oauth_tokens WHERE hash = ?`, hash).
		Scan(&t.ProviderID, &t.SecretID, &created, &expires)
	if err != nil {
		return nil, nil, dbError(err, s)
	}
	t.Created, t.Expires = fromMS(created), fromMS(expires)
	p, err := db.FindProviderByID(ctx, t.ProviderID)
	if err != nil {
		return nil, nil, err
	}
	return t, p, nil
}
