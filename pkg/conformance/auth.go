package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The auth suite checks the credentials of 2026 identity providers: the
// OAuth 2.0 token endpoint Microsoft Entra ID trades a client ID and
// secret at (RFC 6749 §4.4, §5.2), and, with a server whose credentials
// the run can manage (Options.Credentials: kacescim's admin API), key
// rotation with a grace period, key expiry and secret revocation, on a
// throw-away provider of its own.
const (
	checkAuthTokenIssued   = "Token endpoint: client credentials get a Bearer access token with expires_in"
	checkAuthTokenWorks    = "Token endpoint: the access token authenticates SCIM requests"
	checkAuthWrongSecret   = "Token endpoint: a wrong client secret is 401 invalid_client"
	checkAuthUnknownClient = "Token endpoint: an unknown client is answered as a wrong secret"
	checkAuthBadGrant      = "Token endpoint: grant_type=password is 400 unsupported_grant_type"
	checkAuthNoGrant       = "Token endpoint: a request without grant_type is 400 invalid_request"
	checkAuthNoStore       = "Token endpoint: answers are Cache-Control: no-store"
	checkAuthGrace         = "Rotated key: the replaced key keeps working beside the new one during the grace period"
	checkAuthGraceOver     = "Rotated key: the replaced key is refused (401) once the grace period ends"
	checkAuthExpiredKey    = "Expired key: a key past its expiry is 401 with error=\"invalid_token\""
	checkAuthRevoked       = "Revoked secret: the access tokens it got are refused at once"
)

const (
	sourceOAuth      = "RFC 6749 §4.4, §5.1, §5.2"
	sourceBearer     = "RFC 6750 §3.1"
	sourceRotation   = "Microsoft Entra ID app gallery (2026); WorkOS/Stytch key rotation"
	reasonNoOAuth    = "needs an OAuth client: --oauth-token-url, --client-id and --client-secret, or admin access to a kacescim server"
	reasonNoCredCtl  = "needs admin access to a kacescim server (--admin-url and --admin-token), to rotate and revoke a throw-away provider's credentials"
	authGraceForTest = 2 * time.Second
)

var authSuite = &goSuite{
	name: "auth",
	checks: []goCheck{
		{checkAuthTokenIssued, SeverityMust, sourceOAuth},
		{checkAuthTokenWorks, SeverityMust, sourceOAuth},
		{checkAuthWrongSecret, SeverityMust, sourceOAuth},
		{checkAuthUnknownClient, SeverityShould, "RFC 6749 §10.x (no client enumeration)"},
		{checkAuthBadGrant, SeverityMust, sourceOAuth},
		{checkAuthNoGrant, SeverityMust, sourceOAuth},
		{checkAuthNoStore, SeverityMust, "RFC 6749 §5.1"},
		{checkAuthGrace, SeverityMust, sourceRotation},
		{checkAuthGraceOver, SeverityMust, sourceRotation},
		{checkAuthExpiredKey, SeverityShould, sourceBearer},
		{checkAuthRevoked, SeverityMust, sourceRotation},
	},
	run: runAuth,
}

// OAuthClient is an OAuth client of the server under test.
type OAuthClient struct {
	TokenURL, ClientID, ClientSecret string
}

// Credentials manages the credentials of a server's providers, for the
// auth suite (kacescim's admin API implements it).
type Credentials interface {
	// NewProvider makes a throw-away enabled provider and returns it.
	NewProvider(ctx context.Context) (CredentialProvider, error)
}

// CredentialProvider is a throw-away provider of the auth suite.
type CredentialProvider interface {
	// Key is its current security key.
	Key() string
	// RotateKey gives it a new key that expires after expires (0:
	// never), keeping the replaced keys for grace (0: dead at once).
	RotateKey(ctx context.Context, grace, expires time.Duration) (string, error)
	// AddSecret gives it a client secret; secretID names it for
	// RevokeSecret.
	AddSecret(ctx context.Context) (c OAuthClient, secretID string, err error)
	// RevokeSecret removes the secret and the tokens it got.
	RevokeSecret(ctx context.Context, secretID string) error
	// Close removes the provider.
	Close(ctx context.Context) error
}

