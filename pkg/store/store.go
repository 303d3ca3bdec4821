// Package store opens the directory.Store a data-source name names.
package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/sqlite"
)

// Open opens the store for dsn: a postgres:// or postgresql:// URL for
// PostgreSQL, otherwise a SQLite file path or sqlite:// URL. Migrations run
// before it returns.
func Open(ctx context.Context, dsn string) (directory.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return nil, fmt.Errorf("PostgreSQL is not supported yet: leave --database empty for the embedded SQLite store")
	default:
		return sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite://"))
	}
}
