package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// SCIMPrefix is where the SCIM 2.0 endpoints are served.
const SCIMPrefix = "/scim/v2"

// routes is the handler of everything: the health checks, the SCIM
// endpoints and, with admin, the admin API.
func (s *Server) routes(admin bool) http.Handler {
	mux := http.NewServeMux()
	healthz, _ := json.Marshal(struct {
		Status  string `json:"status"`
		Version string `json:"version,omitempty"`
	}{"ok", s.cfg.Version})
	healthz = append(healthz, '\n')
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(healthz)
	})
	mux.HandleFunc("GET /readyz", s.ready)
	if admin {
		s.adminRoutes(mux)
		metrics := s.metrics.handler()
		mux.Handle("GET /metrics", s.requireAdmin(func(w http.ResponseWriter, r *http.Request) error {
			metrics.ServeHTTP(w, r)
			return nil
		}))
	}
	s.scimRoutes(mux)
	s.oauthRoutes(mux)
	return s.logRequests(mux)
}

// readyTimeout bounds how long /readyz waits for the database.
const readyTimeout = 2 * time.Second

// ready answers /readyz: 200 when the store answers within readyTimeout,
// 503 otherwise, so that a load balancer stops sending a replica requests
// it cannot serve. The cause goes to the log, not to the unauthenticated
// caller.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.dir.Ping(ctx); err != nil {
		s.log.ErrorContext(r.Context(), "readiness: the database does not answer", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable","detail":"the database does not answer"}` + "\n"))
		return
	}
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}
