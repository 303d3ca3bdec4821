package conformance_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// enterpriseURN is the enterprise User extension's schema URN.
const enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// brokenStates are the broken servers whose answers look right but whose
// state is not what the requests asked for: the state checks (the
// runner's resource model) are meant to catch them.
var brokenStates = []brokenServer{
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
		// other adds go to an empty group, or follow a remove of the one
		// member, where add and replace agree.
		fail: []string{"okta-groups/Incremental push: add a member to a group that has one (path members): state"},
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
}
