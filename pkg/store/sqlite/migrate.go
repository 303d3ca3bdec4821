package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/kacescim/kacescim/pkg/store/internal/dbschema"
)

// migrationFiles holds the schema, one file per version:
// migrations/NNNN_description.sql. A released file is never edited; a
// schema change is a new file with the next number.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded schema change.
type migration = dbschema.Migration

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) { return dbschema.Load(migrationFiles, "migrations") }

// migrate applies, each in its own write transaction, the migrations that
// schema_migrations does not list yet. It is safe against another process
// migrating the same file at the same time: BEGIN IMMEDIATE serialises the
// two, and each re-checks inside its transaction.
func migrate(ctx context.Context, db *sql.DB, ms []migration) error {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL -- unix ms
	) STRICT`
	if _, err := db.ExecContext(ctx, create); err != nil {
		return err
	}
	var newest int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return err
	}
	if err := dbschema.CheckNewest(newest, ms); err != nil {
		return err
	}
	for _, m := range ms {
		if err := apply(ctx, db, m); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	return nil
}

// apply runs m unless it has been applied already.
func apply(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.Version, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}