func runAuth(ctx context.Context, g *goRun) {
	var prov CredentialProvider
	if g.opts.Credentials != nil {
		p, err := g.opts.Credentials.NewProvider(ctx)
		if err != nil {
			g.failAll("making the throw-away provider of the auth suite: " + g.red.Redact(err.Error()))
			return
		}
		prov = p
		g.red.Add(p.Key())
		defer func() {
			if err := prov.Close(context.WithoutCancel(ctx)); err != nil {
				g.mu.Lock()
				g.leftText = append(g.leftText, "auth: the throw-away provider: "+g.red.Redact(err.Error()))
				g.mu.Unlock()
			}
		}()
	}
	oauth, secretID := g.opts.OAuth, ""
	if prov != nil {
		c, id, err := prov.AddSecret(ctx)
		if err != nil {
			g.failAll("giving the throw-away provider a client secret: " + g.red.Redact(err.Error()))
			return
		}
		g.red.Add(c.ClientSecret)
		oauth, secretID = &c, id
	}
	token := ""
	if oauth == nil {
		for _, n := range []string{checkAuthTokenIssued, checkAuthTokenWorks, checkAuthWrongSecret, checkAuthUnknownClient, checkAuthBadGrant, checkAuthNoGrant, checkAuthNoStore, checkAuthRevoked} {
			if g.wanted(n) {
				g.skip(n, reasonNoOAuth)
			}
		}
	} else {
		token = g.authTokenEndpoint(ctx, oauth)
	}
	if prov == nil {
		for _, n := range []string{checkAuthGrace, checkAuthGraceOver, checkAuthExpiredKey} {
			if g.wanted(n) {
				g.skip(n, reasonNoCredCtl)
			}
		}
		if g.wanted(checkAuthRevoked) && oauth != nil {
			g.skip(checkAuthRevoked, reasonNoCredCtl)
		}
		return
	}
	g.authRevoked(ctx, prov, token, secretID)
	g.authRotation(ctx, prov)
}

// tokenAnswer is what a token endpoint answered.
type tokenAnswer struct {
	status int
	header http.Header
	body   map[string]any
	err    error
}

func (a tokenAnswer) describe() string {
	if a.err != nil {
		return "no answer: " + a.err.Error()
	}
	b, _ := json.Marshal(a.body)
	return fmt.Sprintf("HTTP %d %s", a.status, shorten(string(b)))
}

