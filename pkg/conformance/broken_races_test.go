package conformance_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kacescim/kacescim/pkg/scim"
)

// brokenRaces are the broken servers whose faults show only under
// concurrent requests, or with a second provider's key: the concurrency
// and isolation suites are meant to catch them.
var brokenRaces = []brokenServer{
	{
		// The fault seen in the field: a membership PATCH read the group,
		// changed the member list in memory and wrote the whole list back,
		// unlocked, so that two PATCHes at once lose one's change.
		name:   "group membership PATCH as an unlocked read-modify-write (lost members)",
		source: "RFC 7644 §3.5.2.1, §3.5.2.2 (each acknowledged PATCH is applied)",
		mw:     bkMembersReadModifyWrite,
		fail: []string{
			"concurrency/Concurrent member adds: 16 PATCH add to one group, every acknowledged member is in it",
			"concurrency/Concurrent member removes: exactly the members added and not removed remain",
		},
	},
	{
		// The same fault on users: a PATCH of one attribute read the user,
		// set the attribute and wrote the whole user back, unlocked.
		name:   "user PATCH as an unlocked read-modify-write (lost updates)",
		source: "RFC 7644 §3.5.2 (each acknowledged PATCH is applied)",
		mw:     bkUserReadModifyWrite,
		fail:   []string{"concurrency/Concurrent PATCHes to one user, each a different attribute: every acknowledged change is kept"},
	},
	{
		// The same fault on a multi-valued attribute: a PATCH add to a
		// user's roles (or emails, …) read the user, appended the values
		// to the list read and wrote the whole user back, unlocked. Its
		// own middleware: bkUserReadModifyWrite serves replaces alone, so
		// each entry is caught by its own check.
		name:   "user PATCH add to a multi-valued attribute as an unlocked read-modify-write (lost values)",
		source: "RFC 7644 §3.5.2.1 (an add to a multi-valued attribute appends)",
		mw:     bkUserAddReadModifyWrite,
		fail:   []string{"concurrency/Concurrent adds to one multi-valued attribute (a user's roles): every acknowledged value is kept"},
	},
	{
		// A check-then-insert uniqueness test: a POST that overlaps
		// another of the same userName is let through (answered 201 as if
		// created; the real store below keeps one).
		name:   "duplicate userName let through under concurrent POSTs",
		source: "RFC 7644 §3.3 (409 uniqueness)",
		mw:     bkRacyUniqueness(),
		fail:   []string{"concurrency/Concurrent POSTs of one userName: exactly one 201, the others 409"},
	},
	{
		// A check-then-insert uniqueness test whose duplicates are
		// stored: unlike the entry above, whose 201s are lies, the users
		// created in the window are found again, by id and by a filter on
		// their userName, as a store without a unique index would keep
		// them.
		name:   "duplicate userName stored under concurrent POSTs (check-then-insert)",
		source: "RFC 7644 §3.3 (409 uniqueness), §3.4.2.2",
		mw:     bkStoredDuplicates(),
		fail: []string{
			"concurrency/Concurrent POSTs of one userName: exactly one 201, the others 409",
			"concurrency/Concurrent POSTs of one userName: a filter on it finds exactly one user",
		},
	},
	{
		// GET by id looks the id up across providers: another provider's
		// user is found by id (though not by filter or list).
		name:   "GET /Users/{id} ignores the provider (isolation leak)",
		source: "RFC 7644 §6 (multi-tenancy)",
		mw:     bkGetByIDAcrossProviders(),
		fail:   []string{"isolation/Tenant B: GET of tenant A's user by id is 404"},
	},
}

// bkMembersReadModifyWrite serves a PATCH of a group whose operations are
// all on members by reading the group, waiting a little, applying them to
// the member list read and PUTting the group back.
func bkMembersReadModifyWrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ep, id := bkResource(r)
		body := bkReadBody(r)
		ops := bkPatchOps(r, body)
		if ep != "Groups" || id == "" || len(ops) == 0 || slices.ContainsFunc(ops, func(op map[string]any) bool {
			return !strings.HasPrefix(strings.ToLower(bkText(op["path"])), "members")
		}) {
			next.ServeHTTP(w, r)
			return
		}
		got := bkServe(next, bkInternal(r, http.MethodGet, r.URL.Path, nil))
		doc, ok := got.object()
		if got.status != http.StatusOK || !ok {
			got.write(w)
			return
		}
		var members []string
		ms, _ := doc["members"].([]any)
		for _, m := range ms {
			if mm, ok := m.(map[string]any); ok {
				members = append(members, bkText(mm["value"]))
			}
		}
		time.Sleep(20 * time.Millisecond) // the window another PATCH falls into
		for _, op := range ops {
			path := bkText(op["path"])
			var values []string
			vs, _ := op["value"].([]any)
			for _, v := range vs {
				if vm, ok := v.(map[string]any); ok {
					values = append(values, bkText(vm["value"]))
				}
			}
			if m := bkMemberValueEq.FindStringSubmatch(path); m != nil {
				values = append(values, m[1])
			}
			switch strings.ToLower(bkText(op["op"])) {
			case "add":
				for _, v := range values {
					if !slices.Contains(members, v) {
						members = append(members, v)
					}
				}
			case "remove":
				if len(values) == 0 {
					members = nil
				}
				members = slices.DeleteFunc(members, func(m string) bool { return slices.Contains(values, m) })
			case "replace":
				members = values
			}
		}
		out := make([]any, len(members))
		for i, m := range members {
			out[i] = map[string]any{"value": m}
		}
		put, _ := json.Marshal(map[string]any{"schemas": []string{scim.GroupURN}, "id": id, "displayName": doc["displayName"], "externalId": doc["externalId"], "members": out})
		put = bytes.ReplaceAll(put, []byte(`,"externalId":null`), nil)
		c := bkServe(next, bkInternal(r, http.MethodPut, r.URL.Path, put))
		if c.status == http.StatusOK {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		c.write(w)
	})
}

