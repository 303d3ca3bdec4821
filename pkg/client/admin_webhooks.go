package client

import (
	"context"
	"net/http"

	"github.com/kacescim/kacescim/pkg/adminapi"
)

// Webhooks lists the webhooks, oldest first.
func (a *Admin) Webhooks(ctx context.Context) ([]adminapi.Webhook, error) {
	var list adminapi.WebhookList
	if err := a.call(ctx, http.MethodGet, "/webhooks", nil, nil, &list); err != nil {
		return nil, err
	}
	return list.Webhooks, nil
}

// AddWebhook subscribes a URL to the change feed; the answer holds the
// signing secret, shown this once.
func (a *Admin) AddWebhook(ctx context.Context, req adminapi.CreateWebhookRequest) (*adminapi.WebhookCreated, error) {
	var out adminapi.WebhookCreated
	if err := a.call(ctx, http.MethodPost, "/webhooks", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Webhook returns the webhook id with its delivery state.
func (a *Admin) Webhook(ctx context.Context, id string) (*adminapi.Webhook, error) {
	var out adminapi.Webhook
	if err := a.call(ctx, http.MethodGet, "/webhooks/{id}", map[string]string{"id": id}, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveWebhook removes the webhook id.
func (a *Admin) RemoveWebhook(ctx context.Context, id string) error {
	return a.call(ctx, http.MethodDelete, "/webhooks/{id}", map[string]string{"id": id}, nil, nil)
}

// ReplayWebhook makes the webhook id deliver again every event after the
// cursor from, active again.
func (a *Admin) ReplayWebhook(ctx context.Context, id string, from int64) (*adminapi.Webhook, error) {
	var out adminapi.Webhook
	if err := a.call(ctx, http.MethodPost, "/webhooks/{id}/replay", map[string]string{"id": id}, adminapi.ReplayRequest{From: from}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
