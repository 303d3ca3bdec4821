package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

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
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, w.ID, w.URL, provider, types, w.Format, w.Secret, ms(w.Created), w.Cursor, w.State)
	return dbError(err, subject{Kind: "provider", ID: w.ProviderID})
}

// FindWebhooks returns every webhook, oldest first.
func (db *DB) FindWebhooks(ctx context.Context) ([]*directory.Webhook, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, url, COALESCE(provider_id, ''), COALESCE(types::text, ''), format, secret, created,
		cursor, state, attempts, next_attempt, failing_since, last_error, delivered, rev FROM webhooks ORDER BY created, id`)
	if err != nil {
		return nil, dbError(err, subject{Kind: "webhook"})
	}
	defer rows.Close()
	var out []*directory.Webhook
	for rows.Next() {
		var (
			w           directory.Webhook
			types       string
			next, since *time.Time
		)
		if err := rows.Scan(&w.ID, &w.URL, &w.ProviderID, &types, &w.Format, &w.Secret, &w.Created,
			&w.Cursor, &w.State, &w.Attempts, &next, &since, &w.LastError, &w.Delivered, &w.Rev); err != nil {
			return nil, dbError(err, subject{Kind: "webhook"})
		}
		if types != "" {
			if err := json.Unmarshal([]byte(types), &w.Types); err != nil {
				return nil, dbError(err, subject{Kind: "webhook"})
			}
		}
		w.Created = w.Created.UTC()
		if next != nil {
			w.NextAttempt = next.UTC()
		}
		if since != nil {
			w.FailingSince = since.UTC()
		}
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
	n, err := db.exec(ctx, `UPDATE webhooks SET cursor = $1, state = $2, attempts = $3, next_attempt = $4, failing_since = $5,
		last_error = $6, delivered = $7, rev = rev + 1 WHERE id = $8 AND rev = $9`,
		w.Cursor, w.State, w.Attempts, nullTime(w.NextAttempt), nullTime(w.FailingSince), w.LastError, w.Delivered, w.ID, w.Rev)
	if err != nil {
		return dbError(err, s)
	}
	if n == 0 {
		var rev int64
		if err := db.pool.QueryRow(ctx, `SELECT rev FROM webhooks WHERE id = $1`, w.ID).Scan(&rev); err != nil {
			return dbError(err, s)
		}
		return storeerr.Stale(s, rev, w.Rev)
	}
	w.Rev++
	return nil
}

// DeleteWebhook removes the webhook id.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	n, err := db.exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	return mustAffect(n, err, subject{Kind: "webhook", ID: id})
}

// TakeWebhookLease gives holder the lease until now+ttl if it is free,
// expired or holder's.
func (db *DB) TakeWebhookLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (bool, error) {
	n, err := db.exec(ctx, `UPDATE webhook_lease SET holder = $1, until = $2 WHERE holder = $1 OR until < $3`, holder, now.Add(ttl), now)
	return n == 1, dbError(err, subject{Kind: "webhook lease"})
}
