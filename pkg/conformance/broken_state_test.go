package conformance_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// enterpriseURN is the enterprise User extension's schema URN.
const enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// brokenStates are the broken servers whose answers look right but whose
// state is not what the requests asked for: the state checks (the
// runner's resource model) are meant to catch them.
var brokenStates = []brokenServer{
	{
		// Answers about users without the enterprise URN in schemas,
		// though they carry the extension's attributes.
		name:   "schemas of a user leaves out the extension it carries",
		source: "RFC 7643 §3 (schemas lists the schemas of the attributes the resource holds)",
		mw: bkRewrite(func(r *http.Request) bool { ep, _ := bkResource(r); return ep == "Users" }, func(r *http.Request, c *bkAnswer) {
			strip := func(doc map[string]any) {
				if s, ok := doc["schemas"].([]any); ok {
					doc["schemas"] = slices.DeleteFunc(s, func(v any) bool { return v == enterpriseURN })
				}
			}
			doc, ok := c.object()
			if !ok {
				return
			}
			if res, ok := doc["Resources"].([]any); ok {
				for _, r := range res {
					if m, ok := r.(map[string]any); ok {
						strip(m)
					}
				}
			} else {
				strip(doc)
			}
			c.setJSON(doc)
		}),
		// A server-wide rule: the first create with the extension fails,
		// the later ones note it.
		fail: []string{"okta-lifecycle/Assign: create with enterprise extension and placeholder password (201): state"},
	},
	{
		// The server applies a path-less PATCH (Okta's and Entra's merge of
		// the listed attributes) to a copy and answers with the resource it
		// loaded: the change is stored, the answer is stale. The other
		// PATCHes answer right (a server answering every PATCH so fails
		// every user PATCH's state check).
		name:   "path-less PATCH answered 200 with the resource as it was before the change",
		source: "RFC 7644 §3.5.2 (a 200 holds the resource after the change)",
		mw: bkIntercept(bkIsPatch, func(next http.Handler, w http.ResponseWriter, r *http.Request) {
			body := bkReadBody(r)
			ops := bkPatchOps(r, body)
			if !slices.ContainsFunc(ops, func(op map[string]any) bool { _, has := op["path"]; return !has }) {
				next.ServeHTTP(w, r)
				return
			}
			before := bkServe(next, bkInternal(r, http.MethodGet, r.URL.Path, nil))
			c := bkServe(next, bkInternal(r, r.Method, r.URL.RequestURI(), body))
			if c.status == http.StatusOK && before.status == http.StatusOK {
				c.body = before.body
			}
			c.write(w)
		}),
		// Only the state checks see it: the step checks judge statuses, and
		// the read-backs find the change stored.
		fail: []string{
			"okta-lifecycle/Deactivate: path-less PATCH replace {active:false}: state",
			"okta-lifecycle/Reactivate: path-less PATCH replace {active:true}, same id: state",
			"okta-lifecycle/Unassign: PATCH active false, the user stays (200 on GET): state",
			"entra/Entra PATCH: path-less replace with dotted and URN-qualified keys: state",
		},
	},
	{
		name:   "PATCH add to members replaces the members",
		source: "RFC 7644 §3.5.2.1; Okta's incremental group push (docs/okta-traffic.md §2) would wipe memberships",
		mw: bkEditPatch(func(r *http.Request, ops []map[string]any) []map[string]any {
			if ep, _ := bkResource(r); ep != "Groups" {
				return ops
			}
			for _, op := range ops {
				if strings.EqualFold(bkText(op["op"]), "add") && strings.EqualFold(bkText(op["path"]), "members") {
					op["op"] = "replace"
				}
			}
			return ops
		}),
		// Only the incremental push adds to a group that has members; the
		// other adds go to an empty group, follow a remove of the one
		// member, or add again the members a group has (Entra's re-add),
		// where add and replace agree.
		fail: []string{
			"okta-groups/Incremental push: add a member to a group that has one (path members): state",
			"concurrency/Concurrent member adds: 16 PATCH add to one group, every acknowledged member is in it",
			"concurrency/Concurrent member removes: exactly the members added and not removed remain",
		},
	},
	{
		name:   "PUT silently drops the enterprise extension",
		source: "RFC 7644 §3.5.1 (PUT replaces the resource with the one sent)",
		mw: bkIntercept(bkOn(http.MethodPut, "Users", true), func(next http.Handler, w http.ResponseWriter, r *http.Request) {
			var doc map[string]any
			if json.Unmarshal(bkReadBody(r), &doc) != nil {
				next.ServeHTTP(w, r)
				return
			}
			delete(doc, enterpriseURN)
			if s, ok := doc["schemas"].([]any); ok {
				doc["schemas"] = slices.DeleteFunc(s, func(v any) bool { return v == enterpriseURN })
			}
			b, _ := json.Marshal(doc)
			next.ServeHTTP(w, bkInternal(r, r.Method, r.URL.RequestURI(), b))
		}),
		// The state check sees the answer and the read-back without the
		// department and organization the PUT sent; the directory user
		// loses the Department and Organization they map to.
		fail: []string{
			"okta-lifecycle/Profile push: PUT with the whole user (id, meta, groups included): state",
			"okta-lifecycle/Profile push: PUT with the whole user (id, meta, groups included): directory user",
		},
	},
	{
		// A server that applies a path-less PATCH (Okta's and Entra's merge)
		// to a copy of the user it creates, and answers with the copy's id;
		// the user read back is the one changed, under its own id.
		name:   "path-less PATCH answered 200 with another id",
		source: "RFC 7643 §3 (id is stable: it does not change when the resource is returned)",
		mw: bkIntercept(bkIsPatch, func(next http.Handler, w http.ResponseWriter, r *http.Request) {
			body := bkReadBody(r)
			ops := bkPatchOps(r, body)
			if !slices.ContainsFunc(ops, func(op map[string]any) bool { _, has := op["path"]; return !has }) {
				next.ServeHTTP(w, r)
				return
			}
			c := bkServe(next, bkInternal(r, r.Method, r.URL.RequestURI(), body))
			if doc, ok := c.object(); ok && c.status == http.StatusOK {
				doc["id"] = "copy-" + bkText(doc["id"])
				c.setJSON(doc)
			}
			c.write(w)
		}),
		// The state checks of the path-less PATCHes see the answer's id;
		// the read-backs find the change under the right one.
		fail: []string{
			"okta-lifecycle/Deactivate: path-less PATCH replace {active:false}: state",
			"okta-lifecycle/Reactivate: path-less PATCH replace {active:true}, same id: state",
			"okta-lifecycle/Unassign: PATCH active false, the user stays (200 on GET): state",
			"entra/Entra PATCH: path-less replace with dotted and URN-qualified keys: state",
		},
	},
	{
		name:   "201 Created of a group without a Location header",
		source: "RFC 7644 §3.3 (the URI of the created resource SHALL be in the Location header)",
		mw: bkRewrite(bkOn(http.MethodPost, "Groups", false), func(r *http.Request, c *bkAnswer) {
			c.header.Del("Location")
		}),
		// The state check of the run's first group create: a rule about
		// every answer fails once, and the later creates only note it.
		fail: []string{
			"okta-groups/Push empty group: POST /Groups with members [] (201): state",
		},
	},
	{
		// A server that stores a replace as a re-create: from the PUT on,
		// the user's meta.created is the time of the PUT.
		name:   "PUT resets meta.created",
		source: "RFC 7643 §3.1 (meta.created: when the resource was added)",
		mw:     bkPutResetsCreated(),
		// The PUT's answer; the read-back, and the writes after, are judged
		// against the created the model then adopts: one fault, one failure.
		fail: []string{"okta-lifecycle/Profile push: PUT with the whole user (id, meta, groups included): state"},
	},
	{
		name:   "user delete answered 204 but not applied",
		source: "RFC 7644 §3.6 (a deleted resource MUST NOT be returned: GET is 404)",
		mw: bkIntercept(bkOn(http.MethodDelete, "Users", true), func(_ http.Handler, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}),
		// The DELETE's state check reads the user back; the directory
		// keeps the user the SCIM view does.
		fail: []string{
			"entra/Entra delete: DELETE /Users/{id} is 204: state",
			"entra/Entra delete: the directory user is gone",
			"isolation/Tenant B: DELETE of tenant A's user is 404, and the user is still there",
			"lists/After DELETE /Users/{id}: the user is on no page of GET /Users",
		},
	},
	{
		// A search index that a DELETE does not reach at once: the first
		// filter on a deleted user's userName still finds the user as it
		// was. GET /Users/{id} is 404, as it must be.
		name:   "filter on userName finds a user just deleted",
		source: "RFC 7644 §3.6 (the service provider MUST NOT consider the deleted resource in subsequent operations)",
		mw:     bkStaleIndex(true),
		// The DELETE's state check filters on the userName; one server-wide
		// rule, so the first user DELETE of the run fails and the later
		// ones note it.
		fail: []string{"entra/Entra delete: DELETE /Users/{id} is 204: state"},
	},
	{
		// A search index that a create does not reach at once: the first
		// filter on a new user's userName finds nobody.
		name:   "filter on userName misses a user just created",
		source: "RFC 7644 §3.4.2 (a filter selects the resources that match it)",
		mw:     bkStaleIndex(false),
		// The create's state check filters on the userName; one
		// server-wide rule, so the first user create of the run fails and
		// the later ones note it. The concurrency suite's own filter after
		// its concurrent creates is the first one on that userName.
		fail: []string{
			"okta-spec/Setup: create a user for the SPEC test: state",
			"concurrency/Concurrent POSTs of one userName: a filter on it finds exactly one user",
		},
	},
}

