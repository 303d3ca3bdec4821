package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/federation"
)

// jwksServer publishes a JWK Set the test can change, and counts its
// fetches.
type jwksServer struct {
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetches int
	srv     *httptest.Server
}

func newJWKSServer(t *testing.T, keys ...jose.JSONWebKey) *jwksServer {
	j := &jwksServer{keys: keys}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.mu.Lock()
		defer j.mu.Unlock()
		j.fetches++
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: j.keys})
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *jwksServer) set(keys ...jose.JSONWebKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.keys = keys
}

func (j *jwksServer) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.fetches
}

// signingKey is a private key and its public JWK.
type signingKey struct {
	priv   any
	alg    jose.SignatureAlgorithm
	public jose.JSONWebKey
}

func newRSAKey(t *testing.T, kid string) signingKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: k, alg: jose.RS256, public: jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}}
}

func newECKey(t *testing.T, kid string) signingKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: k, alg: jose.ES256, public: jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Use: "sig"}}
}

// sign makes a compact JWT with claims, signed by k under kid.
func (k signingKey) sign(t *testing.T, kid string, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWTFederation: the JWTs of workload identity federation, signed by
// the identity provider and checked against its JWK Set, each way they
// can be wrong refused with a clear answer; the set is fetched once,
// cached, and fetched again once for an unknown key ID.
func TestJWTFederation(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	dir := e.srv.Directory()
	k1, k2, ec := newRSAKey(t, "k1"), newRSAKey(t, "k2"), newECKey(t, "ec1")
	jwks := newJWKSServer(t, k1.public, ec.public)
	if _, _, err := dir.AddProvider(ctx, "entra", true); err != nil {
		t.Fatal(err)
	}
	const iss, aud = "https://login.example.com/tenant-1/v2.0", "api://kacescim"
	if _, _, err := dir.SetFederation(ctx, "entra", directory.Federation{Issuer: iss, Audience: aud, Subject: "sp-entra", JWKSURL: jwks.srv.URL}); err != nil {
		t.Fatal(err)
	}
	claims := func(mod func(c *jwt.Claims)) jwt.Claims {
		now := e.clock.peek()
		c := jwt.Claims{Issuer: iss, Audience: jwt.Audience{aud}, Subject: "sp-entra",
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	valid := k1.sign(t, "k1", claims(nil))
	r := e.doAuth("POST", "/Users", userBody("jwt.user@example.com"), "Bearer "+valid)
	e.must(r, 201)
	e.must(e.doAuth("GET", "/Users", "", "Bearer "+ec.sign(t, "ec1", claims(nil))), 200)
	if n := jwks.count(); n != 1 {
		t.Errorf("the JWK Set was fetched %d times for two JWTs, want 1 (cached)", n)
	}
	if r := e.must(e.doAuth("GET", "/Users", "", "Bearer "+valid), 200); r.get("totalResults") != 1.0 {
		t.Errorf("the JWT's provider sees %v users", r.get("totalResults"))
	}

	noneJWT := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		p, _ := json.Marshal(claims(nil))
		return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
	}()
	hsJWT := func() string {
		// HMAC keyed with the public key's bytes: the algorithm-confusion
		// attack.
		pub, _ := json.Marshal(k1.public)
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pub}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		s, _ := jwt.Signed(signer).Claims(claims(nil)).Serialize()
		return s
	}()
	tampered := func() string {
		parts := strings.Split(valid, ".")
		p, _ := json.Marshal(claims(func(c *jwt.Claims) { c.Subject = "sp-entra"; c.ID = "changed" }))
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
	}()
	for name, tc := range map[string]struct {
		token, detail string
		expired       bool
	}{
		"wrong audience":       {k1.sign(t, "k1", claims(func(c *jwt.Claims) { c.Audience = jwt.Audience{"api://other"} })), "no provider trusts its issuer, audience and subject", false},
		"wrong issuer":         {k1.sign(t, "k1", claims(func(c *jwt.Claims) { c.Issuer = "https://evil.example.com" })), "no provider trusts its issuer, audience and subject", false},
		"wrong subject":        {k1.sign(t, "k1", claims(func(c *jwt.Claims) { c.Subject = "someone-else" })), "no provider trusts its issuer, audience and subject", false},
		"expired":              {k1.sign(t, "k1", claims(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(e.clock.peek().Add(-2 * time.Minute)) })), "the bearer JWT expired at", true},
		"not yet valid":        {k1.sign(t, "k1", claims(func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(e.clock.peek().Add(time.Hour)) })), "is not valid before", false},
		"no expiry":            {k1.sign(t, "k1", claims(func(c *jwt.Claims) { c.Expiry = nil })), "it has no exp", false},
		"lives for a week":     {k1.sign(t, "k1", claims(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(e.clock.peek().Add(7 * 24 * time.Hour)) })), "its exp is more than 24h0m0s away", false},
		"tampered signature":   {tampered, "the signature does not verify with key \"k1\"", false},
		"alg none":             {noneJWT, "invalid bearer JWT", false},
		"HS256 confusion":      {hsJWT, "invalid bearer JWT", false},
		"signed by a stranger": {newRSAKey(t, "k1").sign(t, "k1", claims(nil)), "the signature does not verify", false},
		"a key for another alg": {func() string {
			// k1 is published for RS256; a PS256 JWT under its kid is refused.
			k := k1
			k.alg = jose.PS256
			return k.sign(t, "k1", claims(nil))
		}(), "is for RS256, the JWT says PS256", false},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.doAuth("GET", "/Users", "", "Bearer "+tc.token)
			wantSCIMError(t, r, 401, "")
			if d := r.str("detail"); !strings.Contains(d, tc.detail) {
				t.Errorf("detail = %q, want %q in it", d, tc.detail)
			}
			if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) || strings.Contains(h, "expired") != tc.expired {
				t.Errorf("WWW-Authenticate = %q", h)
			}
		})
	}
	if n := jwks.count(); n != 1 {
		t.Errorf("the refused JWTs fetched the JWK Set %d more times, want none", n-1)
	}

	// An unknown key ID, while the set is fresh: refused without a fetch.
	unknown := k2.sign(t, "k2", claims(nil))
	wantSCIMError(t, e.doAuth("GET", "/Users", "", "Bearer "+unknown), 401, "")
	if n := jwks.count(); n != 1 {
		t.Errorf("an unknown kid within %s of the fetch fetched again (%d)", federation.RefreshEvery, n)
	}
	// The issuer rotates to k2; once the set is older than RefreshEvery,
	// the unknown kid is fetched again, once, and found.
	jwks.set(k1.public, k2.public)
	e.clock.advance(federation.RefreshEvery + time.Minute)
	e.must(e.doAuth("GET", "/Users", "", "Bearer "+k2.sign(t, "k2", claims(nil))), 200)
	if n := jwks.count(); n != 2 {
		t.Errorf("fetches after a rotation: %d, want 2", n)
	}
	// A kid the issuer does not have: the refresh it may cause is spent,
	// so it is refused without another fetch.
	for range 3 {
		r := e.doAuth("GET", "/Users", "", "Bearer "+k2.sign(t, "k9", claims(nil)))
		wantSCIMError(t, r, 401, "")
		if d := r.str("detail"); !strings.Contains(d, `the issuer has no key "k9"`) {
			t.Errorf("unknown kid detail = %q", d)
		}
	}
	if n := jwks.count(); n != 2 {
		t.Errorf("fetches after three unknown kids: %d, want still 2", n)
	}
	e.clock.advance(federation.RefreshEvery + time.Minute)
	wantSCIMError(t, e.doAuth("GET", "/Users", "", "Bearer "+k2.sign(t, "k9", claims(nil))), 401, "")
	if n := jwks.count(); n != 3 {
		t.Errorf("an unknown kid once the set is old: %d fetches, want 3 (refreshed once)", n)
	}

	// A disabled provider's JWTs get 403.
	if _, err := dir.DisableProvider(ctx, "entra"); err != nil {
		t.Fatal(err)
	}
	wantSCIMError(t, e.doAuth("GET", "/Users", "", "Bearer "+k1.sign(t, "k1", claims(nil))), 403, "")
	if logs := e.logs.String(); strings.Contains(logs, valid) {
		t.Error("a JWT reached the server log")
	}
}

