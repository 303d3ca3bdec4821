package server

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

// TokenPath is the OAuth 2.0 token endpoint (RFC 6749 §3.2), where an
// identity provider such as Microsoft Entra ID trades a provider's client
// ID and secret for an access token (the client credentials grant,
// §4.4).
const TokenPath = "/oauth/token"

// tokenURL is the token endpoint's URL as r sees the server.
func (s *Server) tokenURL(r *http.Request) string { return s.baseURL(r) + TokenPath }

// oauthError is an error answer of the token endpoint (RFC 6749 §5.2).
type oauthError struct {
	status      int
	code        string // invalid_request, invalid_client, unsupported_grant_type, ...
	description string
	retryAfter  int // seconds, for 429 and 503
	// authFailed marks a failed client authentication, whose answer is
	// paced like a wrong SCIM key's (failurePace).
	authFailed bool
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func (s *Server) oauthRoutes(mux *http.ServeMux) {
	mux.HandleFunc(TokenPath, s.serveToken)
}

// serveToken answers the token endpoint. Only POST with a form body and
// grant_type=client_credentials is served; the client authenticates with
// HTTP Basic (client_secret_basic) or with client_id and client_secret in
// the body (client_secret_post), never both. Failed client
// authentication is throttled per client address like failed SCIM
// authentication, and never tells an unknown client from a wrong secret.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	ri := infoFrom(r.Context())
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	now := time.Now()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	tok, p, err := s.issueToken(ctx, w, r, now)
	status := http.StatusOK
	defer func() { s.logTokenRequest(r, p, status, now) }()
	if err == nil {
		h.Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(tok)
		return
	}
	var oe *oauthError
	if !errors.As(err, &oe) {
		oe = &oauthError{status: http.StatusInternalServerError, code: "server_error", description: "internal error"}
		switch directory.ErrorCode(err) {
		case directory.EUNAVAILABLE:
			oe = &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
				description: "the database is unavailable for now; try again", retryAfter: unavailableRetryAfter}
		default:
			if errors.Is(err, context.DeadlineExceeded) {
				oe = &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
					description: "the database did not answer in time; try again", retryAfter: unavailableRetryAfter}
			} else {
				s.log.Error("internal error", "request_id", ri.id, "err", err)
			}
		}
	}
	if oe.authFailed {
		s.paceFailure(w, r.WithContext(ctx))
	}
	if oe.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(oe.retryAfter))
	}
	if oe.status == http.StatusUnauthorized {
		// RFC 6749 §5.2: a client that authenticated with the
		// Authorization header is told the scheme to use.
		h.Set("WWW-Authenticate", `Basic realm="kacescim"`)
	}
	ri.errDetail = oe.description
	status = oe.status
	h.Set("Content-Type", "application/json")
	w.WriteHeader(oe.status)
	json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{oe.code, oe.description})
}

// tokenResponse is a successful answer (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

