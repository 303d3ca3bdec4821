package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/store"
)

// serveOptions are the flags of `kacescim serve`.
type serveOptions struct {
	g *globalOptions

	Listen       string
	PublicURL    string
	Database     string
	TLSCert      string
	TLSKey       string
	AdminToken   string
	MaxBodyBytes int64
	LogFormat    string
	LogLevel     string
	// LogRetention and LogMaxEntries bound the provisioning log.
	LogRetention  time.Duration
	LogMaxEntries int
	LogMaxBytes   int64
	// EventRetention and EventMaxEntries bound the change feed.
	EventRetention  time.Duration
	EventMaxEntries int
	// WebhookTimeout and WebhookRetryWindow time the webhook deliveries.
	WebhookTimeout     time.Duration
	WebhookRetryWindow time.Duration
	RequestTimeout     time.Duration
	TokenLifetime      time.Duration
	// AuthFailureRate paces the answers to failed authentications, all
	// clients together (a second; negative: no pace).
	AuthFailureRate float64
	AdminListen     string
	// Durability is what an acknowledged write survives: full or process.
	Durability string
	// PprofListen, when set, serves net/http/pprof there, for profiles
	// under load (a loopback address: the profiles are not authenticated).
	PprofListen string
	// MetricsListen, when set, serves /metrics there without the admin
	// token, for a Prometheus scraper on a private network.
	MetricsListen string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client.
	TrustedProxies []netip.Prefix
}