// TestJWTFederationInlineJWKS: a JWK Set given to kacescim itself (a
// file the administrator has), checked when it is set.
func TestJWTFederationInlineJWKS(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	dir := e.srv.Directory()
	k := newECKey(t, "only")
	doc, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.public}})
	if _, _, err := dir.AddProvider(ctx, "entra", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dir.SetFederation(ctx, "entra", directory.Federation{Issuer: "https://iss.example", Audience: "aud", JWKS: doc}); err != nil {
		t.Fatal(err)
	}
	now := e.clock.peek()
	tok := k.sign(t, "", jwt.Claims{Issuer: "https://iss.example", Audience: jwt.Audience{"aud", "other"}, Expiry: jwt.NewNumericDate(now.Add(time.Hour))})
	e.must(e.doAuth("GET", "/Users", "", "Bearer "+tok), 200)
	for _, bad := range []directory.Federation{
		{Issuer: "https://iss.example", Audience: "aud"},
		{Issuer: "https://iss.example", Audience: "aud", JWKS: doc, JWKSURL: "https://x.example/keys"},
		{Issuer: "", Audience: "aud", JWKS: doc},
		{Issuer: "https://iss.example", Audience: "aud", JWKSURL: "http://keys.example.com/jwks"},
	} {
		if _, _, err := dir.SetFederation(ctx, "entra", bad); directory.ErrorCode(err) != directory.EINVALID {
			t.Errorf("SetFederation(%+v) = %v, want EINVALID", bad, err)
		}
	}
	if err := federation.CheckJWKS([]byte(`{"keys":[]}`)); err == nil {
		t.Error("an empty JWK Set passed the check")
	}
	if err := federation.CheckJWKS(doc); err != nil {
		t.Errorf("a JWK Set with one EC key: %v", err)
	}
}

