package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/record"
	"github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// This file is directory.FieldStore: custom fields, the providers'
// optional mappings, and the directory users (the users table read across
// providers, with the fields column the mappings fill).

// CreateCustomField inserts f; ECONFLICT if the name is taken
// (case-insensitively).
func (db *DB) CreateCustomField(ctx context.Context, f *directory.CustomField) error {
	const q = `INSERT INTO custom_fields (name, name_key, description, created) VALUES (?, ?, ?, ?)`
	_, err := db.exec(ctx, q, f.Name, strings.ToLower(f.Name), f.Description, toMS(f.Created))
	return dbError(err, subject{Kind: "custom field", Name: f.Name})
}

// FindCustomFields returns every custom field ordered by name
// (case-insensitively); an empty list, not nil, if there is none.
func (db *DB) FindCustomFields(ctx context.Context) ([]*directory.CustomField, error) {
	const q = `SELECT name, description, created FROM custom_fields ORDER BY name_key`
	rows, err := db.reader().QueryContext(ctx, q)
	if err != nil {
		return nil, dbError(err, subject{})
	}
	defer rows.Close()
	fs := []*directory.CustomField{}
	for rows.Next() {
		var (
			f       directory.CustomField
			created int64
		)
		if err := rows.Scan(&f.Name, &f.Description, &created); err != nil {
			return nil, dbError(err, subject{})
		}
		f.Created = fromMS(created)
		fs = append(fs, &f)
	}
	return fs, dbError(rows.Err(), subject{})
}

// mappingsOfField finds the mappings that use a field (mappings_field).
const mappingsOfField = `SELECT p.name, m.scim_path, m.field
	FROM mappings m JOIN providers p ON p.id = m.provider_id
	WHERE m.field_key = ?
	ORDER BY p.name_key, m.position`

