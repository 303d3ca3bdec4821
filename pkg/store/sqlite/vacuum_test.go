package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

func pragmaInt(t *testing.T, db *DB, name string) int64 {
	t.Helper()
	var n int64
	if err := db.r.QueryRow(`PRAGMA ` + name).Scan(&n); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return n
}

// fillLog writes n provisioning-log entries of a provider, each with a
// 1 KiB URI, in batches.
func fillLog(t *testing.T, db *DB, providerID string, n int) {
	t.Helper()
	ctx := context.Background()
	path := "/scim/v2/Users?filter=" + strings.Repeat("x", 1000)
	for i := 0; i < n; i += 500 {
		var batch []*directory.LogEntry
		for range min(500, n-i) {
			batch = append(batch, &directory.LogEntry{Time: time.Now(), ProviderID: providerID, Method: "GET", Path: path, Status: 401})
		}
		if err := db.RecordRequests(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPruneGivesSpaceBack: a new database runs with
// auto_vacuum=INCREMENTAL, and PruneLog hands the pages of the entries it
// deleted back to the file system, so that the file shrinks at the next
// checkpoint instead of staying at its largest.
func TestPruneGivesSpaceBack(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kacescim.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if mode := pragmaInt(t, db, "auto_vacuum"); mode != autoVacuumIncremental {
		t.Fatalf("a new database has auto_vacuum=%d, want %d (INCREMENTAL)", mode, autoVacuumIncremental)
	}
	p := &directory.Provider{ID: "p1", Name: "okta", Enabled: true, Keys: []directory.Key{{ID: "k1", Hash: []byte("h1"), Hint: "…1", Created: time.Now()}}, Created: time.Now()}
	if err := db.CreateProvider(ctx, p); err != nil {
		t.Fatal(err)
	}
	fillLog(t, db, p.ID, 12_000)
	full := pragmaInt(t, db, "page_count")

	n, err := db.PruneLog(ctx, directory.LogLimits{MaxEntries: 100})
	if err != nil || n != 11_900 {
		t.Fatalf("PruneLog deleted %d (%v), want 11900", n, err)
	}
	if free := pragmaInt(t, db, "freelist_count"); free != 0 {
		t.Errorf("%d pages still on the freelist after PruneLog", free)
	}
	pruned := pragmaInt(t, db, "page_count")
	if pruned > full/10 {
		t.Errorf("the database has %d pages after pruning 99%% of the log, %d before", pruned, full)
	}
	// The checkpoint that writes the shrunk database back: a reader of the
	// pool may still hold a snapshot for a moment (busy), so it is run
	// until it completes.
	for try := 0; ; try++ {
		var busy, frames, done int
		if err := db.ck.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &done); err != nil {
			t.Fatal(err)
		}
		if busy == 0 {
			break
		}
		if try == 50 {
			t.Fatalf("the checkpoint stayed busy (%d of %d frames)", done, frames)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > pruned*4096 {
		t.Errorf("the file is %d bytes after a checkpoint, the database %d pages", fi.Size(), pruned)
	}
	t.Logf("%d pages full, %d pruned, file %d bytes", full, pruned, fi.Size())
}

// TestOpenConvertsToIncrementalVacuum: a database made before
// auto_vacuum was set (auto_vacuum=NONE) is rebuilt once, at Open, with
// its data.
func TestOpenConvertsToIncrementalVacuum(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kacescim.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	p := &directory.Provider{ID: "p1", Name: "okta", Enabled: true, Keys: []directory.Key{{ID: "k1", Hash: []byte("h1"), Hint: "…1", Created: time.Now()}}, Created: time.Now()}
	if err := db.CreateProvider(ctx, p); err != nil {
		t.Fatal(err)
	}
	fillLog(t, db, p.ID, 1000)
	db.Close()

	// The file as an older kacescim left it.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`PRAGMA auto_vacuum = NONE`, `VACUUM`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var mode int
	if err := raw.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 0 {
		t.Fatalf("auto_vacuum = %d (%v) after setting NONE", mode, err)
	}
	raw.Close()

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if mode := pragmaInt(t, db, "auto_vacuum"); mode != autoVacuumIncremental {
		t.Errorf("after Open, auto_vacuum = %d, want %d", mode, autoVacuumIncremental)
	}
	if got, err := db.FindProviderByID(ctx, p.ID); err != nil || got.Name != "okta" {
		t.Errorf("provider after the conversion: %+v, %v", got, err)
	}
	if es, err := db.FindLog(ctx, directory.LogQuery{Limit: 10_000}); err != nil || len(es) != 1000 {
		t.Errorf("log after the conversion: %d entries, %v", len(es), err)
	}
}
