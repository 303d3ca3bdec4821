package sqlite

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// zeroMS is t in unix ms, 0 for the zero time; timeOrZero the reverse.
func zeroMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return toMS(t)
}

func timeOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return fromMS(ms)
}

// CreateWebhook inserts w.
func (db *DB) CreateWebhook(ctx context.Context, w *directory.Webhook) error {
	var provider, types any
	if w.ProviderID != "" {
		provider = w.ProviderID
	}
	if w.Types != nil {
		b, err := json.Marshal(w.Types)
		if err != nil {
			return err
		}
		types = string(b)
	}
	_, err := db.exec(ctx, `INSERT INTO webhooks (id, url, provider_id, types, format, secret, created, cursor, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, w.ID, w.URL, provider, types, w.Format, w.Secret, toMS(w.Created), w.Cursor, w.State)
	return dbError(err, subject{Kind: "provider", ID: w.ProviderID})
}

// FindWebhooks returns every webhook, oldest first.
func (db *DB) FindWebhooks(ctx context.Context) ([]*directory.Webhook, error) {
	rows, err := db.reader().QueryContext(ctx, `SELECT id, url, COALESCE(provider_id, ''), COALESCE(types, ''), format, secret, created,
		cursor, state, attempts, next_attempt, failing_since, last_error, delivered, rev FROM webhooks ORDER BY created, id`)
	if err != nil {
		return nil, dbError(err, subject{Kind: "webhook"})
	}
	defer rows.Close()
	var out []*directory.Webhook
	for rows.Next() {
		var (
			w                    directory.Webhook
			types                string
			created, next, since int64
		)
		if err := rows.Scan(&w.ID, &w.URL, &w.ProviderID, &types, &w.Format, &w.Secret, &created,
			&w.Cursor, &w.State, &w.Attempts, &next, &since, &w.LastError, &w.Delivered, &w.Rev); err != nil {
			return nil, dbError(err, subject{Kind: "webhook"})
		}
		if types != "" {
			if err := json.Unmarshal([]byte(types), &w.Types); err != nil {
				return nil, dbError(err, subject{Kind: "webhook"})
			}
		}
		w.Created, w.NextAttempt, w.FailingSince = fromMS(created), timeOrZero(next), timeOrZero(since)
		out = append(out, &w)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, subject{Kind: "webhook"})
	}
	return out, nil
}

// SaveWebhook writes w's delivery state if its Rev is the stored one.
func (db *DB) SaveWebhook(ctx context.Context, w *directory.Webhook) error {
	s := subject{Kind: "webhook", ID: w.ID}
	err := db.write(ctx, func(h handle) error {
		res, err := h.ExecContext(ctx, `UPDATE webhooks SET cursor = ?, state = ?, attempts = ?, next_attempt = ?, failing_since = ?,
			last_error = ?, delivered = ?, rev = rev + 1 WHERE id = ? AND rev = ?`,
			w.Cursor, w.State, w.Attempts, zeroMS(w.NextAttempt), zeroMS(w.FailingSince), w.LastError, w.Delivered, w.ID, w.Rev)
		if err != nil {
			return dbError(err, s)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return dbError(err, s)
		}
		var rev int64
		if err := h.QueryRowContext(ctx, `SELECT rev FROM webhooks WHERE id = ?`, w.ID).Scan(&rev); err != nil {
			return dbError(err, s)
		}
		return storeerr.Stale(s, rev, w.Rev)
	})
	if err != nil {
		return err
	}
	w.Rev++
	return nil
}

// DeleteWebhook removes the webhook id.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	res, err := db.exec(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	return mustAffect(res, err, subject{Kind: "webhook", ID: id})
}

// TakeWebhookLease gives holder the lease until now+ttl if it is free,
// expired or holder's.
func (db *DB) TakeWebhookLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (bool, error) {
	res, err := db.exec(ctx, `UPDATE webhook_lease SET holder = ?1, until = ?2 WHERE holder = ?1 OR until < ?3`,
		holder, toMS(now.Add(ttl)), toMS(now))
	if err != nil {
		return false, dbError(err, subject{Kind: "webhook lease"})
	}
	n, err := res.RowsAffected()
	return n == 1, dbError(err, subject{Kind: "webhook lease"})
}
