package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// TestPostgresOutagesUnderLoad stops and restarts PostgreSQL, then freezes
// it (SIGSTOP), under 8 clients creating users and looking them up, with
// no restart of kacescim: clients see only 2xx and 503 with Retry-After
// (never a 500, never a hang past the request deadline), kacescim serves
// again by itself once the database is back, and every create it answered
// 201 is there at the end.
func TestPostgresOutagesUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("stops and freezes a PostgreSQL server of its own for ~12 s (-short)")
	}
	pg := storetest.NewPGCluster(t) // skips without KACESCIM_TEST_POSTGRES (scripts/with-postgres.sh)
	const deadline = time.Second
	srv, err := servertest.Open(t.Context(), server.Config{
		DataDir:        t.TempDir(),
		RequestTimeout: deadline,
		Logger:         slog.New(slog.DiscardHandler),
	}, servertest.Database(pg.DSN()))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer func() {
		ts.Close()
		srv.Close()
	}()
	_, key, err := srv.Directory().AddProvider(t.Context(), "okta", true)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	send := func(method, path, body string) (int, http.Header, string, error) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, ts.URL+server.SCIMPrefix+path, rd)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := hc.Do(req)
		if err != nil {
			return 0, nil, "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b), nil
	}

	// phase is what the database is going through; each answer is
	// counted under the phase in which its request was sent.
	var phase atomic.Value
	phase.Store("up")
	type tally struct {
		statuses map[int]int
		slowest  time.Duration
	}
	var (
		mu      sync.Mutex
		tallies = map[string]*tally{}
		acked   []string
		bad     []string
	)
	record := func(ph string, status int, h http.Header, body string, took time.Duration, userName string) {
		mu.Lock()
		defer mu.Unlock()
		tl := tallies[ph]
		if tl == nil {
			tl = &tally{statuses: map[int]int{}}
			tallies[ph] = tl
		}
		tl.statuses[status]++
		tl.slowest = max(tl.slowest, took)
		switch {
		case status == 201:
			acked = append(acked, userName)
		case status == 200:
		case status == 503:
			if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 {
				bad = append(bad, fmt.Sprintf("503 without a Retry-After (%q)", h.Get("Retry-After")))
			}
			if !strings.Contains(body, "urn:ietf:params:scim:api:messages:2.0:Error") {
				bad = append(bad, "503 without a SCIM error body: "+body)
			}
		default:
			bad = append(bad, fmt.Sprintf("%s: %d %s", ph, status, body))
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ph := phase.Load().(string)
				name := fmt.Sprintf("w%d-%d@example.com", w, i)
				method, path, body := "POST", "/Users", userBody(name)
				if i%4 == 3 {
					method, path, body = "GET", "/Users?filter="+url.QueryEscape(`userName eq "`+fmt.Sprintf("w%d-%d@example.com", w, i-1)+`"`), ""
				}
				start := time.Now()
				status, h, b, err := send(method, path, body)
				if err != nil {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%s: %s %s: %v", ph, method, path, err))
					mu.Unlock()
					continue
				}
				record(ph, status, h, b, time.Since(start), name)
				if status == 503 {
					time.Sleep(50 * time.Millisecond) // as a client honouring Retry-After, only quicker
				}
			}
		})
	}

	during := func(name string, d time.Duration) {
		phase.Store(name)
		time.Sleep(d)
	}
	during("up", time.Second)
	phase.Store("stopped")
	pg.Stop()
	during("stopped", 2*time.Second)
	pg.Start()
	during("restarted", 3*time.Second)
	phase.Store("frozen")
	pg.Freeze()
	during("frozen", 3*time.Second)
	pg.Thaw()
	during("thawed", 3*time.Second)
	close(stop)
	wg.Wait()

	for ph, tl := range tallies {
		t.Logf("%-9s %v, slowest %v", ph, tl.statuses, tl.slowest.Round(time.Millisecond))
	}
	for _, b := range bad[:min(len(bad), 10)] {
		t.Errorf("unexpected answer: %s", b)
	}
	for _, ph := range []string{"stopped", "frozen"} {
		if tl := tallies[ph]; tl == nil || tl.statuses[503] == 0 {
			t.Errorf("no 503 while PostgreSQL was %s: %v", ph, tl)
		}
	}
	// A request sent into the freeze is answered by its deadline, with
	// room for a loaded, race-detecting machine.
	if tl := tallies["frozen"]; tl != nil && tl.slowest > deadline+2*time.Second {
		t.Errorf("slowest answer while frozen took %v, the deadline is %v", tl.slowest, deadline)
	}
	for _, ph := range []string{"up", "thawed"} {
		if tl := tallies[ph]; tl == nil || tl.statuses[201] == 0 {
			t.Errorf("no create succeeded while PostgreSQL was %s: %v", ph, tl)
		}
	}

	// Every acknowledged create is there.
	have := map[string]bool{}
	for start := 1; ; start += 500 {
		status, _, body, err := send("GET", fmt.Sprintf("/Users?attributes=userName&count=500&startIndex=%d", start), "")
		if err != nil || status != 200 {
			t.Fatalf("list users: %d %v %s", status, err, body)
		}
		n := strings.Count(body, `"userName":`)
		for _, part := range strings.Split(body, `"userName":"`)[1:] {
			have[part[:strings.IndexByte(part, '"')]] = true
		}
		if n < 500 {
			break
		}
	}
	lost := 0
	for _, name := range acked {
		if !have[name] {
			if lost < 5 {
				t.Errorf("acknowledged create of %s is lost", name)
			}
			lost++
		}
	}
	t.Logf("%d creates acknowledged, %d lost, %d users stored", len(acked), lost, len(have))
}
