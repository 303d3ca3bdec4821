package directory_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
	"github.com/kacescim/kacescim/pkg/store/sqlite"
)

// The SCIM rules of the directory service, tested over the real SQLite
// store and without HTTP: what pkg/server hands the service is a decoded
// body, a provider and a target, and what it gets back is a resource or
// an error with a code.

// scimEnv is a directory service over a fresh SQLite store with a clock
// that moves one second per reading, and a lenient provider okta.
type scimEnv struct {
	t   *testing.T
	ctx context.Context
	dir *directory.Service
	p   *directory.Provider
	mu  sync.Mutex
	now time.Time
}

func newSCIMEnv(t *testing.T) *scimEnv {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kacescim.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &scimEnv{t: t, ctx: context.Background(), now: t0}
	e.dir = directory.NewService(st)
	e.dir.Now = e.tick
	if e.p, _, err = e.dir.AddProvider(e.ctx, "okta", true); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *scimEnv) tick() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(time.Second)
	return e.now
}

// provider adds another provider, strict or lenient.
func (e *scimEnv) provider(name string, strict bool) *directory.Provider {
	e.t.Helper()
	p, _, err := e.dir.AddProvider(e.ctx, name, true, directory.ProviderOptions{Strict: &strict})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *scimEnv) createUser(p *directory.Provider, body map[string]any) *directory.User {
	e.t.Helper()
	u, err := e.dir.CreateUser(e.ctx, p, body)
	if err != nil {
		e.t.Fatalf("CreateUser(%v): %v", body, err)
	}
	return u
}

func (e *scimEnv) findUser(id string) *directory.User {
	e.t.Helper()
	u, err := e.dir.FindUser(e.ctx, e.p, id)
	if err != nil {
		e.t.Fatalf("FindUser(%s): %v", id, err)
	}
	return u
}

func (e *scimEnv) target(id string, ifMatch ...string) directory.Target {
	t := directory.Target{Provider: e.p, ID: id, Base: "https://scim.example.com/scim/v2"}
	if len(ifMatch) > 0 {
		l, _ := scim.ParseETagList(ifMatch)
		t.IfMatch = &l
	}
	return t
}

func patch(ops ...scim.PatchOperation) *scim.PatchRequest {
	return &scim.PatchRequest{Schemas: []string{scim.PatchOpURN}, Operations: ops}
}

func wantSCIM(t *testing.T, err error, status int, scimType string) {
	t.Helper()
	se, ok := scim.AsError(err)
	if !ok || se.Status != status || se.ScimType != scimType {
		t.Fatalf("error = %v, want SCIM %d %q", err, status, scimType)
	}
}

func jane() map[string]any {
	return map[string]any{
		"schemas":     []any{scim.UserURN},
		"userName":    "jane@example.com",
		"displayName": "Jane Doe",
		"externalId":  "00u1",
		"name":        map[string]any{"givenName": "Jane", "familyName": "Doe"},
	}
}

func TestCreateUserRules(t *testing.T) {
	e := newSCIMEnv(t)
	u := e.createUser(e.p, jane())
	if u.ID == "" || u.Version != 1 || !u.Created.Equal(u.LastModified) || u.Created.IsZero() {
		t.Fatalf("created %+v: want an id, version 1, created = lastModified from the clock", u)
	}
	if !u.Active() || u.Resource["active"] != true {
		t.Errorf("a user created without active is active: Active %v, resource %v", u.Active(), u.Resource["active"])
	}
	if _, ok := u.Resource["externalId"]; ok || u.ExternalID != "00u1" {
		t.Errorf("externalId %q, in resource %v: kept beside the resource", u.ExternalID, u.Resource["externalId"])
	}
	want := map[string]any{directory.FieldEmail: "jane@example.com", directory.FieldName: "Jane Doe",
		directory.FieldGUID: u.ID, directory.FieldDisabled: false}
	if fmt.Sprint(u.Fields) != fmt.Sprint(want) {
		t.Errorf("fields %v, want %v", u.Fields, want)
	}
	got := e.findUser(u.ID)
	if fmt.Sprint(got.Fields) != fmt.Sprint(want) || got.UserName != "jane@example.com" {
		t.Errorf("stored fields %v (userName %q), want %v", got.Fields, got.UserName, want)
	}

	dup := jane()
	dup["userName"] = "JANE@example.com"
	_, err := e.dir.CreateUser(e.ctx, e.p, dup)
	wantCode(t, err, directory.ECONFLICT)

	// Another provider has users of its own: the same userName is free there.
	other := e.provider("entra", false)
	e.createUser(other, jane())
	if _, err := e.dir.FindUser(e.ctx, other, u.ID); directory.ErrorCode(err) != directory.ENOTFOUND {
		t.Errorf("entra reads okta's user: %v", err)
	}

	_, err = e.dir.CreateUser(e.ctx, e.p, map[string]any{"displayName": "No Name"})
	wantSCIM(t, err, 400, scim.TypeInvalidValue)
	_, err = e.dir.CreateUser(e.ctx, e.p, map[string]any{"userName": 42})
	wantSCIM(t, err, 400, scim.TypeInvalidValue)
	if users, total, err := e.dir.FindUsers(e.ctx, e.p, directory.Query{StartIndex: 1, Count: 10}); err != nil || total != 1 || len(users) != 1 {
		t.Errorf("after refused creates: %d users (%v), want only jane", total, err)
	}
}

