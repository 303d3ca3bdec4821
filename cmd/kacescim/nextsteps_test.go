package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnreachableSaysWhereServeLastRan: once serve has stopped (its
// server-url file moved to last-server-url), the CLI's "cannot reach"
// names the default it tried and where serve last ran.
func TestUnreachableSaysWhereServeLastRan(t *testing.T) {
	isolateEnv(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	old := defaultServerURL
	defaultServerURL = dead.URL
	t.Cleanup(func() { defaultServerURL = old })

	data := t.TempDir()
	urlFile := filepath.Join(data, serverURLFile)
	if err := writeServerURL(urlFile, "http://127.0.0.1:40231"); err != nil {
		t.Fatal(err)
	}
	removeServerURL(urlFile, "http://127.0.0.1:40231") // as serve does when it stops
	if _, err := os.Stat(urlFile); err == nil {
		t.Fatal("the server-url file is still there after serve stopped")
	}
	r := runCLI(t, false, "provider", "list", "--data-dir", data, "--token", "t")
	for _, want := range []string{"cannot reach kacescim at " + dead.URL, "last ran at http://127.0.0.1:40231", "start it again"} {
		if r.code != exitError || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, stderr %q; want %q", r.code, r.stderr, want)
		}
	}
}

// TestListenErrorNamesWhatHoldsThePort: a taken --listen address says
// whether a kacescim runs there (from its /healthz) or another program,
// and how to pick another.
func TestListenErrorNamesWhatHoldsThePort(t *testing.T) {
	isolateEnv(t)
	kace := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok","version":"v1.2.3 (commit 0123456789ab)"}`))
	}))
	defer kace.Close()
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() { // reads the request and hangs up, answering nothing
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 512))
			c.Close()
		}
	}()
	for _, tc := range []struct{ addr, want string }{
		{strings.TrimPrefix(kace.URL, "http://"), "kacescim v1.2.3 (commit 0123456789ab) is already running there"},
		{other.Addr().String(), "another program already uses that port"},
	} {
		r := runCLI(t, false, "serve", "--data-dir", t.TempDir(), "--listen", tc.addr)
		if r.code != exitError || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "--listen 127.0.0.1:0") {
			t.Errorf("serve --listen %s: exit %d, stderr %q; want %q and the way out", tc.addr, r.code, r.stderr, tc.want)
		}
	}
}
