package directory

import (
	"sync"
	"time"
)

// The providers that keys authenticated lately, by key hash. Every SCIM
// request authenticates, and the provider's row changes only when an
// admin changes it: a second of memory saves a database lookup on nearly
// every request. A change made through this Service (disable, key
// rotation, options, removal) empties the memo at once. Only a store no
// other process writes (SQLite) gets a memo: replicas on PostgreSQL look
// every key up, so that a key disabled through one is refused by the
// others on their next request; should a second process write the same
// SQLite file anyway, it sees such a change within providerTTL. Unknown
// keys are never remembered, so a guessed key always costs a lookup and
// never fills the memo.

// providerTTL is how long an authenticated provider is reused.
const providerTTL = time.Second

// maxAuthMemo bounds the memo; past it, it starts afresh.
const maxAuthMemo = 256

type authMemo struct {
	mu  sync.Mutex
	m   map[string]authMemoEntry
	gen uint64 // bumped by forget, so that a lookup begun before it is not kept
}

type authMemoEntry struct {
	p   Provider
	tok *AccessToken // set for an access token's entry
	at  time.Time
}

func newAuthMemo() *authMemo { return &authMemo{m: map[string]authMemoEntry{}} }

// get returns a copy of the provider hash authenticated less than
// providerTTL ago (and of the access token, when hash is a token's; nil
// for a key's), and the generation to put a fresh lookup with.
func (a *authMemo) get(hash []byte, now time.Time) (*Provider, *AccessToken, uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[string(hash)]
	if !ok || now.Sub(e.at) >= providerTTL || now.Before(e.at) {
		return nil, nil, a.gen
	}
	p := e.p
	var t *AccessToken
	if e.tok != nil {
		c := *e.tok
		t = &c
	}
	return &p, t, a.gen
}

// put remembers p (and t, for an access token) for hash, unless forget
// ran since gen was read.
func (a *authMemo) put(hash []byte, p *Provider, t *AccessToken, gen uint64, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if gen != a.gen {
		return
	}
	if len(a.m) >= maxAuthMemo {
		clear(a.m)
	}
	e := authMemoEntry{p: *p, at: now}
	if t != nil {
		c := *t
		e.tok = &c
	}
	a.m[string(hash)] = e
}

// forget empties the memo: a provider changed.
func (a *authMemo) forget() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	clear(a.m)
}
