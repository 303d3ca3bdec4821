package sqlite

import (
	"runtime"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// TestFilterTooMany: the store refuses, with ETOOMANY, a filter beyond
// scim.MaxFilterComparisons or scim.MaxFilterDepth even when it did not
// come through scim.ParseFilter.
func TestFilterTooMany(t *testing.T) {
	storetest.FilterLimits(t, func(t *testing.T) directory.Store { return openTemp(t) })
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{
		"a":         "b",
		"user1@":    "user1A",
		"é":         "\xc3\xaa",
		"a\xff\xff": "b",
		"\xff":      "",
		"":          "",
		"abc\x7f":   "abc\x80",
	} {
		got, ok := prefixEnd(in)
		if got != want || ok != (want != "") {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// TestUnindexedFilterMemory: a filter the store evaluates by scanning the
// provider's rows (attributes kept only in the JSON resource) allocates as
// much Go memory among 10,000 users as among 1,000 (3,000 and 300 with
// -short or -race): the scan runs inside
// SQLite, one row at a time, and folds ASCII text without calling back
// into Go. BenchmarkFilter shows the same at 100,000.
func TestUnindexedFilterMemory(t *testing.T) {
	filters := []string{
		`name.familyName eq "FAMILY0000042"`,
		`name.familyName co "ily000004"`,
		`emails[type eq "work" and value ew "0000042@WORK.example.com"]`,
		`emails.value sw "USER0000042@"`,
		`title eq "engineer" and not (emails.primary eq false)`,
	}
	measure := func(n int) (allocs, bytes []float64) {
		db := openTemp(t)
		p := storetest.NewProvider(t, db, "p")
		seedBenchUsers(t, db, p.ID, n)
		for _, f := range filters {
			e, err := scim.ParseFilter(f)
			if err != nil {
				t.Fatal(err)
			}
			q := directory.Query{Filter: e, StartIndex: 1, Count: 10}
			run := func() {
				if _, _, err := db.FindUsers(t.Context(), p.ID, q); err != nil {
					t.Fatal(err)
				}
			}
			run() // prepare the statements
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const runs = 3
			for range runs {
				run()
			}
			runtime.ReadMemStats(&after)
			allocs = append(allocs, float64(after.Mallocs-before.Mallocs)/runs)
			bytes = append(bytes, float64(after.TotalAlloc-before.TotalAlloc)/runs)
		}
		return allocs, bytes
	}
	small, large := 1_000, 10_000
	if raceEnabled || testing.Short() {
		small, large = 300, 3_000
	}
	smallAllocs, smallBytes := measure(small)
	largeAllocs, largeBytes := measure(large)
	for i, f := range filters {
		t.Logf("%s: %.0f allocs %.0f B with %d users, %.0f allocs %.0f B with %d", f, smallAllocs[i], smallBytes[i], small, largeAllocs[i], largeBytes[i], large)
		// Ten times the users may not cost even one more allocation per
		// hundred users.
		if largeAllocs[i] > smallAllocs[i]+50 || largeBytes[i] > smallBytes[i]+8<<10 {
			t.Errorf("%s: memory grows with the users", f)
		}
	}
}
