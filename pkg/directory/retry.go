package directory

import (
	"context"
	"time"
)

// Admin operations read a provider (or its OAuth client), change it and
// write it back whole; the store writes only if the revision read is
// still the stored one (ESTALE otherwise). Two operations at once (two
// replicas' admin APIs, a script calling in parallel) therefore cannot
// undo each other: the one that finds its revision moved is run again on
// what the other wrote, so that a revoked key is never written back.

// staleTries bounds the runs of an operation that keeps meeting others.
const staleTries = 5

// retryStale runs op until it does not fail with ESTALE, at most
// staleTries times.
func retryStale(op func() error) error {
	var err error
	for i := range staleTries {
		if err = op(); ErrorCode(err) != ESTALE {
			return err
		}
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	return err
}

// RotateKey gives the enabled provider called name a new key, as
// rotateKey says, run again if another admin operation wrote the provider
// meanwhile.
func (s *Service) RotateKey(ctx context.Context, name string, o KeyOptions) (p *Provider, key string, err error) {
	err = retryStale(func() (err error) { p, key, err = s.rotateKey(ctx, name, o); return err })
	return p, key, err
}

// RevokeKey removes a key of the provider called name, as revokeKey
// says, run again if another admin operation wrote the provider
// meanwhile.
func (s *Service) RevokeKey(ctx context.Context, name, keyID string) (p *Provider, k *Key, err error) {
	err = retryStale(func() (err error) { p, k, err = s.revokeKey(ctx, name, keyID); return err })
	return p, k, err
}

// SetProviderOptions changes the provider's dialect and rate limit, as
// setProviderOptions says, run again if another admin operation wrote the
// provider meanwhile.
func (s *Service) SetProviderOptions(ctx context.Context, name string, o ProviderOptions) (p *Provider, err error) {
	err = retryStale(func() (err error) { p, err = s.setProviderOptions(ctx, name, o); return err })
	return p, err
}

// EnableProvider enables the provider called name with a new key, as
// enableProvider says, run again if another admin operation wrote the
// provider meanwhile.
func (s *Service) EnableProvider(ctx context.Context, name string, o ...KeyOptions) (p *Provider, key string, err error) {
	err = retryStale(func() (err error) { p, key, err = s.enableProvider(ctx, name, o...); return err })
	return p, key, err
}

// DisableProvider disables the provider called name, as disableProvider
// says, run again if another admin operation wrote the provider
// meanwhile.
func (s *Service) DisableProvider(ctx context.Context, name string) (p *Provider, err error) {
	err = retryStale(func() (err error) { p, err = s.disableProvider(ctx, name); return err })
	return p, err
}

// AddSecret gives the provider called name a new client secret, as
// addSecret says, run again if another admin operation wrote its OAuth
// client meanwhile.
func (s *Service) AddSecret(ctx context.Context, name string, lifetime time.Duration) (p *Provider, c *OAuthClient, secret string, err error) {
	err = retryStale(func() (err error) { p, c, secret, err = s.addSecret(ctx, name, lifetime); return err })
	return p, c, secret, err
}

// RevokeSecret removes a client secret of the provider called name, as
// revokeSecret says, run again if another admin operation wrote its OAuth
// client meanwhile.
func (s *Service) RevokeSecret(ctx context.Context, name, id string) (p *Provider, c *OAuthClient, err error) {
	err = retryStale(func() (err error) { p, c, err = s.revokeSecret(ctx, name, id); return err })
	return p, c, err
}