// bkUserReadModifyWrite serves a PATCH of a user whose operations all
// replace a top-level attribute by reading the user, waiting a little,
// setting the attributes in what it read and PUTting the user back.
func bkUserReadModifyWrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ep, id := bkResource(r)
		body := bkReadBody(r)
		ops := bkPatchOps(r, body)
		if ep != "Users" || id == "" || len(ops) == 0 || slices.ContainsFunc(ops, func(op map[string]any) bool {
			path := bkText(op["path"])
			return !strings.EqualFold(bkText(op["op"]), "replace") || path == "" || strings.ContainsAny(path, ".[:")
		}) {
			next.ServeHTTP(w, r)
			return
		}
		got := bkServe(next, bkInternal(r, http.MethodGet, r.URL.Path, nil))
		doc, ok := got.object()
		if got.status != http.StatusOK || !ok {
			got.write(w)
			return
		}
		time.Sleep(20 * time.Millisecond) // the window another PATCH falls into
		for _, op := range ops {
			doc[bkText(op["path"])] = op["value"]
		}
		delete(doc, "meta")
		put, _ := json.Marshal(doc)
		bkServe(next, bkInternal(r, http.MethodPut, r.URL.Path, put)).write(w)
	})
}

// bkUserAddReadModifyWrite serves a PATCH of a user whose operations all
// add values to a top-level multi-valued attribute (roles, emails, …) by
// reading the user, waiting a little, appending the values to the list
// read and PUTting the user back.
func bkUserAddReadModifyWrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ep, id := bkResource(r)
		body := bkReadBody(r)
		ops := bkPatchOps(r, body)
		if ep != "Users" || id == "" || len(ops) == 0 || slices.ContainsFunc(ops, func(op map[string]any) bool {
			path := bkText(op["path"])
			_, multi := op["value"].([]any)
			return !strings.EqualFold(bkText(op["op"]), "add") || path == "" || strings.ContainsAny(path, ".[:") || !multi
		}) {
			next.ServeHTTP(w, r)
			return
		}
		got := bkServe(next, bkInternal(r, http.MethodGet, r.URL.Path, nil))
		doc, ok := got.object()
		if got.status != http.StatusOK || !ok {
			got.write(w)
			return
		}
		time.Sleep(20 * time.Millisecond) // the window another PATCH falls into
		for _, op := range ops {
			path := bkText(op["path"])
			had, _ := doc[path].([]any)
			doc[path] = append(had, op["value"].([]any)...)
		}
		delete(doc, "meta")
		put, _ := json.Marshal(doc)
		c := bkServe(next, bkInternal(r, http.MethodPut, r.URL.Path, put))
		if c.status == http.StatusOK {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		c.write(w)
	})
}

var bkMemberValueEq = regexp.MustCompile(`(?i)^members\[\s*value\s+eq\s+"([^"]*)"\s*\]$`)

// bkRacyUniqueness lets a POST /Users through (201 with a made-up id)
// when the server refuses it as a duplicate (409) and another POST of the
// same userName was under way meanwhile.
func bkRacyUniqueness() func(http.Handler) http.Handler {
	var mu sync.Mutex
	inFlight := map[string]int{}
	overlapped := map[string]bool{}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !bkOn(http.MethodPost, "Users", false)(r) {
				next.ServeHTTP(w, r)
				return
			}
			body := bkReadBody(r)
			var doc map[string]any
			if json.Unmarshal(body, &doc) != nil {
				next.ServeHTTP(w, r)
				return
			}
			name := strings.ToLower(bkText(doc["userName"]))
			mu.Lock()
			inFlight[name]++
			if inFlight[name] > 1 {
				overlapped[name] = true
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond) // the check-then-insert window
			c := bkServe(next, r)
			mu.Lock()
			inFlight[name]--
			racy := overlapped[name]
			if inFlight[name] == 0 {
				delete(overlapped, name)
			}
			mu.Unlock()
			if c.status == http.StatusConflict && racy {
				doc["id"] = bkFakeID()
				doc["meta"] = map[string]any{"resourceType": "User"}
				c.status = http.StatusCreated
				c.header = http.Header{"Content-Type": {"application/scim+json"}}
				c.setJSON(doc)
			}
			c.write(w)
		})
	}
}

