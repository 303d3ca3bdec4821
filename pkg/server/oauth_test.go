package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

// tokenAnswer is what the token endpoint answered.
type tokenAnswer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// postToken sends a token request: form as the body, basic (id, secret)
// as HTTP Basic when not nil.
func (e *scimEnv) postToken(form url.Values, basic []string, contentType string) tokenAnswer {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.http.URL+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if basic != nil {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var a tokenAnswer
	a.status, a.header = res.StatusCode, res.Header
	var raw strings.Builder
	var body map[string]any
	dec := json.NewDecoder(res.Body)
	if err := dec.Decode(&body); err != nil {
		e.t.Fatalf("token endpoint answered %d with a body that is not JSON: %v", res.StatusCode, err)
	}
	b, _ := json.Marshal(body)
	raw.Write(b)
	a.body, a.raw = body, raw.String()
	return a
}

const formType = "application/x-www-form-urlencoded"

func wantOAuthError(t *testing.T, a tokenAnswer, status int, code string) {
	t.Helper()
	if a.status != status || a.body["error"] != code || a.body["error_description"] == "" {
		t.Errorf("got %d %s, want %d error %q with a description", a.status, a.raw, status, code)
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("an error answer without Cache-Control: no-store")
	}
}

// TestOAuthClientCredentials is Microsoft Entra ID's flow: a client ID
// and secret get an access token from the token endpoint (HTTP Basic or
// the form body), the token authenticates SCIM requests, and every way it
// can go wrong answers as RFC 6749 §5.2 says; the token expires, and
// revoking its secret or disabling the provider ends it.
func TestOAuthClientCredentials(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	dir := e.srv.Directory()
	if _, _, err := dir.AddProvider(ctx, "entra", true); err != nil {
		t.Fatal(err)
	}
	_, client, secret, err := dir.AddSecret(ctx, "entra", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(client.ClientID, directory.ClientIDPrefix) || !strings.HasPrefix(secret, directory.SecretPrefix) ||
		len(client.Secrets) != 1 || !client.Secrets[0].Expires.After(e.clock.peek().Add(364*24*time.Hour)) {
		t.Fatalf("client %+v, secret %q", client, secret)
	}
	grant := url.Values{"grant_type": {"client_credentials"}}

	a := e.postToken(grant, []string{client.ClientID, secret}, formType)
	if a.status != 200 || a.body["token_type"] != "Bearer" || a.body["expires_in"] != 3600.0 || a.header.Get("Cache-Control") != "no-store" ||
		a.header.Get("Pragma") != "no-cache" {
		t.Fatalf("client_secret_basic: %d %v %s", a.status, a.header, a.raw)
	}
	token, _ := a.body["access_token"].(string)
	if !strings.HasPrefix(token, directory.TokenPrefix) {
		t.Fatalf("access token %q", token)
	}
	post := url.Values{"grant_type": {"client_credentials"}, "client_id": {client.ClientID}, "client_secret": {secret}, "scope": {"scim"}}
	if a := e.postToken(post, nil, formType); a.status != 200 || a.body["access_token"] == token {
		t.Fatalf("client_secret_post: %d %s", a.status, a.raw)
	}

	// The token is a bearer credential of provider entra.
	r := e.doAuth("POST", "/Users", userBody("entra.user@example.com"), "Bearer "+token)
	e.must(r, 201)
	id := r.str("id")
	if r := e.must(e.doAuth("GET", "/Users", "", "Bearer "+token), 200); r.get("totalResults") != 1.0 {
		t.Errorf("entra sees %v users, want its own one", r.get("totalResults"))
	}
	if r := e.must(e.do("GET", "/Users", ""), 200); r.get("totalResults") != 0.0 {
		t.Errorf("okta sees entra's user: %v", r.get("totalResults"))
	}

	// What goes wrong, and its answer.
	for name, tc := range map[string]struct {
		form   url.Values
		basic  []string
		ctype  string
		status int
		code   string
	}{
		"wrong secret":       {grant, []string{client.ClientID, secret + "x"}, formType, 401, "invalid_client"},
		"unknown client":     {grant, []string{"kcc_nobody", secret}, formType, 401, "invalid_client"},
		"no credentials":     {grant, nil, formType, 401, "invalid_client"},
		"password grant":     {url.Values{"grant_type": {"password"}}, []string{client.ClientID, secret}, formType, 400, "unsupported_grant_type"},
		"no grant type":      {url.Values{}, []string{client.ClientID, secret}, formType, 400, "invalid_request"},
		"a JSON body":        {grant, []string{client.ClientID, secret}, "application/json", 400, "invalid_request"},
		"both methods":       {post, []string{client.ClientID, secret}, formType, 400, "invalid_request"},
		"repeated parameter": {url.Values{"grant_type": {"client_credentials", "client_credentials"}}, []string{client.ClientID, secret}, formType, 400, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			a := e.postToken(tc.form, tc.basic, tc.ctype)
			wantOAuthError(t, a, tc.status, tc.code)
			if tc.status == 401 && a.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if strings.Contains(a.raw, secret) {
				t.Error("the answer echoes the secret")
			}
		})
	}
	// An unknown client and a wrong secret are told alike.
	a1 := e.postToken(grant, []string{client.ClientID, "kcsecret_wrong"}, formType)
	a2 := e.postToken(grant, []string{"kcc_nobody", secret}, formType)
	if a1.raw != a2.raw {
		t.Errorf("a wrong secret (%s) and an unknown client (%s) answer differently", a1.raw, a2.raw)
	}
	if res, err := http.Get(e.http.URL + "/oauth/token"); err != nil || res.StatusCode != 405 || res.Header.Get("Allow") != "POST" {
		t.Errorf("GET /oauth/token: %v %v", res, err)
	}

	// The token expires: 401 with invalid_token, saying so.
	e.clock.advance(61 * time.Minute)
	r = e.doAuth("GET", "/Users/"+id, "", "Bearer "+token)
	wantSCIMError(t, r, 401, "")
	if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
		t.Errorf("expired token: WWW-Authenticate = %q", h)
	}
	if d := r.str("detail"); !strings.Contains(d, "access token of provider entra expired at") {
		t.Errorf("expired token detail = %q", d)
	}

	// A second secret; revoking the first ends the tokens it got, not
	// the second's; a third live secret is refused.
	a = e.postToken(grant, []string{client.ClientID, secret}, formType)
	first, _ := a.body["access_token"].(string)
	_, client, second, err := dir.AddSecret(ctx, "entra", 730*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := dir.AddSecret(ctx, "entra", 0); directory.ErrorCode(err) != directory.ECONFLICT {
		t.Errorf("a third secret: %v, want ECONFLICT", err)
	}
	a = e.postToken(grant, []string{client.ClientID, second}, formType)
	other, _ := a.body["access_token"].(string)
	e.must(e.doAuth("GET", "/Users/"+id, "", "Bearer "+first), 200)
	if _, _, err := dir.RevokeSecret(ctx, "entra", client.Secrets[0].ID); err != nil {
		t.Fatal(err)
	}
	wantSCIMError(t, e.doAuth("GET", "/Users/"+id, "", "Bearer "+first), 401, "")
	wantOAuthError(t, e.postToken(grant, []string{client.ClientID, secret}, formType), 401, "invalid_client")
	e.must(e.doAuth("GET", "/Users/"+id, "", "Bearer "+other), 200)

	// Disabling the provider ends its tokens; its secret gets none.
	if _, err := dir.DisableProvider(ctx, "entra"); err != nil {
		t.Fatal(err)
	}
	wantSCIMError(t, e.doAuth("GET", "/Users/"+id, "", "Bearer "+other), 401, "")
	wantOAuthError(t, e.postToken(grant, []string{client.ClientID, second}, formType), 400, "unauthorized_client")
	if _, _, err := dir.EnableProvider(ctx, "entra"); err != nil {
		t.Fatal(err)
	}
	a = e.postToken(grant, []string{client.ClientID, second}, formType)
	if a.status != 200 {
		t.Fatalf("after enable: %d %s", a.status, a.raw)
	}

	// An expired secret gets no token, and is told why.
	e.clock.advance(731 * 24 * time.Hour)
	a = e.postToken(grant, []string{client.ClientID, second}, formType)
	wantOAuthError(t, a, 401, "invalid_client")
	if d, _ := a.body["error_description"].(string); !strings.Contains(d, "expired at") {
		t.Errorf("expired secret: %s", a.raw)
	}

	if logs := e.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, second) || strings.Contains(logs, token) || strings.Contains(logs, other) {
		t.Error("a secret or a token reached the server log")
	}

	// The provisioning log shows the token requests under the provider:
	// issued (200) and refused for the expired secret (401), the
	// disabled provider's (400); of an unknown client only the first
	// failure of its address.
	entries, err := dir.Log(ctx, "entra", directory.LogQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	byStatus := map[int]int{}
	for _, en := range entries {
		if en.Path == "/oauth/token" {
			byStatus[en.Status]++
			if strings.Contains(en.Error, secret) || strings.Contains(en.Error, second) {
				t.Error("a secret in the provisioning log")
			}
		}
	}
	if byStatus[200] < 5 || byStatus[401] != 1 || byStatus[400] != 1 {
		t.Errorf("token requests logged under entra by status: %v", byStatus)
	}
	all, err := dir.Log(ctx, "", directory.LogQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	unknown := 0
	for _, en := range all {
		if en.Path == "/oauth/token" && en.ProviderID == "" {
			unknown++
		}
	}
	if unknown > 3 {
		t.Errorf("%d provisioning-log rows of unknown clients' token requests, want at most the first failure of the window", unknown)
	}
}

// TestTokenEndpointThrottled: wrong secrets from one address are
// answered 429 with Retry-After once past the failed-authentication
// budget, as SCIM's are.
func TestTokenEndpointThrottled(t *testing.T) {
	e := newSCIMEnv(t)
	ctx := context.Background()
	dir := e.srv.Directory()
	if _, _, err := dir.AddProvider(ctx, "entra", true); err != nil {
		t.Fatal(err)
	}
	_, client, secret, err := dir.AddSecret(ctx, "entra", 0)
	if err != nil {
		t.Fatal(err)
	}
	grant := url.Values{"grant_type": {"client_credentials"}}
	// Entra gets a token before the attack from its address starts.
	if a := e.postToken(grant, []string{client.ClientID, secret}, formType); a.status != 200 {
		t.Fatalf("before the attack: %d %s", a.status, a.raw)
	}
	var last tokenAnswer
	for range 80 {
		if last = e.postToken(grant, []string{"kcc_guess", "kcsecret_guess"}, formType); last.status == 429 {
			break
		}
	}
	wantOAuthError(t, last, 429, "slow_down")
	if last.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The address is throttled, but credentials that got a token lately
	// still get one, and that new token is served at once.
	a := e.postToken(grant, []string{client.ClientID, secret}, formType)
	if a.status != 200 {
		t.Fatalf("the known client from the throttled address: %d %s", a.status, a.raw)
	}
	token, _ := a.body["access_token"].(string)
	e.must(e.doAuth("GET", "/Users", "", "Bearer "+token), 200)
	// A guess is still refused.
	wantOAuthError(t, e.postToken(grant, []string{client.ClientID, "kcsecret_guess"}, formType), 429, "slow_down")
}
