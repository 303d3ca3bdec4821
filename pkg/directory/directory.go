package directory

import (
	"context"
	"time"

	"github.com/scim2/filter-parser/v2"

	"github.com/kacescim/kacescim/pkg/scim"
)

// Provider is one identity-provider connection ("Okta"). Its security key is
// never stored: only KeyHash (SHA-256 of the key) and KeyHint (its last four
// characters, to recognise it when masked) are.
type Provider struct {
	ID      string
	Name    string
	Enabled bool
	KeyHash []byte // nil while the provider has no key (never enabled)
	KeyHint string
	// Strict refuses what only Microsoft Entra ID sends (capitalised ops,
	// booleans as strings, empty PATCHes); by default it is accepted.
	Strict bool
	// RateLimit is the most SCIM requests per second the provider may make
	// (0: no limit); beyond it the server answers 429 with Retry-After.
	RateLimit   float64
	SyncedUsers int64     // users the provider owns; kept by the store in the same transaction as every user write
	LastSyncAt  time.Time // zero until the first successful SCIM request
	Created     time.Time
	Updated     time.Time
}

// HasKey reports whether a key was ever generated for the provider.
func (p *Provider) HasKey() bool { return len(p.KeyHash) > 0 }

// User is a SCIM User a provider owns. Resource is the document as the
// identity provider wrote it, without the attributes the server computes
// (id, meta, groups) and without password, which is never kept. The other
// fields are indexed copies the store keeps for lookups.
type User struct {
	ProviderID  string
	ID          string
	UserName    string
	ExternalID  string
	DisplayName string
	Active      bool
	Resource    map[string]any
	// Fields are the directory-user fields the provider's mappings derive
	// from Resource (all but the Groups field, which is read from the
	// memberships). The caller derives them; the store keeps them in the
	// same row, so they change in the same transaction as the resource.
	Fields       map[string]any
	Groups       []GroupRef // read-only, filled on reads from the memberships
	Created      time.Time
	LastModified time.Time
	Version      int64 // incremented by every update; UpdateUser checks it
}

// GroupRef names a group a user belongs to.
type GroupRef struct {
	ID          string
	DisplayName string
}

// Group is a SCIM Group a provider owns. Resource holds the attributes the
// identity provider wrote except id, meta and members, which the store keeps
// as rows.
type Group struct {
	ProviderID   string
	ID           string
	DisplayName  string
	ExternalID   string
	Resource     map[string]any
	Members      []Member
	Created      time.Time
	LastModified time.Time
	Version      int64
}

// Member is one member of a group: the SCIM id of a user of the same
// provider, and the display text the identity provider sent with it.
type Member struct {
	Value   string
	Display string
}

// GroupDelta is a change to a group expressed as what changes, not as the
// whole new group: the shape of Okta's and Entra's membership PATCHes.
type GroupDelta struct {
	DisplayName   string // "" leaves the name as it is
	AddMembers    []Member
	RemoveMembers []string // user ids
	LastModified  time.Time
	// IfVersion, when not 0, applies the delta only if the group's Version
	// is still IfVersion, checked in the delta's own transaction: ESTALE
	// otherwise, and nothing is written. It carries an If-Match
	// precondition (RFC 7644 §3.14) down to the store.
	IfVersion int64
}

// Query selects a page of users or groups.
type Query struct {
	// Filter is a parsed SCIM filter; nil selects everything. A store
	// returns *scim.Error with scimType invalidFilter for a filter it cannot
	// evaluate.
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
}

