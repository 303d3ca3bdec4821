package sqlite

import (
	"context"

	"github.com/kacescim/kacescim/pkg/directory"
)

const federationColumns = `provider_id, issuer, audience, subject, jwks_url, jwks, updated`

func scanFederation(row scanner) (*directory.Federation, error) {
	var (
		f       directory.Federation
		updated int64
	)
	if err := row.Scan(&f.ProviderID, &f.Issuer, &f.Audience, &f.Subject, &f.JWKSURL, &f.JWKS, &updated); err != nil {
		return nil, err
	}
	if len(f.JWKS) == 0 {
		f.JWKS = nil
	}
	f.Updated = fromMS(updated)
	return &f, nil
}

// FindFederation returns the provider's federation; ENOTFOUND if none.
func (db *DB) FindFederation(ctx context.Context, providerID string) (*directory.Federation, error) {
	f, err := scanFederation(db.reader().QueryRowContext(ctx, `SELECT `+federationColumns+` FROM provider_federation WHERE provider_id = ?`, providerID))
	return f, dbError(err, subject{Kind: "federation", ID: providerID})
}

// FindFederationsByIssuer returns every federation that trusts issuer.
func (db *DB) FindFederationsByIssuer(ctx context.Context, issuer string) ([]*directory.Federation, error) {
	rows, err := db.reader().QueryContext(ctx, `SELECT `+federationColumns+` FROM provider_federation WHERE issuer = ? ORDER BY provider_id`, issuer)
	if err != nil {
		return nil, dbError(err, subject{})
	}
	defer rows.Close()
	var out []*directory.Federation
	for rows.Next() {
		f, err := scanFederation(rows)
		if err != nil {
			return nil, dbError(err, subject{})
		}
		out = append(out, f)
	}
	return out, dbError(rows.Err(), subject{})
}

// SaveFederation creates or replaces the provider's federation.
func (db *DB) SaveFederation(ctx context.Context, f *directory.Federation) error {
	var jwks any
	if len(f.JWKS) > 0 {
		jwks = f.JWKS
	}
	_, err := db.exec(ctx, `INSERT INTO provider_federation (`+federationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (provider_id) DO UPDATE SET issuer = excluded.issuer, audience = excluded.audience, subject = excluded.subject,
			jwks_url = excluded.jwks_url, jwks = excluded.jwks, updated = excluded.updated`,
		f.ProviderID, f.Issuer, f.Audience, f.Subject, f.JWKSURL, jwks, toMS(f.Updated))
	return dbError(err, subject{Kind: "provider", ID: f.ProviderID})
}

// DeleteFederation removes the provider's federation; ENOTFOUND if none.
func (db *DB) DeleteFederation(ctx context.Context, providerID string) error {
	res, err := db.exec(ctx, `DELETE FROM provider_federation WHERE provider_id = ?`, providerID)
	return mustAffect(res, err, subject{Kind: "federation", ID: providerID})
}
