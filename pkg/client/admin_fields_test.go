package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
)

// sent is one request the fake admin API received.
type sent struct {
	method, path, query, body string
}

// fieldsAPI answers every fields, mappings and users route with a fixed
// body, recording what it was sent.
func fieldsAPI(t *testing.T) (*client.Admin, *sent) {
	t.Helper()
	last := &sent{}
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	changed := adminapi.MappingsChanged{Mappings: []adminapi.Mapping{{SCIMPath: "userName", Field: "Email", FieldType: "builtin", Required: true}}, ChangedUsers: 3}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/v1/fields", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, adminapi.FieldList{Fields: []adminapi.Field{{Name: "Email", Type: "builtin"}, {Name: "Manager", Type: "custom"}}})
	})
	mux.HandleFunc("POST /admin/v1/fields", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 201, adminapi.Field{Name: "Cost Center", Type: "custom"})
	})
	mux.HandleFunc("DELETE /admin/v1/fields/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") == "Manager" {
			writeJSON(w, 409, adminapi.ErrorBody{Error: adminapi.Error{Code: "conflict", Message: "custom field \"Manager\" is used by provider okta's mapping"}})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /admin/v1/providers/{name}/mappings", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, adminapi.MappingList{Mappings: changed.Mappings})
	})
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		mux.HandleFunc(m+" /admin/v1/providers/{name}/mappings", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, changed)
		})
	}
	mux.HandleFunc("POST /admin/v1/providers/{name}/mappings/preview", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, adminapi.Preview{Fields: map[string]any{"Email": "ada@example.com", "Disabled": false}})
	})
	mux.HandleFunc("GET /admin/v1/mappings/suggested", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, adminapi.MappingList{Mappings: []adminapi.Mapping{{SCIMPath: "title", Field: "Title", FieldType: "custom"}}})
	})
	mux.HandleFunc("GET /admin/v1/users", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, adminapi.DirectoryUserList{Users: []adminapi.DirectoryUser{{Provider: "okta", ID: "u1"}}, TotalResults: 7})
	})
	mux.HandleFunc("GET /admin/v1/users/{key}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, adminapi.DirectoryUser{Provider: "okta", ID: r.PathValue("key"), Fields: map[string]any{"Email": r.PathValue("key")}})
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*last = sent{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, body: string(b)}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return client.NewAdmin(srv.URL, "good"), last
}

func TestAdminFields(t *testing.T) {
	a, last := fieldsAPI(t)
	ctx := context.Background()

	fs, err := a.Fields(ctx)
	if err != nil || len(fs) != 2 || fs[1].Name != "Manager" {
		t.Fatalf("Fields = %+v, %v", fs, err)
	}
	f, err := a.CreateField(ctx, adminapi.CreateFieldRequest{Name: "Cost Center", Description: "d"})
	if err != nil || f.Name != "Cost Center" || last.body != `{"name":"Cost Center","description":"d"}` {
		t.Fatalf("CreateField = %+v, %v; sent %+v", f, err, last)
	}
	if err := a.RemoveField(ctx, "Cost Center"); err != nil || last.method != "DELETE" || last.path != "/admin/v1/fields/Cost%20Center" {
		t.Fatalf("RemoveField: %v; sent %+v", err, last)
	}
	err = a.RemoveField(ctx, "Manager")
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 409 || ce.Code != "conflict" {
		t.Fatalf("RemoveField(Manager) = %#v", err)
	}
}

func TestAdminMappings(t *testing.T) {
	a, last := fieldsAPI(t)
	ctx := context.Background()

	ms, err := a.Mappings(ctx, "Entra ID")
	if err != nil || len(ms) != 1 || !ms[0].Required || last.path != "/admin/v1/providers/Entra%20ID/mappings" {
		t.Fatalf("Mappings = %+v, %v; sent %+v", ms, err, last)
	}
	resp, err := a.AddMapping(ctx, "okta", adminapi.Mapping{SCIMPath: `phoneNumbers[type eq "mobile"].value`, Field: "Mobile"})
	if err != nil || resp.ChangedUsers != 3 || last.method != "POST" || last.body != `{"scimPath":"phoneNumbers[type eq \"mobile\"].value","field":"Mobile"}` {
		t.Fatalf("AddMapping = %+v, %v; sent %+v", resp, err, last)
	}
	if _, err := a.RemoveMapping(ctx, "okta", `addresses[type eq "work"].locality`, ""); err != nil || last.method != "DELETE" ||
		last.query != "scimPath=addresses%5Btype+eq+%22work%22%5D.locality" || last.body != "" {
		t.Fatalf("RemoveMapping by path: %v; sent %+v", err, last)
	}
	if _, err := a.RemoveMapping(ctx, "okta", "", "Cost Center"); err != nil || last.query != "field=Cost+Center" {
		t.Fatalf("RemoveMapping by field: %v; sent %+v", err, last)
	}
	// A nil list is sent as [], which clears the optional mappings.
	if _, err := a.SetMappings(ctx, "okta", nil); err != nil || last.method != "PUT" || last.body != `{"mappings":[]}` {
		t.Fatalf("SetMappings: %v; sent %+v", err, last)
	}
	sugg, err := a.SuggestedMappings(ctx)
	if err != nil || len(sugg) != 1 || sugg[0].FieldType != "custom" {
		t.Fatalf("SuggestedMappings = %+v, %v", sugg, err)
	}

	p, err := a.PreviewMappings(ctx, "okta", json.RawMessage(`{"userName": "ada@example.com"}`))
	if err != nil || p.Fields["Email"] != "ada@example.com" || p.Fields["Disabled"] != false ||
		last.path != "/admin/v1/providers/okta/mappings/preview" || last.body != `{"userName":"ada@example.com"}` {
		t.Fatalf("PreviewMappings = %+v, %v; sent %+v", p, err, last)
	}
	if _, err := a.PreviewMappings(ctx, "okta", json.RawMessage(`{"userName":`)); err == nil {
		t.Fatal("PreviewMappings sent invalid JSON")
	}
}

func TestAdminDirectoryUsers(t *testing.T) {
	a, last := fieldsAPI(t)
	ctx := context.Background()

	list, err := a.DirectoryUsers(ctx, client.DirectoryUserQuery{})
	if err != nil || list.TotalResults != 7 || len(list.Users) != 1 || last.query != "" {
		t.Fatalf("DirectoryUsers = %+v, %v; sent %+v", list, err, last)
	}
	disabled := true
	_, err = a.DirectoryUsers(ctx, client.DirectoryUserQuery{Provider: "Entra ID", Disabled: &disabled, Field: "Department", Value: "R&D", StartIndex: 3, Count: 50})
	if err != nil || last.query != "count=50&disabled=true&field=Department&provider=Entra+ID&startIndex=3&value=R%26D" {
		t.Fatalf("DirectoryUsers: %v; sent %+v", err, last)
	}
	// An empty value is still sent: it matches an empty field.
	if _, err := a.DirectoryUsers(ctx, client.DirectoryUserQuery{Field: "Department"}); err != nil || last.query != "field=Department&value=" {
		t.Fatalf("DirectoryUsers: %v; sent %+v", err, last)
	}
	u, err := a.DirectoryUser(ctx, "ada@example.com")
	if err != nil || u.ID != "ada@example.com" || last.path != "/admin/v1/users/ada@example.com" {
		t.Fatalf("DirectoryUser = %+v, %v; sent %+v", u, err, last)
	}
}
