package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Token is an access token from an OAuth 2.0 token endpoint.
type Token struct {
	AccessToken string
	ExpiresIn   time.Duration // 0 when the endpoint did not say
}

// TokenError is an error answer of a token endpoint (RFC 6749 §5.2).
type TokenError struct {
	Status      int
	Code        string // invalid_client, unsupported_grant_type, ...
	Description string
}

func (e *TokenError) Error() string {
	if e.Description == "" {
		return fmt.Sprintf("token endpoint: HTTP %d %s", e.Status, e.Code)
	}
	return fmt.Sprintf("token endpoint: HTTP %d %s: %s", e.Status, e.Code, e.Description)
}

// FetchToken gets an access token from tokenURL with the client
// credentials grant (RFC 6749 §4.4), authenticating the client with HTTP
// Basic (client_secret_basic), as Microsoft Entra ID does. An error
// answer is a *TokenError; no answer at all an *UnreachableError.
func FetchToken(ctx context.Context, tokenURL, clientID, secret string, opts ...Option) (*Token, error) {
	o := buildOptions(opts)
	rc := newResty(o)
	applyHeaders(rc, o.headers)
	resp, err := rc.R().SetContext(ctx).
		SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret)).
		SetHeader("Accept", "application/json").
		SetFormData(map[string]string{"grant_type": "client_credentials"}).
		Post(tokenURL)
	if err != nil {
		return nil, transportError(ctx, tokenURL, err)
	}
	var body struct {
		AccessToken string  `json:"access_token"`
		TokenType   string  `json:"token_type"`
		ExpiresIn   float64 `json:"expires_in"`
		Error       string  `json:"error"`
		Description string  `json:"error_description"`
	}
	decodeErr := json.Unmarshal(resp.Body(), &body)
	if resp.StatusCode() != 200 {
		if decodeErr != nil || body.Error == "" {
			return nil, &TokenError{Status: resp.StatusCode(), Code: "not an OAuth error answer"}
		}
		return nil, &TokenError{Status: resp.StatusCode(), Code: body.Error, Description: body.Description}
	}
	switch {
	case decodeErr != nil:
		return nil, fmt.Errorf("token endpoint %s: the answer is not JSON: %v", tokenURL, decodeErr)
	case body.AccessToken == "":
		return nil, fmt.Errorf("token endpoint %s: no access_token in the answer", tokenURL)
	case !strings.EqualFold(body.TokenType, "Bearer"):
		return nil, fmt.Errorf("token endpoint %s: token_type %q, want Bearer", tokenURL, body.TokenType)
	}
	return &Token{AccessToken: body.AccessToken, ExpiresIn: time.Duration(body.ExpiresIn * float64(time.Second))}, nil
}
