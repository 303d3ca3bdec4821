package server

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/federation"
	"github.com/kacescim/kacescim/pkg/scim"
)

// adminHandler is an endpoint of the admin API. Like a scimHandler, it
// returns its error instead of writing it, so that every error body is
// written by writeAdminError in one place.
type adminHandler func(w http.ResponseWriter, r *http.Request) error

// adminRoutes registers the JSON admin API the CLI talks to. Every route,
// including unknown paths under the prefix, requires the admin token.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	p := adminapi.Prefix
	handle := func(pattern string, h adminHandler) {
		mux.Handle(pattern, s.requireAdmin(h))
	}
	handle("GET "+p+"/providers", s.adminListProviders)
	handle("POST "+p+"/providers", s.adminCreateProvider)
	handle("GET "+p+"/providers/{name}", s.adminGetProvider)
	handle("PATCH "+p+"/providers/{name}", s.adminUpdateProvider)
	handle("DELETE "+p+"/providers/{name}", s.adminDeleteProvider)
	handle("POST "+p+"/providers/{name}/enable", s.adminEnableProvider)
	handle("POST "+p+"/providers/{name}/disable", s.adminDisableProvider)
	handle("POST "+p+"/providers/{name}/rotate-key", s.adminRotateKey)
	handle("GET "+p+"/providers/{name}/keys", s.adminListKeys)
	handle("DELETE "+p+"/providers/{name}/keys/{id}", s.adminRevokeKey)
	handle("GET "+p+"/providers/{name}/federation", s.adminGetFederation)
	handle("PUT "+p+"/providers/{name}/federation", s.adminSetFederation)
	handle("DELETE "+p+"/providers/{name}/federation", s.adminRemoveFederation)
	handle("GET "+p+"/providers/{name}/oauth", s.adminGetOAuth)
	handle("POST "+p+"/providers/{name}/oauth/secrets", s.adminAddSecret)
	handle("DELETE "+p+"/providers/{name}/oauth/secrets/{id}", s.adminRevokeSecret)
	handle("GET "+p+"/fields", s.adminListFields)
	handle("POST "+p+"/fields", s.adminCreateField)
	handle("DELETE "+p+"/fields/{name}", s.adminDeleteField)
	handle("GET "+p+"/providers/{name}/mappings", s.adminListMappings)
	handle("POST "+p+"/providers/{name}/mappings", s.adminAddMapping)
	handle("PUT "+p+"/providers/{name}/mappings", s.adminSetMappings)
	handle("DELETE "+p+"/providers/{name}/mappings", s.adminRemoveMapping)
	handle("POST "+p+"/providers/{name}/mappings/preview", s.adminPreview)
	handle("GET "+p+"/mappings/suggested", s.adminSuggestedMappings)
	handle("GET "+p+"/users", s.adminListUsers)
	handle("GET "+p+"/users/{key}", s.adminGetUser)
	handle("GET "+p+"/logs", s.adminListLog)
	handle("GET "+p+"/events", s.adminListEvents)
	handle("GET "+p+"/snapshot", s.adminSnapshot)
	handle("GET "+p+"/webhooks", s.adminListWebhooks)
	handle("POST "+p+"/webhooks", s.adminCreateWebhook)
	handle("GET "+p+"/webhooks/{id}", s.adminGetWebhook)
	handle("DELETE "+p+"/webhooks/{id}", s.adminDeleteWebhook)
	handle("POST "+p+"/webhooks/{id}/replay", s.adminReplayWebhook)
	handle(p+"/", func(w http.ResponseWriter, r *http.Request) error {
		return directory.Errorf(directory.ENOTFOUND, "no admin endpoint %s %s", r.Method, r.URL.Path)
	})
}

// requireAdmin serves next only to a request with the admin token as a
// bearer token, compared in constant time, and writes the error either
// returns.
func (s *Server) requireAdmin(next adminHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkAdminToken(r); err != nil {
			s.writeAdminError(w, r, err)
			return
		}
		if err := next(w, r); err != nil {
			s.writeAdminError(w, r, err)
		}
	})
}

