package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

var logT0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func record(t *testing.T, s directory.Store, providerID string, at time.Time, status int) *directory.LogEntry {
	t.Helper()
	e := &directory.LogEntry{Time: at, ProviderID: providerID, RequestID: "r", Method: "GET",
		Path: `/scim/v2/Users?filter=userName eq "a"`, Status: status, Latency: 1500 * time.Microsecond, ClientIP: "192.0.2.7"}
	if status >= 400 {
		e.Error = fmt.Sprintf("failed with %d", status)
	}
	if err := s.RecordRequest(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func testRequestLog(t *testing.T, s directory.Store) {
	ctx := context.Background()
	okta := newProvider(t, s, "okta")
	entra := newProvider(t, s, "entra")

	a := record(t, s, okta.ID, logT0, 200)
	b := record(t, s, okta.ID, logT0.Add(time.Minute), 404)
	c := record(t, s, entra.ID, logT0.Add(2*time.Minute), 201)
	d := record(t, s, "", logT0.Add(3*time.Minute), 401)
	if !(a.ID < b.ID && b.ID < c.ID && c.ID < d.ID) {
		t.Fatalf("ids do not increase: %d %d %d %d", a.ID, b.ID, c.ID, d.ID)
	}

	// Only a success moves the most recent sync.
	p, _ := s.FindProviderByID(ctx, okta.ID)
	if !p.LastSyncAt.Equal(logT0) {
		t.Errorf("okta LastSyncAt = %v, want %v (the 404 must not count)", p.LastSyncAt, logT0)
	}
	p, _ = s.FindProviderByID(ctx, entra.ID)
	if !p.LastSyncAt.Equal(logT0.Add(2 * time.Minute)) {
		t.Errorf("entra LastSyncAt = %v", p.LastSyncAt)
	}
	// An older success never moves it back.
	record(t, s, entra.ID, logT0, 200)
	p, _ = s.FindProviderByID(ctx, entra.ID)
	if !p.LastSyncAt.Equal(logT0.Add(2 * time.Minute)) {
		t.Errorf("an older entry moved LastSyncAt back to %v", p.LastSyncAt)
	}

	ids := func(q directory.LogQuery) []int64 {
		t.Helper()
		es, err := s.FindLog(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	all := ids(directory.LogQuery{})
	if len(all) != 5 || all[0] != a.ID || all[3] != d.ID {
		t.Errorf("all entries, oldest first: %v", all)
	}
	if got := ids(directory.LogQuery{ProviderID: okta.ID}); fmt.Sprint(got) != fmt.Sprint([]int64{a.ID, b.ID}) {
		t.Errorf("okta's entries: %v", got)
	}
	if got := ids(directory.LogQuery{FailedOnly: true}); fmt.Sprint(got) != fmt.Sprint([]int64{b.ID, d.ID}) {
		t.Errorf("failed entries: %v", got)
	}
	if got := ids(directory.LogQuery{Since: logT0.Add(90 * time.Second)}); fmt.Sprint(got) != fmt.Sprint([]int64{c.ID, d.ID}) {
		t.Errorf("since: %v", got)
	}
	if got := ids(directory.LogQuery{AfterID: c.ID}); len(got) != 2 || got[0] != d.ID {
		t.Errorf("after: %v", got)
	}
	if got := ids(directory.LogQuery{Limit: 2}); len(got) != 2 || got[0] != d.ID {
		t.Errorf("a limit keeps the newest entries, oldest first: %v", got)
	}
	es, _ := s.FindLog(ctx, directory.LogQuery{ProviderID: okta.ID, FailedOnly: true})
	if len(es) != 1 {
		t.Fatalf("okta failures: %d", len(es))
	}
	e := es[0]
	if e.ProviderName != "okta" || e.Status != 404 || e.Error != "failed with 404" || e.Method != "GET" ||
		e.Path != `/scim/v2/Users?filter=userName eq "a"` || e.Latency != 1500*time.Microsecond || !e.Time.Equal(logT0.Add(time.Minute)) ||
		e.ClientIP != "192.0.2.7" {
		t.Errorf("entry read back as %+v", e)
	}

	// Pruning by age, then by count.
	n, err := s.PruneLog(ctx, directory.LogLimits{Before: logT0.Add(30 * time.Second)})
	if err != nil || n != 2 { // a and the older entra entry
		t.Errorf("PruneLog by age deleted %d (%v), want 2", n, err)
	}
	n, err = s.PruneLog(ctx, directory.LogLimits{MaxEntries: 1})
	if err != nil || n != 2 {
		t.Errorf("PruneLog by count deleted %d (%v), want 2", n, err)
	}
	if got := ids(directory.LogQuery{}); fmt.Sprint(got) != fmt.Sprint([]int64{d.ID}) {
		t.Errorf("after pruning: %v", got)
	}

	// Removing a provider removes its entries.
	record(t, s, okta.ID, logT0, 200)
	if err := s.DeleteProvider(ctx, okta.ID); err != nil {
		t.Fatal(err)
	}
	if got := ids(directory.LogQuery{}); fmt.Sprint(got) != fmt.Sprint([]int64{d.ID}) {
		t.Errorf("after deleting the provider: %v", got)
	}
}

// testRequestLogBatch: RecordRequests writes a batch in order, moves each
// provider's last sync to its newest success, and keeps the entry of a
// provider deleted meanwhile, without a provider.
func testRequestLogBatch(t *testing.T, s directory.Store) {
	ctx := context.Background()
	okta := newProvider(t, s, "okta")
	gone := newProvider(t, s, "gone")
	if err := s.DeleteProvider(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	entry := func(provider string, at time.Time, status int) *directory.LogEntry {
		return &directory.LogEntry{Time: at, ProviderID: provider, RequestID: "b", Method: "PATCH", Path: "/scim/v2/Users/x", Status: status}
	}
	batch := []*directory.LogEntry{
		entry(okta.ID, logT0.Add(2*time.Minute), 200),
		entry(gone.ID, logT0.Add(3*time.Minute), 200),
		entry(okta.ID, logT0.Add(time.Minute), 204), // older: the sync stays at +2m
		entry(okta.ID, logT0.Add(4*time.Minute), 500),
	}
	if err := s.RecordRequests(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(batch); i++ {
		if batch[i].ID <= batch[i-1].ID {
			t.Fatalf("ids do not increase in batch order: %d then %d", batch[i-1].ID, batch[i].ID)
		}
	}
	p, err := s.FindProviderByID(ctx, okta.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !p.LastSyncAt.Equal(logT0.Add(2 * time.Minute)) {
		t.Errorf("last sync %v, want the newest success %v", p.LastSyncAt, logT0.Add(2*time.Minute))
	}
	got, err := s.FindLog(ctx, directory.LogQuery{AfterID: batch[0].ID - 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[1].ProviderID != "" || got[0].ProviderID != okta.ID {
		t.Errorf("entries %+v: want 4, the deleted provider's without a provider", got)
	}
	if err := s.RecordRequests(ctx, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

// testRequestLogBySize: PruneLog keeps the newest entries whose
// directory.LogEntrySize adds up to MaxBytes at most, the store counting
// as LogEntrySize does (multi-byte text in bytes), and a count bound
// beside it takes whichever leaves fewer.
func testRequestLogBySize(t *testing.T, s directory.Store) {
	ctx := context.Background()
	p := newProvider(t, s, "okta")
	var entries []*directory.LogEntry
	for i := range 6 {
		e := &directory.LogEntry{Time: logT0.Add(time.Duration(i) * time.Second), ProviderID: p.ID, RequestID: fmt.Sprint("req-", i),
			Method: "GET", Path: "/scim/v2/Users?filter=" + strings.Repeat("é", 100*(i+1)), Status: 400, Error: "nöt found", ClientIP: "192.0.2.7"}
		entries = append(entries, e)
	}
	if err := s.RecordRequests(ctx, entries); err != nil {
		t.Fatal(err)
	}
	kept := func() []int64 {
		t.Helper()
		es, err := s.FindLog(ctx, directory.LogQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	size := func(es ...*directory.LogEntry) (n int64) {
		for _, e := range es {
			n += directory.LogEntrySize(e)
		}
		return n
	}
	want := func(es ...*directory.LogEntry) string {
		var ids []int64
		for _, e := range es {
			ids = append(ids, e.ID)
		}
		return fmt.Sprint(ids)
	}

	// Exactly the newest three: nothing of theirs goes.
	n, err := s.PruneLog(ctx, directory.LogLimits{MaxBytes: size(entries[3:]...)})
	if err != nil || n != 3 {
		t.Errorf("PruneLog to the size of the newest three deleted %d (%v), want 3", n, err)
	}
	if got := fmt.Sprint(kept()); got != want(entries[3:]...) {
		t.Errorf("kept %s, want %s", got, want(entries[3:]...))
	}
	// A byte less: the oldest of them goes too.
	n, err = s.PruneLog(ctx, directory.LogLimits{MaxBytes: size(entries[3:]...) - 1})
	if err != nil || n != 1 {
		t.Errorf("PruneLog a byte under deleted %d (%v), want 1", n, err)
	}
	// Room for both, but only one entry.
	n, err = s.PruneLog(ctx, directory.LogLimits{MaxBytes: size(entries...), MaxEntries: 1})
	if err != nil || n != 1 {
		t.Errorf("PruneLog to one entry deleted %d (%v), want 1", n, err)
	}
	if got := fmt.Sprint(kept()); got != want(entries[5]) {
		t.Errorf("kept %s, want %s", got, want(entries[5]))
	}
	// Room for none.
	n, err = s.PruneLog(ctx, directory.LogLimits{MaxBytes: 1})
	if err != nil || n != 1 || len(kept()) != 0 {
		t.Errorf("PruneLog to 1 byte deleted %d (%v), kept %v", n, err, kept())
	}
}
