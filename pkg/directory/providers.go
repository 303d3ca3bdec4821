package directory

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/scim"
)

// Provider is one identity-provider connection ("Okta"). Its security keys
// are never stored: only their hashes and hints (keys.go).
type Provider struct {
	ID      string
	Name    string
	Enabled bool
	// Keys are the provider's security keys, oldest first: none until it
	// is first enabled, at most MaxLiveKeys that authenticate.
	Keys []Key
	// Strict refuses what only Microsoft Entra ID sends (capitalised ops,
	// booleans as strings, empty PATCHes); by default it is accepted.
	Strict bool
	// RateLimit is the most SCIM requests per second the provider may make
	// (0: no limit); beyond it the server answers 429 with Retry-After.
	RateLimit   float64
	SyncedUsers int64 // users the provider owns; kept by the store in the same transaction as every user write
	// Rev is the revision of the provider's row and keys: UpdateProvider
	// writes only if it is still the one read (ESTALE otherwise), and
	// moves it on.
	Rev        int64
	LastSyncAt time.Time // zero until the first successful SCIM request
	Created    time.Time
	Updated    time.Time
}

// HasKey reports whether the provider holds a key (live or not).
func (p *Provider) HasKey() bool { return len(p.Keys) > 0 }

// Dialect is what the provider's SCIM requests are held to: RFC 7644 when
// it is strict, otherwise also Microsoft Entra ID's dialect.
func (p *Provider) Dialect() scim.Options { return scim.Options{Strict: p.Strict} }

// KeyPrefix starts every security key, so that a leaked key is easy to
// recognise (and to scan for) as a kacescim key.
const KeyPrefix = "kcs_"

// keyBytes is the entropy of a security key: 256 bits.
const keyBytes = 32

// keyHintLen is how many trailing characters of a key are kept in clear, so
// that an administrator can tell which key an identity provider holds.
const keyHintLen = 4

// MaxProviderNameLen is the longest provider name, in characters.
const MaxProviderNameLen = 64

// keyMask stands for the characters of a key that are never shown.
const keyMask = "••••••••"

// MaskKey returns the displayable form of a key from its hint, e.g.
// "kcs_••••••••a1B2"; "" when there is no key. With hint "" it cannot tell
// the two apart, so callers that want to hide the hint pass MaskedKeyNoHint.
func MaskKey(hint string) string {
	if hint == "" {
		return ""
	}
	return KeyPrefix + keyMask + hint
}

// MaskedKeyNoHint is the displayable form of a key whose hint is withheld.
const MaskedKeyNoHint = KeyPrefix + keyMask

// ValidateProviderName returns an EINVALID error saying what is wrong with
// name, or nil. Names appear in URLs of the admin API and in shell commands,
// so they are kept to letters, digits, spaces and "-_.", and start with a
// letter or digit (which also rules out "." and "..").
func ValidateProviderName(name string) error {
	switch {
	case name == "":
		return Errorf(EINVALID, "provider name is empty: give a name such as Okta")
	case !utf8.ValidString(name):
		return Errorf(EINVALID, "provider name is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxProviderNameLen:
		return Errorf(EINVALID, "provider name is %d characters long: the limit is %d", utf8.RuneCountInString(name), MaxProviderNameLen)
	}
	first, _ := utf8.DecodeRuneInString(name)
	if !unicode.IsLetter(first) && !unicode.IsDigit(first) {
		return Errorf(EINVALID, "provider name %q must start with a letter or a digit", name)
	}
	if strings.HasSuffix(name, " ") {
		return Errorf(EINVALID, "provider name %q must not end with a space", name)
	}
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" -_.", r) {
			continue
		}
		return Errorf(EINVALID, "provider name %q contains %q: use only letters, digits, spaces and - _ .", name, r)
	}
	return nil
}

// newKey returns a fresh security key with its hash and hint. The key is
// shown to the administrator once and never stored.
func newKey() (key string, hash []byte, hint string, err error) {
	buf := make([]byte, keyBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", nil, "", fmt.Errorf("generate security key: %w", err)
	}
	key = KeyPrefix + base64.RawURLEncoding.EncodeToString(buf)
	return key, hashKey(key), key[len(key)-keyHintLen:], nil
}