// NewCmdServe returns `kacescim serve`. runF replaces the run function in
// tests that check flag handling only.
func NewCmdServe(g *globalOptions, runF func(context.Context, *serveOptions) error) *cobra.Command {
	opts := &serveOptions{g: g}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the SCIM 2.0 server and the admin API",
		Long: `Run the SCIM 2.0 server (under /scim/v2) and the admin API the other
commands use (under /admin/v1), until interrupted.

The data directory holds the SQLite database and the admin token (created at
first start, mode 0600). Once listening, serve writes its URL to the
server-url file there, so that the admin commands find it; this matters with
--listen 127.0.0.1:0, which picks a free port.

For several replicas, give each the same --database postgres://… URL and the
same --admin-token: they share providers, users and groups through
PostgreSQL (rate limits stay per replica).

--durability says what a write the server has answered survives. full (the
default): a power loss or a kernel crash too — every commit is synced to
disk before the answer (SQLite synchronous=FULL, PostgreSQL
synchronous_commit=on); writes that arrive together share one sync (group
commit). process: the death of the server process (kill -9, a crash), not
a power loss, which can lose the last writes answered — faster on disks
with a slow sync (SQLite synchronous=NORMAL; PostgreSQL
synchronous_commit=off, which a crash of the database server can cost the
last writes too). Neither ever leaves a write half done.

Behind a reverse proxy or load balancer, every request comes from the
proxy's address. Name the proxies with --trusted-proxy (a CIDR or an IP,
repeated or comma-separated) and a request that comes from one of them is
known by the client its X-Forwarded-For names, read from the right past the
trusted addresses: in the request log, the provisioning log (kacescim logs)
and the throttle of failed authentications. The header of any other client
is ignored, since it could name any address.`,
		Example: `  kacescim serve
  kacescim serve --listen 0.0.0.0:8443 --public-url https://scim.example.com \
      --tls-cert cert.pem --tls-key key.pem
  kacescim serve --database postgres://kacescim@db.example.com/kacescim --admin-token "$ADMIN_TOKEN"
  kacescim serve --listen 0.0.0.0:8080 --trusted-proxy 10.0.0.0/8`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runServe(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", server.DefaultListen, "address to listen on (port 0 picks a free port)")
	f.StringVar(&opts.PublicURL, "public-url", "", "externally visible base URL, for the SCIM base URL given to identity providers (default: from each request)")
	f.StringVar(&opts.Database, "database", "", "SQLite file or sqlite:// URL (default <data-dir>/kacescim.db), or a postgres:// URL for several replicas")
	f.StringVar(&opts.TLSCert, "tls-cert", "", "TLS certificate file (PEM); serve HTTPS with --tls-key")
	f.StringVar(&opts.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	f.StringVar(&opts.AdminToken, "admin-token", "", "admin API token (default: the admin-token file in the data directory, generated at first start)")
	opts.MaxBodyBytes = server.DefaultMaxBodyBytes
	f.Var((*byteSizeFlag)(&opts.MaxBodyBytes), "max-body-bytes", "largest request body accepted (bytes, or with a unit: 8MiB)")
	opts.RequestTimeout = server.DefaultRequestTimeout
	f.Var((*durationFlag)(&opts.RequestTimeout), "request-timeout", "longest a SCIM request may take; one the database does not answer in time gets 503 with Retry-After")
	opts.TokenLifetime = directory.DefaultTokenLifetime
	f.Var((*durationFlag)(&opts.TokenLifetime), "oauth-token-lifetime", "how long the access tokens of the OAuth token endpoint (/oauth/token) live: 60m to 6h")
	f.Float64Var(&opts.AuthFailureRate, "auth-failure-rate", server.DefaultAuthFailureRate, "answers a second to failed authentications (wrong keys, secrets, tokens), all clients together; past it they wait their turn (-1: no pace)")
	f.StringVar(&opts.LogFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&opts.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&opts.AdminListen, "admin-listen", "", "serve the admin API on this `ADDR` only (with the SCIM endpoints), not on --listen: keep it off the public interface")
	f.StringVar(&opts.MetricsListen, "metrics-listen", "", "also serve Prometheus metrics at /metrics on this `ADDR`, without authentication (the admin listener serves them to the admin token)")
	f.StringVar(&opts.PprofListen, "pprof-listen", "", "also serve Go's pprof profiles on this loopback `ADDR` (127.0.0.1:6060), for measuring under load")
	f.StringVar(&opts.Durability, "durability", string(store.DurabilityFull), "what an answered write survives: full (a power loss) or process (the process's death; faster)")
	opts.LogRetention = server.DefaultLogRetention
	f.Var((*durationFlag)(&opts.LogRetention), "log-retention", "how long the provisioning log (kacescim logs) keeps a SCIM request")
	f.IntVar(&opts.LogMaxEntries, "log-max-entries", server.DefaultLogMaxEntries, "most SCIM requests the provisioning log keeps; the oldest go first")
	opts.LogMaxBytes = server.DefaultLogMaxBytes
	f.Var((*byteSizeFlag)(&opts.LogMaxBytes), "log-max-bytes", "most space the provisioning log takes (about: its text and 64 bytes an entry); the oldest entries go first")
	opts.EventRetention = server.DefaultEventRetention
	f.Var((*durationFlag)(&opts.EventRetention), "event-retention", "how long the change feed (kacescim events) keeps an event")
	f.IntVar(&opts.EventMaxEntries, "event-max-entries", server.DefaultEventMaxEntries, "most events the change feed keeps; the oldest go first")
	opts.WebhookTimeout, opts.WebhookRetryWindow = server.DefaultWebhookTimeout, server.DefaultWebhookRetryWindow
	f.Var((*durationFlag)(&opts.WebhookTimeout), "webhook-timeout", "longest a webhook receiver may take to answer a delivery")
	f.Var((*durationFlag)(&opts.WebhookRetryWindow), "webhook-retry-window", "how long a failing webhook is tried again before it is dead (kacescim webhooks replay starts it again)")
	f.Var((*prefixesFlag)(&opts.TrustedProxies), "trusted-proxy", "a reverse proxy, by `CIDR` or IP, whose X-Forwarded-For names the client in the logs and to the throttle of wrong keys (repeat or separate with commas)")
	configurable(f, "listen", "admin-listen", "metrics-listen", "public-url", "database", "durability", "pprof-listen", "tls-cert", "tls-key", "admin-token", "max-body-bytes", "request-timeout", "oauth-token-lifetime", "auth-failure-rate", "log-format", "log-level",
		"log-retention", "log-max-entries", "log-max-bytes", "event-retention", "event-max-entries", "webhook-timeout", "webhook-retry-window", "trusted-proxy")
	return cmd
}

// durationFlag is a time.Duration flag whose value reads as one would
// write it: 720h rather than time.Duration's 720h0m0s.
type durationFlag time.Duration

func (d *durationFlag) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 24h, 90m or 30d", s)
	}
	*d = durationFlag(v)
	return nil
}