// checkAdminToken is EUNAUTHORIZED, saying what to send, unless r carries
// the admin token.
func (s *Server) checkAdminToken(r *http.Request) error {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, token, _ := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	switch {
	case h == "":
		return directory.Errorf(directory.EUNAUTHORIZED, "missing admin token: send Authorization: Bearer <admin token>")
	case !strings.EqualFold(scheme, "Bearer") || token == "":
		return directory.Errorf(directory.EUNAUTHORIZED, "malformed Authorization header: send Authorization: Bearer <admin token>")
	case subtle.ConstantTimeCompare([]byte(token), []byte(s.adminToken)) != 1:
		return directory.Errorf(directory.EUNAUTHORIZED, "invalid admin token")
	}
	return nil
}

func (s *Server) adminListProviders(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.dir.Providers(r.Context())
	if err != nil {
		return err
	}
	list := adminapi.ProviderList{Providers: make([]adminapi.Provider, 0, len(ps))}
	for _, p := range ps {
		list.Providers = append(list.Providers, s.adminProvider(r, p))
	}
	return s.adminJSON(w, r, http.StatusOK, list)
}

func (s *Server) adminCreateProvider(w http.ResponseWriter, r *http.Request) error {
	var req adminapi.CreateProviderRequest
	if err := s.adminDecode(w, r, &req); err != nil {
		return err
	}
	infoFrom(r.Context()).provider = req.Name
	opts := directory.ProviderOptions{Strict: &req.Strict, RateLimit: &req.RateLimit}
	if req.KeyExpiresInSeconds != 0 {
		if !req.Enabled {
			return directory.Errorf(directory.EINVALID, "a disabled provider has no key to expire: give the key's lifetime when it is enabled")
		}
		opts.Key = &directory.KeyOptions{Lifetime: seconds(req.KeyExpiresInSeconds)}
	}
	p, key, err := s.dir.AddProvider(r.Context(), req.Name, req.Enabled, opts)
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusCreated, adminapi.ProviderKeyResponse{Provider: s.adminProvider(r, p), Key: key})
}

func (s *Server) adminGetProvider(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	p, err := s.dir.Provider(r.Context(), name)
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, s.adminProvider(r, p))
}

// updateProviderFields says what PATCH /providers/{name} can change, for
// the bodies that change nothing.
const updateProviderFields = "strict (true or false), rateLimit (SCIM requests per second, 0 for no limit) or both"

// adminUpdateProvider changes the settings present in the body and leaves
// the others as they are.
func (s *Server) adminUpdateProvider(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	var req adminapi.UpdateProviderRequest
	if err := s.adminDecodeWant(w, r, &req, "a JSON object with "+updateProviderFields); err != nil {
		return err
	}
	if req.Strict == nil && req.RateLimit == nil {
		return directory.Errorf(directory.EINVALID, "nothing to change: set %s", updateProviderFields)
	}
	p, err := s.dir.SetProviderOptions(r.Context(), name, directory.ProviderOptions{Strict: req.Strict, RateLimit: req.RateLimit})
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, s.adminProvider(r, p))
}

func (s *Server) adminDeleteProvider(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	if err := s.dir.RemoveProvider(r.Context(), name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) adminEnableProvider(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	ko, err := s.newKeyOptions(w, r, false)
	if err != nil {
		return err
	}
	p, key, err := s.dir.EnableProvider(r.Context(), name, ko)
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, adminapi.ProviderKeyResponse{Provider: s.adminProvider(r, p), Key: key})
}

func (s *Server) adminDisableProvider(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	p, err := s.dir.DisableProvider(r.Context(), name)
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, adminapi.ProviderKeyResponse{Provider: s.adminProvider(r, p)})
}

func (s *Server) adminRotateKey(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	ko, err := s.newKeyOptions(w, r, true)
	if err != nil {
		return err
	}
	p, key, err := s.dir.RotateKey(r.Context(), name, ko)
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, adminapi.ProviderKeyResponse{Provider: s.adminProvider(r, p), Key: key})
}

