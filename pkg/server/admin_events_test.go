package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/server"
)

// TestAdminEvents: GET /admin/v1/events reads the feed after a cursor,
// or its newest events without one; its parameters are checked; and once
// the server has pruned the feed to its retention, a cursor it passed is
// 410 gone, saying to resync, while the newest cursor still serves.
func TestAdminEvents(t *testing.T) {
	e := newAdminEnv(t, server.Config{EventMaxEntries: 3})
	key := e.addOkta()
	var ids []string
	for i := range 5 {
		status, body := e.scim(key, "POST", "/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%d@example.com"}`, i))
		if status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, body)
		}
		ids = append(ids, body["id"].(string))
	}
	if status, body := e.scim(key, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"USER0@example.com"}`); status != http.StatusConflict {
		t.Fatalf("a duplicate: %d %v", status, body)
	}

	all := decodeAdmin[adminapi.EventList](t, e.mustDo("GET", adminapi.Prefix+"/events?after=0", "", 200))
	if len(all.Events) != 5 || all.Next != 5 || all.Last != 5 {
		t.Fatalf("the feed after 0: %+v", all)
	}
	for i, ev := range all.Events {
		if ev.Cursor != int64(i+1) || ev.Type != "user.created" || ev.Provider != "okta" || ev.User == nil || ev.User.ID != ids[i] {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	newest := decodeAdmin[adminapi.EventList](t, e.mustDo("GET", adminapi.Prefix+"/events?limit=2", "", 200))
	if len(newest.Events) != 2 || newest.Events[0].Cursor != 4 || newest.Events[1].Cursor != 5 || newest.Next != 5 {
		t.Errorf("the newest 2: %+v", newest)
	}
	mine := decodeAdmin[adminapi.EventList](t, e.mustDo("GET", adminapi.Prefix+"/events?after=0&user=user3@example.com", "", 200))
	if len(mine.Events) != 1 || mine.Events[0].User.ID != ids[3] {
		t.Errorf("user3's events: %+v", mine)
	}
	for _, q := range []string{"after=x", "after=-1", "limit=0", "limit=x", "after=6"} {
		if status, body := e.do("GET", adminapi.Prefix+"/events?"+q, ""); status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", q, status, body)
		}
	}
	if status, body := e.do("GET", adminapi.Prefix+"/events?provider=nobody", ""); status != http.StatusNotFound {
		t.Errorf("an unknown provider: %d %s", status, body)
	}

	snap := decodeAdmin[adminapi.Snapshot](t, e.mustDo("GET", adminapi.Prefix+"/snapshot?provider=okta", "", 200))
	if snap.Cursor != 5 || len(snap.Users) != 5 || snap.Users[0].ID != ids[0] || snap.Users[0].Provider != "okta" || len(snap.Groups) != 0 {
		t.Errorf("the snapshot: %+v", snap)
	}

	n, err := e.srv.PruneEvents(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("PruneEvents to 3: %d, %v", n, err)
	}
	status, body := e.do("GET", adminapi.Prefix+"/events?after=1", "")
	if status != http.StatusGone || !strings.Contains(string(body), `"code":"gone"`) || !strings.Contains(string(body), "resync") {
		t.Errorf("a pruned cursor: %d %s, want 410 gone", status, body)
	}
	rest := decodeAdmin[adminapi.EventList](t, e.mustDo("GET", adminapi.Prefix+"/events?after=2", "", 200))
	if len(rest.Events) != 3 || rest.Events[0].Cursor != 3 {
		t.Errorf("after the pruned cursor 2: %+v", rest)
	}
	// 0 is "from the oldest kept", never gone: a user's history after the
	// feed was pruned.
	oldest := decodeAdmin[adminapi.EventList](t, e.mustDo("GET", adminapi.Prefix+"/events?after=0", "", 200))
	if len(oldest.Events) != 3 || oldest.Events[0].Cursor != 3 {
		t.Errorf("after 0, once pruned: %+v", oldest)
	}
	hers := decodeAdmin[adminapi.EventList](t, e.mustDo("GET", adminapi.Prefix+"/events?after=0&user=user4@example.com", "", 200))
	if len(hers.Events) != 1 || hers.Events[0].User.ID != ids[4] {
		t.Errorf("user4's events once pruned: %+v", hers)
	}
	// Nothing more of user3 after their event: next moves to the newest
	// cursor, so that a follower does not scan from an old one again.
	if quiet := decodeAdmin[adminapi.EventList](t, e.mustDo("GET", adminapi.Prefix+"/events?after=4&user=user3@example.com", "", 200)); len(quiet.Events) != 0 || quiet.Next != 5 {
		t.Errorf("user3's events after 4: %+v, want none and next 5", quiet)
	}
}
