package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

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
	const q = `INSERT INTO custom_fields (name, name_key, description, created) VALUES ($1, $2, $3, $4)`
	_, err := db.exec(ctx, q, f.Name, strings.ToLower(f.Name), f.Description, ms(f.Created))
	return dbError(err, subject{Kind: "custom field", Name: f.Name})
}

// FindCustomFields returns every custom field ordered by name
// (case-insensitively); an empty list, not nil, if there is none.
func (db *DB) FindCustomFields(ctx context.Context) ([]*directory.CustomField, error) {
	const q = `SELECT name, description, created FROM custom_fields ORDER BY name_key`
	rows, err := db.pool.Query(ctx, q)
	if err != nil {
		return nil, dbError(err, subject{})
	}
	fs := []*directory.CustomField{}
	var f directory.CustomField
	_, err = pgx.ForEachRow(rows, []any{&f.Name, &f.Description, &f.Created}, func() error {
		x := f
		x.Created = x.Created.UTC()
		fs = append(fs, &x)
		return nil
	})
	if err != nil {
		return nil, dbError(err, subject{})
	}
	return fs, nil
}

// mappingsOfField finds the mappings that use a field (mappings_field).
const mappingsOfField = `SELECT p.name, m.scim_path, m.field
	FROM mappings m JOIN providers p ON p.id = m.provider_id
	WHERE m.field_key = $1
	ORDER BY p.name_key, m.position`

// DeleteCustomField removes the field named name (case-insensitively);
// ENOTFOUND if there is none, ECONFLICT naming the provider, the mapping
// and the command that removes it while a mapping uses the field. The
// field's row is locked (FOR UPDATE) before the mappings are read, and
// ReplaceMappings locks the fields it maps (FOR SHARE) before it writes
// its mappings, so whichever comes second sees what the first did: a
// mapping can never be left pointing at a removed field.
func (db *DB) DeleteCustomField(ctx context.Context, name string) error {
	const (
		find = `SELECT name FROM custom_fields WHERE name_key = $1 FOR UPDATE`
		del  = `DELETE FROM custom_fields WHERE name_key = $1`
	)
	key := strings.ToLower(name)
	return db.write(ctx, func(tx pgx.Tx) error {
		var stored string
		if err := tx.QueryRow(ctx, find, key).Scan(&stored); err != nil {
			return dbError(err, subject{Kind: "custom field", Name: name})
		}
		rows, err := tx.Query(ctx, mappingsOfField, key)
		if err != nil {
			return dbError(err, subject{})
		}
		type use = record.FieldUse
		var (
			found []use
			u     use
		)
		_, err = pgx.ForEachRow(rows, []any{&u.Provider, &u.Path, &u.Field}, func() error {
			found = append(found, u)
			return nil
		})
		if err != nil {
			return dbError(err, subject{})
		}
		if len(found) > 0 {
			return record.FieldInUse(stored, found)
		}
		_, err = tx.Exec(ctx, del, key)
		return dbError(err, subject{})
	})
}

// providerMappings reads a provider's mappings, and whether the provider
// exists, with one query: no row, no provider; one row of NULLs, no
// mappings.
const providerMappings = `SELECT m.scim_path, m.field
	FROM providers p LEFT JOIN mappings m ON m.provider_id = p.id
	WHERE p.id = $1
	ORDER BY m.position`

// FindMappings returns the provider's stored (optional) mappings in the
// order they were given, an empty list if it has none; ENOTFOUND if there
// is no such provider. It is one indexed read: the SCIM server loads the
// mappings on every write.
func (db *DB) FindMappings(ctx context.Context, providerID string) ([]*directory.Mapping, error) {
	rows, err := db.pool.Query(ctx, providerMappings, providerID)
	if err != nil {
		return nil, dbError(err, subject{})
	}
	var (
		ms          []*directory.Mapping
		path, field *string
	)
	_, err = pgx.ForEachRow(rows, []any{&path, &field}, func() error {
		if ms == nil {
			ms = []*directory.Mapping{} // the provider exists
		}
		if path != nil {
			ms = append(ms, &directory.Mapping{SCIMPath: *path, Field: *field})
		}
		return nil
	})
	if err != nil {
		return nil, dbError(err, subject{})
	}
	if ms == nil {
		return nil, storeerr.NotFound(subject{Kind: "provider", ID: providerID})
	}
	return ms, nil
}

