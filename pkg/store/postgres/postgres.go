// Package postgres is the directory.Store on PostgreSQL, for several
// kacescim replicas sharing one database.
//
// It is built on a pgx connection pool (github.com/jackc/pgx/v5/pgxpool)
// with pgx's default statement cache: the SQL text of a filtered query
// depends on the filter's shape, not on its values (they are bound), so a
// few dozen prepared statements per connection cover what identity
// providers send.
//
// Replicas coordinate through the database only; the package keeps no
// global state. Every multi-row change runs in one READ COMMITTED
// transaction that takes the row locks it needs (the group row before its
// memberships, the provider row before its counter); single-row changes
// are one statement, optimistic locking is a conditional
// UPDATE ... WHERE version = $n. A transaction PostgreSQL aborts as a
// deadlock victim or a serialization failure (40P01, 40001) is run again,
// a few times, before the error is reported.
//
// The schema lives in migrations/*.sql, embedded in the binary and applied
// by Open under a transaction-scoped advisory lock, so that replicas
// starting together migrate once; schema_migrations records which ones ran.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/durability"
	"github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"
)

// DB is a directory.Store kept in a PostgreSQL database (the schema the
// connection's search_path names first). It is safe for concurrent use;
// Close it when done.
type DB struct {
	pool   *pgxpool.Pool
	users  *sqlfilter.Schema
	groups *sqlfilter.Schema
	// commits, commitNanos and writing count the write transactions
	// (WriteStats).
	commits, commitNanos, writing atomic.Int64
}

var _ directory.Store = (*DB)(nil)

// An Option configures Open.
type Option func(*options)

type options struct {
	durability durability.Level
}

// WithDurability sets what an acknowledged write survives: durability.Full
// (the default: synchronous_commit=on) or durability.Process
// (synchronous_commit=off: kacescim's death, not the database server's).
func WithDurability(l durability.Level) Option {
	return func(o *options) { o.durability = l }
}

// Open connects to the database a postgres:// (or postgresql://) URL
// names and applies the migrations it does not have yet. The URL may carry
// pgxpool's settings (pool_max_conns, …) and run-time parameters such as
// search_path.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	o := options{durability: durability.Full}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "kacescim"
	}
	// on: a commit is answered once its WAL is flushed on the server
	// (and its synchronous standbys, if the server has any); off: up to
	// a few hundred milliseconds of commits can be lost if the database
	// server crashes, though not if kacescim does.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	if o.durability == durability.Process {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool, ms); err != nil {
		pool.Close()
		if unreachable(err) || unavailable(err) {
			// The server is not up (yet): a caller may try again.
			return nil, directory.Errorf(directory.EUNAVAILABLE, "postgres: the database is not available: %v", err)
		}
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return &DB{pool: pool, users: userSchema(), groups: groupSchema()}, nil
}

// SharedByReplicas reports that other kacescim processes may write the
// database: the directory then remembers nothing a replica may change
// (an authenticated key).
func (db *DB) SharedByReplicas() bool { return true }

// Ping checks that the server answers on a pooled connection.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the connection pool, waiting for the connections in use to
// be released.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// maxAttempts is how many times a transaction that PostgreSQL aborted as a
// deadlock victim or a serialization failure is run in all.
const maxAttempts = 5

// retryable reports whether err is a transient failure the whole
// transaction may be run again after.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// retry runs fn until it succeeds, fails for good, or has been tried
// maxAttempts times, waiting a little longer after each failure.
func retry(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = fn()
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * time.Millisecond):
		}
	}
}

// write runs fn in one READ COMMITTED transaction and commits it if fn
// returns nil, running it again on a deadlock or serialization failure.
// fn returns errors unnormalised or normalised; write normalises what is
// left with dbError and no subject.
func (db *DB) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	err := db.counted(func() error {
		return retry(ctx, func() error {
			return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
		})
	})
	return dbError(err, subject{})
}

// counted runs a write, counting it in WriteStats when it commits.
func (db *DB) counted(write func() error) error {
	db.writing.Add(1)
	defer db.writing.Add(-1)
	began := time.Now()
	err := write()
	if err == nil {
		db.commits.Add(1)
		db.commitNanos.Add(int64(time.Since(began)))
	}
	return err
}

// WriteStats counts the write transactions committed and their time; each
// holds one request's write (Writes = Commits). Queued is how many writes
// are running or waiting for a pooled connection.
func (db *DB) WriteStats() directory.WriteStats {
	n := db.commits.Load()
	return directory.WriteStats{Commits: n, Writes: n, CommitTime: time.Duration(db.commitNanos.Load()),
		Queued: int(db.writing.Load())}
}

// read runs fn in one REPEATABLE READ, READ ONLY transaction, so that the
// statements fn runs (a count and a page) see the same snapshot.
func (db *DB) read(ctx context.Context, fn func(tx pgx.Tx) error) error {
	err := retry(ctx, func() error {
		return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
	})
	return dbError(err, subject{})
}

// exec runs one write statement, alone in its implicit transaction, and
// returns the number of rows it changed.
func (db *DB) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	var n int64
	err := db.counted(func() error {
		return retry(ctx, func() error {
			tag, err := db.pool.Exec(ctx, sql, args...)
			n = tag.RowsAffected()
			return err
		})
	})
	return n, err
}
