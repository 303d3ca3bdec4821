package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// TestFilterTooMany: the store refuses, with ETOOMANY, a filter beyond
// scim.MaxFilterComparisons or scim.MaxFilterDepth even when it did not
// come through scim.ParseFilter.
func TestFilterTooMany(t *testing.T) {
	srv := newTestServer(t)
	storetest.FilterLimits(t, func(t *testing.T) directory.Store { return srv.openTemp(t) })
}

// seedBenchUsers creates n users of storetest.BenchUser in one transaction (through
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
			u := storetest.BenchUser(providerID, i, at.Add(time.Duration(i)*time.Second))
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

// seedBenchProviders creates provider "other" with others users and
// provider "p" with n, as seedBenchUsers does, and returns p and the ids of
// its users: another provider's rows share the indexes.
func seedBenchProviders(tb testing.TB, db *DB, n, others int) (*directory.Provider, []string) {
	tb.Helper()
	other := storetest.NewProvider(tb, db, "other")
	seedBenchUsers(tb, db, other.ID, others)
	p := storetest.NewProvider(tb, db, "p")
	return p, seedBenchUsers(tb, db, p.ID, n)
}

// TestQueryPlans: the lookups an identity provider makes on every request
// are served by an index among thousands of users, never by a scan of the
// provider's rows.
func TestQueryPlans(t *testing.T) {
	srv := newTestServer(t)
	db := srv.openTemp(t)
	p, ids := seedBenchProviders(t, db, 3000, 500)
	for _, f := range []string{
		`userName eq "user0000042@example.com"`,
		`userName sw "user000004"`,
		`externalId eq "ext-0000042"`,
		`displayName eq "user 0000042"`,
		fmt.Sprintf(`id eq %q`, ids[42]),
		`active eq true and userName eq "user0000042@example.com"`,
	} {
		sel, err := sqlfilter.Select(dialect{}, db.users, db.users, p.ID, directory.Query{Filter: storetest.MustParse(t, f), Count: 10})
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
	const n = 10_000
	p, _ := seedBenchProviders(b, db, n, 1_000)
	for _, tc := range []struct {
		name   string
		filter func(i int) string
	}{
		{"userName-eq", func(i int) string { return fmt.Sprintf(`userName eq "USER%07d@example.com"`, i) }},
		{"unindexed-name.familyName-eq", func(i int) string { return fmt.Sprintf(`name.familyName eq "FAMILY%07d"`, i) }},
	} {
		b.Run(fmt.Sprintf("users=%dk/%s", n/1000, tc.name), func(b *testing.B) {
			storetest.BenchmarkFindUsers(b, db, p.ID, n, tc.filter)
		})
	}
}