// postToken sends a token request with form, the client authenticating
// with HTTP Basic.
func (g *goRun) postToken(ctx context.Context, tokenURL string, form url.Values, id, secret string) tokenAnswer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return tokenAnswer{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	res, err := (&http.Client{Transport: g.transport, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return tokenAnswer{err: fmt.Errorf("%s", g.red.Redact(err.Error()))}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	a := tokenAnswer{status: res.StatusCode, header: res.Header}
	_ = json.Unmarshal(raw, &a.body)
	if tok, _ := a.body["access_token"].(string); tok != "" {
		g.red.Add(tok)
	}
	return a
}

// authTokenEndpoint runs the token endpoint's checks and returns the
// access token it got ("" if none).
func (g *goRun) authTokenEndpoint(ctx context.Context, o *OAuthClient) string {
	grant := url.Values{"grant_type": {"client_credentials"}}
	ok := g.postToken(ctx, o.TokenURL, grant, o.ClientID, o.ClientSecret)
	token, _ := ok.body["access_token"].(string)
	if g.wanted(checkAuthTokenIssued) {
		c := g.check(checkAuthTokenIssued)
		typ, _ := ok.body["token_type"].(string)
		exp, _ := ok.body["expires_in"].(float64)
		if ok.status != http.StatusOK || token == "" || !strings.EqualFold(typ, "Bearer") || exp <= 0 {
			c.Failures = append(c.Failures, "want 200 with access_token, token_type Bearer and a positive expires_in; got "+ok.describe())
		}
		g.add(c)
	}
	if g.wanted(checkAuthTokenWorks) {
		c := g.check(checkAuthTokenWorks)
		if token == "" {
			c.Failures = append(c.Failures, "no access token to try: "+ok.describe())
		} else if x := g.do(ctx, token, http.MethodGet, "/Users?count=1", nil); x.status != http.StatusOK {
			c.Failures = append(c.Failures, "GET /Users with the access token: "+x.describe())
		}
		g.add(c)
	}
	wrong := g.postToken(ctx, o.TokenURL, grant, o.ClientID, o.ClientSecret+"x")
	if g.wanted(checkAuthWrongSecret) {
		c := g.check(checkAuthWrongSecret)
		if wrong.status != http.StatusUnauthorized || wrong.body["error"] != "invalid_client" {
			c.Failures = append(c.Failures, "want 401 with error invalid_client; got "+wrong.describe())
		}
		g.add(c)
	}
	if g.wanted(checkAuthUnknownClient) {
		c := g.check(checkAuthUnknownClient)
		unknown := g.postToken(ctx, o.TokenURL, grant, o.ClientID+"-unknown", o.ClientSecret)
		if unknown.status != wrong.status || unknown.body["error"] != wrong.body["error"] || unknown.body["error_description"] != wrong.body["error_description"] {
			c.Failures = append(c.Failures, fmt.Sprintf("an unknown client (%s) and a wrong secret (%s) are told apart: an attacker can find client IDs", unknown.describe(), wrong.describe()))
		}
		g.add(c)
	}
	for _, tc := range []struct {
		name, code string
		form       url.Values
	}{
		{checkAuthBadGrant, "unsupported_grant_type", url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}},
		{checkAuthNoGrant, "invalid_request", url.Values{}},
	} {
		if !g.wanted(tc.name) {
			continue
		}
		c := g.check(tc.name)
		if a := g.postToken(ctx, o.TokenURL, tc.form, o.ClientID, o.ClientSecret); a.status != http.StatusBadRequest || a.body["error"] != tc.code {
			c.Failures = append(c.Failures, fmt.Sprintf("want 400 with error %s; got %s", tc.code, a.describe()))
		}
		g.add(c)
	}
	if g.wanted(checkAuthNoStore) {
		c := g.check(checkAuthNoStore)
		for _, a := range []tokenAnswer{ok, wrong} {
			if a.err == nil && !strings.Contains(strings.ToLower(a.header.Get("Cache-Control")), "no-store") {
				c.Failures = append(c.Failures, fmt.Sprintf("HTTP %d answer with Cache-Control %q", a.status, a.header.Get("Cache-Control")))
			}
		}
		g.add(c)
	}
	return token
}

// authRevoked revokes the secret that got token and checks the token
// stops working.
func (g *goRun) authRevoked(ctx context.Context, prov CredentialProvider, token, secretID string) {
	if !g.wanted(checkAuthRevoked) {
		return
	}
	c := g.check(checkAuthRevoked)
	switch {
	case token == "":
		c.Failures = append(c.Failures, "no access token to revoke (see the token endpoint's checks)")
	default:
		if err := prov.RevokeSecret(ctx, secretID); err != nil {
			c.Failures = append(c.Failures, "revoking the secret: "+err.Error())
		} else if x := g.do(ctx, token, http.MethodGet, "/Users?count=1", nil); x.status != http.StatusUnauthorized {
			c.Failures = append(c.Failures, "the token of a revoked secret: want 401, got "+x.describe())
		}
	}
	g.add(c)
}

// authRotation rotates the throw-away provider's key with a short grace
// period, then with none and a short lifetime, waiting each out.
func (g *goRun) authRotation(ctx context.Context, prov CredentialProvider) {
	old := prov.Key()
	next, err := prov.RotateKey(ctx, authGraceForTest, 0)
	if err != nil {
		g.failAll2([]string{checkAuthGrace, checkAuthGraceOver, checkAuthExpiredKey}, "rotating the key: "+g.red.Redact(err.Error()))
		return
	}
	g.red.Add(next)
	rotated := time.Now()
	if g.wanted(checkAuthGrace) {
		c := g.check(checkAuthGrace)
		for _, k := range []struct{ what, key string }{{"the replaced key", old}, {"the new key", next}} {
			if x := g.do(ctx, k.key, http.MethodGet, "/Users?count=1", nil); x.status != http.StatusOK {
				c.Failures = append(c.Failures, k.what+" during the grace period: "+x.describe())
			}
		}
		g.add(c)
	}
	if !sleepCtx(ctx, authGraceForTest+500*time.Millisecond-time.Since(rotated)) {
		return
	}
	if g.wanted(checkAuthGraceOver) {
		c := g.check(checkAuthGraceOver)
		if x := g.do(ctx, old, http.MethodGet, "/Users?count=1", nil); x.status != http.StatusUnauthorized {
			c.Failures = append(c.Failures, "the replaced key after its grace period: want 401, got "+x.describe())
		}
		if x := g.do(ctx, next, http.MethodGet, "/Users?count=1", nil); x.status != http.StatusOK {
			c.Failures = append(c.Failures, "the new key: "+x.describe())
		}
		g.add(c)
	}
	if !g.wanted(checkAuthExpiredKey) {
		return
	}
	c := g.check(checkAuthExpiredKey)
	short, err := prov.RotateKey(ctx, 0, authGraceForTest)
	if err != nil {
		c.Failures = append(c.Failures, "rotating to a key with a lifetime: "+g.red.Redact(err.Error()))
		g.add(c)
		return
	}
	g.red.Add(short)
	made := time.Now()
	if x := g.do(ctx, short, http.MethodGet, "/Users?count=1", nil); x.status != http.StatusOK {
		c.Failures = append(c.Failures, "the key before it expires: "+x.describe())
	}
	if !sleepCtx(ctx, authGraceForTest+500*time.Millisecond-time.Since(made)) {
		return
	}
	x := g.do(ctx, short, http.MethodGet, "/Users?count=1", nil)
	if x.status != http.StatusUnauthorized {
		c.Failures = append(c.Failures, "the key after it expired: want 401, got "+x.describe())
	} else if h := x.header().Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
		c.Failures = append(c.Failures, fmt.Sprintf("WWW-Authenticate %q has no error=\"invalid_token\" (RFC 6750 §3.1)", h))
	}
	g.add(c)
}

// failAll2 fails the named checks (those wanted) with why.
func (g *goRun) failAll2(names []string, why string) {
	for _, n := range names {
		if g.wanted(n) {
			c := g.check(n)
			c.Failures = []string{why}
			g.add(c)
		}
	}
}

// sleepCtx waits d, or until ctx ends (false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
