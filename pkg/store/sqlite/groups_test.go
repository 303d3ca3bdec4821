package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// seedMembers makes every user of the provider a member of group id, in
// creation order, with one statement.
func seedMembers(tb testing.TB, db *DB, providerID, id string) {
	tb.Helper()
	const q = `INSERT INTO group_members (group_seq, user_seq, display)
		SELECT g.seq, u.seq, u.user_name FROM groups g JOIN users u ON u.provider_id = g.provider_id
		WHERE g.provider_id = ? AND g.id = ? ORDER BY u.seq`
	if _, err := db.w.ExecContext(context.Background(), q, providerID, id); err != nil {
		tb.Fatal(err)
	}
}

// userIDs returns the ids of the provider's users in creation order.
func userIDs(tb testing.TB, db *DB, providerID string) []string {
	tb.Helper()
	rows, err := db.r.QueryContext(context.Background(), `SELECT id FROM users WHERE provider_id = ? ORDER BY seq`, providerID)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return ids
}

// memberCount is the number of members of the provider's group id.
func memberCount(tb testing.TB, db *DB, providerID, id string) int {
	tb.Helper()
	const q = `SELECT count(*) FROM group_members WHERE group_seq = (SELECT seq FROM groups WHERE provider_id = ? AND id = ?)`
	var n int
	if err := db.r.QueryRowContext(context.Background(), q, providerID, id).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// BenchmarkApplyGroupDelta removes one member of a large group and adds it
// back, as Okta's membership pushes do: the time per op must not grow with
// the size of the group. "one-delta" does both in one delta (removals
// apply first, so the member ends up the newest); "two-deltas" sends a
// removal then an addition, as two PATCHes would.
func BenchmarkApplyGroupDelta(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("members=%dk", n/1000), func(b *testing.B) {
			ctx := context.Background()
			db := openTemp(b)
			other := storetest.NewProvider(b, db, "other")
			seedUsers(b, db, other.ID, n/10) // another provider's users share the index
			p := storetest.NewProvider(b, db, "p")
			seedUsers(b, db, p.ID, n)
			now := time.Now().UTC().Truncate(time.Millisecond)
			g := &directory.Group{ProviderID: p.ID, ID: "big", DisplayName: "big",
				Resource: map[string]any{"displayName": "big"}, Created: now, LastModified: now}
			if err := db.CreateGroup(ctx, g); err != nil {
				b.Fatal(err)
			}
			seedMembers(b, db, p.ID, g.ID)
			ids := userIDs(b, db, p.ID)
			if len(ids) != n || memberCount(b, db, p.ID, g.ID) != n {
				b.Fatalf("seeded %d users, %d members; want %d", len(ids), memberCount(b, db, p.ID, g.ID), n)
			}

			for _, mode := range []string{"one-delta", "two-deltas"} {
				b.Run(mode, func(b *testing.B) {
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						id := ids[(i*7919)%n]
						add := directory.GroupDelta{AddMembers: []directory.Member{{Value: id, Display: "back"}}, LastModified: now}
						if mode == "one-delta" {
							add.RemoveMembers = []string{id}
						} else if _, err := db.ApplyGroupDelta(ctx, p.ID, g.ID,
							directory.GroupDelta{RemoveMembers: []string{id}, LastModified: now}); err != nil {
							b.Fatal(err)
						}
						if _, err := db.ApplyGroupDelta(ctx, p.ID, g.ID, add); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					if got := memberCount(b, db, p.ID, g.ID); got != n {
						b.Fatalf("%d members after the run, want %d", got, n)
					}
				})
			}
		})
	}
}

// TestGroupDeltaAddsByIndex: the statement that adds a PATCH's members
// looks each one up by the (provider_id, id) index, never scans the
// provider's users (a plan that did made a +100 PATCH cost 3.7 s among
// 5,000 users), and a member that is no user of the provider fails the
// whole delta with EINVALID naming it.
func TestGroupDeltaAddsByIndex(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	p := storetest.NewProvider(t, db, "p")
	seedUsers(t, db, p.ID, 50)
	rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+deltaAddByID, 1, `[["x","y"]]`, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	rows.Close()
	// Each id a lookup of (provider_id, id), the ids the outer loop: not
	// a range over the provider's users with the ids looked for in it.
	byID := false
	for _, step := range plan {
		if strings.HasPrefix(step, "SEARCH u ") && strings.Contains(step, "(provider_id=? AND id=?)") {
			byID = true
		}
		if strings.HasPrefix(step, "SCAN u") || strings.HasSuffix(step, "(provider_id=?)") {
			t.Errorf("the members' insert goes over the provider's users: %q", plan)
		}
	}
	if !byID || !strings.HasPrefix(plan[0], "SCAN j") {
		t.Errorf("the members' insert does not look each id up: %q", plan)
	}

	now := time.Now().UTC().Truncate(time.Millisecond)
	g := &directory.Group{ProviderID: p.ID, ID: "g", DisplayName: "g", Resource: map[string]any{"displayName": "g"}, Created: now, LastModified: now}
	if err := db.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	ids := userIDs(t, db, p.ID)
	delta := directory.GroupDelta{AddMembers: []directory.Member{{Value: ids[0]}, {Value: "nobody"}, {Value: ids[1]}}, LastModified: now}
	_, err = db.ApplyGroupDelta(ctx, p.ID, g.ID, delta)
	if directory.ErrorCode(err) != directory.EINVALID || !strings.Contains(err.Error(), `"nobody"`) {
		t.Fatalf("a delta with a member of no user: %v, want EINVALID naming it", err)
	}
	if n := memberCount(t, db, p.ID, g.ID); n != 0 {
		t.Errorf("%d members after the refused delta, want 0", n)
	}
	delta.AddMembers = []directory.Member{{Value: ids[0]}, {Value: ids[1]}, {Value: ids[0], Display: "again"}}
	if _, err := db.ApplyGroupDelta(ctx, p.ID, g.ID, delta); err != nil {
		t.Fatal(err)
	}
	if n := memberCount(t, db, p.ID, g.ID); n != 2 {
		t.Errorf("%d members, want 2", n)
	}
}