// ReplaceMappings implements directory.FieldStore.ReplaceMappings in one
// transaction, with the SQLite store's rules (record.StoredMappings,
// record.CheckMappedFields, record.SameFields); the fields it checks are
// locked (FOR SHARE), so that a concurrent DeleteCustomField cannot leave
// a dangling mapping. ENOTFOUND if there is no such provider.
//
// The transaction locks the provider's row, so that ReplaceMappings of
// one provider run one at a time, and each chunk of users it derives (FOR
// NO KEY UPDATE), so that no concurrent UpdateUser slips between the read
// of a user and the write of its fields. derive receives each user fully
// loaded (Resource, Fields, Groups), in creation order; it must not write
// to this store (reads are fine). A deadlock makes the whole transaction,
// derive calls included, run again. A nil derive replaces the mappings
// only.
func (db *DB) ReplaceMappings(ctx context.Context, providerID string, mappings []*directory.Mapping, derive func(u *directory.User) (map[string]any, error)) (int, error) {
	stored, err := record.StoredMappings(mappings)
	if err != nil {
		return 0, err
	}
	const (
		provider = `SELECT 1 FROM providers WHERE id = $1 FOR UPDATE`
		clear    = `DELETE FROM mappings WHERE provider_id = $1`
		insert   = `INSERT INTO mappings (provider_id, position, scim_path, field, field_key)
			SELECT $1, m.n - 1, m.p, m.f, m.k FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS m(p, f, k, n)`
	)
	var changed int
	err = db.write(ctx, func(tx pgx.Tx) error {
		changed = 0
		var one int
		if err := tx.QueryRow(ctx, provider, providerID).Scan(&one); err != nil {
			return dbError(err, subject{Kind: "provider", ID: providerID})
		}
		if err := checkMappedFields(ctx, tx, stored); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, clear, providerID); err != nil {
			return dbError(err, subject{})
		}
		if len(stored) > 0 {
			paths, fields, keys := make([]string, len(stored)), make([]string, len(stored)), make([]string, len(stored))
			for i, m := range stored {
				paths[i], fields[i], keys[i] = m.SCIMPath, m.Field, strings.ToLower(m.Field)
			}
			if _, err := tx.Exec(ctx, insert, providerID, paths, fields, keys); err != nil {
				return dbError(err, subject{})
			}
		}
		if derive == nil {
			return nil
		}
		var err error
		changed, err = rederive(ctx, tx, providerID, derive)
		return err
	})
	if err != nil {
		return 0, err
	}
	return changed, nil
}

// checkMappedFields returns EINVALID unless every mapping's field is a
// built-in or an existing custom field, whose row it locks FOR SHARE.
func checkMappedFields(ctx context.Context, tx pgx.Tx, ms []*directory.Mapping) error {
	custom := record.CustomFieldKeys(ms)
	if len(custom) == 0 {
		return nil
	}
	const q = `SELECT name_key FROM custom_fields WHERE name_key = ANY($1) FOR SHARE`
	rows, err := tx.Query(ctx, q, custom)
	if err != nil {
		return dbError(err, subject{})
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return dbError(err, subject{})
	}
	return record.CheckMappedFields(ms, keys)
}

// rederiveNext reads, and locks, the next chunk of a provider's users
// after a seq, with their groups.
const rederiveNext = `SELECT ` + userColumns + ` FROM users r WHERE r.provider_id = $1 AND r.seq > $2 ORDER BY r.seq LIMIT $3
	FOR NO KEY UPDATE OF r`

// rederiveWrite writes the fields of a chunk of users in one statement.
const rederiveWrite = `UPDATE users u SET fields = c.f::jsonb, fields_key = c.k::jsonb, email_key = c.e
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS c(seq, f, k, e) WHERE u.seq = c.seq`

// rederive walks the provider's users in seq order, record.RederiveChunk at a
// time (keyset pagination on users_provider_seq, so each chunk costs the
// same and memory does not grow with the users), and writes the fields
// derive returns where they differ from the stored ones. It returns how
// many users it wrote.
func rederive(ctx context.Context, tx pgx.Tx, providerID string, derive func(u *directory.User) (map[string]any, error)) (int, error) {
	var (
		changed int
		after   int64
	)
	for {
		type row struct {
			u     *directory.User
			seq   int64
			texts []byte
		}
		rows, err := tx.Query(ctx, rederiveNext, providerID, after, record.RederiveChunk)
		if err != nil {
			return 0, dbError(err, subject{})
		}
		chunk, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			u, seq, texts, err := scanUser(r)
			return row{u, seq, texts}, err
		})
		if err != nil {
			return 0, dbError(err, subject{})
		}
		var (
			seqs         []int64
			fields, keys []string
			emails       []*string
		)
		for _, r := range chunk {
			r.u.ProviderID = providerID
			f, err := derive(r.u)
			if err != nil {
				return 0, fmt.Errorf("derive the fields of user %s: %w", r.u.ID, err)
			}
			text, err := record.MarshalFields(f)
			if err != nil {
				return 0, err
			}
			if record.SameFields(text, r.texts) {
				continue
			}
			key, err := fieldsKey(f)
			if err != nil {
				return 0, err
			}
			var email *string
			if e, ok := record.EmailKey(f).(string); ok {
				email = &e
			}
			seqs, fields, keys, emails = append(seqs, r.seq), append(fields, text), append(keys, key), append(emails, email)
		}
		if len(seqs) > 0 {
			if _, err := tx.Exec(ctx, rederiveWrite, seqs, fields, keys, emails); err != nil {
				return 0, dbError(err, subject{})
			}
			changed += len(seqs)
		}
		if len(chunk) < record.RederiveChunk {
			return changed, nil
		}
		after = chunk[len(chunk)-1].seq
	}
}

