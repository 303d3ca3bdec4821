package postgres

import (
	"context"
	"encoding/json"
	"strings"

	gojson "github.com/goccy/go-json"

	"github.com/jackc/pgx/v5"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/record"
	"github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// userGroups is the JSON array of [id, displayName] of the groups of the
// user row r, ordered by displayName: read with the user in the same
// statement, served by group_members_user, so that a page of users and all
// their groups are one query.
const userGroups = `(SELECT coalesce(jsonb_agg(jsonb_build_array(g.id, g.display_name) ORDER BY g.display_name_key, g.id), '[]')
	FROM group_members gm JOIN groups g ON g.seq = gm.group_seq WHERE gm.user_seq = r.seq)`

// userColumns is what scanUser reads, in order, from the users table
// aliased r.
const userColumns = `r.seq, r.id, r.user_name, r.external_id, r.display_name, r.resource, r.fields,
	r.created, r.last_modified, r.version, ` + userGroups

// listColumns is userColumns for SCIM lists: a list shows no directory
// fields, so they are neither read nor decoded.
var listColumns = strings.Replace(userColumns, "r.fields", "'{}'::jsonb", 1)

// scanUser reads the columns pre point to, then userColumns; it also
// returns the user's seq and the stored JSON of its fields. The caller
// sets ProviderID unless pre reads it.
func scanUser(row pgx.Row, pre ...any) (*directory.User, int64, []byte, error) {
	var (
		u                        directory.User
		seq                      int64
		resource, fields, groups []byte
	)
	dest := append(pre, &seq, &u.ID, &u.UserName, &u.ExternalID, &u.DisplayName, &resource, &fields,
		&u.Created, &u.LastModified, &u.Version, &groups)
	if err := row.Scan(dest...); err != nil {
		return nil, 0, nil, err
	}
	var err error
	if u.Resource, err = unmarshalObject(resource); err != nil {
		return nil, 0, nil, err
	}
	if u.Fields, err = unmarshalObject(fields); err != nil {
		return nil, 0, nil, err
	}
	if u.Groups, err = groupRefs(groups); err != nil {
		return nil, 0, nil, err
	}
	u.Created, u.LastModified = u.Created.UTC(), u.LastModified.UTC()
	return &u, seq, fields, nil
}

// groupRefs decodes userGroups.
func groupRefs(b []byte) ([]directory.GroupRef, error) {
	var pairs [][2]string
	if err := json.Unmarshal(b, &pairs); err != nil {
		return nil, err
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	refs := make([]directory.GroupRef, len(pairs))
	for i, p := range pairs {
		refs[i] = directory.GroupRef{ID: p[0], DisplayName: p[1]}
	}
	return refs, nil
}

// userRow is what a user write stores besides the columns of the user
// itself: the documents as JSON text and the keys computed from them.
type userRow struct {
	resource, search, fields, fieldsKey string
	emailKey                            any
}

func newUserRow(u *directory.User) (userRow, error) {
	var (
		r   userRow
		err error
	)
	if r.resource, err = record.MarshalResource(u.Resource); err != nil {
		return r, err
	}
	if r.search, err = record.MarshalResource(foldObject(u.Resource)); err != nil {
		return r, err
	}
	if r.fields, err = record.MarshalFields(u.Fields); err != nil {
		return r, err
	}
	if r.fieldsKey, err = fieldsKey(u.Fields); err != nil {
		return r, err
	}
	r.emailKey = record.EmailKey(u.Fields)
	return r, nil
}

// createUser inserts u and counts it in its provider's SyncedUsers in one
// statement (its own transaction, or the caller's): the counter moves
// only if the row is written. The insert comes first, so the provider row
// is locked only from the count to the commit.
const createUser = `WITH ins AS (
		INSERT INTO users (provider_id, id, id_key, user_name, user_name_key, external_id, display_name, display_name_key,
			active, resource, search, fields, fields_key, email_key, created, last_modified, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1)
		RETURNING provider_id)
	UPDATE providers SET synced_users = synced_users + 1 WHERE id = (SELECT provider_id FROM ins)`

func createUserArgs(u *directory.User, r userRow) []any {
	return []any{u.ProviderID, u.ID, strings.ToLower(u.ID), u.UserName, strings.ToLower(u.UserName), u.ExternalID,
		u.DisplayName, strings.ToLower(u.DisplayName), u.Active(), r.resource, r.search, r.fields, r.fieldsKey, r.emailKey,
		ms(u.Created), ms(u.LastModified)}
}

// CreateUser inserts u with Version 1 and counts it in the provider's
// SyncedUsers, in one transaction; ECONFLICT if the provider already has the
// userName (case-insensitively), ENOTFOUND if there is no such provider.
func (db *DB) CreateUser(ctx context.Context, u *directory.User) error {
	r, err := newUserRow(u)
	if err != nil {
		return err
	}
	if _, err := db.exec(ctx, createUser, createUserArgs(u, r)...); err != nil {
		if isCode(err, codeForeignKeyViolation) {
			return storeerr.NotFound(subject{Kind: "provider", ID: u.ProviderID})
		}
		return dbError(err, subject{Kind: "user", ID: u.ID, Name: u.UserName})
	}
	u.Version = 1
	return nil
}

// FindUserByID returns the provider's user with its Groups; ENOTFOUND if
// none. One statement: the user and its groups come from one snapshot.
func (db *DB) FindUserByID(ctx context.Context, providerID, id string) (*directory.User, error) {
	const q = `SELECT ` + userColumns + ` FROM users r WHERE r.provider_id = $1 AND r.id = $2`
	u, _, _, err := scanUser(db.pool.QueryRow(ctx, q, providerID, id))
	if err != nil {
		return nil, dbError(err, subject{Kind: "user", ID: id})
	}
	u.ProviderID = providerID
	return u, nil
}

// FindUsers returns one page of the provider's users in creation order,
// or in the order of q.SortBy (sqlfilter), with their Groups, and the number
// of users that match q.Filter. The total of an unfiltered query is the
// provider's SyncedUsers counter, not a count of the rows. The page and
// its total are one statement (one snapshot, one round trip); only a page
// past the end, or of no resources, costs a count of its own.
func (db *DB) FindUsers(ctx context.Context, providerID string, q directory.Query) ([]*directory.User, int, error) {
	sel, err := sqlfilter.Select(dialect{}, db.users.With(q.Extensions), db.users, providerID, q)
	if err != nil {
		return nil, 0, err
	}
	// The total of an unfiltered query is the provider's counter.
	count, countArgs := `SELECT coalesce((SELECT synced_users FROM providers WHERE id = $1), 0)`, []any{providerID}
	if q.Filter != nil {
		count, countArgs = sel.Count(), sel.WhereArgs()
	}
	var total int
	if sel.Limit == 0 {
		if err := db.pool.QueryRow(ctx, count, countArgs...).Scan(&total); err != nil {
			return nil, 0, dbError(err, subject{})
		}
		return nil, total, nil
	}
	rows, err := db.pool.Query(ctx, sel.Page("("+count+"), "+listColumns), sel.PageArgs()...)
	if err != nil {
		return nil, 0, dbError(err, subject{})
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*directory.User, error) {
		u, _, _, err := scanUser(row, &total)
		if err == nil {
			u.ProviderID = providerID
		}
		return u, err
	})
	if err != nil {
		return nil, 0, dbError(err, subject{})
	}
	if len(users) == 0 {
		// Past the end: the page cannot tell the total.
		if err := db.pool.QueryRow(ctx, count, countArgs...).Scan(&total); err != nil {
			return nil, 0, dbError(err, subject{})
		}
	}
	return users, total, nil
}

// UpdateUser replaces the user if its stored Version still equals
// u.Version, then increments u.Version; ESTALE if it changed, ENOTFOUND if
// the user is gone, ECONFLICT on a taken userName. Created is kept; Fields
// are written in the same statement as the resource. The version check is
// the UPDATE's own WHERE clause: a concurrent update of the same row makes
// this one wait for it and then find the version changed.
func (db *DB) UpdateUser(ctx context.Context, u *directory.User) error {
	r, err := newUserRow(u)
	if err != nil {
		return err
	}
	const update = `UPDATE users SET user_name = $1, user_name_key = $2, external_id = $3, display_name = $4,
		display_name_key = $5, active = $6, resource = $7, search = $8, fields = $9, fields_key = $10, email_key = $11,
		last_modified = $12, version = version + 1
		WHERE provider_id = $13 AND id = $14 AND version = $15`
	s := subject{Kind: "user", ID: u.ID, Name: u.UserName}
	n, err := db.exec(ctx, update, u.UserName, strings.ToLower(u.UserName), u.ExternalID, u.DisplayName,
		strings.ToLower(u.DisplayName), u.Active(), r.resource, r.search, r.fields, r.fieldsKey, r.emailKey,
		ms(u.LastModified), u.ProviderID, u.ID, u.Version)
	if err != nil {
		return dbError(err, s)
	}
	if n == 0 {
		return db.whyNot(ctx, db.pool, "users", u.ProviderID, s, u.Version)
	}
	u.Version++
	return nil
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// whyNot explains why a write conditional on version v changed no row of
// table: ENOTFOUND if the row is not there, else ESTALE with its version.
func (db *DB) whyNot(ctx context.Context, q querier, table, providerID string, s subject, v int64) error {
	var stored int64
	err := q.QueryRow(ctx, "SELECT version FROM "+table+" WHERE provider_id = $1 AND id = $2", providerID, s.ID).Scan(&stored)
	if err != nil {
		return dbError(err, s)
	}
	return storeerr.Stale(s, stored, v)
}

// DeleteUser removes the user and its memberships (the foreign keys
// cascade) and uncounts it from SyncedUsers, in one statement; ENOTFOUND
// if none. With ifVersion, only if the user's version is still that:
// ESTALE otherwise, nothing removed.
func (db *DB) DeleteUser(ctx context.Context, providerID, id string, ifVersion ...int64) error {
	const del = `WITH del AS (
			DELETE FROM users WHERE provider_id = $1 AND id = $2 AND ($3::bigint = 0 OR version = $3::bigint) RETURNING provider_id)
		UPDATE providers SET synced_users = synced_users - 1 WHERE id = (SELECT provider_id FROM del)`
	s := subject{Kind: "user", ID: id}
	v := record.ExpectedVersion(ifVersion)
	n, err := db.exec(ctx, del, providerID, id, v)
	switch {
	case err != nil:
		return dbError(err, s)
	case n == 1:
		return nil
	case v == 0:
		return storeerr.NotFound(s)
	}
	return db.whyNot(ctx, db.pool, "users", providerID, s, v)
}

// unmarshalObject reads a stored JSON object (resource or fields).
func unmarshalObject(b []byte) (map[string]any, error) {
	m := map[string]any{}
	if len(b) == 0 {
		return m, nil
	}
	// goccy/go-json, as in the SQLite store: the database wrote b, and
	// decoding it is most of a list page's cost.
	if err := gojson.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil { // a stored JSON null
		m = map[string]any{}
	}
	return m, nil
}

// foldObject is a copy of m with every string lower-cased by
// strings.ToLower: the search column, which filters and sorts on
// case-insensitive attributes read so that they fold exactly as the SQLite
// store, scim.Match and the *_key columns do, whatever the server's locale.
// Object keys are kept (attribute names are matched exactly, as in the
// resource).
func foldObject(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		out[k] = foldValue(x)
	}
	return out
}

func foldValue(v any) any {
	switch t := v.(type) {
	case string:
		return strings.ToLower(t)
	case map[string]any:
		return foldObject(t)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = foldValue(x)
		}
		return out
	}
	return v
}

// fieldsKey is the fields_key document of a user with these fields: each
// field name lower-cased, mapping to the list of the texts of the fields
// of that name, lower-cased (a string as is, a boolean as "true" or
// "false", a number as JSON writes it; null fields are left out).
// FindEntries matches a field and value with one containment test
// on it.
func fieldsKey(fields map[string]any) (string, error) {
	if len(fields) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return "", directory.Errorf(directory.EINVALID, "the directory-user fields cannot be stored as JSON: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return "", err
	}
	keys := make(map[string][]string, len(raw))
	for k, v := range raw {
		var text string
		switch {
		case string(v) == "null":
			continue
		case len(v) > 0 && v[0] == '"':
			if err := json.Unmarshal(v, &text); err != nil {
				return "", err
			}
		default:
			text = string(v)
		}
		k = strings.ToLower(k)
		keys[k] = append(keys[k], strings.ToLower(text))
	}
	b, err = json.Marshal(keys)
	return string(b), err
}
