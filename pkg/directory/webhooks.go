package directory

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhook formats: how an event is sent.
const (
	// WebhookSET sends each event as an RFC 9967 Security Event Token: a
	// JWT signed with the webhook's secret (HS256), typ secevent+jwt,
	// POSTed as application/secevent+jwt (RFC 8935).
	WebhookSET = "set"
	// WebhookJSON sends each event as JSON with an HMAC-SHA256 signature
	// of a timestamp and the body (the Polis and WorkOS shape).
	WebhookJSON = "json"
)

// Webhook states.
const (
	WebhookActive = "active"
	// WebhookDead is a webhook whose deliveries failed for longer than
	// the retry window (or whose cursor was pruned): it is left alone
	// until `webhooks replay` starts it again.
	WebhookDead = "dead"
)

// WebhookSecretPrefix starts every webhook signing secret.
const WebhookSecretPrefix = "kcwhsec_"

// Webhook is a subscriber of the change feed: the server POSTs it every
// event it selects, in cursor order, one at a time, and moves Cursor past
// each one the receiver accepted (2xx): at least once, in order.
type Webhook struct {
	ID         string
	URL        string
	ProviderID string   // "" for every provider
	Types      []string // the event types it wants; nil for all
	Format     string
	// Secret signs the deliveries (the HMAC key of both formats). The
	// server must sign with it, so it is kept as it is, like a private
	// key; it is shown once, when the webhook is added.
	Secret  string
	Created time.Time

	// Delivery state, which the delivery worker moves.
	Cursor       int64  // the feed cursor delivered through
	State        string // WebhookActive or WebhookDead
	Attempts     int    // failed attempts since the last success
	NextAttempt  time.Time
	FailingSince time.Time // the first failure since the last success
	LastError    string
	Delivered    int64 // events delivered since it was added
	// Rev is the row's revision: SaveWebhook writes only if it is still
	// the stored one (ESTALE otherwise), so that a replay and the
	// worker's progress cannot undo each other.
	Rev int64
}

// Wants reports whether the webhook selects events of type typ.
func (w *Webhook) Wants(typ string) bool {
	return len(w.Types) == 0 || slices.Contains(w.Types, typ)
}

// WebhookStore keeps the webhooks. Store embeds it.
type WebhookStore interface {
	// CreateWebhook inserts w (Rev 0); ENOTFOUND if its provider does
	// not exist.
	CreateWebhook(ctx context.Context, w *Webhook) error
	// FindWebhooks returns every webhook, oldest first.
	FindWebhooks(ctx context.Context) ([]*Webhook, error)
	// SaveWebhook writes w's delivery state if the stored Rev is still
	// w.Rev (ESTALE otherwise), then increments w.Rev; ENOTFOUND if gone.
	SaveWebhook(ctx context.Context, w *Webhook) error
	// DeleteWebhook removes it; ENOTFOUND if none.
	DeleteWebhook(ctx context.Context, id string) error
	// TakeWebhookLease makes holder the one deliverer until now+ttl if
	// the lease is free, expired or already holder's, and reports whether
	// it is holder's: one delivery worker across replicas.
	TakeWebhookLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (bool, error)
}

// WebhookOptions are what AddWebhook takes besides the URL.
type WebhookOptions struct {
	Provider string   // a provider's name; "" for every provider
	Types    []string // event types; nil for all
	Format   string   // WebhookSET (default) or WebhookJSON
}

// AddWebhook subscribes url to the change feed from its newest event on,
// and returns the webhook with its secret, shown this once.
func (s *Service) AddWebhook(ctx context.Context, rawURL string, o WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, Errorf(EINVALID, "webhook URL %q: give an absolute http:// or https:// URL", rawURL)
	}
	w := &Webhook{URL: u.String(), Format: o.Format, State: WebhookActive, Created: time.Now().UTC().Truncate(time.Millisecond)}
	switch w.Format {
	case "":
		w.Format = WebhookSET
	case WebhookSET, WebhookJSON:
	default:
		return nil, Errorf(EINVALID, "webhook format %q: use set (RFC 9967 Security Event Tokens) or json (HMAC-signed JSON)", o.Format)
	}
	for _, t := range o.Types {
		t = strings.TrimSpace(t)
		if !slices.Contains(EventTypes, t) {
			return nil, Errorf(EINVALID, "unknown event type %q: use %s", t, strings.Join(EventTypes, ", "))
		}
		if !slices.Contains(w.Types, t) {
			w.Types = append(w.Types, t)
		}
	}
	if o.Provider != "" {
		p, err := s.Provider(ctx, o.Provider)
		if err != nil {
			return nil, err
		}
		w.ProviderID = p.ID
	}
	page, err := s.Store.FindEvents(ctx, EventQuery{Newest: true, Limit: 1})
	if err != nil {
		return nil, err
	}
	w.Cursor = page.Last
	if w.ID, err = randomText("wh_", 12); err != nil {
		return nil, err
	}
	if w.Secret, err = randomText(WebhookSecretPrefix, 32); err != nil {
		return nil, err
	}
	if err := s.Store.CreateWebhook(ctx, w); err != nil {
		return nil, err
	}
	return w, nil
}

// Webhooks returns every webhook.
func (s *Service) Webhooks(ctx context.Context) ([]*Webhook, error) {
	return s.Store.FindWebhooks(ctx)
}

// Webhook returns the webhook id; ENOTFOUND naming it.
func (s *Service) Webhook(ctx context.Context, id string) (*Webhook, error) {
	ws, err := s.Store.FindWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		if w.ID == id {
			return w, nil
		}
	}
	return nil, Errorf(ENOTFOUND, "no webhook %s: kacescim webhooks list shows them", id)
}

// RemoveWebhook removes the webhook id.
func (s *Service) RemoveWebhook(ctx context.Context, id string) error {
	return notFoundAs(s.Store.DeleteWebhook(ctx, id), "no webhook %s: kacescim webhooks list shows them", id)
}

// ReplayWebhook makes the webhook id deliver again every event after
// cursor from (active again, its failures forgotten). EGONE when the
// feed no longer holds the events after from.
func (s *Service) ReplayWebhook(ctx context.Context, id string, from int64) (*Webhook, error) {
	if _, err := s.Events(ctx, EventQuery{After: from, Limit: 1}); err != nil {
		return nil, err
	}
	var w *Webhook
	err := retryStale(func() error {
		var err error
		if w, err = s.Webhook(ctx, id); err != nil {
			return err
		}
		w.Cursor, w.State, w.Attempts, w.NextAttempt, w.FailingSince, w.LastError = from, WebhookActive, 0, time.Time{}, time.Time{}, ""
		return s.Store.SaveWebhook(ctx, w)
	})
	return w, err
}

// notFoundAs replaces an ENOTFOUND's message.
func notFoundAs(err error, format string, args ...any) error {
	if ErrorCode(err) == ENOTFOUND {
		return Errorf(ENOTFOUND, format, args...)
	}
	return err
}
