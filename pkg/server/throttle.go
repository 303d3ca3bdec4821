package server

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/kacescim/kacescim/pkg/directory"
)

// throttle keeps one token bucket per rate-limited provider. It lives in
// the Server value, so each replica limits its own share of the traffic.
type throttle struct {
	mu       sync.Mutex
	limiters map[string]*providerLimiter
}

type providerLimiter struct {
	perSecond float64
	lim       *rate.Limiter
}

// allow reports whether p may make a request at now and, when it may not,
// after how many whole seconds (at least one) it should try again: the
// integer Retry-After that Okta and Entra honour.
func (t *throttle) allow(p *directory.Provider, now time.Time) (ok bool, retryAfter int) {
	if p.RateLimit <= 0 {
		t.mu.Lock()
		delete(t.limiters, p.ID)
		t.mu.Unlock()
		return true, 0
	}
	t.mu.Lock()
	if t.limiters == nil {
		t.limiters = map[string]*providerLimiter{}
	}
	pl := t.limiters[p.ID]
	if pl == nil || pl.perSecond != p.RateLimit {
		// A burst of one second's worth of requests, at least one.
		burst := max(1, int(math.Ceil(p.RateLimit)))
		pl = &providerLimiter{perSecond: p.RateLimit, lim: rate.NewLimiter(rate.Limit(p.RateLimit), burst)}
		t.limiters[p.ID] = pl
	}
	t.mu.Unlock()
	if pl.lim.AllowN(now, 1) {
		return true, 0
	}
	r := pl.lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return false, max(1, int(math.Ceil(wait.Seconds())))
}
