package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// seedBenchUsers creates n users of storetest.BenchUser in one transaction.
func seedBenchUsers(tb testing.TB, db *DB, providerID string, n int) []string {
	tb.Helper()
	ids := make([]string, n)
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	err := db.write(context.Background(), func(h handle) error {
		for i := range n {
			u := storetest.BenchUser(providerID, i, at.Add(time.Duration(i)*time.Second))
			ids[i] = u.ID
			if err := createUser(context.Background(), h, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

// BenchmarkFilter runs GET /Users?filter=… as the store sees it (FindUsers
// with a filter parsed by scim.ParseFilter, a page of 100) on 10,000 and
// 100,000 users of one provider, beside another provider's users that
// share the indexes. Each filter selects exactly one user, a different one
// at each iteration.
//
// The filters on indexed attributes must cost at most twice userName-eq;
// the ones on unindexed attributes (name.familyName, a value path on
// emails) scan the provider's rows, so their time grows with the users,
// but their memory must not: B/op and allocs/op are the same at 10k and
// at 100k.
//
// On a quiet 2-vCPU VM (-benchtime 1s -count 5) every indexed filter took
// 48–69 µs at 100,000 users (userName-eq 48–83 µs), 9.4–10.0 KB and
// 217–225 allocations; name.familyName took 0.49 s and the value path
// 1.1 s, 11.7 KB/239 and 15 KB/253 allocations, as at 10,000 users
// (48 ms and 108 ms). Before the translator stopped calling back into Go
// for every row, name.familyName allocated 80,000 times at 10,000 users
// and 800,000 times at 100,000.
//
//	go test -run '^$' -bench 'BenchmarkFilter$' -benchtime 1s ./pkg/store/sqlite
func BenchmarkFilter(b *testing.B) {
	cases := []struct {
		name   string
		filter func(i int, id string) string
	}{
		{"userName-eq", func(i int, _ string) string { return fmt.Sprintf(`userName eq "USER%07d@example.com"`, i) }},
		{"externalId-eq", func(i int, _ string) string { return fmt.Sprintf(`externalId eq "ext-%07d"`, i) }},
		{"displayName-eq", func(i int, _ string) string { return fmt.Sprintf(`displayName eq "user %07d"`, i) }},
		{"id-eq", func(_ int, id string) string { return fmt.Sprintf(`id eq %q`, id) }},
		{"userName-sw", func(i int, _ string) string { return fmt.Sprintf(`userName sw "User%07d@"`, i) }},
		{"active-and-userName", func(i int, _ string) string {
			return fmt.Sprintf(`active eq %t and userName eq "user%07d@example.com"`, i%10 != 0, i)
		}},
		{"unindexed-name.familyName-eq", func(i int, _ string) string { return fmt.Sprintf(`name.familyName eq "FAMILY%07d"`, i) }},
		{"valuepath-emails", func(i int, _ string) string {
			return fmt.Sprintf(`emails[type eq "work" and value eq "user%07d@work.example.com"]`, i)
		}},
	}
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%dk", n/1000), func(b *testing.B) {
			db := openTemp(b)
			other := storetest.NewProvider(b, db, "other")
			seedBenchUsers(b, db, other.ID, n/10)
			p := storetest.NewProvider(b, db, "p")
			ids := seedBenchUsers(b, db, p.ID, n)
			ctx := context.Background()
			// The seeding transaction left every page in the WAL, where
			// each read would look it up; a running server checkpoints as
			// it goes.
			if _, err := db.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				b.Fatal(err)
			}
			for _, tc := range cases {
				b.Run(tc.name, func(b *testing.B) {
					storetest.BenchmarkFindUsers(b, db, p.ID, n, func(k int) string { return tc.filter(k, ids[k]) })
				})
			}
		})
	}
}