// hashKey is how keys are stored and looked up. A fast hash is enough: keys
// carry 256 random bits, so there is nothing to brute-force.
func hashKey(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

// constantTimeEqual compares two key hashes in constant time.
func constantTimeEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// AddProvider creates a provider. An enabled provider gets its security key
// at once, returned as the second value (the only time it is ever
// available); a disabled one gets it when it is first enabled, and "" is
// returned. ECONFLICT if the name is taken, EINVALID if it is not a valid
// name.
func (s *Service) AddProvider(ctx context.Context, name string, enabled bool, opts ...ProviderOptions) (*Provider, string, error) {
	if err := ValidateProviderName(name); err != nil {
		return nil, "", err
	}
	now := s.now()
	p := &Provider{ID: uuid.NewString(), Name: name, Enabled: enabled, Created: now, Updated: now}
	for _, o := range opts {
		if err := o.apply(p); err != nil {
			return nil, "", err
		}
	}
	var key string
	if enabled {
		var ko KeyOptions
		for _, o := range opts {
			if o.Key != nil {
				ko = *o.Key
			}
		}
		var err error
		if key, err = addKey(p, now, ko); err != nil {
			return nil, "", err
		}
	}
	if err := s.Store.CreateProvider(ctx, p); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, "", Errorf(ECONFLICT, "a provider named %q already exists", name)
		}
		return nil, "", err
	}
	return p, key, nil
}

// ProviderOptions are the settings of a provider besides its name and key;
// nil fields are left as they are.
type ProviderOptions struct {
	Strict    *bool
	RateLimit *float64 // SCIM requests per second; 0 for no limit
	// Key shapes the key AddProvider makes for an enabled provider
	// (its lifetime); SetProviderOptions refuses it.
	Key *KeyOptions
}

// MaxRateLimit is the highest per-provider rate limit accepted.
const MaxRateLimit = 100_000

func (o ProviderOptions) apply(p *Provider) error {
	if o.Key != nil {
		if err := o.Key.check(); err != nil {
			return err
		}
		if o.Key.Grace != 0 {
			return Errorf(EINVALID, "a grace period is for rotating a key: kacescim provider rotate-key --grace")
		}
	}
	if o.RateLimit != nil {
		r := *o.RateLimit
		if math.IsNaN(r) || r < 0 || r > MaxRateLimit {
			return Errorf(EINVALID, "the rate limit must be between 0 (no limit) and %d requests per second", MaxRateLimit)
		}
		p.RateLimit = r
	}
	if o.Strict != nil {
		p.Strict = *o.Strict
	}
	return nil
}

// setProviderOptions changes the provider's dialect and rate limit.
func (s *Service) setProviderOptions(ctx context.Context, name string, o ProviderOptions) (*Provider, error) {
	// Authenticate must not keep using the provider as it was.
	defer s.forgetProviders()
	if o.Key != nil {
		return nil, Errorf(EINVALID, "a key's lifetime is set when it is made: kacescim provider rotate-key --expires")
	}
	p, err := s.Provider(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := o.apply(p); err != nil {
		return nil, err
	}
	p.Updated = s.now()
	if err := s.Store.UpdateProvider(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// Provider returns the provider called name (case-insensitively);
// ENOTFOUND if there is none. Its last sync holds every request answered
// before the call (the queued log is written first); the SCIM requests
// themselves authenticate without that wait.
func (s *Service) Provider(ctx context.Context, name string) (*Provider, error) {
	if err := s.FlushLog(ctx); err != nil {
		return nil, err
	}
	p, err := s.Store.FindProviderByName(ctx, name)
	if err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return nil, Errorf(ENOTFOUND, "no provider named %q", name)
		}
		return nil, err
	}
	return p, nil
}

// Providers returns every provider, ordered by name, as Provider does.
func (s *Service) Providers(ctx context.Context) ([]*Provider, error) {
	if err := s.FlushLog(ctx); err != nil {
		return nil, err
	}
	return s.Store.FindProviders(ctx)
}

// enableProvider enables the provider called name and gives it a new key
// (shaped by o, at most one), which replaces every previous one: a key
// handed out before the provider was disabled stops working. Enabling an
// enabled provider changes nothing and returns key "".
func (s *Service) enableProvider(ctx context.Context, name string, o ...KeyOptions) (*Provider, string, error) {
	var ko KeyOptions
	if len(o) > 0 {
		ko = o[0]
	}
	if err := ko.check(); err != nil {
		return nil, "", err
	}
	// Authenticate must not keep using the provider as it was.
	defer s.forgetProviders()
	p, err := s.Provider(ctx, name)
	if err != nil {
		return nil, "", err
	}
	if p.Enabled {
		return p, "", nil
	}
	now := s.now()
	p.Keys = nil
	key, err := addKey(p, now, ko)
	if err != nil {
		return nil, "", err
	}
	p.Enabled = true
	p.Updated = now
	if err := s.Store.UpdateProvider(ctx, p); err != nil {
		return nil, "", err
	}
	return p, key, nil
}

// disableProvider disables the provider called name. Its keys are kept
// so that the identity provider, still sending the key, is told the
// provider is disabled (403) rather than that its key is wrong (401).
// Disabling a disabled provider changes nothing.
func (s *Service) disableProvider(ctx context.Context, name string) (*Provider, error) {
	// Authenticate must not keep using the provider as it was.
	defer s.forgetProviders()
	p, err := s.Provider(ctx, name)
	if err != nil {
		return nil, err
	}
	if !p.Enabled {
		return p, nil
	}
	p.Enabled = false
	p.Updated = s.now()
	if err := s.Store.UpdateProvider(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// RemoveProvider deletes the provider called name with all its users and
// groups; ENOTFOUND if there is none.
func (s *Service) RemoveProvider(ctx context.Context, name string) error {
	// Authenticate must not keep using the provider as it was.
	defer s.forgetProviders()
	p, err := s.Provider(ctx, name)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteProvider(ctx, p.ID); err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "no provider named %q", name)
		}
		return err
	}
	return nil
}

