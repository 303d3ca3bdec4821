package client

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-resty/resty/v2"

	"github.com/kacescim/kacescim/pkg/adminapi"
)

// Admin talks to the admin API of a kacescim server.
type Admin struct {
	baseURL string
	rc      *resty.Client
}

// NewAdmin returns a client for the server at baseURL (e.g.
// http://127.0.0.1:8080) authenticating with the admin token.
func NewAdmin(baseURL, token string, opts ...Option) *Admin {
	o := buildOptions(opts)
	baseURL = strings.TrimRight(baseURL, "/")
	rc := newResty(o)
	rc.SetBaseURL(baseURL + adminapi.Prefix)
	rc.SetHeader("Accept", "application/json")
	if token != "" {
		rc.SetHeader("Authorization", "Bearer "+token)
	}
	applyHeaders(rc, o.headers)
	return &Admin{baseURL: baseURL, rc: rc}
}

// BaseURL is the server URL the client talks to.
func (a *Admin) BaseURL() string { return a.baseURL }

// Providers lists every provider, ordered by name.
func (a *Admin) Providers(ctx context.Context) ([]adminapi.Provider, error) {
	var list adminapi.ProviderList
	if err := a.call(ctx, http.MethodGet, "/providers", nil, nil, &list); err != nil {
		return nil, err
	}
	return list.Providers, nil
}

