package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
)

func testUsers(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "okta")
	u := &directory.User{
		ProviderID: p.ID, ID: uuid.NewString(), UserName: "Bjensen@Example.com", ExternalID: "00u1",
		DisplayName: "Babs Jensen",
		Resource: map[string]any{
			"userName": "Bjensen@Example.com",
			"active":   true,
			"name":     map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
			"emails":   []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}},
		},
		Created: t0, LastModified: t0,
	}
	must(t, s.CreateUser(c, u))
	if u.Version != 1 {
		t.Errorf("Version after create = %d, want 1", u.Version)
	}
	got, err := s.FindUserByID(c, p.ID, u.ID)
	must(t, err)
	checkUser(t, got, u)
	if len(got.Groups) != 0 {
		t.Errorf("Groups = %v, want none", got.Groups)
	}

	// Update replaces everything but Created.
	upd := *got
	upd.UserName = "babs@example.com"
	upd.ExternalID = "00u1-b"
	upd.DisplayName = "Babs"
	upd.Resource = map[string]any{"userName": "babs@example.com", "title": "Tour Guide", "active": false}
	upd.LastModified = t0.Add(time.Minute)
	must(t, s.UpdateUser(c, &upd))
	if upd.Version != 2 {
		t.Errorf("Version after update = %d, want 2", upd.Version)
	}
	got, err = s.FindUserByID(c, p.ID, u.ID)
	must(t, err)
	checkUser(t, got, &upd)

	// The old userName is free; the new one is taken.
	newUser(t, s, p.ID, "bjensen@example.com")
	wantCode(t, s.CreateUser(c, user(p.ID, "BABS@example.com")), directory.ECONFLICT)

	wantCode(t, s.CreateUser(c, user(uuid.NewString(), "nobody")), directory.ENOTFOUND)
	ghost := user(p.ID, "ghost")
	ghost.Version = 1
	wantCode(t, s.UpdateUser(c, ghost), directory.ENOTFOUND)
	_, err = s.FindUserByID(c, p.ID, ghost.ID)
	wantCode(t, err, directory.ENOTFOUND)

	must(t, s.DeleteUser(c, p.ID, u.ID))
	_, err = s.FindUserByID(c, p.ID, u.ID)
	wantCode(t, err, directory.ENOTFOUND)
	wantCode(t, s.DeleteUser(c, p.ID, u.ID), directory.ENOTFOUND)
	upd.Version = 2
	wantCode(t, s.UpdateUser(c, &upd), directory.ENOTFOUND)
}

func testUserNameUnique(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	q := newProvider(t, s, "q")
	alice := newUser(t, s, p.ID, "Alice")
	err := s.CreateUser(c, user(p.ID, "aLICE"))
	wantCode(t, err, directory.ECONFLICT)
	if msg := directory.ErrorMessage(err); !strings.Contains(msg, `"aLICE"`) || !strings.Contains(msg, "already taken") {
		t.Errorf("message = %q", msg)
	}
	// Case-insensitive beyond ASCII.
	newUser(t, s, p.ID, "ÅSA")
	wantCode(t, s.CreateUser(c, user(p.ID, "åsa")), directory.ECONFLICT)

	// Another provider may have the same userName.
	newUser(t, s, q.ID, "alice")

	// Updating to a taken name conflicts; to one's own name in another case does not.
	bob := newUser(t, s, p.ID, "bob")
	bob.UserName = "ALICE"
	wantCode(t, s.UpdateUser(c, bob), directory.ECONFLICT)
	if bob.Version != 1 {
		t.Errorf("Version after a failed update = %d, want 1", bob.Version)
	}
	alice.UserName = "ALICE"
	must(t, s.UpdateUser(c, alice))
	got, err := s.FindUserByID(c, p.ID, bob.ID)
	must(t, err)
	if got.UserName != "bob" || got.Version != 1 {
		t.Errorf("after a failed update: %+v", got)
	}
}
