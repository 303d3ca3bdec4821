package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// subject names the row a statement reads or writes, for the messages of
// the errors it can cause.
type subject = storeerr.Subject

// dbError turns an error from database/sql or the driver into the error the
// Store contract promises. It is the one place that knows the driver's
// errors:
//
//   - nil and *directory.Error pass through;
//   - sql.ErrNoRows becomes ENOTFOUND;
//   - a UNIQUE (or PRIMARY KEY) constraint violation becomes ECONFLICT with
//     a message naming the value that is taken;
//   - a FOREIGN KEY violation (the parent is gone) becomes ENOTFOUND for s;
//   - SQLITE_BUSY / SQLITE_LOCKED (another process held the database for
//     longer than busy_timeout), SQLITE_FULL (the disk is full),
//     SQLITE_READONLY, SQLITE_IOERR and SQLITE_CANTOPEN become
//     EUNAVAILABLE: the failure is the database's, for now, and the
//     request is safe to retry;
//   - an interrupted statement (its context ended) wraps the context error;
//   - anything else is wrapped as is, which directory.ErrorCode reports as
//     EINTERNAL without showing its text to a client.
func dbError(err error, s subject) error {
	if out, ok := storeerr.Common(err, sql.ErrNoRows, s); ok {
		return out
	}
	var le *sqlite.Error
	if !errors.As(err, &le) {
		return fmt.Errorf("sqlite: %w", err)
	}
	switch code := le.Code(); {
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return conflict(le, s)
	case code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		// A row that references a parent (a provider) that is not there.
		return storeerr.NotFound(s)
	case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED:
		return directory.Errorf(directory.EUNAVAILABLE, "the database is busy (another process holds it); try again")
	case code&0xff == sqlite3.SQLITE_FULL:
		return directory.Errorf(directory.EUNAVAILABLE, "the database's disk is full; try again once space is freed")
	case code&0xff == sqlite3.SQLITE_READONLY, code&0xff == sqlite3.SQLITE_IOERR, code&0xff == sqlite3.SQLITE_CANTOPEN:
		return directory.Errorf(directory.EUNAVAILABLE, "the database cannot be written for now (%s); try again", sqlite.ErrorCodeString[code&0xff])
	case code&0xff == sqlite3.SQLITE_INTERRUPT:
		return fmt.Errorf("sqlite: %w: %v", context.Canceled, err)
	}
	return fmt.Errorf("sqlite: %w", err)
}

// conflict is the ECONFLICT error for a unique constraint violation. SQLite
// reports no constraint name for a UNIQUE column list, only the columns
// ("UNIQUE constraint failed: users.provider_id, users.user_name_key"), so
// after the result code has identified the kind of error the column list
// identifies the rule.
func conflict(err *sqlite.Error, s subject) error {
	msg := err.Error()
	const marker = "constraint failed: "
	cols := ""
	if i := strings.LastIndex(msg, marker); i >= 0 {
		cols = msg[i+len(marker):]
		if j := strings.LastIndex(cols, " ("); j >= 0 {
			cols = cols[:j] // drop the " (2067)" the driver appends
		}
	}
	return storeerr.Conflict(uniqueRules[cols], s)
}

// uniqueRules is the uniqueness rule of each UNIQUE column list SQLite reports.
var uniqueRules = map[string]storeerr.Rule{
	"providers.name_key":                          storeerr.ProviderName,
	"provider_keys.hash":                          storeerr.ProviderKey,
	"provider_keys.id":                            storeerr.ID,
	"users.provider_id, users.user_name_key":      storeerr.UserName,
	"custom_fields.name_key":                      storeerr.CustomFieldName,
	"groups.provider_id, groups.display_name_key": storeerr.GroupName,
	"providers.id":                                storeerr.ID,
	"users.provider_id, users.id":                 storeerr.ID,
	"groups.provider_id, groups.id":               storeerr.ID,
}
