package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
)

// eventLine is an event as the feed tests compare it: its type, user and
// group names, and its field changes.
func eventLine(t *testing.T, e *directory.Event) string {
	t.Helper()
	line := e.Type
	if e.UserName != "" {
		line += " user=" + e.UserName
	}
	if e.GroupName != "" {
		line += " group=" + e.GroupName
	}
	changes, err := e.Changes()
	must(t, err)
	for _, c := range changes {
		line += fmt.Sprintf(" %s:%v→%v", c.Field, c.Before, c.After)
	}
	return line
}

// feed reads the events after cursor, checking that they come in
// increasing cursor order, ending at the feed's Last.
func feed(t *testing.T, s directory.Store, q directory.EventQuery) ([]*directory.Event, *directory.EventPage) {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 1000
	}
	page, err := s.FindEvents(ctx(t), q)
	must(t, err)
	prev := q.After
	for _, e := range page.Events {
		if e.Cursor <= prev {
			t.Fatalf("event %d after %d: cursors must increase", e.Cursor, prev)
		}
		prev = e.Cursor
		if e.Time.IsZero() {
			t.Errorf("event %d has no time", e.Cursor)
		}
	}
	return page.Events, page
}

func eventLines(t *testing.T, evs []*directory.Event) []string {
	t.Helper()
	var out []string
	for _, e := range evs {
		out = append(out, eventLine(t, e))
	}
	return out
}

