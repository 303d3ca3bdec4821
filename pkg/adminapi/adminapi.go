// Package adminapi holds the wire types of kacescim's JSON admin API
// (/admin/v1), shared by the server that serves it and the client the CLI
// uses, so that the two cannot drift apart.
//
// The API manages what an administrator manages: providers and their
// security keys, custom fields, each provider's mappings (with the
// suggested ones and a preview), the directory users and the provisioning
// log. Requests carry the admin token as a bearer token; `kacescim serve`
// keeps it in the TokenFile of its data directory unless it is given one.
// Every error answer is an ErrorBody, {"error":{"code":…,"message":…}},
// whose code is a directory error code that the client keeps.
package adminapi

import (
	"encoding/json"
	"fmt"
	"time"
)

// Prefix is the path under which the admin API is served.
const Prefix = "/admin/v1"

// TokenFile is the name of the admin token file in the data directory.
const TokenFile = "admin-token"

// Provider is a provider as the admin sees it. The security keys
// themselves are never part of it; only their last four characters.
type Provider struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Enabled   bool   `json:"enabled"`
	HasKey    bool   `json:"hasKey"`
	KeyMasked string `json:"keyMasked,omitempty"` // the current key, e.g. "kcs_…a1B2"; empty while there is none
	// Keys are every key the provider holds, oldest first (at most two
	// authenticate at once: the current one and one in a rotation's grace
	// period).
	Keys []Key `json:"keys"`
	// ClientID is the provider's OAuth client ID ("" until it has a
	// client secret); TokenURL is the token endpoint that trades it and a
	// secret for an access token (Microsoft Entra ID's OAuth 2.0 client
	// credentials grant).
	ClientID string `json:"clientId,omitempty"`
	TokenURL string `json:"tokenUrl"`
	// JWTIssuer is the issuer whose JWTs the provider takes (workload
	// identity federation); "" when it takes none.
	JWTIssuer   string     `json:"jwtIssuer,omitempty"`
	SCIMURL     string     `json:"scimUrl"`
	Strict      bool       `json:"strict"`    // RFC 7644 only: Microsoft Entra ID's dialect is refused (400)
	RateLimit   float64    `json:"rateLimit"` // SCIM requests per second before 429; 0: no limit
	SyncedUsers int64      `json:"syncedUsers"`
	LastSyncAt  *time.Time `json:"lastSyncAt"` // null until the first successful SCIM request
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
}

// Key is one security key of a provider, masked.
type Key struct {
	ID     string `json:"id"`     // what DELETE /providers/{name}/keys/{id} names
	Masked string `json:"masked"` // e.g. "kcs_••••••••a1B2"
	// State is "active", "grace" (a rotation replaced it; it works until
	// ExpiresAt) or "expired" (refused with 401).
	State      string     `json:"state"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`            // null: never
	ReplacedAt *time.Time `json:"replacedAt,omitempty"` // when a rotation replaced it
	// LastUsedAt is the newest request it authenticated (coarse: as the
	// provisioning log writes its batches); null if never.
	LastUsedAt *time.Time `json:"lastUsedAt"`
}

// OAuthClient is a provider's OAuth client as the admin sees it: the
// secrets masked.
type OAuthClient struct {
	Provider string   `json:"provider"`
	ClientID string   `json:"clientId"`
	TokenURL string   `json:"tokenUrl"`
	SCIMURL  string   `json:"scimUrl"` // Entra's Tenant URL
	Secrets  []Secret `json:"secrets"`
}

// Secret is one client secret, masked.
type Secret struct {
	ID         string     `json:"id"`
	Masked     string     `json:"masked"`
	State      string     `json:"state"` // "active" or "expired"
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  time.Time  `json:"expiresAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"` // when it last got an access token
}

// NewSecretRequest is the (optional) body of POST
// /admin/v1/providers/{name}/oauth/secrets: ExpiresInSeconds is the
// secret's lifetime (default a year, at most three).
type NewSecretRequest struct {
	ExpiresInSeconds int64 `json:"expiresInSeconds,omitempty"`
}

// NewSecretResponse answers it: Secret is the one time the secret
// appears.
type NewSecretResponse struct {
	Client OAuthClient `json:"client"`
	Secret string      `json:"secret"`
}

// Federation is a provider's trust in the JWTs an identity provider signs
// itself (workload identity federation, RFC 7523): the body of PUT and the
// answer of GET /admin/v1/providers/{name}/federation. Exactly one of
// JWKSURL and JWKS is set.
type Federation struct {
	Issuer    string          `json:"issuer"`
	Audience  string          `json:"audience"`
	Subject   string          `json:"subject,omitempty"`
	JWKSURL   string          `json:"jwksUrl,omitempty"`
	JWKS      json.RawMessage `json:"jwks,omitempty"`
	UpdatedAt time.Time       `json:"updatedAt,omitzero"`
}

// KeyList is the body of GET /admin/v1/providers/{name}/keys.
type KeyList struct {
	Keys []Key `json:"keys"`
}

