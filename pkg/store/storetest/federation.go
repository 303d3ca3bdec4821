package storetest

import (
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

// testFederation: a provider's federation is saved, replaced, found by
// provider and by issuer (several providers may trust one issuer), and
// deleted, by itself or with its provider.
func testFederation(t *testing.T, s directory.Store) {
	c := ctx(t)
	a := newProvider(t, s, "entra-a")
	b := newProvider(t, s, "entra-b")
	_, err := s.FindFederation(c, a.ID)
	wantCode(t, err, directory.ENOTFOUND)
	fa := &directory.Federation{ProviderID: a.ID, Issuer: "https://login.example.com/t/v2.0", Audience: "api://kacescim-a",
		JWKSURL: "https://login.example.com/t/keys", Updated: t0}
	fb := &directory.Federation{ProviderID: b.ID, Issuer: fa.Issuer, Audience: "api://kacescim-b", Subject: "sp-b",
		JWKS: []byte(`{"keys":[]}`), Updated: t0}
	must(t, s.SaveFederation(c, fa))
	must(t, s.SaveFederation(c, fb))
	got, err := s.FindFederation(c, b.ID)
	must(t, err)
	if got.Issuer != fb.Issuer || got.Audience != "api://kacescim-b" || got.Subject != "sp-b" || got.JWKSURL != "" ||
		string(got.JWKS) != `{"keys":[]}` || !got.Updated.Equal(t0) {
		t.Errorf("federation = %+v", got)
	}
	all, err := s.FindFederationsByIssuer(c, fa.Issuer)
	must(t, err)
	if len(all) != 2 {
		t.Fatalf("%d federations of the issuer, want 2", len(all))
	}
	none, err := s.FindFederationsByIssuer(c, "https://other.example.com")
	must(t, err)
	if len(none) != 0 {
		t.Errorf("another issuer finds %d", len(none))
	}

	// Replaced: the inline JWKS gives way to a URL.
	fb.JWKS, fb.JWKSURL, fb.Updated = nil, "https://login.example.com/t/keys2", t0.Add(time.Hour)
	must(t, s.SaveFederation(c, fb))
	got, err = s.FindFederation(c, b.ID)
	must(t, err)
	if got.JWKS != nil || got.JWKSURL != fb.JWKSURL || !got.Updated.Equal(fb.Updated) {
		t.Errorf("replaced federation = %+v", got)
	}

	must(t, s.DeleteFederation(c, a.ID))
	wantCode(t, s.DeleteFederation(c, a.ID), directory.ENOTFOUND)
	must(t, s.DeleteProvider(c, b.ID))
	_, err = s.FindFederation(c, b.ID)
	wantCode(t, err, directory.ENOTFOUND)
	fa.ProviderID = "gone"
	wantCode(t, s.SaveFederation(c, fa), directory.ENOTFOUND)
}
