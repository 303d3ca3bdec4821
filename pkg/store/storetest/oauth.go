package storetest

import (
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

// testOAuth: a provider's OAuth client is found by provider and by client
// ID with its secrets, oldest first; a secret's revoke deletes the tokens
// it got and only those; a token is found by its hash with its provider;
// issuing a token prunes the expired ones; a token for a revoked secret
// is ENOTFOUND; disabling the provider deletes its tokens; deleting the
// provider deletes its client.
func testOAuth(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "entra")
	_, err := s.FindOAuthClient(c, p.ID)
	wantCode(t, err, directory.ENOTFOUND)

	cl := &directory.OAuthClient{ProviderID: p.ID, ClientID: "kcc_client1", Created: t0, Secrets: []directory.Secret{
		{ID: "s1", Hash: []byte("secret-hash-1"), Hint: "aaa1", Created: t0, Expires: t0.Add(365 * 24 * time.Hour)},
		{ID: "s2", Hash: []byte("secret-hash-2"), Hint: "bbb2", Created: t0.Add(time.Second), Expires: t0.Add(730 * 24 * time.Hour)},
	}}
	must(t, s.SaveOAuthClient(c, cl))
	for _, find := range []func() (*directory.OAuthClient, error){
		func() (*directory.OAuthClient, error) { return s.FindOAuthClient(c, p.ID) },
		func() (*directory.OAuthClient, error) { return s.FindOAuthClientByID(c, "kcc_client1") },
	} {
		got, err := find()
		must(t, err)
		if got.ProviderID != p.ID || got.ClientID != "kcc_client1" || len(got.Secrets) != 2 || got.Secrets[0].ID != "s1" ||
			string(got.Secrets[1].Hash) != "secret-hash-2" || got.Secrets[1].Hint != "bbb2" || !got.Secrets[1].Expires.Equal(cl.Secrets[1].Expires) ||
			!got.Secrets[0].LastUsed.IsZero() {
			t.Fatalf("client = %+v", got)
		}
	}
	_, err = s.FindOAuthClientByID(c, "kcc_nobody")
	wantCode(t, err, directory.ENOTFOUND)

	// Writes from stale reads are refused: a second "new" client of the
	// provider, and a client whose revision moved on.
	dup := *cl
	dup.Rev, dup.ClientID = 0, "kcc_client2"
	wantCode(t, s.SaveOAuthClient(c, &dup), directory.ESTALE)
	old := *cl
	old.Rev--
	old.Secrets = nil
	wantCode(t, s.SaveOAuthClient(c, &old), directory.ESTALE)
	if got, err := s.FindOAuthClient(c, p.ID); err != nil || got.ClientID != "kcc_client1" || len(got.Secrets) != 2 || got.Rev != cl.Rev {
		t.Fatalf("after two stale writes: %+v, %v", got, err)
	}

	tok := func(hash, secret string, created, expires time.Time) *directory.AccessToken {
		return &directory.AccessToken{Hash: []byte(hash), ProviderID: p.ID, SecretID: secret, Created: created, Expires: expires}
	}
	must(t, s.CreateAccessToken(c, tok("t-old", "s1", t0, t0.Add(time.Hour))))
	must(t, s.CreateAccessToken(c, tok("t1", "s1", t0.Add(30*time.Minute), t0.Add(90*time.Minute))))
	must(t, s.CreateAccessToken(c, tok("t2", "s2", t0.Add(time.Hour), t0.Add(2*time.Hour)))) // prunes t-old
	_, _, err = s.FindAccessToken(c, []byte("t-old"))
	wantCode(t, err, directory.ENOTFOUND)
	got, gp, err := s.FindAccessToken(c, []byte("t1"))
	must(t, err)
	if got.SecretID != "s1" || got.ProviderID != p.ID || !got.Expires.Equal(t0.Add(90*time.Minute)) || gp.ID != p.ID || gp.Name != "entra" {
		t.Fatalf("token = %+v of %+v", got, gp)
	}
	cl2, err := s.FindOAuthClient(c, p.ID)
	must(t, err)
	sameTime(t, "secret s1 LastUsed", cl2.Secrets[0].LastUsed, t0.Add(30*time.Minute))
	sameTime(t, "secret s2 LastUsed", cl2.Secrets[1].LastUsed, t0.Add(time.Hour))

	// Revoking s1 deletes t1, not t2; a token for it is then refused.
	cl.Secrets = cl.Secrets[1:]
	must(t, s.SaveOAuthClient(c, cl))
	_, _, err = s.FindAccessToken(c, []byte("t1"))
	wantCode(t, err, directory.ENOTFOUND)
	_, _, err = s.FindAccessToken(c, []byte("t2"))
	must(t, err)
	wantCode(t, s.CreateAccessToken(c, tok("t3", "s1", t0.Add(time.Hour), t0.Add(2*time.Hour))), directory.ENOTFOUND)

	// Disabling the provider deletes its tokens.
	p.Enabled = false
	must(t, s.UpdateProvider(c, p))
	_, _, err = s.FindAccessToken(c, []byte("t2"))
	wantCode(t, err, directory.ENOTFOUND)

	must(t, s.DeleteProvider(c, p.ID))
	_, err = s.FindOAuthClientByID(c, "kcc_client1")
	wantCode(t, err, directory.ENOTFOUND)
	wantCode(t, s.SaveOAuthClient(c, cl), directory.ENOTFOUND)
}