// CreateProviderRequest is the body of POST /admin/v1/providers. Strict
// and RateLimit are as in Provider; left out, the provider accepts Entra
// ID's dialect and has no rate limit. KeyExpiresInSeconds makes the key
// of an enabled provider expire (0: never).
type CreateProviderRequest struct {
	Name                string  `json:"name"`
	Enabled             bool    `json:"enabled"`
	Strict              bool    `json:"strict,omitempty"`
	RateLimit           float64 `json:"rateLimit,omitempty"`
	KeyExpiresInSeconds int64   `json:"keyExpiresInSeconds,omitempty"`
}

// NewKeyRequest is the (optional) body of POST
// /admin/v1/providers/{name}/rotate-key and /enable. GraceSeconds is how
// long the keys a rotation replaces keep working: absent for the default
// (24 hours), 0 to stop them at once. ExpiresInSeconds makes the new key
// expire (0: never).
type NewKeyRequest struct {
	GraceSeconds     *int64 `json:"graceSeconds,omitempty"`
	ExpiresInSeconds int64  `json:"expiresInSeconds,omitempty"`
}

// UpdateProviderRequest is the body of PATCH /admin/v1/providers/{name},
// answered with the Provider. Only the fields present change, so they are
// pointers: false and 0 are values to set, not absences. At least one must
// be present.
type UpdateProviderRequest struct {
	Strict    *bool    `json:"strict,omitempty"`
	RateLimit *float64 `json:"rateLimit,omitempty"`
}

// ProviderKeyResponse answers the calls that may generate a key: create,
// enable and rotate-key. Key is set only when a new key was generated, and
// this response is the only place it ever appears.
type ProviderKeyResponse struct {
	Provider Provider `json:"provider"`
	Key      string   `json:"key,omitempty"`
}

// ProviderList is the body of GET /admin/v1/providers.
type ProviderList struct {
	Providers []Provider `json:"providers"`
}

// Error is the body of every admin API error. Code is one of the directory
// error codes ("not_found", "conflict", "invalid", "unauthorized", ...).
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ErrorBody wraps Error on the wire: {"error":{...}}.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Field is a directory-user field: built-in or custom.
type Field struct {
	Name        string     `json:"name"`
	Type        string     `json:"type"` // "builtin" or "custom"
	Description string     `json:"description,omitempty"`
	CreatedAt   *time.Time `json:"createdAt,omitempty"` // custom fields only
}

// FieldList is the body of GET /admin/v1/fields: built-in fields first.
type FieldList struct {
	Fields []Field `json:"fields"`
}

// CreateFieldRequest is the body of POST /admin/v1/fields.
type CreateFieldRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Mapping maps a SCIM attribute path to a directory-user field.
type Mapping struct {
	SCIMPath  string `json:"scimPath"`
	Field     string `json:"field"`
	FieldType string `json:"fieldType,omitempty"` // "builtin" or "custom"; set by the server
	Required  bool   `json:"required,omitempty"`  // required mappings are read-only
}

// MappingList is the body of GET /admin/v1/providers/{name}/mappings (the
// required mappings first) and of GET /admin/v1/mappings/suggested.
type MappingList struct {
	Mappings []Mapping `json:"mappings"`
}

// SetMappingsRequest is the body of PUT /admin/v1/providers/{name}/mappings:
// the complete list of optional mappings (required ones may be included
// unchanged and are ignored).
type SetMappingsRequest struct {
	Mappings []Mapping `json:"mappings"`
}

// MappingsChanged answers every call that changes a provider's mappings:
// the mappings now in force and how many directory users were re-derived
// with a different result.
type MappingsChanged struct {
	Mappings     []Mapping `json:"mappings"`
	ChangedUsers int       `json:"changedUsers"`
}

// Preview is the answer of POST /admin/v1/providers/{name}/mappings/preview,
// whose body is a SCIM User: the directory-user fields it would produce.
// Nothing is written.
type Preview struct {
	Fields map[string]any `json:"fields"`
}

// DirectoryUser is a directory user as the admin sees it.
type DirectoryUser struct {
	Provider string         `json:"provider"`
	ID       string         `json:"id"` // the SCIM id
	Fields   map[string]any `json:"fields"`
	Updated  time.Time      `json:"updated"`
}

// DirectoryUserList is the body of GET /admin/v1/users.
type DirectoryUserList struct {
	Users        []DirectoryUser `json:"users"`
	TotalResults int             `json:"totalResults"`
}

// Limits of GET /admin/v1/logs: limit defaults to the first and may not
// exceed the second.
const (
	DefaultLogLimit = 100
	MaxLogLimit     = 10_000
)

