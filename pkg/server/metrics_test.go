package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// scrape reads the server's /metrics with auth (an Authorization header
// value, or "") and returns the status and the body.
func (e *scimEnv) scrape(url, auth string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// metricValue is the value of the series line (name{labels in sorted
// order}) in a scrape, or "" when the scrape has no such line.
func metricValue(scrape, series string) string {
	for _, l := range strings.Split(scrape, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestMetrics: /metrics, to the admin token, counts SCIM requests by
// provider, method, route template and status class exactly as sent, and
// failed authentications by reason and 429s by limit; it never names a
// key, a user or a client address; without the admin token it is 401,
// and MetricsHandler serves the same series unauthenticated.
func TestMetrics(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	token, err := os.ReadFile(filepath.Join(e.dataDir, adminapi.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	admin := "Bearer " + strings.TrimSpace(string(token))

	ids := make([]string, 3)
	for i := range ids {
		ids[i] = e.createUser(fmt.Sprintf("metrics%d@example.com", i))
	}
	e.must(e.do("POST", "/Users", userBody("metrics0@example.com")), 409)
	for _, id := range ids {
		e.must(e.do("GET", "/Users/"+id, ""), 200)
	}
	e.must(e.do("PATCH", "/Users/"+ids[0], `{"Operations":[{"op":"replace","value":{"active":false}}]}`), 200)
	e.must(e.do("GET", "/Users?filter=userName+eq+%22metrics1@example.com%22", ""), 200)
	e.must(e.do("GET", "/Users/no-such-id", ""), 404)
	e.must(e.do("GET", "/Nowhere/at/all", ""), 404)
	e.must(e.do("PROPFIND", "/Users", ""), 405)
	e.doAuth("GET", "/Users", "", "")
	for range 2 {
		e.doAuth("GET", "/Users", "", "Bearer kcs_not-a-key-of-anyone")
	}
	_, entraKey, err := e.srv.Directory().AddProvider(ctx, "entra", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Directory().DisableProvider(ctx, "entra"); err != nil {
		t.Fatal(err)
	}
	if r := e.doAuth("GET", "/Users", "", "Bearer "+entraKey); r.status != 403 {
		t.Errorf("a disabled provider's key: %d", r.status)
	}

	status, body := e.scrape(e.http.URL+"/metrics", admin)
	if status != 200 {
		t.Fatalf("/metrics with the admin token: %d %s", status, body)
	}
	for series, want := range map[string]string{
		`kacescim_scim_requests_total{code="2xx",method="POST",provider="okta",route="/Users"}`:       "3",
		`kacescim_scim_requests_total{code="4xx",method="POST",provider="okta",route="/Users"}`:       "1",
		`kacescim_scim_requests_total{code="2xx",method="GET",provider="okta",route="/Users/{id}"}`:   "3",
		`kacescim_scim_requests_total{code="4xx",method="GET",provider="okta",route="/Users/{id}"}`:   "1",
		`kacescim_scim_requests_total{code="2xx",method="PATCH",provider="okta",route="/Users/{id}"}`: "1",
		`kacescim_scim_requests_total{code="2xx",method="GET",provider="okta",route="/Users"}`:        "1",
		`kacescim_scim_requests_total{code="4xx",method="GET",provider="okta",route="other"}`:         "1",
		`kacescim_scim_requests_total{code="4xx",method="other",provider="okta",route="/Users"}`:      "1",
		`kacescim_scim_requests_total{code="4xx",method="GET",provider="",route="/Users"}`:            "3",
		`kacescim_scim_request_duration_seconds_count{method="GET",route="/Users/{id}"}`:              "4",
		`kacescim_auth_failures_total{reason="missing"}`:                                              "1",
		`kacescim_auth_failures_total{reason="invalid"}`:                                              "2",
		`kacescim_auth_failures_total{reason="disabled"}`:                                             "1",
		`kacescim_scim_requests_total{code="4xx",method="GET",provider="entra",route="/Users"}`:       "1",
		`kacescim_rate_limited_total{limit="provider"}`:                                               "0",
	} {
		if got := metricValue(body, series); got != want {
			t.Errorf("%s = %q, want %s", series, got, want)
		}
	}
	for _, leak := range append([]string{e.key, entraKey, "kcs_not-a-key", "metrics1@example.com", "127.0.0.1", "no-such-id", "Nowhere"}, ids...) {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics shows %q", leak)
		}
	}
	if !strings.Contains(body, "go_goroutines ") || !strings.Contains(body, "process_resident_memory_bytes ") {
		t.Error("no Go runtime or process series")
	}

	if status, body := e.scrape(e.http.URL+"/metrics", ""); status != 401 {
		t.Errorf("/metrics without the admin token: %d %.200s", status, body)
	}
	if status, _ := e.scrape(e.http.URL+"/metrics", "Bearer wrong"); status != 401 {
		t.Errorf("/metrics with a wrong admin token: %d", status)
	}

	// The unauthenticated handler, as serve --metrics-listen serves it,
	// has the same counts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms := httptest.NewUnstartedServer(e.srv.MetricsHandler())
	ms.Listener = ln
	ms.Start()
	defer ms.Close()
	_, body = e.scrape(ms.URL+"/metrics", "")
	if got := metricValue(body, `kacescim_auth_failures_total{reason="invalid"}`); got != "2" {
		t.Errorf("MetricsHandler: invalid auth failures = %q, want 2", got)
	}
}

// TestStoreWriteMetrics: /metrics reports the store's commits, the writes
// they held, their time and the writes queued, on SQLite and PostgreSQL,
// counting each write a request makes.
func TestStoreWriteMetrics(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			var e *scimEnv
			if store == "sqlite" {
				e = newSCIMEnv(t)
			} else {
				e = newSCIMEnvOn(t, storetest.PostgresDSN(t))
			}
			token, err := os.ReadFile(filepath.Join(e.dataDir, adminapi.TokenFile))
			if err != nil {
				t.Fatal(err)
			}
			value := func(series string) float64 {
				t.Helper()
				status, body := e.scrape(e.http.URL+"/metrics", "Bearer "+strings.TrimSpace(string(token)))
				if status != 200 {
					t.Fatalf("/metrics: %d", status)
				}
				v, err := strconv.ParseFloat(metricValue(body, series), 64)
				if err != nil {
					t.Fatalf("%s: %v in\n%s", series, err, body)
				}
				return v
			}
			commits, writes := value("kacescim_store_commits_total"), value("kacescim_store_committed_writes_total")
			const creates = 20
			var wg sync.WaitGroup
			for i := range creates {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.createUser(fmt.Sprintf("metrics-w%d@example.com", i))
				}()
			}
			wg.Wait()
			// The provisioning log's entries are written a moment after.
			if err := e.srv.Directory().FlushLog(context.Background()); err != nil {
				t.Fatal(err)
			}
			dc, dw := value("kacescim_store_commits_total")-commits, value("kacescim_store_committed_writes_total")-writes
			if dw < creates || dc < 1 || dc > dw {
				t.Errorf("%d creates: %g more commits holding %g more writes", creates, dc, dw)
			}
			if s := value("kacescim_store_commit_seconds_total"); s <= 0 {
				t.Errorf("commit seconds %g after commits", s)
			}
			if q := value("kacescim_store_writes_queued"); q != 0 {
				t.Errorf("%g writes queued at rest", q)
			}
			t.Logf("%s: %d creates, %g commits, %g writes", store, creates, dc, dw)
		})
	}
}
