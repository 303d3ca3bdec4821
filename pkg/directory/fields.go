package directory

import (
	"context"
	"time"
)

// Built-in directory-user fields (the brief's "KACE Cloud user fields").
const (
	FieldEmail    = "Email"
	FieldName     = "Name"
	FieldDisabled = "Disabled"
	// FieldGUID is internal: stored, never shown on user details unless asked.
	FieldGUID    = "HeliumKeycloakObjectGuid"
	FieldAddress = "Address"
	FieldCity    = "City"
	FieldState   = "State"
	FieldZip     = "Zip"
	FieldCountry = "Country"
)

// BuiltinFields lists the built-in fields in display order.
var BuiltinFields = []string{FieldEmail, FieldName, FieldDisabled, FieldGUID, FieldAddress, FieldCity, FieldState, FieldZip, FieldCountry}

// CustomField is a directory-user field an administrator defines (Settings
// > Custom Fields > Users in the brief). Names are unique case-insensitively
// and never clash with a built-in field.
type CustomField struct {
	Name        string
	Description string
	Created     time.Time
}

// Mapping maps a SCIM attribute path of a provider's users to a
// directory-user field. Required mappings exist for every provider, are
// not stored, and cannot be changed.
type Mapping struct {
	SCIMPath string
	Field    string
	Required bool
	// Inverted fills a boolean field with the negation of a boolean
	// attribute: the required active → Disabled.
	Inverted bool
}

// DirectoryUser is the directory's record of one SCIM user: its fields as
// the provider's mappings derive them.
type DirectoryUser struct {
	ProviderID   string
	ProviderName string
	UserID       string // the SCIM id
	Fields       map[string]any
	Updated      time.Time
}

// DirectoryQuery selects directory users for the admin.
type DirectoryQuery struct {
	ProviderID string // "" for every provider
	Disabled   *bool  // nil for both
	// Field and Value select users whose field equals value
	// (case-insensitively); Field "" selects all.
	Field, Value string
	// InGroup selects members of the group with this displayName
	// (case-insensitively): how a filter on the Groups field is answered.
	InGroup    string
	StartIndex int // 1-based
	Count      int
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

	// FindDirectoryUsers returns one page of users (with Fields and
	// Groups) across providers, ordered by provider name then creation,
	// and the total that match.
	FindDirectoryUsers(ctx context.Context, q DirectoryQuery) ([]*User, int, error)
	// FindDirectoryUser returns the user whose SCIM id or Email field
	// (case-insensitively) is key; ENOTFOUND if none, ECONFLICT if the
	// email matches users of several providers.
	FindDirectoryUser(ctx context.Context, key string) (*User, error)
}
