package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
)

// AdminCredentials is Credentials over a kacescim server's admin API: the
// auth suite's throw-away providers, named kacescim-test-auth-XXXXXX.
func AdminCredentials(admin *client.Admin) Credentials { return adminCredentials{admin} }

type adminCredentials struct{ api *client.Admin }

func (c adminCredentials) NewProvider(ctx context.Context) (CredentialProvider, error) {
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	name := "kacescim-test-auth-" + hex.EncodeToString(suffix)
	resp, err := c.api.CreateProvider(ctx, adminapi.CreateProviderRequest{Name: name, Enabled: true})
	if err != nil {
		return nil, err
	}
	return &adminCredProvider{api: c.api, name: name, key: resp.Key}, nil
}

type adminCredProvider struct {
	api  *client.Admin
	name string
	key  string
}

func (p *adminCredProvider) Key() string { return p.key }

func (p *adminCredProvider) RotateKey(ctx context.Context, grace, expires time.Duration) (string, error) {
	g := int64(grace / time.Second)
	resp, err := p.api.RotateKey(ctx, p.name, adminapi.NewKeyRequest{GraceSeconds: &g, ExpiresInSeconds: int64(expires / time.Second)})
	if err != nil {
		return "", err
	}
	p.key = resp.Key
	return resp.Key, nil
}

func (p *adminCredProvider) AddSecret(ctx context.Context) (OAuthClient, string, error) {
	resp, err := p.api.AddSecret(ctx, p.name, adminapi.NewSecretRequest{})
	if err != nil {
		return OAuthClient{}, "", err
	}
	id := ""
	if n := len(resp.Client.Secrets); n > 0 {
		id = resp.Client.Secrets[n-1].ID
	}
	return OAuthClient{TokenURL: resp.Client.TokenURL, ClientID: resp.Client.ClientID, ClientSecret: resp.Secret}, id, nil
}

func (p *adminCredProvider) RevokeSecret(ctx context.Context, id string) error {
	_, err := p.api.RevokeSecret(ctx, p.name, id)
	return err
}

func (p *adminCredProvider) Close(ctx context.Context) error {
	return p.api.RemoveProvider(ctx, p.name)
}
