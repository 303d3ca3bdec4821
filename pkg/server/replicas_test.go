package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// These tests run two kacescim replicas on one PostgreSQL schema, as a
// deployment behind a load balancer does, and split identity-provider and
// admin traffic between them. They need KACESCIM_TEST_POSTGRES:
//
//	scripts/with-postgres.sh go test -race -run Replicas ./pkg/server

const replicaAdminToken = "replica-admin-token"

// replica is one kacescim server of a replicaSet.
type replica struct {
	name  string
	srv   *server.Server
	http  *httptest.Server
	admin *client.Admin
}

// replicaSet is two replicas on one fresh PostgreSQL schema, with the same
// admin token (as --admin-token would give them) and a data directory
// each.
type replicaSet struct {
	t    *testing.T
	a, b *replica
	hc   *http.Client
}

func newReplicaSet(t *testing.T) *replicaSet {
	t.Helper()
	if testing.Short() {
		t.Skip("several replicas on PostgreSQL: not with -short")
	}
	dsn := storetest.PostgresDSN(t) // skips without KACESCIM_TEST_POSTGRES (scripts/with-postgres.sh)
	open := func(name string) *replica {
		srv, err := servertest.Open(t.Context(), server.Config{DataDir: t.TempDir(), AdminToken: replicaAdminToken}, servertest.Database(dsn))
		if err != nil {
			t.Errorf("replica %s: %v", name, err) // not Fatal: open runs on its own goroutine
			return nil
		}
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(func() {
			ts.Close()
			if err := srv.Close(); err != nil {
				t.Errorf("close replica %s: %v", name, err)
			}
		})
		return &replica{name: name, srv: srv, http: ts, admin: client.NewAdmin(ts.URL, replicaAdminToken, client.WithTimeout(30*time.Second))}
	}
	// Both open (and migrate) at once, as replicas started together do.
	var a, b *replica
	var wg sync.WaitGroup
	wg.Go(func() { a = open("A") })
	wg.Go(func() { b = open("B") })
	wg.Wait()
	if a == nil || b == nil {
		t.FailNow()
	}
	return &replicaSet{t: t, a: a, b: b, hc: &http.Client{Timeout: 30 * time.Second}}
}

// provider creates an enabled provider through a's admin API and returns
// its key.
func (rs *replicaSet) provider(via *replica, name string) string {
	rs.t.Helper()
	res, err := via.admin.CreateProvider(rs.t.Context(), adminapi.CreateProviderRequest{Name: name, Enabled: true})
	if err != nil {
		rs.t.Fatalf("create provider %s on replica %s: %v", name, via.name, err)
	}
	if res.Key == "" {
		rs.t.Fatalf("create provider %s: no key", name)
	}
	return res.Key
}

// scim sends a SCIM request to one replica. It may run on any goroutine:
// it reports with Errorf and returns a zero resp on transport errors.
func (rs *replicaSet) scim(via *replica, key, method, path, body string) resp {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rs.t.Context(), method, via.http.URL+server.SCIMPrefix+path, rd)
	if err != nil {
		rs.t.Errorf("%s %s: %v", method, path, err)
		return resp{}
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "application/scim+json")
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	res, err := rs.hc.Do(req)
	if err != nil {
		rs.t.Errorf("%s %s on replica %s: %v", method, path, via.name, err)
		return resp{}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, body: b}
	if len(b) > 0 && json.Unmarshal(b, &out.json) != nil {
		rs.t.Errorf("%s %s on replica %s: body is not JSON: %s", method, path, via.name, b)
	}
	return out
}

