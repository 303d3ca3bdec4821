package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
)

// Webhook delivery. One server at a time delivers (the lease in the
// store, renewed before each POST, so that two replicas never send one
// subscriber's events at once); each webhook's events go one at a time,
// in cursor order, and its cursor moves past an event only once the
// receiver answered it 2xx: at least once, in order per subscriber, with
// the cursor as the event's id for de-duplication. A failure waits an
// exponential back-off with jitter before the next try; a webhook that
// keeps failing past the retry window is dead until `webhooks replay`.
// Delivery runs beside the SCIM requests and never in them: a receiver
// that is down or slow delays no SCIM answer.

// Defaults of the delivery.
const (
	DefaultWebhookTimeout     = 10 * time.Second
	DefaultWebhookRetryWindow = 24 * time.Hour
	webhookPoll               = 500 * time.Millisecond
	webhookBackoffMax         = 10 * time.Minute
	webhookBatch              = 100
	// The signature header of the json format and the ids beside it.
	WebhookSignatureHeader = "Kacescim-Signature"
	WebhookEventIDHeader   = "Kacescim-Event-Id"
	WebhookIDHeader        = "Kacescim-Webhook-Id"
)

// webhookConfig is the delivery's timing (Config's, or the defaults).
type webhookConfig struct {
	timeout, retryWindow, poll, backoff time.Duration
}

// StartWebhooks delivers the webhooks' events until ctx ends. Serve runs
// it; a server served otherwise (a test's httptest) starts it itself.
func (s *Server) StartWebhooks(ctx context.Context) {
	holder, err := randomHolder()
	if err != nil {
		s.log.Error("webhooks: no delivery", "err", err)
		return
	}
	c := s.webhookConfig()
	client := &http.Client{Timeout: c.timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	lease := c.timeout + 30*time.Second
	t := time.NewTicker(c.poll)
	defer t.Stop()
	d := &deliveries{busy: map[string]bool{}}
	defer d.wg.Wait()
	for {
		s.deliverRound(ctx, client, holder, lease, c, d)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// deliveries are the webhooks being delivered to now, each by a goroutine
// of its own: a receiver that hangs until the timeout delays only its own
// events, never another webhook's.
type deliveries struct {
	mu   sync.Mutex
	busy map[string]bool
	wg   sync.WaitGroup
}

// start runs deliver for the webhook id unless it is running already.
func (d *deliveries) start(id string, deliver func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy[id] {
		return
	}
	d.busy[id] = true
	d.wg.Go(func() {
		defer func() {
			d.mu.Lock()
			delete(d.busy, id)
			d.mu.Unlock()
		}()
		deliver()
	})
}

func (s *Server) webhookConfig() webhookConfig {
	c := webhookConfig{timeout: s.cfg.WebhookTimeout, retryWindow: s.cfg.WebhookRetryWindow, poll: s.cfg.WebhookPoll, backoff: s.cfg.WebhookBackoff}
	if c.timeout <= 0 {
		c.timeout = DefaultWebhookTimeout
	}
	if c.retryWindow <= 0 {
		c.retryWindow = DefaultWebhookRetryWindow
	}
	if c.poll <= 0 {
		c.poll = webhookPoll
	}
	if c.backoff <= 0 {
		c.backoff = time.Second
	}
	return c
}

func randomHolder() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// deliverRound starts the delivery of what each webhook that is due and
// not being delivered to has waiting: the webhooks side by side, each
// one's events one at a time, each POST under the lease.
func (s *Server) deliverRound(ctx context.Context, client *http.Client, holder string, lease time.Duration, c webhookConfig, d *deliveries) {
	st := s.dir.Store
	hooks, err := st.FindWebhooks(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhooks: list", "err", err)
		}
		return
	}
	now := time.Now()
	due := hooks[:0]
	for _, w := range hooks {
		if w.State == directory.WebhookActive && !now.Before(w.NextAttempt) {
			due = append(due, w)
		}
	}
	// The lease is taken before each POST (deliverHook), not here: a
	// server with nothing to send writes nothing.
	for _, w := range due {
		d.start(w.ID, func() { s.deliverHook(ctx, client, holder, lease, c, w) })
	}
}

// deliverHook sends w's events after its cursor, in order, until one
// fails or none is left, saving its state as it goes.
func (s *Server) deliverHook(ctx context.Context, client *http.Client, holder string, lease time.Duration, c webhookConfig, w *directory.Webhook) {
	page, err := s.dir.Events(ctx, directory.EventQuery{After: w.Cursor, ProviderID: w.ProviderID, Limit: webhookBatch})
	if directory.ErrorCode(err) == directory.EGONE {
		w.State, w.LastError = directory.WebhookDead, err.Error()
		s.saveHook(ctx, w)
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhooks: read the feed", "webhook", w.ID, "err", err)
		}
		return
	}
	saved := w.Cursor
	for _, e := range page.Events {
		if !w.Wants(e.Type) {
			w.Cursor = e.Cursor
			continue
		}
		if ok, err := s.dir.Store.TakeWebhookLease(ctx, holder, time.Now(), lease); err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				s.log.Warn("webhooks: lease", "err", err)
			}
			// Another server delivers now: keep what was skipped, and
			// leave the rest to it.
			if w.Cursor != saved {
				s.saveHook(ctx, w)
			}
			return
		}
		err := s.sendEvent(ctx, client, w, e)
		now := time.Now()
		if err != nil {
			s.metrics.webhooks.WithLabelValues("failed").Inc()
			w.Attempts++
			if w.FailingSince.IsZero() {
				w.FailingSince = now
			}
			w.LastError = clipText(err.Error(), 512)
			w.NextAttempt = now.Add(backoff(c.backoff, w.Attempts))
			if now.Sub(w.FailingSince) > c.retryWindow {
				w.State = directory.WebhookDead
			}
			s.log.Warn("webhook delivery failed", "webhook", w.ID, "cursor", e.Cursor, "attempts", w.Attempts, "state", w.State, "err", w.LastError)
			s.saveHook(ctx, w)
			return
		}
		s.metrics.webhooks.WithLabelValues("delivered").Inc()
		w.Cursor, w.Delivered = e.Cursor, w.Delivered+1
		w.Attempts, w.FailingSince, w.NextAttempt, w.LastError = 0, time.Time{}, time.Time{}, ""
		if !s.saveHook(ctx, w) {
			return
		}
		saved = w.Cursor
	}
	if page.Complete && page.Last > w.Cursor {
		w.Cursor = page.Last // nothing more for it up to the newest
	}
	if w.Cursor != saved {
		s.saveHook(ctx, w)
	}
}

