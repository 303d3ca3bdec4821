package directory

import (
	"context"
	"strings"
	"time"
	"unicode"
)

// Built-in directory-user fields: the user fields every KACE Cloud
// directory has.
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
// > Custom Fields > Users in KACE Cloud). Names are unique case-insensitively
// and never clash with a built-in field.
type CustomField struct {
	Name        string
	Description string
	Created     time.Time
}

// ValidateFieldName checks a custom field name: 1 to 64 letters, digits,
// spaces, '-', '_' or '.', starting with a letter, and no built-in name.
func ValidateFieldName(name string) error {
	if name == "" || len(name) > 64 {
		return Errorf(EINVALID, "a field name needs 1 to 64 characters")
	}
	for i, r := range name {
		ok := unicode.IsLetter(r) || (i > 0 && (unicode.IsDigit(r) || strings.ContainsRune(" -_.", r)))
		if !ok {
			return Errorf(EINVALID, "field name %q: use letters, digits, spaces, '-', '_' or '.', starting with a letter", name)
		}
	}
	if strings.HasSuffix(name, " ") {
		return Errorf(EINVALID, "field name %q ends with a space", name)
	}
	if b, ok := IsBuiltinField(name); ok {
		return Errorf(EINVALID, "%s is a built-in field: choose another name", b)
	}
	return nil
}

// AddCustomField defines a custom directory-user field.
func (s *Service) AddCustomField(ctx context.Context, name, description string) (*CustomField, error) {
	name = strings.TrimSpace(name)
	if err := ValidateFieldName(name); err != nil {
		return nil, err
	}
	f := &CustomField{Name: name, Description: strings.TrimSpace(description), Created: s.now()}
	err := s.Store.CreateCustomField(ctx, f)
	s.providerMappers.forget()
	if err != nil {
		return nil, err
	}
	return f, nil
}

// CustomFields lists the custom fields by name.
func (s *Service) CustomFields(ctx context.Context) ([]*CustomField, error) {
	return s.Store.FindCustomFields(ctx)
}

// RemoveCustomField removes a custom field no mapping uses.
func (s *Service) RemoveCustomField(ctx context.Context, name string) error {
	if b, ok := IsBuiltinField(name); ok {
		return Errorf(EINVALID, "%s is a built-in field and cannot be removed", b)
	}
	defer s.providerMappers.forget()
	return s.Store.DeleteCustomField(ctx, strings.TrimSpace(name))
}

// IsBuiltinField reports whether name is a built-in field and returns its
// canonical spelling.
func IsBuiltinField(name string) (string, bool) {
	for _, f := range BuiltinFields {
		if strings.EqualFold(f, name) {
			return f, true
		}
	}
	return "", false
}