// newKeyOptions reads the optional NewKeyRequest body of enable and
// rotate-key; a grace period only means something to a rotation.
func (s *Server) newKeyOptions(w http.ResponseWriter, r *http.Request, rotation bool) (directory.KeyOptions, error) {
	ko := directory.KeyOptions{Grace: directory.DefaultGrace}
	var req adminapi.NewKeyRequest
	if err := s.adminDecodeOptional(w, r, &req); err != nil {
		return ko, err
	}
	if req.GraceSeconds != nil {
		if !rotation {
			return ko, directory.Errorf(directory.EINVALID, "enabling a provider stops every older key: a grace period is for rotate-key")
		}
		ko.Grace = seconds(*req.GraceSeconds)
	}
	ko.Lifetime = seconds(req.ExpiresInSeconds)
	return ko, nil
}

// seconds is n seconds, saturating instead of overflowing.
func seconds(n int64) time.Duration {
	const most = int64(math.MaxInt64 / int64(time.Second))
	return time.Duration(max(min(n, most), -most)) * time.Second
}

func (s *Server) adminListKeys(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	p, err := s.dir.Provider(r.Context(), name)
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, adminapi.KeyList{Keys: s.adminKeys(p)})
}

func (s *Server) adminRevokeKey(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	p, _, err := s.dir.RevokeKey(r.Context(), name, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, adminapi.ProviderKeyResponse{Provider: s.adminProvider(r, p)})
}

func (s *Server) adminGetFederation(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	_, f, err := s.dir.FederationOf(r.Context(), name)
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, adminFederation(f))
}

func (s *Server) adminSetFederation(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	var req adminapi.Federation
	if err := s.adminDecodeWant(w, r, &req, "a JSON object with issuer, audience and jwksUrl (or jwks)"); err != nil {
		return err
	}
	if len(req.JWKS) > 0 {
		if err := federation.CheckJWKS(req.JWKS); err != nil {
			return directory.Errorf(directory.EINVALID, "jwks: %v", err)
		}
	}
	_, f, err := s.dir.SetFederation(r.Context(), name, directory.Federation{
		Issuer: req.Issuer, Audience: req.Audience, Subject: req.Subject, JWKSURL: req.JWKSURL, JWKS: req.JWKS,
	})
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, adminFederation(f))
}

func (s *Server) adminRemoveFederation(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	if err := s.dir.RemoveFederation(r.Context(), name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func adminFederation(f *directory.Federation) adminapi.Federation {
	return adminapi.Federation{Issuer: f.Issuer, Audience: f.Audience, Subject: f.Subject, JWKSURL: f.JWKSURL,
		JWKS: json.RawMessage(f.JWKS), UpdatedAt: f.Updated.UTC()}
}

func (s *Server) adminGetOAuth(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	p, c, err := s.dir.OAuthClient(r.Context(), name)
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, s.adminOAuth(r, p, c))
}

func (s *Server) adminAddSecret(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	var req adminapi.NewSecretRequest
	if err := s.adminDecodeOptional(w, r, &req); err != nil {
		return err
	}
	p, c, secret, err := s.dir.AddSecret(r.Context(), name, seconds(req.ExpiresInSeconds))
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusCreated, adminapi.NewSecretResponse{Client: s.adminOAuth(r, p, c), Secret: secret})
}

