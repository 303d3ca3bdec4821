package directory_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

// memStore keeps providers in memory. It implements only the provider half
// of directory.Store; the embedded nil interface makes any other call panic,
// which is what a test of provider management wants.
type memStore struct {
	directory.Store
	mu        sync.Mutex
	providers map[string]directory.Provider // by ID
}

func newMemStore() *memStore { return &memStore{providers: map[string]directory.Provider{}} }

func (m *memStore) CreateProvider(_ context.Context, p *directory.Provider) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, q := range m.providers {
		if strings.EqualFold(q.Name, p.Name) {
			return directory.Errorf(directory.ECONFLICT, "provider name taken")
		}
	}
	m.providers[p.ID] = clone(p)
	return nil
}

func (m *memStore) FindProviderByID(_ context.Context, id string) (*directory.Provider, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.providers[id]
	if !ok {
		return nil, directory.Errorf(directory.ENOTFOUND, "not found")
	}
	c := clone(&p)
	return &c, nil
}

func (m *memStore) find(match func(*directory.Provider) bool) (*directory.Provider, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.providers {
		if match(&p) {
			c := clone(&p)
			return &c, nil
		}
	}
	return nil, directory.Errorf(directory.ENOTFOUND, "not found")
}

func (m *memStore) FindProviderByName(_ context.Context, name string) (*directory.Provider, error) {
	return m.find(func(p *directory.Provider) bool { return strings.EqualFold(p.Name, name) })
}

func (m *memStore) FindProviderByKeyHash(_ context.Context, hash []byte) (*directory.Provider, error) {
	return m.find(func(p *directory.Provider) bool {
		return len(hash) > 0 && slices.ContainsFunc(p.Keys, func(k directory.Key) bool { return bytes.Equal(k.Hash, hash) })
	})
}

func (m *memStore) FindProviders(context.Context) ([]*directory.Provider, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ps []*directory.Provider
	for _, p := range m.providers {
		c := clone(&p)
		ps = append(ps, &c)
	}
	slices.SortFunc(ps, func(a, b *directory.Provider) int { return strings.Compare(a.Name, b.Name) })
	return ps, nil
}

func (m *memStore) UpdateProvider(_ context.Context, p *directory.Provider) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.providers[p.ID]; !ok {
		return directory.Errorf(directory.ENOTFOUND, "not found")
	}
	m.providers[p.ID] = clone(p)
	return nil
}

func (m *memStore) DeleteProvider(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.providers[id]; !ok {
		return directory.Errorf(directory.ENOTFOUND, "not found")
	}
	delete(m.providers, id)
	return nil
}

