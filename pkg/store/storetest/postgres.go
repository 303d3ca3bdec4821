package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the environment variable that holds the postgres://
// URL of a database the tests may create schemas in. scripts/with-postgres.sh
// starts a private server and sets it; without it, the PostgreSQL tests
// skip.
const PostgresEnv = "KACESCIM_TEST_POSTGRES"

// PostgresDSN returns the URL of a new, empty schema in the database
// KACESCIM_TEST_POSTGRES names: the same URL with search_path set to the
// schema, so that a store (or several replicas) opened on it sees nothing
// else. The schema is dropped when tb ends. Without the variable, tb is
// skipped with a message saying how to run it.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		tb.Skip(PostgresEnv + " is not set: run the PostgreSQL tests with a private server, " +
			"scripts/with-postgres.sh go test -race ./...")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s must be a postgres:// URL (got an unusable value: %v)", PostgresEnv, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	schema := "kacescim_test_" + hex.EncodeToString(b[:])

	exec := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("create schema %s in %s: %v", schema, u.Redacted(), err)
	}
	tb.Cleanup(func() {
		// t.Context is done by now: drop the schema on a context of its own.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
