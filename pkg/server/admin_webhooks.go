package server

import (
	"context"
	"net/http"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
)

// adminWebhook is w as the admin API shows it, with its provider's name.
func (s *Server) adminWebhook(ctx context.Context, w *directory.Webhook) (adminapi.Webhook, error) {
	aw := adminapi.Webhook{ID: w.ID, URL: w.URL, Events: w.Types, Format: w.Format, Created: w.Created.UTC(),
		Cursor: w.Cursor, State: w.State, Delivered: w.Delivered, Attempts: w.Attempts, LastError: w.LastError}
	if w.ProviderID != "" {
		p, err := s.dir.Store.FindProviderByID(ctx, w.ProviderID)
		if err != nil {
			return aw, err
		}
		aw.Provider = p.Name
	}
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	aw.NextAttempt, aw.FailingSince = at(w.NextAttempt), at(w.FailingSince)
	return aw, nil
}

func (s *Server) adminListWebhooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := s.dir.Webhooks(r.Context())
	if err != nil {
		return err
	}
	list := adminapi.WebhookList{Webhooks: make([]adminapi.Webhook, 0, len(hooks))}
	for _, h := range hooks {
		aw, err := s.adminWebhook(r.Context(), h)
		if err != nil {
			return err
		}
		list.Webhooks = append(list.Webhooks, aw)
	}
	return s.adminJSON(w, r, http.StatusOK, list)
}

func (s *Server) adminCreateWebhook(w http.ResponseWriter, r *http.Request) error {
	var req adminapi.CreateWebhookRequest
	if err := s.adminDecode(w, r, &req); err != nil {
		return err
	}
	infoFrom(r.Context()).provider = req.Provider
	h, err := s.dir.AddWebhook(r.Context(), req.URL, directory.WebhookOptions{Provider: req.Provider, Types: req.Events, Format: req.Format})
	if err != nil {
		return err
	}
	aw, err := s.adminWebhook(r.Context(), h)
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusCreated, adminapi.WebhookCreated{Webhook: aw, Secret: h.Secret})
}

func (s *Server) adminGetWebhook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.dir.Webhook(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	aw, err := s.adminWebhook(r.Context(), h)
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, aw)
}

func (s *Server) adminDeleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.dir.RemoveWebhook(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) adminReplayWebhook(w http.ResponseWriter, r *http.Request) error {
	var req adminapi.ReplayRequest
	if err := s.adminDecode(w, r, &req); err != nil {
		return err
	}
	h, err := s.dir.ReplayWebhook(r.Context(), r.PathValue("id"), req.From)
	if err != nil {
		return err
	}
	aw, err := s.adminWebhook(r.Context(), h)
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, aw)
}