func clone(p *directory.Provider) directory.Provider {
	c := *p
	c.Keys = slices.Clone(p.Keys)
	return c
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newService() (*directory.Service, *memStore) {
	st := newMemStore()
	return &directory.Service{Store: st, Now: func() time.Time { return t0 }}, st
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := directory.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func checkKey(t *testing.T, key string, p *directory.Provider) {
	t.Helper()
	if !strings.HasPrefix(key, directory.KeyPrefix) || len(key) != len(directory.KeyPrefix)+43 {
		t.Fatalf("key %q: want kcs_ and 43 characters", key)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(key, directory.KeyPrefix))
	if err != nil || len(raw) != 32 {
		t.Fatalf("key %q does not carry 256 bits: %v", key, err)
	}
	k := p.CurrentKey()
	if k == nil {
		t.Fatalf("provider %s has no current key", p.Name)
	}
	sum := sha256.Sum256([]byte(key))
	if !bytes.Equal(k.Hash, sum[:]) {
		t.Fatalf("the key's Hash is not the SHA-256 of the key")
	}
	if k.Hint != key[len(key)-4:] {
		t.Fatalf("Hint = %q, want the last 4 characters of %q", k.Hint, key)
	}
}

func TestValidateProviderName(t *testing.T) {
	for _, name := range []string{"Okta", "Entra ID", "okta-prod_2.eu", "Ökta", "1", strings.Repeat("a", 64)} {
		if err := directory.ValidateProviderName(name); err != nil {
			t.Errorf("ValidateProviderName(%q) = %v, want nil", name, err)
		}
	}
	for name, want := range map[string]string{
		"":                      "empty",
		strings.Repeat("a", 65): "65 characters long: the limit is 64",
		"a/b":                   `contains '/'`,
		"okta?":                 `contains '?'`,
		"..":                    "must start with a letter or a digit",
		" Okta":                 "must start with a letter or a digit",
		"Okta ":                 "must not end with a space",
		"tab\there":             `contains '\t'`,
	} {
		err := directory.ValidateProviderName(name)
		wantCode(t, err, directory.EINVALID)
		if !strings.Contains(directory.ErrorMessage(err), want) {
			t.Errorf("ValidateProviderName(%q) = %q, want it to mention %q", name, directory.ErrorMessage(err), want)
		}
	}
}

func TestAddProvider(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService()

	p, key, err := svc.AddProvider(ctx, "Okta", true)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enabled || p.ID == "" || !p.Created.Equal(t0) || !p.Updated.Equal(t0) {
		t.Fatalf("provider = %+v", p)
	}
	checkKey(t, key, p)

	q, key, err := svc.AddProvider(ctx, "Entra", false)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" || q.Enabled || q.HasKey() || q.CurrentKey() != nil {
		t.Fatalf("disabled provider got a key: %q %+v", key, q)
	}
	if q.ID == p.ID {
		t.Fatal("two providers share an ID")
	}

	_, _, err = svc.AddProvider(ctx, "okta", true)
	wantCode(t, err, directory.ECONFLICT)
	if msg := directory.ErrorMessage(err); msg != `a provider named "okta" already exists` {
		t.Fatalf("conflict message = %q", msg)
	}
	_, _, err = svc.AddProvider(ctx, "bad/name", true)
	wantCode(t, err, directory.EINVALID)

	ps, err := svc.Providers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "Entra" || ps[1].Name != "Okta" {
		t.Fatalf("Providers = %v", ps)
	}
}

func TestProviderNotFound(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService()
	_, err := svc.Provider(ctx, "Nope")
	wantCode(t, err, directory.ENOTFOUND)
	if msg := directory.ErrorMessage(err); msg != `no provider named "Nope"` {
		t.Fatalf("message = %q", msg)
	}
	_, _, err = svc.EnableProvider(ctx, "Nope")
	wantCode(t, err, directory.ENOTFOUND)
	_, err = svc.DisableProvider(ctx, "Nope")
	wantCode(t, err, directory.ENOTFOUND)
	_, _, err = svc.RotateKey(ctx, "Nope", directory.KeyOptions{})
	wantCode(t, err, directory.ENOTFOUND)
	_, _, err = svc.RevokeKey(ctx, "Nope", "k1")
	wantCode(t, err, directory.ENOTFOUND)
	wantCode(t, svc.RemoveProvider(ctx, "Nope"), directory.ENOTFOUND)
}

// TestKeyLifecycle follows KACE Cloud's key rules: disable answers 403 to the old key,
// enable issues a new key and the old one gets 401, rotate likewise.
func TestKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService()
	_, first, err := svc.AddProvider(ctx, "Okta", true)
	if err != nil {
		t.Fatal(err)
	}
	auth := func(h string) (*directory.Provider, error) { return svc.Authenticate(ctx, h) }

	if p, err := auth("Bearer " + first); err != nil || p.Name != "Okta" {
		t.Fatalf("Authenticate(Bearer key) = %v, %v", p, err)
	}

	// Enabling an enabled provider changes nothing.
	if _, key, err := svc.EnableProvider(ctx, "okta"); err != nil || key != "" {
		t.Fatalf("EnableProvider(enabled) = %q, %v; want no new key", key, err)
	}
	if _, err := auth("Bearer " + first); err != nil {
		t.Fatalf("key stopped working after a no-op enable: %v", err)
	}

	p, err := svc.DisableProvider(ctx, "Okta")
	if err != nil || p.Enabled || !p.HasKey() {
		t.Fatalf("DisableProvider = %+v, %v; want disabled with its key hash kept", p, err)
	}
	_, err = auth("Bearer " + first)
	wantCode(t, err, directory.EFORBIDDEN)
	if msg := directory.ErrorMessage(err); msg != "provider Okta is disabled: enable it in kacescim to resume provisioning" {
		t.Fatalf("forbidden message = %q", msg)
	}
	if _, err := svc.DisableProvider(ctx, "Okta"); err != nil {
		t.Fatalf("disabling twice: %v", err)
	}

	_, _, err = svc.RotateKey(ctx, "Okta", directory.KeyOptions{})
	wantCode(t, err, directory.EINVALID)
	if msg := directory.ErrorMessage(err); msg != "provider Okta is disabled: enable it to get a new key" {
		t.Fatalf("rotate message = %q", msg)
	}

	p, second, err := svc.EnableProvider(ctx, "Okta")
	if err != nil || !p.Enabled {
		t.Fatalf("EnableProvider = %+v, %v", p, err)
	}
	checkKey(t, second, p)
	if second == first {
		t.Fatal("enable reused the old key")
	}
	_, err = auth("Bearer " + first)
	wantCode(t, err, directory.EUNAUTHORIZED)
	if _, err := auth("Bearer " + second); err != nil {
		t.Fatalf("new key after enable: %v", err)
	}

	p, third, err := svc.RotateKey(ctx, "Okta", directory.KeyOptions{}) // no grace: the old key dies at once
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, third, p)
	if len(p.Keys) != 1 {
		t.Errorf("a rotation without grace left %d keys", len(p.Keys))
	}
	_, err = auth("Bearer " + second)
	wantCode(t, err, directory.EUNAUTHORIZED)
	if _, err := auth("Bearer " + third); err != nil {
		t.Fatalf("new key after rotate: %v", err)
	}

	if err := svc.RemoveProvider(ctx, "OKTA"); err != nil {
		t.Fatal(err)
	}
	_, err = auth("Bearer " + third)
	wantCode(t, err, directory.EUNAUTHORIZED)
}

