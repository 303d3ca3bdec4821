// Package servertest starts real kacescim servers for tests: the store, a
// directory service over it and the HTTP server, put together as
// kacescim serve does, for the tests of pkg/server and of the packages
// that drive a server from outside (the conformance runner, the CLI).
package servertest

import (
	"cmp"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/store"
)

// Option changes how Open builds a server.
type Option func(*options)

type options struct {
	database string
	now      func() time.Time
}

// Database opens the store dsn names (a postgres:// URL, say) instead of
// a SQLite file in the data directory.
func Database(dsn string) Option { return func(o *options) { o.database = dsn } }

// Clock gives the directory service the clock now instead of the real one.
func Clock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Open opens the store (a SQLite file in cfg.DataDir unless Database
// says otherwise), a directory service over it and the server over both.
// Closing the server closes the store.
func Open(ctx context.Context, cfg server.Config, opts ...Option) (*server.Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cmp.Or(o.database, filepath.Join(cfg.DataDir, store.DefaultFile)), store.DurabilityFull)
	if err != nil {
		return nil, err
	}
	dir := directory.NewService(st)
	if now := o.now; now != nil {
		dir.Now = func() time.Time { return now().UTC() }
	}
	srv, err := server.New(cfg, dir)
	if err != nil {
		st.Close()
		return nil, err
	}
	return srv, nil
}

// Start opens a kacescim server with cfg (in a new temporary data
// directory when cfg.DataDir is empty) and serves it on a random loopback
// port; both are closed when tb ends. The SCIM base URL is the returned
// server's URL + server.SCIMPrefix.
func Start(tb testing.TB, cfg server.Config, opts ...Option) (*server.Server, *httptest.Server) {
	tb.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = tb.TempDir()
	}
	srv, err := Open(context.Background(), cfg, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return srv, ts
}

// AddProvider adds the enabled provider name to srv and returns its key.
func AddProvider(tb testing.TB, srv *server.Server, name string) string {
	tb.Helper()
	_, key, err := srv.Directory().AddProvider(context.Background(), name, true)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}
