package directory

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Workload identity federation (RFC 7523's JWT bearer, as Microsoft Entra
// ID offers it): instead of a key or a token from kacescim, the identity
// provider sends a JWT it signed itself, and kacescim verifies it against
// the issuer's published keys (its JWKS). A provider trusts one issuer
// for one audience (and, optionally, one subject: the identity
// provider's own service principal); the JWKS comes from a URL, cached
// and refreshed, or is given inline (a file the administrator has).

// Federation is a provider's trust in an issuer's JWTs.
type Federation struct {
	ProviderID string
	Issuer     string // the "iss" the JWTs carry, exactly
	Audience   string // an "aud" they must carry
	Subject    string // the "sub" they must carry; "" for any
	JWKSURL    string // where the issuer publishes its keys; "" when JWKS is given
	JWKS       []byte // a JWK Set given inline; nil when JWKSURL is set
	Updated    time.Time
}

// FederationStore is the part of Store that keeps federations.
type FederationStore interface {
	// FindFederation returns the provider's federation; ENOTFOUND if none.
	FindFederation(ctx context.Context, providerID string) (*Federation, error)
	// FindFederationsByIssuer returns every federation that trusts issuer.
	FindFederationsByIssuer(ctx context.Context, issuer string) ([]*Federation, error)
	// SaveFederation creates or replaces the provider's federation;
	// ENOTFOUND if the provider is gone.
	SaveFederation(ctx context.Context, f *Federation) error
	// DeleteFederation removes it; ENOTFOUND if there is none.
	DeleteFederation(ctx context.Context, providerID string) error
}

// JWTVerifier checks a bearer JWT against the federations that trust its
// issuer and returns the one it satisfies: its signature by a key of
// that federation's JWKS, its audience, subject and times (pkg/federation
// implements it). Errors are EUNAUTHORIZED, with Expired for a JWT past
// its "exp".
type JWTVerifier interface {
	Issuer(token string) (string, error)
	Verify(ctx context.Context, token string, candidates []*Federation, now time.Time) (*Federation, error)
}

// LooksLikeJWT reports whether a bearer credential is a compact JWS (three
// base64url parts), which no kacescim key or token is.
func LooksLikeJWT(s string) bool {
	return strings.HasPrefix(s, "ey") && strings.Count(s, ".") == 2
}

// maxFederationText bounds the issuer, audience and subject.
const maxFederationText = 1024

// maxJWKS bounds an inline JWK Set.
const maxJWKS = 256 << 10

func (f *Federation) check() error {
	for name, v := range map[string]string{"issuer": f.Issuer, "audience": f.Audience, "subject": f.Subject} {
		if len(v) > maxFederationText {
			return Errorf(EINVALID, "the %s is %d bytes long: the limit is %d", name, len(v), maxFederationText)
		}
		if strings.TrimSpace(v) != v {
			return Errorf(EINVALID, "the %s %q has spaces around it", name, v)
		}
	}
	switch {
	case f.Issuer == "":
		return Errorf(EINVALID, "the issuer is missing: give the iss of the identity provider's JWTs (--issuer)")
	case f.Audience == "":
		return Errorf(EINVALID, "the audience is missing: give the aud the identity provider's JWTs carry (--audience)")
	case (f.JWKSURL == "") == (len(f.JWKS) == 0):
		return Errorf(EINVALID, "give the issuer's keys either as a JWKS URL (--jwks-url) or a JWKS document (--jwks-file), one of the two")
	case len(f.JWKS) > maxJWKS:
		return Errorf(EINVALID, "the JWKS document is %d bytes long: the limit is %d", len(f.JWKS), maxJWKS)
	}
	if f.JWKSURL != "" {
		u, err := url.Parse(f.JWKSURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return Errorf(EINVALID, "the JWKS URL %q is not an http(s) URL", f.JWKSURL)
		}
		if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
			return Errorf(EINVALID, "the JWKS URL %q must be https: keys fetched over plain http could be anyone's (http is accepted for loopback only)", f.JWKSURL)
		}
	}
	return nil
}

// isLoopbackHost reports whether host names this machine: "localhost" or
// a loopback address (not a name that merely starts with 127.).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// subjectText is " and subject S", or " and any subject".
func subjectText(sub string) string {
	if sub == "" {
		return " and any subject"
	}
	return " and subject " + sub
}

