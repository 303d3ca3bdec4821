package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance"
)

// adminAccess says which admin API makes the throw-away provider; explicit
// is false when it was found on this machine rather than given.
type adminAccess struct {
	url, token string
	explicit   bool
}

// admin returns the admin API to use, or nil for none.
func (r *testRun) admin() (*adminAccess, error) {
	if r.NoAdmin {
		return nil, nil
	}
	if r.Runscope != "" && r.Key != "" {
		// The export tests the provider of --key; a throw-away provider is
		// only made when there is no key.
		return nil, nil
	}
	origin := r.origin()
	if r.AdminURL != "" || r.AdminToken != "" {
		a := &adminAccess{url: strings.TrimRight(r.AdminURL, "/"), token: r.AdminToken, explicit: true}
		if a.url == "" {
			a.url = origin
		}
		if a.token == "" {
			token, err := r.g.adminToken()
			if err != nil {
				return nil, usageErr("--admin-url needs --admin-token (or KACESCIM_ADMIN_TOKEN): " + err.Error())
			}
			a.token = token
			r.red.Add(token)
		}
		if u, err := url.Parse(a.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageErr(fmt.Sprintf("--admin-url %q: give the kacescim server's URL, e.g. https://kacescim.internal", a.url))
		}
		return a, nil
	}
	if !r.loopback() {
		return nil, nil
	}
	token, err := r.g.adminToken()
	if err != nil {
		return nil, nil // not a kacescim of ours: no mapping outcomes
	}
	r.red.Add(token)
	return &adminAccess{url: origin, token: token}, nil
}

// origin is the scheme and host of the base URL: where kacescim serves its
// admin API too.
func (r *testRun) origin() string {
	u, _ := url.Parse(r.base)
	return u.Scheme + "://" + u.Host
}

