package server_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

// scimEnv is a real kacescim server on loopback with one enabled provider.
type scimEnv struct {
	t        testing.TB
	dataDir  string
	database string // "" for SQLite in dataDir
	srv      *server.Server
	http     *httptest.Server
	key      string
	logs     *lockedBuffer
	clock    *fakeClock
	// maxBodyBytes is the server's body limit (64 KiB when 0); set it and
	// restart for another.
	maxBodyBytes int64
	// trustedProxies is the server's Config.TrustedProxies (none when
	// nil); set it and restart for others.
	trustedProxies []netip.Prefix
	// authFailureRate is the server's Config.AuthFailureRate (its
	// default when 0); set it and restart for another.
	authFailureRate float64
	// requestTimeout is the server's Config.RequestTimeout (its default
	// when 0); set it and restart for another.
	requestTimeout time.Duration
	// webhookBackoff is the server's Config.WebhookBackoff (its default
	// when 0); set it and restart for another.
	webhookBackoff time.Duration
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func newSCIMEnv(t testing.TB) *scimEnv { return newSCIMEnvOn(t, "") }

// newSCIMEnvOn is newSCIMEnv on the store database names ("" for SQLite).
func newSCIMEnvOn(t testing.TB, database string) *scimEnv {
	t.Helper()
	e := &scimEnv{t: t, dataDir: t.TempDir(), database: database, logs: &lockedBuffer{},
		clock: &fakeClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}}
	e.start()
	_, key, err := e.srv.Directory().AddProvider(context.Background(), "okta", true)
	if err != nil {
		t.Fatal(err)
	}
	e.key = key
	return e
}

func (e *scimEnv) start() {
	e.t.Helper()
	srv, err := servertest.Open(context.Background(), server.Config{
		DataDir:         e.dataDir,
		MaxBodyBytes:    cmp.Or(e.maxBodyBytes, 64<<10),
		TrustedProxies:  e.trustedProxies,
		AuthFailureRate: e.authFailureRate,
		RequestTimeout:  e.requestTimeout,
		WebhookBackoff:  e.webhookBackoff,
		Logger:          slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, servertest.Database(e.database), servertest.Clock(e.clock.Now))
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	// As Serve bounds them.
	e.http = httptest.NewUnstartedServer(srv.Handler())
	e.http.Config.MaxHeaderBytes = server.MaxHeaderBytes
	e.http.Start()
	e.t.Cleanup(e.stop)
}

func (e *scimEnv) stop() {
	if e.http != nil {
		e.http.Close()
		e.srv.Close()
		e.http = nil
	}
}

func (e *scimEnv) restart() {
	e.stop()
	e.start()
}

type resp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

// get reads a dotted path ("Resources.0.id") out of the JSON body.
func (r resp) get(path string) any {
	var cur any = r.json
	for _, p := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

func (r resp) str(path string) string { s, _ := r.get(path).(string); return s }

func (e *scimEnv) do(method, path, body string) resp {
	return e.doAuth(method, path, body, "Bearer "+e.key)
}

func (e *scimEnv) doAuth(method, path, body, auth string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+"/scim/v2"+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Accept", "application/scim+json")
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, body: b}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out.json); err != nil {
			e.t.Fatalf("%s %s: body is not JSON (%v): %s", method, path, err, b)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
			e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
	}
	return out
}

func (e *scimEnv) must(r resp, status int) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// wantSCIMError checks a SCIM error body (RFC 7644 §3.12).
func wantSCIMError(t *testing.T, r resp, status int, scimType string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if s := r.get("schemas"); fmt.Sprint(s) != "[urn:ietf:params:scim:api:messages:2.0:Error]" {
		t.Errorf("schemas = %v", s)
	}
	if r.str("status") != fmt.Sprint(status) {
		t.Errorf("status field = %#v, want the string %q", r.get("status"), fmt.Sprint(status))
	}
	if r.str("detail") == "" {
		t.Errorf("empty detail")
	}
	if got, _ := r.get("scimType").(string); got != scimType {
		t.Errorf("scimType = %q, want %q", got, scimType)
	}
}