// TestJWTFederationOverlap: two providers may not take the same JWT;
// settings that would are refused when made, and should two be stored
// anyway the JWT is refused rather than given to either.
func TestJWTFederationOverlap(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	dir := e.srv.Directory()
	k := newECKey(t, "k")
	doc, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.public}})
	for _, name := range []string{"catchall", "payroll", "sales"} {
		if _, _, err := dir.AddProvider(ctx, name, true); err != nil {
			t.Fatal(err)
		}
	}
	const iss, aud = "https://login.example.com/t/v2.0", "api://kacescim"
	if _, _, err := dir.SetFederation(ctx, "catchall", directory.Federation{Issuer: iss, Audience: aud, JWKS: doc}); err != nil {
		t.Fatal(err)
	}
	_, _, err := dir.SetFederation(ctx, "payroll", directory.Federation{Issuer: iss, Audience: aud, Subject: "payroll-sp", JWKS: doc})
	if directory.ErrorCode(err) != directory.ECONFLICT || !strings.Contains(directory.ErrorMessage(err), "provider catchall already trusts") {
		t.Fatalf("an overlapping federation: %v, want ECONFLICT naming catchall", err)
	}
	// Distinct subjects do not overlap.
	if _, _, err := dir.SetFederation(ctx, "catchall", directory.Federation{Issuer: iss, Audience: aud, Subject: "catchall-sp", JWKS: doc}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dir.SetFederation(ctx, "payroll", directory.Federation{Issuer: iss, Audience: aud, Subject: "payroll-sp", JWKS: doc}); err != nil {
		t.Fatal(err)
	}
	now := e.clock.peek()
	payrollJWT := k.sign(t, "k", jwt.Claims{Issuer: iss, Audience: jwt.Audience{aud}, Subject: "payroll-sp", Expiry: jwt.NewNumericDate(now.Add(time.Hour))})
	e.must(e.doAuth("POST", "/Users", userBody("payroll.user@example.com"), "Bearer "+payrollJWT), 201)
	p, err := dir.Provider(ctx, "payroll")
	if err != nil || p.SyncedUsers != 1 {
		t.Fatalf("payroll's JWT did not provision payroll: %+v, %v", p, err)
	}
	// Stored overlapping anyway (as two admin calls at once could): the
	// JWT is nobody's.
	sales, _ := dir.Provider(ctx, "sales")
	if err := dir.Store.SaveFederation(ctx, &directory.Federation{ProviderID: sales.ID, Issuer: iss, Audience: aud, JWKS: doc, Updated: now}); err != nil {
		t.Fatal(err)
	}
	r := e.doAuth("GET", "/Users", "", "Bearer "+payrollJWT)
	wantSCIMError(t, r, 401, "")
	if d := r.str("detail"); !strings.Contains(d, "several providers trust its issuer, audience and subject") {
		t.Errorf("ambiguous JWT detail = %q", d)
	}
	for url, ok := range map[string]bool{
		"http://127.0.0.1:9/keys": true, "http://[::1]:9/keys": true, "http://localhost:9/keys": true,
		"http://127.attacker.example/keys": false, "http://127.0.0.1.nip.io/keys": false,
	} {
		_, _, err := dir.SetFederation(ctx, "sales", directory.Federation{Issuer: "https://other.example", Audience: "a", JWKSURL: url})
		if (err == nil) != ok {
			t.Errorf("JWKS URL %s: %v, want accepted %v", url, err, ok)
		}
	}
}

