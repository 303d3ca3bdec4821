package server

import (
	"net/http"
)

// SCIMPrefix is where the SCIM 2.0 endpoints are served.
const SCIMPrefix = "/scim/v2"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	s.adminRoutes(mux)
	s.scimRoutes(mux)
	return s.logRequests(mux)
}
