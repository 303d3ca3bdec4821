package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/record"
	"github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"
	"github.com/kacescim/kacescim/pkg/store/internal/storeerr"
)

// groupColumns is what scanGroup reads, in order, from the groups table
// aliased r; the last column is the members (groupMembers) or NULL.
const groupColumns = `r.seq, r.id, r.display_name, r.external_id, r.resource, r.created, r.last_modified, r.version`

// groupMembers is the JSON array of [user id, display] of the members of
// the group row r, in the order they were added.
const groupMembers = `(SELECT coalesce(jsonb_agg(jsonb_build_array(u.id, gm.display) ORDER BY gm.seq), '[]')
	FROM group_members gm JOIN users u ON u.seq = gm.user_seq WHERE gm.group_seq = r.seq)`

// groupSelect is the select list of a group read, with its members or not.
func groupSelect(withMembers bool) string {
	if withMembers {
		return groupColumns + ", " + groupMembers
	}
	return groupColumns + ", NULL::jsonb"
}

// scanGroup reads the columns pre point to, then groupSelect's.
func scanGroup(row pgx.Row, providerID string, pre ...any) (*directory.Group, int64, error) {
	var (
		g                 directory.Group
		seq               int64
		resource, members []byte
	)
	err := row.Scan(append(pre, &seq, &g.ID, &g.DisplayName, &g.ExternalID, &resource, &g.Created, &g.LastModified, &g.Version, &members)...)
	if err != nil {
		return nil, 0, err
	}
	if g.Resource, err = unmarshalObject(resource); err != nil {
		return nil, 0, err
	}
	if members != nil {
		var pairs [][2]string
		if err := json.Unmarshal(members, &pairs); err != nil {
			return nil, 0, err
		}
		for _, p := range pairs {
			g.Members = append(g.Members, directory.Member{Value: p[0], Display: p[1]})
		}
	}
	g.ProviderID = providerID
	g.Created, g.LastModified = g.Created.UTC(), g.LastModified.UTC()
	return &g, seq, nil
}

// resolved is a member list resolved to the user rows it names, as the
// arrays the membership statements bind.
type resolved struct {
	members  []directory.Member
	userSeqs []int64
	displays []string
	keys     []string // displays lower-cased (members.display filters)
}

// resolveMembers maps each member value to the seq of the provider's user
// with that id, in one query, keeping the first of duplicate values;
// EINVALID for a value that is not a user of the provider. The users are
// locked (FOR KEY SHARE) until the transaction ends, so that none can be
// removed before its membership is written.
func resolveMembers(ctx context.Context, tx pgx.Tx, providerID string, ms []directory.Member) (*resolved, error) {
	out := &resolved{}
	if len(ms) == 0 {
		return out, nil
	}
	seen := make(map[string]bool, len(ms))
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		if !seen[m.Value] {
			seen[m.Value] = true
			out.members = append(out.members, m)
			ids = append(ids, m.Value)
		}
	}
	const q = `SELECT id, seq FROM users WHERE provider_id = $1 AND id = ANY($2) FOR KEY SHARE`
	rows, err := tx.Query(ctx, q, providerID, ids)
	if err != nil {
		return nil, dbError(err, subject{})
	}
	seqs := make(map[string]int64, len(ids))
	var (
		id  string
		seq int64
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &seq}, func() error {
		seqs[id] = seq
		return nil
	})
	if err != nil {
		return nil, dbError(err, subject{})
	}
	for _, m := range out.members {
		seq, ok := seqs[m.Value]
		if !ok {
			return nil, directory.Errorf(directory.EINVALID, "member %q is not a user of this provider", m.Value)
		}
		out.userSeqs = append(out.userSeqs, seq)
		out.displays = append(out.displays, m.Display)
		out.keys = append(out.keys, strings.ToLower(m.Display))
	}
	return out, nil
}

// addMembers appends the memberships of the arrays bound second to
// fourth to the group bound first, in array order (a new membership takes
// the next seq, so it ends the member order); a user who is a member
// already keeps its place and gets the new display.
const addMembers = `INSERT INTO group_members (group_seq, user_seq, display, display_key)
	SELECT $1, m.u, m.d, m.k FROM unnest($2::bigint[], $3::text[], $4::text[]) WITH ORDINALITY AS m(u, d, k, n) ORDER BY m.n
	ON CONFLICT (group_seq, user_seq) DO UPDATE SET display = excluded.display, display_key = excluded.display_key
	WHERE group_members.display IS DISTINCT FROM excluded.display`

