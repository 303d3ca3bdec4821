package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/durability"
	"github.com/kacescim/kacescim/pkg/store/internal/record"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// explain is the query plan of query, one line per step.
func explain(t testing.TB, db *DB, query string) string {
	t.Helper()
	args := make([]any, strings.Count(query, "?"))
	for i := range args {
		args[i] = "x"
	}
	rows, err := db.r.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	return strings.Join(lines, "\n")
}

// TestFieldQueryPlans checks that the directory-user lookups, the checks
// of DeleteCustomField and the walk of ReplaceMappings are served by
// indexes.
func TestFieldQueryPlans(t *testing.T) {
	db := openTemp(t)
	p := storetest.NewProvider(t, db, "p")
	seedUsers(t, db, storetest.NewProvider(t, db, "q").ID, 100)
	seedUsers(t, db, p.ID, 200)
	if _, err := db.w.Exec(`ANALYZE`); err != nil {
		t.Fatal(err)
	}
	yes := true
	page := func(q directory.EntryQuery) string { _, pq, _ := directorySelection(q); return pq }
	count := func(q directory.EntryQuery) string { cq, _, _ := directorySelection(q); return cq }
	for _, tc := range []struct {
		name, query string
		want        []string // steps the plan must have
		noSort      bool     // and no sort of the result
	}{
		{"user by id", directoryUserByID, []string{"users_id (id=?)"}, false},
		{"user by email", directoryUserByEmail, []string{"users_email_key (email_key=?)"}, false},
		{"mappings of a field", mappingsOfField, []string{"mappings_field (field_key=?)"}, false},
		{"provider mappings", providerMappings, []string{"(provider_id=?)"}, true},
		{"rederive chunk", rederiveNext, []string{"users_provider_seq (provider_id=? AND seq>?)"}, true},
		{"rederive write", `UPDATE users SET fields = ?, email_key = ? WHERE seq = ?`, []string{"INTEGER PRIMARY KEY (rowid=?)"}, true},
		{"directory page", page(directory.EntryQuery{}), []string{"users_provider_seq (provider_id=?)"}, true},
		{"directory page of a provider", page(directory.EntryQuery{ProviderID: "x"}), []string{"users_provider_seq (provider_id=?)"}, true},
		{"directory total of a provider", count(directory.EntryQuery{ProviderID: "x"}), []string{"providers"}, true},
		{"members of a group", page(directory.EntryQuery{InGroup: "x"}), []string{"INTEGER PRIMARY KEY (rowid=?)", "(group_seq=?)"}, false},
		{"members of a group: total", count(directory.EntryQuery{InGroup: "x"}), []string{"INTEGER PRIMARY KEY (rowid=?)", "(group_seq=?)"}, false},
		{"members of a provider's group", page(directory.EntryQuery{ProviderID: "x", InGroup: "x", Disabled: &yes}),
			[]string{"(provider_id=? AND display_name_key=?)", "(group_seq=?)"}, true},
	} {
		got := explain(t, db, tc.query)
		bad := strings.Contains(got, "SCAN users") || strings.Contains(got, "SCAN u\n") || strings.HasSuffix(got, "SCAN u") ||
			strings.Contains(got, "SCAN mappings") || strings.Contains(got, "SCAN m\n") || strings.Contains(got, "SCAN g\n") ||
			(tc.noSort && strings.Contains(got, "TEMP B-TREE"))
		for _, w := range tc.want {
			bad = bad || !strings.Contains(got, w)
		}
		if bad {
			t.Errorf("%s: plan of %s\n%s\nwant %q without a scan (sort allowed: %v)", tc.name, tc.query, got, tc.want, !tc.noSort)
		}
	}
}

