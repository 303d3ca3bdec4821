package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/kacescim/kacescim/pkg/directory"
)

const federationColumns = `provider_id, issuer, audience, subject, jwks_url, jwks, updated`

func scanFederation(row pgx.Row) (*directory.Federation, error) {
	var f directory.Federation
	if err := row.Scan(&f.ProviderID, &f.Issuer, &f.Audience, &f.Subject, &f.JWKSURL, &f.JWKS, &f.Updated); err != nil {
		return nil, err
	}
	if len(f.JWKS) == 0 {
		f.JWKS = nil
	}
	f.Updated = f.Updated.UTC()
	return &f, nil
}

// FindFederation returns the provider's federation; ENOTFOUND if none.
func (db *DB) FindFederation(ctx context.Context, providerID string) (*directory.Federation, error) {
	f, err := scanFederation(db.pool.QueryRow(ctx, `SELECT `+federationColumns+` FROM provider_federation WHERE provider_id = $1`, providerID))
	return f, dbError(err, subject{Kind: "federation", ID: providerID})
}

// FindFederationsByIssuer returns every federation that trusts issuer.
func (db *DB) FindFederationsByIssuer(ctx context.Context, issuer string) ([]*directory.Federation, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+federationColumns+` FROM provider_federation WHERE issuer = $1 ORDER BY provider_id`, issuer)
	if err != nil {
		return nil, dbError(err, subject{})
	}
	fs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*directory.Federation, error) { return scanFederation(row) })
	return fs, dbError(err, subject{})
}

// SaveFederation creates or replaces the provider's federation.
func (db *DB) SaveFederation(ctx context.Context, f *directory.Federation) error {
	var jwks any
	if len(f.JWKS) > 0 {
		jwks = f.JWKS
	}
	_, err := db.exec(ctx, `INSERT INTO provider_federation (`+federationColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (provider_id) DO UPDATE SET issuer = excluded.issuer, audience = excluded.audience, subject = excluded.subject,
			jwks_url = excluded.jwks_url, jwks = excluded.jwks, updated = excluded.updated`,
		f.ProviderID, f.Issuer, f.Audience, f.Subject, f.JWKSURL, jwks, ms(f.Updated))
	return dbError(err, subject{Kind: "provider", ID: f.ProviderID})
}

// DeleteFederation removes the provider's federation; ENOTFOUND if none.
func (db *DB) DeleteFederation(ctx context.Context, providerID string) error {
	n, err := db.exec(ctx, `DELETE FROM provider_federation WHERE provider_id = $1`, providerID)
	return mustAffect(n, err, subject{Kind: "federation", ID: providerID})
}
