package directory

import (
	"errors"
	"fmt"
)

// Error codes. They survive every layer: the store returns them, the HTTP
// layer maps them to a status (and a SCIM scimType) in one table, and the
// client decodes them back.
const (
	ECONFLICT     = "conflict"     // a uniqueness rule would be broken
	EINTERNAL     = "internal"     // a bug or an unexpected failure
	EINVALID      = "invalid"      // the input is wrong
	ENOTFOUND     = "not_found"    // the thing does not exist
	EUNAUTHORIZED = "unauthorized" // no or a wrong credential
	EFORBIDDEN    = "forbidden"    // a valid credential that may not do this
	ESTALE        = "stale"        // the row changed since it was read (optimistic locking)
	EBADFILTER    = "bad_filter"   // a SCIM filter the store cannot evaluate (unknown attribute, wrong type)
	EPRECONDITION = "precondition" // the client's If-Match names no current version of the resource
	ETOOMANY      = "too_many"     // a filter beyond scim.CheckFilterLimits (too many comparisons, too deep)
	EUNAVAILABLE  = "unavailable"  // the database is away for now (busy, disk full, unreachable, too slow): retry later
	EGONE         = "gone"         // what was asked for existed and no longer does (a pruned feed cursor)
)

// Error is the domain error. Message is safe to show to the caller.
type Error struct {
	Code    string
	Message string
	// Expired marks an EUNAUTHORIZED credential that was valid and has
	// expired (RFC 6750's invalid_token), rather than an unknown one.
	Expired bool
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the code of a wrapped *Error, "" for
// nil, and EINTERNAL for anything else.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the message of a wrapped *Error, or "internal error"
// for anything else so that internal details never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}

// IsExpired reports whether err is a credential that expired.
func IsExpired(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Expired
}