// CreateProvider creates a provider, with its dialect and rate limit. The
// response holds the new key when req.Enabled is set.
func (a *Admin) CreateProvider(ctx context.Context, req adminapi.CreateProviderRequest) (*adminapi.ProviderKeyResponse, error) {
	var resp adminapi.ProviderKeyResponse
	if err := a.call(ctx, http.MethodPost, "/providers", nil, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Provider returns the provider called name.
func (a *Admin) Provider(ctx context.Context, name string) (*adminapi.Provider, error) {
	var p adminapi.Provider
	if err := a.call(ctx, http.MethodGet, "/providers/{name}", nameParam(name), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// UpdateProvider changes the provider's settings that req sets (non-nil)
// and leaves the others; the server refuses a req that sets none.
func (a *Admin) UpdateProvider(ctx context.Context, name string, req adminapi.UpdateProviderRequest) (*adminapi.Provider, error) {
	var p adminapi.Provider
	if err := a.call(ctx, http.MethodPatch, "/providers/{name}", nameParam(name), req, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// EnableProvider enables the provider; the response holds a new key unless
// it was already enabled.
//
// A request, at most one, shapes the new key (its lifetime).
func (a *Admin) EnableProvider(ctx context.Context, name string, req ...adminapi.NewKeyRequest) (*adminapi.ProviderKeyResponse, error) {
	return a.providerAction(ctx, name, "enable", req...)
}

// DisableProvider disables the provider; its SCIM requests get 403 until it
// is enabled again.
func (a *Admin) DisableProvider(ctx context.Context, name string) (*adminapi.ProviderKeyResponse, error) {
	return a.providerAction(ctx, name, "disable")
}

// RotateKey gives the provider a new key. The old one keeps working for
// the request's grace period (24 hours when there is no request or it
// leaves GraceSeconds out; 0 stops it at once).
func (a *Admin) RotateKey(ctx context.Context, name string, req ...adminapi.NewKeyRequest) (*adminapi.ProviderKeyResponse, error) {
	return a.providerAction(ctx, name, "rotate-key", req...)
}

// Keys returns the provider's security keys, masked, oldest first.
func (a *Admin) Keys(ctx context.Context, name string) ([]adminapi.Key, error) {
	var list adminapi.KeyList
	if err := a.call(ctx, http.MethodGet, "/providers/{name}/keys", nameParam(name), nil, &list); err != nil {
		return nil, err
	}
	return list.Keys, nil
}

// RevokeKey removes the provider's key id (or the one key whose last four
// characters id is): it stops working at once.
func (a *Admin) RevokeKey(ctx context.Context, name, id string) (*adminapi.ProviderKeyResponse, error) {
	var resp adminapi.ProviderKeyResponse
	params := map[string]string{"name": name, "id": id}
	if err := a.call(ctx, http.MethodDelete, "/providers/{name}/keys/{id}", params, nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Federation returns the JWTs the provider trusts.
func (a *Admin) Federation(ctx context.Context, name string) (*adminapi.Federation, error) {
	var f adminapi.Federation
	if err := a.call(ctx, http.MethodGet, "/providers/{name}/federation", nameParam(name), nil, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// SetFederation makes the provider trust f's issuer.
func (a *Admin) SetFederation(ctx context.Context, name string, f adminapi.Federation) (*adminapi.Federation, error) {
	var got adminapi.Federation
	if err := a.call(ctx, http.MethodPut, "/providers/{name}/federation", nameParam(name), f, &got); err != nil {
		return nil, err
	}
	return &got, nil
}

// RemoveFederation stops the provider trusting JWTs.
func (a *Admin) RemoveFederation(ctx context.Context, name string) error {
	return a.call(ctx, http.MethodDelete, "/providers/{name}/federation", nameParam(name), nil, nil)
}

// OAuthClient returns the provider's OAuth client (client ID, token
// endpoint, secrets masked).
func (a *Admin) OAuthClient(ctx context.Context, name string) (*adminapi.OAuthClient, error) {
	var c adminapi.OAuthClient
	if err := a.call(ctx, http.MethodGet, "/providers/{name}/oauth", nameParam(name), nil, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// AddSecret gives the provider a new client secret (and a client ID
// first, if it has none); the answer is the only place the secret
// appears.
func (a *Admin) AddSecret(ctx context.Context, name string, req adminapi.NewSecretRequest) (*adminapi.NewSecretResponse, error) {
	var resp adminapi.NewSecretResponse
	if err := a.call(ctx, http.MethodPost, "/providers/{name}/oauth/secrets", nameParam(name), req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// RevokeSecret removes the provider's client secret id, and the access
// tokens it got.
func (a *Admin) RevokeSecret(ctx context.Context, name, id string) (*adminapi.OAuthClient, error) {
	var c adminapi.OAuthClient
	params := map[string]string{"name": name, "id": id}
	if err := a.call(ctx, http.MethodDelete, "/providers/{name}/oauth/secrets/{id}", params, nil, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// RemoveProvider deletes the provider with all its users and groups.
func (a *Admin) RemoveProvider(ctx context.Context, name string) error {
	return a.call(ctx, http.MethodDelete, "/providers/{name}", nameParam(name), nil, nil)
}

func (a *Admin) providerAction(ctx context.Context, name, action string, req ...adminapi.NewKeyRequest) (*adminapi.ProviderKeyResponse, error) {
	var resp adminapi.ProviderKeyResponse
	var body any
	if len(req) > 0 {
		body = req[0]
	}
	if err := a.call(ctx, http.MethodPost, "/providers/{name}/"+action, nameParam(name), body, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

func nameParam(name string) map[string]string { return map[string]string{"name": name} }

// call sends one request and decodes the answer into out (unless nil), or
// the error body into an *Error.
func (a *Admin) call(ctx context.Context, method, path string, params map[string]string, in, out any) error {
	return a.callQuery(ctx, method, path, params, nil, in, out)
}

// callQuery is call with a query string.
func (a *Admin) callQuery(ctx context.Context, method, path string, params map[string]string, query url.Values, in, out any) error {
	req := a.rc.R().SetContext(ctx).SetPathParams(params).SetQueryParamsFromValues(query)
	if in != nil {
		body, err := json.Marshal(in)
		if err != nil {
			return err
		}
		req.SetHeader("Content-Type", "application/json").SetBody(body)
	}
	resp, err := req.Execute(method, path)
	if err != nil {
		return transportError(ctx, a.baseURL, err)
	}
	status := resp.StatusCode()
	body := resp.Body()
	if status >= 400 {
		return a.decodeError(resp)
	}
	if out == nil || status == http.StatusNoContent {
		return nil
	}
	if !isJSON(resp.Header().Get("Content-Type")) {
		return a.notKacescim(resp)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("cannot decode the answer of %s %s: %v", method, a.baseURL+adminapi.Prefix+path, err)
	}
	return nil
}

// decodeError turns an error answer into an *Error, using the server's
// own message when it sent an ErrorBody.
func (a *Admin) decodeError(resp *resty.Response) error {
	var eb adminapi.ErrorBody
	if isJSON(resp.Header().Get("Content-Type")) && json.Unmarshal(resp.Body(), &eb) == nil && eb.Error.Message != "" {
		return &Error{Status: resp.StatusCode(), Code: eb.Error.Code, Message: eb.Error.Message}
	}
	return a.notKacescim(resp)
}

// notKacescim describes an answer that did not come from a kacescim admin
// API, e.g. because the URL points at another server.
func (a *Admin) notKacescim(resp *resty.Response) error {
	u := a.baseURL
	if resp.Request != nil && resp.Request.URL != "" {
		if parsed, err := url.Parse(resp.Request.URL); err == nil {
			u = parsed.Redacted()
		}
	}
	return &Error{
		Status:  resp.StatusCode(),
		Code:    codeForStatus(resp.StatusCode()),
		Message: fmt.Sprintf("unexpected answer from %s (HTTP %d, %s): is %s a kacescim server?", u, resp.StatusCode(), orNone(resp.Header().Get("Content-Type")), a.baseURL),
	}
}

func orNone(ct string) string {
	if ct == "" {
		return "no content type"
	}
	return ct
}

// codeForStatus guesses the directory code of an answer without a body.
func codeForStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	}
	if status >= 400 && status < 500 {
		return "invalid"
	}
	return "internal"
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// Health is what a kacescim server says of itself without the admin token:
// /healthz (it runs, and its version) and /readyz (its database answers).
type Health struct {
	Version string `json:"version,omitempty"`
	Ready   bool   `json:"ready"`
	// Detail says why it is not ready.
	Detail string `json:"detail,omitempty"`
}

// Health asks the server's /healthz and /readyz. An error means it could
// not be reached, or what answered is not kacescim.
func (a *Admin) Health(ctx context.Context) (*Health, error) {
	var h struct {
		Status  string `json:"status"`
		Version string `json:"version"`
		Detail  string `json:"detail"`
	}
	get := func(path string) (int, error) {
		h.Status, h.Detail = "", ""
		resp, err := a.rc.R().SetContext(ctx).Get(a.baseURL + path)
		if err != nil {
			return 0, transportError(ctx, a.baseURL, err)
		}
		if !isJSON(resp.Header().Get("Content-Type")) || json.Unmarshal(resp.Body(), &h) != nil || h.Status == "" {
			return 0, a.notKacescim(resp)
		}
		return resp.StatusCode(), nil
	}
	if _, err := get("/healthz"); err != nil {
		return nil, err
	}
	out := &Health{Version: h.Version}
	status, err := get("/readyz")
	if err != nil {
		return nil, err
	}
	out.Ready, out.Detail = status == http.StatusOK, h.Detail
	return out, nil
}