// TestJWKSOutage: while the issuer's keys cannot be fetched, JWTs get 503
// with a detail that names no URL, and the fetch is not tried again for
// every JWT; a set fetched before is used through a failed refresh.
func TestJWKSOutage(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	dir := e.srv.Directory()
	k := newECKey(t, "k")
	var mu sync.Mutex
	down, fetches := true, 0
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		if down {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.public}})
	}))
	t.Cleanup(jwks.Close)
	if _, _, err := dir.AddProvider(ctx, "entra", true); err != nil {
		t.Fatal(err)
	}
	const iss, aud = "https://login.example.com/t/v2.0", "api://kacescim"
	if _, _, err := dir.SetFederation(ctx, "entra", directory.Federation{Issuer: iss, Audience: aud, JWKSURL: jwks.URL}); err != nil {
		t.Fatal(err)
	}
	sign := func() string {
		return k.sign(t, "k", jwt.Claims{Issuer: iss, Audience: jwt.Audience{aud}, Expiry: jwt.NewNumericDate(e.clock.peek().Add(time.Hour))})
	}
	for range 3 {
		r := e.doAuth("GET", "/Users", "", "Bearer "+sign())
		wantSCIMError(t, r, 503, "")
		if d := r.str("detail"); d != "the identity provider's keys cannot be fetched for now; try again" || strings.Contains(d, "127.0.0.1") {
			t.Errorf("outage detail = %q", d)
		}
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
	mu.Lock()
	if fetches != 1 {
		t.Errorf("%d fetches for three JWTs during the outage, want 1", fetches)
	}
	down = false
	mu.Unlock()
	e.clock.advance(federation.RetryFailedAfter + time.Second)
	e.must(e.doAuth("GET", "/Users", "", "Bearer "+sign()), 200)
	// An hour later the refresh fails: the set fetched before still works.
	mu.Lock()
	down = true
	mu.Unlock()
	e.clock.advance(federation.CacheFor + time.Minute)
	e.must(e.doAuth("GET", "/Users", "", "Bearer "+sign()), 200)
}
