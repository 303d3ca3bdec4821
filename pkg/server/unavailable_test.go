package server_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/kacescim/kacescim/pkg/store"
)

// TestLockedDatabaseIs503: while another process holds the SQLite file's
// write lock past the busy timeout, writes get 503 with Retry-After and a
// SCIM error that says to try again, not 500; reads are still served; once
// the lock is gone, writes succeed again.
func TestLockedDatabaseIs503(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out SQLite's 5 s busy timeout (-short)")
	}
	e := newSCIMEnv(t)
	id := e.createUser("before@example.com")

	other, err := sql.Open("sqlite", "file:"+filepath.Join(e.dataDir, store.DefaultFile)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	r := e.do("POST", "/Users", userBody("during@example.com"))
	wantSCIMError(t, r, 503, "")
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	e.must(e.do("GET", "/Users/"+id, ""), 200)

	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	e.must(e.do("POST", "/Users", userBody("during@example.com")), 201)
}
