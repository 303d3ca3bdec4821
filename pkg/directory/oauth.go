package directory

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// OAuth 2.0 client credentials (RFC 6749 §4.4), as Microsoft Entra ID's
// app gallery requires of SCIM endpoints in 2026: a provider may have a
// client ID with up to MaxLiveSecrets client secrets (each shown once,
// stored as a SHA-256 hash, expiring); the token endpoint trades a client
// ID and secret for a short-lived access token, which the SCIM endpoint
// takes as a bearer credential beside the provider's security keys.
// Access tokens are random, stored hashed, so that every replica on the
// same database accepts them; revoking the secret that got a token, or
// disabling the provider, ends the token at once.

// Prefixes of the OAuth credentials, so that a leaked one is easy to
// recognise and so that Authenticate tells a token from a key without a
// second lookup.
const (
	ClientIDPrefix = "kcc_"
	SecretPrefix   = "kcsecret_"
	TokenPrefix    = "kcat_"
)

// MaxLiveSecrets is how many client secrets of a provider may be valid at
// once: two, so that a secret can be replaced without downtime.
const MaxLiveSecrets = 2

// Client secret lifetimes: Entra's app gallery expects secrets that
// expire after one to three years.
const (
	DefaultSecretLifetime = 365 * 24 * time.Hour
	MaxSecretLifetime     = 3 * 365 * 24 * time.Hour
)

// Access-token lifetimes: Entra's app gallery expects 60 minutes to 6
// hours.
const (
	DefaultTokenLifetime = time.Hour
	MinTokenLifetime     = time.Hour
	MaxTokenLifetime     = 6 * time.Hour
)

// OAuthClient is a provider's OAuth client: its ID and secrets.
type OAuthClient struct {
	ProviderID string
	ClientID   string
	Secrets    []Secret // oldest first
	Created    time.Time
	// Rev is the revision of the client and its secrets; 0 for a client
	// not stored yet. SaveOAuthClient writes only if it is still the one
	// read (ESTALE otherwise), and moves it on.
	Rev int64
}

// Secret is one client secret; only its hash and hint are stored.
type Secret struct {
	ID      string
	Hash    []byte
	Hint    string
	Created time.Time
	Expires time.Time // never zero
	// LastUsed is when it last got an access token; zero if never.
	LastUsed time.Time
}

// Expired reports whether the secret no longer gets tokens at now.
func (s *Secret) Expired(now time.Time) bool { return !now.Before(s.Expires) }

// AccessToken is an access token the token endpoint issued; only its
// hash is stored.
type AccessToken struct {
	Hash       []byte
	ProviderID string
	SecretID   string // the secret that got it: revoking it ends the token
	Created    time.Time
	Expires    time.Time
}

// Expired reports whether the token no longer authenticates at now.
func (t *AccessToken) Expired(now time.Time) bool { return !now.Before(t.Expires) }

// OAuthStore is the part of Store that keeps OAuth clients and tokens.
type OAuthStore interface {
	// FindOAuthClient returns the provider's client; ENOTFOUND if it has
	// none.
	FindOAuthClient(ctx context.Context, providerID string) (*OAuthClient, error)
	// FindOAuthClientByID returns the client with that client ID;
	// ENOTFOUND if none.
	FindOAuthClientByID(ctx context.Context, clientID string) (*OAuthClient, error)
	// SaveOAuthClient creates the provider's client or makes its stored
	// secrets c.Secrets (deleting a secret deletes the tokens it got), in
	// one transaction; ENOTFOUND if the provider is gone.
	SaveOAuthClient(ctx context.Context, c *OAuthClient) error
	// CreateAccessToken stores t, moves its secret's LastUsed to
	// t.Created, and deletes the provider's expired tokens, in one
	// transaction; ENOTFOUND if the secret is gone (revoked meanwhile).
	CreateAccessToken(ctx context.Context, t *AccessToken) error
	// FindAccessToken returns the token with that hash and its provider
	// (with its keys); ENOTFOUND if none.
	FindAccessToken(ctx context.Context, hash []byte) (*AccessToken, *Provider, error)
}

// randomText returns prefix and n random bytes, base64url.
func randomText(prefix string, n int) (string, error) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generate %s credential: %w", strings.TrimSuffix(prefix, "_"), err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(buf), nil
}

