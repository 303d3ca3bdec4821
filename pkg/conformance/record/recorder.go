package record

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kacescim/kacescim/pkg/conformance"
)

// An Exchange is one request an identity provider sent through a Recorder
// and the answer the upstream server gave. It holds the request as it came,
// Authorization included: it lives in memory only, and BuildScenario is
// what turns it into something safe to write.
type Exchange struct {
	// Time is when the answer was complete.
	Time time.Time
	// Method and Path: Path is relative to the upstream SCIM base URL,
	// with the query as it was sent ("/Users?filter=userName%20eq%20...").
	Method string
	Path   string
	// RequestHeader and RequestBody are the request as the client sent it.
	RequestHeader http.Header
	RequestBody   []byte
	// Status, ResponseHeader and ResponseBody are the upstream's answer.
	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte
	// Truncated is set when a body was larger than the recorder keeps: the
	// exchange was proxied in full but cannot be replayed.
	Truncated bool
}

// Config configures a Recorder.
type Config struct {
	// Upstream is the SCIM base URL the recorder forwards to, e.g.
	// https://scim.example.com/scim/v2.
	Upstream string
	// Dir is where Flush writes scenario files; it must exist.
	Dir string
	// Name is the suite of the scenarios written and the stem of their
	// file names (default "recorded").
	Name string
	// Transport sends the requests upstream; nil uses a clone of
	// http.DefaultTransport with a response-header timeout.
	Transport http.RoundTripper
	// Insecure accepts any TLS certificate from the upstream (test servers
	// only). It applies to the default transport only.
	Insecure bool
	// MaxBodyBytes bounds the bodies kept (default 10 MiB); larger
	// exchanges are proxied but not recorded.
	MaxBodyBytes int64
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnExchange, when set, is called after each exchange, e.g. to log it.
	// The exchange holds the Authorization header: never print it.
	OnExchange func(Exchange)
}

// DefaultName is the suite name of recorded scenarios unless Config.Name
// says otherwise.
const DefaultName = "recorded"

// upstreamTimeout is how long the recorder waits for the upstream's
// answer: Okta gives up after 60 seconds.
const upstreamTimeout = 60 * time.Second

// A Recorder is a reverse proxy in front of a SCIM server that records
// every exchange and writes them as a scenario that conformance.Run
// replays: the recorded identity-provider traffic becomes a test (see
// BuildScenario for how). It is an http.Handler: the identity provider's SCIM base URL is
// wherever the handler is served.
type Recorder struct {
	cfg      Config
	upstream *url.URL
	proxy    *httputil.ReverseProxy

	mu        sync.Mutex
	exchanges []Exchange
	closed    bool
}

var _ http.Handler = (*Recorder)(nil)

// New returns a Recorder forwarding to cfg.Upstream.
func New(cfg Config) (*Recorder, error) {
	u, err := url.Parse(cfg.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream %q is not an http(s) URL", cfg.Upstream)
	}
	u.RawQuery, u.Fragment = "", ""
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rt := cfg.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = upstreamTimeout
		if cfg.Insecure {
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only by explicit flag
		}
		rt = t
	}
	r := &Recorder{cfg: cfg, upstream: u}
	r.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// The transport then asks for gzip itself and decompresses,
			// so the recorded body is the JSON.
			pr.Out.Header.Del("Accept-Encoding")
		},
		Transport: rt,
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			if st, ok := req.Context().Value(exchangeKey{}).(*exchangeState); ok {
				st.failed = true
			}
			http.Error(w, "kacescim record: the upstream did not answer: "+err.Error(), http.StatusBadGateway)
		},
	}
	return r, nil
}

type exchangeKey struct{}

// exchangeState is what the proxy's error handler tells ServeHTTP.
type exchangeState struct{ failed bool }

