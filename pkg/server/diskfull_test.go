package server_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestDiskFull runs the server's SQLite database on a small tmpfs and
// fills it: writes get 503 with Retry-After (not 500), reads are still
// served, /readyz says not ready; once space is freed, writes succeed
// and /readyz is ready again. It needs to mount a tmpfs (root on Linux):
// elsewhere it is skipped, saying so.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (%v: %s): the disk-full test needs root on Linux", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })

	e := &scimEnv{t: t, dataDir: filepath.Join(dir, "data"), logs: &lockedBuffer{}, clock: &fakeClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}}
	e.start()
	t.Cleanup(func() { e.srv.Close() })
	_, key, err := e.srv.Directory().AddProvider(t.Context(), "okta", true)
	if err != nil {
		t.Fatal(err)
	}
	e.key = key
	id := e.createUser("first@example.com")
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 1<<20)) // until ENOSPC, whatever is left
	for range 4 {
		if _, err := f.Write(make([]byte, 1<<20)); err != nil {
			break
		}
	}
	f.Close()

	var full resp
	for i := range 2000 {
		r := e.do("POST", "/Users", userBody(fmt.Sprintf("fill%04d@example.com", i)))
		if r.status == 503 {
			full = r
			break
		}
		if r.status != 201 {
			t.Fatalf("create %d on a filling disk: %d %s", i, r.status, r.body)
		}
	}
	if full.status == 0 {
		t.Fatal("2,000 creates on a full 3 MB disk and none was refused")
	}
	wantSCIMError(t, full, 503, "")
	if full.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	e.must(e.do("GET", "/Users/"+id, ""), 200)
	if code := readyz(t, e); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz on a full disk: %d, want 503", code)
	}

	os.Remove(filler)
	if code := readyz(t, e); code != http.StatusOK {
		t.Errorf("/readyz once space is freed: %d, want 200", code)
	}
	e.must(e.do("POST", "/Users", userBody("after@example.com")), 201)
}

func readyz(t *testing.T, e *scimEnv) int {
	t.Helper()
	res, err := e.http.Client().Get(e.http.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
