package directory

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Security keys with a lifecycle. A provider holds at most MaxLiveKeys
// keys that authenticate: the current one and, for a grace period after
// a rotation, the one it replaced, so that the administrator can paste the
// new key into the identity provider without a window of failed
// requests. A key may also expire on its own (Expires). An expired key is
// kept until the next rotation or a revoke, so that a request carrying it
// is told that it expired (and which provider it belongs to) rather than
// that it is unknown. Disabling and enabling a provider keeps the brief's
// rule: enabling makes a new key and every older one dies.

// Key is one security key of a provider. The key itself is never stored:
// only Hash (SHA-256) and Hint (its last four characters).
type Key struct {
	ID      string // short and random: what `provider revoke-key` names
	Hash    []byte
	Hint    string
	Created time.Time
	// Expires is when the key stops authenticating; zero for never. A
	// rotation sets it to the end of the grace period.
	Expires time.Time
	// Replaced is when a rotation replaced the key; zero for a current key.
	Replaced time.Time
	// LastUsed is the time of the newest request it authenticated, as the
	// provisioning log's batches record it (coarse: one write a batch, not
	// one a request); zero if never.
	LastUsed time.Time
}

// Expired reports whether the key no longer authenticates at now.
func (k *Key) Expired(now time.Time) bool { return !k.Expires.IsZero() && !now.Before(k.Expires) }

// State names where the key is in its life at now: "active", "grace" (a
// rotation replaced it; it works until Expires) or "expired".
func (k *Key) State(now time.Time) string {
	switch {
	case k.Expired(now):
		return "expired"
	case !k.Replaced.IsZero():
		return "grace"
	default:
		return "active"
	}
}

// MaxLiveKeys is how many keys of a provider may authenticate at once.
const MaxLiveKeys = 2

// DefaultGrace is how long a rotated-out key keeps working by default.
const DefaultGrace = 24 * time.Hour

// MaxKeyLifetime bounds --expires: a key must not outlive any sensible
// rotation policy by much.
const MaxKeyLifetime = 10 * 365 * 24 * time.Hour

// keyIDAlphabet spells key IDs: lowercase letters and digits, without the
// ones that read alike (0/o, 1/l/i).
const keyIDAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// newKeyID returns a random key ID such as "k7m2x9qfa": short enough to
// type, 40 bits so that two keys never share one in practice (the stores
// enforce it anyway).
func newKeyID() (string, error) {
	buf := make([]byte, 8)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generate key id: %w", err)
	}
	var b strings.Builder
	b.WriteByte('k')
	for _, c := range buf {
		b.WriteByte(keyIDAlphabet[int(c)%len(keyIDAlphabet)])
	}
	return b.String(), nil
}

// CurrentKey returns the newest key no rotation replaced, or nil.
func (p *Provider) CurrentKey() *Key {
	for i := len(p.Keys) - 1; i >= 0; i-- {
		if p.Keys[i].Replaced.IsZero() {
			return &p.Keys[i]
		}
	}
	return nil
}

// LiveKeys returns how many of the provider's keys authenticate at now.
func (p *Provider) LiveKeys(now time.Time) int {
	n := 0
	for i := range p.Keys {
		if !p.Keys[i].Expired(now) {
			n++
		}
	}
	return n
}

// KeyOptions shape the key a provider gets (when it is added enabled,
// enabled, or rotated).
type KeyOptions struct {
	// Lifetime makes the new key expire that long after its creation; 0
	// for a key that never expires.
	Lifetime time.Duration
	// Grace is how long the keys a rotation replaces keep working; 0 kills
	// them at once (a compromised key). Only RotateKey reads it.
	Grace time.Duration
}

func (o KeyOptions) check() error {
	switch {
	case o.Lifetime < 0:
		return Errorf(EINVALID, "the key lifetime must be positive (or 0 for a key that never expires)")
	case o.Lifetime > 0 && o.Lifetime < time.Second:
		return Errorf(EINVALID, "the key lifetime must be at least a second, got %s", o.Lifetime)
	case o.Lifetime > MaxKeyLifetime:
		return Errorf(EINVALID, "the key lifetime must be at most 10 years, got %s", o.Lifetime)
	case o.Grace < 0:
		return Errorf(EINVALID, "the grace period must be positive (or 0 to stop the old key at once)")
	case o.Grace > 30*24*time.Hour:
		return Errorf(EINVALID, "the grace period must be at most 30 days, got %s", o.Grace)
	}
	return nil
}

// addKey gives p a new current key made at now, returned once in clear.
func addKey(p *Provider, now time.Time, o KeyOptions) (string, error) {
	key, hash, hint, err := newKey()
	if err != nil {
		return "", err
	}
	id, err := newKeyID()
	if err != nil {
		return "", err
	}
	k := Key{ID: id, Hash: hash, Hint: hint, Created: now}
	if o.Lifetime > 0 {
		k.Expires = now.Add(o.Lifetime).Truncate(time.Millisecond)
	}
	p.Keys = append(p.Keys, k)
	return key, nil
}

