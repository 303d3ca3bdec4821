// Package store opens the directory.Store a data-source name names. Below
// it are the backends and what they share:
//
//   - sqlite, the embedded store, one file and no server (the default);
//   - postgres, for several replicas sharing one database;
//   - storetest, the suite and the filter checks every backend passes;
//   - internal/sqlfilter, the translation of SCIM filters, sorting and
//     paging into SQL over a small dialect interface;
//   - internal/storeerr, the errors of the Store contract, into which each
//     backend's errors.go translates its driver's errors, once;
//   - internal/record, the stored forms of resources and fields;
//   - internal/dbschema, the embedded migration files.
//
// Every backend answers with *directory.Error codes: EBADFILTER for a
// filter it cannot evaluate and ETOOMANY for one beyond
// scim.CheckFilterLimits among them.
package store

import (
	"context"
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/durability"
	"github.com/kacescim/kacescim/pkg/store/postgres"
	"github.com/kacescim/kacescim/pkg/store/sqlite"
)

// DefaultFile is the SQLite database in a data directory: where serve
// keeps the directory unless --database names another.
const DefaultFile = "kacescim.db"

// Durability says what an acknowledged write survives (serve's
// --durability): DurabilityFull, the default, a power loss; DurabilityProcess
// only the process's death, for faster writes.
type Durability = durability.Level

const (
	DurabilityFull    = durability.Full
	DurabilityProcess = durability.Process
)

// ParseDurability reads "full" or "process" ("" is full), or says what
// the choices are.
func ParseDurability(s string) (Durability, error) { return durability.Parse(s) }

// Open opens the store for dsn: a postgres:// or postgresql:// URL for
// PostgreSQL (several replicas may share it), otherwise a SQLite file path
// or sqlite:// URL, with what its acknowledged writes survive. Migrations
// run before it returns.
func Open(ctx context.Context, dsn string, d Durability) (directory.Store, error) {
	// Each branch returns a nil interface on error, never a nil *DB in one.
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err := postgres.Open(ctx, dsn, postgres.WithDurability(d))
		if err != nil {
			return nil, err
		}
		return db, nil
	default:
		db, err := sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite://"), sqlite.WithDurability(d))
		if err != nil {
			return nil, err
		}
		return db, nil
	}
}