func (r *resolved) add(ctx context.Context, tx pgx.Tx, groupSeq int64) error {
	if len(r.userSeqs) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, addMembers, groupSeq, r.userSeqs, r.displays, r.keys)
	return dbError(err, subject{})
}

// CreateGroup inserts g with Version 1 and its members in one transaction;
// ECONFLICT if the provider already has the displayName
// (case-insensitively), EINVALID if a member is not a user of the same
// provider, ENOTFOUND if there is no such provider. Duplicate member
// values collapse to the first; g.Members is set to what was stored.
func (db *DB) CreateGroup(ctx context.Context, g *directory.Group) error {
	resource, err := record.MarshalResource(g.Resource)
	if err != nil {
		return err
	}
	const (
		provider = `SELECT 1 FROM providers WHERE id = $1`
		insert   = `INSERT INTO groups (provider_id, id, id_key, display_name, display_name_key, external_id, resource,
			created, last_modified, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1)
			RETURNING seq`
	)
	var res *resolved
	err = db.write(ctx, func(tx pgx.Tx) error {
		if len(g.Members) > 0 {
			// Not found before invalid members: without members, the
			// foreign key tells.
			var one int
			if err := tx.QueryRow(ctx, provider, g.ProviderID).Scan(&one); err != nil {
				return dbError(err, subject{Kind: "provider", ID: g.ProviderID})
			}
		}
		var err error
		if res, err = resolveMembers(ctx, tx, g.ProviderID, g.Members); err != nil {
			return err
		}
		var groupSeq int64
		err = tx.QueryRow(ctx, insert, g.ProviderID, g.ID, strings.ToLower(g.ID), g.DisplayName, strings.ToLower(g.DisplayName),
			g.ExternalID, resource, ms(g.Created), ms(g.LastModified)).Scan(&groupSeq)
		if err != nil {
			if isCode(err, codeForeignKeyViolation) {
				return storeerr.NotFound(subject{Kind: "provider", ID: g.ProviderID})
			}
			return dbError(err, subject{Kind: "group", ID: g.ID, Name: g.DisplayName})
		}
		return res.add(ctx, tx, groupSeq)
	})
	if err != nil {
		return err
	}
	g.Version = 1
	g.Members = res.members
	return nil
}

// FindGroupByID returns the group, with Members (in the order they were
// added) only if withMembers; ENOTFOUND if none. One statement.
func (db *DB) FindGroupByID(ctx context.Context, providerID, id string, withMembers bool) (*directory.Group, error) {
	q := `SELECT ` + groupSelect(withMembers) + ` FROM groups r WHERE r.provider_id = $1 AND r.id = $2`
	g, _, err := scanGroup(db.pool.QueryRow(ctx, q, providerID, id), providerID)
	if err != nil {
		return nil, dbError(err, subject{Kind: "group", ID: id})
	}
	return g, nil
}

// FindGroups returns one page of the provider's groups in creation order,
// or in the order of q.SortBy (sqlfilter), and the number of groups that
// match q.Filter; Members are filled only if q.WithMembers. The page and
// its total are one statement, as in FindUsers.
func (db *DB) FindGroups(ctx context.Context, providerID string, q directory.Query) ([]*directory.Group, int, error) {
	sel, err := sqlfilter.Select(dialect{}, db.groups, db.groups, providerID, q)
	if err != nil {
		return nil, 0, err
	}
	var total int
	if sel.Limit == 0 {
		if err := db.pool.QueryRow(ctx, sel.Count(), sel.WhereArgs()...).Scan(&total); err != nil {
			return nil, 0, dbError(err, subject{})
		}
		return nil, total, nil
	}
	rows, err := db.pool.Query(ctx, sel.Page("("+sel.Count()+"), "+groupSelect(q.WithMembers)), sel.PageArgs()...)
	if err != nil {
		return nil, 0, dbError(err, subject{})
	}
	groups, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*directory.Group, error) {
		g, _, err := scanGroup(row, providerID, &total)
		return g, err
	})
	if err != nil {
		return nil, 0, dbError(err, subject{})
	}
	if len(groups) == 0 {
		if err := db.pool.QueryRow(ctx, sel.Count(), sel.WhereArgs()...).Scan(&total); err != nil {
			return nil, 0, dbError(err, subject{})
		}
	}
	return groups, total, nil
}