// rotateKey gives the enabled provider called name a new key. The keys it
// replaces keep working for o.Grace (at most until their own expiry);
// with Grace 0 they stop at once and are removed. Expired keys are
// removed. ECONFLICT when a key is still in the grace period of an
// earlier rotation (a third live key): revoke it or rotate with Grace 0.
// EINVALID for a disabled provider, which gets its new key by being
// enabled.
func (s *Service) rotateKey(ctx context.Context, name string, o KeyOptions) (*Provider, string, error) {
	if err := o.check(); err != nil {
		return nil, "", err
	}
	// Authenticate must not keep using the provider as it was.
	defer s.forgetProviders()
	p, err := s.Provider(ctx, name)
	if err != nil {
		return nil, "", err
	}
	if !p.Enabled {
		return nil, "", Errorf(EINVALID, "provider %s is disabled: enable it to get a new key", p.Name)
	}
	now := s.now()
	p.Keys = slices.DeleteFunc(p.Keys, func(k Key) bool { return k.Expired(now) })
	if o.Grace == 0 {
		p.Keys = nil
	}
	for i := range p.Keys {
		k := &p.Keys[i]
		if !k.Replaced.IsZero() {
			return nil, "", Errorf(ECONFLICT,
				"provider %s already has a key in its grace period (%s, until %s): a rotation would leave three live keys; "+
					"revoke it with kacescim provider revoke-key %s %s, or rotate with --grace 0 to stop every old key at once",
				p.Name, k.ID, k.Expires.Format(time.RFC3339), p.Name, k.ID)
		}
		k.Replaced = now
		if end := now.Add(o.Grace); k.Expires.IsZero() || end.Before(k.Expires) {
			k.Expires = end
		}
	}
	key, err := addKey(p, now, o)
	if err != nil {
		return nil, "", err
	}
	p.Updated = now
	if err := s.Store.UpdateProvider(ctx, p); err != nil {
		return nil, "", err
	}
	return p, key, nil
}

// revokeKey removes the key keyID (or the unique key whose hint it is) of
// the provider called name: it stops working at once. ENOTFOUND if the
// provider has no such key. Revoking the last live key is allowed (a
// compromised key must die); the provider then authenticates nothing
// until it is rotated or re-enabled.
func (s *Service) revokeKey(ctx context.Context, name, keyID string) (*Provider, *Key, error) {
	defer s.forgetProviders()
	p, err := s.Provider(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	i, err := p.findKey(keyID)
	if err != nil {
		return nil, nil, err
	}
	k := p.Keys[i]
	p.Keys = slices.Delete(p.Keys, i, i+1)
	p.Updated = s.now()
	if err := s.Store.UpdateProvider(ctx, p); err != nil {
		return nil, nil, err
	}
	return p, &k, nil
}

// findKey returns the index of the key named by id or by its hint.
func (p *Provider) findKey(id string) (int, error) {
	id = strings.TrimSpace(id)
	i, n := indexByIDOrHint(p.Keys, func(k Key) (string, string) { return k.ID, k.Hint }, id, MaskedKeyNoHint)
	switch {
	case n == 1:
		return i, nil
	case n == 0:
		return 0, Errorf(ENOTFOUND, "provider %s has no key %q: kacescim provider keys %s lists them", p.Name, id, p.Name)
	default:
		return 0, Errorf(EINVALID, "%q is the hint of several keys of provider %s: name the key by its id (kacescim provider keys %s)", id, p.Name, p.Name)
	}
}

// indexByIDOrHint finds the credential (key or secret) that q names: by
// its id, else by its hint (its last four characters, q masked with mask
// or not). It returns the index and how many matched (1 for an id).
func indexByIDOrHint[T any](items []T, idHint func(T) (string, string), q, mask string) (int, int) {
	if i := slices.IndexFunc(items, func(x T) bool { id, _ := idHint(x); return id == q }); i >= 0 {
		return i, 1
	}
	hint := strings.TrimPrefix(q, mask)
	found, n := -1, 0
	for i, x := range items {
		if _, h := idHint(x); hint != "" && h == hint {
			found, n = i, n+1
		}
	}
	return found, n
}

// authKey returns the key of p whose hash is hash, compared in constant
// time, or nil.
func (p *Provider) authKey(hash []byte) *Key {
	var found *Key
	for i := range p.Keys {
		// Every key is compared, so that the time taken does not tell
		// which one matched.
		if constantTimeEqual(p.Keys[i].Hash, hash) {
			found = &p.Keys[i]
		}
	}
	return found
}