func TestCreateUserDialect(t *testing.T) {
	e := newSCIMEnv(t)
	body := map[string]any{"userName": "sam@example.com", "active": "False"}
	u := e.createUser(e.p, body)
	if u.Active() || u.Fields[directory.FieldDisabled] != true {
		t.Errorf(`lenient provider, active "False": Active %v, Disabled %v; want inactive, Disabled`, u.Active(), u.Fields[directory.FieldDisabled])
	}
	strict := e.provider("strict", true)
	_, err := e.dir.CreateUser(e.ctx, strict, map[string]any{"userName": "sam@example.com", "active": "False"})
	wantSCIM(t, err, 400, scim.TypeInvalidValue)
}

func TestReplaceUserKeepsActive(t *testing.T) {
	e := newSCIMEnv(t)
	u := e.createUser(e.p, jane())
	if _, err := e.dir.PatchUser(e.ctx, e.target(u.ID), patch(scim.PatchOperation{Op: "replace", Value: map[string]any{"active": false}})); err != nil {
		t.Fatal(err)
	}
	body := jane()
	body["displayName"] = "Jane Roe"
	got, err := e.dir.ReplaceUser(e.ctx, e.target(u.ID), body)
	if err != nil {
		t.Fatal(err)
	}
	if got.Active() || got.Fields[directory.FieldDisabled] != true || got.Fields[directory.FieldName] != "Jane Roe" {
		t.Errorf("PUT without active: Active %v, fields %v; want still disabled, renamed", got.Active(), got.Fields)
	}
	body["active"] = true
	if got, err = e.dir.ReplaceUser(e.ctx, e.target(u.ID), body); err != nil || !got.Active() || got.Fields[directory.FieldDisabled] != false {
		t.Errorf("PUT with active true: %v, Active %v, fields %v", err, got.Active(), got.Fields)
	}
	if got.Version != 4 || !got.LastModified.After(u.LastModified) {
		t.Errorf("version %d, lastModified %v (created %v): want 4, later", got.Version, got.LastModified, u.LastModified)
	}
}

