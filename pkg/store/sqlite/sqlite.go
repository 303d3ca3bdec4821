// Package sqlite is the embedded directory.Store: one SQLite file, opened
// with the pure-Go modernc.org/sqlite driver (no cgo).
//
// The database runs in WAL mode so that readers never wait for the writer.
// SQLite allows one writer at a time, so the DB keeps two connection pools
// over the same file: a single-connection pool for every write, where
// concurrent writers queue in Go (fairly, bounded by their context) instead
// of polling the file lock, and a pool of read-only connections for every
// lookup. Write transactions start with BEGIN IMMEDIATE and every connection
// has a busy_timeout, so another process writing the same file makes a
// writer wait rather than fail with SQLITE_BUSY half-way through a
// transaction. A third connection runs the checkpoints (checkpoint.go).
// The file runs with auto_vacuum=INCREMENTAL, so that pruning the
// provisioning log shrinks it (vacuum.go).
//
// The schema lives in migrations/*.sql, embedded in the binary and applied
// in order by Open; schema_migrations records which ones ran.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/durability"
	"github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"
)

// busyTimeoutMS is how long a connection waits for a lock another
// connection (usually another process) holds before giving up.
const busyTimeoutMS = 5000

// The page caches, in KiB: the writer's, and the readers' together
// (shared out among them, 2 MiB each at least, SQLite's default). With 4
// readers they bound the memory SQLite keeps at 48 MiB.
const (
	writerCacheKiB  = 16 << 10
	readersCacheKiB = 32 << 10
)

// readerCount is the size of the read-only pool.
func readerCount() int { return max(4, runtime.GOMAXPROCS(0)) }

// foldFunc is the SQL function, registered on this package's own driver
// instance, that lower-cases text the way strings.ToLower does (Unicode,
// unlike SQLite's ASCII-only lower()). Filters on attributes kept inside the
// JSON resource use it; the indexed *_key columns are lower-cased in Go.
const foldFunc = "kace_fold"

// DB is a directory.Store kept in a SQLite file. It is safe for concurrent
// use; Close it when done.
type DB struct {
	w      *sql.DB       // the single writer connection (BEGIN IMMEDIATE)
	cm     *committer    // runs every write transaction (commit.go)
	ck     *sql.DB       // the connection of the checkpoints
	cp     *checkpointer // folds the WAL into the database (checkpoint.go)
	r      *sql.DB       // read-only connections
	wc, rc *stmtCache
	pages  *pageMarks // where the pages of unfiltered lists ended (pages.go)
	users  *sqlfilter.Schema
	groups *sqlfilter.Schema
}

var _ directory.Store = (*DB)(nil)

// An Option configures Open.
type Option func(*options)

type options struct {
	durability durability.Level
}

// WithDurability sets what an acknowledged write survives: durability.Full
// (the default: synchronous=FULL, every commit synced, a power loss
// included) or durability.Process (synchronous=NORMAL: the process's
// death, not a power loss).
func WithDurability(l durability.Level) Option {
	return func(o *options) { o.durability = l }
}

// Open opens (creating if needed) the SQLite database at path, a file name
// or a "file:" URI, and applies the migrations it does not have yet.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	o := options{durability: durability.Full}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case path == "":
		return nil, errors.New("sqlite: no database path")
	case path == ":memory:" || strings.Contains(path, "mode=memory"):
		// Each pooled connection would get a database of its own.
		return nil, errors.New("sqlite: in-memory databases are not supported: give a file path")
	}
	if err := ownerOnly(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// A Driver of our own carries foldFunc to this DB's connections only.
	// (The driver keeps a registration for the life of the process: a few
	// bytes per Open.)
	drv := &sqlite.Driver{}
	if err := drv.RegisterDeterministicScalarFunction(foldFunc, 1, fold); err != nil {
		return nil, fmt.Errorf("sqlite: register %s: %w", foldFunc, err)
	}

	w := sql.OpenDB(connector{drv: drv, dsn: dsn(path, writer, o.durability)})
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := &DB{w: w, wc: newStmtCache(w), pages: newPageMarks(), users: userSchema(), groups: groupSchema()}
	if err := db.w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ms, err := migrations()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := migrate(ctx, db.w, ms); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	if err := convertToIncrementalVacuum(ctx, db.w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}

	ck := sql.OpenDB(connector{drv: drv, dsn: dsn(path, checkpoints, o.durability)})
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	ck.SetConnMaxLifetime(0)
	ck.SetConnMaxIdleTime(0)
	db.ck, db.cp = ck, newCheckpointer(ck)
	db.cm = newCommitter(db.wc, db.cp)

	readers := readerCount()
	r := sql.OpenDB(connector{drv: drv, dsn: dsn(path, reader, o.durability)})
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	db.r, db.rc = r, newStmtCache(r)
	if err := db.r.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// ownerOnly makes the database file at path (a file name or a "file:"
// URI) readable by its owner only, whatever the umask: it holds key hashes
// and the directory's personal data. A new file is created 0600 before
// SQLite opens it (SQLite gives its WAL and shared-memory files the
// database file's mode); an existing one, and its WAL and shared-memory
// files, lose their group and other permissions.
func ownerOnly(path string) error {
	if rest, ok := strings.CutPrefix(path, "file:"); ok {
		path, _, _ = strings.Cut(rest, "?")
		if u, err := url.PathUnescape(path); err == nil {
			path = u
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("make %s readable by its owner only: %w", p, err)
			}
		}
	}
	return nil
}

