package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// TestGroupCommit sends 64 creates at once, every other one a duplicate
// userName of one already written: the duplicates fail alone (409), every
// other create is committed, and they share far fewer transactions than
// there are writes.
func TestGroupCommit(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	p := storetest.NewProvider(t, db, "p")
	for i := range 32 {
		if err := db.CreateUser(ctx, testUser(p.ID, fmt.Sprintf("dup%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	before := db.cm.commits.Load()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs = map[string]error{}
	)
	start := make(chan struct{})
	for i := range 64 {
		name := fmt.Sprintf("new%02d", i/2)
		if i%2 == 1 {
			name = fmt.Sprintf("dup%02d", i/2)
		}
		wg.Go(func() {
			<-start
			err := db.CreateUser(ctx, testUser(p.ID, name))
			mu.Lock()
			errs[name] = err
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	for name, err := range errs {
		dup := name[:3] == "dup"
		switch {
		case dup && directory.ErrorCode(err) != directory.ECONFLICT:
			t.Errorf("%s: %v, want a conflict", name, err)
		case !dup && err != nil:
			t.Errorf("%s: %v, want it created beside the failing duplicates", name, err)
		}
	}
	if n := countUsers(t, db, p.ID, `userName sw "new"`); n != 32 {
		t.Errorf("%d new users stored, want 32", n)
	}
	commits := db.cm.commits.Load() - before
	if commits >= 32 {
		t.Errorf("%d transactions for 32 successful writes sent at once: nothing was gathered", commits)
	}
	t.Logf("64 writes (32 failing) in %d transactions", commits)
}

// TestGroupCommitCallerGone: a write whose context ends before its turn is
// not run; one already queued is answered with its outcome, not with the
// context's end.
func TestGroupCommitCallerGone(t *testing.T) {
	db := openTemp(t)
	p := storetest.NewProvider(t, db, "p")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := db.CreateUser(ctx, testUser(p.ID, "gone"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled create: %v", err)
	}
	if n := countUsers(t, db, p.ID, `userName eq "gone"`); n != 0 {
		t.Errorf("a cancelled create was written")
	}
}

// TestGroupCommitClosed: a write after Close fails, saying so, and does
// not hang.
func TestGroupCommitClosed(t *testing.T) {
	db := openTemp(t)
	p := storetest.NewProvider(t, db, "p")
	db.cm.close()
	if err := db.CreateUser(t.Context(), testUser(p.ID, "late")); !errors.Is(err, errClosed) {
		t.Errorf("write after close: %v", err)
	}
}

func countUsers(t *testing.T, db *DB, providerID, filter string) int {
	t.Helper()
	_, total, err := db.FindUsers(t.Context(), providerID, directory.Query{Filter: storetest.MustParse(t, filter), Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// TestUnmarshalResourceAsEncodingJSON: the stored-resource decoder reads
// what encoding/json reads: float64 numbers, escapes, nesting.
func TestUnmarshalResourceAsEncodingJSON(t *testing.T) {
	const doc = `{"userName":"a\u003cb\u003e@example.com","n":12.5,"big":1e21,"i":9007199254740993,"esc":"\u2028\ud83d\ude00\"\\","null":null,` +
		`"emails":[{"value":"x@example.com","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}},"empty":{},"list":[]}`
	got, err := unmarshalResource(doc)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(doc), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n%#v\nencoding/json\n%#v", got, want)
	}
}

// TestCheckpointsOffTheWritePath: the committer's connection never
// checkpoints (its wal_autocheckpoint is off), and the checkpointer's
// connection does, once checkpointEvery commits have passed.
func TestCheckpointsOffTheWritePath(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	var auto int
	if err := db.write(ctx, func(h handle) error {
		return h.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto)
	}); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Errorf("the writer's wal_autocheckpoint is %d, want 0: its COMMITs would checkpoint", auto)
	}
	p := storetest.NewProvider(t, db, "p")
	runs := db.cp.runs.Load()
	for i := range checkpointEvery + 1 {
		if err := db.CreateUser(ctx, testUser(p.ID, fmt.Sprintf("u%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for range 50 { // half a second: well before the idle tick
		if db.cp.runs.Load() > runs {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if db.cp.runs.Load() == runs {
		t.Fatalf("no checkpoint ran after %d commits", checkpointEvery+1)
	}
}

// TestWALStaysBounded: under a steady load of writes from 8 callers the
// WAL restarts instead of growing with every commit (a checkpoint beside
// a busy writer never catches up alone; the committer finishes it).
func TestWALStaysBounded(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kacescim.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := storetest.NewProvider(t, db, "p")
	const callers, each = 8, 500
	var (
		wg     sync.WaitGroup
		maxWAL atomic.Int64
	)
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				if err := db.CreateUser(ctx, testUser(p.ID, fmt.Sprintf("c%d-u%03d", c, i))); err != nil {
					t.Error(err)
					return
				}
				if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > maxWAL.Load() {
					maxWAL.Store(fi.Size())
				}
			}
		})
	}
	wg.Wait()
	commits := db.cm.commits.Load()
	// Growing, the WAL would hold every page of every commit: far more
	// than the few checkpoint intervals a restarting WAL spans.
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d commits; WAL at most %d bytes, %d at the end", commits, maxWAL.Load(), fi.Size())
	if limit := int64(32 << 20); maxWAL.Load() > limit {
		t.Errorf("the WAL grew to %d bytes over %d commits (bound %d): it does not restart", maxWAL.Load(), commits, limit)
	}
}
