// Package federation verifies the JWTs of workload identity federation
// (RFC 7523's JWT bearer, as Microsoft Entra ID issues them): signature by
// a key of the issuer's JWK Set, issuer, audience, subject, expiry and
// not-before with a minute of clock skew. JWK Sets fetched from a URL are
// cached, and fetched again once when a JWT names a key ID the cached set
// does not hold (the issuer rotated its keys), at most once every
// RefreshEvery. The JOSE work is go-jose's; only an allow-list of
// asymmetric algorithms is accepted, so "none" and HMAC with a public key
// are refused before any key is looked at.
package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/sync/singleflight"

	"github.com/kacescim/kacescim/pkg/directory"
)

// Algorithms are the signature algorithms accepted.
var Algorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// Leeway is the clock skew allowed on exp, nbf and iat.
const Leeway = time.Minute

// MaxLifetime bounds how far in the future a JWT's exp may be: a bearer
// assertion is short-lived (Entra's live an hour), and one that lives for
// days is a stolen-token risk the issuer should not take.
const MaxLifetime = 24 * time.Hour

const (
	// CacheFor is how long a fetched JWK Set is used before it is
	// fetched again.
	CacheFor = time.Hour
	// RefreshEvery bounds the fetches an unknown key ID causes: a stream
	// of JWTs with made-up key IDs costs one fetch in that time.
	RefreshEvery = 5 * time.Minute
	// RetryFailedAfter is how long a failed fetch is not tried again.
	RetryFailedAfter = 30 * time.Second
	// maxJWKSBytes bounds a fetched JWK Set.
	maxJWKSBytes = 1 << 20
	fetchTimeout = 10 * time.Second
)

// Verifier is a directory.JWTVerifier. Its zero value is not usable: use
// New.
type Verifier struct {
	client *http.Client
	group  singleflight.Group // one fetch of a URL at a time, shared by its waiters
	mu     sync.Mutex
	sets   map[string]*cachedSet // by JWKS URL
	// failed is when a URL's last fetch failed: it is not fetched again
	// for RetryFailedAfter, so that an issuer that is down does not cost
	// every JWT a fetch.
	failed map[string]time.Time
	// fetches counts the JWK Set fetches, for tests.
	fetches map[string]int
}

type cachedSet struct {
	set     *jose.JSONWebKeySet
	fetched time.Time
}

// New returns a Verifier that fetches JWK Sets with client (a default one
// with a timeout when nil).
func New(client *http.Client) *Verifier {
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout, CheckRedirect: checkRedirect}
	}
	return &Verifier{client: client, sets: map[string]*cachedSet{}, failed: map[string]time.Time{}, fetches: map[string]int{}}
}

// checkRedirect follows at most three redirects, none from https to
// plain http: keys must not travel in clear.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("more than 3 redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("a redirect from https to %s", req.URL.Scheme)
	}
	return nil
}

// Fetches returns how many times the JWK Set at url was fetched.
func (v *Verifier) Fetches(url string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.fetches[url]
}

// ErrNoFederation is the answer to a JWT no provider trusts.
var ErrNoFederation = directory.Errorf(directory.EUNAUTHORIZED, "invalid bearer JWT: no provider trusts its issuer, audience and subject")

func invalid(format string, args ...any) error {
	return directory.Errorf(directory.EUNAUTHORIZED, "invalid bearer JWT: "+format, args...)
}

// parse parses a compact JWS with an accepted algorithm.
func parse(token string) (*jwt.JSONWebToken, error) {
	tok, err := jwt.ParseSigned(token, Algorithms)
	if err != nil {
		return nil, invalid("%s (accepted algorithms: RS*, PS*, ES*, EdDSA)", describe(err))
	}
	if len(tok.Headers) != 1 {
		return nil, invalid("it has %d signatures, want 1", len(tok.Headers))
	}
	return tok, nil
}

// describe is a short reason for a go-jose error, without echoing input.
func describe(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}