// ServeHTTP forwards req to the upstream and records the exchange.
func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		http.Error(w, "kacescim record: the recording is closed", http.StatusServiceUnavailable)
		return
	}
	r.stripBasePath(req)
	ex := Exchange{Method: req.Method, Path: req.URL.EscapedPath(), RequestHeader: req.Header.Clone()}
	if req.URL.RawQuery != "" {
		ex.Path += "?" + req.URL.RawQuery
	}
	if req.Body != nil && req.Body != http.NoBody {
		body, complete, err := readUpTo(req.Body, r.cfg.MaxBodyBytes)
		if err != nil {
			http.Error(w, "kacescim record: reading the request: "+err.Error(), http.StatusBadRequest)
			return
		}
		ex.RequestBody, ex.Truncated = body, !complete
		rest := io.Reader(bytes.NewReader(body))
		if !complete {
			rest = io.MultiReader(rest, req.Body)
		}
		req.Body = io.NopCloser(rest)
	}
	st := &exchangeState{}
	req = req.WithContext(context.WithValue(req.Context(), exchangeKey{}, st))
	cw := &captureWriter{ResponseWriter: w, limit: r.cfg.MaxBodyBytes}
	r.proxy.ServeHTTP(cw, req)
	if st.failed {
		return
	}
	ex.Status = cw.status
	if ex.Status == 0 {
		ex.Status = http.StatusOK
	}
	ex.ResponseHeader = cw.header
	ex.ResponseBody = cw.body.Bytes()
	ex.Truncated = ex.Truncated || cw.truncated
	ex.Time = r.cfg.Now()
	r.mu.Lock()
	r.exchanges = append(r.exchanges, ex)
	r.mu.Unlock()
	if r.cfg.OnExchange != nil {
		r.cfg.OnExchange(ex)
	}
}

// stripBasePath lets the identity provider use the proxy's root or the
// upstream's own base path ("/scim/v2/Users") as its base URL.
func (r *Recorder) stripBasePath(req *http.Request) {
	base := strings.TrimRight(r.upstream.EscapedPath(), "/")
	if base == "" {
		return
	}
	ep := req.URL.EscapedPath()
	rest, ok := strings.CutPrefix(ep, base)
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		return
	}
	if rest == "" {
		rest = "/"
	}
	if p, err := url.PathUnescape(rest); err == nil {
		req.URL.Path, req.URL.RawPath = p, rest
	}
}

// readUpTo reads at most limit bytes; complete is false when there was
// more.
func readUpTo(r io.Reader, limit int64) (b []byte, complete bool, err error) {
	b, err = io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		return b, false, nil
	}
	return b, true, nil
}

// captureWriter passes the answer through and keeps a copy.
type captureWriter struct {
	http.ResponseWriter
	status    int
	header    http.Header
	body      bytes.Buffer
	limit     int64
	truncated bool
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
		c.header = c.ResponseWriter.Header().Clone()
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if room := c.limit - int64(c.body.Len()); int64(len(p)) > room {
		c.truncated = true
		c.body.Write(p[:max(room, 0)])
	} else {
		c.body.Write(p)
	}
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController (which the proxy flushes through)
// reach the real writer.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Exchanges returns a copy of the exchanges recorded since the last Flush.
func (r *Recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.exchanges)
}

// Flush writes the exchanges recorded since the last Flush as one scenario
// file in the configured directory and returns its path; with nothing
// recorded it writes nothing and returns "". Its checks are numbered after
// those of the suite's scenarios already in the directory, so that every
// check name stays unique.
func (r *Recorder) Flush() (string, error) {
	r.mu.Lock()
	exs := r.exchanges
	r.exchanges = nil
	r.mu.Unlock()
	if len(exs) == 0 {
		return "", nil
	}
	first := nextStepNumber(r.cfg.Dir, r.cfg.Name)
	s, err := BuildScenario(exs, Info{Suite: r.cfg.Name, Upstream: r.upstream.String(), FirstStep: first})
	if err != nil {
		return "", err
	}
	data, err := conformance.MarshalScenario(s)
	if err != nil {
		return "", err
	}
	return writeScenarioFile(r.cfg.Dir, r.cfg.Name, first, exs[0].Time, data)
}

// Close stops recording (later requests are refused with 503) and
// flushes what was recorded.
func (r *Recorder) Close() (string, error) {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return r.Flush()
}
