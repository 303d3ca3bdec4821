// Package server is kacescim's HTTP side over a directory.Service: the
// SCIM 2.0 endpoints under /scim/v2 that identity providers call, the JSON
// admin API under /admin/v1 that the CLI calls, and /healthz and /readyz.
//
// It keeps HTTP only: a handler decodes the request, calls the directory
// service, and encodes the answer. Every rule of the directory (what a
// PUT keeps, how a PATCH applies, If-Match, retries, mappings) is in
// pkg/directory; every decision from an error to a status and a SCIM
// scimType is in errors.go. The SCIM half (scim.go, users.go, groups.go,
// search.go, bulk.go, discovery.go) authenticates the provider by its key,
// applies its rate limit and writes the provisioning log entry of every
// request; the admin half (admin*.go) requires the admin token.
//
// New builds a Server over a directory service; kacescim serve opens the
// store, the service and the server together, as servertest does for
// tests.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/federation"
)

// Config is everything `kacescim serve` needs. Zero values take the
// defaults documented on each field.
type Config struct {
	// Listen is the TCP address to listen on (default 127.0.0.1:8080).
	Listen string
	// PublicURL is the externally visible base URL (scheme://host[:port][/prefix])
	// used for the SCIM base URL and meta.location; when empty, the scheme
	// and Host of each request are used.
	PublicURL string
	// DataDir holds the admin token file (and, for serve, the SQLite
	// database).
	DataDir string
	// TLSCertFile and TLSKeyFile enable HTTPS when both are set.
	TLSCertFile string
	TLSKeyFile  string
	// AdminToken authenticates the admin API; when empty it is read from
	// DataDir/admin-token, which is generated (mode 0600) at first start.
	AdminToken string
	// MaxBodyBytes limits request bodies (default 4 MiB); larger ones get 413.
	MaxBodyBytes int64
	// RequestTimeout bounds each SCIM request (default 15 s): one the
	// database does not answer in time gets 503 with Retry-After.
	RequestTimeout time.Duration
	// LogRetention is how long the provisioning log keeps an entry
	// (default 30 days).
	LogRetention time.Duration
	// LogMaxEntries caps the provisioning log (default 1,000,000 entries);
	// the oldest go first.
	LogMaxEntries int
	// LogMaxBytes caps the provisioning log's size as
	// directory.LogEntrySize counts it (default 512 MiB); the oldest
	// entries go first.
	LogMaxBytes int64
	// EventRetention is how long the change feed keeps an event
	// (default 30 days); EventMaxEntries caps it (default 1,000,000
	// events), the oldest going first.
	EventRetention  time.Duration
	EventMaxEntries int
	// TokenLifetime is how long the token endpoint's access tokens live
	// (default 1 h; 60 min to 6 h, as Entra's app gallery expects).
	TokenLifetime time.Duration
	// TrustedProxies are the reverse proxies (load balancers) in front of
	// the server. A request whose connection comes from one of them is
	// known by the client its X-Forwarded-For names, in both logs and to
	// the throttle of failed authentications (clientip.go); any other by
	// its connection's peer. Default: none, every X-Forwarded-For is
	// ignored.
	TrustedProxies []netip.Prefix
	// AuthFailureRate paces the answers to failed authentications, all
	// clients together, in answers a second (default
	// DefaultAuthFailureRate; negative: no pace). Past it, a failure's
	// answer waits for its turn (at most maxFailureWait), so that a flood
	// of wrong keys from addresses the per-address throttle never sees
	// twice runs at that pace instead of the server's speed (authfail.go).
	AuthFailureRate float64
	// WebhookTimeout bounds a webhook delivery (default 10 s);
	// WebhookRetryWindow is how long a failing webhook is retried before
	// it is dead (default 24 h).
	WebhookTimeout     time.Duration
	WebhookRetryWindow time.Duration
	// WebhookPoll is how often the delivery looks for new events
	// (default 500 ms); WebhookBackoff the first wait after a failure
	// (default 1 s), doubled at each failure up to 10 minutes.
	WebhookPoll, WebhookBackoff time.Duration
	// Version is the program's version line, for /healthz.
	Version string
	// Logger receives the structured request log (default: discard).
	Logger *slog.Logger
}