// UpdateGroup replaces the group and its member list if its stored Version
// equals g.Version, then increments g.Version, all in one transaction. The
// member list is changed by difference, without reading it: members no
// longer listed are removed, new ones are appended in the order given,
// kept ones keep their place and get the new display. ESTALE, ENOTFOUND,
// ECONFLICT and EINVALID as for users and CreateGroup; g.Members is set to
// what was stored.
func (db *DB) UpdateGroup(ctx context.Context, g *directory.Group) error {
	resource, err := record.MarshalResource(g.Resource)
	if err != nil {
		return err
	}
	const (
		update = `UPDATE groups SET display_name = $1, display_name_key = $2, external_id = $3, resource = $4,
			last_modified = $5, version = version + 1
			WHERE provider_id = $6 AND id = $7 AND version = $8
			RETURNING seq`
		removeGone = `DELETE FROM group_members WHERE group_seq = $1 AND user_seq <> ALL($2::bigint[])`
	)
	s := subject{Kind: "group", ID: g.ID, Name: g.DisplayName}
	var res *resolved
	err = db.write(ctx, func(tx pgx.Tx) error {
		var err error
		if res, err = resolveMembers(ctx, tx, g.ProviderID, g.Members); err != nil {
			return err
		}
		var groupSeq int64
		err = tx.QueryRow(ctx, update, g.DisplayName, strings.ToLower(g.DisplayName), g.ExternalID, resource,
			ms(g.LastModified), g.ProviderID, g.ID, g.Version).Scan(&groupSeq)
		if errors.Is(err, pgx.ErrNoRows) {
			return db.whyNot(ctx, tx, "groups", g.ProviderID, s, g.Version)
		}
		if err != nil {
			return dbError(err, s)
		}
		keep := res.userSeqs
		if keep == nil {
			keep = []int64{}
		}
		if _, err := tx.Exec(ctx, removeGone, groupSeq, keep); err != nil {
			return dbError(err, subject{})
		}
		return res.add(ctx, tx, groupSeq)
	})
	if err != nil {
		return err
	}
	g.Version++
	g.Members = res.members
	return nil
}

// DeleteGroup removes the group and its memberships; ENOTFOUND if none.
// With ifVersion, only if the group's version is still that: ESTALE
// otherwise, nothing removed. One statement.
func (db *DB) DeleteGroup(ctx context.Context, providerID, id string, ifVersion ...int64) error {
	const q = `DELETE FROM groups WHERE provider_id = $1 AND id = $2 AND ($3::bigint = 0 OR version = $3::bigint)`
	s := subject{Kind: "group", ID: id}
	v := record.ExpectedVersion(ifVersion)
	n, err := db.exec(ctx, q, providerID, id, v)
	switch {
	case err != nil:
		return dbError(err, s)
	case n == 1:
		return nil
	case v == 0:
		return storeerr.NotFound(s)
	}
	return db.whyNot(ctx, db.pool, "groups", providerID, s, v)
}