func TestAuthenticateHeaderForms(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService()
	_, key, err := svc.AddProvider(ctx, "Okta", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Bearer " + key, "bearer " + key, "BEARER  " + key + " ", key} {
		if _, err := svc.Authenticate(ctx, h); err != nil {
			t.Errorf("Authenticate(%q) = %v", strings.Replace(h, key, "KEY", 1), err)
		}
	}
	for h, want := range map[string]string{
		"":                           "missing Authorization header: send Authorization: Bearer <security key>",
		"   ":                        "missing Authorization header: send Authorization: Bearer <security key>",
		"Bearer ":                    "missing Authorization header: send Authorization: Bearer <security key>",
		"Bearer kcs_wrong":           "invalid security key",
		"kcs_wrong":                  "invalid security key",
		"Basic dXNlcjpwYXNz":         "unsupported Authorization scheme: send Authorization: Bearer <security key>",
		"Bearer " + key + "x":        "invalid security key",
		"Bearer " + key[:len(key)-1]: "invalid security key",
	} {
		_, err := svc.Authenticate(ctx, h)
		wantCode(t, err, directory.EUNAUTHORIZED)
		msg := directory.ErrorMessage(err)
		if msg != want {
			t.Errorf("Authenticate(%q) message = %q, want %q", h, msg, want)
		}
		if strings.Contains(msg, "kcs_") {
			t.Errorf("error message %q echoes a key", msg)
		}
	}
}

// A provider that was never enabled has no key hash; an empty or bogus key
// must not match it.
func TestAuthenticateNeverEnabled(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService()
	if _, _, err := svc.AddProvider(ctx, "Okta", false); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Authenticate(ctx, "Bearer kcs_x")
	wantCode(t, err, directory.EUNAUTHORIZED)
}

