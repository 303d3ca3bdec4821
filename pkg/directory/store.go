package directory

import (
	"context"
	"time"
)

// Store keeps providers and their SCIM resources. Every method is safe for
// concurrent use, every multi-row change runs in one transaction, and every
// lookup the identity provider makes on each request (key hash, id,
// userName, externalId, displayName) is served by an index.
//
// Errors are *Error values with the codes in error.go: EBADFILTER for a
// filter the store cannot evaluate, ETOOMANY for one beyond
// scim.CheckFilterLimits.
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
	// UpdateProvider writes Name, Enabled, Keys, Strict, RateLimit and
	// Updated if the stored Rev is still p.Rev (ESTALE otherwise), then
	// increments p.Rev;
	// ENOTFOUND if p.ID does not exist, ECONFLICT on a taken name.
	UpdateProvider(ctx context.Context, p *Provider) error
	// DeleteProvider removes the provider with all its users and groups.
	DeleteProvider(ctx context.Context, id string) error

	// CreateUser inserts u (ID, Created, LastModified set by the caller,
	// Version set to 1 by the store) and counts it in SyncedUsers;
	// ECONFLICT if the provider already has the userName
	// (case-insensitively). The store indexes u.Active() (for the
	// admin's disabled filter) with the other indexed copies; it is
	// never read back: the resource is its only source.
	CreateUser(ctx context.Context, u *User) error
	// FindUserByID returns the provider's user with its Groups; ENOTFOUND
	// if none.
	FindUserByID(ctx context.Context, providerID, id string) (*User, error)
	// FindUsers returns one page of the provider's users in a stable order
	// (q's sort order, else creation order) and the total number that match,
	// without their directory Fields (a SCIM list never shows them).
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
	OAuthStore
	FederationStore
	EventStore
	WebhookStore

	// Ping checks that the database answers, for readiness probes.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// FieldStore is the part of Store that keeps custom fields, mappings and
// directory users. Store embeds it.
type FieldStore interface {
	// CreateCustomField inserts f; ECONFLICT if the name is taken
	// (case-insensitively).
	CreateCustomField(ctx context.Context, f *CustomField) error
	// FindCustomFields returns every custom field ordered by name.
	FindCustomFields(ctx context.Context) ([]*CustomField, error)
	// DeleteCustomField removes the field; ENOTFOUND if none, ECONFLICT
	// (naming the provider and the SCIM path) while a mapping uses it.
	DeleteCustomField(ctx context.Context, name string) error

	// FindMappings returns the provider's stored (optional) mappings in
	// the order they were given.
	FindMappings(ctx context.Context, providerID string) ([]*Mapping, error)
	// ReplaceMappings replaces the provider's optional mappings and, in the
	// same transaction, recomputes the Fields of every user of the provider
	// with derive, writing only the users whose fields changed (without
	// touching their SCIM version or lastModified). It returns how many
	// users changed. Nothing is written if derive or any write fails.
	ReplaceMappings(ctx context.Context, providerID string, mappings []*Mapping, derive func(u *User) (map[string]any, error)) (changed int, err error)

	// FindEntries returns one page of users (with Fields and
	// Groups) across providers, ordered by provider name then creation,
	// and the total that match.
	FindEntries(ctx context.Context, q EntryQuery) ([]*User, int, error)
	// FindEntry returns the user whose SCIM id or Email field
	// (case-insensitively) is key; ENOTFOUND if none, ECONFLICT if the
	// email matches users of several providers.
	FindEntry(ctx context.Context, key string) (*User, error)
}

// LogStore keeps the provisioning log. Store embeds it.
type LogStore interface {
	// RecordRequest appends e (setting e.ID) and, when the provider is
	// known and e.Status < 400, moves its LastSyncAt forward to e.Time;
	// both in one transaction.
	RecordRequest(ctx context.Context, e *LogEntry) error
	// RecordRequests appends entries in one transaction (setting their
	// IDs) and moves each known provider's LastSyncAt forward to its
	// newest entry below 400. An entry whose provider no longer exists is
	// kept without a provider.
	RecordRequests(ctx context.Context, entries []*LogEntry) error
	// FindLog returns matching entries, oldest first, with ProviderName.
	FindLog(ctx context.Context, q LogQuery) ([]*LogEntry, error)
	// PruneLog deletes the entries beyond the limits, the oldest first,
	// and gives the space they held back where the store can. It returns
	// how many it deleted.
	PruneLog(ctx context.Context, l LogLimits) (int, error)
}

// WriteStats are a store's figures of its write transactions since it was
// opened: what the server's metrics report of the store.
type WriteStats struct {
	// Commits counts the write transactions committed; on SQLite each
	// is a group commit of several requests' writes.
	Commits int64
	// Writes counts the writes those transactions held (a request's
	// write is one); Writes/Commits is the group commit's batch size.
	Writes int64
	// CommitTime is the time the committed transactions took, from their
	// start to their commit (the sync included).
	CommitTime time.Duration
	// Queued is how many writes wait for their turn now.
	Queued int
}

// A WriteStatser is a store that counts its writes.
type WriteStatser interface {
	WriteStats() WriteStats
}
