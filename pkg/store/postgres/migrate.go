package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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

// migrateLock is the advisory lock migrate holds: one per schema, so that
// replicas sharing a schema migrate one at a time while databases with
// several kacescim schemas (tests) do not wait for each other.
const migrateLock = `SELECT pg_advisory_xact_lock(hashtext('kacescim.migrate:' || coalesce(current_schema(), '')))`

// migrate applies, in one transaction under migrateLock, the migrations
// that schema_migrations does not list yet. Replicas that start at once
// queue on the lock; each finds, once it holds it, what the ones before it
// applied, so every migration runs once. The lock ends with the
// transaction, so a replica that dies half-way leaves nothing behind.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []migration) error {
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, migrateLock); err != nil {
			return err
		}
		// Created under the lock: two CREATE TABLE IF NOT EXISTS at once
		// can both try to create it.
		const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`
		if _, err := tx.Exec(ctx, create); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return err
		}
		done := map[int]bool{}
		newest := 0
		for _, v := range versions {
			done[int(v)] = true
			newest = max(newest, int(v))
		}
		if err := dbschema.CheckNewest(newest, ms); err != nil {
			return err
		}
		for _, m := range ms {
			if done[m.Version] {
				continue
			}
			// No arguments: pgx sends the file with the simple protocol,
			// which runs several statements.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
		}
		return nil
	})
}