// bkStoredDuplicates makes POST /Users a check-then-insert: it looks the
// userName up (a filter, its own duplicates included), waits a little,
// and inserts when the look-up found nobody. kacescim's store refuses the
// second insert of a userName, so the insert of a POST that lost the
// race goes to a table of the middleware's own instead (a store without
// a unique index), and is answered 201. The duplicates are served where a
// provider finds a user again after creating it: GET and DELETE by id,
// and a userName eq filter, merged into the server's answer; each
// provider (Authorization) sees its own.
func bkStoredDuplicates() func(http.Handler) http.Handler {
	type dup struct {
		auth string
		doc  map[string]any
	}
	var mu sync.Mutex
	dups := map[string]dup{} // id → the duplicate
	// named are the duplicates of the provider auth whose userName is
	// name (any case, as userName is not case-exact).
	named := func(auth, name string) []any {
		mu.Lock()
		defer mu.Unlock()
		var out []any
		for _, id := range bkSortedKeys(dups) {
			if d := dups[id]; d.auth == auth && strings.EqualFold(bkText(d.doc["userName"]), name) {
				out = append(out, d.doc)
			}
		}
		return out
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			auth := r.Header.Get("Authorization")
			_, id := bkResource(r)
			mu.Lock()
			d, isDup := dups[id]
			isDup = isDup && d.auth == auth
			mu.Unlock()
			switch {
			case isDup && r.Method == http.MethodGet:
				c := &bkAnswer{status: http.StatusOK, header: http.Header{"Content-Type": {"application/scim+json"}}}
				c.setJSON(d.doc)
				c.write(w)
			case isDup && r.Method == http.MethodDelete:
				mu.Lock()
				delete(dups, id)
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			case bkOn(http.MethodGet, "Users", false)(r) && bkUserNameEq.MatchString(r.URL.Query().Get("filter")):
				c := bkServe(next, r)
				doc, ok := c.object()
				more := named(auth, bkUserNameEq.FindStringSubmatch(r.URL.Query().Get("filter"))[1])
				if c.status == http.StatusOK && ok && bkIsListResponse(doc) && len(more) > 0 {
					res, _ := doc["Resources"].([]any)
					res = append(res, more...)
					doc["Resources"], doc["totalResults"], doc["itemsPerPage"] = res, len(res), len(res)
					c.setJSON(doc)
				}
				c.write(w)
			case bkOn(http.MethodPost, "Users", false)(r):
				body := bkReadBody(r)
				var doc map[string]any
				if json.Unmarshal(body, &doc) != nil || bkText(doc["userName"]) == "" {
					next.ServeHTTP(w, r)
					return
				}
				name := bkText(doc["userName"])
				q := url.Values{"filter": {fmt.Sprintf("userName eq %q", name)}}
				look := bkServe(next, bkInternal(r, http.MethodGet, r.URL.Path+"?"+q.Encode(), nil))
				found, ok := look.object()
				taken := look.status != http.StatusOK || !ok || bkText(found["totalResults"]) != "0" || len(named(auth, name)) > 0
				time.Sleep(20 * time.Millisecond) // the check-then-insert window
				c := bkServe(next, r)
				if c.status == http.StatusConflict && !taken {
					// Nobody had the userName when looked up: the insert
					// is kept, in the table without a unique index.
					id := bkFakeID()
					doc["id"] = id
					doc["meta"] = map[string]any{"resourceType": "User", "location": "http://" + r.Host + r.URL.Path + "/" + id}
					mu.Lock()
					dups[id] = dup{auth: auth, doc: doc}
					mu.Unlock()
					c.status = http.StatusCreated
					c.header = http.Header{"Content-Type": {"application/scim+json"}}
					c.setJSON(doc)
				}
				c.write(w)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

// bkGetByIDAcrossProviders answers a GET /Users/{id} that is 404 with the
// key given as the user's provider would have had it: the key that
// created the user.
func bkGetByIDAcrossProviders() func(http.Handler) http.Handler {
	var mu sync.Mutex
	creator := map[string]string{} // user id → Authorization that created it
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case bkOn(http.MethodPost, "Users", false)(r):
				c := bkServe(next, r)
				if doc, ok := c.object(); ok && c.status == http.StatusCreated {
					mu.Lock()
					creator[bkText(doc["id"])] = r.Header.Get("Authorization")
					mu.Unlock()
				}
				c.write(w)
			case bkOn(http.MethodGet, "Users", true)(r):
				c := bkServe(next, r)
				_, id := bkResource(r)
				mu.Lock()
				auth, found := creator[id]
				mu.Unlock()
				if c.status == http.StatusNotFound && found && auth != r.Header.Get("Authorization") {
					req := bkInternal(r, r.Method, r.URL.RequestURI(), nil)
					req.Header.Set("Authorization", auth)
					c = bkServe(next, req)
				}
				c.write(w)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

var bkFakeIDs struct {
	sync.Mutex
	n int
}

// bkFakeID is an id no server holds.
func bkFakeID() string {
	bkFakeIDs.Lock()
	defer bkFakeIDs.Unlock()
	bkFakeIDs.n++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", bkFakeIDs.n)
}