// DeleteCustomField removes the field named name (case-insensitively);
// ENOTFOUND if there is none, ECONFLICT naming the provider, the mapping
// and the command that removes it while a mapping uses the field. The
// check and the delete are one transaction, and ReplaceMappings checks its
// fields in its own, so a mapping can never be left pointing at a removed
// field.
func (db *DB) DeleteCustomField(ctx context.Context, name string) error {
	const (
		find = `SELECT name FROM custom_fields WHERE name_key = ?`
		del  = `DELETE FROM custom_fields WHERE name_key = ?`
	)
	key := strings.ToLower(name)
	return db.write(ctx, func(h handle) error {
		var stored string
		if err := h.QueryRowContext(ctx, find, key).Scan(&stored); err != nil {
			return dbError(err, subject{Kind: "custom field", Name: name})
		}
		rows, err := h.QueryContext(ctx, mappingsOfField, key)
		if err != nil {
			return dbError(err, subject{})
		}
		type use = record.FieldUse
		var found []use
		for rows.Next() {
			var u use
			if err := rows.Scan(&u.Provider, &u.Path, &u.Field); err != nil {
				rows.Close()
				return dbError(err, subject{})
			}
			found = append(found, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbError(err, subject{})
		}
		if len(found) > 0 {
			return record.FieldInUse(stored, found)
		}
		_, err = h.ExecContext(ctx, del, key)
		return dbError(err, subject{})
	})
}

// providerMappings reads a provider's mappings, and whether the provider
// exists, with one query: no row, no provider; one row of NULLs, no
// mappings.
const providerMappings = `SELECT m.scim_path, m.field
	FROM providers p LEFT JOIN mappings m ON m.provider_id = p.id
	WHERE p.id = ?
	ORDER BY m.position`

// FindMappings returns the provider's stored (optional) mappings in the
// order they were given, an empty list if it has none; ENOTFOUND if there
// is no such provider. It is one indexed read: the SCIM server loads the
// mappings on every write.
func (db *DB) FindMappings(ctx context.Context, providerID string) ([]*directory.Mapping, error) {
	rows, err := db.reader().QueryContext(ctx, providerMappings, providerID)
	if err != nil {
		return nil, dbError(err, subject{})
	}
	defer rows.Close()
	var ms []*directory.Mapping
	for rows.Next() {
		var path, field sql.NullString
		if err := rows.Scan(&path, &field); err != nil {
			return nil, dbError(err, subject{})
		}
		if ms == nil {
			ms = []*directory.Mapping{} // the provider exists
		}
		if path.Valid {
			ms = append(ms, &directory.Mapping{SCIMPath: path.String, Field: field.String})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, subject{})
	}
	if ms == nil {
		return nil, storeerr.NotFound(subject{Kind: "provider", ID: providerID})
	}
	return ms, nil
}

// ReplaceMappings implements directory.FieldStore.ReplaceMappings in one
// write transaction. The mappings it stores are record.StoredMappings';
// each must name a built-in field or a custom field that exists, checked
// inside the transaction (EINVALID otherwise), so that a concurrent
// DeleteCustomField cannot leave a dangling mapping. ENOTFOUND if there is
// no such provider. Fields compare as JSON values (record.SameFields).
//
// derive receives each user fully loaded (Resource, Fields, Groups), in
// creation order. It runs while the transaction holds the database's only
// writer: it must not write to this store (reads are fine). A nil derive
// replaces the mappings only.
func (db *DB) ReplaceMappings(ctx context.Context, providerID string, mappings []*directory.Mapping, derive func(u *directory.User) (map[string]any, error)) (int, error) {
	stored, err := record.StoredMappings(mappings)
	if err != nil {
		return 0, err
	}
	const (
		provider = `SELECT 1 FROM providers WHERE id = ?`
		clear    = `DELETE FROM mappings WHERE provider_id = ?`
		insert   = `INSERT INTO mappings (provider_id, position, scim_path, field, field_key) VALUES (?, ?, ?, ?, ?)`
	)
	var changed int
	err = db.write(ctx, func(h handle) error {
		changed = 0
		var one int
		if err := h.QueryRowContext(ctx, provider, providerID).Scan(&one); err != nil {
			return dbError(err, subject{Kind: "provider", ID: providerID})
		}
		if err := checkMappedFields(ctx, h, stored); err != nil {
			return err
		}
		if _, err := h.ExecContext(ctx, clear, providerID); err != nil {
			return dbError(err, subject{})
		}
		for i, m := range stored {
			if _, err := h.ExecContext(ctx, insert, providerID, i, m.SCIMPath, m.Field, strings.ToLower(m.Field)); err != nil {
				return dbError(err, subject{})
			}
		}
		if derive == nil {
			return nil
		}
		var err error
		changed, err = rederive(ctx, h, providerID, derive)
		return err
	})
	if err != nil {
		return 0, err
	}
	return changed, nil
}

// checkMappedFields returns EINVALID unless every mapping's field is a
// built-in or an existing custom field.
func checkMappedFields(ctx context.Context, h handle, ms []*directory.Mapping) error {
	custom := record.CustomFieldKeys(ms)
	if len(custom) == 0 {
		return nil
	}
	list, err := json.Marshal(custom)
	if err != nil {
		return dbError(err, subject{})
	}
	const q = `SELECT name_key FROM custom_fields WHERE name_key IN (SELECT value FROM json_each(?))`
	rows, err := h.QueryContext(ctx, q, string(list))
	if err != nil {
		return dbError(err, subject{})
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			return dbError(err, subject{})
		}
		keys = append(keys, key)
	}
	if err := rows.Err(); err != nil {
		return dbError(err, subject{})
	}
	return record.CheckMappedFields(ms, keys)
}

// rederiveNext reads the next chunk of a provider's users after a seq.
const rederiveNext = `SELECT ` + userColumns + ` FROM users WHERE provider_id = ? AND seq > ? ORDER BY seq LIMIT ?`