// saveHook writes w's state and reports whether it did: a replay or a
// removal meanwhile wins, and the next round starts from it.
func (s *Server) saveHook(ctx context.Context, w *directory.Webhook) bool {
	err := s.dir.Store.SaveWebhook(ctx, w)
	if err != nil && ctx.Err() == nil && directory.ErrorCode(err) != directory.ESTALE && directory.ErrorCode(err) != directory.ENOTFOUND {
		s.log.Warn("webhooks: save", "webhook", w.ID, "err", err)
	}
	return err == nil
}

// backoff is the wait before try n+1: base·2^(n-1), at most
// webhookBackoffMax, with full jitter in its upper half.
func backoff(base time.Duration, n int) time.Duration {
	d := webhookBackoffMax
	if n < 30 {
		d = min(base<<(n-1), webhookBackoffMax)
	}
	j, err := rand.Int(rand.Reader, big.NewInt(int64(d/2)+1))
	if err != nil {
		return d
	}
	return d/2 + time.Duration(j.Int64())
}

// sendEvent POSTs e to w in w's format and is nil for a 2xx answer.
func (s *Server) sendEvent(ctx context.Context, client *http.Client, w *directory.Webhook, e *directory.Event) error {
	ae, err := adminEvent(e)
	if err != nil {
		return err
	}
	var (
		body        []byte
		contentType string
		now         = time.Now()
	)
	switch w.Format {
	case directory.WebhookJSON:
		body, err = json.Marshal(struct {
			ID string `json:"id"`
			adminapi.Event
		}{strconv.FormatInt(e.Cursor, 10), ae})
		contentType = "application/json"
	default:
		var token string
		token, err = s.securityEventToken(w, e, ae, now)
		body, contentType = []byte(token), "application/secevent+jwt"
	}
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "kacescim-webhooks")
	req.Header.Set(WebhookIDHeader, w.ID)
	req.Header.Set(WebhookEventIDHeader, strconv.FormatInt(e.Cursor, 10))
	if w.Format == directory.WebhookJSON {
		req.Header.Set(WebhookSignatureHeader, WebhookSignature(w.Secret, now, body))
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", w.URL, err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("POST %s: %s", w.URL, res.Status)
	}
	return nil
}