func userBody(userName string) string {
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,
		"name":{"givenName":"Test","familyName":"User"},
		"emails":[{"primary":true,"value":%q,"type":"work"}],
		"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
		"groups":[],"password":"1mz050nq","active":true}`, userName, userName)
}

func (e *scimEnv) createUser(userName string) string {
	e.t.Helper()
	return e.must(e.do("POST", "/Users", userBody(userName)), 201).str("id")
}

// TestOktaSPEC replays every required step of Okta's SCIM 2.0 SPEC test
// (testdata/okta/Okta-SCIM-20-SPEC-Test.json) with its headers and assertions.
func TestOktaSPEC(t *testing.T) {
	e := newSCIMEnv(t)
	e.createUser("seed.user@example.com") // PREP: at least one user first

	spec := func(method, path, body, auth string) resp {
		req, _ := http.NewRequest(method, e.http.URL+"/scim/v2"+path, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("User-Agent", "OKTA SCIM Integration")
		req.Header.Set("Accept", "application/scim+json; charset=utf-8")
		if method == "POST" {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Accept-Charset", "utf-8")
			req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
		}
		res, err := e.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		r := resp{status: res.StatusCode, body: b}
		json.Unmarshal(b, &r.json)
		return r
	}
	auth := "Bearer " + e.key
	notEmpty := func(r resp, paths ...string) {
		t.Helper()
		for _, p := range paths {
			if v := r.get(p); v == nil || v == "" || fmt.Sprint(v) == "[]" {
				t.Errorf("%s is empty in %s", p, r.body)
			}
		}
	}
	isNumber := func(r resp, paths ...string) {
		t.Helper()
		for _, p := range paths {
			if _, ok := r.get(p).(float64); !ok {
				t.Errorf("%s is not a number: %#v", p, r.get(p))
			}
		}
	}
	hasListSchema := func(r resp) {
		t.Helper()
		if fmt.Sprint(r.get("schemas")) != "[urn:ietf:params:scim:api:messages:2.0:ListResponse]" {
			t.Errorf("schemas = %v", r.get("schemas"))
		}
	}

	// Step 0: Test Users endpoint.
	r := e.must(spec("GET", "/Users?count=1&startIndex=1", "", auth), 200)
	hasListSchema(r)
	isNumber(r, "itemsPerPage", "startIndex", "totalResults")
	notEmpty(r, "Resources", "Resources.0.id", "Resources.0.name.familyName", "Resources.0.name.givenName",
		"Resources.0.userName", "Resources.0.active", "Resources.0.emails.0.value")
	isvID := r.str("Resources.0.id")

	// Step 2: Get Users/{{id}}.
	r = e.must(spec("GET", "/Users/"+isvID, "", auth), 200)
	notEmpty(r, "id", "name.familyName", "name.givenName", "userName", "active", "emails.0.value")
	if r.str("id") != isvID {
		t.Errorf("id = %q, want %q", r.str("id"), isvID)
	}

	// Step 4: invalid user by username (raw spaces and quotes, encoded by the client as %20).
	r = e.must(spec("GET", `/Users?filter=userName%20eq%20%22abcdefgh%40atko.com%22`, "", auth), 200)
	hasListSchema(r)
	if r.get("totalResults") != 0.0 {
		t.Errorf("totalResults = %v", r.get("totalResults"))
	}

	// Step 6: invalid user by id.
	r = spec("GET", "/Users/010101001010101011001010101011", "", auth)
	wantSCIMError(t, r, 404, "")

	// Step 8: random user does not exist (+ encoding).
	email := "Runscope123Xabcdefgh456@atko.com"
	r = e.must(spec("GET", "/Users?filter=userName+eq+%22"+strings.ReplaceAll(email, "@", "%40")+"%22", "", auth), 200)
	if r.get("totalResults") != 0.0 {
		t.Errorf("totalResults = %v", r.get("totalResults"))
	}

	// Step 10: create.
	create := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + email + `","name":{"givenName":"Runscope123","familyName":"Xabcdefgh456"},"emails":[{"primary":true,"value":"` + email + `","type":"work"}],"displayName":"Runscope123 Xabcdefgh456","active":true}`
	r = e.must(spec("POST", "/Users", create, auth), 201)
	if fmt.Sprint(r.get("active")) != "true" || r.str("id") == "" || r.str("name.familyName") != "Xabcdefgh456" ||
		r.str("name.givenName") != "Runscope123" || r.str("userName") != email ||
		!strings.Contains(fmt.Sprint(r.get("schemas")), "urn:ietf:params:scim:schemas:core:2.0:User") {
		t.Errorf("create response: %s", r.body)
	}
	idUserOne := r.str("id")

	// Step 12: verify.
	r = e.must(spec("GET", "/Users/"+idUserOne, "", auth), 200)
	if r.str("userName") != email || r.str("name.familyName") != "Xabcdefgh456" || r.str("name.givenName") != "Runscope123" {
		t.Errorf("get: %s", r.body)
	}

	// Step 14: recreate → 409.
	wantSCIMError(t, spec("POST", "/Users", create, auth), 409, "uniqueness")

	// Step 16: username case sensitivity.
	r = e.must(spec("GET", "/Users?filter=userName%20eq%20%22"+strings.ToUpper(email)+"%22", "", auth), 200)
	if r.get("totalResults") != 1.0 {
		t.Errorf("case-insensitive userName eq found %v users", r.get("totalResults"))
	}

	// Step 18: Groups endpoint.
	start := time.Now()
	r = e.must(spec("GET", "/Groups", "", auth), 200)
	if d := time.Since(start); d > 600*time.Millisecond {
		t.Errorf("GET /Groups took %v", d)
	}
	if _, ok := r.get("Resources").([]any); !ok {
		t.Errorf("Resources is not an array: %s", r.body)
	}

	// Step 20: 401.
	wantSCIMError(t, spec("GET", "/Users?filter=userName%20eq%20%22x%22", "", "non-token"), 401, "")

	// Step 22: 404.
	wantSCIMError(t, spec("GET", "/Users/00919288221112222", "", auth), 404, "")
}

// advance moves the clock forward by d.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// peek returns the clock's time without moving it.
func (c *fakeClock) peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