// rederive walks the provider's users in seq order, record.RederiveChunk at a
// time (keyset pagination on the users_provider_seq index, so each chunk
// costs the same), and writes the fields derive returns where they
// differ from the stored ones. It returns how many users it wrote.
func rederive(ctx context.Context, h handle, providerID string, derive func(u *directory.User) (map[string]any, error)) (int, error) {
	const set = `UPDATE users SET fields = ?, email_key = ? WHERE seq = ?`
	var (
		changed int
		after   int64
		users   = make([]*directory.User, 0, record.RederiveChunk)
		seqs    = make([]int64, 0, record.RederiveChunk)
		texts   = make([]string, 0, record.RederiveChunk)
	)
	for {
		users, seqs, texts = users[:0], seqs[:0], texts[:0]
		rows, err := h.QueryContext(ctx, rederiveNext, providerID, after, record.RederiveChunk)
		if err != nil {
			return 0, dbError(err, subject{})
		}
		for rows.Next() {
			u, seq, text, err := scanUserRow(rows, false)
			if err != nil {
				rows.Close()
				return 0, dbError(err, subject{})
			}
			u.ProviderID = providerID
			users, seqs, texts = append(users, u), append(seqs, seq), append(texts, text)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, dbError(err, subject{})
		}
		if len(users) == 0 {
			return changed, nil
		}
		groups, err := userGroups(ctx, h, seqs)
		if err != nil {
			return 0, err
		}
		for i, u := range users {
			u.Groups = groups[seqs[i]]
			fields, err := derive(u)
			if err != nil {
				return 0, fmt.Errorf("derive the fields of user %s: %w", u.ID, err)
			}
			text, err := record.MarshalFields(fields)
			if err != nil {
				return 0, err
			}
			if record.SameFields(text, texts[i]) {
				continue
			}
			if _, err := h.ExecContext(ctx, set, text, record.EmailKey(fields), seqs[i]); err != nil {
				return 0, dbError(err, subject{})
			}
			changed++
		}
		if len(users) < record.RederiveChunk {
			return changed, nil
		}
		after = seqs[len(seqs)-1]
	}
}

// fieldText is the text of a directory-user field in a row of
// json_each(u.fields) aliased f, as FindEntries compares it: a
// string as is, a number in its JSON spelling, a boolean as "true" or
// "false", NULL for null.
const fieldText = `CASE f.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL ELSE CAST(f.value AS TEXT) END`