// WebhookSignature is the json format's signature header: t, the unix
// time it was signed at, and v1, the hex HMAC-SHA256 of "t.body" with
// the secret. A receiver recomputes v1 and refuses an old t.
func WebhookSignature(secret string, at time.Time, body []byte) string {
	t := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t + "."))
	mac.Write(body)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// RFC 9967's provisioning events, by the feed's event types.
var setEventURIs = map[string]string{
	directory.EventUserCreated:        "urn:ietf:params:SCIM:event:prov:create:notice",
	directory.EventUserUpdated:        "urn:ietf:params:SCIM:event:prov:patch:notice",
	directory.EventUserActivated:      "urn:ietf:params:SCIM:event:prov:activate",
	directory.EventUserDeactivated:    "urn:ietf:params:SCIM:event:prov:deactivate",
	directory.EventUserDeleted:        "urn:ietf:params:SCIM:event:prov:delete",
	directory.EventGroupCreated:       "urn:ietf:params:SCIM:event:prov:create:notice",
	directory.EventGroupRenamed:       "urn:ietf:params:SCIM:event:prov:patch:notice",
	directory.EventGroupDeleted:       "urn:ietf:params:SCIM:event:prov:delete",
	directory.EventGroupMemberAdded:   "urn:ietf:params:SCIM:event:prov:patch:notice",
	directory.EventGroupMemberRemoved: "urn:ietf:params:SCIM:event:prov:patch:notice",
}

// KacescimEventURI is the SET event that carries the feed's own event
// (its type, user, group and field changes) beside RFC 9967's.
const KacescimEventURI = "urn:kacescim:params:event:directory"

// securityEventToken is e as an RFC 9967 Security Event Token signed with
// w's secret (HS256, typ secevent+jwt): jti is the feed cursor (the same
// on every try), aud the webhook's URL, sub_id the SCIM resource.
func (s *Server) securityEventToken(w *directory.Webhook, e *directory.Event, ae adminapi.Event, now time.Time) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(w.Secret)},
		(&jose.SignerOptions{}).WithType("secevent+jwt"))
	if err != nil {
		return "", err
	}
	uri := "/Users/" + e.UserID
	attributes := []string{}
	for _, c := range ae.Changes {
		attributes = append(attributes, c.Field)
	}
	if strings.HasPrefix(e.Type, "group.") {
		uri, attributes = "/Groups/"+e.GroupID, []string{"displayName"}
		if e.Type == directory.EventGroupMemberAdded || e.Type == directory.EventGroupMemberRemoved {
			attributes = []string{"members"}
		}
	}
	ref := uri
	if s.cfg.PublicURL != "" {
		ref = s.cfg.PublicURL + SCIMPrefix + uri
	}
	prov := map[string]any{"ref": ref}
	if setEventURIs[e.Type] == "urn:ietf:params:SCIM:event:prov:patch:notice" || setEventURIs[e.Type] == "urn:ietf:params:SCIM:event:prov:create:notice" {
		prov["attributes"] = attributes
	}
	claims := map[string]any{
		"iss":    "kacescim",
		"iat":    now.Unix(),
		"jti":    strconv.FormatInt(e.Cursor, 10),
		"aud":    w.URL,
		"toe":    e.Time.Unix(),
		"sub_id": map[string]any{"format": "scim", "uri": uri},
		"events": map[string]any{setEventURIs[e.Type]: prov, KacescimEventURI: ae},
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}
