package sqlite

import (
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// TestFilterDifferential checks the SQL translation of filters against
// scim.Match on thousands of generated users, groups and filters (see
// storetest.FilterDifferential; KACESCIM_FILTER_SEED changes the seed).
func TestFilterDifferential(t *testing.T) {
	storetest.FilterDifferential(t, func(t *testing.T) directory.Store { return openTemp(t) })
}

// FuzzFilterSQL feeds arbitrary filters to the SQL translation (see
// storetest.FilterFuzz):
//
//	go test -run '^$' -fuzz '^FuzzFilterSQL$' -fuzztime 60s ./pkg/store/sqlite
func FuzzFilterSQL(f *testing.F) {
	storetest.FilterFuzz(f, func(tb testing.TB) directory.Store { return openTemp(tb) })
}
