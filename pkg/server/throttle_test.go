package server

import (
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

func TestThrottle(t *testing.T) {
	var th throttle
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p := &directory.Provider{ID: "p1", RateLimit: 2}
	// A burst of two, then refused with a whole-second Retry-After.
	for i := range 2 {
		if ok, _ := th.allow(p, now); !ok {
			t.Fatalf("request %d refused within the burst", i)
		}
	}
	ok, retry := th.allow(p, now)
	if ok || retry != 1 {
		t.Fatalf("third request: ok %v, Retry-After %d; want refused, 1", ok, retry)
	}
	// Half a second later one token is back.
	if ok, _ := th.allow(p, now.Add(500*time.Millisecond)); !ok {
		t.Errorf("refused after the bucket refilled")
	}
	// A slow limit asks for a longer wait.
	slow := &directory.Provider{ID: "p2", RateLimit: 0.1}
	th.allow(slow, now)
	if ok, retry := th.allow(slow, now); ok || retry != 10 {
		t.Errorf("0.1/s: ok %v, Retry-After %d; want refused, 10", ok, retry)
	}
	// Other providers are not affected, and 0 means no limit.
	free := &directory.Provider{ID: "p3"}
	for range 100 {
		if ok, _ := th.allow(free, now); !ok {
			t.Fatal("a provider without a limit was refused")
		}
	}
	// Changing the limit takes effect at once.
	p.RateLimit = 0
	if ok, _ := th.allow(p, now); !ok {
		t.Errorf("refused after the limit was removed")
	}
}
