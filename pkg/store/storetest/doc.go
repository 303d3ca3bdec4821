// Package storetest is the test suite every directory.Store backend must
// pass. A backend's test calls Run with a function that opens a new, empty
// store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) directory.Store {
//			s, err := mybackend.Open(t.Context(), dsnFor(t))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run's subtests, each on a store of its own and in parallel, cover the
// whole Store contract: providers (names, keys, the sync counters, what
// deleting one removes, and that no provider sees another's resources),
// users and groups (round trips, uniqueness, deletion), memberships and
// group deltas, optimistic locking and conditional writes (the versions
// behind ETags), pagination, filters and sorting, concurrent writers,
// directory fields, custom fields and mappings, the directory view of
// users, and the request log. Every error is checked by its
// directory.Error code.
//
// FilterDifferential and FilterFuzz check a backend's filter translation
// against scim.Match on generated data, FilterLimits that the store
// enforces the filter limits itself; PostgresDSN gives a PostgreSQL
// backend's tests a throw-away schema, and BenchUser and
// BenchmarkFindUsers serve a backend's benchmarks. Only tests import this
// package, so none of it reaches the kacescim binary.
package storetest