// Ping checks that the database answers a query on a reading connection
// and, once a write has failed for want of the disk, that a write commits
// again: a full disk makes the server not ready until space is freed.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if db.cm.unwritable.Load() == nil {
		return nil
	}
	err := db.write(ctx, func(h handle) error {
		_, err := h.ExecContext(ctx, `INSERT OR REPLACE INTO probe (id, at) VALUES (1, ?)`, time.Now().UnixMilli())
		return dbError(err, subject{})
	})
	if err != nil {
		return fmt.Errorf("sqlite: the database cannot be written: %w", err)
	}
	return nil
}

// Close closes both connection pools.
func (db *DB) Close() error {
	if db.cm != nil {
		db.cm.close()
	}
	var errs []error
	if db.cp != nil {
		db.cp.close()
		errs = append(errs, db.ck.Close())
	}
	if db.r != nil {
		errs = append(errs, db.rc.close(), db.r.Close())
	}
	errs = append(errs, db.wc.close(), db.w.Close())
	return errors.Join(errs...)
}

// A role is what a connection pool of the DB is for.
type role int

const (
	writer      role = iota // the committer's connection
	reader                  // the read-only pool
	checkpoints             // the checkpointer's connection
)

// dsn adds the connection settings of a role to path. Every setting is a
// DSN parameter so that the driver applies it to every connection the
// pools open, not only to the first one.
func dsn(path string, r role, l durability.Level) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	switch r {
	case reader:
		// The writer has put the file in WAL mode already (it is
		// persistent); a reader must not try to change it.
		q.Set("_query_only", "1")
		// Room for the inner pages of the indexes a lookup descends at a
		// million users (SQLite's default is 2 MB), so that it reads
		// the leaf alone from the file.
		q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -max(2<<10, readersCacheKiB/readerCount())))
	case checkpoints:
		// Its checkpoints sync the database file, per the durability.
		q.Add("_pragma", "synchronous("+syncPragma(l)+")")
	case writer:
		// Before the first table of a new file (vacuum.go); on a file
		// of before, only once Open has converted it.
		q.Add("_pragma", "auto_vacuum(INCREMENTAL)")
		q.Add("_pragma", "journal_mode(WAL)")
		// In WAL mode FULL syncs the WAL at every commit; NORMAL only at
		// checkpoints, so that a power loss may lose the last commits
		// (never the database). The group commit (commit.go) shares one
		// sync among the writes that arrive together.
		q.Add("_pragma", "synchronous("+syncPragma(l)+")")
		// The checkpointer's connection checkpoints (checkpoint.go), not
		// the COMMIT of whichever batch fills the WAL.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -writerCacheKiB))
		// A WAL that grew while a reader held it open is cut back when
		// it restarts.
		q.Add("_pragma", "journal_size_limit(67108864)")
		// Each write of a group commit runs in a savepoint, whose
		// sub-journal SQLite spills to a temporary file past 64 KiB;
		// in memory it costs a copy, not a write() per page.
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Set("_txlock", "immediate")
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + q.Encode()
}

// syncPragma is the synchronous setting of a durability level.
func syncPragma(l durability.Level) string {
	if l == durability.Process {
		return "NORMAL"
	}
	return "FULL"
}

// connector opens connections with the DB's own driver instance, which
// carries foldFunc: registering on a private driver keeps the function out
// of every other user of modernc.org/sqlite in the process.
type connector struct {
	drv *sqlite.Driver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

// fold implements foldFunc: text is lower-cased, anything else (NULL, a
// number from a JSON document) is returned unchanged.
func fold(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	if s, ok := args[0].(string); ok {
		return strings.ToLower(s), nil
	}
	return args[0], nil
}

// reader runs single statements on the read-only pool.
func (db *DB) reader() handle { return handle{c: db.rc} }

// write runs fn in a write transaction on the writer connection, gathered
// with the writes queued beside it (commit.go), and commits it if fn
// returns nil: what fn wrote is then durable, per the DB's durability.
func (db *DB) write(ctx context.Context, fn func(h handle) error) error {
	return db.cm.do(ctx, fn)
}

// exec runs one statement as a write of its own.
func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.write(ctx, func(h handle) error {
		var err error
		res, err = h.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// read runs fn in one read transaction, so that the statements fn runs
// see the same snapshot of the database.
func (db *DB) read(ctx context.Context, fn func(h handle) error) error {
	return db.rc.inTx(ctx, &sql.TxOptions{ReadOnly: true}, fn)
}
