package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/scim2/filter-parser/v2"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// NewProvider creates the provider name in db for a backend's own tests.
func NewProvider(tb testing.TB, db directory.Store, name string) *directory.Provider {
	tb.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	p := &directory.Provider{ID: uuid.NewString(), Name: name, Created: now, Updated: now}
	if err := db.CreateProvider(context.Background(), p); err != nil {
		tb.Fatal(err)
	}
	return p
}

// MustParse parses the filter f as the store receives it, without the
// limits scim.ParseFilter enforces.
func MustParse(tb testing.TB, f string) filter.Expression {
	tb.Helper()
	e, err := filter.ParseFilter([]byte(f))
	if err != nil {
		tb.Fatalf("parse %s: %v", f, err)
	}
	return e
}

// BenchUser is user i of a backend's benchmarks: every attribute the
// filters name has a value that only this user holds.
func BenchUser(providerID string, i int, at time.Time) *directory.User {
	userName := fmt.Sprintf("user%07d@example.com", i)
	return &directory.User{
		ProviderID: providerID, ID: uuid.NewString(), UserName: userName,
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

// FilterLimits checks that the store refuses, with ETOOMANY, a filter
// beyond scim.MaxFilterComparisons or scim.MaxFilterDepth even when it did
// not come through scim.ParseFilter, and accepts one at the limit. open
// must return a new, empty store, as for Run.
func FilterLimits(t *testing.T, open func(t *testing.T) directory.Store) {
	db := open(t)
	p := NewProvider(t, db, "p")
	parts := make([]string, scim.MaxFilterComparisons+1)
	for i := range parts {
		parts[i] = fmt.Sprintf(`displayName eq "u%d"`, i)
	}
	wide := strings.Join(parts, " or ")
	deep := strings.Repeat("not (", scim.MaxFilterDepth) + `displayName pr` + strings.Repeat(")", scim.MaxFilterDepth)
	ok := strings.Join(parts[1:], " or ")
	for _, f := range []string{wide, deep} {
		_, _, err := db.FindUsers(t.Context(), p.ID, directory.Query{Filter: MustParse(t, f), Count: 10})
		if directory.ErrorCode(err) != directory.ETOOMANY || directory.ErrorMessage(err) == "" {
			t.Errorf("FindUsers %.60s…: got %v, want ETOOMANY", f, err)
		}
		_, _, err = db.FindGroups(t.Context(), p.ID, directory.Query{Filter: MustParse(t, f), Count: 10})
		if directory.ErrorCode(err) != directory.ETOOMANY || directory.ErrorMessage(err) == "" {
			t.Errorf("FindGroups %.60s…: got %v, want ETOOMANY", f, err)
		}
	}
	if _, _, err := db.FindUsers(t.Context(), p.ID, directory.Query{Filter: MustParse(t, ok), Count: 10}); err != nil {
		t.Errorf("%d comparisons: %v", scim.MaxFilterComparisons, err)
	}
}

// BenchmarkFindUsers runs GET /Users?filter=… as the store sees it
// (FindUsers with a filter parsed by scim.ParseFilter, a page of 100) in
// provider, which holds n users of BenchUser: each iteration asks
// filter(k) for another k below n, and it must select exactly one user.
// The statements are prepared before the clock starts.
func BenchmarkFindUsers(b *testing.B, db directory.Store, provider string, n int, filter func(k int) string) {
	ctx := context.Background()
	queries := make([]directory.Query, 256)
	for j := range queries {
		e, err := scim.ParseFilter(filter((j*7919 + 13) % n))
		if err != nil {
			b.Fatal(err)
		}
		queries[j] = directory.Query{Filter: e, StartIndex: 1, Count: 100}
	}
	if _, _, err := db.FindUsers(ctx, provider, queries[0]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		users, total, err := db.FindUsers(ctx, provider, queries[i%len(queries)])
		if err != nil || total != 1 || len(users) != 1 {
			b.Fatalf("got %d users, total %d, %v", len(users), total, err)
		}
	}
}