// LogEntry is one SCIM request in the provisioning log. It never holds a
// body, a header or a key.
type LogEntry struct {
	ID         int64     `json:"id"` // increasing: after=ID resumes after it
	Time       time.Time `json:"time"`
	Provider   string    `json:"provider"` // the provider's name; "" when the key matched none
	RequestID  string    `json:"requestId"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`       // path and query, as sent
	ResourceID string    `json:"resourceId"` // the user or group the request named or created
	Status     int       `json:"status"`
	LatencyMs  float64   `json:"latencyMs"`
	Error      string    `json:"error"` // the SCIM error detail of a failed request
	ClientIP   string    `json:"clientIp"`
}

// LogList is the body of GET /admin/v1/logs: the newest entries that
// match, oldest first.
type LogList struct {
	Entries []LogEntry `json:"entries"`
}

// ParseSince reads the since parameter of GET /admin/v1/logs: an RFC 3339
// time, or a duration such as 30m, 1h or 24h meaning that long before now.
// The server applies it with its own clock; the CLI only checks it. Errors
// read after the parameter's name: `since "x" is neither ...`.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2025-03-14T09:00:00Z) nor a duration (30m, 1h, 24h)", s)
	}
	if d < 0 {
		return time.Time{}, fmt.Errorf("%q is a negative duration: 1h means the last hour", s)
	}
	return now.Add(-d), nil
}

// Event is one change of the directory in the change feed (GET
// /admin/v1/events): a directory user created, changed, activated,
// deactivated or deleted, a group created, renamed or deleted, a member
// added to or removed from a group.
type Event struct {
	// Cursor increases in commit order: after=Cursor resumes after it.
	Cursor   int64     `json:"cursor"`
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`     // user.created, group.member_added, ...
	Provider string    `json:"provider"` // its name; "" once it is removed
	// User is the user of user.* and group.member_* events, Group the
	// group of group.* events: as they are after the change (before it,
	// for a deletion).
	User  *EventUser  `json:"user,omitempty"`
	Group *EventGroup `json:"group,omitempty"`
	// Changes are the directory-user fields the event changed (a
	// group's displayName for group.renamed), by name.
	Changes []FieldChange `json:"changes,omitempty"`
}

// EventUser names an event's user.
type EventUser struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
}

// EventGroup names an event's group.
type EventGroup struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// FieldChange is a field's value before and after an event; absent (null)
// where it had or has none.
type FieldChange struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// EventList is the body of GET /admin/v1/events: the events after the
// cursor asked, oldest first. Next is the cursor to ask after next time
// (the last event's, or the one asked when there is none); Last is the
// newest cursor of the whole feed.
type EventList struct {
	Events []Event `json:"events"`
	Next   int64   `json:"next"`
	Last   int64   `json:"last"`
}

// Snapshot is the body of GET /admin/v1/snapshot: the directory users and
// groups (of one provider, or all) as of the feed's cursor Cursor, read in
// one snapshot of the database. A consumer that lost its cursor (410 gone)
// reads it, then follows the feed with after=Cursor.
type Snapshot struct {
	Cursor int64           `json:"cursor"`
	Users  []DirectoryUser `json:"users"`
	Groups []SnapshotGroup `json:"groups"`
}

// SnapshotGroup is a group of a Snapshot with its members.
type SnapshotGroup struct {
	Provider    string      `json:"provider"`
	ID          string      `json:"id"`
	DisplayName string      `json:"displayName"`
	Members     []EventUser `json:"members"`
}

// Webhook is a subscriber of the change feed, without its secret.
type Webhook struct {
	ID       string    `json:"id"`
	URL      string    `json:"url"`
	Provider string    `json:"provider"`         // "" for every provider
	Events   []string  `json:"events,omitempty"` // the event types it gets; none for all
	Format   string    `json:"format"`           // set or json
	Created  time.Time `json:"created"`
	// Delivery: the cursor delivered through, the state (active or
	// dead), the failures since the last success.
	Cursor       int64      `json:"cursor"`
	State        string     `json:"state"`
	Delivered    int64      `json:"delivered"`
	Attempts     int        `json:"attempts"`
	NextAttempt  *time.Time `json:"nextAttempt,omitempty"`
	FailingSince *time.Time `json:"failingSince,omitempty"`
	LastError    string     `json:"lastError,omitempty"`
}

// WebhookList is the body of GET /admin/v1/webhooks.
type WebhookList struct {
	Webhooks []Webhook `json:"webhooks"`
}

// CreateWebhookRequest is the body of POST /admin/v1/webhooks.
type CreateWebhookRequest struct {
	URL      string   `json:"url"`
	Provider string   `json:"provider,omitempty"`
	Events   []string `json:"events,omitempty"`
	Format   string   `json:"format,omitempty"` // set (default) or json
}

// WebhookCreated answers POST /admin/v1/webhooks: the webhook and its
// signing secret, which is never shown again.
type WebhookCreated struct {
	Webhook
	Secret string `json:"secret"`
}

// ReplayRequest is the body of POST /admin/v1/webhooks/{id}/replay: the
// cursor to deliver again after.
type ReplayRequest struct {
	From int64 `json:"from"`
}