// directorySelection is the SQL of FindEntries: the query of the
// total, the query of a page (its last two parameters are LIMIT and
// OFFSET) and the arguments both share.
func directorySelection(q directory.EntryQuery) (countQ, pageQ string, args []any) {
	var conds []string
	if q.ProviderID != "" {
		conds, args = append(conds, "u.provider_id = ?"), append(args, q.ProviderID)
	}
	// Nothing but the provider selected: the total is the provider's
	// counter (or the sum of all of them), not a count of the rows.
	counted := q.Disabled == nil && q.Field == "" && q.InGroup == ""
	if q.Disabled != nil {
		conds, args = append(conds, "u.active = ?"), append(args, !*q.Disabled)
	}
	if q.Field != "" {
		conds = append(conds, `EXISTS (SELECT 1 FROM json_each(u.fields) f WHERE `+foldFunc+`(f.key) = ? AND `+foldFunc+`(`+fieldText+`) = ?)`)
		args = append(args, strings.ToLower(q.Field), strings.ToLower(q.Value))
	}
	if q.InGroup != "" {
		// Driven from the groups of that name and their members, not by a
		// probe per user; a group's members are users of its provider.
		const members = `u.seq IN (SELECT gm.user_seq FROM groups g JOIN group_members gm ON gm.group_seq = g.seq WHERE `
		if q.ProviderID != "" {
			conds = append(conds, members+`g.provider_id = ? AND g.display_name_key = ?)`)
			args = append(args, q.ProviderID, strings.ToLower(q.InGroup))
		} else {
			conds = append(conds, members+`g.display_name_key = ?)`)
			args = append(args, strings.ToLower(q.InGroup))
		}
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	switch {
	case counted && q.ProviderID == "":
		countQ = `SELECT coalesce(sum(synced_users), 0) FROM providers`
	case counted:
		countQ = `SELECT coalesce(sum(synced_users), 0) FROM providers WHERE id = ?`
	default:
		countQ = `SELECT count(*) FROM users u ` + where
	}
	pageQ = `SELECT ` + userColumnsU + ` FROM users u JOIN providers p ON p.id = u.provider_id ` + where +
		` ORDER BY p.name_key, u.seq LIMIT ? OFFSET ?`
	return countQ, pageQ, args
}

// FindEntries returns one page of users (with Fields and Groups)
// across providers, ordered by provider name then creation, and the total
// that match q. Field and Value match a field (its name and its value
// both case-insensitively; a boolean as "true"/"false", a number as it
// is written in JSON); InGroup matches the members of the groups of that
// displayName, whatever their provider.
func (db *DB) FindEntries(ctx context.Context, q directory.EntryQuery) ([]*directory.User, int, error) {
	countQ, pageQ, args := directorySelection(q)
	limit, offset := sqlfilter.Page(q.StartIndex, q.Count)

	var (
		users []*directory.User
		total int
	)
	err := db.read(ctx, func(h handle) error {
		if err := h.QueryRowContext(ctx, countQ, args...).Scan(&total); err != nil {
			return dbError(err, subject{})
		}
		if limit == 0 || offset >= total {
			return nil
		}
		rows, err := h.QueryContext(ctx, pageQ, append(args, limit, offset)...)
		if err != nil {
			return dbError(err, subject{})
		}
		users, err = readUsers(ctx, h, rows, func(rows *sql.Rows) (*directory.User, int64, error) {
			var providerID string
			u, seq, _, err := scanUserRow(rows, false, &providerID)
			if err == nil {
				u.ProviderID = providerID
			}
			return u, seq, err
		})
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return users, total, nil
}

// The lookups of FindEntry, each served by an index of users
// (users_id, users_email_key). A few rows are enough to name the providers
// of a conflict.
var (
	directoryUserByID = `SELECT p.name, ` + userColumnsU + ` FROM users u JOIN providers p ON p.id = u.provider_id
		WHERE u.id = ? ORDER BY p.name_key, u.seq LIMIT 10`
	directoryUserByEmail = `SELECT p.name, ` + userColumnsU + ` FROM users u JOIN providers p ON p.id = u.provider_id
		WHERE u.email_key = ? ORDER BY p.name_key, u.seq LIMIT 10`
)

// FindEntry returns the user (with Fields and Groups) whose SCIM
// id is key, whatever its provider, or else the one whose Email field is
// key case-insensitively. ENOTFOUND if there is none; ECONFLICT, naming
// the providers, if the id or the email belongs to users of several
// providers.
func (db *DB) FindEntry(ctx context.Context, key string) (*directory.User, error) {
	if key == "" {
		return nil, directory.Errorf(directory.ENOTFOUND, "no directory user has an empty id or email")
	}
	type match struct {
		provider string
		user     *directory.User
		seq      int64
	}
	find := func(h handle, q string, arg string) ([]match, error) {
		rows, err := h.QueryContext(ctx, q, arg)
		if err != nil {
			return nil, dbError(err, subject{})
		}
		defer rows.Close()
		var ms []match
		for rows.Next() {
			var m match
			var providerID string
			m.user, m.seq, _, err = scanUserRow(rows, false, &m.provider, &providerID)
			if err != nil {
				return nil, dbError(err, subject{})
			}
			m.user.ProviderID = providerID
			ms = append(ms, m)
		}
		return ms, dbError(rows.Err(), subject{})
	}
	providers := func(ms []match) string {
		var names []string
		for _, m := range ms {
			if !slices.Contains(names, m.provider) {
				names = append(names, m.provider)
			}
		}
		return strings.Join(names, ", ")
	}
	var u *directory.User
	err := db.read(ctx, func(h handle) error {
		ms, err := find(h, directoryUserByID, key)
		if err != nil {
			return err
		}
		if len(ms) > 1 {
			return directory.Errorf(directory.ECONFLICT, "the id %q belongs to users of several providers (%s)", key, providers(ms))
		}
		if len(ms) == 0 {
			if ms, err = find(h, directoryUserByEmail, strings.ToLower(key)); err != nil {
				return err
			}
			switch len(ms) {
			case 0:
				return directory.Errorf(directory.ENOTFOUND, "no directory user has the id or email %q", key)
			case 1:
			default:
				return directory.Errorf(directory.ECONFLICT, "the email %q matches users of several providers (%s): name the user by its id", key, providers(ms))
			}
		}
		u = ms[0].user
		groups, err := userGroups(ctx, h, []int64{ms[0].seq})
		u.Groups = groups[ms[0].seq]
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