// MaskSecret is the displayable form of a secret from its hint.
func MaskSecret(hint string) string { return SecretPrefix + keyMask + hint }

// OAuthClient returns the OAuth client of the provider called name;
// ENOTFOUND when the provider has none (or does not exist).
func (s *Service) OAuthClient(ctx context.Context, name string) (*Provider, *OAuthClient, error) {
	p, err := s.Provider(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.Store.FindOAuthClient(ctx, p.ID)
	if ErrorCode(err) == ENOTFOUND {
		return p, nil, Errorf(ENOTFOUND, "provider %s has no OAuth client: kacescim provider add-secret %s makes one", p.Name, p.Name)
	}
	return p, c, err
}

// addSecret gives the provider called name a new client secret (making
// its OAuth client first if it has none), returned once in clear, that
// expires after lifetime (DefaultSecretLifetime when 0). Expired secrets
// are dropped; ECONFLICT when MaxLiveSecrets are already valid.
func (s *Service) addSecret(ctx context.Context, name string, lifetime time.Duration) (*Provider, *OAuthClient, string, error) {
	if lifetime == 0 {
		lifetime = DefaultSecretLifetime
	}
	if lifetime < time.Second || lifetime > MaxSecretLifetime {
		return nil, nil, "", Errorf(EINVALID, "a client secret must expire after a second to 3 years (1095d), got %s", lifetime)
	}
	defer s.forgetProviders()
	p, err := s.Provider(ctx, name)
	if err != nil {
		return nil, nil, "", err
	}
	now := s.now()
	c, err := s.Store.FindOAuthClient(ctx, p.ID)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		id, err := randomText(ClientIDPrefix, 12)
		if err != nil {
			return nil, nil, "", err
		}
		c = &OAuthClient{ProviderID: p.ID, ClientID: id, Created: now}
	case err != nil:
		return nil, nil, "", err
	}
	c.Secrets = slices.DeleteFunc(c.Secrets, func(x Secret) bool { return x.Expired(now) })
	if len(c.Secrets) >= MaxLiveSecrets {
		return nil, nil, "", Errorf(ECONFLICT, "provider %s already has %d valid client secrets: revoke one first (kacescim provider revoke-secret %s %s)",
			p.Name, len(c.Secrets), p.Name, c.Secrets[0].ID)
	}
	secret, err := randomText(SecretPrefix, keyBytes)
	if err != nil {
		return nil, nil, "", err
	}
	id, err := newKeyID()
	if err != nil {
		return nil, nil, "", err
	}
	c.Secrets = append(c.Secrets, Secret{ID: "s" + id[1:], Hash: hashKey(secret), Hint: secret[len(secret)-keyHintLen:],
		Created: now, Expires: now.Add(lifetime).Truncate(time.Millisecond)})
	if err := s.Store.SaveOAuthClient(ctx, c); err != nil {
		return nil, nil, "", err
	}
	return p, c, secret, nil
}

