package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
	"github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"
)

// TestFilterTooMany: the store refuses, with 400 tooMany, a filter beyond
// scim.MaxFilterComparisons or scim.MaxFilterDepth even when it did not
// come through scim.ParseFilter.
func TestFilterTooMany(t *testing.T) {
	srv := newTestServer(t)
	db := srv.openTemp(t)
	p := newTestProvider(t, db, "p")
	parts := make([]string, scim.MaxFilterComparisons+1)
	for i := range parts {
		parts[i] = fmt.Sprintf(`displayName eq "u%d"`, i)
	}
	wide := strings.Join(parts, " or ")
	deep := strings.Repeat("not (", scim.MaxFilterDepth) + `displayName pr` + strings.Repeat(")", scim.MaxFilterDepth)
	ok := strings.Join(parts[1:], " or ")
	for _, f := range []string{wide, deep} {
		_, _, err := db.FindUsers(t.Context(), p.ID, directory.Query{Filter: mustParse(t, f), Count: 10})
		if se, ok := scim.AsError(err); !ok || se.Status != 400 || se.ScimType != scim.TypeTooMany {
			t.Errorf("FindUsers %.60s…: got %v, want 400 tooMany", f, err)
		}
		_, _, err = db.FindGroups(t.Context(), p.ID, directory.Query{Filter: mustParse(t, f), Count: 10})
		if se, ok := scim.AsError(err); !ok || se.Status != 400 || se.ScimType != scim.TypeTooMany {
			t.Errorf("FindGroups %.60s…: got %v, want 400 tooMany", f, err)
		}
	}
	if _, _, err := db.FindUsers(t.Context(), p.ID, directory.Query{Filter: mustParse(t, ok), Count: 10}); err != nil {
		t.Errorf("%d comparisons: %v", scim.MaxFilterComparisons, err)
	}
}

// benchUser is user i of the benchmarks: every attribute the filters name
// has a value that only this user holds.
func benchUser(providerID string, i int, at time.Time) *directory.User {
	userName := fmt.Sprintf("user%07d@example.com", i)
	return &directory.User{
		ProviderID: providerID, ID: uuid.NewString(), UserName: userName, Active: i%10 != 0,
		ExternalID: fmt.Sprintf("ext-%07d", i), DisplayName: fmt.Sprintf("User %07d", i),
		Resource: map[string]any{
			"userName":    userName,
			"displayName": fmt.Sprintf("User %07d", i),
			"active":      i%10 != 0,
			"name":        map[string]any{"givenName": "Given", "familyName": fmt.Sprintf("Family%07d", i)},
			"emails": []any{
				map[string]any{"value": fmt.Sprintf("user%07d@home.example.com", i), "type": "home"},
				map[string]any{"value": fmt.Sprintf("user%07d@work.example.com", i), "type": "work", "primary": true},
			},
			"title": "Engineer",
		},
		Created: at, LastModified: at,
	}
}

// seedBenchUsers creates n users of benchUser in one transaction (through
// the statement CreateUser runs) and analyses the table, as autovacuum
// would after such a load.
func seedBenchUsers(tb testing.TB, db *DB, providerID string, n int) []string {
	tb.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for i := range n {
			u := benchUser(providerID, i, at.Add(time.Duration(i)*time.Second))
			ids[i] = u.ID
			r, err := newUserRow(u)
			if err != nil {
				return err
			}
			batch.Queue(createUser, createUserArgs(u, r)...)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, "ANALYZE users"); err != nil {
		tb.Fatal(err)
	}
	return ids
}

// TestQueryPlans: the lookups an identity provider makes on every request
// are served by an index among thousands of users, never by a scan of the
// provider's rows.
func TestQueryPlans(t *testing.T) {
	srv := newTestServer(t)
	db := srv.openTemp(t)
	other := newTestProvider(t, db, "other")
	seedBenchUsers(t, db, other.ID, 500)
	p := newTestProvider(t, db, "p")
	ids := seedBenchUsers(t, db, p.ID, 3000)
	for _, f := range []string{
		`userName eq "user0000042@example.com"`,
		`userName sw "user000004"`,
		`externalId eq "ext-0000042"`,
		`displayName eq "user 0000042"`,
		fmt.Sprintf(`id eq %q`, ids[42]),
		`active eq true and userName eq "user0000042@example.com"`,
	} {
		sel, err := sqlfilter.Select(dialect{}, db.users, db.users, p.ID, directory.Query{Filter: mustParse(t, f), Count: 10})
		if err != nil {
			t.Fatal(err)
		}
		for what, q := range map[string]string{"count": sel.Count(), "page": sel.Page(userColumns)} {
			args := sel.WhereArgs()
			if what == "page" {
				args = sel.PageArgs()
			}
			rows, err := db.pool.Query(t.Context(), "EXPLAIN "+q, args...)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(lines, "\n")
			if strings.Contains(plan, "Seq Scan on users") || !strings.Contains(plan, "Index") {
				t.Errorf("%s (%s) is not served by an index:\n%s", f, what, plan)
			}
		}
	}
}

// BenchmarkFindUsers runs GET /Users?filter=userName eq "…" as the store
// sees it (FindUsers with a filter parsed by scim.ParseFilter, a page of
// 100) among 10,000 users of one provider, beside another provider's
// 1,000 that share the indexes; each iteration finds a different user.
//
//	scripts/with-postgres.sh go test -run '^$' -bench BenchmarkFindUsers ./pkg/store/postgres
func BenchmarkFindUsers(b *testing.B) {
	srv := newTestServer(b)
	db := srv.openTemp(b)
	other := newTestProvider(b, db, "other")
	seedBenchUsers(b, db, other.ID, 1_000)
	p := newTestProvider(b, db, "p")
	const n = 10_000
	seedBenchUsers(b, db, p.ID, n)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		filter func(i int) string
	}{
		{"userName-eq", func(i int) string { return fmt.Sprintf(`userName eq "USER%07d@example.com"`, i) }},
		{"unindexed-name.familyName-eq", func(i int) string { return fmt.Sprintf(`name.familyName eq "FAMILY%07d"`, i) }},
	} {
		b.Run(fmt.Sprintf("users=%dk/%s", n/1000, tc.name), func(b *testing.B) {
			queries := make([]directory.Query, 256)
			for j := range queries {
				e, err := scim.ParseFilter(tc.filter((j*7919 + 13) % n))
				if err != nil {
					b.Fatal(err)
				}
				queries[j] = directory.Query{Filter: e, StartIndex: 1, Count: 100}
			}
			// Prepare the statements before the clock starts.
			if _, _, err := db.FindUsers(ctx, p.ID, queries[0]); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				users, total, err := db.FindUsers(ctx, p.ID, queries[i%len(queries)])
				if err != nil || total != 1 || len(users) != 1 {
					b.Fatalf("got %d users, total %d, %v", len(users), total, err)
				}
			}
		})
	}
}
