package conformance_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// brokenPatches are the broken servers whose bug is in PATCH: operations
// as Okta and Entra ID send them, group membership, atomicity.
var brokenPatches = []brokenServer{
	{
		name:   "path-less PATCH add/replace answered 400 invalidSyntax",
		source: "docs/interop-quirks.md rows 3, 4, 5",
		mw: bkRefuseOp("invalidSyntax", func(op map[string]any) bool {
			_, has := op["path"]
			return !has && !strings.EqualFold(bkText(op["op"]), "remove")
		}),
		// okta-lifecycle's first deactivation is the check: the rest of
		// the lifecycle waits on it, so the reactivation and the unassign
		// (the same PATCH) are skipped, not failed.
		fail: []string{
			"okta-lifecycle/Deactivate: path-less PATCH replace {active:false}",
			"okta-groups/Rename: path-less replace with id and displayName",
			"entra/Entra PATCH: path-less replace with dotted and URN-qualified keys",
		},
		skip: []string{
			"okta-lifecycle/Read back: the deactivated user is still there, active false",
			"okta-lifecycle/Reactivate: path-less PATCH replace {active:true}, same id",
			"okta-lifecycle/Read back: reactivated with the same id and attributes",
			"okta-lifecycle/Unassign: PATCH active false, the user stays (200 on GET)",
			"okta-groups/Rename: read back",
			"entra/Entra path-less keys read-back",
		},
	},
	{
		name:   "filtered member remove silently ignored",
		source: "docs/interop-quirks.md row 7",
		mw:     bkDropOps("Groups", "remove", func(path string, _ bool) bool { return strings.HasPrefix(strings.ToLower(path), "members[") }),
		// The SCIM view and the mapping view of the same leaver: both are
		// meant to catch it; so is the PATCH's state check, whose read-back
		// still lists the member.
		fail: []string{
			"concurrency/Concurrent member removes: exactly the members added and not removed remain",
			"okta-groups/Membership push: the member removed by filter is gone",
			"okta-groups/Membership push: the user removed by filter loses the group (directory)",
			"okta-groups/Membership push: remove by filter and add in one PATCH: state",
		},
	},
	{
		name:   "Entra's capitalised op refused",
		source: "docs/interop-quirks.md row 1",
		mw: bkRefuseOp("invalidSyntax", func(op map[string]any) bool {
			o := bkText(op["op"])
			return o != strings.ToLower(o)
		}),
		fail: []string{`entra/Entra PATCH: ops in any case ("Add", "Replace", "Remove")`},
		skip: []string{"entra/Entra PATCH read-back: every capitalised op was applied, none silently dropped"},
	},
	{
		name:   "string booleans refused",
		source: "docs/interop-quirks.md row 2",
		mw: bkRefuse(func(r *http.Request, body []byte) (int, string) {
			isStringBool := func(v any) bool {
				s, ok := v.(string)
				return ok && (strings.EqualFold(s, "true") || strings.EqualFold(s, "false"))
			}
			for _, op := range bkPatchOps(r, body) {
				if strings.EqualFold(bkText(op["path"]), "active") && isStringBool(op["value"]) {
					return http.StatusBadRequest, "invalidValue"
				}
				if m, ok := op["value"].(map[string]any); ok && isStringBool(m["active"]) {
					return http.StatusBadRequest, "invalidValue"
				}
			}
			if r.Method == http.MethodPost || r.Method == http.MethodPut {
				var doc map[string]any
				if json.Unmarshal(body, &doc) == nil && isStringBool(doc["active"]) {
					return http.StatusBadRequest, "invalidValue"
				}
			}
			return 0, ""
		}),
		fail: []string{`entra/Entra PATCH: disable with active as the string "False"`},
		skip: []string{"entra/Entra disable read-back: the user stays, active is JSON false"},
	},
	{
		name:   "deactivating PATCH deletes the user",
		source: "docs/interop-quirks.md row 21",
		mw: bkIntercept(bkOn(http.MethodPatch, "Users", true), func(next http.Handler, w http.ResponseWriter, r *http.Request) {
			deactivates := false
			for _, op := range bkPatchOps(r, bkReadBody(r)) {
				m, _ := op["value"].(map[string]any)
				if strings.EqualFold(bkText(op["path"]), "active") && strings.EqualFold(bkText(op["value"]), "false") ||
					m != nil && strings.EqualFold(bkText(m["active"]), "false") {
					deactivates = true
				}
			}
			if !deactivates {
				next.ServeHTTP(w, r)
				return
			}
			c := bkServe(next, bkInternal(r, http.MethodDelete, r.URL.Path, nil))
			c.write(w)
		}),
		// The user is gone: the read-back, the directory and the state
		// check's read-back (404) are meant to say so, and the steps after,
		// which work on that user, wait on the read-back.
		fail: []string{
			"okta-lifecycle/Deactivate: path-less PATCH replace {active:false}: directory user",
			"okta-lifecycle/Deactivate: path-less PATCH replace {active:false}: state",
			"okta-lifecycle/Read back: the deactivated user is still there, active false",
			`entra/Entra PATCH: disable with active as the string "False": directory user`,
			`entra/Entra PATCH: disable with active as the string "False": state`,
			"entra/Entra disable read-back: the user stays, active is JSON false",
		},
		skip: []string{
			"okta-lifecycle/Reactivate: path-less PATCH replace {active:true}, same id",
			"okta-lifecycle/Read back: reactivated with the same id and attributes",
			"okta-lifecycle/Unassign: PATCH active false, the user stays (200 on GET)",
			"entra/Entra delete: DELETE /Users/{id} is 204",
		},
	},
	{
		name:   "group member add answered 204 but not applied",
		source: "docs/interop-quirks.md row 1 (ory/polis#4070: group changes silently dropped); row 20",
		mw:     bkDropOps("Groups", "add", func(path string, _ bool) bool { return strings.EqualFold(path, "members") }),
		// The SCIM view, the mapping view and the state of each add
		// dropped.
		fail: []string{
			"concurrency/Concurrent member adds: 16 PATCH add to one group, every acknowledged member is in it",
			"concurrency/Concurrent member removes: exactly the members added and not removed remain",
			"okta-groups/Membership push: the added member is in",
			"okta-groups/Membership push: the added user gains the group (directory)",
			"okta-groups/Membership push: remove by filter and add in one PATCH: state",
			"okta-groups/Incremental push: add a member to a group that has one (path members): state",
			`entra/Entra member add: "$ref": null in members: directory user`,
			`entra/Entra member add: "$ref": null in members: state`,
			"entra/Entra member add read-back: the group has the three members",
		},
		// Entra's rename and removal expect the three members: they wait
		// on the add's read-back.
		skip: bkEntraAfterMemberAdd,
	},
	{
		name:   "remove members with a value wipes every member",
		source: "docs/interop-quirks.md row 6",
		mw: bkEditPatch(func(r *http.Request, ops []map[string]any) []map[string]any {
			if ep, _ := bkResource(r); ep != "Groups" {
				return ops
			}
			for _, op := range ops {
				if strings.EqualFold(bkText(op["op"]), "remove") && strings.EqualFold(bkText(op["path"]), "members") {
					delete(op, "value")
				}
			}
			return ops
		}),
		// The SCIM view, the mapping view and the state of the members
		// kept.
		fail: []string{
			"entra/Remove with a value keeps the other members",
			"entra/Entra member removal: the other members' Groups field keeps the group",
			`entra/Entra member removal: remove with path "members" and a value: state`,
		},
	},
	{
		name:   "remove without a path answered 204",
		source: "docs/interop-quirks.md row 34; RFC 7644 §3.5.2.2",
		mw:     bkDropOps("", "remove", func(_ string, has bool) bool { return !has }),
		fail:   []string{"rfc7644/PATCH remove without a path is 400 noTarget"},
	},
	{
		name:   `"$ref": null in members refused`,
		source: "docs/interop-quirks.md row 13",
		mw: bkRefuseOp("invalidValue", func(op map[string]any) bool {
			members, _ := op["value"].([]any)
			return slices.ContainsFunc(members, func(m any) bool {
				mm, _ := m.(map[string]any)
				ref, has := mm["$ref"]
				return has && ref == nil
			})
		}),
		fail: []string{`entra/Entra member add: "$ref": null in members`},
		skip: append([]string{
			"entra/Entra group lookup: displayName eq with excludedAttributes=members finds the group",
			"entra/Entra group read: GET /Groups/{id}?excludedAttributes=members",
			"entra/Entra member add read-back: the group has the three members",
		}, bkEntraAfterMemberAdd...),
	},
	{
		name:   "value-path replace ignored",
		source: "docs/interop-quirks.md row 8; RFC 7644 §3.5.2.3",
		mw:     bkDropOps("", "replace", func(path string, _ bool) bool { return strings.HasPrefix(strings.ToLower(path), "emails[") }),
		// Entra's dialect and the RFC each have their check; a server that
		// ignores value paths in a replace does not find that one matches
		// nothing either.
		fail: []string{
			"entra/Value-path replace changes the work email in place",
			`entra/Entra PATCH: replace emails[type eq "work"].value: state`,
			"rfc7644/PATCH replace read-back: only the matching element changed, value intact with its spaces",
			`rfc7644/PATCH replace with a value filter: emails[type eq "work"].value: state`,
			"rfc7644/PATCH replace whose value filter matches nothing is 400 noTarget",
		},
		skip: []string{"rfc7644/PATCH is atomic: an operation before the failing one is not applied"},
	},
	{
		name:   "replace whose filter matches nothing answered 204",
		source: "docs/interop-quirks.md row 9; RFC 7644 §3.5.2.3",
		mw: bkRewrite(bkIsPatch, func(r *http.Request, c *bkAnswer) {
			if doc, ok := c.object(); ok && c.status == http.StatusBadRequest && doc["scimType"] == "noTarget" {
				c.status, c.body = http.StatusNoContent, nil
				c.header.Del("Content-Type")
			}
		}),
		// The remove without a path is refused with noTarget too.
		fail: []string{
			"rfc7644/PATCH replace whose value filter matches nothing is 400 noTarget",
			"rfc7644/PATCH remove without a path is 400 noTarget",
		},
		skip: []string{"rfc7644/PATCH is atomic: an operation before the failing one is not applied"},
	},
	{
		name:   "PATCH not atomic: the operations before a failing one stay applied",
		source: "RFC 7644 §3.5.2",
		mw: bkIntercept(bkIsPatch, func(next http.Handler, w http.ResponseWriter, r *http.Request) {
			body := bkReadBody(r)
			c := bkServe(next, r)
			if c.status == http.StatusBadRequest {
				for _, op := range bkPatchOps(r, body) {
					one, _ := json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []any{op}})
					if bkServe(next, bkInternal(r, r.Method, r.URL.RequestURI(), one)).status >= 300 {
						break
					}
				}
			}
			c.write(w)
		}),
		fail: []string{"rfc7644/PATCH is atomic: an operation before the failing one is not applied"},
	},
	{
		name:   "PATCH with empty Operations refused",
		source: "docs/interop-quirks.md row 11 (the MS SCIM Validator sends it)",
		fail:   []string{"entra/Entra PATCH: an empty Operations list is a no-op (200 or 204)"},
		mw: bkRefuse(func(r *http.Request, body []byte) (int, string) {
			if r.Method == http.MethodPatch && len(bkPatchOps(r, body)) == 0 {
				return http.StatusBadRequest, "invalidSyntax"
			}
			return 0, ""
		}),
	},
	{
		name:   "group membership PATCH answered 200 with every member",
		source: "docs/interop-quirks.md row 20 (group PATCH should return 204)",
		// The other group PATCH steps accept 200 or 204 and judge no body:
		// the member add, the PATCH Entra sends most, is the check.
		fail: []string{"entra/Group PATCH answers without the member list (204)"},
		mw: bkIntercept(bkOn(http.MethodPatch, "Groups", true), func(next http.Handler, w http.ResponseWriter, r *http.Request) {
			c := bkServe(next, r)
			if c.status == http.StatusNoContent {
				c = bkServe(next, bkInternal(r, http.MethodGet, r.URL.Path, nil))
			}
			c.write(w)
		}),
	},
}
