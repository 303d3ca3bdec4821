package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// subject names the row a statement reads or writes, for the messages of
// the errors it can cause.
type subject = storeerr.Subject

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
//   - nil and *directory.Error pass through;
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
	if out, ok := storeerr.Common(err, pgx.ErrNoRows, s); ok {
		return out
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		if unreachable(err) {
			return directory.Errorf(directory.EUNAVAILABLE, "the database cannot be reached for now; try again")
		}
		return fmt.Errorf("postgres: %w", err)
	}
	if unavailableCode(pe.Code) {
		return directory.Errorf(directory.EUNAVAILABLE, "the database is unavailable for now (%s); try again", pe.Code)
	}
	switch pe.Code {
	case codeUniqueViolation:
		return conflict(pe, s)
	case codeForeignKeyViolation:
		return storeerr.NotFound(s)
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

// unreachable reports whether err, not a server's error, is the
// connection's: refused, reset, closed, timed out, or pgx's "safe to
// retry" (nothing was sent).
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.As(err, &oe) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "closed pool")
}

// unavailable reports whether err is a server's error whose SQLSTATE
// unavailableCode accepts.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && unavailableCode(pe.Code)
}

// unavailableCode reports whether a server's SQLSTATE says it cannot
// serve for now: a connection exception (08), insufficient resources
// (53: disk full, out of memory, too many connections), an operator
// intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
// connect now), an I/O error (58030), or a read-only transaction on a
// standby (25006).
func unavailableCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"):
		return true
	}
	switch code {
	case "57P01", "57P02", "57P03", "58030", "25006":
		return true
	}
	return false
}

func kindOr(s subject, def string) string {
	if s.Kind != "" {
		return s.Kind
	}
	return def
}

// conflict is the ECONFLICT error for a unique violation, by the name of
// the constraint (migrations/0001_init.sql names them all).
func conflict(err *pgconn.PgError, s subject) error {
	return storeerr.Conflict(uniqueRules[err.ConstraintName], s)
}

// uniqueRules is the uniqueness rule of each unique constraint (migrations/0001_init.sql).
var uniqueRules = map[string]storeerr.Rule{
	"providers_name_unique":      storeerr.ProviderName,
	"provider_keys_hash_unique":  storeerr.ProviderKey,
	"provider_keys_pkey":         storeerr.ID,
	"users_user_name_unique":     storeerr.UserName,
	"custom_fields_name_unique":  storeerr.CustomFieldName,
	"groups_display_name_unique": storeerr.GroupName,
	"providers_pkey":             storeerr.ID,
	"users_id_unique":            storeerr.ID,
	"groups_id_unique":           storeerr.ID,
}