// DefaultListen is the address serve listens on unless told otherwise.
const DefaultListen = "127.0.0.1:8080"

// Defaults of the Config fields.
const (
	DefaultMaxBodyBytes = 4 << 20 // room for Okta's Push Now of a group of tens of thousands
	// DefaultRequestTimeout is well inside the 60 s Okta waits, and room
	// for a Bulk request of a thousand operations.
	DefaultRequestTimeout = 15 * time.Second
	DefaultLogRetention   = 30 * 24 * time.Hour
	DefaultLogMaxEntries  = 1_000_000
	// DefaultLogMaxBytes holds a million entries of a typical size
	// (about 200 bytes) and a fifth as many of the largest (a 2 kB URI
	// and a 2 kB error).
	DefaultLogMaxBytes = 512 << 20
	// MaxHeaderBytes bounds a request's line and headers: 64 KiB is eight
	// times the longest filter accepted and far beyond what Okta and Entra
	// send. A longer one gets Go's 431 before any handler runs, instead of
	// a megabyte of URI parsed and allocated for each request.
	MaxHeaderBytes = 64 << 10
	// DefaultEventRetention and DefaultEventMaxEntries bound the change
	// feed: a month, as WorkOS keeps its events API, and a million events.
	DefaultEventRetention  = 30 * 24 * time.Hour
	DefaultEventMaxEntries = 1_000_000
	// DefaultAuthFailureRate is far more failed authentications a second
	// than identity providers with a stale key send (a few a second each),
	// and few enough that answering them takes a small share of a core.
	DefaultAuthFailureRate = 200
	// pruneEvery is how often Serve trims the provisioning log.
	pruneEvery = 10 * time.Minute
)

// Server is kacescim's HTTP face over a directory service: its handler
// and what it needs besides (the admin token, the rate limits, the log
// pruner). Build it with New, Serve it, Close it.
type Server struct {
	cfg        Config
	dir        *directory.Service
	log        *slog.Logger
	adminToken string
	handler    http.Handler // everything
	public     http.Handler // all but the admin API (ServeWithAdmin)
	throttle   throttle     // per-provider rate limits
	authFails  failedAuth
	metrics    *metrics
}