// SetFederation makes the provider called name trust f's issuer (replacing
// what it trusted before). A JWKS given inline must be checked by the
// caller (the verifier parses it at each use and refuses a bad one).
func (s *Service) SetFederation(ctx context.Context, name string, f Federation) (*Provider, *Federation, error) {
	if err := f.check(); err != nil {
		return nil, nil, err
	}
	p, err := s.Provider(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	// Two providers must not both take one JWT: it would authenticate as
	// either. Settings overlap when the issuer and audience are the same
	// and the subjects are too, or either takes any subject.
	others, err := s.Store.FindFederationsByIssuer(ctx, f.Issuer)
	if err != nil {
		return nil, nil, err
	}
	for _, o := range others {
		if o.ProviderID == p.ID || o.Audience != f.Audience || (o.Subject != "" && f.Subject != "" && o.Subject != f.Subject) {
			continue
		}
		name := o.ProviderID
		if op, err := s.Store.FindProviderByID(ctx, o.ProviderID); err == nil {
			name = op.Name
		}
		return nil, nil, Errorf(ECONFLICT, "provider %s already trusts the JWTs of %s for audience %s%s: one JWT must not authenticate as two providers; "+
			"give each provider a --subject of its own (the identity provider's service principal), or another audience",
			name, f.Issuer, f.Audience, subjectText(o.Subject))
	}
	f.ProviderID, f.Updated = p.ID, s.now()
	if err := s.Store.SaveFederation(ctx, &f); err != nil {
		return nil, nil, err
	}
	return p, &f, nil
}

// FederationOf returns the federation of the provider called name;
// ENOTFOUND, saying how to make one, when it has none.
func (s *Service) FederationOf(ctx context.Context, name string) (*Provider, *Federation, error) {
	p, err := s.Provider(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.Store.FindFederation(ctx, p.ID)
	if ErrorCode(err) == ENOTFOUND {
		return p, nil, Errorf(ENOTFOUND, "provider %s trusts no JWT issuer: kacescim provider federation set %s --issuer ISS --audience AUD --jwks-url URL", p.Name, p.Name)
	}
	return p, f, err
}

// RemoveFederation ends the provider's trust in JWTs.
func (s *Service) RemoveFederation(ctx context.Context, name string) error {
	p, err := s.Provider(ctx, name)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteFederation(ctx, p.ID); err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "provider %s trusts no JWT issuer", p.Name)
		}
		return err
	}
	return nil
}

// authenticateJWT is AuthenticateKey for a JWT the identity provider
// signed: the federations that trust its issuer are found (the issuer is
// read before the signature is checked, to know whose keys check it),
// and the verifier checks it against them.
func (s *Service) authenticateJWT(ctx context.Context, token string) (*Provider, error) {
	invalid := Errorf(EUNAUTHORIZED, "invalid bearer token")
	if s.JWT == nil {
		return nil, invalid
	}
	iss, err := s.JWT.Issuer(token)
	if err != nil {
		return nil, err
	}
	feds, err := s.Store.FindFederationsByIssuer(ctx, iss)
	if err != nil {
		return nil, err
	}
	if len(feds) == 0 {
		// As the verifier says it when the audience or subject does not
		// match: the caller learns nothing of what is trusted.
		return nil, errNoFederation
	}
	f, err := s.JWT.Verify(ctx, token, feds, s.Now())
	if err != nil {
		if IsExpired(err) && len(feds) == 1 {
			// Name the provider in the log, as for an expired key.
			p, perr := s.Store.FindProviderByID(ctx, feds[0].ProviderID)
			if perr == nil {
				return p, err
			}
		}
		return nil, err
	}
	p, err := s.Store.FindProviderByID(ctx, f.ProviderID)
	if err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return nil, invalid
		}
		return nil, err
	}
	if !p.Enabled {
		return p, Errorf(EFORBIDDEN, "provider %s is disabled: enable it in kacescim to resume provisioning", p.Name)
	}
	return p, nil
}

// errNoFederation is the answer to a JWT of an issuer no provider trusts;
// pkg/federation says the same for an audience or subject no provider
// trusts.
var errNoFederation = Errorf(EUNAUTHORIZED, "invalid bearer JWT: no provider trusts its issuer, audience and subject")
