package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-resty/resty/v2"

	"github.com/kacescim/kacescim/pkg/scim"
)

// SCIM sends requests to a SCIM 2.0 service provider the way an identity
// provider does. It reports every HTTP answer as a Response, whatever its
// status: judging it is the caller's business (a conformance test expects
// some 4xx answers).
type SCIM struct {
	baseURL string
	rc      *resty.Client
}

// Response is one SCIM answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// NewSCIM returns a client for the SCIM base URL (e.g.
// https://host/scim/v2) presenting key as the identity provider's security
// key. An empty key sends no Authorization header.
func NewSCIM(baseURL, key string, opts ...Option) *SCIM {
	o := buildOptions(opts)
	rc := newResty(o)
	rc.Header.Set("Accept", scim.MediaType)
	if key != "" {
		switch o.authMode {
		case AuthHeader:
			rc.Header.Set("Authorization", key)
		default:
			rc.Header.Set("Authorization", "Bearer "+key)
		}
	}
	applyHeaders(rc, o.headers)
	return &SCIM{baseURL: strings.TrimRight(baseURL, "/"), rc: rc}
}

// URL returns the absolute URL of path: path itself when it is absolute
// (e.g. a meta.location), otherwise path appended to the base URL.
// Characters a URL cannot hold (spaces, quotes) are percent-encoded, so a
// filter can be written as it reads; everything else, "%XX" escapes
// included, is sent as written.
func (c *SCIM) URL(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return escapeLoose(path)
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return c.baseURL + escapeLoose(path)
}

// escapeLoose percent-encodes the bytes RFC 3986 allows nowhere in a URL.
func escapeLoose(s string) string {
	const allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(allowed, s[i]) >= 0 {
			b.WriteByte(s[i])
		} else {
			fmt.Fprintf(&b, "%%%02X", s[i])
		}
	}
	return b.String()
}

// Do sends one request. path is relative to the base URL and may carry an
// already-encoded query ("/Users?filter=userName%20eq%20%22a%22"). A non-nil
// body is sent with Content-Type application/scim+json. The error is
// non-nil only when no answer came back (see UnreachableError).
func (c *SCIM) Do(ctx context.Context, method, path string, body []byte) (*Response, error) {
	u := c.URL(path)
	req := c.rc.R().SetContext(ctx)
	if body != nil {
		req.SetHeader("Content-Type", scim.MediaType).SetBody(body)
	}
	resp, err := req.Execute(strings.ToUpper(method), u)
	if err != nil {
		return nil, transportError(ctx, c.baseURL, err)
	}
	return &Response{Status: resp.StatusCode(), Header: resp.Header(), Body: resp.Body()}, nil
}

// DoJSON marshals v (unless nil) and sends it with Do.
func (c *SCIM) DoJSON(ctx context.Context, method, path string, v any) (*Response, error) {
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	return c.Do(ctx, method, path, body)
}

// Decode unmarshals the body into v.
func (r *Response) Decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode HTTP %d answer: %w", r.Status, err)
	}
	return nil
}

// Err returns nil for a status below 400, otherwise a *scim.Error: the
// decoded SCIM error body, or one made from the status when the body is
// not a SCIM error.
func (r *Response) Err() error {
	if r.Status < 400 {
		return nil
	}
	var se scim.Error
	if json.Unmarshal(r.Body, &se) == nil && se.Detail != "" {
		if se.Status == 0 {
			se.Status = r.Status
		}
		return &se
	}
	detail := http.StatusText(r.Status)
	if detail == "" {
		detail = "HTTP " + strconv.Itoa(r.Status)
	}
	return &scim.Error{Status: r.Status, Detail: detail}
}
