package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	gojson "github.com/goccy/go-json"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/record"
	"github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// userColumns is what scanUser reads, in order.
const userColumns = `seq, id, user_name, external_id, display_name, resource, fields, created, last_modified, version`

// listColumns is userColumns for SCIM lists: a list shows no directory
// fields, so they are neither read nor decoded ('{}').
var listColumns = strings.Replace(userColumns, "fields", "'{}'", 1)

// userColumnsU is userColumns of the users table aliased as u, preceded by
// its provider_id: what queries across providers read.
var userColumnsU = "u.provider_id, u." + strings.ReplaceAll(userColumns, ", ", ", u.")

func scanUser(row scanner, providerID string) (*directory.User, int64, error) {
	return scanListUser(row, providerID, false)
}

// scanListUser is scanUser leaving the resource as its stored JSON
// (User.RawResource) if raw.
func scanListUser(row scanner, providerID string, raw bool) (*directory.User, int64, error) {
	u, seq, _, err := scanUserRow(row, raw)
	if err != nil {
		return nil, 0, err
	}
	u.ProviderID = providerID
	return u, seq, nil
}

// scanUserRow reads the columns pre point to, then userColumns; it also
// returns the stored text of the fields. The caller sets ProviderID.
func scanUserRow(row scanner, raw bool, pre ...any) (*directory.User, int64, string, error) {
	var (
		u                 directory.User
		seq               int64
		resource, fields  string
		created, modified int64
	)
	dest := append(pre, &seq, &u.ID, &u.UserName, &u.ExternalID, &u.DisplayName, &resource, &fields, &created, &modified, &u.Version)
	if err := row.Scan(dest...); err != nil {
		return nil, 0, "", err
	}
	var err error
	if raw {
		u.RawResource = resource
	} else if u.Resource, err = unmarshalResource(resource); err != nil {
		return nil, 0, "", err
	}
	if u.Fields, err = unmarshalResource(fields); err != nil {
		return nil, 0, "", err
	}
	u.Created, u.LastModified = fromMS(created), fromMS(modified)
	return &u, seq, fields, nil
}

// CreateUser inserts u with Version 1 and counts it in the provider's
// SyncedUsers, in one transaction; ECONFLICT if the provider already has the
// userName (case-insensitively), ENOTFOUND if there is no such provider.
func (db *DB) CreateUser(ctx context.Context, u *directory.User) error {
	if err := db.write(ctx, func(h handle) error { return createUser(ctx, h, u) }); err != nil {
		return err
	}
	u.Version = 1
	return nil
}

// createUser is CreateUser inside tx.
func createUser(ctx context.Context, h handle, u *directory.User) error {
	resource, err := record.MarshalResource(u.Resource)
	if err != nil {
		return err
	}
	fields, err := record.MarshalFields(u.Fields)
	if err != nil {
		return err
	}
	const (
		count  = `UPDATE providers SET synced_users = synced_users + 1 WHERE id = ?`
		insert = `INSERT INTO users (provider_id, id, user_name, user_name_key, external_id, display_name, display_name_key,
			active, resource, fields, email_key, created, last_modified, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`
	)
	res, err := h.ExecContext(ctx, count, u.ProviderID)
	if err := mustAffect(res, err, subject{Kind: "provider", ID: u.ProviderID}); err != nil {
		return err
	}
	_, err = h.ExecContext(ctx, insert, u.ProviderID, u.ID, u.UserName, strings.ToLower(u.UserName),
		u.ExternalID, u.DisplayName, strings.ToLower(u.DisplayName), u.Active(), resource, fields, record.EmailKey(u.Fields),
		toMS(u.Created), toMS(u.LastModified))
	return dbError(err, subject{Kind: "user", ID: u.ID, Name: u.UserName})
}

// pageFromMarkQuery is pageFromMark's: the page's seqs from the
// (provider_id, seq) index alone, then its rows (a deferred join, as
// sqlfilter's PageBySeq).
var pageFromMarkQuery = `SELECT ` + listColumns + ` FROM users WHERE seq IN (SELECT seq FROM users WHERE provider_id = ? AND seq > ?
	ORDER BY seq LIMIT ? OFFSET ?) ORDER BY seq`