// must fails the test unless r has status.
func (rs *replicaSet) must(r resp, status int) resp {
	rs.t.Helper()
	if r.status != status {
		rs.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// TestReplicasShareProviders: a provider created through one replica's
// admin API is seen, changed and used through the other's at once.
func TestReplicasShareProviders(t *testing.T) {
	rs := newReplicaSet(t)
	ctx := t.Context()
	key := rs.provider(rs.a, "okta")

	p, err := rs.b.admin.Provider(ctx, "okta")
	if err != nil {
		t.Fatalf("replica B does not see the provider replica A created: %v", err)
	}
	if !p.Enabled {
		t.Errorf("replica B sees the provider disabled: %+v", p)
	}
	// The key works on both.
	rs.must(rs.scim(rs.a, key, "GET", "/Users", ""), 200)
	rs.must(rs.scim(rs.b, key, "GET", "/Users", ""), 200)

	// Disabled through B: A refuses the key at once.
	if _, err := rs.b.admin.DisableProvider(ctx, "okta"); err != nil {
		t.Fatal(err)
	}
	if r := rs.scim(rs.a, key, "GET", "/Users", ""); r.status != 403 {
		t.Errorf("replica A after B disabled the provider: status %d, want 403: %s", r.status, r.body)
	}
	// Enabled (a new key) and rotated through A: B takes the last key only.
	enabled, err := rs.a.admin.EnableProvider(ctx, "okta")
	if err != nil {
		t.Fatal(err)
	}
	rs.must(rs.scim(rs.b, enabled.Key, "GET", "/Users", ""), 200)
	// A rotation with the default grace: both keys work on B; then one
	// that stops the old keys at once.
	graced, err := rs.a.admin.RotateKey(ctx, "okta")
	if err != nil {
		t.Fatal(err)
	}
	rs.must(rs.scim(rs.b, enabled.Key, "GET", "/Users", ""), 200)
	rs.must(rs.scim(rs.b, graced.Key, "GET", "/Users", ""), 200)
	zero := int64(0)
	rot, err := rs.a.admin.RotateKey(ctx, "okta", adminapi.NewKeyRequest{GraceSeconds: &zero})
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range []string{key, enabled.Key, graced.Key} {
		if r := rs.scim(rs.b, old, "GET", "/Users", ""); r.status != 401 {
			t.Errorf("replica B with a key A replaced: status %d, want 401", r.status)
		}
	}
	rs.must(rs.scim(rs.b, rot.Key, "GET", "/Users", ""), 200)

	// Removed through B: gone on A.
	if err := rs.b.admin.RemoveProvider(ctx, "okta"); err != nil {
		t.Fatal(err)
	}
	if ps, err := rs.a.admin.Providers(ctx); err != nil || len(ps) != 0 {
		t.Errorf("replica A after B removed the provider: %v, %v; want none", ps, err)
	}
}

// TestReplicasOktaSplit: Okta's user lifecycle with each request on either
// replica, as a load balancer spreads it: create on A, PATCH on B, GET on
// A, and so on.
func TestReplicasOktaSplit(t *testing.T) {
	rs := newReplicaSet(t)
	key := rs.provider(rs.b, "okta")
	a, b := rs.a, rs.b

	id := rs.must(rs.scim(a, key, "POST", "/Users", userBody("split@example.com")), 201).str("id")
	// Okta looks the user up by userName before it pushes a change.
	list := rs.must(rs.scim(b, key, "GET", `/Users?filter=userName%20eq%20%22split@example.com%22&startIndex=1&count=100`, ""), 200)
	if n, _ := list.get("totalResults").(float64); n != 1 || list.str("Resources.0.id") != id {
		t.Fatalf("replica B's search for the user A created: %s", list.body)
	}
	rs.must(rs.scim(b, key, "PATCH", "/Users/"+id,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"name":{"givenName":"Split","familyName":"Brain"}}}]}`), 200)
	got := rs.must(rs.scim(a, key, "GET", "/Users/"+id, ""), 200)
	if got.str("name.givenName") != "Split" || got.str("name.familyName") != "Brain" || got.str("meta.version") != `W/"2"` {
		t.Errorf("replica A after B's PATCH: %s", got.body)
	}

	// Deactivate on A, with the ETag B returned (If-Match across replicas).
	etag := rs.must(rs.scim(b, key, "GET", "/Users/"+id, ""), 200).header.Get("ETag")
	if etag != `W/"2"` {
		t.Fatalf("ETag from replica B: %q", etag)
	}
	req := func(via *replica, method, path, body, ifMatch string) resp {
		r, err := http.NewRequestWithContext(t.Context(), method, via.http.URL+server.SCIMPrefix+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set("Content-Type", "application/scim+json")
		r.Header.Set("If-Match", ifMatch)
		res, err := rs.hc.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return resp{status: res.StatusCode, header: res.Header, body: out}
	}
	deactivate := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`
	if r := req(a, "PATCH", "/Users/"+id, deactivate, etag); r.status != 200 {
		t.Fatalf("PATCH on A with B's ETag: %d %s", r.status, r.body)
	}
	if r := req(b, "PATCH", "/Users/"+id, deactivate, etag); r.status != 412 {
		t.Errorf("PATCH on B with the ETag A's PATCH made stale: %d, want 412: %s", r.status, r.body)
	}
	if got := rs.must(rs.scim(b, key, "GET", "/Users/"+id, ""), 200); got.get("active") != false {
		t.Errorf("replica B after A deactivated: %s", got.body)
	}

	// Delete on B: gone on A.
	rs.must(rs.scim(b, key, "DELETE", "/Users/"+id, ""), 204)
	rs.must(rs.scim(a, key, "GET", "/Users/"+id, ""), 404)
}