func (s *Server) adminRevokeSecret(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	p, c, err := s.dir.RevokeSecret(r.Context(), name, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.adminJSON(w, r, http.StatusOK, s.adminOAuth(r, p, c))
}

// adminOAuth is the admin view of a provider's OAuth client.
func (s *Server) adminOAuth(r *http.Request, p *directory.Provider, c *directory.OAuthClient) adminapi.OAuthClient {
	now := s.dir.Now()
	out := adminapi.OAuthClient{Provider: p.Name, ClientID: c.ClientID, TokenURL: s.tokenURL(r), SCIMURL: s.scimBaseURL(r),
		Secrets: make([]adminapi.Secret, len(c.Secrets))}
	for i, x := range c.Secrets {
		state := "active"
		if x.Expired(now) {
			state = "expired"
		}
		out.Secrets[i] = adminapi.Secret{ID: x.ID, Masked: directory.MaskSecret(x.Hint), State: state,
			CreatedAt: x.Created.UTC(), ExpiresAt: x.Expires.UTC(), LastUsedAt: timeOrNil(x.LastUsed)}
	}
	return out
}

// adminKeys is the admin view of p's keys, masked.
func (s *Server) adminKeys(p *directory.Provider) []adminapi.Key {
	now := s.dir.Now()
	keys := make([]adminapi.Key, len(p.Keys))
	for i, k := range p.Keys {
		keys[i] = adminapi.Key{
			ID: k.ID, Masked: directory.MaskKey(k.Hint), State: k.State(now), CreatedAt: k.Created.UTC(),
			ExpiresAt: timeOrNil(k.Expires), ReplacedAt: timeOrNil(k.Replaced), LastUsedAt: timeOrNil(k.LastUsed),
		}
	}
	return keys
}

// timeOrNil is nil for the zero time, else t in UTC.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// adminProvider is the admin view of p. The SCIM base URL is the same for
// every provider: the key, not the URL, tells providers apart.
func (s *Server) adminProvider(r *http.Request, p *directory.Provider) adminapi.Provider {
	ap := adminapi.Provider{
		ID:          p.ID,
		Name:        p.Name,
		Enabled:     p.Enabled,
		HasKey:      p.HasKey(),
		Keys:        s.adminKeys(p),
		SCIMURL:     s.scimBaseURL(r),
		Strict:      p.Strict,
		RateLimit:   p.RateLimit,
		SyncedUsers: p.SyncedUsers,
		CreatedAt:   p.Created.UTC(),
		UpdatedAt:   p.Updated.UTC(),
	}
	if k := p.CurrentKey(); k != nil {
		ap.KeyMasked = directory.MaskKey(k.Hint)
	}
	ap.TokenURL = s.tokenURL(r)
	switch c, err := s.dir.Store.FindOAuthClient(r.Context(), p.ID); {
	case err == nil:
		ap.ClientID = c.ClientID
	case directory.ErrorCode(err) != directory.ENOTFOUND:
		s.log.Warn("read OAuth client", "request_id", infoFrom(r.Context()).id, "provider", p.Name, "err", err)
	}
	switch f, err := s.dir.Store.FindFederation(r.Context(), p.ID); {
	case err == nil:
		ap.JWTIssuer = f.Issuer
	case directory.ErrorCode(err) != directory.ENOTFOUND:
		s.log.Warn("read federation", "request_id", infoFrom(r.Context()).id, "provider", p.Name, "err", err)
	}
	ap.LastSyncAt = timeOrNil(p.LastSyncAt)
	return ap
}

// adminDecode reads the JSON body of r into v: EINVALID saying what is
// wrong when it cannot, or the *http.MaxBytesError of a body over the
// limit (413).
func (s *Server) adminDecode(w http.ResponseWriter, r *http.Request, v any) error {
	return s.adminDecodeWant(w, r, v, "a JSON object")
}

// adminDecodeOptional is adminDecode for a body that may be left out
// (v keeps its zero value).
func (s *Server) adminDecodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	err := s.adminDecode(w, r, v)
	if errors.Is(err, errEmptyBody) {
		return nil
	}
	return err
}

// errEmptyBody is what adminDecode's error for an empty body wraps.
var errEmptyBody = errors.New("empty body")

// adminDecodeWant is adminDecode for a body whose contents the error for an
// empty body should spell out: want completes "send ...".
func (s *Server) adminDecodeWant(w http.ResponseWriter, r *http.Request, v any, want string) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			return err
		}
		return directory.Errorf(directory.EINVALID, "cannot read request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("%w: %w", directory.Errorf(directory.EINVALID, "request body is empty: send %s", want), errEmptyBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return directory.Errorf(directory.EINVALID, "invalid JSON in request body: %s", scim.JSONErrorText(err))
	}
	if dec.More() {
		return directory.Errorf(directory.EINVALID, "invalid JSON in request body: unexpected data after the object")
	}
	return nil
}

// adminJSON answers with v as JSON. It returns the error of a v that
// cannot be encoded, before anything is written, for writeAdminError.
func (s *Server) adminJSON(w http.ResponseWriter, r *http.Request, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode admin response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
	return nil
}