// Issuer returns the iss of token, read without checking its signature:
// only to find the federations whose keys check it.
func (v *Verifier) Issuer(token string) (string, error) {
	tok, err := parse(token)
	if err != nil {
		return "", err
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return "", invalid("its claims are not a JSON object with the registered claims")
	}
	if c.Issuer == "" {
		return "", invalid("it has no iss")
	}
	return c.Issuer, nil
}

// Verify checks token against the candidates (federations of its
// issuer) and returns the one it satisfies.
func (v *Verifier) Verify(ctx context.Context, token string, candidates []*directory.Federation, now time.Time) (*directory.Federation, error) {
	tok, err := parse(token)
	if err != nil {
		return nil, err
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, invalid("its claims are not a JSON object with the registered claims")
	}
	var matching []*directory.Federation
	for _, c := range candidates {
		if c.Issuer == unverified.Issuer && unverified.Audience.Contains(c.Audience) && (c.Subject == "" || c.Subject == unverified.Subject) {
			matching = append(matching, c)
		}
	}
	switch len(matching) {
	case 0:
		// The same words whatever did not match: an unauthenticated caller
		// learns nothing of which issuers, audiences and subjects are
		// trusted.
		return nil, ErrNoFederation
	case 1:
	default:
		// Overlapping settings are refused when they are made; should two
		// be stored anyway (made at once), the JWT is nobody's rather than
		// the wrong provider's.
		return nil, invalid("several providers trust its issuer, audience and subject")
	}
	f := matching[0]
	kid := tok.Headers[0].KeyID
	key, err := v.key(ctx, f, kid, now)
	if err != nil {
		return nil, err
	}
	if key.Algorithm != "" && key.Algorithm != tok.Headers[0].Algorithm {
		return nil, invalid("key %q is for %s, the JWT says %s", clip(kid), key.Algorithm, tok.Headers[0].Algorithm)
	}
	var claims jwt.Claims
	if err := tok.Claims(key.Key, &claims); err != nil {
		return nil, invalid("the signature does not verify with key %q of the issuer", clip(kid))
	}
	if claims.Expiry == nil {
		return nil, invalid("it has no exp: a JWT bearer must expire (RFC 7523 §3)")
	}
	if claims.Expiry.Time().After(now.Add(MaxLifetime + Leeway)) {
		return nil, invalid("its exp is more than %s away: kacescim takes short-lived JWTs only", MaxLifetime)
	}
	err = claims.ValidateWithLeeway(jwt.Expected{Issuer: f.Issuer, AnyAudience: jwt.Audience{f.Audience}, Subject: f.Subject, Time: now}, Leeway)
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, jwt.ErrExpired):
		return nil, &directory.Error{Code: directory.EUNAUTHORIZED, Expired: true,
			Message: fmt.Sprintf("the bearer JWT expired at %s: get a new one from the identity provider", claims.Expiry.Time().UTC().Format(time.RFC3339))}
	case errors.Is(err, jwt.ErrNotValidYet):
		return nil, invalid("it is not valid before %s (nbf)", claims.NotBefore.Time().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, invalid("it was issued in the future (iat)")
	default:
		return nil, invalid("%s", describe(err))
	}
}

// key returns the key kid of f's JWK Set; for a URL, from the cache,
// fetched when the cache is old or, once every RefreshEvery, when it
// lacks kid. A set whose refresh fails is used as it was.
func (v *Verifier) key(ctx context.Context, f *directory.Federation, kid string, now time.Time) (*jose.JSONWebKey, error) {
	if f.JWKSURL == "" {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(f.JWKS, &set); err != nil {
			return nil, invalid("the provider's JWKS document cannot be read: set it again with kacescim provider federation set")
		}
		return pick(&set, kid)
	}
	v.mu.Lock()
	c := v.sets[f.JWKSURL]
	v.mu.Unlock()
	if c == nil || now.Sub(c.fetched) >= CacheFor || now.Before(c.fetched) {
		fresh, err := v.fetch(ctx, f.JWKSURL, now)
		switch {
		case err == nil:
			c = fresh
		case c == nil:
			return nil, err
		}
	}
	k, err := pick(c.set, kid)
	if err == nil || now.Sub(c.fetched) < RefreshEvery {
		return k, err
	}
	// The issuer may have rotated its keys: fetch once more.
	fresh, ferr := v.fetch(ctx, f.JWKSURL, now)
	if ferr != nil {
		return nil, err
	}
	return pick(fresh.set, kid)
}