// New validates cfg, loads or creates the admin token and builds the
// handler over dir, which the server owns from then on: Close closes
// dir's store.
func New(cfg Config, dir *directory.Service) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.AuthFailureRate == 0 {
		cfg.AuthFailureRate = DefaultAuthFailureRate
	}
	if cfg.LogRetention <= 0 {
		cfg.LogRetention = DefaultLogRetention
	}
	if cfg.LogMaxEntries <= 0 {
		cfg.LogMaxEntries = DefaultLogMaxEntries
	}
	if cfg.LogMaxBytes <= 0 {
		cfg.LogMaxBytes = DefaultLogMaxBytes
	}
	if cfg.EventRetention <= 0 {
		cfg.EventRetention = DefaultEventRetention
	}
	if cfg.EventMaxEntries <= 0 {
		cfg.EventMaxEntries = DefaultEventMaxEntries
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TokenLifetime == 0 {
		cfg.TokenLifetime = directory.DefaultTokenLifetime
	}
	if err := validTokenLifetime(cfg.TokenLifetime); err != nil {
		return nil, err
	}
	dir.TokenLifetime = cfg.TokenLifetime
	if dir.JWT == nil {
		dir.JWT = federation.New(nil)
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return nil, errors.New("--tls-cert and --tls-key must be given together")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("no data directory: set --data-dir")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	cfg.TrustedProxies = normalPrefixes(cfg.TrustedProxies)
	token := cfg.AdminToken
	if token == "" {
		var err error
		if token, err = LoadOrCreateAdminToken(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	s := &Server{cfg: cfg, dir: dir, log: cfg.Logger, adminToken: token, metrics: newMetrics(dir.Store)}
	s.authFails.pace = newFailurePace(cfg.AuthFailureRate)
	dir.OnLogError(func(err error) { s.log.Error("record requests", "err", err) })
	s.handler, s.public = s.routes(true), s.routes(false)
	return s, nil
}

// Handler returns the server's HTTP handler (SCIM, admin API and /healthz).
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the server's Prometheus metrics, with no
// authentication: for a listener of its own (serve --metrics-listen). The
// admin API's listener serves them at /metrics to the admin token.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler() }

// Directory returns the directory service, for tests and embedding.
func (s *Server) Directory() *directory.Service { return s.dir }

// baseURL is the public URL of the server as seen by r: --public-url when
// configured, otherwise the scheme and Host of the request itself.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// scimBaseURL is the SCIM base URL identity providers are given.
func (s *Server) scimBaseURL(r *http.Request) string { return s.baseURL(r) + SCIMPrefix }

// Close closes the directory service's store.
func (s *Server) Close() error { return s.dir.Close() }

// Serve answers on ln until ctx is done, then shuts down gracefully, giving
// requests in flight up to ten seconds to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, map[net.Listener]http.Handler{ln: s.handler})
}

// ServeWithAdmin is Serve with the admin API on a listener of its own
// (--admin-listen, an address kept off the public interface): public
// answers the SCIM endpoints and the health checks, admin everything,
// the SCIM endpoints included, so that the CLI and the tester need only
// it.
func (s *Server) ServeWithAdmin(ctx context.Context, public, admin net.Listener) error {
	return s.serve(ctx, map[net.Listener]http.Handler{public: s.public, admin: s.handler})
}

func (s *Server) serve(ctx context.Context, listeners map[net.Listener]http.Handler) error {
	pruneCtx, stopPruning := context.WithCancel(ctx)
	defer stopPruning()
	go s.pruneLog(pruneCtx)
	go s.StartWebhooks(pruneCtx)
	var servers []*http.Server
	errc := make(chan error, len(listeners))
	for ln, h := range listeners {
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			MaxHeaderBytes:    MaxHeaderBytes,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		servers = append(servers, srv)
		go func() {
			if s.cfg.TLSCertFile != "" {
				errc <- srv.ServeTLS(ln, s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
			} else {
				errc <- srv.Serve(ln)
			}
		}()
	}
	// The first to end (a listener that failed) or ctx ends them all.
	var first error
	received := 0
	select {
	case first = <-errc:
		received = 1
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil && first == nil {
			first = err
		}
	}
	for ; received < len(servers); received++ {
		if err := <-errc; first == nil && !errors.Is(err, http.ErrServerClosed) {
			first = err
		}
	}
	if errors.Is(first, http.ErrServerClosed) {
		return nil
	}
	return first
}

// pruneLog trims the provisioning log to its retention at start and then
// every pruneEvery, until ctx ends.
func (s *Server) pruneLog(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		n, err := s.PruneLog(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("prune provisioning log", "err", err)
		case n > 0:
			s.log.Info("pruned provisioning log", "entries", n)
		}
		n, err = s.PruneEvents(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("prune change feed", "err", err)
		case n > 0:
			s.log.Info("pruned change feed", "events", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PruneEvents deletes the change feed's events beyond the configured
// retention, and returns how many it deleted.
func (s *Server) PruneEvents(ctx context.Context) (int, error) {
	return s.dir.PruneEvents(ctx, directory.EventRetention{MaxAge: s.cfg.EventRetention, MaxEntries: s.cfg.EventMaxEntries})
}

// PruneLog deletes provisioning-log entries beyond the configured
// retention and size, and returns how many it deleted.
func (s *Server) PruneLog(ctx context.Context) (int, error) {
	return s.dir.PruneLog(ctx, directory.LogRetention{MaxAge: s.cfg.LogRetention, MaxEntries: s.cfg.LogMaxEntries, MaxBytes: s.cfg.LogMaxBytes})
}