// FindUserByID returns the provider's user with its Groups; ENOTFOUND if
// none.
func (db *DB) FindUserByID(ctx context.Context, providerID, id string) (*directory.User, error) {
	const q = `SELECT ` + userColumns + ` FROM users WHERE provider_id = ? AND id = ?`
	var u *directory.User
	err := db.read(ctx, func(h handle) error {
		var (
			seq int64
			err error
		)
		u, seq, err = scanUser(h.QueryRowContext(ctx, q, providerID, id), providerID)
		if err != nil {
			return dbError(err, subject{Kind: "user", ID: id})
		}
		groups, err := userGroups(ctx, h, []int64{seq})
		u.Groups = groups[seq]
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// FindUsers returns one page of the provider's users in creation order,
// or in the order of q.SortBy (sqlfilter), with their Groups, and the number
// of users that match q.Filter. The total of an unfiltered query is the
// provider's SyncedUsers counter, not a count of the rows.
func (db *DB) FindUsers(ctx context.Context, providerID string, q directory.Query) ([]*directory.User, int, error) {
	sel, err := sqlfilter.Select(dialect{}, db.users.With(q.Extensions), db.users, providerID, q)
	if err != nil {
		return nil, 0, err
	}

	var (
		users []*directory.User
		total int
	)
	err = db.read(ctx, func(h handle) error {
		var err error
		if q.Filter == nil {
			var gen int64
			err = h.QueryRowContext(ctx, `SELECT synced_users, users_gen FROM providers WHERE id = ?`, providerID).Scan(&total, &gen)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // no provider, no users
			}
			if err == nil && q.SortBy == "" {
				if sel.Limit == 0 || sel.Offset >= total {
					return nil
				}
				users, err = db.pageFromMark(ctx, h, providerID, gen, sel.Limit, sel.Offset, q.RawResources)
				return err
			}
		} else {
			err = h.QueryRowContext(ctx, sel.Count(), sel.WhereArgs()...).Scan(&total)
		}
		if err != nil || sel.Limit == 0 || sel.Offset >= total {
			return dbError(err, subject{})
		}

		rows, err := h.QueryContext(ctx, sel.PageBySeq(listColumns), sel.PageBySeqArgs()...)
		if err != nil {
			return dbError(err, subject{})
		}
		users, err = readUsers(ctx, h, rows, func(rows *sql.Rows) (*directory.User, int64, error) {
			return scanListUser(rows, providerID, q.RawResources)
		})
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return users, total, nil
}

// pageFromMark reads the page of limit users from offset of the
// provider's users in creation order, from the nearest mark below offset
// (pages.go), and marks where it starts and ends.
func (db *DB) pageFromMark(ctx context.Context, h handle, providerID string, gen int64, limit, offset int, raw bool) ([]*directory.User, error) {
	markOffset, after := db.pages.from(providerID, gen, offset)
	rows, err := h.QueryContext(ctx, pageFromMarkQuery, providerID, after, limit, offset-markOffset)
	if err != nil {
		return nil, dbError(err, subject{})
	}
	var first, last int64
	users, err := readUsers(ctx, h, rows, func(rows *sql.Rows) (*directory.User, int64, error) {
		u, seq, err := scanListUser(rows, providerID, raw)
		if first == 0 {
			first = seq
		}
		last = seq
		return u, seq, err
	})
	if err == nil && len(users) > 0 {
		// Where the page ends, for the next one, and where it starts,
		// for the same page again.
		db.pages.mark(providerID, gen, offset+len(users), last)
		db.pages.mark(providerID, gen, offset, first-1)
	}
	return users, err
}

// readUsers reads the users of a page with scan, then the groups of all of
// them in one query, and closes rows.
func readUsers(ctx context.Context, h handle, rows *sql.Rows, scan func(*sql.Rows) (*directory.User, int64, error)) ([]*directory.User, error) {
	defer rows.Close()
	var (
		users []*directory.User
		seqs  []int64
	)
	for rows.Next() {
		u, seq, err := scan(rows)
		if err != nil {
			return nil, dbError(err, subject{})
		}
		users = append(users, u)
		seqs = append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, subject{})
	}
	rows.Close()
	groups, err := userGroups(ctx, h, seqs)
	for i, u := range users {
		u.Groups = groups[seqs[i]]
	}
	return users, err
}

// userGroups returns the groups of the users with the given seqs, each
// list ordered by group displayName, in one query.
func userGroups(ctx context.Context, h handle, seqs []int64) (map[int64][]directory.GroupRef, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	const q = `SELECT gm.user_seq, g.id, g.display_name
		FROM group_members gm JOIN groups g ON g.seq = gm.group_seq
		WHERE gm.user_seq IN (SELECT value FROM json_each(?))
		ORDER BY gm.user_seq, g.display_name_key, g.id`
	rows, err := h.QueryContext(ctx, q, intList(seqs))
	if err != nil {
		return nil, dbError(err, subject{})
	}
	defer rows.Close()
	groups := map[int64][]directory.GroupRef{}
	for rows.Next() {
		var (
			seq int64
			ref directory.GroupRef
		)
		if err := rows.Scan(&seq, &ref.ID, &ref.DisplayName); err != nil {
			return nil, dbError(err, subject{})
		}
		groups[seq] = append(groups[seq], ref)
	}
	return groups, dbError(rows.Err(), subject{})
}

// UpdateUser replaces the user if its stored Version still equals
// u.Version, then increments u.Version; ESTALE if it changed, ENOTFOUND if
// the user is gone, ECONFLICT on a taken userName. Created is kept; Fields
// are written in the same statement as the resource.
func (db *DB) UpdateUser(ctx context.Context, u *directory.User) error {
	resource, err := record.MarshalResource(u.Resource)
	if err != nil {
		return err
	}
	fields, err := record.MarshalFields(u.Fields)
	if err != nil {
		return err
	}
	const (
		update = `UPDATE users SET user_name = ?, user_name_key = ?, external_id = ?, display_name = ?, display_name_key = ?,
			active = ?, resource = ?, fields = ?, email_key = ?, last_modified = ?, version = version + 1
			WHERE provider_id = ? AND id = ? AND version = ?`
		current = `SELECT version FROM users WHERE provider_id = ? AND id = ?`
	)
	s := subject{Kind: "user", ID: u.ID, Name: u.UserName}
	err = db.write(ctx, func(h handle) error {
		res, err := h.ExecContext(ctx, update, u.UserName, strings.ToLower(u.UserName), u.ExternalID,
			u.DisplayName, strings.ToLower(u.DisplayName), u.Active(), resource, fields, record.EmailKey(u.Fields), toMS(u.LastModified),
			u.ProviderID, u.ID, u.Version)
		if err != nil {
			return dbError(err, s)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return dbError(err, s)
		}
		var v int64
		if err := h.QueryRowContext(ctx, current, u.ProviderID, u.ID).Scan(&v); err != nil {
			return dbError(err, s)
		}
		return storeerr.Stale(s, v, u.Version)
	})
	if err != nil {
		return err
	}
	u.Version++
	return nil
}

// DeleteUser removes the user and its memberships and uncounts it from
// SyncedUsers, in one transaction; ENOTFOUND if none. With ifVersion, only
// if the user's version is still that: ESTALE otherwise, nothing removed.
func (db *DB) DeleteUser(ctx context.Context, providerID, id string, ifVersion ...int64) error {
	const (
		del   = `DELETE FROM users WHERE provider_id = ? AND id = ?`
		count = `UPDATE providers SET synced_users = synced_users - 1, users_gen = users_gen + 1 WHERE id = ?`
	)
	s := subject{Kind: "user", ID: id}
	return db.write(ctx, func(h handle) error {
		if err := checkVersion(ctx, h, "users", providerID, s, record.ExpectedVersion(ifVersion)); err != nil {
			return err
		}
		res, err := h.ExecContext(ctx, del, providerID, id)
		if err := mustAffect(res, err, s); err != nil {
			return err
		}
		_, err = h.ExecContext(ctx, count, providerID)
		return dbError(err, subject{})
	})
}

// checkVersion is, inside a write transaction (which no other writer can
// enter until it ends), ESTALE unless the provider's row s.ID of table
// ("users" or "groups") has version v, and ENOTFOUND if there is no such
// row. v == 0 asks for no check.
func checkVersion(ctx context.Context, h handle, table, providerID string, s subject, v int64) error {
	if v == 0 {
		return nil
	}
	var stored int64
	err := h.QueryRowContext(ctx, "SELECT version FROM "+table+" WHERE provider_id = ? AND id = ?", providerID, s.ID).Scan(&stored)
	if err != nil {
		return dbError(err, s)
	}
	if stored != v {
		return storeerr.Stale(s, stored, v)
	}
	return nil
}

// unmarshalResource reads a stored resource document (or fields).
func unmarshalResource(s string) (map[string]any, error) {
	m := map[string]any{}
	// The store wrote s: goccy/go-json decodes it as encoding/json does
	// (float64 numbers), at a fraction of the cost, which is most of a
	// list page's.
	if err := gojson.UnmarshalNoEscape([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// intList is the JSON array of ns, bound as one parameter and expanded
// with json_each: one statement for any number of values.
func intList(ns []int64) string {
	b := make([]byte, 0, 1+len(ns)*8)
	b = append(b, '[')
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	return string(append(b, ']'))
}
