package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/scim"
)

// fakeAdmin answers like the admin API, recording what it was sent.
type fakeAdmin struct {
	last *http.Request
	body []byte
}

func (f *fakeAdmin) handler() http.Handler {
	mux := http.NewServeMux()
	record := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			f.last = r
			f.body, _ = io.ReadAll(r.Body)
			if r.Header.Get("Authorization") != "Bearer good" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"error":{"code":"unauthorized","message":"invalid admin token"}}`))
				return
			}
			h(w, r)
		}
	}
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /admin/v1/providers", record(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, adminapi.ProviderList{Providers: []adminapi.Provider{{Name: "Okta", Enabled: true}}})
	}))
	mux.HandleFunc("POST /admin/v1/providers", record(func(w http.ResponseWriter, r *http.Request) {
		var req adminapi.CreateProviderRequest
		json.Unmarshal(f.body, &req)
		writeJSON(w, 201, adminapi.ProviderKeyResponse{Provider: adminapi.Provider{Name: req.Name, Enabled: req.Enabled}, Key: "kcs_new"})
	}))
	mux.HandleFunc("GET /admin/v1/providers/{name}", record(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != "Entra ID" {
			writeJSON(w, 404, adminapi.ErrorBody{Error: adminapi.Error{Code: "not_found", Message: `no provider named "` + r.PathValue("name") + `"`}})
			return
		}
		writeJSON(w, 200, adminapi.Provider{Name: "Entra ID"})
	}))
	mux.HandleFunc("PATCH /admin/v1/providers/{name}", record(func(w http.ResponseWriter, r *http.Request) {
		var req adminapi.UpdateProviderRequest
		json.Unmarshal(f.body, &req)
		p := adminapi.Provider{Name: r.PathValue("name"), RateLimit: 10}
		if req.Strict != nil {
			p.Strict = *req.Strict
		}
		if req.RateLimit != nil {
			p.RateLimit = *req.RateLimit
		}
		writeJSON(w, 200, p)
	}))
	mux.HandleFunc("POST /admin/v1/providers/{name}/{action}", record(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, adminapi.ProviderKeyResponse{Provider: adminapi.Provider{Name: r.PathValue("name")}, Key: r.PathValue("action")})
	}))
	mux.HandleFunc("DELETE /admin/v1/providers/{name}", record(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	return mux
}

func ptr[T any](v T) *T { return &v }

func TestAdmin(t *testing.T) {
	f := &fakeAdmin{}
	srv := httptest.NewServer(f.handler())
	defer srv.Close()
	ctx := context.Background()
	a := client.NewAdmin(srv.URL+"/", "good", client.WithUserAgent("kacescim/test"))

	ps, err := a.Providers(ctx)
	if err != nil || len(ps) != 1 || ps[0].Name != "Okta" {
		t.Fatalf("Providers = %v, %v", ps, err)
	}
	if ua := f.last.Header.Get("User-Agent"); ua != "kacescim/test" {
		t.Fatalf("User-Agent = %q", ua)
	}

	created, err := a.CreateProvider(ctx, adminapi.CreateProviderRequest{Name: "Okta", Enabled: true})
	if err != nil || created.Key != "kcs_new" || !created.Provider.Enabled {
		t.Fatalf("CreateProvider = %+v, %v", created, err)
	}
	if ct := f.last.Header.Get("Content-Type"); ct != "application/json" || string(f.body) != `{"name":"Okta","enabled":true}` {
		t.Fatalf("create sent %q %s", ct, f.body)
	}

	// The options travel when set, and stay out of the body otherwise.
	created, err = a.CreateProvider(ctx, adminapi.CreateProviderRequest{Name: "Entra ID", Strict: true, RateLimit: 2.5})
	if err != nil || string(f.body) != `{"name":"Entra ID","enabled":false,"strict":true,"rateLimit":2.5}` {
		t.Fatalf("CreateProvider with options = %+v, %v; sent %s", created, err, f.body)
	}

	// An update sends only what it sets; false and 0 are sent.
	for _, tc := range []struct {
		req  adminapi.UpdateProviderRequest
		body string
		want adminapi.Provider
	}{
		{adminapi.UpdateProviderRequest{Strict: ptr(false)}, `{"strict":false}`, adminapi.Provider{Name: "Entra ID", RateLimit: 10}},
		{adminapi.UpdateProviderRequest{RateLimit: ptr(0.0)}, `{"rateLimit":0}`, adminapi.Provider{Name: "Entra ID"}},
		{adminapi.UpdateProviderRequest{Strict: ptr(true), RateLimit: ptr(50.0)}, `{"strict":true,"rateLimit":50}`, adminapi.Provider{Name: "Entra ID", Strict: true, RateLimit: 50}},
	} {
		p, err := a.UpdateProvider(ctx, "Entra ID", tc.req)
		if err != nil || !reflect.DeepEqual(*p, tc.want) {
			t.Fatalf("UpdateProvider(%s) = %+v, %v", tc.body, p, err)
		}
		if f.last.Method != "PATCH" || f.last.URL.EscapedPath() != "/admin/v1/providers/Entra%20ID" || string(f.body) != tc.body {
			t.Fatalf("UpdateProvider sent %s %s %s, want body %s", f.last.Method, f.last.URL.EscapedPath(), f.body, tc.body)
		}
	}

	// Names travel escaped in the path and arrive intact.
	p, err := a.Provider(ctx, "Entra ID")
	if err != nil || p.Name != "Entra ID" {
		t.Fatalf("Provider = %+v, %v", p, err)
	}
	if f.last.URL.EscapedPath() != "/admin/v1/providers/Entra%20ID" {
		t.Fatalf("path = %q", f.last.URL.EscapedPath())
	}

	for action, call := range map[string]func(context.Context, string) (*adminapi.ProviderKeyResponse, error){
		"enable": func(ctx context.Context, name string) (*adminapi.ProviderKeyResponse, error) {
			return a.EnableProvider(ctx, name)
		},
		"disable": a.DisableProvider,
		"rotate-key": func(ctx context.Context, name string) (*adminapi.ProviderKeyResponse, error) {
			return a.RotateKey(ctx, name)
		},
	} {
		resp, err := call(ctx, "Okta")
		if err != nil || resp.Key != action || f.last.Method != "POST" {
			t.Fatalf("%s = %+v, %v", action, resp, err)
		}
	}
	if err := a.RemoveProvider(ctx, "Okta"); err != nil || f.last.Method != "DELETE" {
		t.Fatalf("RemoveProvider = %v", err)
	}

	// An error body becomes an *Error whose text is the server's message.
	_, err = a.Provider(ctx, "Nope")
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 404 || ce.Code != "not_found" || err.Error() != `no provider named "Nope"` {
		t.Fatalf("error = %#v", err)
	}

	_, err = client.NewAdmin(srv.URL, "bad").Providers(ctx)
	if !errors.As(err, &ce) || ce.Status != 401 || ce.Code != "unauthorized" || err.Error() != "invalid admin token" {
		t.Fatalf("bad token error = %#v", err)
	}
}

// A URL that answers, but not as kacescim, gets an error saying so rather
// than a dump of the response.
func TestAdminNotKacescim(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/v1/providers" && r.Method == "GET" {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>hello</html>"))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	a := client.NewAdmin(srv.URL, "t")
	for _, call := range []func() error{
		func() error { _, err := a.Providers(context.Background()); return err },
		func() error { _, err := a.Provider(context.Background(), "Okta"); return err },
	} {
		err := call()
		var ce *client.Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "is "+srv.URL+" a kacescim server?") || strings.Contains(err.Error(), "<html>") {
			t.Fatalf("error = %v", err)
		}
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now

	_, err = client.NewAdmin(url, "t").Providers(context.Background())
	var ue *client.UnreachableError
	if !errors.As(err, &ue) || ue.URL != url {
		t.Fatalf("admin error = %#v", err)
	}
	_, err = client.NewSCIM(url+"/scim/v2", "k").Do(context.Background(), "GET", "/Users", nil)
	if !errors.As(err, &ue) || ue.URL != url+"/scim/v2" {
		t.Fatalf("scim error = %#v", err)
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	start := time.Now()
	_, err := client.NewAdmin(srv.URL, "t", client.WithTimeout(100*time.Millisecond)).Providers(context.Background())
	var ue *client.UnreachableError
	if !errors.As(err, &ue) || time.Since(start) > 5*time.Second {
		t.Fatalf("timeout error = %#v after %v", err, time.Since(start))
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err = client.NewSCIM(srv.URL, "k").Do(ctx, "GET", "/Users", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel error = %#v", err)
	}
}

func TestSCIMRequests(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", scim.MediaType)
		switch r.URL.Path {
		case "/scim/v2/Users":
			if r.Method == "POST" {
				w.WriteHeader(201)
			}
			w.Write([]byte(`{"totalResults":0}`))
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"no such thing"}`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	c := client.NewSCIM(srv.URL+"/scim/v2/", "kcs_key", client.WithHeader("X-Test", "1"))
	resp, err := c.Do(ctx, "get", "Users?filter=userName%20eq%20%22a%22", nil)
	if err != nil || resp.Status != 200 || string(resp.Body) != `{"totalResults":0}` || resp.Header.Get("Content-Type") != scim.MediaType {
		t.Fatalf("GET = %+v, %v", resp, err)
	}
	if got.Method != "GET" || got.URL.Query().Get("filter") != `userName eq "a"` {
		t.Fatalf("request = %s %s", got.Method, got.URL)
	}
	for h, want := range map[string]string{
		"Authorization": "Bearer kcs_key", "Accept": scim.MediaType, "Content-Type": "", "X-Test": "1", "User-Agent": "kacescim",
	} {
		if got.Header.Get(h) != want {
			t.Errorf("%s = %q, want %q", h, got.Header.Get(h), want)
		}
	}
	if resp.Err() != nil {
		t.Fatalf("Err() on 200 = %v", resp.Err())
	}

	resp, err = c.DoJSON(ctx, "POST", "/Users", map[string]any{"userName": "a@example.com"})
	if err != nil || resp.Status != 201 {
		t.Fatalf("POST = %+v, %v", resp, err)
	}
	if got.Header.Get("Content-Type") != scim.MediaType || string(gotBody) != `{"userName":"a@example.com"}` {
		t.Fatalf("POST sent %q %s", got.Header.Get("Content-Type"), gotBody)
	}

	// 4xx answers are responses, and Err decodes the SCIM error.
	resp, err = c.Do(ctx, "DELETE", "/Users/x", nil)
	if err != nil || resp.Status != 404 {
		t.Fatalf("DELETE = %+v, %v", resp, err)
	}
	se, ok := scim.AsError(resp.Err())
	if !ok || se.Status != 404 || se.Detail != "no such thing" {
		t.Fatalf("Err() = %#v", resp.Err())
	}
	if se, _ := scim.AsError((&client.Response{Status: 502, Body: []byte("<html>")}).Err()); se.Status != 502 || se.Detail != "Bad Gateway" {
		t.Fatalf("Err() of a non-SCIM body = %#v", se)
	}

	// Absolute URLs (meta.location) are used as they are.
	if _, err := c.Do(ctx, "GET", srv.URL+"/scim/v2/Users", nil); err != nil || got.URL.Path != "/scim/v2/Users" {
		t.Fatalf("absolute URL: %v %s", err, got.URL)
	}

	// Okta's header mode sends the bare key; no key sends no header.
	client.NewSCIM(srv.URL, "kcs_key", client.WithAuthMode(client.AuthHeader)).Do(ctx, "GET", "/Users", nil)
	if h := got.Header.Get("Authorization"); h != "kcs_key" {
		t.Fatalf("header mode Authorization = %q", h)
	}
	client.NewSCIM(srv.URL, "").Do(ctx, "GET", "/Users", nil)
	if h, ok := got.Header["Authorization"]; ok {
		t.Fatalf("no key sent Authorization %q", h)
	}
	// An explicit header wins over the client's own.
	client.NewSCIM(srv.URL, "kcs_key", client.WithHeader("Authorization", "Bearer other")).Do(ctx, "GET", "/Users", nil)
	if h := got.Header.Values("Authorization"); len(h) != 1 || h[0] != "Bearer other" {
		t.Fatalf("overridden Authorization = %q", h)
	}
}

// Certificates are verified unless the caller explicitly opts out.
func TestSCIMTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx := context.Background()
	_, err := client.NewSCIM(srv.URL, "k").Do(ctx, "GET", "/Users", nil)
	var ue *client.UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("self-signed certificate accepted by default: %v", err)
	}
	if resp, err := client.NewSCIM(srv.URL, "k", client.WithInsecureSkipVerify()).Do(ctx, "GET", "/Users", nil); err != nil || resp.Status != 200 {
		t.Fatalf("insecure = %+v, %v", resp, err)
	}
}