// directorySelection is the SQL of FindEntries: the query of the
// total, the query of a page (its last two parameters are LIMIT and
// OFFSET) and the arguments both share.
func directorySelection(q directory.EntryQuery) (countQ, pageQ string, args []any) {
	var conds []string
	bind := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.ProviderID != "" {
		conds = append(conds, "r.provider_id = "+bind(q.ProviderID))
	}
	// Nothing but the provider selected: the total is the provider's
	// counter (or the sum of all of them), not a count of the rows.
	counted := q.Disabled == nil && q.Field == "" && q.InGroup == ""
	if q.Disabled != nil {
		conds = append(conds, "r.active = "+bind(!*q.Disabled))
	}
	if q.Field != "" {
		// fields_key maps each lower-cased field name to the lower-cased
		// texts of its values: one containment test.
		conds = append(conds, "r.fields_key @> jsonb_build_object("+bind(strings.ToLower(q.Field))+"::text, jsonb_build_array("+
			bind(strings.ToLower(q.Value))+"::text))")
	}
	if q.InGroup != "" {
		// Driven from the groups of that name and their members, not by a
		// probe per user; a group's members are users of its provider.
		const members = `r.seq IN (SELECT gm.user_seq FROM groups g JOIN group_members gm ON gm.group_seq = g.seq WHERE `
		if q.ProviderID != "" {
			conds = append(conds, members+`g.provider_id = $1 AND g.display_name_key = `+bind(strings.ToLower(q.InGroup))+`)`)
		} else {
			conds = append(conds, members+`g.display_name_key = `+bind(strings.ToLower(q.InGroup))+`)`)
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
		countQ = `SELECT coalesce(sum(synced_users), 0) FROM providers WHERE id = $1`
	default:
		countQ = `SELECT count(*) FROM users r ` + where
	}
	n := len(args)
	pageQ = `SELECT r.provider_id, ` + userColumns + ` FROM users r JOIN providers p ON p.id = r.provider_id ` + where +
		` ORDER BY p.name_key, r.seq LIMIT $` + strconv.Itoa(n+1) + ` OFFSET $` + strconv.Itoa(n+2)
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
		total int64
	)
	err := db.read(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, countQ, args...).Scan(&total); err != nil {
			return dbError(err, subject{})
		}
		if limit == 0 || int64(offset) >= total {
			return nil
		}
		rows, err := tx.Query(ctx, pageQ, append(args, limit, offset)...)
		if err != nil {
			return dbError(err, subject{})
		}
		users, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*directory.User, error) {
			var providerID string
			u, _, _, err := scanUser(row, &providerID)
			if err == nil {
				u.ProviderID = providerID
			}
			return u, err
		})
		return dbError(err, subject{})
	})
	if err != nil {
		return nil, 0, err
	}
	return users, int(total), nil
}

// The lookups of FindEntry, each served by an index of users
// (users_id, users_email_key). A few rows are enough to name the providers
// of a conflict.
const (
	directoryUserByID = `SELECT p.name, r.provider_id, ` + userColumns + ` FROM users r JOIN providers p ON p.id = r.provider_id
		WHERE r.id = $1 ORDER BY p.name_key, r.seq LIMIT 10`
	directoryUserByEmail = `SELECT p.name, r.provider_id, ` + userColumns + ` FROM users r JOIN providers p ON p.id = r.provider_id
		WHERE r.email_key = $1 ORDER BY p.name_key, r.seq LIMIT 10`
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
	}
	find := func(tx pgx.Tx, q string, arg string) ([]match, error) {
		rows, err := tx.Query(ctx, q, arg)
		if err != nil {
			return nil, dbError(err, subject{})
		}
		ms, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (match, error) {
			var m match
			var providerID string
			u, _, _, err := scanUser(row, &m.provider, &providerID)
			if err != nil {
				return m, err
			}
			u.ProviderID = providerID
			m.user = u
			return m, nil
		})
		return ms, dbError(err, subject{})
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
	err := db.read(ctx, func(tx pgx.Tx) error {
		ms, err := find(tx, directoryUserByID, key)
		if err != nil {
			return err
		}
		if len(ms) > 1 {
			return directory.Errorf(directory.ECONFLICT, "the id %q belongs to users of several providers (%s)", key, providers(ms))
		}
		if len(ms) == 0 {
			if ms, err = find(tx, directoryUserByEmail, strings.ToLower(key)); err != nil {
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
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}
