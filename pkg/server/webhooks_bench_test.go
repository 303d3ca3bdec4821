package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

// BenchmarkPatchWhileReceiverDown measures issue 14's "SCIM p99 unchanged
// while the receiver is down": Okta's deactivate/reactivate PATCHes over
// real HTTP on SQLite, first with no webhook, then with two webhooks (SET
// and JSON) whose receiver is down (500 at once) and one whose receiver
// hangs until the delivery timeout, every PATCH an event for all three.
// Metrics: quiet-p99-µs, down-p99-µs and their ratio, and the failed
// deliveries the worker made meanwhile.
//
//	go test ./pkg/server -run '^$' -bench BenchmarkPatchWhileReceiverDown -benchtime 3000x -count 3
func BenchmarkPatchWhileReceiverDown(b *testing.B) {
	e := newSCIMEnv(b)
	e.webhookBackoff = 50 * time.Millisecond
	e.restart()
	ids := seedUsers(b, e, 1_000)
	client := e.http.Client()
	i := 0
	patch := func(l *latencies) {
		active := "false"
		if (i/len(ids))%2 == 1 {
			active = "true"
		}
		id := ids[(i*7919)%len(ids)]
		i++
		l.time(func() {
			e.benchDo(b, client, "PATCH", "/Users/"+id,
				`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":`+active+`}}]}`, 200)
		})
	}
	var warm latencies
	for range 300 {
		patch(&warm)
	}
	n := max(b.N, 500)
	var quiet latencies
	for range n {
		patch(&quiet)
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer down.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	}))
	defer hang.Close()
	// Deferred in this order, run the other way: the worker stops (and
	// its hanging delivery ends) before the receivers close.
	ctx, cancel := context.WithCancel(b.Context())
	stopped := make(chan struct{})
	go func() { e.srv.StartWebhooks(ctx); close(stopped) }()
	defer func() { <-stopped }()
	defer cancel()
	dir := e.srv.Directory()
	for _, h := range []struct{ url, format string }{{down.URL, directory.WebhookSET}, {down.URL, directory.WebhookJSON}, {hang.URL, directory.WebhookSET}} {
		if _, err := dir.AddWebhook(ctx, h.url, directory.WebhookOptions{Format: h.format}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var downL latencies
	for range n {
		patch(&downL)
	}
	b.StopTimer()
	time.Sleep(100 * time.Millisecond) // the last tries' state saved
	hooks, err := dir.Webhooks(ctx)
	if err != nil {
		b.Fatal(err)
	}
	tries := 0
	for _, h := range hooks {
		tries += h.Attempts
		if h.Delivered != 0 {
			b.Errorf("webhook %s delivered %d events to a receiver that is down", h.ID, h.Delivered)
		}
	}
	qp, dp := p99(quiet), p99(downL)
	b.ReportMetric(float64(qp.Microseconds()), "quiet-p99-µs")
	b.ReportMetric(float64(dp.Microseconds()), "down-p99-µs")
	b.ReportMetric(float64(dp)/float64(qp), "p99-ratio")
	b.ReportMetric(float64(tries), "failed-tries")
	b.Logf("PATCH p99 %v with no webhook, %v with 3 webhooks whose receivers are down or hang (%d failed tries): ×%.2f",
		qp, dp, tries, float64(dp)/float64(qp))
}
