package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/kacescim/kacescim/pkg/scim"
)

// requestInfo is filled in while a request is handled so that the request
// log line can name the provider without the handlers logging themselves.
type requestInfo struct {
	id         string
	clientIP   string // the client's address (clientip.go)
	provider   string
	resourceID string // the user or group named or created, for the provisioning log
	errDetail  string // the error detail sent, for the provisioning log
	// tokenLogRow is set when a failed token request gets its
	// provisioning-log row (the first failure of its address in a window).
	tokenLogRow bool
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	if ri == nil {
		return &requestInfo{}
	}
	return ri
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests writes one structured line per request: id, method, path (never
// the query, which may hold filter values), provider, status and latency.
// Headers and bodies are never logged, so neither keys nor tokens nor
// passwords can leak through it.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{id: newRequestID(), clientIP: s.clientIP(r)}
		w.Header().Set("X-Request-Id", ri.id)
		if r.TLS != nil {
			// Served over TLS: browsers and clients keep to HTTPS
			// (RFC 6797).
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
		rec := &statusRecorder{ResponseWriter: w}
		func() {
			// A panic is a bug: log it with the request id and answer 500
			// rather than dropping the connection.
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					s.log.Error("panic", "request_id", ri.id, "panic", v, "stack", string(debug.Stack()))
					if rec.status == 0 {
						writeSCIM(rec, http.StatusInternalServerError, &scim.Error{Status: http.StatusInternalServerError, Detail: "internal error"})
					}
				}
			}()
			next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri)))
		}()
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("request_id", ri.id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("client_ip", ri.clientIP),
			slog.String("provider", ri.provider),
			slog.Int("status", rec.status),
			slog.Int("bytes", rec.bytes),
			slog.Duration("latency", time.Since(start)),
		)
	})
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
