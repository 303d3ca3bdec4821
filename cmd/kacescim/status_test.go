package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestStatus: status says ready or not from /healthz and /readyz, waits
// with --wait, and says when nothing (or not kacescim) answers.
func TestStatus(t *testing.T) {
	isolateEnv(t)
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte(`{"status":"ok","version":"v9.9.9"}`))
		case "/readyz":
			if !ready.Load() {
				w.WriteHeader(503)
				w.Write([]byte(`{"status":"unavailable","detail":"the database does not answer"}`))
				return
			}
			w.Write([]byte(`{"status":"ok"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	r := runCLI(t, false, "status", "--server", srv.URL)
	if r.code != exitError || !strings.Contains(r.stdout, "Ready:    no (the database does not answer)") || !strings.Contains(r.stdout, "Version:  v9.9.9") {
		t.Errorf("not ready: %+v", r)
	}
	time.AfterFunc(300*time.Millisecond, func() { ready.Store(true) })
	start := time.Now()
	r = runCLI(t, false, "status", "--server", srv.URL, "--wait", "5s", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"ready": true`) || time.Since(start) < 250*time.Millisecond {
		t.Errorf("--wait until ready: %+v after %v", r, time.Since(start))
	}

	r = runCLI(t, false, "status", "--server", "http://127.0.0.1:1", "--wait", "300ms")
	if r.code != exitError || !strings.Contains(r.stderr, "cannot reach kacescim at http://127.0.0.1:1") {
		t.Errorf("nothing there: %+v", r)
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }))
	defer other.Close()
	r = runCLI(t, false, "status", "--server", other.URL, "--wait", "2s")
	if r.code != exitError || !strings.Contains(r.stderr, "a kacescim server?") {
		t.Errorf("another server: %+v", r)
	}
}