func TestPatchUserRules(t *testing.T) {
	e := newSCIMEnv(t)
	u := e.createUser(e.p, jane())

	got, err := e.dir.PatchUser(e.ctx, e.target(u.ID), patch(scim.PatchOperation{Op: "Replace", Value: map[string]any{"active": "False"}}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Active() || got.Fields[directory.FieldDisabled] != true || got.Version != 2 {
		t.Errorf("deactivated: Active %v, Disabled %v, version %d", got.Active(), got.Fields[directory.FieldDisabled], got.Version)
	}
	if stored := e.findUser(u.ID); stored.Active() || stored.Fields[directory.FieldDisabled] != true {
		t.Errorf("stored: Active %v, Disabled %v", stored.Active(), stored.Fields[directory.FieldDisabled])
	}

	// A password sync is refused and writes nothing.
	_, err = e.dir.PatchUser(e.ctx, e.target(u.ID), patch(scim.PatchOperation{Op: "replace", Path: "password", Value: "s3cret!"}))
	wantSCIM(t, err, 400, scim.TypeMutability)
	if se, _ := scim.AsError(err); se.Detail != directory.PasswordSyncDetail {
		t.Errorf("detail %q", se.Detail)
	}
	// All operations or none: the second fails, the first is not kept.
	_, err = e.dir.PatchUser(e.ctx, e.target(u.ID), patch(
		scim.PatchOperation{Op: "replace", Path: "displayName", Value: "Changed"},
		scim.PatchOperation{Op: "replace", Path: "active", Value: []any{1}},
	))
	wantSCIM(t, err, 400, scim.TypeInvalidValue)
	if stored := e.findUser(u.ID); stored.Version != 2 || stored.DisplayName != "Jane Doe" {
		t.Errorf("after refused PATCHes: version %d, displayName %q; want 2, Jane Doe", stored.Version, stored.DisplayName)
	}

	_, err = e.dir.PatchUser(e.ctx, e.target("no-such-id"), patch(scim.PatchOperation{Op: "replace", Path: "active", Value: true}))
	wantCode(t, err, directory.ENOTFOUND)
	if msg := directory.ErrorMessage(err); msg != "User no-such-id not found" {
		t.Errorf("not-found message %q", msg)
	}
}

func TestUserIfMatch(t *testing.T) {
	e := newSCIMEnv(t)
	u := e.createUser(e.p, jane())
	deactivate := patch(scim.PatchOperation{Op: "replace", Path: "active", Value: false})

	_, err := e.dir.PatchUser(e.ctx, e.target(u.ID, `W/"7"`), deactivate)
	wantCode(t, err, directory.EPRECONDITION)
	_, err = e.dir.ReplaceUser(e.ctx, e.target(u.ID, `W/"2", W/"3"`), jane())
	wantCode(t, err, directory.EPRECONDITION)
	wantCode(t, e.dir.DeleteUser(e.ctx, e.target(u.ID, `"9"`)), directory.EPRECONDITION)
	if stored := e.findUser(u.ID); stored.Version != 1 || !stored.Active() {
		t.Fatalf("after refused conditional writes: version %d, active %v", stored.Version, stored.Active())
	}

	if got, err := e.dir.PatchUser(e.ctx, e.target(u.ID, `W/"1"`), deactivate); err != nil || got.Version != 2 {
		t.Fatalf("If-Match W/\"1\": %v", err)
	}
	if got, err := e.dir.PatchUser(e.ctx, e.target(u.ID, `W/"5", "2"`), deactivate); err != nil || got.Version != 3 {
		t.Fatalf(`If-Match W/"5", "2": %v`, err)
	}
	if _, err := e.dir.PatchUser(e.ctx, e.target(u.ID, "*"), deactivate); err != nil {
		t.Fatalf("If-Match *: %v", err)
	}
	// A missing resource is not found whatever If-Match says.
	_, err = e.dir.PatchUser(e.ctx, e.target("gone", "*"), deactivate)
	wantCode(t, err, directory.ENOTFOUND)
	wantCode(t, e.dir.DeleteUser(e.ctx, e.target("gone", `W/"1"`)), directory.ENOTFOUND)

	if err := e.dir.DeleteUser(e.ctx, e.target(u.ID, `W/"4"`)); err != nil {
		t.Fatal(err)
	}
	_, err = e.dir.FindUser(e.ctx, e.p, u.ID)
	wantCode(t, err, directory.ENOTFOUND)
}

// TestConcurrentPatchesAllLand: the read-modify-write retries on the new
// version, so no PATCH loses another's change.
func TestConcurrentPatchesAllLand(t *testing.T) {
	e := newSCIMEnv(t)
	u := e.createUser(e.p, jane())
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := e.dir.PatchUser(e.ctx, e.target(u.ID), patch(scim.PatchOperation{Op: "add", Path: "emails",
				Value: []any{map[string]any{"value": fmt.Sprintf("jane%d@example.com", i), "type": "other"}}}))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := e.findUser(u.ID)
	if emails, _ := got.Resource["emails"].([]any); len(emails) != n || got.Version != n+1 {
		t.Errorf("%d emails, version %d; want %d, %d", len(emails), got.Version, n, n+1)
	}
}

func TestUserMappedFields(t *testing.T) {
	e := newSCIMEnv(t)
	if _, err := e.dir.AddCustomField(e.ctx, "Department", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.dir.AddMapping(e.ctx, "okta", scim.EnterpriseUserURN+":department", "Department"); err != nil {
		t.Fatal(err)
	}
	body := jane()
	body["schemas"] = []any{scim.UserURN, scim.EnterpriseUserURN}
	body[scim.EnterpriseUserURN] = map[string]any{"department": "Sales"}
	u := e.createUser(e.p, body)
	if u.Fields["Department"] != "Sales" {
		t.Fatalf("Department %v, want Sales", u.Fields["Department"])
	}
	got, err := e.dir.PatchUser(e.ctx, e.target(u.ID), patch(scim.PatchOperation{Op: "remove", Path: scim.EnterpriseUserURN + ":department"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Fields["Department"]; ok {
		t.Errorf("Department %v after its attribute was removed: want it cleared", got.Fields["Department"])
	}
}