// parseDuration is time.ParseDuration that also takes a leading number of
// days ("90d", "1d12h"), as key lifetimes and retentions are spoken of.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	days, rest, found := strings.Cut(s, "d")
	if !found || days == "" || strings.Trim(days, "0123456789") != "" {
		return time.ParseDuration(s)
	}
	n, err := strconv.Atoi(days)
	if err != nil || n > 100_000 {
		return 0, fmt.Errorf("%q: too many days", s)
	}
	v := time.Duration(n) * 24 * time.Hour
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 {
			return 0, fmt.Errorf("%q: %v", s, err)
		}
		v += r
	}
	return v, nil
}

func (d *durationFlag) String() string {
	s := time.Duration(*d).String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

func (d *durationFlag) Type() string { return "duration" }

// byteSizeFlag is a size in bytes, given as a number of bytes or with a
// unit (512MiB, 1GB, 64k), shown in IEC units.
type byteSizeFlag int64

func (b *byteSizeFlag) Set(s string) error {
	v, err := humanize.ParseBytes(strings.TrimSpace(s))
	if err != nil || v > math.MaxInt64 {
		return fmt.Errorf("%q is not a size such as 4194304, 4MiB or 1GB", s)
	}
	*b = byteSizeFlag(v)
	return nil
}

func (b *byteSizeFlag) String() string { return humanize.IBytes(uint64(max(*b, 0))) }

func (b *byteSizeFlag) Type() string { return "size" }

// prefixesFlag is a list of IP prefixes, given as CIDRs or bare IPs (a
// /32 or /128), separated by commas or spaces, the flag repeated or
// both; every value adds to the list.
type prefixesFlag []netip.Prefix

func (p *prefixesFlag) Set(s string) error {
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		pfx, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil || a.Zone() != "" {
				const want = "not an IP address or CIDR such as 10.0.0.0/8"
				if v == strings.TrimSpace(s) {
					return errors.New(want) // pflag quotes the value
				}
				return fmt.Errorf("%q is %s", v, want)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		*p = append(*p, pfx.Masked())
	}
	return nil
}

func (p *prefixesFlag) String() string {
	s := make([]string, len(*p))
	for i, pfx := range *p {
		s[i] = pfx.String()
	}
	return strings.Join(s, ",")
}

func (p *prefixesFlag) Type() string { return "CIDR" }

// newLogger builds the structured logger serve writes to stderr.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErr(fmt.Sprintf("unknown log level %q: use debug, info, warn or error", level))
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	default:
		return nil, usageErr(fmt.Sprintf("unknown log format %q: use text or json", format))
	}
}

