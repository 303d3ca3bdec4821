package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

// FuzzAdmin drives the admin API in process with an arbitrary method, path
// (below /admin/v1) and body, presenting the admin token. Whatever the
// request, the answer is never a 5xx, an error (4xx) is the admin API's
// JSON error ({"error":{"code","message"}}) that says what is wrong, and a
// success is JSON. The seeds are one request per route, with the bodies the
// CLI sends.
//
//	go test -run '^$' -fuzz '^FuzzAdmin$' -fuzztime 60s ./pkg/server
func FuzzAdmin(f *testing.F) {
	add := func(method, p, body string) {
		f.Add(uint8(slices.Index(fuzzMethods, method)), p, []byte(body))
	}
	for _, p := range []string{"/providers", "/providers/okta", "/providers/OKTA", "/fields", "/providers/okta/mappings",
		"/mappings/suggested", "/users", "/users?provider=okta&disabled=true&count=2&startIndex=2", "/users?field=Department&value=Eng",
		"/users/ada@example.com", "/logs", "/logs?provider=okta&failed=true&limit=5&since=1h&after=3", "/logs?since=2025-03-14T10:30:00Z",
		"/providers/nobody", "/users?count=-1", "/logs?limit=999999999999"} {
		add("GET", p, "")
	}
	add("POST", "/providers", `{"name":"entra","enabled":true,"strict":true,"rateLimit":5}`)
	add("POST", "/providers", `{"name":"","enabled":true}`)
	add("PATCH", "/providers/okta", `{"name":"Okta Prod","strict":true,"rateLimit":0.5}`)
	add("PATCH", "/providers/okta", `{"rateLimit":-1}`)
	for _, action := range []string{"enable", "disable", "rotate-key"} {
		add("POST", "/providers/okta/"+action, "")
	}
	add("DELETE", "/providers/okta", "")
	add("POST", "/fields", `{"name":"CostCenter","description":"from the enterprise extension"}`)
	add("POST", "/fields", `{"name":"Email"}`)
	add("DELETE", "/fields/Department", "")
	add("POST", "/providers/okta/mappings", `{"scimPath":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter","field":"CostCenter"}`)
	add("POST", "/providers/okta/mappings", `{"scimPath":"phoneNumbers[type eq \"mobile\"].value","field":"Mobile"}`)
	add("PUT", "/providers/okta/mappings", `{"mappings":[{"scimPath":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","field":"Department"}]}`)
	add("DELETE", "/providers/okta/mappings?scimPath=title&field=Department", "")
	add("POST", "/providers/okta/mappings/preview", `{"userName":"ada@example.com","active":false,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng"}}`)
	add("POST", "/providers/okta/mappings/preview", `[]`)

	const token = "fuzz-admin-token"
	srv, err := servertest.Open(context.Background(), server.Config{DataDir: f.TempDir(), AdminToken: token})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	ensure := func(t testing.TB) {
		// The seeds name a provider okta and a field Department; a fuzzed
		// DELETE may remove them: make them again (an error means they are
		// there).
		dir := srv.Directory()
		if _, err := dir.Provider(context.Background(), "okta"); err != nil {
			if _, _, err := dir.AddProvider(context.Background(), "okta", true); err != nil {
				t.Fatal(err)
			}
		}
		dir.AddCustomField(context.Background(), "Department", "")
		dir.AddCustomField(context.Background(), "Mobile", "")
	}
	ensure(f)

	f.Fuzz(func(t *testing.T, method uint8, p string, body []byte) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		full := "/admin/v1" + p
		u, err := url.ParseRequestURI(full)
		if err != nil || strings.ContainsAny(full, " \t\r\n#") {
			return // not a request an HTTP client could send
		}
		req, err := http.NewRequestWithContext(context.Background(), m, "http://kacescim.test"+u.RequestURI(), strings.NewReader(string(body)))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if len(body) > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		defer ensure(t)

		fail := func(why string) {
			t.Helper()
			t.Fatalf("%s %s\nbody: %.2000s\n%s\nresponse %d %s: %.2000s", m, full, body, why, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
		}
		if rec.Code >= 500 {
			fail("a 5xx")
		}
		if !strings.HasPrefix(path.Clean(u.Path)+"/", "/admin/v1/") {
			return // the mux answered (a redirect of an unclean path)
		}
		switch {
		case rec.Code >= 400 && m != http.MethodHead:
			var eb adminapi.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
				fail("the error is not the admin API's JSON error")
			}
		case rec.Code >= 200 && rec.Code < 300 && rec.Body.Len() > 0 && m != http.MethodHead:
			if !json.Valid(rec.Body.Bytes()) {
				fail("the body is not JSON")
			}
		}
	})
}
