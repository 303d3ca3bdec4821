package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

// testWebhooks: webhooks are kept with their delivery state, written
// only at the revision read; the lease has one holder at a time; a
// provider's removal takes its webhooks.
func testWebhooks(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "okta")
	all := &directory.Webhook{ID: "wh_all", URL: "https://example.com/hook", Format: directory.WebhookSET, Secret: "kcwhsec_x",
		Created: t0, Cursor: 7, State: directory.WebhookActive}
	mine := &directory.Webhook{ID: "wh_okta", URL: "http://127.0.0.1:9/hook", ProviderID: p.ID, Types: []string{directory.EventUserCreated},
		Format: directory.WebhookJSON, Secret: "kcwhsec_y", Created: t0.Add(time.Second), State: directory.WebhookActive}
	must(t, s.CreateWebhook(c, all))
	must(t, s.CreateWebhook(c, mine))
	if err := s.CreateWebhook(c, &directory.Webhook{ID: "wh_x", URL: "https://x", ProviderID: "nobody", Format: "set", Secret: "s", Created: t0, State: "active"}); err == nil {
		t.Error("a webhook of no provider was created")
	}
	got, err := s.FindWebhooks(c)
	must(t, err)
	if len(got) != 2 || !reflect.DeepEqual(got[0], all) || !reflect.DeepEqual(got[1], mine) {
		t.Fatalf("FindWebhooks: %+v %+v", got[0], got[1])
	}

	// Delivery state, at the revision read.
	stale := *got[1]
	mine.Cursor, mine.Attempts, mine.NextAttempt, mine.FailingSince, mine.LastError, mine.Delivered = 12, 2, t0.Add(time.Minute), t0, "503 Service Unavailable", 4
	must(t, s.SaveWebhook(c, mine))
	if mine.Rev != 1 {
		t.Errorf("Rev after a save: %d", mine.Rev)
	}
	stale.State = directory.WebhookDead
	if err := s.SaveWebhook(c, &stale); directory.ErrorCode(err) != directory.ESTALE {
		t.Errorf("a save at an old revision: %v, want ESTALE", err)
	}
	got, err = s.FindWebhooks(c)
	must(t, err)
	if !reflect.DeepEqual(got[1], mine) {
		t.Errorf("after the save: %+v, want %+v", got[1], mine)
	}

	// The lease: one holder until it expires.
	take := func(holder string, at time.Time, want bool) {
		t.Helper()
		ok, err := s.TakeWebhookLease(c, holder, at, 10*time.Second)
		must(t, err)
		if ok != want {
			t.Errorf("%s takes the lease at %v: %v, want %v", holder, at.Sub(t0), ok, want)
		}
	}
	take("a", t0, true)
	take("b", t0.Add(time.Second), false)
	take("a", t0.Add(5*time.Second), true) // renewed until 15 s
	take("b", t0.Add(12*time.Second), false)
	take("b", t0.Add(16*time.Second), true)
	take("a", t0.Add(17*time.Second), false)

	must(t, s.DeleteWebhook(c, all.ID))
	if err := s.DeleteWebhook(c, all.ID); directory.ErrorCode(err) != directory.ENOTFOUND {
		t.Errorf("deleting it again: %v", err)
	}
	must(t, s.DeleteProvider(c, p.ID))
	if got, err := s.FindWebhooks(c); err != nil || len(got) != 0 {
		t.Errorf("after the provider's removal: %v, %v", got, err)
	}
}
