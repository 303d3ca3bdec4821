package directory

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/scim2/filter-parser/v2"

	"github.com/kacescim/kacescim/pkg/scim"
)

// User is a SCIM User a provider owns. Resource is the document as the
// identity provider wrote it, without the attributes the server computes
// (id, meta, groups), without password, which is never kept, and without
// externalId, which is kept in its field. UserName and DisplayName are
// indexed copies of the resource's attributes the store keeps for
// lookups; whether the user is active is the resource's "active" alone
// (Active), which the store indexes too and the required mapping
// active → Disabled derives the Disabled field from.
type User struct {
	ProviderID  string
	ID          string
	UserName    string
	ExternalID  string
	DisplayName string
	Resource    map[string]any
	// RawResource is Resource as the store keeps it, a JSON object, and
	// Resource is nil: what a store may return for a Query with
	// RawResources, so that a list is written without decoding and
	// re-encoding every user. "" otherwise.
	RawResource string
	// Fields are the directory-user fields the provider's mappings derive
	// from Resource (all but the Groups field, which is read from the
	// memberships). The Service derives them; the store keeps them in the
	// same row, so they change in the same transaction as the resource.
	Fields       map[string]any
	Groups       []GroupRef // read-only, filled on reads from the memberships
	Created      time.Time
	LastModified time.Time
	Version      int64 // incremented by every update; UpdateUser checks it
}

// Active reports whether the user is active: the resource's "active",
// true when it has none (a user an identity provider creates without it
// is meant to work; RFC 7643 §4.1.1 leaves the default to the service
// provider).
func (u *User) Active() bool {
	active, ok := u.Resource["active"].(bool)
	return active || !ok
}

// GroupRef names a group a user belongs to.
type GroupRef struct {
	ID          string
	DisplayName string
}

// Query selects a page of users or groups.
type Query struct {
	// Filter is a parsed SCIM filter; nil selects everything. A store
	// returns EBADFILTER for a filter it cannot evaluate (an unknown
	// attribute, a value of the wrong type) and ETOOMANY for one beyond
	// scim.CheckFilterLimits.
	Filter filter.Expression
	// StartIndex is 1-based; values below 1 are treated as 1.
	StartIndex int
	// Count is the page size; 0 returns no resources but the total.
	Count int
	// WithMembers asks FindGroups to fill Group.Members.
	WithMembers bool
	// Extensions are the custom extensions the provider's mappings declared
	// (string attributes), which a Filter may name besides the standard
	// schemas.
	Extensions []*scim.Schema
	// SortBy is the attribute path to sort by (RFC 7644 §3.4.2.3) in the
	// canonical spelling scim.SortPath gives (userName, name.familyName,
	// emails.value, meta.created, urn:…:enterprise:2.0:User:employeeNumber);
	// a store matches it case-insensitively. "" keeps creation order.
	//
	// Strings compare case-insensitively unless the attribute is caseExact;
	// a multi-valued attribute sorts by its primary value, or else its first.
	// A resource without a value (absent, null or "") sorts after those with
	// one in ascending order and before them in descending order, as RFC
	// 7644 §3.4.2.3 says. Resources with equal values keep creation order in
	// both directions, so that pages never overlap or skip. An attribute the
	// store cannot sort by is EINVALID naming it.
	SortBy string
	// SortDescending sorts by SortBy in descending order.
	SortDescending bool
	// RawResources lets FindUsers return each user's RawResource instead
	// of its decoded Resource (a store may still decode); the caller reads
	// nothing of the users but the columns and the JSON it writes out.
	RawResources bool
}

// Target names the resource a PUT, PATCH or DELETE changes and the
// condition the client put on the change.
type Target struct {
	Provider *Provider
	ID       string
	// IfMatch is the client's If-Match (RFC 7644 §3.14); nil for none.
	// A write whose If-Match names no current version of the resource is
	// EPRECONDITION and changes nothing.
	IfMatch *scim.ETagList
	// Base is the SCIM base URL the client sees. Group members carry a
	// $ref under it, which a PATCH or PUT may restate but not change.
	Base string
}

// PasswordSyncDetail answers an identity provider's password sync, which
// kacescim does not support: a directory filled by SCIM never holds
// passwords, so the administrator should turn the sync off rather than
// see every password change fail.
const PasswordSyncDetail = "password sync is not supported by kacescim: clear Sync Password in the identity provider's provisioning settings (Okta: Provisioning > To App)"

// maxRetries bounds the read-modify-write loop of PUT and PATCH when a
// concurrent writer changed the resource in between.
const maxRetries = 64

