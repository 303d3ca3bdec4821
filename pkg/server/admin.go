package server

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
)

// adminStatus maps directory error codes to the HTTP status of the admin
// API. It is the only place that does; codes missing here answer 500.
var adminStatus = map[string]int{
	directory.ENOTFOUND:     http.StatusNotFound,
	directory.ECONFLICT:     http.StatusConflict,
	directory.ESTALE:        http.StatusConflict,
	directory.EPRECONDITION: http.StatusPreconditionFailed,
	directory.EINVALID:      http.StatusBadRequest,
	directory.EBADFILTER:    http.StatusBadRequest,
	directory.EUNAUTHORIZED: http.StatusUnauthorized,
	directory.EFORBIDDEN:    http.StatusForbidden,
	directory.EINTERNAL:     http.StatusInternalServerError,
}

// adminRoutes registers the JSON admin API the CLI talks to. Every route,
// including unknown paths under the prefix, requires the admin token.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	p := adminapi.Prefix
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.requireAdmin(h)) }
	handle("GET "+p+"/providers", s.adminListProviders)
	handle("POST "+p+"/providers", s.adminCreateProvider)
	handle("GET "+p+"/providers/{name}", s.adminGetProvider)
	handle("PATCH "+p+"/providers/{name}", s.adminUpdateProvider)
	handle("DELETE "+p+"/providers/{name}", s.adminDeleteProvider)
	handle("POST "+p+"/providers/{name}/enable", s.adminEnableProvider)
	handle("POST "+p+"/providers/{name}/disable", s.adminDisableProvider)
	handle("POST "+p+"/providers/{name}/rotate-key", s.adminRotateKey)
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
	handle(p+"/", func(w http.ResponseWriter, r *http.Request) {
		s.adminError(w, r, directory.Errorf(directory.ENOTFOUND, "no admin endpoint %s %s", r.Method, r.URL.Path))
	})
}

