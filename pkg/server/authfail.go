package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Failed authentication. A SCIM request whose key matches no provider is
// written to the provisioning log only as the first failure of its client
// IP in a window of failedAuthWindow, at most maxFailureRows a window,
// with its URI cut to maxFailureURI (10,000 wrong keys were 10,000 rows
// queued for the one writer, and a megabyte of URI each): what an admin
// needs to see that a provider was set up with a wrong key, and at most
// ~26,000 short rows a day whatever an attacker sends. Every failure is
// counted, and the request log tells the first failure of each window at
// once, then the window's failures per client IP in one line when the
// next window opens. A client IP that fails
// more than failedAuthBurst times, then more than failedAuthRate a
// second, gets 429 with Retry-After before its key is even looked up,
// unless the key is one that just authenticated (a provider behind the
// same address as a misconfigured one keeps working).
const (
	failedAuthRate   = 10 // failures a second, per client IP, once the burst is spent
	failedAuthBurst  = 50
	failedAuthWindow = 10 * time.Second
	// maxFailingIPs bounds the IPs tracked; past it the tracking starts
	// afresh (an attacker with more addresses than that is not slowed by
	// a per-IP limit anyway).
	maxFailingIPs = 10_000
	// maxFailureRows bounds the provisioning-log rows of failed
	// authentications a window.
	maxFailureRows = 3
	// maxFailureURI bounds the URI such a row keeps.
	maxFailureURI = 256
	// knownGoodFor is how long a credential that authenticated lets its
	// requests past a throttled address; maxKnownGood bounds how many are
	// kept (only valid credentials get in: a few per provider).
	knownGoodFor = 24 * time.Hour
	maxKnownGood = 4096
)

type failedAuth struct {
	// pace spaces the answers of all failures (nil: no pace).
	pace *failurePace

	mu  sync.Mutex
	ips map[string]*rate.Limiter
	// The current window of the request log's line.
	windowStart time.Time
	byIP        map[string]int
	throttled   int
	rows        int // provisioning-log rows granted in the window

	// goodMu guards good: digests of Authorization headers that
	// authenticated, and when they last did. A throttled address's
	// request is refused before its key is looked up unless its header
	// is one of them.
	goodMu sync.RWMutex
	good   map[[sha256.Size]byte]time.Time
}

// credentialDigest is what knownGood keeps of an Authorization header:
// never the key itself.
func credentialDigest(authorization string) [sha256.Size]byte {
	return sha256.Sum256([]byte(strings.TrimSpace(authorization)))
}

// authenticated records that authorization was a valid credential at now.
// It writes at most once a minute per credential.
func (f *failedAuth) authenticated(authorization string, now time.Time) {
	d := credentialDigest(authorization)
	f.goodMu.RLock()
	seen, ok := f.good[d]
	f.goodMu.RUnlock()
	if ok && now.Sub(seen) < time.Minute {
		return
	}
	f.goodMu.Lock()
	if f.good == nil || len(f.good) >= maxKnownGood {
		f.good = map[[sha256.Size]byte]time.Time{}
	}
	f.good[d] = now
	f.goodMu.Unlock()
}

// knownGood reports whether authorization authenticated within
// knownGoodFor before now.
func (f *failedAuth) knownGood(authorization string, now time.Time) bool {
	d := credentialDigest(authorization)
	f.goodMu.RLock()
	seen, ok := f.good[d]
	f.goodMu.RUnlock()
	return ok && now.Sub(seen) < knownGoodFor
}

// allow reports whether a request from ip may try its key at now and,
// if not, after how many whole seconds it should try again.
func (f *failedAuth) allow(ip string, now time.Time) (bool, int) {
	f.mu.Lock()
	lim := f.ips[ip]
	f.mu.Unlock()
	if lim == nil {
		return true, 0
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return true, 0
	}
	wait := time.Duration((1 - tokens) / failedAuthRate * float64(time.Second))
	return false, max(1, int(math.Ceil(wait.Seconds())))
}

// failed records a failed authentication from ip (throttled: refused by
// allow), and writes the window's line to log when a window ends. It
// reports whether the failure gets a provisioning-log row.
func (f *failedAuth) failed(log *slog.Logger, ip string, throttled bool, now time.Time) (row bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ips == nil || len(f.ips) >= maxFailingIPs {
		f.ips = map[string]*rate.Limiter{}
	}
	lim := f.ips[ip]
	if lim == nil {
		lim = rate.NewLimiter(failedAuthRate, failedAuthBurst)
		f.ips[ip] = lim
	}
	if !throttled {
		lim.AllowN(now, 1)
	}
	if f.byIP == nil || now.Sub(f.windowStart) >= failedAuthWindow {
		f.flushLocked(log, now)
		// The first failure of a window is told at once: a provider
		// set up with a wrong key shows in the log on its first try.
		log.LogAttrs(context.Background(), slog.LevelWarn, "authentication failed",
			slog.String("client_ip", ip), slog.Bool("throttled", throttled))
	}
	if f.byIP[ip] == 0 && f.rows < maxFailureRows {
		f.rows++
		row = true
	}
	if len(f.byIP) < 1000 || f.byIP[ip] > 0 {
		f.byIP[ip]++
	}
	if throttled {
		f.throttled++
	}
	return row
}