// Store keeps providers and their SCIM resources. Every method is safe for
// concurrent use, every multi-row change runs in one transaction, and every
// lookup the identity provider makes on each request (key hash, id,
// userName, externalId, displayName) is served by an index.
//
// Errors are *Error values with the codes above, except filter errors,
// which are *scim.Error.
type Store interface {
	// CreateProvider inserts p; ECONFLICT if the name is taken
	// (case-insensitively).
	CreateProvider(ctx context.Context, p *Provider) error
	// FindProviderByID returns ENOTFOUND if there is no such provider.
	FindProviderByID(ctx context.Context, id string) (*Provider, error)
	// FindProviderByName matches case-insensitively; ENOTFOUND if none.
	FindProviderByName(ctx context.Context, name string) (*Provider, error)
	// FindProviderByKeyHash returns the provider whose KeyHash is hash;
	// ENOTFOUND if none.
	FindProviderByKeyHash(ctx context.Context, hash []byte) (*Provider, error)
	// FindProviders returns every provider ordered by name.
	FindProviders(ctx context.Context) ([]*Provider, error)
	// UpdateProvider writes Name, Enabled, KeyHash, KeyHint, Strict,
	// RateLimit and Updated;
	// ENOTFOUND if p.ID does not exist, ECONFLICT on a taken name.
	UpdateProvider(ctx context.Context, p *Provider) error
	// DeleteProvider removes the provider with all its users and groups.
	DeleteProvider(ctx context.Context, id string) error

	// CreateUser inserts u (ID, Created, LastModified set by the caller,
	// Version set to 1 by the store) and counts it in SyncedUsers;
	// ECONFLICT if the provider already has the userName
	// (case-insensitively).
	CreateUser(ctx context.Context, u *User) error
	// FindUserByID returns the provider's user with its Groups; ENOTFOUND
	// if none.
	FindUserByID(ctx context.Context, providerID, id string) (*User, error)
	// FindUsers returns one page of the provider's users in a stable order
	// (q's sort order, else creation order) and the total number that match.
	FindUsers(ctx context.Context, providerID string, q Query) ([]*User, int, error)
	// UpdateUser replaces the user if its stored Version still equals
	// u.Version, then increments u.Version; ESTALE if it changed,
	// ENOTFOUND if gone, ECONFLICT on a taken userName. The check is part
	// of the write, so it is what carries both optimistic locking and
	// If-Match (RFC 7644 §3.14): the caller sets u.Version to the version
	// the client named and gets ESTALE if that is no longer current.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes the user and its memberships; ENOTFOUND if none.
	// With ifVersion (one value, not 0), it removes the user only if its
	// Version is still ifVersion, in the same statement: ESTALE otherwise,
	// and nothing is removed (If-Match on DELETE).
	DeleteUser(ctx context.Context, providerID, id string, ifVersion ...int64) error

	// CreateGroup inserts g with its members; ECONFLICT if the provider
	// already has the displayName (case-insensitively), EINVALID if a
	// member is not a user of the same provider. Nothing is written on error.
	CreateGroup(ctx context.Context, g *Group) error
	// FindGroupByID returns the group, with Members only if withMembers.
	FindGroupByID(ctx context.Context, providerID, id string, withMembers bool) (*Group, error)
	// FindGroups returns one page of groups in q's sort order (else
	// creation order) and the total.
	FindGroups(ctx context.Context, providerID string, q Query) ([]*Group, int, error)
	// UpdateGroup replaces the group and its member list (g.Members) if its
	// stored Version equals g.Version, then increments g.Version; ESTALE,
	// ENOTFOUND, ECONFLICT and EINVALID as above. As for UpdateUser, the
	// version check is also how If-Match reaches the store.
	UpdateGroup(ctx context.Context, g *Group) error
	// ApplyGroupDelta applies d to the group in one transaction, touching
	// only the members d names, so that Okta's membership pushes cost the
	// same in a group of ten members and of a hundred thousand: rename it
	// (when DisplayName is set), remove the RemoveMembers (absent ones are
	// ignored), add or update the AddMembers (each must be a user of the
	// same provider: EINVALID naming it, nothing written), set
	// LastModified, and increment Version. It returns the group without
	// its members. ENOTFOUND, ECONFLICT on a taken displayName.
	ApplyGroupDelta(ctx context.Context, providerID, id string, d GroupDelta) (*Group, error)
	// DeleteGroup removes the group and its memberships; ENOTFOUND if none.
	// ifVersion as for DeleteUser.
	DeleteGroup(ctx context.Context, providerID, id string, ifVersion ...int64) error

	FieldStore
	LogStore

	// Ping checks that the database answers, for readiness probes.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}