// TestReplicasConcurrentPatches: PATCHes of one user sent at once through
// both replicas all land; none overwrites another's change.
func TestReplicasConcurrentPatches(t *testing.T) {
	rs := newReplicaSet(t)
	key := rs.provider(rs.a, "okta")
	id := rs.must(rs.scim(rs.a, key, "POST", "/Users", userBody("busy@example.com")), 201).str("id")
	const n = 24
	var wg sync.WaitGroup
	for i := range n {
		via := []*replica{rs.a, rs.b}[i%2]
		wg.Go(func() {
			r := rs.scim(via, key, "PATCH", "/Users/"+id,
				fmt.Sprintf(`{"Operations":[{"op":"add","path":"emails","value":[{"value":"e%d@example.com","type":"other"}]}]}`, i))
			if r.status != 200 {
				t.Errorf("PATCH %d on replica %s: %d %s", i, via.name, r.status, r.body)
			}
		})
	}
	wg.Wait()
	for _, via := range []*replica{rs.a, rs.b} {
		r := rs.must(rs.scim(via, key, "GET", "/Users/"+id, ""), 200)
		emails, _ := r.get("emails").([]any)
		if len(emails) != n+1 {
			t.Errorf("replica %s: %d emails after %d concurrent adds, want %d: %s", via.name, len(emails), n, n+1, r.body)
		}
		if r.str("meta.version") != fmt.Sprintf(`W/"%d"`, n+1) {
			t.Errorf("replica %s: version %s, want %d updates counted", via.name, r.str("meta.version"), n+1)
		}
	}
}

// TestReplicasGroupMembership: membership PATCHes of one group sent at
// once through both replicas, adding and removing members as Okta's group
// push does, converge: both replicas then show the same members, and the
// users' groups agree.
func TestReplicasGroupMembership(t *testing.T) {
	rs := newReplicaSet(t)
	key := rs.provider(rs.a, "okta")
	const n = 16
	ids := make([]string, n)
	for i := range n {
		via := []*replica{rs.a, rs.b}[i%2]
		ids[i] = rs.must(rs.scim(via, key, "POST", "/Users", userBody(fmt.Sprintf("member%02d@example.com", i))), 201).str("id")
	}
	gid := rs.must(rs.scim(rs.b, key, "POST", "/Groups",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[]}`), 201).str("id")

	// Every user is added, one PATCH each, alternately through A and B;
	// then every odd one is removed, also at once and through both.
	patch := func(ops string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
	}
	run := func(body func(i int) string, which func(i int) bool) {
		var wg sync.WaitGroup
		for i := range n {
			if !which(i) {
				continue
			}
			via := []*replica{rs.a, rs.b}[(i/2)%2]
			wg.Go(func() {
				r := rs.scim(via, key, "PATCH", "/Groups/"+gid, body(i))
				if r.status != 200 && r.status != 204 {
					t.Errorf("group PATCH for member %d on replica %s: %d %s", i, via.name, r.status, r.body)
				}
			})
		}
		wg.Wait()
	}
	run(func(i int) string {
		return patch(fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q}]}`, ids[i]))
	}, func(int) bool { return true })
	run(func(i int) string {
		return patch(fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, ids[i]))
	}, func(i int) bool { return i%2 == 1 })

	var want []string
	for i, id := range ids {
		if i%2 == 0 {
			want = append(want, id)
		}
	}
	slices.Sort(want)
	for _, via := range []*replica{rs.a, rs.b} {
		g := rs.must(rs.scim(via, key, "GET", "/Groups/"+gid, ""), 200)
		members, _ := g.get("members").([]any)
		var got []string
		for _, m := range members {
			v, _ := m.(map[string]any)["value"].(string)
			got = append(got, v)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("replica %s: members %v, want %v", via.name, got, want)
		}
		if want := fmt.Sprintf(`W/"%d"`, 1+n+n/2); g.str("meta.version") != want {
			t.Errorf("replica %s: group version %s, want %s (one per PATCH)", via.name, g.str("meta.version"), want)
		}
		for i, id := range ids {
			u := rs.must(rs.scim(via, key, "GET", "/Users/"+id, ""), 200)
			groups, _ := u.get("groups").([]any)
			if inGroup := len(groups) == 1; inGroup != (i%2 == 0) {
				t.Errorf("replica %s: user %d has groups %v", via.name, i, u.get("groups"))
			}
		}
	}
}

