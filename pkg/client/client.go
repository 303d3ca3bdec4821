// Package client holds the HTTP clients of kacescim: Admin for the JSON
// admin API the CLI manages the server with, and SCIM for the SCIM 2.0 API
// identity providers call. Both are built on resty, always with a timeout,
// and neither imports anything of the server or its storage.
//
// Admin has one method per admin API call, taking and returning the
// pkg/adminapi wire types; an error answer comes back as an *Error that
// keeps the server's code and message. SCIM sends what it is given, as an
// identity provider would, and returns every answer as a Response, 4xx
// included: Response.Err turns an error answer into the *scim.Error it
// carries. Either client reports a request that got no answer at all
// (nothing listening, TLS, timeout) as an *UnreachableError. Options
// (WithTimeout, WithHeader, WithAuthMode, ...) set both up alike.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-resty/resty/v2"
)

// DefaultTimeout bounds every request unless WithTimeout says otherwise.
const DefaultTimeout = 30 * time.Second

// DefaultUserAgent is sent unless WithUserAgent says otherwise.
const DefaultUserAgent = "kacescim"

// maxResponseBytes keeps a misbehaving server from filling memory.
const maxResponseBytes = 64 << 20

// AuthMode is how the SCIM client presents its key.
type AuthMode int

const (
	// AuthBearer sends "Authorization: Bearer <key>" (Okta's "HTTP Header"
	// mode with a bearer token, and Entra ID).
	AuthBearer AuthMode = iota
	// AuthHeader sends the bare key, "Authorization: <key>", as Okta does
	// in its "HTTP Header" authentication mode.
	AuthHeader
)

// Option configures a client.
type Option func(*options)

type options struct {
	timeout   time.Duration
	userAgent string
	transport http.RoundTripper
	insecure  bool
	roots     *x509.CertPool
	headers   http.Header
	authMode  AuthMode
}

func buildOptions(opts []Option) options {
	o := options{timeout: DefaultTimeout, userAgent: DefaultUserAgent, headers: http.Header{}}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithTimeout bounds each request, from dialling to the last byte of the
// body. Values ≤ 0 keep the default: a client without a timeout is never
// built.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithUserAgent sets the User-Agent header, e.g. "kacescim/1.2.0".
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// WithTransport replaces the HTTP transport (tests, proxies, custom CAs).
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.transport = rt } }

// WithRootCAs trusts the certificates of pool (a private or self-signed
// CA, from --ca-cert) instead of the system's; nil keeps the system's.
func WithRootCAs(pool *x509.CertPool) Option { return func(o *options) { o.roots = pool } }

// WithInsecureSkipVerify accepts any TLS certificate. It exists for test
// servers with self-signed certificates and is never the default.
func WithInsecureSkipVerify() Option { return func(o *options) { o.insecure = true } }

// WithHeader adds a header to every request. Headers set this way are sent
// in addition to the ones the client sets itself, and replace them when
// they have the same name.
func WithHeader(name, value string) Option {
	return func(o *options) { o.headers.Add(name, value) }
}

// WithAuthMode chooses how the SCIM client sends its key (default
// AuthBearer). The admin client always uses a bearer token.
func WithAuthMode(m AuthMode) Option { return func(o *options) { o.authMode = m } }

// newResty builds the underlying client from the options.
func newResty(o options) *resty.Client {
	rt := o.transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.insecure || o.roots != nil {
		if t, ok := rt.(*http.Transport); ok {
			t = t.Clone()
			if t.TLSClientConfig == nil {
				t.TLSClientConfig = &tls.Config{}
			}
			t.TLSClientConfig.InsecureSkipVerify = o.insecure
			if o.roots != nil {
				t.TLSClientConfig.RootCAs = o.roots
			}
			rt = t
		}
	}
	c := resty.NewWithClient(&http.Client{Timeout: o.timeout, Transport: rt})
	c.SetLogger(silentLogger{})
	c.SetDisableWarn(true)
	c.SetResponseBodyLimit(maxResponseBytes)
	c.SetHeader("User-Agent", o.userAgent)
	return c
}

// applyHeaders sets the WithHeader headers last, so that they replace the
// client's own.
func applyHeaders(c *resty.Client, h http.Header) {
	for name, values := range h {
		c.Header[http.CanonicalHeaderKey(name)] = values
	}
}

// silentLogger keeps resty from writing to stderr: errors are returned to
// the caller, who decides what to say.
type silentLogger struct{}

func (silentLogger) Errorf(string, ...any) {}
func (silentLogger) Warnf(string, ...any)  {}
func (silentLogger) Debugf(string, ...any) {}

// Error is an error answer of the admin API. Its text is the server's
// message, which is written for the person at the command line.
type Error struct {
	Status  int    // HTTP status
	Code    string // directory error code: "not_found", "conflict", "invalid", "unauthorized", ...
	Message string
}

func (e *Error) Error() string { return e.Message }

// UnreachableError says that no HTTP answer came back at all: nothing
// listens at URL, the name does not resolve, TLS failed, or the request
// timed out.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string { return fmt.Sprintf("cannot reach %s: %v", e.URL, e.Err) }

func (e *UnreachableError) Unwrap() error { return e.Err }

// transportError wraps an error from sending a request. Cancellation by
// the caller is returned as is.
func transportError(ctx context.Context, url string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return ctxErr
	}
	return &UnreachableError{URL: url, Err: err}
}