// The statements of ApplyGroupDelta. Each touches only the rows the delta
// names: the group through UNIQUE (provider_id, id), the members' users
// through UNIQUE (provider_id, id) and their memberships through
// UNIQUE (group_seq, user_seq), so none reads the group's member list.
const (
	// deltaTouch bumps the group (locking its row until the transaction
	// ends, which serialises the deltas of one group) when the delta
	// leaves its name alone; $3 is IfVersion, 0 for none.
	deltaTouch = `UPDATE groups r SET last_modified = $4, version = r.version + 1
		WHERE r.provider_id = $1 AND r.id = $2 AND ($3::bigint = 0 OR r.version = $3::bigint)
		RETURNING ` + groupColumns + `, NULL::jsonb`
	// deltaRename also renames it, in the column, its key and the
	// resource the group is rendered from.
	deltaRename = `UPDATE groups r SET last_modified = $4, version = r.version + 1,
		display_name = $5, display_name_key = $6, resource = jsonb_set(r.resource, '{displayName}', to_jsonb($5::text))
		WHERE r.provider_id = $1 AND r.id = $2 AND ($3::bigint = 0 OR r.version = $3::bigint)
		RETURNING ` + groupColumns + `, NULL::jsonb`
	// deltaRemove removes the memberships of the users whose ids are
	// bound third; ids of no user, or of a user who is no member, match
	// nothing.
	deltaRemove = `DELETE FROM group_members gm USING users u
		WHERE gm.group_seq = $1 AND gm.user_seq = u.seq AND u.provider_id = $2 AND u.id = ANY($3)`
	// deltaAdd is addMembers setting the display of existing members
	// whatever it was.
	deltaAdd = `INSERT INTO group_members (group_seq, user_seq, display, display_key)
		SELECT $1, m.u, m.d, m.k FROM unnest($2::bigint[], $3::text[], $4::text[]) WITH ORDINALITY AS m(u, d, k, n) ORDER BY m.n
		ON CONFLICT (group_seq, user_seq) DO UPDATE SET display = excluded.display, display_key = excluded.display_key`
)

// ApplyGroupDelta applies d to the provider's group id in one transaction
// whose cost grows with the members d names, not with the size of the
// group: it never reads the member list.
//
//   - A non-empty d.DisplayName renames the group (in the resource too);
//     ECONFLICT if another group of the provider has that name
//     (case-insensitively).
//   - d.RemoveMembers are removed; ids that are no member, or no user, are
//     ignored.
//   - d.AddMembers are added at the end of the member order, in the order
//     given, or, for users who are members already, keep their place and
//     get the new display. Duplicate values collapse to the first. Each
//     must be a user of the provider: EINVALID naming the first that is
//     not, and nothing is written.
//   - Removals apply before additions, so a user both removed and added by
//     d ends up a member, at the end of the member order.
//
// LastModified is set to d.LastModified and Version incremented, even for
// a delta that changes nothing else. It returns the group as stored,
// without Members; ENOTFOUND if the provider has no such group, ESTALE
// (and nothing written) if d.IfVersion is set and the group's Version is
// no longer that, checked by the UPDATE that locks the group row.
func (db *DB) ApplyGroupDelta(ctx context.Context, providerID, id string, d directory.GroupDelta) (*directory.Group, error) {
	s := subject{Kind: "group", ID: id, Name: d.DisplayName}
	var g *directory.Group
	err := db.write(ctx, func(tx pgx.Tx) error {
		var row pgx.Row
		if d.DisplayName == "" {
			row = tx.QueryRow(ctx, deltaTouch, providerID, id, d.IfVersion, ms(d.LastModified))
		} else {
			row = tx.QueryRow(ctx, deltaRename, providerID, id, d.IfVersion, ms(d.LastModified), d.DisplayName,
				strings.ToLower(d.DisplayName))
		}
		var (
			groupSeq int64
			err      error
		)
		g, groupSeq, err = scanGroup(row, providerID)
		switch {
		case errors.Is(err, pgx.ErrNoRows) && d.IfVersion != 0:
			return db.whyNot(ctx, tx, "groups", providerID, subject{Kind: "group", ID: id}, d.IfVersion)
		case err != nil:
			return dbError(err, s)
		}
		added, err := resolveMembers(ctx, tx, providerID, d.AddMembers)
		if err != nil {
			return err
		}
		if len(d.RemoveMembers) > 0 {
			if _, err := tx.Exec(ctx, deltaRemove, groupSeq, providerID, d.RemoveMembers); err != nil {
				return dbError(err, subject{})
			}
		}
		if len(added.userSeqs) > 0 {
			if _, err := tx.Exec(ctx, deltaAdd, groupSeq, added.userSeqs, added.displays, added.keys); err != nil {
				return dbError(err, subject{})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// isCode reports whether err is a PostgreSQL error with the SQLSTATE code.
func isCode(err error, code string) bool {
	var pe interface{ SQLState() string }
	return errors.As(err, &pe) && pe.SQLState() == code
}