// requireAdmin lets a request through only with the admin token as a bearer
// token, compared in constant time.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := strings.TrimSpace(r.Header.Get("Authorization"))
		scheme, token, _ := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		switch {
		case h == "":
			s.adminError(w, r, directory.Errorf(directory.EUNAUTHORIZED, "missing admin token: send Authorization: Bearer <admin token>"))
		case !strings.EqualFold(scheme, "Bearer") || token == "":
			s.adminError(w, r, directory.Errorf(directory.EUNAUTHORIZED, "malformed Authorization header: send Authorization: Bearer <admin token>"))
		case subtle.ConstantTimeCompare([]byte(token), []byte(s.adminToken)) != 1:
			s.adminError(w, r, directory.Errorf(directory.EUNAUTHORIZED, "invalid admin token"))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func (s *Server) adminListProviders(w http.ResponseWriter, r *http.Request) {
	ps, err := s.dir.Providers(r.Context())
	if err != nil {
		s.adminError(w, r, err)
		return
	}
	list := adminapi.ProviderList{Providers: make([]adminapi.Provider, 0, len(ps))}
	for _, p := range ps {
		list.Providers = append(list.Providers, s.adminProvider(r, p))
	}
	s.adminJSON(w, r, http.StatusOK, list)
}

func (s *Server) adminCreateProvider(w http.ResponseWriter, r *http.Request) {
	var req adminapi.CreateProviderRequest
	if !s.adminDecode(w, r, &req) {
		return
	}
	infoFrom(r.Context()).provider = req.Name
	opts := directory.ProviderOptions{Strict: &req.Strict, RateLimit: &req.RateLimit}
	p, key, err := s.dir.AddProvider(r.Context(), req.Name, req.Enabled, opts)
	if err != nil {
		s.adminError(w, r, err)
		return
	}
	s.adminJSON(w, r, http.StatusCreated, adminapi.ProviderKeyResponse{Provider: s.adminProvider(r, p), Key: key})
}

func (s *Server) adminGetProvider(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	p, err := s.dir.Provider(r.Context(), name)
	if err != nil {
		s.adminError(w, r, err)
		return
	}
	s.adminJSON(w, r, http.StatusOK, s.adminProvider(r, p))
}

// updateProviderFields says what PATCH /providers/{name} can change, for
// the bodies that change nothing.
const updateProviderFields = "strict (true or false), rateLimit (SCIM requests per second, 0 for no limit) or both"

// adminUpdateProvider changes the settings present in the body and leaves
// the others as they are.
func (s *Server) adminUpdateProvider(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	var req adminapi.UpdateProviderRequest
	if !s.adminDecodeWant(w, r, &req, "a JSON object with "+updateProviderFields) {
		return
	}
	if req.Strict == nil && req.RateLimit == nil {
		s.adminError(w, r, directory.Errorf(directory.EINVALID, "nothing to change: set %s", updateProviderFields))
		return
	}
	p, err := s.dir.SetProviderOptions(r.Context(), name, directory.ProviderOptions{Strict: req.Strict, RateLimit: req.RateLimit})
	if err != nil {
		s.adminError(w, r, err)
		return
	}
	s.adminJSON(w, r, http.StatusOK, s.adminProvider(r, p))
}

func (s *Server) adminDeleteProvider(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	if err := s.dir.RemoveProvider(r.Context(), name); err != nil {
		s.adminError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminEnableProvider(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	p, key, err := s.dir.EnableProvider(r.Context(), name)
	if err != nil {
		s.adminError(w, r, err)
		return
	}
	s.adminJSON(w, r, http.StatusOK, adminapi.ProviderKeyResponse{Provider: s.adminProvider(r, p), Key: key})
}

func (s *Server) adminDisableProvider(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	p, err := s.dir.DisableProvider(r.Context(), name)
	if err != nil {
		s.adminError(w, r, err)
		return
	}
	s.adminJSON(w, r, http.StatusOK, adminapi.ProviderKeyResponse{Provider: s.adminProvider(r, p)})
}

func (s *Server) adminRotateKey(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	infoFrom(r.Context()).provider = name
	p, key, err := s.dir.RotateKey(r.Context(), name)
	if err != nil {
		s.adminError(w, r, err)
		return
	}
	s.adminJSON(w, r, http.StatusOK, adminapi.ProviderKeyResponse{Provider: s.adminProvider(r, p), Key: key})
}

// adminProvider is the admin view of p. The SCIM base URL is the same for
// every provider: the key, not the URL, tells providers apart.
func (s *Server) adminProvider(r *http.Request, p *directory.Provider) adminapi.Provider {
	ap := adminapi.Provider{
		ID:          p.ID,
		Name:        p.Name,
		Enabled:     p.Enabled,
		HasKey:      p.HasKey(),
		KeyMasked:   directory.MaskKey(p.KeyHint),
		SCIMURL:     s.scimBaseURL(r),
		Strict:      p.Strict,
		RateLimit:   p.RateLimit,
		SyncedUsers: p.SyncedUsers,
		CreatedAt:   p.Created.UTC(),
		UpdatedAt:   p.Updated.UTC(),
	}
	if !p.LastSyncAt.IsZero() {
		t := p.LastSyncAt.UTC()
		ap.LastSyncAt = &t
	}
	return ap
}

// adminDecode reads the JSON body of r into v, answering 400 (or 413) and
// returning false when it cannot.
func (s *Server) adminDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	return s.adminDecodeWant(w, r, v, "a JSON object")
}

// adminDecodeWant is adminDecode for a body whose contents the error for an
// empty body should spell out: want completes "send ...".
func (s *Server) adminDecodeWant(w http.ResponseWriter, r *http.Request, v any, want string) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			// 413 is outside the code table: it is about the transport,
			// not the directory.
			s.adminJSON(w, r, http.StatusRequestEntityTooLarge, adminapi.ErrorBody{Error: adminapi.Error{
				Code:    directory.EINVALID,
				Message: fmt.Sprintf("request body is larger than the %d-byte limit", tooLarge.Limit),
			}})
			return false
		}
		s.adminError(w, r, directory.Errorf(directory.EINVALID, "cannot read request body: %v", err))
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		s.adminError(w, r, directory.Errorf(directory.EINVALID, "request body is empty: send %s", want))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.adminError(w, r, directory.Errorf(directory.EINVALID, "invalid JSON in request body: %s", jsonErrorText(err)))
		return false
	}
	if dec.More() {
		s.adminError(w, r, directory.Errorf(directory.EINVALID, "invalid JSON in request body: unexpected data after the object"))
		return false
	}
	return true
}

// jsonErrorText rewords the decoder's errors for someone who wrote the body
// by hand.
func jsonErrorText(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("%v (at byte %d)", syntax, syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be a %s, not a %s", typ.Field, typ.Type, typ.Value)
		}
		return fmt.Sprintf("expected a %s, not a %s", typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends in the middle of a value"
	default:
		return strings.TrimPrefix(err.Error(), "json: ")
	}
}

// adminError answers with the ErrorBody for err. Internal errors are logged
// in full and shown only as "internal error".
func (s *Server) adminError(w http.ResponseWriter, r *http.Request, err error) {
	code := directory.ErrorCode(err)
	status, ok := adminStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	msg := directory.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		s.log.LogAttrs(r.Context(), slog.LevelError, "admin request failed",
			slog.String("request_id", infoFrom(r.Context()).id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("error", err.Error()),
		)
		code, msg = directory.EINTERNAL, "internal error"
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kacescim admin"`)
	}
	s.adminJSON(w, r, status, adminapi.ErrorBody{Error: adminapi.Error{Code: code, Message: msg}})
}

func (s *Server) adminJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "encode admin response", slog.String("error", err.Error()))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":{"code":"internal","message":"internal error"}}` + "\n"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