func (r *testRun) loopback() bool {
	u, err := url.Parse(r.base)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fixture creates the throw-away provider when there is admin access.
func (r *testRun) fixture(ctx context.Context) (*conformance.Fixture, error) {
	a, err := r.admin()
	if err != nil || a == nil {
		return nil, err
	}
	// A --key the server refuses would otherwise go unnoticed: the run
	// uses the throw-away provider's key, and passes.
	refusedKey := 0
	if r.Key != "" && r.Runscope == "" {
		resp, err := client.NewSCIM(r.base, r.Key, r.copts...).Do(ctx, http.MethodGet, "/Users?startIndex=1&count=1", nil)
		if err == nil && (resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden) {
			refusedKey = resp.Status
		}
	}
	admin := client.NewAdmin(a.url, a.token, r.adminOptions()...)
	name := "kacescim-test-" + randomSuffix()
	fx, err := conformance.NewFixture(ctx, admin, name)
	if err == nil {
		switch {
		case refusedKey != 0:
			r.note("Warning: %s refused your --key (HTTP %d). This run tests throw-away provider %s instead, and says nothing of that key: fix the key, or pass --no-admin to test it alone.",
				r.base, refusedKey, name)
		case r.OAuthTokenURL != "":
			r.note("Mapping outcomes: testing throw-away provider %s with the suggested mappings, not the provider of --client-id (--no-admin to test that one).", name)
		case r.Key != "" && r.Runscope == "":
			r.note("Mapping outcomes: testing throw-away provider %s with the suggested mappings, not the provider of --key (--no-admin to test that one).", name)
		default:
			r.note("Mapping outcomes: testing throw-away provider %s with the suggested mappings.", name)
		}
		return fx, nil
	}
	var unreachable *client.UnreachableError
	var apiErr *client.Error
	refused := errors.As(err, &unreachable) || errors.As(err, &apiErr) && (apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden || apiErr.Status == http.StatusNotFound)
	switch {
	case !a.explicit:
		r.note("No mapping outcomes: the admin API at %s did not answer (%v); give --admin-url and --admin-token, or --no-admin.", a.url, r.redact(err.Error()))
		return nil, nil
	case refused:
		r.note("Error: the admin API at %s: %v", a.url, r.redact(err.Error()))
		r.note("Check --admin-url (the kacescim server, without /admin/v1) and --admin-token (the admin-token file of its data directory), or drop them.")
		return nil, &exitStatusError{code: exitUsage}
	default:
		return nil, fmt.Errorf("create the throw-away provider %s: %s", name, r.redact(err.Error()))
	}
}

// isolationFixture creates a second throw-away provider, tenant B of the
// isolation suite; nil, after a note, when it cannot.
func (r *testRun) isolationFixture(ctx context.Context) *conformance.Fixture {
	a, err := r.admin()
	if err != nil || a == nil {
		return nil
	}
	name := "kacescim-test-" + randomSuffix() + "-b"
	fx, err := conformance.NewFixture(ctx, client.NewAdmin(a.url, a.token, r.adminOptions()...), name)
	if err != nil {
		r.note("No isolation checks: the second throw-away provider %s: %s", name, r.redact(err.Error()))
		return nil
	}
	r.note("Isolation: tenant B is throw-away provider %s.", name)
	return fx
}

func (r *testRun) adminOptions() []client.Option {
	opts := []client.Option{client.WithTimeout(r.Timeout), client.WithUserAgent(r.g.userAgent())}
	if pool, err := r.g.caPool(); err == nil && pool != nil {
		opts = append(opts, client.WithRootCAs(pool))
	}
	if r.Insecure {
		opts = append(opts, client.WithInsecureSkipVerify())
	}
	return opts
}

// closeFixture removes the throw-away provider (unless --keep) and adds to
// res's leftovers what stays. The error says what could not be removed.
func (r *testRun) closeFixture(fx *conformance.Fixture, res *conformance.Result) error {
	if fx == nil {
		return nil
	}
	name := fx.Provider
	if r.Keep {
		if res != nil {
			res.Leftovers = append(res.Leftovers, fmt.Sprintf("provider %s (kept: `kacescim provider remove %s --yes` removes it with its users and groups)", name, name))
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*r.Timeout)
	defer cancel()
	if err := fx.Close(ctx); err != nil {
		msg := r.redact(err.Error())
		if res != nil {
			res.Leftovers = append(res.Leftovers, fmt.Sprintf("provider %s: %s", name, msg))
		}
		return fmt.Errorf("the throw-away provider %s was not removed: %s; remove it with `kacescim provider remove %s --yes`", name, msg, name)
	}
	return nil
}

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// fetchToken gets an access token from --oauth-token-url for the client,
// as Entra does before its SCIM requests; a refusal stops the run (exit
// 2) with the endpoint's error.
func (r *testRun) fetchToken(ctx context.Context, clientID, secret string) (string, error) {
	tok, err := client.FetchToken(ctx, r.OAuthTokenURL, clientID, secret, r.copts...)
	if err != nil {
		var te *client.TokenError
		if errors.As(err, &te) {
			r.note("Error: the token endpoint %s refused client %s: %s", r.OAuthTokenURL, clientID, r.red.Redact(te.Error()))
			r.note("Give the client ID and secret of an enabled provider (kacescim: `kacescim provider add-secret NAME` prints them).")
			return "", &exitStatusError{code: exitUsage}
		}
		return "", r.redactErr(err)
	}
	r.red.Add(tok.AccessToken)
	return tok.AccessToken, nil
}

// fixtureToken gives the throw-away provider a client secret and returns
// an access token for it from --oauth-token-url: the run then tests the
// OAuth flow of that provider, as it would test the provider of the
// given client.
func (r *testRun) fixtureToken(ctx context.Context, fx *conformance.Fixture) (string, error) {
	a, err := r.admin()
	if err != nil || a == nil {
		return "", fmt.Errorf("the throw-away provider needs the admin API for its client secret: %v", err)
	}
	resp, err := client.NewAdmin(a.url, a.token, r.adminOptions()...).AddSecret(ctx, fx.Provider, adminapi.NewSecretRequest{})
	if err != nil {
		return "", fmt.Errorf("give throw-away provider %s a client secret: %w", fx.Provider, err)
	}
	r.red.Add(resp.Secret)
	r.note("OAuth: the throw-away provider %s authenticates with an access token from %s, as client %s.", fx.Provider, r.OAuthTokenURL, resp.Client.ClientID)
	return r.fetchToken(ctx, resp.Client.ClientID, resp.Secret)
}
