package conformance_test

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/server"
)

// plantedCredentials wraps kacescim's admin credentials with a bug.
type plantedCredentials struct {
	conformance.Credentials
	bug string
}

func (c plantedCredentials) NewProvider(ctx context.Context) (conformance.CredentialProvider, error) {
	p, err := c.Credentials.NewProvider(ctx)
	return plantedProvider{p, c.bug}, err
}

type plantedProvider struct {
	conformance.CredentialProvider
	bug string
}

func (p plantedProvider) RotateKey(ctx context.Context, grace, expires time.Duration) (string, error) {
	switch {
	case p.bug == "rotation kills the old key" && grace > 0:
		grace = 0
	case p.bug == "the grace period never ends" && grace > 0:
		grace = time.Hour
	case p.bug == "keys never expire":
		expires = 0
	}
	return p.CredentialProvider.RotateKey(ctx, grace, expires)
}

func (p plantedProvider) RevokeSecret(ctx context.Context, id string) error {
	if p.bug == "revoking a secret keeps its tokens" {
		return nil
	}
	return p.CredentialProvider.RevokeSecret(ctx, id)
}

// tokenProxy sits before kacescim's token endpoint and plants a bug in
// its answers.
func tokenProxy(t *testing.T, target, bug string) string {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(res *http.Response) error {
		if res.Request.URL.Path != server.TokenPath {
			return nil
		}
		switch bug {
		case "token answers are cacheable":
			res.Header.Del("Cache-Control")
		case "an unknown client is told apart":
			id, _, _ := res.Request.BasicAuth()
			if strings.HasSuffix(id, "-unknown") {
				res.Header.Set("X-Unknown", "1")
				res.StatusCode = http.StatusBadRequest
			}
		case "every grant type is served":
			if res.StatusCode == http.StatusBadRequest {
				res.StatusCode = http.StatusOK
			}
		}
		return nil
	}
	ts := httptest.NewServer(rp)
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestAuthSuite: against kacescim every check of the auth suite passes;
// each planted bug fails the check that looks for it, and only that one.
// Without a way to manage credentials or an OAuth client, the checks are
// skipped saying what they need.
func TestAuthSuite(t *testing.T) {
	ctx := context.Background()
	env := newKacescim(t)
	fx, err := conformance.NewFixture(ctx, env.admin, "kacescim-auth")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fx.Close(ctx) })
	run := func(opts conformance.Options) map[string]conformance.Check {
		t.Helper()
		opts.BaseURL, opts.Token, opts.Suites = env.base, fx.Key, []string{"auth"}
		res := conformance.Run(ctx, nil, opts)
		checks := map[string]conformance.Check{}
		for _, rep := range res.Reports {
			for _, c := range rep.Checks {
				checks[c.Name] = c
			}
		}
		if len(res.Leftovers) > 0 {
			t.Errorf("leftovers: %q", res.Leftovers)
		}
		return checks
	}
	all := conformance.GoSuiteChecks("auth")
	creds := conformance.AdminCredentials(env.admin)

	got := run(conformance.Options{Credentials: creds})
	for _, name := range all {
		if c := got[name]; c.Status != conformance.StatusPass {
			t.Errorf("kacescim: %s: %s %q", name, c.Status, c.Failures)
		}
	}
	// The throw-away providers are gone.
	ps, err := env.admin.Providers(ctx)
	if err != nil || len(ps) != 1 {
		t.Errorf("providers after the run: %d (%v), want the fixture's alone", len(ps), err)
	}

	got = run(conformance.Options{})
	for _, name := range all {
		if c := got[name]; c.Status != conformance.StatusSkip || len(c.Notes) == 0 || !strings.HasPrefix(c.Notes[0], "needs ") {
			t.Errorf("without credentials: %s: %s %q", name, c.Status, c.Notes)
		}
	}

	for bug, want := range map[string]string{
		"rotation kills the old key":         "Rotated key: the replaced key keeps working beside the new one during the grace period",
		"the grace period never ends":        "Rotated key: the replaced key is refused (401) once the grace period ends",
		"keys never expire":                  `Expired key: a key past its expiry is 401 with error="invalid_token"`,
		"revoking a secret keeps its tokens": "Revoked secret: the access tokens it got are refused at once",
	} {
		t.Run(bug, func(t *testing.T) {
			got := run(conformance.Options{Credentials: plantedCredentials{creds, bug}})
			for _, name := range all {
				c := got[name]
				if wantFail := name == want; (c.Status == conformance.StatusFail) != wantFail {
					t.Errorf("%s: %s %q (want failed: %v)", name, c.Status, c.Failures, wantFail)
				}
			}
		})
	}

	// Token endpoint bugs, through a proxy, with an OAuth client of the
	// fixture's provider.
	made, err := env.admin.AddSecret(ctx, fx.Provider, adminapi.NewSecretRequest{})
	if err != nil {
		t.Fatal(err)
	}
	root := strings.TrimSuffix(env.base, server.SCIMPrefix)
	tokenChecks := map[string]bool{}
	for _, name := range all {
		tokenChecks[name] = strings.HasPrefix(name, "Token endpoint:")
	}
	for bug, want := range map[string][]string{
		"":                                {},
		"token answers are cacheable":     {"Token endpoint: answers are Cache-Control: no-store"},
		"an unknown client is told apart": {"Token endpoint: an unknown client is answered as a wrong secret"},
		"every grant type is served": {"Token endpoint: grant_type=password is 400 unsupported_grant_type",
			"Token endpoint: a request without grant_type is 400 invalid_request"},
	} {
		t.Run("token endpoint: "+cmp.Or(bug, "no bug"), func(t *testing.T) {
			o := &conformance.OAuthClient{TokenURL: tokenProxy(t, root, bug) + server.TokenPath, ClientID: made.Client.ClientID, ClientSecret: made.Secret}
			got := run(conformance.Options{OAuth: o})
			for _, name := range all {
				c := got[name]
				switch {
				case !tokenChecks[name]:
					if c.Status != conformance.StatusSkip {
						t.Errorf("%s: %s, want skipped without credentials", name, c.Status)
					}
				case slices.Contains(want, name) != (c.Status == conformance.StatusFail):
					t.Errorf("%s: %s %q", name, c.Status, c.Failures)
				}
			}
		})
	}
}