// revokeSecret removes the client secret id (or the one whose hint it is)
// of the provider called name, and with it every access token it got.
func (s *Service) revokeSecret(ctx context.Context, name, id string) (*Provider, *OAuthClient, error) {
	defer s.forgetProviders()
	p, c, err := s.OAuthClient(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	id = strings.TrimSpace(id)
	i, n := indexByIDOrHint(c.Secrets, func(x Secret) (string, string) { return x.ID, x.Hint }, id, SecretPrefix+keyMask)
	if n != 1 {
		return nil, nil, Errorf(ENOTFOUND, "provider %s has no client secret %q: kacescim provider secrets %s lists them", p.Name, strings.TrimPrefix(id, SecretPrefix+keyMask), p.Name)
	}
	c.Secrets = slices.Delete(c.Secrets, i, i+1)
	if err := s.Store.SaveOAuthClient(ctx, c); err != nil {
		return nil, nil, err
	}
	return p, c, nil
}

// tokenLifetime is the lifetime of the access tokens IssueToken makes.
func (s *Service) tokenLifetime() time.Duration {
	if s.TokenLifetime == 0 {
		return DefaultTokenLifetime
	}
	return s.TokenLifetime
}

// IssueToken is the token endpoint's work (RFC 6749 §4.4): it checks the
// client ID and secret and returns a new access token and its lifetime.
// Errors: EUNAUTHORIZED for an unknown client or a wrong secret (the
// message never says which), EUNAUTHORIZED with Expired for an expired
// secret, EFORBIDDEN for a disabled provider. A token never outlives the
// secret that got it.
func (s *Service) IssueToken(ctx context.Context, clientID, secret string) (string, time.Duration, *Provider, error) {
	invalid := Errorf(EUNAUTHORIZED, "invalid client credentials")
	if clientID == "" || secret == "" || !strings.HasPrefix(clientID, ClientIDPrefix) {
		return "", 0, nil, invalid
	}
	c, err := s.Store.FindOAuthClientByID(ctx, clientID)
	if ErrorCode(err) == ENOTFOUND {
		return "", 0, nil, invalid
	}
	if err != nil {
		return "", 0, nil, err
	}
	hash := hashKey(secret)
	var found *Secret
	for i := range c.Secrets {
		if constantTimeEqual(c.Secrets[i].Hash, hash) {
			found = &c.Secrets[i]
		}
	}
	if found == nil {
		return "", 0, nil, invalid
	}
	p, err := s.Store.FindProviderByID(ctx, c.ProviderID)
	if err != nil {
		return "", 0, nil, err
	}
	now := s.now()
	if found.Expired(now) {
		return "", 0, p, &Error{Code: EUNAUTHORIZED, Expired: true, Message: fmt.Sprintf(
			"client secret %s of provider %s expired at %s: make a new one with kacescim provider add-secret %s",
			MaskSecret(found.Hint), p.Name, found.Expires.Format(time.RFC3339), p.Name)}
	}
	if !p.Enabled {
		return "", 0, p, Errorf(EFORBIDDEN, "provider %s is disabled: enable it in kacescim to resume provisioning", p.Name)
	}
	token, err := randomText(TokenPrefix, keyBytes)
	if err != nil {
		return "", 0, nil, err
	}
	life := s.tokenLifetime()
	t := &AccessToken{Hash: hashKey(token), ProviderID: p.ID, SecretID: found.ID, Created: now, Expires: now.Add(life)}
	if found.Expires.Before(t.Expires) {
		t.Expires = found.Expires
	}
	if err := s.Store.CreateAccessToken(ctx, t); err != nil {
		switch ErrorCode(err) {
		case ENOTFOUND:
			return "", 0, nil, invalid // the secret was revoked meanwhile
		case EFORBIDDEN: // disabled meanwhile
			return "", 0, p, Errorf(EFORBIDDEN, "provider %s is disabled: enable it in kacescim to resume provisioning", p.Name)
		}
		return "", 0, nil, err
	}
	return token, t.Expires.Sub(now), p, nil
}

// authenticateToken is AuthenticateKey for an access token.
func (s *Service) authenticateToken(ctx context.Context, token string) (*Provider, error) {
	hash := hashKey(token)
	var (
		p   *Provider
		t   *AccessToken
		gen uint64
		err error
	)
	if s.auth != nil {
		if p, t, gen = s.auth.get(hash, time.Now()); t == nil {
			p = nil // a key's entry: look the token up
		}
	}
	if p == nil {
		if t, p, err = s.Store.FindAccessToken(ctx, hash); err != nil {
			if ErrorCode(err) == ENOTFOUND {
				return nil, Errorf(EUNAUTHORIZED, "invalid access token")
			}
			return nil, err
		}
		if s.auth != nil {
			s.auth.put(hash, p, t, gen, time.Now())
		}
	}
	if !constantTimeEqual(t.Hash, hash) {
		return nil, Errorf(EUNAUTHORIZED, "invalid access token")
	}
	if !p.Enabled {
		return p, Errorf(EFORBIDDEN, "provider %s is disabled: enable it in kacescim to resume provisioning", p.Name)
	}
	if t.Expired(s.Now()) {
		return p, &Error{Code: EUNAUTHORIZED, Expired: true, Message: fmt.Sprintf(
			"the access token of provider %s expired at %s: get a new one from the token endpoint", p.Name, t.Expires.Format(time.RFC3339))}
	}
	return p, nil
}
