package sqlite

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// TestPagesFromMarksAreOffsetPages: unfiltered pages read from marks
// (pages.go) are the pages an OFFSET gives, however deep, in whatever order
// the pages are asked for, with creates and deletions between them. The
// reference is the same list through a filter every user matches, which
// pages with OFFSET alone.
func TestPagesFromMarksAreOffsetPages(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	p := storetest.NewProvider(t, db, "p")
	other := storetest.NewProvider(t, db, "other")
	var ids []string
	create := func(pid, name string) {
		u := testUser(pid, name)
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if pid == p.ID {
			ids = append(ids, u.ID)
		}
	}
	for i := range 600 {
		create(p.ID, fmt.Sprintf("u%04d", i))
		if i%7 == 0 {
			create(other.ID, fmt.Sprintf("o%04d", i)) // interleaved seqs
		}
	}
	all := storetest.MustParse(t, "userName pr")
	page := func(q directory.Query) []string {
		t.Helper()
		users, total, err := db.FindUsers(ctx, p.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		if total != len(ids) {
			t.Fatalf("totalResults %d, want %d", total, len(ids))
		}
		var names []string
		for _, u := range users {
			names = append(names, u.UserName)
		}
		return names
	}
	check := func(start, count int) {
		t.Helper()
		got := page(directory.Query{StartIndex: start, Count: count})
		want := page(directory.Query{Filter: all, StartIndex: start, Count: count})
		if !slices.Equal(got, want) {
			t.Fatalf("page startIndex=%d count=%d: %d users %v…, want %d %v…", start, count, len(got), head(got), len(want), head(want))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 6 {
		// A walk, as an import does it, then pages at random, of other
		// sizes, revisited and skipped.
		for start := 1; start <= len(ids)+1; start += 100 {
			check(start, 100)
		}
		for range 40 {
			check(1+rng.IntN(len(ids)+5), []int{1, 7, 50, 100, 250}[rng.IntN(5)])
		}
		// Deletions anywhere and creates at the end move what follows.
		for range 1 + round {
			i := rng.IntN(len(ids))
			if err := db.DeleteUser(ctx, p.ID, ids[i]); err != nil {
				t.Fatal(err)
			}
			ids = slices.Delete(ids, i, i+1)
		}
		create(p.ID, fmt.Sprintf("n%d", round))
		if err := db.DeleteUser(ctx, other.ID, mustFirstID(t, db, other.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if marks := db.pages.m[p.ID]; marks == nil || len(marks.offsets) == 0 {
		t.Error("no page left a mark: the pages were all read by OFFSET")
	}
}

func head(s []string) []string { return s[:min(3, len(s))] }

func mustFirstID(t *testing.T, db *DB, providerID string) string {
	t.Helper()
	users, _, err := db.FindUsers(t.Context(), providerID, directory.Query{Count: 1})
	if err != nil || len(users) == 0 {
		t.Fatalf("no first user: %v", err)
	}
	return users[0].ID
}