func checkEvents(t *testing.T, what string, got []*directory.Event, want ...string) {
	t.Helper()
	if lines := eventLines(t, got); !slices.Equal(lines, want) {
		t.Errorf("%s: events\n\t%s\nwant\n\t%s", what, strings.Join(lines, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// testEvents: every change of a user or a group appends one event in its
// own transaction, with the fields it changed; a refused write, and a
// write that changes no directory field, append none; a user's feed holds
// its memberships and the renames and deletions of its groups while it
// was a member; pruning moves the pruned cursor.
func testEvents(t *testing.T, s directory.Store) {
	c := ctx(t)
	_, page := feed(t, s, directory.EventQuery{})
	if page.Last != 0 || page.Pruned != 0 || len(page.Events) != 0 {
		t.Fatalf("a new store's feed: %+v", page)
	}
	p := newProvider(t, s, "okta")
	alice := fieldUser(t, s, p.ID, "alice", true, map[string]any{"Email": "alice@example.com", "Disabled": false})

	alice.Fields = map[string]any{"Email": "alice@corp.example.com", "Disabled": false, "City": "Lyon"}
	must(t, s.UpdateUser(c, alice))
	alice.Resource["active"], alice.Fields["Disabled"] = false, true
	must(t, s.UpdateUser(c, alice))
	alice.Resource["active"], alice.Fields["Disabled"] = true, false
	must(t, s.UpdateUser(c, alice))
	// A write that changes no directory field (a SCIM attribute no
	// mapping reads) is no event.
	alice.Resource["title"] = "Engineer"
	must(t, s.UpdateUser(c, alice))

	// Refused writes: none.
	dup := user(p.ID, "ALICE")
	if err := s.CreateUser(c, dup); directory.ErrorCode(err) != directory.ECONFLICT {
		t.Fatalf("duplicate userName: %v", err)
	}
	stale := *alice
	stale.Version--
	stale.Fields = map[string]any{"Email": "lost@example.com"}
	if err := s.UpdateUser(c, &stale); directory.ErrorCode(err) != directory.ESTALE {
		t.Fatalf("stale update: %v", err)
	}

	bob := newUser(t, s, p.ID, "bob")
	g := newGroup(t, s, p.ID, "Engineering", alice)
	_, err := s.ApplyGroupDelta(c, p.ID, g.ID, directory.GroupDelta{AddMembers: []directory.Member{{Value: bob.ID}, {Value: "no-such-user"}}, LastModified: t0})
	if directory.ErrorCode(err) != directory.EINVALID {
		t.Fatalf("a delta with an unknown member: %v", err)
	}
	_, err = s.ApplyGroupDelta(c, p.ID, g.ID, directory.GroupDelta{DisplayName: "Eng", AddMembers: []directory.Member{{Value: bob.ID}}, RemoveMembers: []string{alice.ID}, LastModified: t0})
	must(t, err)
	// Adding a member twice is one membership: one event.
	_, err = s.ApplyGroupDelta(c, p.ID, g.ID, directory.GroupDelta{AddMembers: []directory.Member{{Value: alice.ID}, {Value: bob.ID}}, LastModified: t0})
	must(t, err)
	must(t, s.DeleteGroup(c, p.ID, g.ID))
	must(t, s.DeleteUser(c, p.ID, bob.ID))

	all, page := feed(t, s, directory.EventQuery{})
	checkEvents(t, "the feed", all,
		"user.created user=alice Disabled:<nil>→false Email:<nil>→alice@example.com",
		"user.updated user=alice City:<nil>→Lyon Email:alice@example.com→alice@corp.example.com",
		"user.deactivated user=alice Disabled:false→true",
		"user.activated user=alice Disabled:true→false",
		"user.created user=bob",
		"group.created group=Engineering",
		"group.member_added user=alice group=Engineering",
		"group.renamed group=Eng displayName:Engineering→Eng",
		"group.member_removed user=alice group=Eng",
		"group.member_added user=bob group=Eng",
		"group.member_added user=alice group=Eng",
		"group.deleted group=Eng",
		"user.deleted user=bob",
	)
	if len(all) == 0 {
		return
	}
	if page.Last != all[len(all)-1].Cursor {
		t.Errorf("Last is %d, the newest event %d", page.Last, all[len(all)-1].Cursor)
	}
	for _, e := range all {
		if e.ProviderID != p.ID || e.ProviderName != "okta" {
			t.Errorf("event %d: provider %q %q", e.Cursor, e.ProviderID, e.ProviderName)
		}
		if strings.HasPrefix(e.Type, "user.") && e.UserID == "" || strings.HasPrefix(e.Type, "group.") && e.GroupID == "" {
			t.Errorf("event %d (%s) names no user or group: %+v", e.Cursor, e.Type, e)
		}
	}

	// After a cursor: the rest. By user: theirs, memberships included.
	rest, _ := feed(t, s, directory.EventQuery{After: all[9].Cursor})
	if !reflect.DeepEqual(eventLines(t, rest), eventLines(t, all[10:])) {
		t.Errorf("after the 10th event: %v", eventLines(t, rest))
	}
	mine, _ := feed(t, s, directory.EventQuery{UserID: alice.ID})
	checkEvents(t, "alice's events", mine,
		"user.created user=alice Disabled:<nil>→false Email:<nil>→alice@example.com",
		"user.updated user=alice City:<nil>→Lyon Email:alice@example.com→alice@corp.example.com",
		"user.deactivated user=alice Disabled:false→true",
		"user.activated user=alice Disabled:true→false",
		"group.member_added user=alice group=Engineering",
		// The group's rename and deletion while she is a member change
		// her Groups field: they are hers too.
		"group.renamed group=Eng displayName:Engineering→Eng",
		"group.member_removed user=alice group=Eng",
		"group.member_added user=alice group=Eng",
		"group.deleted group=Eng",
	)
	// Bob joined after the rename: it is not his.
	his, _ := feed(t, s, directory.EventQuery{UserID: bob.ID})
	checkEvents(t, "bob's events", his,
		"user.created user=bob",
		"group.member_added user=bob group=Eng",
		"group.deleted group=Eng",
		"user.deleted user=bob",
	)
	// A user's events after a cursor.
	late, _ := feed(t, s, directory.EventQuery{UserID: alice.ID, After: mine[5].Cursor})
	if !reflect.DeepEqual(eventLines(t, late), eventLines(t, mine[6:])) {
		t.Errorf("alice's events after her 6th: %v", eventLines(t, late))
	}
	limited, _ := feed(t, s, directory.EventQuery{Limit: 2})
	if len(limited) != 2 || limited[1].Cursor != all[1].Cursor {
		t.Errorf("limit 2: %v", eventLines(t, limited))
	}
	other := newProvider(t, s, "entra")
	newUser(t, s, other.ID, "carol")
	theirs, _ := feed(t, s, directory.EventQuery{ProviderID: other.ID})
	checkEvents(t, "entra's events", theirs, "user.created user=carol")

	// Removing a provider removes its users: an event each.
	must(t, s.DeleteProvider(c, other.ID))
	gone, _ := feed(t, s, directory.EventQuery{ProviderID: other.ID})
	checkEvents(t, "entra's events after its removal", gone, "user.created user=carol", "user.deleted user=carol")

	// A group pushed with three members: an event each, with cursors of
	// their own, which a reader may stop between.
	x, y, z := newUser(t, s, p.ID, "xavier"), newUser(t, s, p.ID, "yara"), newUser(t, s, p.ID, "zoe")
	_, before := feed(t, s, directory.EventQuery{})
	trio := newGroup(t, s, p.ID, "Trio", x, y, z)
	pushed, _ := feed(t, s, directory.EventQuery{After: before.Last})
	checkEvents(t, "a group of three", pushed,
		"group.created group=Trio",
		"group.member_added user=xavier group=Trio",
		"group.member_added user=yara group=Trio",
		"group.member_added user=zoe group=Trio",
	)
	if len(pushed) == 4 {
		for i := 1; i < 4; i++ {
			if pushed[i].Cursor != pushed[i-1].Cursor+1 {
				t.Errorf("cursors %d then %d: a member's event has a cursor of its own", pushed[i-1].Cursor, pushed[i].Cursor)
			}
		}
		mid, _ := feed(t, s, directory.EventQuery{After: pushed[1].Cursor})
		checkEvents(t, "after the first member", mid, "group.member_added user=yara group=Trio", "group.member_added user=zoe group=Trio")
		two, _ := feed(t, s, directory.EventQuery{After: before.Last, Limit: 2})
		checkEvents(t, "two after the group", two, "group.created group=Trio", "group.member_added user=xavier group=Trio")
		last, _ := feed(t, s, directory.EventQuery{Newest: true, Limit: 2})
		checkEvents(t, "the newest two", last, "group.member_added user=yara group=Trio", "group.member_added user=zoe group=Trio")
		hers, _ := feed(t, s, directory.EventQuery{After: before.Last, UserID: y.ID})
		checkEvents(t, "yara's, of the group", hers, "group.member_added user=yara group=Trio")
	}
	// A PUT of the group's members: those gone, then those new.
	w := newUser(t, s, p.ID, "will")
	_, before = feed(t, s, directory.EventQuery{})
	trio.Members = []directory.Member{{Value: z.ID}, {Value: w.ID}}
	must(t, s.UpdateGroup(c, trio))
	put, _ := feed(t, s, directory.EventQuery{After: before.Last})
	checkEvents(t, "a PUT of the members", put,
		"group.member_removed user=xavier group=Trio",
		"group.member_removed user=yara group=Trio",
		"group.member_added user=will group=Trio",
	)

	// A user deleted while a member: the group's later rename and
	// deletion are no longer theirs.
	vic := newUser(t, s, p.ID, "vic")
	temp := newGroup(t, s, p.ID, "Temp", vic)
	must(t, s.DeleteUser(c, p.ID, vic.ID))
	_, err = s.ApplyGroupDelta(c, p.ID, temp.ID, directory.GroupDelta{DisplayName: "Temporary", LastModified: t0})
	must(t, err)
	must(t, s.DeleteGroup(c, p.ID, temp.ID))
	vics, _ := feed(t, s, directory.EventQuery{UserID: vic.ID})
	checkEvents(t, "vic's events", vics, "user.created user=vic", "group.member_added user=vic group=Temp", "user.deleted user=vic")
	// A query that selects nothing more says so (Complete), whatever the
	// newest cursor: a follower goes on from Last.
	_, quiet := feed(t, s, directory.EventQuery{UserID: vic.ID, After: vics[len(vics)-1].Cursor})
	if !quiet.Complete || len(quiet.Events) != 0 {
		t.Errorf("vic's events after the last: %+v", quiet)
	}
	if _, cut := feed(t, s, directory.EventQuery{Limit: 2}); cut.Complete {
		t.Error("two events of many: Complete")
	}

	// The snapshot: the provider's users and groups with their
	// memberships, as of the newest cursor.
	snap, err := s.Snapshot(c, p.ID)
	must(t, err)
	_, now := feed(t, s, directory.EventQuery{})
	if snap.Cursor != now.Last {
		t.Errorf("snapshot cursor %d, the feed's newest %d", snap.Cursor, now.Last)
	}
	var names []string
	for _, u := range snap.Users {
		names = append(names, u.UserName)
		if u.ProviderID != p.ID || u.ID == "" || u.LastModified.IsZero() {
			t.Errorf("snapshot user %+v", u)
		}
	}
	if want := []string{"alice", "xavier", "yara", "zoe", "will"}; !slices.Equal(names, want) {
		t.Errorf("snapshot users %v, want %v", names, want)
	}
	if snap.Users[0].Fields["Email"] != "alice@corp.example.com" {
		t.Errorf("alice's fields in the snapshot: %v", snap.Users[0].Fields)
	}
	if len(snap.Groups) != 1 || snap.Groups[0].DisplayName != "Trio" ||
		!reflect.DeepEqual(snap.Groups[0].Members, []directory.Member{{Value: z.ID, Display: "zoe"}, {Value: w.ID, Display: "will"}}) {
		t.Errorf("snapshot groups: %+v", snap.Groups)
	}
	if got := snap.Users[3].Groups; len(got) != 1 || got[0].DisplayName != "Trio" || got[0].ID != trio.ID {
		t.Errorf("zoe's groups in the snapshot: %+v", got)
	}
	if all, err := s.Snapshot(c, ""); err != nil || len(all.Users) != len(snap.Users) {
		t.Errorf("the snapshot of every provider: %v, %v", all, err)
	}

	// Pruning to 3 events moves Pruned to the newest it removed.
	all, page = feed(t, s, directory.EventQuery{})
	n, err := s.PruneEvents(c, directory.EventLimits{MaxEntries: 3})
	must(t, err)
	if n != len(all)-3 {
		t.Errorf("pruned %d of %d events to keep 3", n, len(all))
	}
	kept, after := feed(t, s, directory.EventQuery{})
	if len(kept) != 3 || after.Pruned != all[len(all)-4].Cursor || after.Last != page.Last {
		t.Errorf("after pruning to 3: %d events, pruned %d (want %d), last %d (want %d)", len(kept), after.Pruned, all[len(all)-4].Cursor, after.Last, page.Last)
	}
	// New events go on from the newest cursor, never reusing one.
	newUser(t, s, p.ID, "dave")
	next, _ := feed(t, s, directory.EventQuery{After: page.Last})
	if len(next) != 1 || next[0].Cursor <= page.Last {
		t.Errorf("the event after pruning: %v", next)
	}
}
