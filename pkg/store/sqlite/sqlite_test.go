package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/scim2/filter-parser/v2"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/durability"
	"github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

func openTemp(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "kacescim.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) directory.Store { return openTemp(t) })
}

func testUser(providerID, userName string) *directory.User {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &directory.User{
		ProviderID: providerID, ID: uuid.NewString(), UserName: userName,
		ExternalID: "ext-" + userName, DisplayName: "User " + userName,
		Resource: map[string]any{"userName": userName, "name": map[string]any{"familyName": userName}},
		Fields: map[string]any{directory.FieldEmail: userName, directory.FieldName: "User " + userName,
			directory.FieldDisabled: false},
		Created: now, LastModified: now,
	}
}

type appliedMigration struct {
	version   int
	appliedAt int64
}

func applied(t *testing.T, db *DB) []appliedMigration {
	t.Helper()
	rows, err := db.r.Query(`SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ms []appliedMigration
	for rows.Next() {
		var m appliedMigration
		if err := rows.Scan(&m.version, &m.appliedAt); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return ms
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kacescim.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	p := storetest.NewProvider(t, db, "okta")
	u := testUser(p.ID, "alice")
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	first := applied(t, db)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(ms) || first[0].version != 1 {
		t.Fatalf("applied %v, want the %d embedded migrations", first, len(ms))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		db, err = Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.FindUserByID(ctx, p.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.UserName != "alice" || got.Version != 1 {
			t.Errorf("after reopen: %+v", got)
		}
		if pp, err := db.FindProviderByID(ctx, p.ID); err != nil || pp.SyncedUsers != 1 {
			t.Errorf("after reopen: provider %+v, %v", pp, err)
		}
		if again := applied(t, db); fmt.Sprint(again) != fmt.Sprint(first) {
			t.Errorf("schema_migrations changed on reopen: %v, was %v", again, first)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrateAppliesOnlyNewVersions(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	// A second version that would fail if it ran twice.
	next := migration{Version: ms[len(ms)-1].Version + 1, Name: "9999_test.sql",
		SQL: `CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (1);`}
	for range 2 {
		if err := migrate(ctx, db.w, append(ms, next)); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.r.QueryRow(`SELECT count(*) FROM extra`).Scan(&n); err != nil || n != 1 {
		t.Errorf("extra has %d rows (%v), want 1", n, err)
	}
	if got := applied(t, db); len(got) != len(ms)+1 {
		t.Errorf("applied %v", got)
	}
	// A database newer than the program is refused.
	if err := migrate(ctx, db.w, ms); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("migrate with fewer versions: %v", err)
	}
	// A failing migration leaves nothing behind.
	bad := migration{Version: next.Version + 1, Name: "bad.sql", SQL: `CREATE TABLE half (x INTEGER); SELECT nosuchfunction();`}
	if err := migrate(ctx, db.w, append(ms, next, bad)); err == nil {
		t.Error("bad migration applied")
	}
	if err := db.r.QueryRow(`SELECT count(*) FROM half`).Scan(&n); err == nil {
		t.Error("table of a failed migration exists")
	}
	if got := applied(t, db); len(got) != len(ms)+1 {
		t.Errorf("applied %v after a failed migration", got)
	}
}

func TestConnectionSettings(t *testing.T) {
	db := openTemp(t)
	check := func(pool *sql.DB, pragma, want string) {
		t.Helper()
		var got string
		if err := pool.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	for _, pool := range []*sql.DB{db.w, db.r} {
		check(pool, "journal_mode", "wal")
		check(pool, "foreign_keys", "1")
		check(pool, "busy_timeout", "5000")
	}
	check(db.w, "synchronous", "2") // FULL, the default durability
	process, err := Open(t.Context(), filepath.Join(t.TempDir(), "process.db"), WithDurability(durability.Process))
	if err != nil {
		t.Fatal(err)
	}
	defer process.Close()
	check(process.w, "synchronous", "1") // NORMAL
	check(db.r, "query_only", "1")
	if _, err := db.r.Exec(`DELETE FROM providers`); err == nil {
		t.Error("a reader connection could write")
	}
}

func TestConcurrentWriters(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kacescim.db")
	// Two handles on one file, as two processes would have: their writers
	// contend for the file lock, not only for the pool's one connection.
	var dbs []*DB
	for range 2 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	p := storetest.NewProvider(t, dbs[0], "p")
	const workers, each = 12, 20
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sw   = storetest.MustParse(t, `userName sw "w"`)
	)
	for w := range workers {
		db := dbs[w%2]
		wg.Go(func() {
			for i := range each {
				u := testUser(p.ID, fmt.Sprintf("w%02d-%02d", w, i))
				err := db.CreateUser(ctx, u)
				if err == nil {
					u.DisplayName = "updated"
					err = db.UpdateUser(ctx, u)
				}
				if err == nil {
					_, _, err = db.FindUsers(ctx, p.ID, directory.Query{Filter: sw, Count: 5})
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	for _, db := range dbs {
		got, err := db.FindProviderByID(ctx, p.ID)
		if err != nil || got.SyncedUsers != workers*each {
			t.Errorf("SyncedUsers = %d (%v), want %d", got.SyncedUsers, err, workers*each)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x?mode=memory&cache=shared"} {
		if db, err := Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
	dir := filepath.Join(t.TempDir(), "no", "such", "dir")
	if db, err := Open(t.Context(), filepath.Join(dir, "x.db")); err == nil {
		db.Close()
		t.Error("Open in a missing directory succeeded")
	} else if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the path", err)
	}
}

func TestKeyHashConflict(t *testing.T) {
	db := openTemp(t)
	a := storetest.NewProvider(t, db, "a")
	b := storetest.NewProvider(t, db, "b")
	a.Keys = []directory.Key{{ID: "ka", Hash: []byte("same"), Hint: "same", Created: time.Now()}}
	if err := db.UpdateProvider(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	b.Keys = []directory.Key{{ID: "kb", Hash: []byte("same"), Hint: "same", Created: time.Now()}}
	err := db.UpdateProvider(t.Context(), b)
	if directory.ErrorCode(err) != directory.ECONFLICT || !strings.Contains(directory.ErrorMessage(err), "key") {
		t.Errorf("got %v, want a key conflict", err)
	}
}

// TestQueryPlans checks that the lookups identity providers make on every
// request are served by an index, not a scan of the table.
func TestQueryPlans(t *testing.T) {
	db := openTemp(t)
	p := storetest.NewProvider(t, db, "p")
	for i := range 50 {
		if err := db.CreateUser(t.Context(), testUser(p.ID, fmt.Sprintf("user%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.w.Exec(`ANALYZE`); err != nil { // plans must hold with statistics too
		t.Fatal(err)
	}
	plan := func(query string, args ...any) string {
		t.Helper()
		rows, err := db.r.Query("EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
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
	cases := []struct {
		schema *sqlfilter.Schema
		filter string
		want   string // the index the plan must search
	}{
		{db.users, `userName eq "user7"`, "(provider_id=? AND user_name_key=?)"},
		{db.users, `externalId eq "ext-user7"`, "users_external_id (provider_id=? AND external_id=?)"},
		{db.users, `id eq "x"`, "(provider_id=? AND id=?)"},
		{db.users, `displayName eq "user user7"`, "users_display_name (provider_id=? AND display_name_key=?)"},
		{db.users, `userName sw "user1"`, "(provider_id=? AND user_name_key>? AND user_name_key<?)"},
		{db.groups, `displayName eq "staff"`, "(provider_id=? AND display_name_key=?)"},
		{db.groups, `externalId eq "x"`, "groups_external_id (provider_id=? AND external_id=?)"},
		{db.groups, `id eq "x"`, "(provider_id=? AND id=?)"},
	}
	for _, tc := range cases {
		sel, err := sqlfilter.Select(dialect{}, tc.schema, tc.schema, p.ID, directory.Query{Filter: storetest.MustParse(t, tc.filter), Count: 10})
		if err != nil {
			t.Fatal(err)
		}
		for q, args := range map[string][]any{
			sel.Page("*"): sel.PageArgs(),
			sel.Count():   sel.WhereArgs(),
		} {
			got := plan(q, args...)
			if strings.Contains(got, "SCAN "+tc.schema.Table) || !strings.Contains(got, tc.want) {
				t.Errorf("%s: plan of %s\n%s\nwant a search %s", tc.filter, q, got, tc.want)
			}
		}
	}
	// The unfiltered page walks the provider's users in seq order without a sort.
	sel, _ := sqlfilter.Select(dialect{}, db.users, db.users, p.ID, directory.Query{Count: 10})
	if got := plan(sel.Page("*"), sel.PageArgs()...); !strings.Contains(got, "users_provider_seq (provider_id=?)") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("unfiltered page plan:\n%s", got)
	}
	// Key hash, membership and member-resolution lookups.
	for _, tc := range []struct {
		query string
		args  []any
		want  string
	}{
		{`SELECT * FROM providers WHERE key_hash = ?`, []any{[]byte("x")}, "USING INDEX sqlite_autoindex_providers_"},
		{`SELECT * FROM group_members WHERE user_seq IN (SELECT value FROM json_each(?))`, []any{"[1]"}, "group_members_user (user_seq=?)"},
		{`SELECT * FROM group_members WHERE group_seq IN (SELECT value FROM json_each(?))`, []any{"[1]"}, "(group_seq=?)"},
		{`SELECT * FROM group_members WHERE group_seq = ? AND user_seq NOT IN (SELECT value FROM json_each(?))`, []any{1, "[1]"}, "(group_seq=?)"},
		{`SELECT id FROM users WHERE provider_id = ? AND id IN (SELECT value FROM json_each(?))`, []any{p.ID, `["x"]`}, "(provider_id=? AND id=?)"},
		{`DELETE FROM users WHERE provider_id = ? AND id = ?`, []any{p.ID, "x"}, "(provider_id=? AND id=?)"},
		{`SELECT count(*) FROM groups WHERE provider_id = ?`, []any{p.ID}, "(provider_id=?)"},
		// ApplyGroupDelta reaches the group, the users and the memberships it
		// names through unique indexes, never the whole member list.
		{deltaTouch, []any{0, p.ID, "x"}, "(provider_id=? AND id=?)"},
		{deltaRename, []any{"x", "x", "x", 0, p.ID, "x"}, "(provider_id=? AND id=?)"},
		{deltaRemove, []any{1, p.ID, `["x"]`}, "(group_seq=? AND user_seq=?)"},
		{deltaRemove, []any{1, p.ID, `["x"]`}, "users USING COVERING INDEX sqlite_autoindex_users_1 (provider_id=? AND id=?)"},
	} {
		got := plan(tc.query, tc.args...)
		if strings.Contains(got, "SCAN users") || strings.Contains(got, "SCAN group_members") ||
			strings.Contains(got, "SCAN providers") || !strings.Contains(got, tc.want) {
			t.Errorf("plan of %s:\n%s\nwant %s", tc.query, got, tc.want)
		}
	}
}

// seedUsers creates n users in one transaction through the store's own
// insert.
func seedUsers(tb testing.TB, db *DB, providerID string, n int) {
	tb.Helper()
	err := db.write(context.Background(), func(h handle) error {
		for i := range n {
			if err := createUser(context.Background(), h, testUser(providerID, fmt.Sprintf("user%07d@example.com", i))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkFindUsersByUserName looks users up by userName, as identity
// providers do before every create: the time per lookup must not grow with
// the number of users.
func BenchmarkFindUsersByUserName(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("users=%dk", n/1000), func(b *testing.B) {
			db := openTemp(b)
			other := storetest.NewProvider(b, db, "other")
			seedUsers(b, db, other.ID, n/10) // another provider's users share the index
			provider := storetest.NewProvider(b, db, "p").ID
			seedUsers(b, db, provider, n)
			var filters []filter.Expression
			for i := range 1024 {
				filters = append(filters, storetest.MustParse(b, fmt.Sprintf(`userName eq "USER%07d@example.com"`, (i*7919)%n)))
			}
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				users, total, err := db.FindUsers(ctx, provider, directory.Query{Filter: filters[i%len(filters)], StartIndex: 1, Count: 1})
				if err != nil || total != 1 || len(users) != 1 {
					b.Fatalf("got %d users, total %d, %v", len(users), total, err)
				}
			}
		})
	}
}

// TestFilesOwnerOnly: the database and its WAL and shared-memory files
// are readable by their owner only, under a permissive umask and for a
// file created world-readable before.
func TestFilesOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.db")
	loose := filepath.Join(dir, "loose.db")
	if err := os.WriteFile(loose, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fresh, "file:" + loose + "?_pragma=busy_timeout(1000)"} {
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		p := storetest.NewProvider(t, db, "p")
		if err := db.CreateUser(t.Context(), testUser(p.ID, "u")); err != nil {
			t.Fatal(err)
		}
		file := strings.TrimPrefix(strings.Split(path, "?")[0], "file:")
		for _, f := range []string{file, file + "-wal", file + "-shm"} {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm&0o077 != 0 {
				t.Errorf("%s is %v, want no group or other permission", filepath.Base(f), perm)
			}
		}
		db.Close()
	}
}
