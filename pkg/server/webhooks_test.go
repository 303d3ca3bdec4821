package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/server"
)

// receiver is a webhook receiver on loopback that fails its first
// failures requests (503), holds the next one past the delivery timeout,
// then accepts, keeping what it got.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	failures int
	hold     time.Duration
	got      []delivery
	requests int
	down     bool // answer 500 to everything
}

type delivery struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, failures int, hold time.Duration) *receiver {
	r := &receiver{failures: failures, hold: hold}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests++
		n, down := r.requests, r.down
		r.mu.Unlock()
		switch {
		case down:
			http.Error(w, "down", http.StatusInternalServerError)
		case n <= r.failures:
			http.Error(w, "not now", http.StatusServiceUnavailable)
		case n == r.failures+1 && r.hold > 0:
			time.Sleep(r.hold)
			w.WriteHeader(http.StatusAccepted)
		default:
			r.mu.Lock()
			r.got = append(r.got, delivery{req.Header.Clone(), body})
			r.mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// ids are the event ids delivered, in delivery order, each once.
func (r *receiver) ids() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int64
	for _, d := range r.got {
		id, _ := strconv.ParseInt(d.header.Get(server.WebhookEventIDHeader), 10, 64)
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// TestWebhookDelivery: a SET webhook and a JSON one, each with a receiver
// that fails, times out and recovers, get every event of the feed at
// least once, in order, validly signed (the SET verified with go-jose,
// the HMAC recomputed), while SCIM requests are answered meanwhile; the
// webhooks end with no failure on record.
func TestWebhookDelivery(t *testing.T) {
	e := newAdminEnv(t, server.Config{WebhookPoll: 20 * time.Millisecond, WebhookBackoff: 20 * time.Millisecond,
		WebhookTimeout: 300 * time.Millisecond, WebhookRetryWindow: time.Minute})
	ctx := t.Context()
	go e.srv.StartWebhooks(ctx)
	key := e.addOkta()
	setRecv, jsonRecv := newReceiver(t, 3, time.Second), newReceiver(t, 2, time.Second)
	dir := e.srv.Directory()
	setHook, err := dir.AddWebhook(ctx, setRecv.URL+"/events", directory.WebhookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	jsonHook, err := dir.AddWebhook(ctx, jsonRecv.URL+"/events", directory.WebhookOptions{Format: directory.WebhookJSON, Provider: "okta"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(setHook.Secret, directory.WebhookSecretPrefix) || setHook.Secret == jsonHook.Secret {
		t.Fatalf("secrets %q and %q", setHook.Secret, jsonHook.Secret)
	}

	var ids []string
	for i := range 5 {
		status, body := e.scim(key, "POST", "/Users", userBody(fmt.Sprintf("hook%d@example.com", i)))
		if status != 201 {
			t.Fatalf("create: %d %v", status, body)
		}
		ids = append(ids, body["id"].(string))
	}
	start := time.Now()
	if status, body := e.scim(key, "PATCH", "/Users/"+ids[0], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`); status != 200 {
		t.Fatalf("PATCH: %d %v", status, body)
	}
	if took := time.Since(start); took > 250*time.Millisecond {
		t.Errorf("a PATCH took %v while the receivers fail: deliveries must not delay SCIM answers", took)
	}
	members := `[{"value":"` + ids[1] + `"},{"value":"` + ids[2] + `"}]`
	if status, body := e.scim(key, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Hooked","members":`+members+`}`); status != 201 {
		t.Fatalf("group: %d %v", status, body)
	}

	feed, err := dir.Events(ctx, directory.EventQuery{After: 0, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, ev := range feed.Events {
		want = append(want, ev.Cursor)
	}
	if len(want) != 9 { // 5 created, 1 deactivated, the group, 2 members
		t.Fatalf("%d events in the feed: %v", len(want), want)
	}
	deadline := time.Now().Add(15 * time.Second)
	for (len(setRecv.ids()) < len(want) || len(jsonRecv.ids()) < len(want)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for name, r := range map[string]*receiver{"SET": setRecv, "JSON": jsonRecv} {
		if got := r.ids(); !slices.Equal(got, want) {
			t.Errorf("the %s receiver got events %v, want %v, in that order", name, got, want)
		}
	}

	// The SETs: HS256 with the secret, typ secevent+jwt, RFC 9967 events.
	setRecv.mu.Lock()
	for _, d := range setRecv.got {
		if ct := d.header.Get("Content-Type"); ct != "application/secevent+jwt" {
			t.Errorf("SET Content-Type %q", ct)
		}
		tok, err := jwt.ParseSigned(string(d.body), []jose.SignatureAlgorithm{jose.HS256})
		if err != nil {
			t.Errorf("a SET that does not parse: %v", err)
			continue
		}
		if typ := tok.Headers[0].ExtraHeaders["typ"]; typ != "secevent+jwt" {
			t.Errorf("SET typ %v", typ)
		}
		var claims struct {
			jwt.Claims
			Events map[string]json.RawMessage `json:"events"`
			SubID  map[string]string          `json:"sub_id"`
		}
		if err := tok.Claims([]byte(setHook.Secret), &claims); err != nil {
			t.Errorf("a SET whose signature does not verify with the secret: %v", err)
			continue
		}
		if claims.ID != d.header.Get(server.WebhookEventIDHeader) || claims.Issuer != "kacescim" || !slices.Contains(claims.Audience, setHook.URL) {
			t.Errorf("SET claims %+v", claims.Claims)
		}
		if _, ok := claims.Events[server.KacescimEventURI]; !ok || len(claims.Events) != 2 {
			t.Errorf("SET events %v", claims.Events)
		}
		if claims.SubID["format"] != "scim" || !strings.HasPrefix(claims.SubID["uri"], "/") {
			t.Errorf("SET sub_id %v", claims.SubID)
		}
		if err := tok.Claims([]byte("kcwhsec_not-the-secret"), &claims); err == nil {
			t.Error("a SET verified with another secret")
		}
	}
	first := setRecv.got[0]
	setRecv.mu.Unlock()
	var c struct {
		Events map[string]json.RawMessage `json:"events"`
	}
	tok, _ := jwt.ParseSigned(string(first.body), []jose.SignatureAlgorithm{jose.HS256})
	if tok != nil && tok.Claims([]byte(setHook.Secret), &c) == nil {
		if _, ok := c.Events["urn:ietf:params:SCIM:event:prov:create:notice"]; !ok {
			t.Errorf("the first SET (a user created): events %v", c.Events)
		}
	}

	// The JSON: HMAC-SHA256 of "t.body" with the secret, recomputed.
	jsonRecv.mu.Lock()
	for _, d := range jsonRecv.got {
		sig := d.header.Get(server.WebhookSignatureHeader)
		ts, v1, ok := strings.Cut(strings.TrimPrefix(sig, "t="), ",v1=")
		mac := hmac.New(sha256.New, []byte(jsonHook.Secret))
		mac.Write([]byte(ts + "."))
		mac.Write(d.body)
		if !ok || !hmac.Equal([]byte(v1), []byte(hex.EncodeToString(mac.Sum(nil)))) {
			t.Errorf("a JSON delivery whose signature %q does not verify", sig)
		}
		var ev struct {
			ID     string `json:"id"`
			Cursor int64  `json:"cursor"`
			Type   string `json:"type"`
		}
		if err := json.Unmarshal(d.body, &ev); err != nil || ev.ID != strconv.FormatInt(ev.Cursor, 10) || ev.Type == "" {
			t.Errorf("a JSON delivery: %s (%v)", d.body, err)
		}
	}
	jsonRecv.mu.Unlock()

	// No failure left on record; the retries are in the metrics.
	time.Sleep(100 * time.Millisecond)
	hooks, err := dir.Webhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range hooks {
		if w.State != directory.WebhookActive || w.Attempts != 0 || w.LastError != "" || w.Delivered != int64(len(want)) || w.Cursor != want[len(want)-1] {
			t.Errorf("webhook %s after the deliveries: %+v", w.ID, w)
		}
	}
}

// TestWebhookDeadAndReplay: a receiver that keeps failing past the retry
// window makes its webhook dead (no more tries); replayed from cursor 0
// once the receiver is back, it gets every event again, in order.
func TestWebhookDeadAndReplay(t *testing.T) {
	e := newAdminEnv(t, server.Config{WebhookPoll: 20 * time.Millisecond, WebhookBackoff: 20 * time.Millisecond,
		WebhookTimeout: 300 * time.Millisecond, WebhookRetryWindow: 200 * time.Millisecond})
	ctx := t.Context()
	go e.srv.StartWebhooks(ctx)
	key := e.addOkta()
	recv := newReceiver(t, 0, 0)
	recv.down = true
	dir := e.srv.Directory()
	hook, err := dir.AddWebhook(ctx, recv.URL, directory.WebhookOptions{Format: directory.WebhookJSON})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if status, body := e.scim(key, "POST", "/Users", userBody(fmt.Sprintf("dead%d@example.com", i))); status != 201 {
			t.Fatalf("create: %d %v", status, body)
		}
	}
	var w *directory.Webhook
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if w, err = dir.Webhook(ctx, hook.ID); err != nil {
			t.Fatal(err)
		}
		if w.State == directory.WebhookDead {
			break
		}
	}
	if w.State != directory.WebhookDead || w.Attempts < 2 || !strings.Contains(w.LastError, "500") || w.FailingSince.IsZero() {
		t.Fatalf("a webhook failing past its retry window: %+v", w)
	}
	recv.mu.Lock()
	tries := recv.requests
	recv.down = false
	recv.mu.Unlock()
	time.Sleep(200 * time.Millisecond)
	recv.mu.Lock()
	later := recv.requests
	recv.mu.Unlock()
	if later != tries {
		t.Errorf("a dead webhook was tried again: %d requests, %d when it died", later, tries)
	}
	if _, err := dir.ReplayWebhook(ctx, hook.ID, 0); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(recv.ids()) < 3 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	if got := recv.ids(); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("after the replay: %v, want [1 2 3]", got)
	}
	if _, err := dir.ReplayWebhook(ctx, hook.ID, 99); directory.ErrorCode(err) != directory.EINVALID {
		t.Errorf("a replay from beyond the feed: %v", err)
	}
}
