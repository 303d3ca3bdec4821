package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// subject names the row a statement reads or writes, for the messages of
// the errors it can cause.
type subject struct {
	kind string // "provider", "user", "group" or "custom field"
	id   string
	name string // the provider name, userName or group displayName written
}

// PostgreSQL error codes (SQLSTATE) the store gives a meaning to.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeSerialization       = "40001"
	codeDeadlock            = "40P01"
	codeBadEncoding         = "22021" // character_not_in_repertoire: invalid UTF-8, a NUL in text
	codeUntranslatable      = "22P05" // untranslatable_character: \u0000 in jsonb
)

// dbError turns an error from pgx or the server into the error the Store
// contract promises. It is the one place that knows the driver's errors:
//
//   - nil, *directory.Error and *scim.Error pass through;
//   - pgx.ErrNoRows becomes ENOTFOUND;
//   - a unique violation becomes ECONFLICT with a message naming the value
//     that is taken, told apart by the constraint's name;
//   - a foreign-key violation (the parent is gone) becomes ENOTFOUND for s;
//   - a deadlock or serialization failure stays wrapped (EINTERNAL), so
//     that retry can run the transaction again;
//   - text PostgreSQL cannot store (a NUL character, invalid UTF-8)
//     becomes EINVALID;
//   - a cancelled statement wraps the context error;
//   - anything else is wrapped as is, which directory.ErrorCode reports as
//     EINTERNAL without showing its text to a client.
func dbError(err error, s subject) error {
	if err == nil {
		return nil
	}
	var de *directory.Error
	var se *scim.Error
	if errors.As(err, &de) || errors.As(err, &se) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(s)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return fmt.Errorf("postgres: %w", err)
	}
	switch pe.Code {
	case codeUniqueViolation:
		return conflict(pe, s)
	case codeForeignKeyViolation:
		return notFound(s)
	case codeSerialization, codeDeadlock:
		// Wrapped, not replaced, so that retry still recognises it.
		return fmt.Errorf("postgres: the database is busy, try again: %w", err)
	case codeBadEncoding, codeUntranslatable:
		return directory.Errorf(directory.EINVALID, "the %s holds text the database cannot store (a NUL character or invalid UTF-8)", kindOr(s, "resource"))
	case "57014": // query_canceled: statement_timeout, or the context ended
		return fmt.Errorf("postgres: %w: %v", context.Canceled, err)
	}
	return fmt.Errorf("postgres: %w", err)
}

func kindOr(s subject, def string) string {
	if s.kind != "" {
		return s.kind
	}
	return def
}

// notFound is the ENOTFOUND error for s.
func notFound(s subject) error {
	switch {
	case s.kind == "":
		return directory.Errorf(directory.ENOTFOUND, "not found")
	case s.id != "":
		return directory.Errorf(directory.ENOTFOUND, "%s %q not found", s.kind, s.id)
	case s.name != "":
		return directory.Errorf(directory.ENOTFOUND, "%s %q not found", s.kind, s.name)
	default:
		return directory.Errorf(directory.ENOTFOUND, "%s not found", s.kind)
	}
}

// conflict is the ECONFLICT error for a unique violation, by the name of
// the constraint (migrations/0001_init.sql names them all).
func conflict(err *pgconn.PgError, s subject) error {
	switch err.ConstraintName {
	case "providers_name_unique":
		return directory.Errorf(directory.ECONFLICT, "a provider named %q already exists", s.name)
	case "providers_key_hash_unique":
		return directory.Errorf(directory.ECONFLICT, "the key is already in use by another provider")
	case "users_user_name_unique":
		return directory.Errorf(directory.ECONFLICT, "userName %q is already taken by another user of this provider", s.name)
	case "custom_fields_name_unique":
		return directory.Errorf(directory.ECONFLICT, "a custom field named %q already exists", s.name)
	case "groups_display_name_unique":
		return directory.Errorf(directory.ECONFLICT, "a group named %q already exists", s.name)
	case "providers_pkey", "users_id_unique", "groups_id_unique":
		return directory.Errorf(directory.ECONFLICT, "a %s with id %q already exists", s.kind, s.id)
	}
	return directory.Errorf(directory.ECONFLICT, "a uniqueness rule would be broken")
}

// stale is the ESTALE error of an optimistic-locking failure.
func stale(s subject, stored, expected int64) error {
	return directory.Errorf(directory.ESTALE, "%s %q was changed by another request (version %d, not %d): read it again",
		s.kind, s.id, stored, expected)
}