// UserType is the provider's User resource type: the core schema, the
// enterprise extension and any extension its mappings declared.
func (s *Service) UserType(ctx context.Context, p *Provider) (*scim.ResourceType, error) {
	m, err := s.Mapper(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	return m.ResourceType(), nil
}

// CreateUser creates a user of p from a SCIM User body: normalised
// against p's User type in p's dialect, with a new id, its directory-user
// fields derived by p's mappings. ECONFLICT if p already has the userName.
func (s *Service) CreateUser(ctx context.Context, p *Provider, body map[string]any) (*User, error) {
	mapper, err := s.Mapper(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	doc, err := scim.Normalize(mapper.ResourceType(), body, p.Dialect())
	if err != nil {
		return nil, err
	}
	now := s.Now()
	u := &User{ProviderID: p.ID, ID: newResourceID(), Created: now, LastModified: now}
	if err := userFromDoc(u, doc); err != nil {
		return nil, err
	}
	u.Fields = mapper.Derive(u)
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// FindUser returns p's user id with its groups; ENOTFOUND naming it.
func (s *Service) FindUser(ctx context.Context, p *Provider, id string) (*User, error) {
	u, err := s.Store.FindUserByID(ctx, p.ID, id)
	return u, notFound(err, "User", id)
}

// FindUsers returns one page of p's users and the number that match q.
func (s *Service) FindUsers(ctx context.Context, p *Provider, q Query) ([]*User, int, error) {
	return s.Store.FindUsers(ctx, p.ID, q)
}

// ReplaceUser replaces the user t names with a SCIM User body (PUT). A
// body without active keeps the user's status: Okta rebuilds PUT bodies
// from what it last read, and losing active would suspend users. Immutable
// attributes that are set keep their values (a different one is 400
// mutability).
func (s *Service) ReplaceUser(ctx context.Context, t Target, body map[string]any) (*User, error) {
	return s.updateUser(ctx, t, func(u *User, rt *scim.ResourceType) error {
		d, err := scim.Normalize(rt, body, t.Provider.Dialect())
		if err != nil {
			return err
		}
		if _, ok := d["active"]; !ok {
			d["active"] = u.Active()
		}
		if err := scim.KeepImmutable(rt, userDoc(u), d); err != nil {
			return err
		}
		return userFromDoc(u, d)
	})
}

// PatchUser applies a SCIM PATCH to the user t names: all its operations
// or none. A PATCH that only sets password is refused with
// PasswordSyncDetail.
func (s *Service) PatchUser(ctx context.Context, t Target, req *scim.PatchRequest) (*User, error) {
	if req.IsPasswordOnly() {
		return nil, scim.Errorf(http.StatusBadRequest, scim.TypeMutability, PasswordSyncDetail)
	}
	opts := t.Provider.Dialect()
	return s.updateUser(ctx, t, func(u *User, rt *scim.ResourceType) error {
		doc, err := scim.ApplyPatch(rt, userDoc(u), req.Operations, opts)
		if err != nil {
			return err
		}
		return userFromDoc(u, doc)
	})
}

// DeleteUser removes the user t names and its memberships.
func (s *Service) DeleteUser(ctx context.Context, t Target) error {
	version, err := pinnedVersion(t, "User", func() (int64, error) {
		u, err := s.FindUser(ctx, t.Provider, t.ID)
		if err != nil {
			return 0, err
		}
		return u.Version, nil
	})
	if err != nil {
		return err
	}
	err = s.Store.DeleteUser(ctx, t.Provider.ID, t.ID, version)
	return notFound(staleIsPrecondition(err, version != 0, "User", t.ID), "User", t.ID)
}

// updateUser runs a read-modify-write of one user, retrying when another
// writer changed it in between, so that concurrent PATCHes never lose
// each other's changes.
//
// t.IfMatch makes the write conditional: the user read must have a
// version it names, else EPRECONDITION, and the write then requires that
// version, so a concurrent write in between is EPRECONDITION too rather
// than a retry (a "*" still retries: any version will do).
//
// The provider's mappings derive the directory-user fields from the new
// resource, and the store writes both in one statement.
func (s *Service) updateUser(ctx context.Context, t Target, change func(u *User, rt *scim.ResourceType) error) (*User, error) {
	mapper, err := s.Mapper(ctx, t.Provider.ID)
	if err != nil {
		return nil, err
	}
	pinned := t.IfMatch != nil && !t.IfMatch.Any
	u, err := readModifyWrite(
		func() (*User, error) { return s.Store.FindUserByID(ctx, t.Provider.ID, t.ID) },
		func(u *User) error {
			if err := checkIfMatch(t.IfMatch, "User", t.ID, u.Version); err != nil {
				return err
			}
			if err := change(u, mapper.ResourceType()); err != nil {
				return err
			}
			u.Fields = mapper.Derive(u)
			u.LastModified = s.Now()
			return nil
		},
		func(u *User) error {
			return staleIsPrecondition(s.Store.UpdateUser(ctx, u), pinned, "User", t.ID)
		})
	return u, notFound(err, "User", t.ID)
}

// userFromDoc validates a normalized User document and fills the indexed
// fields of u from it. active defaults to true when the document has none.
func userFromDoc(u *User, doc map[string]any) error {
	name, _ := doc["userName"].(string)
	if name == "" {
		return scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "userName is required and must be a non-empty string")
	}
	if err := scim.CheckContent(doc); err != nil {
		return err
	}
	if _, ok := doc["active"].(bool); !ok {
		doc["active"] = true
	}
	u.UserName = name
	u.ExternalID, _ = doc["externalId"].(string)
	u.DisplayName, _ = doc["displayName"].(string)
	delete(doc, "externalId") // kept in its column, rendered from there
	u.Resource = doc
	return nil
}

// userDoc is the document a PATCH applies to: the stored resource with
// externalId put back.
func userDoc(u *User) map[string]any {
	doc := scim.CopyMap(u.Resource)
	if u.ExternalID != "" {
		doc["externalId"] = u.ExternalID
	}
	return doc
}

// newResourceID returns the id of a new user or group: a UUID of version 7,
// whose first 48 bits are the time of creation, so that the stores' id
// indexes grow at their end instead of at a random page per write (a
// batch of creates dirties a few index pages, not one per create). The
// time it carries is the resource's meta.created, already public.
func newResourceID() string {
	return uuid.Must(uuid.NewV7()).String()
}
