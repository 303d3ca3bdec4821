package server_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

// TestKeyRotationWithoutFailedRequests: identity providers keep sending
// the old key while a rotation happens and until the administrator pastes
// the new one; not one of their requests fails during the grace period.
// After it, the old key gets 401 with RFC 6750's invalid_token and a
// detail that says it was replaced, logged under the provider; each key's
// last use is recorded; no key reaches a log.
func TestKeyRotationWithoutFailedRequests(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	dir := e.srv.Directory()
	id := e.createUser("rotating@example.com")
	old := e.key

	var (
		sent, failed atomic.Int64
		stop         = make(chan struct{})
		wg           sync.WaitGroup
		firstFailure atomic.Value
	)
	client := func(key string) {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := e.doAuth("GET", "/Users/"+id, "", "Bearer "+key)
			if i%2 == 1 {
				r = e.doAuth("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"title","value":"t"}]}`, "Bearer "+key)
			}
			sent.Add(1)
			if r.status != 200 {
				failed.Add(1)
				firstFailure.CompareAndSwap(nil, string(r.body))
			}
		}
	}
	for range 3 {
		wg.Add(1)
		go client(old)
	}
	waitSent := func(n int64) {
		for deadline := time.Now().Add(10 * time.Second); sent.Load() < n && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	waitSent(30)
	_, rotated, err := dir.RotateKey(ctx, "okta", directory.KeyOptions{Grace: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// The administrator pastes the new key into one of the clients; the
	// others still send the old one.
	wg.Add(1)
	go client(rotated)
	waitSent(sent.Load() + 60)
	close(stop)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed during the rotation's grace period; the first: %s", n, sent.Load(), firstFailure.Load())
	}
	t.Logf("%d requests during the rotation, none failed", sent.Load())

	// Both keys' last use is recorded.
	if err := dir.FlushLog(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := dir.Provider(ctx, "okta")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Keys) != 2 || p.Keys[0].LastUsed.IsZero() || p.Keys[1].LastUsed.IsZero() || p.Keys[0].State(e.clock.peek()) != "grace" {
		t.Fatalf("keys after the rotation: %+v", p.Keys)
	}

	e.clock.advance(25 * time.Hour)
	r := e.doAuth("GET", "/Users/"+id, "", "Bearer "+old)
	wantSCIMError(t, r, 401, "")
	if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q, want invalid_token", h)
	}
	if d := r.str("detail"); !strings.Contains(d, "of provider okta was replaced on") || !strings.Contains(d, "grace period ended") {
		t.Errorf("detail = %q", d)
	}
	e.key = rotated
	e.must(e.do("GET", "/Users/"+id, ""), 200)

	entries, err := dir.Log(ctx, "okta", directory.LogQuery{FailedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Status != 401 || !strings.Contains(entries[0].Error, "grace period ended") {
		t.Errorf("failed requests logged under okta: %+v", entries)
	}
	if logs := e.logs.String(); strings.Contains(logs, old) || strings.Contains(logs, rotated) {
		t.Error("a key reached the server log")
	}
}
