package directory_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/sqlite"
)

// TestAuthenticateMemo: a disable or a key rotation through the Service
// takes effect on the next request, though the key authenticated a moment
// before; through another Service on the same SQLite file (a second
// process, which SQLite deployments do not have) within a second.
func TestAuthenticateMemo(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kacescim.db"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := directory.NewService(st), directory.NewService(st)
	defer st.Close()
	_, key, err := a.AddProvider(ctx, "okta", true)
	if err != nil {
		t.Fatal(err)
	}
	auth := func(s *directory.Service, key string) string {
		_, err := s.Authenticate(ctx, "Bearer "+key)
		return directory.ErrorCode(err)
	}
	for _, s := range []*directory.Service{a, b} {
		if code := auth(s, key); code != "" {
			t.Fatalf("a valid key: %q", code)
		}
	}
	if _, err := a.DisableProvider(ctx, "okta"); err != nil {
		t.Fatal(err)
	}
	if code := auth(a, key); code != directory.EFORBIDDEN {
		t.Errorf("right after the disable, through the same service: %q, want %s", code, directory.EFORBIDDEN)
	}
	// The other replica still has the provider as it was, for at most a
	// second.
	deadline := time.Now().Add(1500 * time.Millisecond)
	for auth(b, key) != directory.EFORBIDDEN {
		if time.Now().After(deadline) {
			t.Fatal("another service on the database still accepts the key of a disabled provider after 1.5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	_, key2, err := a.EnableProvider(ctx, "okta")
	if err != nil {
		t.Fatal(err)
	}
	if code := auth(a, key2); code != "" {
		t.Fatalf("the new key: %q", code)
	}
	_, key3, err := a.RotateKey(ctx, "okta", directory.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if code := auth(a, key2); code != directory.EUNAUTHORIZED {
		t.Errorf("the key rotated away, right after: %q, want %s", code, directory.EUNAUTHORIZED)
	}
	if code := auth(a, key3); code != "" {
		t.Errorf("the rotated key: %q", code)
	}
	if code := auth(a, "kcs_not-a-key-0123456789abcdefghijklmnop"); code != directory.EUNAUTHORIZED {
		t.Errorf("an unknown key: %q", code)
	}
}