// forgetProviders drops the providers Authenticate remembers (authcache.go):
// one of them changed.
func (s *Service) forgetProviders() {
	if s.auth != nil {
		s.auth.forget()
	}
	s.providerMappers.forget()
}

// Authenticate returns the provider whose security key the Authorization
// header value carries, as AuthenticateKey does.
func (s *Service) Authenticate(ctx context.Context, authorization string) (*Provider, error) {
	p, _, err := s.AuthenticateKey(ctx, authorization)
	return p, err
}

// AuthenticateKey returns the provider whose security key the
// Authorization header value carries, and that key. It accepts "Bearer
// <key>" (scheme in any case) and, for Okta's "HTTP Header"
// authentication mode, the bare key.
//
// Errors: EUNAUTHORIZED when the header is missing or the key is unknown;
// EUNAUTHORIZED with the provider and the key when the key expired (or a
// rotation's grace period ended), with a detail that says so; EFORBIDDEN
// (with the provider) when the key belongs to a disabled provider. No
// error message ever contains the key.
func (s *Service) AuthenticateKey(ctx context.Context, authorization string) (*Provider, *Key, error) {
	key, err := keyFromAuthorization(authorization)
	if err != nil {
		return nil, nil, err
	}
	if strings.HasPrefix(key, TokenPrefix) {
		p, err := s.authenticateToken(ctx, key)
		return p, nil, err
	}
	if LooksLikeJWT(key) {
		p, err := s.authenticateJWT(ctx, key)
		return p, nil, err
	}
	hash := hashKey(key)
	var (
		p   *Provider
		gen uint64
	)
	if s.auth != nil {
		var t *AccessToken
		if p, t, gen = s.auth.get(hash, time.Now()); t != nil {
			p = nil // a token's entry: look the key up
		}
	}
	if p == nil {
		if p, err = s.Store.FindProviderByKeyHash(ctx, hash); err != nil {
			if ErrorCode(err) == ENOTFOUND {
				return nil, nil, Errorf(EUNAUTHORIZED, "invalid security key")
			}
			return nil, nil, err
		}
		if s.auth != nil {
			s.auth.put(hash, p, nil, gen, time.Now())
		}
	}
	// The index lookup already matched; comparing again in constant time
	// keeps a store that matched loosely (a prefix, a collation) from
	// letting a wrong key through.
	k := p.authKey(hash)
	if k == nil {
		return nil, nil, Errorf(EUNAUTHORIZED, "invalid security key")
	}
	if !p.Enabled {
		// The provider is returned with the error so that the request log
		// can name it.
		return p, k, Errorf(EFORBIDDEN, "provider %s is disabled: enable it in kacescim to resume provisioning", p.Name)
	}
	if now := s.Now(); k.Expired(now) {
		if !k.Replaced.IsZero() {
			return p, k, &Error{Code: EUNAUTHORIZED, Expired: true, Message: fmt.Sprintf(
				"security key %s of provider %s was replaced on %s and its grace period ended at %s: send the new key",
				MaskKey(k.Hint), p.Name, k.Replaced.Format(time.RFC3339), k.Expires.Format(time.RFC3339))}
		}
		return p, k, &Error{Code: EUNAUTHORIZED, Expired: true, Message: fmt.Sprintf(
			"security key %s of provider %s expired at %s: rotate it in kacescim and send the new key",
			MaskKey(k.Hint), p.Name, k.Expires.Format(time.RFC3339))}
	}
	return p, k, nil
}

// keyFromAuthorization extracts the key from an Authorization header value.
func keyFromAuthorization(h string) (string, error) {
	h = strings.TrimSpace(h)
	missing := Errorf(EUNAUTHORIZED, "missing Authorization header: send Authorization: Bearer <security key>")
	if h == "" || strings.EqualFold(h, "Bearer") {
		return "", missing
	}
	scheme, rest, found := strings.Cut(h, " ")
	if !found {
		return h, nil // Okta "HTTP Header" mode: the bare key
	}
	if !strings.EqualFold(scheme, "Bearer") {
		// The scheme is not echoed: a malformed header might be a key.
		return "", Errorf(EUNAUTHORIZED, "unsupported Authorization scheme: send Authorization: Bearer <security key>")
	}
	key := strings.TrimSpace(rest)
	if key == "" {
		return "", missing
	}
	return key, nil
}
