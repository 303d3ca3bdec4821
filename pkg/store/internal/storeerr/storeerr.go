// Package storeerr holds the errors of the directory.Store contract that
// every backend in pkg/store reports the same way: which row was not
// found, which uniqueness rule a write broke, which version was stale.
// Each backend keeps what only it knows, how to recognise its driver's
// errors (soft-serve's pkg/db/errors.go does the same), and hands the
// rest to this package.
package storeerr

import (
	"context"
	"errors"

	"github.com/kacescim/kacescim/pkg/directory"
)

// Subject names the row a statement reads or writes, for the messages of
// the errors it can cause.
type Subject struct {
	Kind string // "provider", "user", "group" or "custom field"
	ID   string
	Name string // the provider name, userName or group displayName written
}

// Common is the part of translating a driver error that does not depend
// on the driver: nil and *directory.Error pass through, an
// error that is noRows (the driver's "no rows in result set") becomes
// NotFound(s), an ended context passes through. ok is false when err is
// none of these and the driver's own codes must tell what it is.
func Common(err, noRows error, s Subject) (out error, ok bool) {
	if err == nil {
		return nil, true
	}
	var de *directory.Error
	if errors.As(err, &de) {
		return err, true
	}
	if errors.Is(err, noRows) {
		return NotFound(s), true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err, true
	}
	return err, false
}

// NotFound is the ENOTFOUND error for s.
func NotFound(s Subject) error {
	switch {
	case s.Kind == "":
		return directory.Errorf(directory.ENOTFOUND, "not found")
	case s.ID != "":
		return directory.Errorf(directory.ENOTFOUND, "%s %q not found", s.Kind, s.ID)
	case s.Name != "":
		return directory.Errorf(directory.ENOTFOUND, "%s %q not found", s.Kind, s.Name)
	default:
		return directory.Errorf(directory.ENOTFOUND, "%s not found", s.Kind)
	}
}

// Stale is the ESTALE error of an optimistic-locking failure.
func Stale(s Subject, stored, expected int64) error {
	return directory.Errorf(directory.ESTALE, "%s %q was changed by another request (version %d, not %d): read it again",
		s.Kind, s.ID, stored, expected)
}

// Rule is a uniqueness rule of the schema, as a backend recognises it in a
// unique violation (by the constraint's name or its columns).
type Rule int

// The uniqueness rules.
const (
	UnknownRule     Rule = iota
	ProviderName         // providers: name, case-insensitively
	ProviderKey          // providers: the key's hash
	UserName             // users: userName within a provider, case-insensitively
	CustomFieldName      // custom fields: name, case-insensitively
	GroupName            // groups: displayName within a provider, case-insensitively
	ID                   // providers, users, groups: id
)

// Conflict is the ECONFLICT error of writing s against the rule r.
func Conflict(r Rule, s Subject) error {
	switch r {
	case ProviderName:
		return directory.Errorf(directory.ECONFLICT, "a provider named %q already exists", s.Name)
	case ProviderKey:
		return directory.Errorf(directory.ECONFLICT, "the key is already in use by another provider")
	case UserName:
		return directory.Errorf(directory.ECONFLICT, "userName %q is already taken by another user of this provider", s.Name)
	case CustomFieldName:
		return directory.Errorf(directory.ECONFLICT, "a custom field named %q already exists", s.Name)
	case GroupName:
		return directory.Errorf(directory.ECONFLICT, "a group named %q already exists", s.Name)
	case ID:
		return directory.Errorf(directory.ECONFLICT, "a %s with id %q already exists", s.Kind, s.ID)
	}
	return directory.Errorf(directory.ECONFLICT, "a uniqueness rule would be broken")
}