// roundRobin sends each request to the next of its hosts in turn, as a
// load balancer in front of the replicas does. The Host header stays the
// one the client addressed: the replicas answer for one public name.
type roundRobin struct {
	hosts []string
	n     atomic.Uint64
	next  http.RoundTripper
	sent  []atomic.Int64
}

func newRoundRobin(bases ...string) *roundRobin {
	rr := &roundRobin{next: http.DefaultTransport.(*http.Transport).Clone(), sent: make([]atomic.Int64, len(bases))}
	for _, b := range bases {
		u, err := url.Parse(b)
		if err != nil {
			panic(err)
		}
		rr.hosts = append(rr.hosts, u.Host)
	}
	return rr
}

func (rr *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	i := int((rr.n.Add(1) - 1) % uint64(len(rr.hosts)))
	rr.sent[i].Add(1)
	out := req.Clone(req.Context())
	if out.Host == "" {
		out.Host = req.URL.Host
	}
	out.URL.Host = rr.hosts[i]
	return rr.next.RoundTrip(out)
}

// TestReplicasConformance runs every built-in conformance suite, with the
// fixture provider (and its mappings) made through replica A's admin API,
// against replica B alone and then against both in turn, request by
// request: every check must pass, none may be skipped.
func TestReplicasConformance(t *testing.T) {
	rs := newReplicaSet(t)
	for _, tc := range []struct {
		name      string
		transport func() *roundRobin
	}{
		{"ReplicaB", func() *roundRobin { return newRoundRobin(rs.b.http.URL) }},
		{"RoundRobin", func() *roundRobin { return newRoundRobin(rs.a.http.URL, rs.b.http.URL) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			fx, err := conformance.NewFixture(ctx, rs.a.admin, "conformance-"+strings.ToLower(tc.name))
			if err != nil {
				t.Fatal(err)
			}
			// Tenant B of the isolation suite, a provider of the same
			// database made through the other replica.
			other, err := conformance.NewFixture(ctx, rs.a.admin, "conformance-"+strings.ToLower(tc.name)+"-b")
			if err != nil {
				t.Fatal(err)
			}
			rr := tc.transport()
			scenarios, err := conformance.BuiltinScenarios()
			if err != nil {
				t.Fatal(err)
			}
			res := conformance.Run(ctx, scenarios, conformance.Options{
				BaseURL:        rs.b.http.URL + server.SCIMPrefix,
				Token:          fx.Key,
				IsolationToken: other.Key,
				Directory:      fx.Directory(),
				// The auth suite's throw-away providers through A, their
				// tokens and keys used through B (or both).
				Credentials: conformance.AdminCredentials(rs.a.admin),
				Transport:   rr,
				// And a generated sequence of 500 operations, as
				// `kacescim test --explore 500` sends it.
				Explore: 500,
				Seed:    2026,
			})
			for _, rep := range res.Reports {
				if rep.Failed() != 0 || rep.Skipped() != 0 || rep.Passed() == 0 {
					var buf bytes.Buffer
					if err := rep.WriteText(&buf); err != nil {
						t.Fatal(err)
					}
					t.Errorf("suite %s: %d passed, %d failed, %d skipped; want no failure and no skip\n%s",
						rep.Suite, rep.Passed(), rep.Failed(), rep.Skipped(), buf.String())
				}
			}
			if res.Explore == nil || res.Explore.Failure != "" {
				t.Errorf("exploration %+v, want no failure", res.Explore)
			}
			p, f, s := res.Totals()
			var sent []int64
			for i := range rr.sent {
				sent = append(sent, rr.sent[i].Load())
			}
			t.Logf("%d passed, %d failed, %d skipped; requests per replica %v", p, f, s, sent)
			if len(res.Leftovers) > 0 {
				t.Errorf("leftovers: %q", res.Leftovers)
			}
			// Tenant B first: fx removes the custom fields it created,
			// which B's mappings use too.
			if err := other.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := fx.Close(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPostgresRefusesUnstorableText: PostgreSQL text cannot hold a NUL
// byte; a SCIM request carrying one gets a 400 SCIM error, not a 500, and
// nothing is written.
func TestPostgresRefusesUnstorableText(t *testing.T) {
	rs := newReplicaSet(t)
	key := rs.provider(rs.a, "okta")
	r := rs.scim(rs.a, key, "POST", "/Users", `{"userName":"nul\u0000@example.com","active":true}`)
	if r.status != http.StatusBadRequest || r.json["schemas"] == nil {
		t.Fatalf("POST with a NUL in userName: %d %s; want a 400 SCIM error", r.status, r.body)
	}
	list := rs.must(rs.scim(rs.b, key, "GET", "/Users", ""), http.StatusOK)
	if list.json["totalResults"] != float64(0) {
		t.Errorf("after the refused POST: %s", list.body)
	}
	u := rs.must(rs.scim(rs.a, key, "POST", "/Users", `{"userName":"ok@example.com","active":true}`), http.StatusCreated)
	r = rs.scim(rs.b, key, "PATCH", "/Users/"+u.json["id"].(string),
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"a\u0000b"}]}`)
	if r.status != http.StatusBadRequest {
		t.Errorf("PATCH with a NUL: %d %s; want 400", r.status, r.body)
	}
}

// TestReplicasOAuthTokens: Entra's flow across replicas. A secret made
// through replica A gets a token from B's token endpoint, which A's SCIM
// endpoint takes; revoking the secret through B ends the token on A at
// once, and a new secret through A works on B.
func TestReplicasOAuthTokens(t *testing.T) {
	rs := newReplicaSet(t)
	ctx := t.Context()
	rs.provider(rs.a, "entra")
	made, err := rs.a.admin.AddSecret(ctx, "entra", adminapi.NewSecretRequest{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := client.FetchToken(ctx, rs.b.http.URL+server.TokenPath, made.Client.ClientID, made.Secret)
	if err != nil {
		t.Fatalf("replica B's token endpoint with a secret made through A: %v", err)
	}
	if tok.ExpiresIn != time.Hour {
		t.Errorf("expires_in = %s, want 1h", tok.ExpiresIn)
	}
	rs.must(rs.scim(rs.a, tok.AccessToken, "POST", "/Users", userBody("entra@example.com")), 201)
	if r := rs.must(rs.scim(rs.b, tok.AccessToken, "GET", "/Users", ""), 200); r.get("totalResults") != 1.0 {
		t.Errorf("replica B with A's user: %v", r.get("totalResults"))
	}

	c, err := rs.b.admin.OAuthClient(ctx, "entra")
	if err != nil || len(c.Secrets) != 1 || c.Secrets[0].LastUsedAt == nil {
		t.Fatalf("replica B's view of the client: %+v, %v", c, err)
	}
	if _, err := rs.b.admin.RevokeSecret(ctx, "entra", c.Secrets[0].ID); err != nil {
		t.Fatal(err)
	}
	if r := rs.scim(rs.a, tok.AccessToken, "GET", "/Users", ""); r.status != 401 {
		t.Errorf("replica A with a token whose secret B revoked: %d, want 401", r.status)
	}
	var te *client.TokenError
	if _, err := client.FetchToken(ctx, rs.a.http.URL+server.TokenPath, made.Client.ClientID, made.Secret); !errors.As(err, &te) || te.Code != "invalid_client" {
		t.Errorf("replica A's token endpoint with the revoked secret: %v", err)
	}
	again, err := rs.a.admin.AddSecret(ctx, "entra", adminapi.NewSecretRequest{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err = client.FetchToken(ctx, rs.a.http.URL+server.TokenPath, again.Client.ClientID, again.Secret)
	if err != nil {
		t.Fatal(err)
	}
	rs.must(rs.scim(rs.b, tok.AccessToken, "GET", "/Users", ""), 200)
}
