package server_test

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
)

// TestWrongKeysAreNotStored: requests with keys of no provider, however
// many and however long their URIs, leave one short provisioning-log row
// (the first of the window, for the admin to see); the request log tells the first at once and the rest in one line a window;
// past the burst, the client's wrong keys get 429 with Retry-After while
// a valid key from the same address is still served.
func TestWrongKeysAreNotStored(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	e.must(e.do("GET", "/Users", ""), 200)
	before, err := e.srv.Directory().Log(ctx, "", directory.LogQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	long := "/Users?filter=" + strings.Repeat("x", 64<<10)
	var (
		throttled resp
		refused   int
		start     = time.Now()
	)
	for i := range 120 {
		r := e.doAuth("GET", long, "", "Bearer kcs_wrong-"+strconv.Itoa(i))
		switch r.status {
		case 401:
			refused++
		case 429:
			if throttled.status == 0 {
				throttled = r
				if i < 50 {
					t.Errorf("throttled at the %dth failure, before the burst of 50", i+1)
				}
				// A provider behind the same address is served.
				e.must(e.do("GET", "/Users?count=1", ""), 200)
			}
		default:
			t.Fatalf("request %d with a wrong key: %d %s", i, r.status, r.body)
		}
	}
	if throttled.status == 0 {
		t.Fatal("120 wrong keys in a row from one address, and none was throttled")
	}
	// The burst, then 10 a second.
	if most := 50 + int(10*time.Since(start).Seconds()) + 1; refused > most {
		t.Errorf("%d wrong keys answered 401 (not throttled), want at most %d", refused, most)
	}
	wantSCIMError(t, throttled, 429, "")
	if ra, err := strconv.Atoi(throttled.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After %q, want whole seconds", throttled.header.Get("Retry-After"))
	}
	after, err := e.srv.Directory().Log(ctx, "", directory.LogQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(after) - len(before); n != 2 {
		t.Errorf("%d provisioning-log rows for 120 wrong keys and one valid request, want 2", n)
	}
	for _, en := range after[len(before):] {
		if en.ProviderID == "" && (en.Status != 401 || len(en.Path) > 256) {
			t.Errorf("the wrong key's row: %d, a URI of %d bytes", en.Status, len(en.Path))
		}
	}
	logs := e.logs.String()
	if n := strings.Count(logs, `"msg":"authentication failed"`); n != 1 {
		t.Errorf("%d lines for the first failure of the window, want 1", n)
	}
	if strings.Contains(logs, strings.Repeat("x", 300)) {
		t.Error("the request log echoes the long URI")
	}
}

// TestLogTextIsBounded: a provider's request keeps its URI in the
// provisioning log cut to 2 kB, the cut marked, with a key sent in the
// query replaced; an error answer quotes at most 1 kB of what it names.
func TestLogTextIsBounded(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	big := strings.Repeat("y", 5000)
	r := e.do("GET", "/Users?access_token="+url.QueryEscape(e.key)+"&startIndex="+big, "")
	wantSCIMError(t, r, 400, "invalidValue")
	if d := r.str("detail"); len(d) > 1024 || !strings.Contains(d, "bytes cut") {
		t.Errorf("detail of %d bytes: %.120s…", len(d), d)
	}
	wantSCIMError(t, e.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "`+strings.Repeat("z", 9000)+`"`), ""), 400, "tooMany")

	entries, err := e.srv.Directory().Log(ctx, "okta", directory.LogQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d entries, want 2", len(entries))
	}
	for _, en := range entries {
		if len(en.Path) > 2048 || len(en.Error) > 2048 {
			t.Errorf("an entry of %d + %d bytes", len(en.Path), len(en.Error))
		}
		if strings.Contains(en.Path+en.Error, e.key) {
			t.Errorf("the log holds the key: %.200s", en.Path)
		}
	}
	if p := entries[0].Path; !strings.HasPrefix(p, "/scim/v2/Users?access_token=REDACTED&startIndex=yyy") || !strings.HasSuffix(p, "bytes cut]") {
		t.Errorf("logged URI %.80s … %s", p, p[max(0, len(p)-40):])
	}
	if d := entries[1].Error; !strings.Contains(d, "8192") || len(d) > 300 {
		t.Errorf("the long filter's error: %.300s", d)
	}
}

// TestThrottledAddressSkipsTheLookup: once an address is throttled, its
// requests get 429 before their key is looked up, so that a flood of
// wrong keys costs no store read: a key that never authenticated is
// refused like a wrong one (it was not even looked up), while a key that
// authenticated before the flood is still served.
func TestThrottledAddressSkipsTheLookup(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	e.must(e.do("GET", "/Users?count=1", ""), 200) // okta's key: known good
	_, fresh, err := e.srv.Directory().AddProvider(ctx, "entra", true)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if r := e.doAuth("GET", "/Users", "", "Bearer kcs_wrong-"+strconv.Itoa(i)); r.status == 429 {
			break
		}
		if i > 200 {
			t.Fatal("200 wrong keys and no 429")
		}
	}
	r := e.doAuth("GET", "/Users?count=1", "", "Bearer "+fresh)
	wantSCIMError(t, r, 429, "")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	e.must(e.do("GET", "/Users?count=1", ""), 200)
}

// TestHugeURIRefusedBeforeTheHandler: a request line of a megabyte gets
// 431 from the HTTP server (server.MaxHeaderBytes), with or without a
// key, and leaves no provisioning-log row.
func TestHugeURIRefusedBeforeTheHandler(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	before, _ := e.srv.Directory().Log(ctx, "", directory.LogQuery{Limit: 10000})
	huge := "/Users?filter=" + url.QueryEscape(`userName eq "`+strings.Repeat("x", 1<<20)+`"`)
	for _, auth := range []string{"", "Bearer " + e.key} {
		req, err := http.NewRequest("GET", e.http.URL+"/scim/v2"+huge, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("a 1 MB URI (auth %t): %v", auth != "", err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("a 1 MB URI (auth %t): %d, want 431", auth != "", res.StatusCode)
		}
	}
	if err := e.srv.Directory().FlushLog(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := e.srv.Directory().Log(ctx, "", directory.LogQuery{Limit: 10000})
	if len(after) != len(before) {
		t.Errorf("%d provisioning-log rows for two refused requests", len(after)-len(before))
	}
	e.must(e.do("GET", "/Users?count=1", ""), 200)
}

// TestFailedAuthenticationsPaced: the answers to failed authentications,
// all client addresses together, are paced at Config.AuthFailureRate a
// second (failurePace): past the burst, a wrong key's answer waits its
// turn, however many addresses send them; a valid key is never held;
// and a failure whose turn is past its request's deadline is answered
// at once with its connection closed.
func TestFailedAuthenticationsPaced(t *testing.T) {
	e := newSCIMEnv(t)
	e.trustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	e.authFailureRate = 2 // a burst of 2, then one every 500 ms
	e.requestTimeout = 1200 * time.Millisecond
	e.restart()
	client := e.http.Client()
	var sent atomic.Int64
	wrongKey := func() (status int, closed bool, took time.Duration) {
		n := sent.Add(1)
		req, err := http.NewRequest("GET", e.http.URL+"/scim/v2/Users", nil)
		if err != nil {
			t.Error(err)
			return
		}
		req.Header.Set("Authorization", "Bearer kcs_wrong-"+strconv.FormatInt(n, 10))
		// An address of its own: the per-address throttle never sees
		// it twice.
		req.Header.Set("X-Forwarded-For", "10.9.0."+strconv.FormatInt(n, 10))
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, res.Close, time.Since(start)
	}

	// The burst is answered at once.
	for range 2 {
		if status, closed, took := wrongKey(); status != 401 || closed || took > 400*time.Millisecond {
			t.Errorf("a wrong key within the burst: %d (closed %v) in %v, want 401 at once", status, closed, took)
		}
	}
	// The next one waits for its turn, and a valid key meanwhile does not.
	type answer struct {
		status int
		closed bool
		took   time.Duration
	}
	held := make(chan answer, 1)
	go func() {
		status, closed, took := wrongKey()
		held <- answer{status, closed, took}
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	e.must(e.do("GET", "/Users?count=1", ""), 200)
	valid := time.Since(start)
	a := <-held
	if a.status != 401 || a.closed || a.took < 350*time.Millisecond {
		t.Errorf("a wrong key past the burst: %d (closed %v) in %v, want 401 after its turn (~500 ms)", a.status, a.closed, a.took)
	}
	if valid >= a.took {
		t.Errorf("a valid key took %v while a wrong key waited %v: valid keys must not wait", valid, a.took)
	}

	// Six at once: the turns are 0.5, 1, 1.5, 2, 2.5 and 3 s away; the
	// ones past the deadline of 1.2 s are answered at once, their
	// connections closed.
	answers := make(chan answer, 6)
	for range 6 {
		go func() {
			status, closed, took := wrongKey()
			answers <- answer{status, closed, took}
		}()
	}
	var closedFast, waited int
	for range 6 {
		a := <-answers
		if a.status != 401 {
			t.Errorf("a wrong key: %d, want 401", a.status)
		}
		switch {
		case a.closed && a.took < 400*time.Millisecond:
			closedFast++
		case !a.closed && a.took >= 350*time.Millisecond:
			waited++
		default:
			t.Errorf("a wrong key answered in %v, closed %v: want either held for its turn or closed at once", a.took, a.closed)
		}
	}
	if closedFast < 3 || waited < 1 {
		t.Errorf("of 6 wrong keys at once, %d waited their turn and %d were closed at once; want at least 1 and 3", waited, closedFast)
	}
	token, err := os.ReadFile(filepath.Join(e.dataDir, adminapi.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	_, body := e.scrape(e.http.URL+"/metrics", "Bearer "+strings.TrimSpace(string(token)))
	for series, least := range map[string]int{
		`kacescim_auth_failure_pace_total{outcome="waited"}`: 1 + waited,
		`kacescim_auth_failure_pace_total{outcome="closed"}`: closedFast,
	} {
		if v, _ := strconv.Atoi(metricValue(body, series)); v < least {
			t.Errorf("/metrics: %s is %q, want at least %d", series, metricValue(body, series), least)
		}
	}
}
