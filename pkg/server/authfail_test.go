package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

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