func TestReplaceMappingsChunks(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	p := storetest.NewProvider(t, db, "p")
	other := storetest.NewProvider(t, db, "other")
	// The provider's users are not contiguous in seq order.
	seedUsers(t, db, p.ID, 600)
	seedUsers(t, db, other.ID, 100)
	err := db.write(ctx, func(h handle) error {
		for i := 600; i < 1234; i++ {
			if err := createUser(ctx, h, testUser(p.ID, fmt.Sprintf("user%07d@example.com", i))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Members on both sides of the chunk boundaries.
	members := map[int]bool{0: true, record.RederiveChunk - 1: true, record.RederiveChunk: true, 2 * record.RederiveChunk: true, 1233: true}
	var ids []string
	for i := range 1234 {
		users, _, err := db.FindUsers(ctx, p.ID, directory.Query{Filter: storetest.MustParse(t, fmt.Sprintf(`userName eq "user%07d@example.com"`, i)), Count: 1})
		if err != nil || len(users) != 1 {
			t.Fatal(users, err)
		}
		ids = append(ids, users[0].ID)
	}
	g := &directory.Group{ProviderID: p.ID, ID: "g1", DisplayName: "staff", Created: time.Now(), LastModified: time.Now()}
	for i := range members {
		g.Members = append(g.Members, directory.Member{Value: ids[i]})
	}
	if err := db.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCustomField(ctx, &directory.CustomField{Name: "Department", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}

	var seen []string
	n, err := db.ReplaceMappings(ctx, p.ID, []*directory.Mapping{{SCIMPath: "title", Field: "Department"}}, func(u *directory.User) (map[string]any, error) {
		i := len(seen)
		seen = append(seen, u.ID)
		if u.ProviderID != p.ID || u.UserName != fmt.Sprintf("user%07d@example.com", i) {
			t.Errorf("call %d: %s of %s", i, u.UserName, u.ProviderID)
		}
		if got := len(u.Groups); got != map[bool]int{true: 1}[members[i]] {
			t.Errorf("call %d: groups %v", i, u.Groups)
		}
		f := maps.Clone(u.Fields)
		if i%3 == 0 {
			f["Department"] = "d"
		}
		return f, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1234 || n != 412 {
		t.Errorf("derive called %d times, %d changed; want 1234 and 412", len(seen), n)
	}
	got, err := db.FindUserByID(ctx, p.ID, ids[1233])
	if err != nil || got.Fields["Department"] != "d" || got.Version != 1 {
		t.Errorf("last user: %+v, %v", got, err)
	}
}

func TestReplaceMappingsDerivePanics(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	p := storetest.NewProvider(t, db, "p")
	seedUsers(t, db, p.ID, 3)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller")
			}
		}()
		calls := 0
		db.ReplaceMappings(ctx, p.ID, []*directory.Mapping{{SCIMPath: "title", Field: directory.FieldCity}}, func(u *directory.User) (map[string]any, error) {
			if calls++; calls == 2 {
				panic("derive bug")
			}
			return map[string]any{"x": 1}, nil
		})
	}()
	// The writer connection was released and nothing was written.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.CreateUser(wctx, testUser(p.ID, "after")); err != nil {
		t.Fatalf("write after a panic: %v", err)
	}
	if ms, err := db.FindMappings(ctx, p.ID); err != nil || len(ms) != 0 {
		t.Errorf("mappings after a panic: %v, %v", ms, err)
	}
	users, _, err := db.FindEntries(ctx, directory.EntryQuery{Field: "x", Value: "1", Count: 10})
	if err != nil || len(users) != 0 {
		t.Errorf("users written by a panicking derive: %d, %v", len(users), err)
	}
}

// TestReplaceMappingsChecksFields covers what this store adds to the
// contract: a mapping's field must exist when the mappings are written
// (checked in the same transaction as DeleteCustomField's check),
// required mappings are not stored, and FindMappings knows providers.
func TestReplaceMappingsChecksFields(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	p := storetest.NewProvider(t, db, "p")
	keep := func(u *directory.User) (map[string]any, error) { return u.Fields, nil }
	if err := db.CreateCustomField(ctx, &directory.CustomField{Name: "Cost Center", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ms := []*directory.Mapping{
		{SCIMPath: "userName", Field: directory.FieldEmail, Required: true},
		{SCIMPath: "addresses[type eq \"work\"].locality", Field: "city"},
		{SCIMPath: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", Field: "cost center"},
	}
	if _, err := db.ReplaceMappings(ctx, p.ID, ms, keep); err != nil {
		t.Fatal(err)
	}
	got, err := db.FindMappings(ctx, p.ID)
	if err != nil || len(got) != 2 || got[0].Field != "city" || got[1].Field != "cost center" || got[0].Required {
		t.Errorf("FindMappings = %v, %v; want the two optional mappings", got, err)
	}

	if err := db.DeleteCustomField(ctx, "COST CENTER"); directory.ErrorCode(err) != directory.ECONFLICT ||
		!strings.Contains(directory.ErrorMessage(err), `--provider p --field "Cost Center"`) {
		t.Errorf("delete of a used field: %v", err)
	}
	if _, err := db.ReplaceMappings(ctx, p.ID, nil, keep); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteCustomField(ctx, "cost center"); err != nil {
		t.Fatal(err)
	}
	_, err = db.ReplaceMappings(ctx, p.ID, ms, keep)
	if directory.ErrorCode(err) != directory.EINVALID || !strings.Contains(directory.ErrorMessage(err), `kacescim fields add "cost center"`) {
		t.Errorf("mapping to a removed field: %v", err)
	}
	_, err = db.ReplaceMappings(ctx, p.ID, []*directory.Mapping{{SCIMPath: "title", Field: " "}}, keep)
	if directory.ErrorCode(err) != directory.EINVALID {
		t.Errorf("mapping without a field: %v", err)
	}
	if got, err := db.FindMappings(ctx, p.ID); err != nil || len(got) != 0 {
		t.Errorf("FindMappings after failed replaces = %v, %v", got, err)
	}
	if _, err := db.FindMappings(ctx, "no-such-provider"); directory.ErrorCode(err) != directory.ENOTFOUND {
		t.Errorf("FindMappings of no provider: %v", err)
	}
	// A nil derive replaces the mappings only.
	if n, err := db.ReplaceMappings(ctx, p.ID, ms[1:2], nil); err != nil || n != 0 {
		t.Errorf("nil derive: %d, %v", n, err)
	}
}

// TestMigrateFields opens a database written by the 0001 schema: its users
// get empty fields, and are found by id at once and by email once
// re-derived.
func TestMigrateFields(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	old := sql.OpenDB(connector{drv: &sqlite.Driver{}, dsn: dsn(path, writer, durability.Full)})
	if err := migrate(ctx, old, ms[:1]); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO providers (id, name, name_key, enabled, created, updated, synced_users) VALUES ('p1', 'Okta', 'okta', 1, 0, 0, 1)`,
		`INSERT INTO users (provider_id, id, user_name, user_name_key, active, resource, created, last_modified, version)
			VALUES ('p1', 'u1', 'Alice@Example.com', 'alice@example.com', 1, '{"userName":"Alice@Example.com"}', 0, 0, 3)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.FindEntry(ctx, "u1")
	if err != nil || u.Fields == nil || len(u.Fields) != 0 || u.UserName != "Alice@Example.com" {
		t.Fatalf("old user: %+v, %v", u, err)
	}
	if _, err := db.FindEntry(ctx, "alice@example.com"); directory.ErrorCode(err) != directory.ENOTFOUND {
		t.Errorf("by email before re-deriving: %v", err)
	}
	n, err := db.ReplaceMappings(ctx, "p1", nil, func(u *directory.User) (map[string]any, error) {
		return map[string]any{directory.FieldEmail: u.UserName}, nil
	})
	if err != nil || n != 1 {
		t.Fatalf("re-derive: %d, %v", n, err)
	}
	if u, err := db.FindEntry(ctx, "ALICE@example.com"); err != nil || u.ID != "u1" || u.Version != 3 {
		t.Errorf("by email after re-deriving: %+v, %v", u, err)
	}
}

// BenchmarkReplaceMappings re-derives every user of a provider, as
// `kacescim mappings edit` does: the time per user must not grow with the
// number of users. "changed" writes every user on every run (the mapping
// alternates between two spellings); "unchanged" only reads and compares.
func BenchmarkReplaceMappings(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		for _, mode := range []string{"changed", "unchanged"} {
			b.Run(fmt.Sprintf("users=%dk/%s", n/1000, mode), func(b *testing.B) {
				ctx := context.Background()
				db := openTemp(b)
				p := storetest.NewProvider(b, db, "p")
				seedUsers(b, db, p.ID, n)
				if err := db.CreateCustomField(ctx, &directory.CustomField{Name: "Department", Created: time.Now()}); err != nil {
					b.Fatal(err)
				}
				mappings := []*directory.Mapping{{SCIMPath: "name.familyName", Field: "Department"}}
				run := 0
				derive := func(u *directory.User) (map[string]any, error) {
					f := maps.Clone(u.Fields)
					family, _ := u.Resource["name"].(map[string]any)["familyName"].(string)
					if mode == "changed" && run%2 == 1 {
						family = strings.ToUpper(family)
					}
					f["Department"] = family
					return f, nil
				}
				if _, err := db.ReplaceMappings(ctx, p.ID, mappings, derive); err != nil {
					b.Fatal(err)
				}
				want := map[string]int{"changed": n, "unchanged": 0}[mode]
				b.ReportAllocs()
				for b.Loop() {
					run++
					changed, err := db.ReplaceMappings(ctx, p.ID, mappings, derive)
					if err != nil || changed != want {
						b.Fatalf("changed %d, %v; want %d", changed, err, want)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/user")
			})
		}
	}
}

// TestMigrateKeys opens a database written before providers had several
// keys (0007): the provider's one key becomes its only key, found by the
// same hash, and the old column is emptied.
func TestMigrateKeys(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	old := sql.OpenDB(connector{drv: &sqlite.Driver{}, dsn: dsn(path, writer, durability.Full)})
	if err := migrate(ctx, old, ms[:7]); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO providers (id, name, name_key, enabled, key_hash, key_hint, created, updated) VALUES ('p1', 'Okta', 'okta', 1, X'0102', 'a1B2', 0, 5000)`,
		`INSERT INTO providers (id, name, name_key, enabled, created, updated) VALUES ('p2', 'Entra', 'entra', 0, 0, 0)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := db.FindProviderByKeyHash(ctx, []byte{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "p1" || len(p.Keys) != 1 || p.Keys[0].Hint != "a1B2" || !p.Keys[0].Created.Equal(time.UnixMilli(5000)) ||
		!p.Keys[0].Expires.IsZero() || len(p.Keys[0].ID) != 9 {
		t.Errorf("migrated provider: %+v", p)
	}
	if p2, err := db.FindProviderByID(ctx, "p2"); err != nil || p2.HasKey() {
		t.Errorf("provider without a key: %+v, %v", p2, err)
	}
	var left int
	if err := db.w.QueryRowContext(ctx, `SELECT count(*) FROM providers WHERE key_hash IS NOT NULL OR key_hint != ''`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d providers keep the old key column (%v)", left, err)
	}
}
