package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeAdminListen: with --admin-listen the admin API is not on the
// public listener (404 there, even with the admin token), and is on the
// admin one, which also serves SCIM; the CLI finds it through the
// server-url file. /metrics is on the admin listener to the admin token,
// not on the public one, and on --metrics-listen to anyone.
func TestServeAdminListen(t *testing.T) {
	isolateEnv(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	data := t.TempDir()
	_, errOut, done := startCLI(ctx, false, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data-dir", data)
	waitFor(t, errOut, "kacescim listening")
	m := regexp.MustCompile(`url=(http://\S+) .*admin_url=(http://\S+)`).FindStringSubmatch(errOut.String())
	if m == nil {
		t.Fatalf("no url and admin_url in:\n%s", errOut)
	}
	public, admin := m[1], m[2]
	mm := regexp.MustCompile(`metrics listening" url=(http://\S+)`).FindStringSubmatch(errOut.String())
	if mm == nil {
		t.Fatalf("no metrics url in:\n%s", errOut)
	}
	token, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(url, auth string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+auth)
		c := &http.Client{Timeout: 10 * time.Second}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	tok := strings.TrimSpace(string(token))
	if code := get(public+"/admin/v1/providers", tok); code != http.StatusNotFound {
		t.Errorf("the admin API on the public listener: %d, want 404", code)
	}
	if code := get(admin+"/admin/v1/providers", tok); code != http.StatusOK {
		t.Errorf("the admin API on the admin listener: %d, want 200", code)
	}
	out, cliErr, cliDone := startCLI(context.Background(), false, "provider", "add", "okta", "--enabled", "-o", "json", "--data-dir", data)
	if code := <-cliDone; code != 0 {
		t.Fatalf("provider add through the server-url file: exit %d %s", code, cliErr)
	}
	var added struct{ Key string }
	if err := json.Unmarshal([]byte(out.String()), &added); err != nil || added.Key == "" {
		t.Fatalf("provider add: %v %s", err, out)
	}
	for _, base := range []string{public, admin} {
		if code := get(base+"/scim/v2/Users", added.Key); code != http.StatusOK {
			t.Errorf("SCIM on %s: %d", base, code)
		}
	}
	if code := get(public+"/metrics", tok); code != http.StatusNotFound {
		t.Errorf("/metrics on the public listener: %d, want 404", code)
	}
	if code := get(admin+"/metrics", tok); code != http.StatusOK {
		t.Errorf("/metrics on the admin listener: %d, want 200", code)
	}
	if code := get(admin+"/metrics", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("/metrics on the admin listener without the token: %d, want 401", code)
	}
	res, err := http.Get(mm[1])
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := `kacescim_scim_requests_total{code="2xx",method="GET",provider="okta",route="/Users"} 2`; !strings.Contains(string(scrape), want) {
		t.Errorf("--metrics-listen: %d, no %s in:\n%.3000s", res.StatusCode, want, scrape)
	}
	stop()
	<-done
}
