package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// testServer is the PostgreSQL server of one test: the one
// KACESCIM_TEST_POSTGRES names (storetest.PostgresDSN), each store in a
// throw-away schema of its own.
type testServer struct{ dsn string }

// newTestServer skips tb, saying how to run it, when
// KACESCIM_TEST_POSTGRES is not set.
func newTestServer(tb testing.TB) *testServer {
	tb.Helper()
	dsn := os.Getenv(storetest.PostgresEnv)
	if dsn == "" {
		storetest.PostgresDSN(tb) // skips, with the message
	}
	return &testServer{dsn: dsn}
}

// schema creates an empty schema that is dropped, with all it holds, when
// tb ends, and returns the DSN of a connection whose search_path is it.
func (s *testServer) schema(tb testing.TB) string { return storetest.PostgresDSN(tb) }

// open opens a store on dsn, closed when tb ends.
func open(tb testing.TB, dsn string) *DB {
	tb.Helper()
	db, err := Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// openTemp opens a store in a new schema of its own.
func (s *testServer) openTemp(tb testing.TB) *DB { return open(tb, s.schema(tb)) }

func TestStore(t *testing.T) {
	srv := newTestServer(t)
	storetest.Run(t, func(t *testing.T) directory.Store { return srv.openTemp(t) })
}

func testUser(providerID, userName string) *directory.User {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &directory.User{
		ProviderID: providerID, ID: uuid.NewString(), UserName: userName,
		Resource: map[string]any{"userName": userName, "name": map[string]any{"familyName": userName}},
		Fields:   map[string]any{directory.FieldEmail: userName},
		Created:  now, LastModified: now,
	}
}

// TestReplicas: two stores on the same schema, as two kacescim replicas
// on one database, see each other's writes at once, and concurrent
// conflicting updates through both never lose one: each update either
// applies on the version it read or fails ESTALE, so the final version
// counts the successes exactly.
func TestReplicas(t *testing.T) {
	srv := newTestServer(t)
	dsn := srv.schema(t)
	a, b := open(t, dsn), open(t, dsn)
	c := t.Context()

	p := storetest.NewProvider(t, a, "okta")
	if got, err := b.FindProviderByName(c, "OKTA"); err != nil || got.ID != p.ID {
		t.Fatalf("replica b: %v, %v", got, err)
	}
	u := testUser(p.ID, "alice")
	if err := b.CreateUser(c, u); err != nil {
		t.Fatal(err)
	}
	if got, err := a.FindUserByID(c, p.ID, u.ID); err != nil || got.UserName != "alice" {
		t.Fatalf("replica a: %v, %v", got, err)
	}
	if err := a.CreateUser(c, testUser(p.ID, "ALICE")); directory.ErrorCode(err) != directory.ECONFLICT {
		t.Fatalf("the same userName through the other replica: %v", err)
	}

	const workers, rounds = 8, 25
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		successes int
		stales    int
	)
	for w := range workers {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Go(func() {
			for i := range rounds {
				got, err := db.FindUserByID(c, p.ID, u.ID)
				if err != nil {
					t.Error(err)
					return
				}
				got.DisplayName = fmt.Sprintf("w%d-%d", w, i)
				got.Resource["displayName"] = got.DisplayName
				err = db.UpdateUser(c, got)
				mu.Lock()
				switch directory.ErrorCode(err) {
				case "":
					successes++
				case directory.ESTALE:
					stales++
				default:
					t.Errorf("update: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got, err := b.FindUserByID(c, p.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != int64(1+successes) {
		t.Errorf("version %d after %d successful updates (and %d stale): an update was lost", got.Version, successes, stales)
	}
	if successes == 0 || successes+stales != workers*rounds {
		t.Errorf("%d successes, %d stale of %d", successes, stales, workers*rounds)
	}
	t.Logf("%d updates applied, %d refused as stale", successes, stales)

	// Concurrent group deltas through both replicas all apply.
	users := []*directory.User{u}
	for i := range 20 {
		x := testUser(p.ID, fmt.Sprintf("user%d", i))
		if err := a.CreateUser(c, x); err != nil {
			t.Fatal(err)
		}
		users = append(users, x)
	}
	g := &directory.Group{ProviderID: p.ID, ID: uuid.NewString(), DisplayName: "team", Resource: map[string]any{}, Created: time.Now(), LastModified: time.Now()}
	if err := a.CreateGroup(c, g); err != nil {
		t.Fatal(err)
	}
	for i, x := range users {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Go(func() {
			_, err := db.ApplyGroupDelta(c, p.ID, g.ID, directory.GroupDelta{AddMembers: []directory.Member{{Value: x.ID}}, LastModified: time.Now()})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got2, err := b.FindGroupByID(c, p.ID, g.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got2.Members) != len(users) || got2.Version != int64(1+len(users)) {
		t.Errorf("after %d concurrent deltas: %d members, version %d", len(users), len(got2.Members), got2.Version)
	}
}

// TestConcurrentOpenMigratesOnce: replicas opening an empty schema at the
// same time all succeed, and each migration is applied once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	srv := newTestServer(t)
	dsn := srv.schema(t)
	const replicas = 6
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	dbs := make([]*DB, replicas)
	for i := range replicas {
		wg.Go(func() { dbs[i], errs[i] = Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		} else {
			t.Cleanup(func() { dbs[i].Close() })
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.FailNow()
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := dbs[0].pool.Query(t.Context(), `SELECT version, count(*) OVER () FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for rows.Next() {
		var v, n int
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(got) != len(ms) {
		t.Fatalf("schema_migrations = %v, want one row per migration (%d)", got, len(ms))
	}
	for i, m := range ms {
		if got[i] != m.Version {
			t.Errorf("schema_migrations = %v", got)
		}
	}
	// Reopening applies nothing and works.
	open(t, dsn)
	p := storetest.NewProvider(t, dbs[1], "p")
	if _, err := dbs[replicas-1].FindProviderByID(t.Context(), p.ID); err != nil {
		t.Error(err)
	}
}

// TestOpenErrors: a bad DSN, or one whose search_path names no schema,
// fails Open.
func TestOpenErrors(t *testing.T) {
	srv := newTestServer(t)
	if _, err := Open(t.Context(), "postgres://%zz"); err == nil {
		t.Error("Open of a malformed URL succeeded")
	}
	u, _ := url.Parse(srv.dsn)
	q := u.Query()
	q.Set("search_path", "k_no_such_schema")
	u.RawQuery = q.Encode()
	if db, err := Open(t.Context(), u.String()); err == nil {
		db.Close()
		t.Error("Open with a missing schema succeeded")
	}
}

// TestKeyHashConflict: two providers cannot share a key.
func TestKeyHashConflict(t *testing.T) {
	srv := newTestServer(t)
	db := srv.openTemp(t)
	a := storetest.NewProvider(t, db, "a")
	b := storetest.NewProvider(t, db, "b")
	a.Keys = []directory.Key{{ID: "ka", Hash: []byte("same"), Hint: "same", Created: time.Now()}}
	b.Keys = []directory.Key{{ID: "kb", Hash: []byte("same"), Hint: "same", Created: time.Now()}}
	if err := db.UpdateProvider(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateProvider(t.Context(), b); directory.ErrorCode(err) != directory.ECONFLICT || !strings.Contains(directory.ErrorMessage(err), "key") {
		t.Errorf("got %v, want a key conflict", err)
	}
}

// TestUnstorableText: text PostgreSQL cannot hold is EINVALID on writes,
// and a compare value holding it matches what it would in a store that
// could.
func TestUnstorableText(t *testing.T) {
	srv := newTestServer(t)
	db := srv.openTemp(t)
	c := t.Context()
	p := storetest.NewProvider(t, db, "p")
	u := testUser(p.ID, "nul\x00user")
	if err := db.CreateUser(c, u); directory.ErrorCode(err) != directory.EINVALID {
		t.Errorf("userName with NUL: %v, want EINVALID", err)
	}
	u = testUser(p.ID, "alice")
	u.Resource["title"] = "a\x00b"
	if err := db.CreateUser(c, u); directory.ErrorCode(err) != directory.EINVALID {
		t.Errorf("resource with NUL: %v, want EINVALID", err)
	}
	for _, name := range []string{"a", "b"} {
		if err := db.CreateUser(c, testUser(p.ID, name)); err != nil {
			t.Fatal(err)
		}
	}
	for f, want := range map[string]int{
		`userName eq "a\u0000"`:        0,
		`userName co "\u0000"`:         0,
		`userName gt "a\u0000"`:        1, // b
		`userName ge "a\u0000"`:        1,
		`userName lt "a\u0000b"`:       1, // a
		`userName le "a\u0000"`:        1,
		`name.familyName eq "a\u0000"`: 0,
		`name.familyName lt "b\u0000"`: 2,
		`not (userName eq "\u0000")`:   2,
	} {
		_, total, err := db.FindUsers(c, p.ID, directory.Query{Filter: storetest.MustParse(t, f), Count: 10})
		if err != nil || total != want {
			t.Errorf("%s: total %d, %v; want %d", f, total, err, want)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{
		"a":            "b",
		"user1@":       "user1A",
		"é":            "ê",
		"a\U0010FFFF":  "b",
		"\U0010FFFF":   "",
		"":             "",
		"abc\u007f":    "abc\u0080",
		"x\ud7ff":      "x\ue000",
		"\u00ff":       "\u0100",
		"ab\U0001F600": "ab\U0001F601",
	} {
		got, ok := prefixEnd(in)
		if got != want || ok != (want != "") {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// TestMigrateKeys: a schema written before providers had several keys
// (0002) keeps its provider's key, found by the same hash, once 0003 moves
// it into provider_keys.
func TestMigrateKeys(t *testing.T) {
	srv := newTestServer(t)
	dsn := srv.schema(t)
	ctx := t.Context()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, pool, ms[:2]); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO providers (id, name, name_key, enabled, key_hash, key_hint, created, updated) VALUES ('p1', 'Okta', 'okta', true, '\x0102', 'a1B2', now(), '2025-01-02T03:04:05Z')`,
		`INSERT INTO providers (id, name, name_key, enabled, created, updated) VALUES ('p2', 'Entra', 'entra', false, now(), now())`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	pool.Close()
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := db.FindProviderByKeyHash(ctx, []byte{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "p1" || len(p.Keys) != 1 || p.Keys[0].Hint != "a1B2" || len(p.Keys[0].ID) != 9 ||
		!p.Keys[0].Created.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("migrated provider: %+v", p)
	}
	if p2, err := db.FindProviderByID(ctx, "p2"); err != nil || p2.HasKey() {
		t.Errorf("provider without a key: %+v, %v", p2, err)
	}
}
