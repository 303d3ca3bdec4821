package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
)

func TestAdminLogs(t *testing.T) {
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		if r.Method != "GET" || r.URL.Path != "/admin/v1/logs" {
			w.WriteHeader(404)
			return
		}
		if r.URL.Query().Get("provider") == "nope" {
			w.WriteHeader(404)
			json.NewEncoder(w).Encode(adminapi.ErrorBody{Error: adminapi.Error{Code: "not_found", Message: `no provider named "nope"`}})
			return
		}
		w.Write([]byte(`{"entries":[{"id":7,"time":"2025-03-14T11:00:00Z","provider":"","requestId":"r1","method":"GET","path":"/scim/v2/Users","resourceId":"","status":401,"latencyMs":0.25,"error":"invalid security key"}]}`))
	}))
	defer srv.Close()
	a := client.NewAdmin(srv.URL, "good")
	ctx := context.Background()

	es, err := a.Logs(ctx, client.LogQuery{})
	want := adminapi.LogEntry{ID: 7, Time: time.Date(2025, 3, 14, 11, 0, 0, 0, time.UTC), RequestID: "r1", Method: "GET",
		Path: "/scim/v2/Users", Status: 401, LatencyMs: 0.25, Error: "invalid security key"}
	if err != nil || len(es) != 1 || es[0] != want || query != "" {
		t.Fatalf("Logs = %+v, %v; sent %q", es, err, query)
	}
	_, err = a.Logs(ctx, client.LogQuery{Provider: "Entra ID", Since: "2025-03-14T09:00:00+02:00", AfterID: 42, FailedOnly: true, Limit: 10})
	if err != nil || query != "after=42&failed=true&limit=10&provider=Entra+ID&since=2025-03-14T09%3A00%3A00%2B02%3A00" {
		t.Fatalf("Logs: %v; sent %q", err, query)
	}
	_, err = a.Logs(ctx, client.LogQuery{Provider: "nope"})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 404 || ce.Code != "not_found" {
		t.Fatalf("Logs(nope) = %#v", err)
	}
}
