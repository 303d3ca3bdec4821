package postgres

import (
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// TestFilterDifferential checks the SQL translation of filters against
// scim.Match on thousands of generated users, groups and filters, as the
// SQLite store's test does (see storetest.FilterDifferential;
// KACESCIM_FILTER_SEED changes the seed).
func TestFilterDifferential(t *testing.T) {
	srv := newTestServer(t)
	storetest.FilterDifferential(t, func(t *testing.T) directory.Store { return srv.openTemp(t) })
}

// FuzzFilterSQL feeds arbitrary filters to the SQL translation (see
// storetest.FilterFuzz):
//
//	scripts/with-postgres.sh go test -run '^$' -fuzz '^FuzzFilterSQL$' -fuzztime 60s ./pkg/store/postgres
func FuzzFilterSQL(f *testing.F) {
	srv := newTestServer(f)
	storetest.FilterFuzz(f, func(tb testing.TB) directory.Store { return srv.openTemp(tb) })
}