// flushLocked writes the line of the window that ends at now, if it had
// failures, and opens the next.
func (f *failedAuth) flushLocked(log *slog.Logger, now time.Time) {
	if n := len(f.byIP); n > 0 {
		ips := make([]string, 0, n)
		total := 0
		for ip, c := range f.byIP {
			ips = append(ips, ip)
			total += c
		}
		slices.SortFunc(ips, func(a, b string) int { return f.byIP[b] - f.byIP[a] })
		var top []string
		for _, ip := range ips[:min(10, len(ips))] {
			top = append(top, fmt.Sprintf("%s=%d", ip, f.byIP[ip]))
		}
		log.LogAttrs(context.Background(), slog.LevelWarn, "authentication failures",
			slog.Int("failures", total),
			slog.Int("throttled", f.throttled),
			slog.Int("client_ips", n),
			slog.String("top_client_ips", strings.Join(top, " ")),
			slog.Duration("window", now.Sub(f.windowStart).Round(time.Millisecond)),
		)
	}
	f.windowStart, f.byIP, f.throttled, f.rows = now, map[string]int{}, 0, 0
}

// The pace of failed authentications. The per-address throttle above
// cannot slow an attacker that sends each wrong key from an address of
// its own (through a trusted proxy's X-Forwarded-For, or from a botnet):
// measured, 6 connections got ~8,000 answers a second from two cores and
// more than doubled a real provider's PATCH p99. So the answers to
// failures, all clients together, are paced at Config.AuthFailureRate a
// second: past the burst, a failure's answer waits its turn. An attacker
// that waits for its answers (as every HTTP/1.1 client on a connection
// does) then gets that many a second however fast it could send and
// however many connections it opens, and a key guesser gets no more
// tries than that. A valid credential never waits: the pace is applied
// only once a request has failed (a credential first used from an
// address already throttled is refused with the failures around it). What the waiting requests hold is
// bounded: a failure whose turn is more than maxFailureWait away (or
// past the request's deadline), or whose request would take the ones
// waiting past maxFailureWaitingBytes, is answered at once with its
// connection closed (Connection: close).
const (
	maxFailureWait = 10 * time.Second
	// maxFailureWaitingBytes bounds the memory of the requests waiting,
	// each counted as failureWaiterBytes (its goroutine, its
	// connection's buffers) plus its URI and headers: about 3,000
	// attacker connections of ordinary requests.
	maxFailureWaitingBytes = 64 << 20
	failureWaiterBytes     = 20 << 10
)

type failurePace struct {
	lim     *rate.Limiter
	waiting atomic.Int64 // bytes, as maxFailureWaitingBytes counts them
}

// newFailurePace paces perSecond answers a second, with a burst of one
// second's worth; nil (no pace) when perSecond is negative.
func newFailurePace(perSecond float64) *failurePace {
	if perSecond < 0 {
		return nil
	}
	return &failurePace{lim: rate.NewLimiter(rate.Limit(perSecond), max(1, int(math.Ceil(perSecond))))}
}

// requestWeight is what a waiting request counts for against
// maxFailureWaitingBytes.
func requestWeight(r *http.Request) int64 {
	n := failureWaiterBytes + len(r.URL.Path) + len(r.URL.RawQuery)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return int64(n)
}

// The outcomes of failurePace.wait.
const (
	paceNow    = iota // within the burst: answered at once
	paceWaited        // held for its turn
	paceClosed        // cannot wait: answered at once, its connection closed
)

// wait holds a failure's answer until its turn, from now, and tells how
// (a ctx that ends first counts as closed).
func (p *failurePace) wait(ctx context.Context, now time.Time, weight int64) int {
	if p == nil {
		return paceNow
	}
	if p.waiting.Add(weight) > maxFailureWaitingBytes {
		p.waiting.Add(-weight)
		return paceClosed
	}
	defer p.waiting.Add(-weight)
	r := p.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if deadline, ok := ctx.Deadline(); d > maxFailureWait || ok && now.Add(d).After(deadline) {
		r.CancelAt(now)
		return paceClosed
	}
	if d <= 0 {
		return paceNow
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return paceWaited
	case <-ctx.Done():
		r.Cancel()
		return paceClosed
	}
}

// paceFailure holds the answer of a failed authentication until its
// turn (failurePace), and closes the connection of one that cannot wait.
func (s *Server) paceFailure(w http.ResponseWriter, r *http.Request) {
	switch s.authFails.pace.wait(r.Context(), time.Now(), requestWeight(r)) {
	case paceWaited:
		s.metrics.paced.WithLabelValues("waited").Inc()
	case paceClosed:
		s.metrics.paced.WithLabelValues("closed").Inc()
		w.Header().Set("Connection", "close")
	}
}
