package directory_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/sqlite"
)

// Two admin operations at once, interleaved on purpose: one reads the
// provider (or its OAuth client) and is held there while the other
// completes; the held one then writes. Found by a review of the
// credentials change: without the revisions, the held one wrote back
// what it had read, bringing a revoked key or secret back to life.

type pauseKey struct{}

// pausing is the real store, but a read made with a context carrying
// pauseKey (naming the read) is held, once, until release is closed.
type pausing struct {
	directory.Store
	once          sync.Once
	read, release chan struct{}
}

func (p *pausing) hold(ctx context.Context, where string) {
	if ctx.Value(pauseKey{}) == where {
		p.once.Do(func() {
			close(p.read)
			<-p.release
		})
	}
}

func (p *pausing) FindProviderByName(ctx context.Context, name string) (*directory.Provider, error) {
	pr, err := p.Store.FindProviderByName(ctx, name)
	p.hold(ctx, "provider")
	return pr, err
}

func (p *pausing) FindOAuthClient(ctx context.Context, id string) (*directory.OAuthClient, error) {
	c, err := p.Store.FindOAuthClient(ctx, id)
	p.hold(ctx, "oauth")
	return c, err
}

func (p *pausing) FindProviderByID(ctx context.Context, id string) (*directory.Provider, error) {
	pr, err := p.Store.FindProviderByID(ctx, id)
	p.hold(ctx, "byid")
	return pr, err
}

func pausedService(t *testing.T) (*directory.Service, *pausing) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	st := &pausing{Store: db, read: make(chan struct{}), release: make(chan struct{})}
	s := directory.NewService(st)
	t.Cleanup(func() { s.Close() })
	return s, st
}

// interleave runs held with a context that holds its read named where,
// runs other meanwhile, then lets held finish.
func interleave(t *testing.T, st *pausing, where string, held func(ctx context.Context) error, other func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- held(context.WithValue(context.Background(), pauseKey{}, where)) }()
	<-st.read
	other()
	close(st.release)
	if err := <-done; err != nil {
		t.Fatalf("the held operation: %v", err)
	}
}

func TestRotateWithoutGraceNotUndoneByConcurrentSet(t *testing.T) {
	ctx := context.Background()
	s, st := pausedService(t)
	_, k1, err := s.AddProvider(ctx, "Okta", true)
	if err != nil {
		t.Fatal(err)
	}
	var k2 string
	rate := 5.0
	interleave(t, st, "provider", func(ctx context.Context) error {
		_, err := s.SetProviderOptions(ctx, "Okta", directory.ProviderOptions{RateLimit: &rate})
		return err
	}, func() {
		if _, k2, err = s.RotateKey(ctx, "Okta", directory.KeyOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := s.Authenticate(ctx, "Bearer "+k1); err == nil {
		t.Error("the key rotate-key --grace 0 killed authenticates again")
	}
	p, err := s.Authenticate(ctx, "Bearer "+k2)
	if err != nil {
		t.Fatalf("the new key was lost: %v", err)
	}
	if p.RateLimit != 5 {
		t.Errorf("the held set was lost: rate limit %g", p.RateLimit)
	}
}

func TestDisableNotUndoneByConcurrentSet(t *testing.T) {
	ctx := context.Background()
	s, st := pausedService(t)
	_, k1, err := s.AddProvider(ctx, "Okta", true)
	if err != nil {
		t.Fatal(err)
	}
	strict := true
	interleave(t, st, "provider", func(ctx context.Context) error {
		_, err := s.SetProviderOptions(ctx, "Okta", directory.ProviderOptions{Strict: &strict})
		return err
	}, func() {
		if _, err := s.DisableProvider(ctx, "Okta"); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := s.Authenticate(ctx, "Bearer "+k1); directory.ErrorCode(err) != directory.EFORBIDDEN {
		t.Errorf("the disabled provider's key: %v, want EFORBIDDEN (the disable was lost)", err)
	}
}

func TestRevokedSecretNotResurrectedByConcurrentAdd(t *testing.T) {
	ctx := context.Background()
	s, st := pausedService(t)
	if _, _, err := s.AddProvider(ctx, "Entra", true); err != nil {
		t.Fatal(err)
	}
	_, c, s1, err := s.AddSecret(ctx, "Entra", 0)
	if err != nil {
		t.Fatal(err)
	}
	interleave(t, st, "oauth", func(ctx context.Context) error {
		_, _, _, err := s.AddSecret(ctx, "Entra", 0)
		return err
	}, func() {
		if _, _, err := s.RevokeSecret(ctx, "Entra", c.Secrets[0].ID); err != nil {
			t.Fatal(err)
		}
	})
	if _, _, _, err := s.IssueToken(ctx, c.ClientID, s1); err == nil {
		t.Error("the revoked secret gets a token again")
	}
	_, got, err := s.OAuthClient(ctx, "Entra")
	if err != nil || len(got.Secrets) != 1 || got.Secrets[0].ID == c.Secrets[0].ID {
		t.Errorf("secrets after the two: %+v, %v; want the held add's alone", got, err)
	}
}

func TestConcurrentFirstSecretsShareOneClient(t *testing.T) {
	ctx := context.Background()
	s, st := pausedService(t)
	if _, _, err := s.AddProvider(ctx, "Entra", true); err != nil {
		t.Fatal(err)
	}
	var first *directory.OAuthClient
	var held *directory.OAuthClient
	interleave(t, st, "oauth", func(ctx context.Context) (err error) {
		_, held, _, err = s.AddSecret(ctx, "Entra", 0)
		return err
	}, func() {
		var err error
		if _, first, _, err = s.AddSecret(ctx, "Entra", 0); err != nil {
			t.Fatal(err)
		}
	})
	_, got, err := s.OAuthClient(ctx, "Entra")
	if err != nil || got.ClientID != first.ClientID || held.ClientID != first.ClientID || len(got.Secrets) != 2 {
		t.Errorf("stored %+v; the two adds answered client IDs %s and %s", got, first.ClientID, held.ClientID)
	}
}

func TestTokenIssuedDuringDisableDoesNotSurvive(t *testing.T) {
	ctx := context.Background()
	s, st := pausedService(t)
	if _, _, err := s.AddProvider(ctx, "Entra", true); err != nil {
		t.Fatal(err)
	}
	_, c, secret, err := s.AddSecret(ctx, "Entra", 0)
	if err != nil {
		t.Fatal(err)
	}
	var token string
	done := make(chan error, 1)
	go func() {
		var err error
		token, _, _, err = s.IssueToken(context.WithValue(ctx, pauseKey{}, "byid"), c.ClientID, secret)
		done <- err
	}()
	<-st.read // the token endpoint has read the provider, enabled
	if _, err := s.DisableProvider(ctx, "Entra"); err != nil {
		t.Fatal(err)
	}
	close(st.release)
	if err := <-done; directory.ErrorCode(err) != directory.EFORBIDDEN {
		t.Errorf("a token issued while the provider was disabled: %v (token %t), want EFORBIDDEN", err, token != "")
	}
	if _, _, err := s.EnableProvider(ctx, "Entra"); err != nil {
		t.Fatal(err)
	}
	if token != "" {
		if _, err := s.Authenticate(ctx, "Bearer "+token); err == nil {
			t.Error("the token issued during the disable works after the enable")
		}
	}
}
