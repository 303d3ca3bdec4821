package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// TestReady: /readyz answers 200 while the database answers and 503 (with
// no detail of the cause) once it does not, while /healthz stays 200.
func TestReady(t *testing.T) {
	for _, tc := range []struct {
		name     string
		database func(t *testing.T) string
	}{
		{"sqlite", func(*testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresDSN(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			srv, err := servertest.Open(context.Background(), server.Config{DataDir: t.TempDir(),
				Logger: slog.New(slog.NewTextHandler(logs, nil))}, servertest.Database(tc.database(t)))
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(srv.Handler())
			defer ts.Close()
			get := func(path string) (int, string) {
				t.Helper()
				res, err := http.Get(ts.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res.StatusCode, string(b)
			}
			if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"ok"`) {
				t.Fatalf("/readyz with the database up: %d %s", code, body)
			}
			// The database goes away.
			if err := srv.Close(); err != nil {
				t.Fatal(err)
			}
			code, body := get("/readyz")
			if code != http.StatusServiceUnavailable || !strings.Contains(body, "the database does not answer") {
				t.Errorf("/readyz with the database closed: %d %s", code, body)
			}
			if strings.Contains(body, "closed") {
				t.Errorf("/readyz tells the caller the cause: %s", body)
			}
			if code, _ := get("/healthz"); code != 200 {
				t.Errorf("/healthz: %d", code)
			}
			if !strings.Contains(logs.String(), "readiness: the database does not answer") {
				t.Errorf("the cause was not logged: %s", logs.String())
			}
		})
	}
}

// TestHealthzVersion: /healthz names the version serve runs, the line
// serve logs first and kacescim --version prints.
func TestHealthzVersion(t *testing.T) {
	const v = "v9.9.9 (commit 0123456789ab, go1.26.8 linux/amd64)"
	_, ts := servertest.Start(t, server.Config{Version: v})
	res, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var h struct{ Status, Version string }
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil || res.StatusCode != 200 || h.Status != "ok" || h.Version != v {
		t.Errorf("/healthz: %d %+v %v", res.StatusCode, h, err)
	}
}