// bkPutResetsCreated makes meta.created of a user the lastModified of
// its last PUT, in every answer about it from then on.
func bkPutResetsCreated() func(http.Handler) http.Handler {
	var (
		mu    sync.Mutex
		reset = map[string]any{} // user id → its "created"
	)
	return bkRewrite(func(r *http.Request) bool {
		ep, id := bkResource(r)
		return ep == "Users" && id != ""
	}, func(r *http.Request, c *bkAnswer) {
		_, id := bkResource(r)
		doc, ok := c.object()
		meta, hasMeta := doc["meta"].(map[string]any)
		if c.status != http.StatusOK || !ok || !hasMeta {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPut {
			reset[id] = meta["lastModified"]
		}
		if at, ok := reset[id]; ok {
			meta["created"] = at
			c.setJSON(doc)
		}
	})
}

// bkStaleIndex answers the first filter on the userName of a user just
// deleted (deleted) with the user as it was, or the first filter on the
// userName of a user just created (!deleted) with an empty list.
func bkStaleIndex(deleted bool) func(http.Handler) http.Handler {
	var (
		mu    sync.Mutex
		stale = map[string]any{} // lower-case userName → the user, or nil
	)
	list := func(res []any) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"}, "totalResults": len(res), "itemsPerPage": len(res), "startIndex": 1, "Resources": res}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ep, id := bkResource(r)
			if ep != "Users" {
				next.ServeHTTP(w, r)
				return
			}
			switch {
			case r.Method == http.MethodGet && id == "" && bkUserNameEq.MatchString(r.URL.Query().Get("filter")):
				name := strings.ToLower(bkUserNameEq.FindStringSubmatch(r.URL.Query().Get("filter"))[1])
				mu.Lock()
				user, ok := stale[name]
				delete(stale, name)
				mu.Unlock()
				if !ok {
					next.ServeHTTP(w, r)
					return
				}
				c := bkServe(next, r)
				if c.status == http.StatusOK {
					var res []any
					if user != nil {
						res = append(res, user)
					}
					c.setJSON(list(res))
				}
				c.write(w)
			case deleted && r.Method == http.MethodDelete && id != "":
				before := bkServe(next, bkInternal(r, http.MethodGet, r.URL.Path, nil))
				c := bkServe(next, r)
				if doc, ok := before.object(); ok && c.status == http.StatusNoContent {
					mu.Lock()
					stale[strings.ToLower(bkText(doc["userName"]))] = doc
					mu.Unlock()
				}
				c.write(w)
			case !deleted && r.Method == http.MethodPost && id == "":
				c := bkServe(next, r)
				if doc, ok := c.object(); ok && c.status == http.StatusCreated {
					mu.Lock()
					stale[strings.ToLower(bkText(doc["userName"]))] = nil
					mu.Unlock()
				}
				c.write(w)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}