// pick finds the verification key kid of set; with no kid, the set's one
// signing key.
func pick(set *jose.JSONWebKeySet, kid string) (*jose.JSONWebKey, error) {
	var found []jose.JSONWebKey
	if kid != "" {
		found = set.Key(kid)
	} else {
		found = set.Keys
	}
	var usable []jose.JSONWebKey
	for _, k := range found {
		if k.Use == "" || k.Use == "sig" {
			if k.IsPublic() || k.Valid() {
				usable = append(usable, k.Public())
			}
		}
	}
	switch {
	case len(usable) == 1:
		return &usable[0], nil
	case kid == "" && len(usable) > 1:
		return nil, invalid("it names no key (kid) and the issuer has %d", len(usable))
	default:
		return nil, invalid("the issuer has no key %q", clip(kid))
	}
}

// errKeysUnavailable is what a caller is told when the issuer's keys
// cannot be fetched; the cause (URL, dial error) is wrapped for the
// server's log only.
var errKeysUnavailable = directory.Errorf(directory.EUNAVAILABLE, "the identity provider's keys cannot be fetched for now; try again")

// fetch gets the JWK Set at url and caches it: one fetch at a time per
// URL (concurrent callers share it), none for RetryFailedAfter after one
// failed.
func (v *Verifier) fetch(ctx context.Context, url string, now time.Time) (*cachedSet, error) {
	v.mu.Lock()
	failedAt, failed := v.failed[url]
	v.mu.Unlock()
	if failed && now.Sub(failedAt) < RetryFailedAfter && !now.Before(failedAt) {
		return nil, fmt.Errorf("%w (fetching %s failed %s ago)", errKeysUnavailable, url, now.Sub(failedAt).Round(time.Second))
	}
	res, err, _ := v.group.Do(url, func() (any, error) {
		c, err := v.get(context.WithoutCancel(ctx), url, now)
		v.mu.Lock()
		defer v.mu.Unlock()
		if err != nil {
			v.failed[url] = now
			return nil, err
		}
		delete(v.failed, url)
		v.sets[url] = c
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return res.(*cachedSet), nil
}

// get fetches the JWK Set at url.
func (v *Verifier) get(ctx context.Context, url string, now time.Time) (*cachedSet, error) {
	unavailable := func(format string, args ...any) error {
		return fmt.Errorf("%w (%s: %s)", errKeysUnavailable, url, fmt.Sprintf(format, args...))
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, unavailable("%v", err)
	}
	req.Header.Set("Accept", "application/json")
	v.mu.Lock()
	v.fetches[url]++
	v.mu.Unlock()
	res, err := v.client.Do(req)
	if err != nil {
		return nil, unavailable("%v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, unavailable("HTTP %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, unavailable("%v", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, unavailable("the JWK Set is over %d bytes", maxJWKSBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, unavailable("it is not a JWK Set")
	}
	return &cachedSet{set: &set, fetched: now}, nil
}

// CheckJWKS reports whether doc is a JWK Set with at least one public
// signing key, for a document given inline.
func CheckJWKS(doc []byte) error {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		return fmt.Errorf("not a JWK Set: %v", describe(err))
	}
	for _, k := range set.Keys {
		if (k.Use == "" || k.Use == "sig") && k.Valid() {
			return nil
		}
	}
	return errors.New("the JWK Set holds no signing key")
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