func runServe(ctx context.Context, opts *serveOptions) error {
	log, err := newLogger(opts.g.IO.ErrOut, opts.LogFormat, opts.LogLevel)
	if err != nil {
		return err
	}
	if opts.MaxBodyBytes <= 0 {
		return usageErr(fmt.Sprintf("--max-body-bytes must be positive, got %d", opts.MaxBodyBytes))
	}
	if opts.LogRetention <= 0 {
		return usageErr(fmt.Sprintf("--log-retention must be positive, got %s", opts.LogRetention))
	}
	if opts.RequestTimeout <= 0 {
		return usageErr(fmt.Sprintf("--request-timeout must be positive, got %s", opts.RequestTimeout))
	}
	if opts.TokenLifetime < directory.MinTokenLifetime || opts.TokenLifetime > directory.MaxTokenLifetime {
		return usageErr(fmt.Sprintf("--oauth-token-lifetime must be from 60m to 6h (what Microsoft Entra ID accepts), got %s", (*durationFlag)(&opts.TokenLifetime)))
	}
	if r := opts.AuthFailureRate; !(r > 0 || r == -1) || math.IsInf(r, 1) {
		return usageErr(fmt.Sprintf("--auth-failure-rate must be a number of answers a second above 0 (or -1 for no pace), got %v", r))
	}
	if opts.LogMaxEntries <= 0 {
		return usageErr(fmt.Sprintf("--log-max-entries must be positive, got %d", opts.LogMaxEntries))
	}
	if opts.EventRetention <= 0 {
		return usageErr(fmt.Sprintf("--event-retention must be positive, got %s", opts.EventRetention))
	}
	if opts.WebhookTimeout <= 0 || opts.WebhookRetryWindow <= 0 {
		return usageErr(fmt.Sprintf("--webhook-timeout and --webhook-retry-window must be positive, got %s and %s", opts.WebhookTimeout, opts.WebhookRetryWindow))
	}
	if opts.EventMaxEntries <= 0 {
		return usageErr(fmt.Sprintf("--event-max-entries must be positive, got %d", opts.EventMaxEntries))
	}
	if opts.LogMaxBytes <= 0 {
		return usageErr(fmt.Sprintf("--log-max-bytes must be positive, got %d", opts.LogMaxBytes))
	}
	if _, err := store.ParseDurability(opts.Durability); err != nil {
		return usageErr("--" + err.Error())
	}
	dataDir, err := opts.g.dataDir()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("kacescim starting", slog.String("version", opts.g.Build.String()))
	if opts.PprofListen != "" {
		stopPprof, err := servePprof(opts.PprofListen, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}

	srv, err := opts.open(ctx, dataDir, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	if opts.MetricsListen != "" {
		stopMetrics, err := serveMetrics(opts.MetricsListen, srv.MetricsHandler(), log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return listenError("--listen", opts.Listen, err)
	}
	url := listenURL(ln.Addr(), opts.TLSCert != "")
	// With --admin-listen the admin API is served there alone (with the
	// SCIM endpoints): that is the URL the CLI is given.
	var adminLn net.Listener
	cliURL := url
	if opts.AdminListen != "" {
		if adminLn, err = net.Listen("tcp", opts.AdminListen); err != nil {
			ln.Close()
			return listenError("--admin-listen", opts.AdminListen, err)
		}
		cliURL = listenURL(adminLn.Addr(), opts.TLSCert != "")
	}
	urlFile := filepath.Join(dataDir, serverURLFile)
	// A full disk must not keep the service down: the CLI then needs
	// --server, and says so.
	if err := writeServerURL(urlFile, cliURL); err != nil {
		log.Warn("cannot write the server-url file: the CLI will need --server "+cliURL, "err", err)
	} else {
		defer removeServerURL(urlFile, cliURL)
	}

	scimBase := url + server.SCIMPrefix
	if opts.PublicURL != "" {
		scimBase = strings.TrimRight(opts.PublicURL, "/") + server.SCIMPrefix
	}
	attrs := []any{
		slog.String("url", url),
		slog.String("scim_base_url", scimBase),
		slog.String("data_dir", dataDir),
	}
	if adminLn != nil {
		attrs = append(attrs, slog.String("admin_url", cliURL))
	}
	if opts.AdminToken == "" {
		attrs = append(attrs, slog.String("admin_token_file", filepath.Join(dataDir, adminapi.TokenFile)))
	} else {
		attrs = append(attrs, slog.String("admin_token", "from --admin-token or KACESCIM_ADMIN_TOKEN"))
	}
	log.Info("kacescim listening", attrs...)

	if adminLn != nil {
		err = srv.ServeWithAdmin(ctx, ln, adminLn)
	} else {
		err = srv.Serve(ctx, ln)
	}
	log.Info("kacescim stopped")
	return err
}

// openStore opens the store at dsn, trying again while the database is
// not available (a PostgreSQL server not up yet, or restarting), with a
// back-off from half a second to ten, logging each try, until ctx ends.
// Any other failure (a wrong URL, a refused password, a migration) is
// returned at once.
func openStore(ctx context.Context, dsn string, d store.Durability, log *slog.Logger) (directory.Store, error) {
	wait := 500 * time.Millisecond
	for try := 1; ; try++ {
		st, err := store.Open(ctx, dsn, d)
		if err == nil || directory.ErrorCode(err) != directory.EUNAVAILABLE {
			return st, err
		}
		log.Warn("database not available; trying again", "try", try, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped while waiting for the database: %w", err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// open opens the store the options name (running its migrations), the
// directory service over it and the server over both.
func (opts *serveOptions) open(ctx context.Context, dataDir string, log *slog.Logger) (*server.Server, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	durability, err := store.ParseDurability(opts.Durability)
	if err != nil {
		return nil, usageErr("--" + err.Error())
	}
	st, err := openStore(ctx, cmp.Or(opts.Database, filepath.Join(dataDir, store.DefaultFile)), durability, log)
	if err != nil {
		return nil, err
	}
	srv, err := server.New(opts.config(dataDir, log), directory.NewService(st))
	if err != nil {
		st.Close()
		return nil, err
	}
	return srv, nil
}

// config is the server configuration the options describe.
func (opts *serveOptions) config(dataDir string, log *slog.Logger) server.Config {
	return server.Config{
		Listen:             opts.Listen,
		PublicURL:          opts.PublicURL,
		DataDir:            dataDir,
		TLSCertFile:        opts.TLSCert,
		TLSKeyFile:         opts.TLSKey,
		AdminToken:         opts.AdminToken,
		MaxBodyBytes:       opts.MaxBodyBytes,
		RequestTimeout:     opts.RequestTimeout,
		TokenLifetime:      opts.TokenLifetime,
		AuthFailureRate:    opts.AuthFailureRate,
		LogRetention:       opts.LogRetention,
		LogMaxEntries:      opts.LogMaxEntries,
		LogMaxBytes:        opts.LogMaxBytes,
		EventRetention:     opts.EventRetention,
		EventMaxEntries:    opts.EventMaxEntries,
		WebhookTimeout:     opts.WebhookTimeout,
		WebhookRetryWindow: opts.WebhookRetryWindow,
		TrustedProxies:     opts.TrustedProxies,
		Version:            opts.g.Build.String(),
		Logger:             log,
	}
}

// listenURL is the URL clients on this machine reach the listener at: an
// unspecified address (0.0.0.0, ::) is reached through loopback.
func listenURL(addr net.Addr, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			host = "127.0.0.1"
		} else {
			host = "::1"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// writeServerURL replaces the server-url file atomically, mode 0600.
func writeServerURL(path, url string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".server-url-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(url + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// removeServerURL moves the server-url file to last-server-url unless
// another server has written its own URL there since: the CLI then finds
// no running server, and can say where it last ran.
func removeServerURL(path, url string) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || strings.TrimSpace(string(b)) != url {
		return
	}
	if os.Rename(path, filepath.Join(filepath.Dir(path), lastServerURLFile)) != nil {
		os.Remove(path)
	}
}

// listenError explains a listener that could not start on addr (the flag
// that gave it is flag): when the address is taken, whether a kacescim
// answers there, and what to do.
func listenError(flag, addr string, err error) error {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s (%s): %w", addr, flag, err)
	}
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, port)
	hc := &http.Client{Timeout: time.Second}
	if res, herr := hc.Get(url + "/healthz"); herr == nil {
		var h struct{ Status, Version string }
		derr := json.NewDecoder(io.LimitReader(res.Body, 4096)).Decode(&h)
		res.Body.Close()
		if derr == nil && h.Status == "ok" {
			running := "a kacescim serve"
			if h.Version != "" {
				running = "kacescim " + h.Version
			}
			return fmt.Errorf("cannot listen on %s (%s): %s is already running there (%s); stop it first, or give this one another address, such as %s 127.0.0.1:0 for a free port",
				addr, flag, running, url, flag)
		}
	}
	return fmt.Errorf("cannot listen on %s (%s): another program already uses that port; stop it, or give serve another address, such as %s 127.0.0.1:0 for a free port",
		addr, flag, flag)
}

// serveMetrics serves h at /metrics on addr until the returned function
// is called.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, listenError("--metrics-listen", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("metrics listening", slog.String("url", "http://"+ln.Addr().String()+"/metrics"))
	return func() { srv.Close() }, nil
}

// servePprof serves net/http/pprof on addr, a loopback address only: the
// profiles hold no secrets but are not authenticated, and cost CPU.
func servePprof(addr string, log *slog.Logger) (func(), error) {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return nil, usageErr(fmt.Sprintf("--pprof-listen %q: give a loopback address such as 127.0.0.1:6060", addr))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("pprof listening", slog.String("url", "http://"+ln.Addr().String()+"/debug/pprof/"))
	return func() { srv.Close() }, nil
}