func TestMaskKey(t *testing.T) {
	if got := directory.MaskKey("a1B2"); got != "kcs_••••••••a1B2" {
		t.Fatalf("MaskKey = %q", got)
	}
	if got := directory.MaskKey(""); got != "" {
		t.Fatalf("MaskKey(\"\") = %q, want empty", got)
	}
}

func TestKeysAreUnique(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService()
	if _, _, err := svc.AddProvider(ctx, "Okta", true); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 50 {
		_, key, err := svc.RotateKey(ctx, "Okta", directory.KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if seen[key] {
			t.Fatal("RotateKey repeated a key")
		}
		seen[key] = true
	}
}

func TestProviderOptions(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService()
	strict, rate := true, 25.0
	p, _, err := svc.AddProvider(ctx, "entra", true, directory.ProviderOptions{Strict: &strict, RateLimit: &rate})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Strict || p.RateLimit != 25 {
		t.Errorf("AddProvider options: strict %v, rate %v", p.Strict, p.RateLimit)
	}
	off := false
	p, err = svc.SetProviderOptions(ctx, "entra", directory.ProviderOptions{Strict: &off})
	if err != nil || p.Strict || p.RateLimit != 25 {
		t.Errorf("SetProviderOptions: %+v, %v", p, err)
	}
	for _, bad := range []float64{-1, math.NaN(), directory.MaxRateLimit + 1} {
		bad := bad
		if _, err := svc.SetProviderOptions(ctx, "entra", directory.ProviderOptions{RateLimit: &bad}); directory.ErrorCode(err) != directory.EINVALID {
			t.Errorf("rate %v accepted: %v", bad, err)
		}
	}
}

// TestKeyRotationGrace: a rotation keeps the old key working for its
// grace period, then refuses it with a detail that says why; at most two
// keys live at once; expiry, revoke by id and by hint; enable kills every
// older key.
func TestKeyRotationGrace(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService()
	now := t0
	svc.Now = func() time.Time { return now }
	_, first, err := svc.AddProvider(ctx, "Okta", true)
	if err != nil {
		t.Fatal(err)
	}
	auth := func(key string) (*directory.Provider, *directory.Key, error) {
		return svc.AuthenticateKey(ctx, "Bearer "+key)
	}
	p, second, err := svc.RotateKey(ctx, "Okta", directory.KeyOptions{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, second, p)
	if len(p.Keys) != 2 || p.Keys[0].State(now) != "grace" || !p.Keys[0].Expires.Equal(now.Add(time.Hour)) || p.Keys[1].State(now) != "active" {
		t.Fatalf("keys after a rotation with grace: %+v", p.Keys)
	}
	for _, k := range []string{first, second} {
		if _, key, err := auth(k); err != nil || key == nil {
			t.Fatalf("a key in the grace period: %v", err)
		}
	}
	_, k1, _ := auth(first)
	_, k2, _ := auth(second)
	if k1.ID == k2.ID || k1.ID == "" {
		t.Fatalf("key ids %q and %q", k1.ID, k2.ID)
	}

	// A third live key is refused, with what to do instead.
	_, _, err = svc.RotateKey(ctx, "Okta", directory.KeyOptions{Grace: time.Hour})
	wantCode(t, err, directory.ECONFLICT)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, "kacescim provider revoke-key Okta "+k1.ID) || !strings.Contains(msg, "--grace 0") {
		t.Errorf("third key message = %q", msg)
	}

	// The grace period ends: the old key is refused, as expired, and the
	// provider is named so that the log can show whose key it was.
	now = now.Add(time.Hour)
	got, key, err := auth(first)
	wantCode(t, err, directory.EUNAUTHORIZED)
	if !directory.IsExpired(err) || got == nil || got.Name != "Okta" || key == nil || key.ID != k1.ID {
		t.Fatalf("the key after its grace period: %v, %v, %v", got, key, err)
	}
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, "grace period ended at 2025-03-01T13:00:00Z") || strings.Contains(msg, first) {
		t.Errorf("grace over message = %q", msg)
	}
	if _, _, err := auth(second); err != nil {
		t.Fatal(err)
	}

	// The next rotation drops the expired key and replaces the second.
	p, third, err := svc.RotateKey(ctx, "Okta", directory.KeyOptions{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Keys) != 2 || p.Keys[0].ID != k2.ID {
		t.Fatalf("keys after the second rotation: %+v", p.Keys)
	}
	if _, _, err := auth(first); directory.IsExpired(err) || directory.ErrorCode(err) != directory.EUNAUTHORIZED {
		t.Errorf("a dropped key: %v, want an unknown key", err)
	}

	// Revoke by id: dead at once, as an unknown key.
	p, revoked, err := svc.RevokeKey(ctx, "okta", k2.ID)
	if err != nil || revoked.ID != k2.ID || len(p.Keys) != 1 {
		t.Fatalf("RevokeKey = %+v, %+v, %v", p, revoked, err)
	}
	if _, _, err := auth(second); directory.ErrorCode(err) != directory.EUNAUTHORIZED || directory.IsExpired(err) {
		t.Errorf("a revoked key: %v", err)
	}
	_, _, err = svc.RevokeKey(ctx, "okta", k2.ID)
	wantCode(t, err, directory.ENOTFOUND)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, "kacescim provider keys Okta") {
		t.Errorf("unknown key message = %q", msg)
	}

	// Revoke by hint (the last four characters), the last live key too.
	if _, _, err := svc.RevokeKey(ctx, "okta", third[len(third)-4:]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth(third); directory.ErrorCode(err) != directory.EUNAUTHORIZED {
		t.Errorf("a key revoked by its hint: %v", err)
	}

	// A key with a lifetime expires on its own.
	p, fourth, err := svc.RotateKey(ctx, "Okta", directory.KeyOptions{Lifetime: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !p.CurrentKey().Expires.Equal(now.Add(90 * 24 * time.Hour)) {
		t.Errorf("Expires = %v", p.CurrentKey().Expires)
	}
	now = now.Add(90*24*time.Hour - time.Millisecond)
	if _, _, err := auth(fourth); err != nil {
		t.Fatalf("a key a millisecond before it expires: %v", err)
	}
	now = now.Add(time.Millisecond)
	_, _, err = auth(fourth)
	if !directory.IsExpired(err) || !strings.Contains(directory.ErrorMessage(err), "expired at 2025-05-30T13:00:00Z: rotate it") {
		t.Errorf("an expired key: %v", err)
	}

	// Disable and enable: a new key, every older one gone.
	if _, _, err := svc.RotateKey(ctx, "Okta", directory.KeyOptions{Grace: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DisableProvider(ctx, "Okta"); err != nil {
		t.Fatal(err)
	}
	p, fifth, err := svc.EnableProvider(ctx, "Okta")
	if err != nil || len(p.Keys) != 1 {
		t.Fatalf("EnableProvider = %+v, %v", p, err)
	}
	checkKey(t, fifth, p)

	for _, o := range []directory.KeyOptions{{Grace: -time.Second}, {Lifetime: 30 * time.Millisecond}, {Lifetime: -time.Hour},
		{Grace: 31 * 24 * time.Hour}, {Lifetime: 11 * 365 * 24 * time.Hour}} {
		_, _, err := svc.RotateKey(ctx, "Okta", o)
		wantCode(t, err, directory.EINVALID)
	}
	_, _, err = svc.AddProvider(ctx, "Entra", true, directory.ProviderOptions{Key: &directory.KeyOptions{Grace: time.Hour}})
	wantCode(t, err, directory.EINVALID)
	p, _, err = svc.AddProvider(ctx, "Entra", true, directory.ProviderOptions{Key: &directory.KeyOptions{Lifetime: time.Hour}})
	if err != nil || !p.CurrentKey().Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("AddProvider with a key lifetime = %+v, %v", p, err)
	}
}