func (s *Server) issueToken(ctx context.Context, w http.ResponseWriter, r *http.Request, now time.Time) (*tokenResponse, *directory.Provider, error) {
	ri := infoFrom(ctx)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, nil, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request",
			description: "the token endpoint takes POST with an application/x-www-form-urlencoded body"}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, nil, &oauthError{status: http.StatusBadRequest, code: "invalid_request",
			description: "send the parameters as an application/x-www-form-urlencoded body (RFC 6749 §4.4.2)"}
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, nil, &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: "the form body cannot be read"}
	}
	form := r.PostForm
	for name, vs := range form {
		if len(vs) > 1 {
			// RFC 6749 §3.2: parameters must not be included more than once.
			return nil, nil, &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: "parameter " + clipText(name, 64) + " is repeated"}
		}
	}
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return nil, nil, &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: "grant_type is missing: send grant_type=client_credentials"}
	default:
		return nil, nil, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type",
			description: "only grant_type=client_credentials is served, not " + strconv.Quote(clipText(gt, 64))}
	}
	clientID, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: the client id and secret are form-encoded
		// before Basic encodes them.
		var err1, err2 error
		clientID, err1 = url.QueryUnescape(clientID)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, nil, s.tokenAuthFailed(ctx, ri.clientIP, now, "the Basic credentials are not form-encoded")
		}
		if form.Has("client_secret") {
			return nil, nil, &oauthError{status: http.StatusBadRequest, code: "invalid_request",
				description: "the client authenticated twice: use HTTP Basic or client_secret in the body, not both"}
		}
		if id := form.Get("client_id"); id != "" && id != clientID {
			return nil, nil, &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: "client_id differs from the Basic credentials"}
		}
	} else {
		if h := r.Header.Get("Authorization"); h != "" {
			return nil, nil, &oauthError{status: http.StatusBadRequest, code: "invalid_request",
				description: "the token endpoint takes HTTP Basic client authentication or client_id and client_secret in the body"}
		}
		clientID, secret = form.Get("client_id"), form.Get("client_secret")
	}
	// An address past its budget of failures is refused before the
	// client is looked up, unless these credentials got a token lately:
	// an identity provider behind the same address as an attacker keeps
	// its tokens coming (authfail.go).
	good := "oauth " + clientID + ":" + secret
	if ok, retryAfter := s.authFails.allow(ri.clientIP, now); !ok && !s.authFails.knownGood(good, now) {
		s.metrics.limited.WithLabelValues("auth_failures").Inc()
		return nil, nil, &oauthError{status: http.StatusTooManyRequests, code: "slow_down", retryAfter: retryAfter, authFailed: true,
			description: "too many failed authentications from " + ri.clientIP + ": retry after the number of seconds in Retry-After"}
	}
	if clientID == "" || secret == "" {
		return nil, nil, s.tokenAuthFailed(ctx, ri.clientIP, now, "client authentication is missing: send client_id and client_secret (in the body or as HTTP Basic)")
	}
	token, life, p, err := s.dir.IssueToken(ctx, clientID, secret)
	if p != nil {
		ri.provider = p.Name
	}
	switch code := directory.ErrorCode(err); {
	case err == nil:
	case code == directory.EUNAUTHORIZED && directory.IsExpired(err):
		s.metrics.authFails.WithLabelValues("expired").Inc()
		return nil, p, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: directory.ErrorMessage(err)}
	case code == directory.EUNAUTHORIZED:
		return nil, nil, s.tokenAuthFailed(ctx, ri.clientIP, now, "invalid client credentials")
	case code == directory.EFORBIDDEN:
		s.metrics.authFails.WithLabelValues("disabled").Inc()
		return nil, p, &oauthError{status: http.StatusBadRequest, code: "unauthorized_client", description: directory.ErrorMessage(err)}
	default:
		return nil, p, err
	}
	s.authFails.authenticated(good, now)
	// The token is known good at once, as the key of a provider that just
	// authenticated would be: a throttled address does not stop it.
	s.authFails.authenticated("Bearer "+token, now)
	return &tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(life.Round(time.Second) / time.Second)}, p, nil
}

// logTokenRequest writes the token request's provisioning-log row: under
// its provider when the client was known (a token issued, or refused for
// an expired secret or a disabled provider), so that an administrator
// sees Entra getting its tokens; a failed client authentication only as
// failed SCIM authentication is (the first of its address in a window,
// authfail.go); nothing else of an unknown client.
func (s *Server) logTokenRequest(r *http.Request, p *directory.Provider, status int, start time.Time) {
	ri := infoFrom(r.Context())
	if p == nil && !ri.tokenLogRow {
		// Nothing unauthenticated reaches the database beyond that row:
		// a malformed request of an unknown client is in the request
		// log only.
		return
	}
	e := &directory.LogEntry{Time: s.dir.Now(), RequestID: ri.id, ClientIP: ri.clientIP, Method: r.Method,
		Path: TokenPath, Status: status, Latency: time.Since(start), Error: clipText(ri.errDetail, maxLogText)}
	if p != nil {
		e.ProviderID = p.ID
	}
	if err := s.dir.RecordRequest(context.WithoutCancel(r.Context()), e); err != nil {
		s.log.Error("record request", "request_id", ri.id, "err", err)
	}
}

// tokenAuthFailed counts a failed client authentication, throttled like
// SCIM's, and returns its invalid_client answer.
func (s *Server) tokenAuthFailed(ctx context.Context, ip string, now time.Time, description string) error {
	s.metrics.authFails.WithLabelValues("invalid").Inc()
	ok, retryAfter := s.authFails.allow(ip, now)
	if s.authFails.failed(s.log, ip, !ok, now) {
		infoFrom(ctx).tokenLogRow = true
	}
	if !ok {
		s.metrics.limited.WithLabelValues("auth_failures").Inc()
		return &oauthError{status: http.StatusTooManyRequests, code: "slow_down", retryAfter: retryAfter, authFailed: true,
			description: "too many failed authentications from " + ip + ": retry after the number of seconds in Retry-After"}
	}
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: description, authFailed: true}
}

// validTokenLifetime refuses a token lifetime outside what Entra's app
// gallery accepts.
func validTokenLifetime(d time.Duration) error {
	if d < directory.MinTokenLifetime || d > directory.MaxTokenLifetime {
		return errors.New("--oauth-token-lifetime must be from 60m to 6h, got " + strings.TrimSuffix(d.String(), "0s"))
	}
	return nil
}
