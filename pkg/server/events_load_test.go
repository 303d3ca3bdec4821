package server_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

// TestFeedUnderLoad: under 8 concurrent Okta-style clients on one SQLite
// server, the change feed holds exactly one event per committed change
// and none for a refused or rolled-back request, each user's events chain
// in commit order, and a consumer following the cursor meanwhile sees
// every event once.
func TestFeedUnderLoad(t *testing.T) {
	srv, err := servertest.Open(t.Context(), server.Config{DataDir: t.TempDir(), AdminToken: replicaAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	r := &replica{name: "sqlite", srv: srv, http: ts, admin: client.NewAdmin(ts.URL, replicaAdminToken, client.WithTimeout(30*time.Second))}
	rs := &replicaSet{t: t, a: r, b: r, hc: &http.Client{Timeout: 30 * time.Second}}
	feedUnderLoad(t, rs)
}

// TestReplicasFeedUnderLoad is TestFeedUnderLoad on two PostgreSQL
// replicas: the clients and the consumer alternate between them, so the
// consumer reads on one replica what the other committed a moment before.
func TestReplicasFeedUnderLoad(t *testing.T) {
	feedUnderLoad(t, newReplicaSet(t))
}

func feedUnderLoad(t *testing.T, rs *replicaSet) {
	const (
		clients = 8
		rounds  = 12
		shared  = 6 // users every client PATCHes, racing
	)
	key := rs.provider(rs.a, "okta")
	via := func(i int) *replica {
		if i%2 == 0 {
			return rs.a
		}
		return rs.b
	}
	var pool []string
	for i := range shared {
		pool = append(pool, rs.must(rs.scim(via(i), key, "POST", "/Users", userBody(fmt.Sprintf("shared%d@example.com", i))), 201).str("id"))
	}
	group := rs.must(rs.scim(rs.a, key, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Everyone"}`), 201).str("id")
	addMembers := func(ids ...string) string {
		var values []string
		for _, id := range ids {
			values = append(values, fmt.Sprintf(`{"value":%q}`, id))
		}
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[` + strings.Join(values, ",") + `]}]}`
	}

	// The consumer follows the feed while the clients write, from
	// either replica in turn.
	stop := make(chan struct{})
	var (
		followed []adminapi.Event
		polls    atomic.Int64
	)
	var follower sync.WaitGroup
	follower.Go(func() {
		after := int64(0)
		for i := 0; ; i++ {
			list, err := via(i).admin.Events(t.Context(), client.EventQuery{After: &after, Limit: 50})
			if err != nil {
				t.Errorf("follow after %d: %v", after, err)
				return
			}
			polls.Add(1)
			followed = append(followed, list.Events...)
			after = list.Next
			if len(list.Events) == 50 {
				continue
			}
			select {
			case <-stop:
				if len(list.Events) == 0 {
					return // drained after the last write
				}
			case <-time.After(5 * time.Millisecond):
			}
		}
	})

	var (
		mu        sync.Mutex
		created   = map[string]bool{} // users answered 201
		joined    = map[string]bool{} // users a 204 added to the group
		refusedTo []string            // users a refused (rolled-back) PATCH named
		dupWins   atomic.Int64
	)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(c), 1))
			for round := range rounds {
				r := via(c + round)
				own := rs.scim(r, key, "POST", "/Users", userBody(fmt.Sprintf("c%d-r%d@example.com", c, round)))
				if own.status != 201 {
					t.Errorf("create: %d %s", own.status, own.body)
					continue
				}
				id := own.str("id")
				mu.Lock()
				created[id] = true
				mu.Unlock()
				// Racing for one userName: one 201, the others 409.
				switch dup := rs.scim(via(c+round+1), key, "POST", "/Users", userBody(fmt.Sprintf("dup%d@example.com", round))); dup.status {
				case 201:
					dupWins.Add(1)
					mu.Lock()
					created[dup.str("id")] = true
					mu.Unlock()
				case 409:
				default:
					t.Errorf("a racing create: %d %s", dup.status, dup.body)
				}
				// Racing PATCHes of the shared users.
				target := pool[rnd.IntN(len(pool))]
				active := rnd.IntN(2) == 0
				if p := rs.scim(via(c+round), key, "PATCH", "/Users/"+target, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%v}}]}`, active)); p.status != 200 {
					t.Errorf("PATCH: %d %s", p.status, p.body)
				}
				// The group push of the new user, and one naming a user that
				// does not exist beside another new one: refused, rolled back.
				if g := rs.scim(r, key, "PATCH", "/Groups/"+group, addMembers(id)); g.status != 204 {
					t.Errorf("group push: %d %s", g.status, g.body)
				} else {
					mu.Lock()
					joined[id] = true
					mu.Unlock()
				}
				other := rs.scim(r, key, "POST", "/Users", userBody(fmt.Sprintf("other-c%d-r%d@example.com", c, round)))
				if other.status != 201 {
					t.Errorf("create: %d %s", other.status, other.body)
					continue
				}
				mu.Lock()
				created[other.str("id")] = true
				refusedTo = append(refusedTo, other.str("id"))
				mu.Unlock()
				if g := rs.scim(r, key, "PATCH", "/Groups/"+group, addMembers(other.str("id"), "00000000-0000-0000-0000-000000000000")); g.status != 400 {
					t.Errorf("a group push naming no user: %d %s", g.status, g.body)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	follower.Wait()

	// The whole feed, read once after the traffic.
	var all []adminapi.Event
	for after := int64(0); ; {
		list, err := rs.b.admin.Events(t.Context(), client.EventQuery{After: &after, Limit: directory.MaxEventLimit})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, list.Events...)
		if len(list.Events) < directory.MaxEventLimit {
			break
		}
		after = list.Next
	}
	cursors := func(evs []adminapi.Event) []int64 {
		out := make([]int64, len(evs))
		for i, e := range evs {
			out[i] = e.Cursor
		}
		return out
	}
	if got, want := cursors(followed), cursors(all); !slices.Equal(got, want) {
		t.Errorf("the consumer saw %d events in %d polls, the feed holds %d: they differ (first %d vs %d)",
			len(got), polls.Load(), len(want), firstOr(got), firstOr(want))
	}
	if !slices.IsSorted(cursors(all)) || len(slices.Compact(cursors(all))) != len(all) {
		t.Error("the feed's cursors do not increase")
	}

	// One event per committed change: a creation per 201, a membership per
	// 204, none for the refused group pushes.
	counts := map[string]int{}
	refused := map[string]bool{}
	for _, id := range refusedTo {
		refused[id] = true
	}
	userCreated := map[string]int{}
	for _, e := range all {
		counts[e.Type]++
		switch e.Type {
		case directory.EventUserCreated:
			userCreated[e.User.ID]++
		case directory.EventGroupMemberAdded:
			if refused[e.User.ID] {
				t.Errorf("event %d: %s joined the group by a refused PATCH", e.Cursor, e.User.UserName)
			}
			if !joined[e.User.ID] {
				t.Errorf("event %d: %s joined the group, but no PATCH that added them succeeded", e.Cursor, e.User.UserName)
			}
		}
	}
	if want := shared + len(created); counts[directory.EventUserCreated] != want {
		t.Errorf("%d user.created events, %d users answered 201", counts[directory.EventUserCreated], want)
	}
	for id := range created {
		if userCreated[id] != 1 {
			t.Errorf("user %s answered 201 and has %d user.created events", id, userCreated[id])
		}
	}
	if counts[directory.EventGroupMemberAdded] != len(joined) {
		t.Errorf("%d group.member_added events, %d users added", counts[directory.EventGroupMemberAdded], len(joined))
	}
	if dupWins.Load() != rounds {
		t.Errorf("%d of %d racing creates won", dupWins.Load(), rounds)
	}

	// The snapshot: as of the feed's newest cursor, the group holds every
	// user a push added.
	snap, err := rs.a.admin.Snapshot(t.Context(), "okta")
	if err != nil {
		t.Fatal(err)
	}
	if last := all[len(all)-1].Cursor; snap.Cursor != last {
		t.Errorf("the snapshot's cursor %d, the feed's newest %d", snap.Cursor, last)
	}
	if len(snap.Groups) != 1 || len(snap.Groups[0].Members) != len(joined) || len(snap.Users) != shared+len(created) {
		t.Errorf("the snapshot: %d users, %d groups; want %d users and the group of %d", len(snap.Users), len(snap.Groups), shared+len(created), len(joined))
	} else {
		for _, m := range snap.Groups[0].Members {
			if !joined[m.ID] {
				t.Errorf("the snapshot's group holds %s, whom no push added", m.UserName)
			}
		}
	}

	// Each shared user's events chain in commit order: every change of
	// Disabled starts from where the one before it left it, and the last
	// one leaves it as the user is now.
	for i, id := range pool {
		var disabled any = "unset"
		n := 0
		for _, e := range all {
			if e.User == nil || e.User.ID != id || !slices.Contains([]string{directory.EventUserCreated, directory.EventUserActivated, directory.EventUserDeactivated, directory.EventUserUpdated}, e.Type) {
				continue
			}
			for _, ch := range e.Changes {
				if ch.Field != directory.FieldDisabled {
					continue
				}
				if e.Type != directory.EventUserCreated && ch.Before != disabled {
					t.Errorf("shared user %d, event %d (%s): Disabled %v → %v, but the event before left it %v", i, e.Cursor, e.Type, ch.Before, ch.After, disabled)
				}
				disabled = ch.After
				n++
			}
		}
		now := rs.must(rs.scim(rs.a, key, "GET", "/Users/"+id, ""), 200)
		if active, _ := now.get("active").(bool); disabled != !active {
			t.Errorf("shared user %d: the feed leaves Disabled %v, the user is active=%v", i, disabled, active)
		}
		t.Logf("shared user %d: %d changes of Disabled in the feed", i, n)
	}
	t.Logf("%d events, followed in %d polls: %v", len(all), polls.Load(), counts)
}

func firstOr(s []int64) int64 {
	if len(s) == 0 {
		return 0
	}
	return s[0]
}
