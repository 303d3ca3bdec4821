package server_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

func TestProvisioningLog(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	id := e.createUser("log@example.com")
	e.do("GET", `/Users?filter=userName%20eq%20%22log@example.com%22`, "")
	wantSCIMError(t, e.do("POST", "/Users", `{"userName":"LOG@example.com","password":"TopSecretPw1"}`), 409, "uniqueness")
	e.must(e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","value":{"active":false}}]}`), 200)
	wantSCIMError(t, e.doAuth("GET", "/Users", "", "Bearer not-a-key"), 401, "")

	entries, err := e.srv.Directory().Log(ctx, "", directory.LogQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Fatalf("%d entries, want 5", len(entries))
	}
	create, lookup, dup, patch, unauth := entries[0], entries[1], entries[2], entries[3], entries[4]
	if create.Method != "POST" || create.Path != "/scim/v2/Users" || create.Status != 201 || create.ResourceID != id ||
		create.ProviderName != "okta" || create.RequestID == "" || create.Latency <= 0 || create.ClientIP != "127.0.0.1" {
		t.Errorf("create entry: %+v", create)
	}
	if !strings.Contains(lookup.Path, "filter=") || lookup.Status != 200 {
		t.Errorf("lookup entry: %+v", lookup)
	}
	if dup.Status != 409 || !strings.Contains(dup.Error, "already taken") || dup.ResourceID != "" {
		t.Errorf("duplicate entry: %+v", dup)
	}
	if patch.Method != "PATCH" || patch.ResourceID != id || patch.Status != 200 {
		t.Errorf("patch entry: %+v", patch)
	}
	if unauth.Status != 401 || unauth.ProviderID != "" || unauth.Error == "" {
		t.Errorf("401 entry: %+v", unauth)
	}
	for _, en := range entries {
		if strings.Contains(en.Path+en.Error, "TopSecretPw1") || strings.Contains(en.Path+en.Error, e.key) {
			t.Errorf("the log holds a secret: %+v", en)
		}
	}
	failed, _ := e.srv.Directory().Log(ctx, "okta", directory.LogQuery{FailedOnly: true})
	if len(failed) != 1 || failed[0].Status != 409 {
		t.Errorf("okta's failures: %v", failed)
	}
}

func TestProvisioningLogPruning(t *testing.T) {
	dir := t.TempDir()
	srv, err := servertest.Open(context.Background(), server.Config{DataDir: dir, LogMaxEntries: 3, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	_, key, _ := srv.Directory().AddProvider(context.Background(), "okta", true)
	e := &scimEnv{t: t, srv: srv, http: hs, key: key}
	for range 5 {
		e.must(e.do("GET", "/Users", ""), 200)
	}
	n, err := srv.PruneLog(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("PruneLog deleted %d (%v), want 2", n, err)
	}
	entries, _ := srv.Directory().Log(context.Background(), "", directory.LogQuery{})
	if len(entries) != 3 {
		t.Errorf("%d entries left, want 3", len(entries))
	}
}
