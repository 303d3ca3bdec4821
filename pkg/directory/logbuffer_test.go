package directory_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/sqlite"
)

// TestLogBuffer: entries recorded from many requests at once are all in
// the log a read right after shows (it writes what is queued first), the
// provider's last sync among them; and Close writes what is still queued.
func TestLogBuffer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kacescim.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	dir := directory.NewService(st)
	p, _, err := dir.AddProvider(ctx, "okta", true)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 6000 { // more than the queue holds: the rest are written at once
		wg.Go(func() {
			e := &directory.LogEntry{Time: at.Add(time.Duration(i) * time.Millisecond), ProviderID: p.ID, Method: "GET", Path: "/scim/v2/Users", Status: 200}
			if err := dir.RecordRequest(ctx, e); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	entries, err := dir.Log(ctx, "", directory.LogQuery{Limit: 10000})
	if err != nil || len(entries) != 6000 {
		t.Fatalf("%d entries (%v), want 6000", len(entries), err)
	}
	got, err := dir.Provider(ctx, "okta")
	if err != nil || !got.LastSyncAt.Equal(at.Add(5999*time.Millisecond)) {
		t.Errorf("last sync %v (%v), want the newest entry's %v", got.LastSyncAt, err, at.Add(5999*time.Millisecond))
	}

	for range 10 {
		if err := dir.RecordRequest(ctx, &directory.LogEntry{Time: at, ProviderID: p.ID, Method: "DELETE", Path: "/scim/v2/Users/x", Status: 204}); err != nil {
			t.Fatal(err)
		}
	}
	if err := dir.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	after, err := st.FindLog(ctx, directory.LogQuery{Limit: 10000})
	if err != nil || len(after) != 6010 {
		t.Errorf("%d entries after Close (%v), want 6010: the queued ones written", len(after), err)
	}
}
