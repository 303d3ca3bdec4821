package conformance_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kacescim/kacescim/pkg/scim"
)

// brokenLists are the broken servers whose bug is in listing and querying:
// filters, paging, sorting, attribute selection, list responses.
var brokenLists = []brokenServer{
	{
		name:   "empty list answered 404",
		source: "docs/interop-quirks.md row 14; row 23",
		mw: bkRewrite(bkIsList, func(r *http.Request, c *bkAnswer) {
			if doc, ok := c.object(); ok && bkIsListResponse(doc) && bkText(doc["totalResults"]) == "0" {
				c.scimError(http.StatusNotFound, "", "no resource matches the filter")
			}
		}),
		// Every suite looks up something that does not exist, as Okta and
		// Entra do before a create, and each such lookup is the check for
		// this bug: one per lookup the identity providers really send.
		fail: []string{
			"isolation/Tenant B: GET /Users lists none of tenant A's users",
			"isolation/Tenant B: GET /Groups lists none of tenant A's groups",
			"isolation/Tenant B: a filter on tenant A's userName finds nothing",
			"isolation/Tenant B: a filter on tenant A's group displayName finds nothing",
			"okta-spec/Required Test: Test invalid User by username",
			"okta-spec/Required Test: Make sure random user doesn't exist",
			// The SPEC test's Groups check runs against an empty /Groups.
			"okta-spec/Optional Test: Verify Groups endpoint",
			// Test API Credentials runs when the okta-spec users are gone:
			// Okta's connection test against an SP with no user yet
			// (row 23).
			"okta-lifecycle/Test API Credentials: GET /Users?startIndex=1&count=2",
			"okta-lifecycle/Assign: existence check finds nobody (200, totalResults 0)",
			"okta-groups/Group exists check: displayName eq finds nothing (200, totalResults 0)",
			"entra/Entra existence check: unknown userName is 200 with an empty list",
			"rfc7644/Filter matching nothing: 200 with totalResults 0",
		},
	},
	{
		name:   "totalResults written as a JSON string",
		source: "RFC 7644 §3.4.2; docs/okta-traffic.md §1.7, §3.6",
		mw: bkRewrite(bkIsGet, func(r *http.Request, c *bkAnswer) {
			if doc, ok := c.object(); ok && bkIsListResponse(doc) {
				doc["totalResults"] = bkText(doc["totalResults"])
				c.setJSON(doc)
			}
		}),
		// One check per suite judges the type; every other count is
		// compared as text.
		fail: []string{
			"okta-spec/Required Test: Test Users endpoint: totalResults is a number",
			"okta-lifecycle/Test API Credentials: totalResults is a number",
			"okta-groups/Group exists check: totalResults is a number",
			"rfc7644/ListResponse totalResults, itemsPerPage and startIndex are JSON numbers",
		},
	},
	{
		name:   "userName eq matched case-sensitively",
		source: "docs/interop-quirks.md row 18; RFC 7643 §4.1.1 (caseExact false)",
		mw:     bkCaseExactEq("Users", "userName", bkUserNameEq),
		// okta-spec's "Username Case Sensitivity Check" asks with the
		// userName in capitals but, like Okta's own SPEC test, asserts only
		// the status 200: it cannot catch this.
		fail: []string{"okta-lifecycle/Existence check now finds the user, whatever the case of userName"},
	},
	{
		name:   "excludedAttributes=members ignored on GET /Groups/{id}",
		source: "docs/interop-quirks.md row 19; RFC 7644 §3.4.2.5",
		mw: bkEditQuery(func(r *http.Request, q url.Values) {
			if ep, id := bkResource(r); ep == "Groups" && id != "" {
				q.Del("excludedAttributes")
			}
		}),
		fail: []string{
			"okta-groups/excludedAttributes=members leaves the members out",
			"entra/excludedAttributes=members leaves members out of a group",
		},
	},
	{
		name:   "excludedAttributes=members ignored on GET /Groups (a list)",
		source: "docs/interop-quirks.md row 19; RFC 7644 §3.4.2.5",
		mw: bkEditQuery(func(r *http.Request, q url.Values) {
			if ep, id := bkResource(r); ep == "Groups" && id == "" {
				q.Del("excludedAttributes")
			}
		}),
		fail: []string{"entra/excludedAttributes=members leaves members out of a list"},
	},
	{
		name:   "sortBy ignored although /ServiceProviderConfig claims sort",
		source: "RFC 7644 §3.4.2.3",
		mw: bkEditQuery(func(r *http.Request, q url.Values) {
			q.Del("sortBy")
			q.Del("sortOrder")
		}),
		// Three orders asked for, three wrong answers.
		fail: []string{
			"rfc7644/sortBy=userName sorts ascending by default",
			"rfc7644/sortOrder=descending",
			"rfc7644/sortBy another attribute (displayName)",
		},
	},
	{
		name:   "sortOrder ignored",
		source: "RFC 7644 §3.4.2.3",
		mw: bkEditQuery(func(r *http.Request, q url.Values) {
			q.Del("sortOrder")
		}),
		fail: []string{"rfc7644/sortOrder=descending"},
	},
	{
		name:   "startIndex taken as 0-based",
		source: "RFC 7644 §3.4.2.4",
		mw: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				asked := q.Get("startIndex")
				n, err := strconv.Atoi(asked)
				if !bkIsList(r) || err != nil {
					next.ServeHTTP(w, r)
					return
				}
				q.Set("startIndex", strconv.Itoa(n+1))
				r.URL.RawQuery = q.Encode()
				c := bkServe(next, r)
				if doc, ok := c.object(); ok && bkIsListResponse(doc) {
					doc["startIndex"] = n
					c.setJSON(doc)
				}
				c.write(w)
			})
		},
		// Okta sends startIndex=1 with every lookup: a 0-based server
		// misses the first match of each, which is what Okta's own SPEC
		// test, the lifecycle's existence check and Group Push's lookup
		// all see.
		fail: []string{
			"okta-spec/Required Test: Test Users endpoint",
			"okta-lifecycle/Existence check now finds the user, whatever the case of userName",
			"okta-lifecycle/Import: one page with count=100 lists the three users once each",
			"okta-groups/Group exists check: displayName eq finds the pushed group",
			"rfc7644/startIndex=3&count=2 returns the last, partial page",
			"rfc7644/startIndex=0 is taken as 1",
			// Every page misses one: the walk ends a resource short.
			"lists/Paging /Users 2 at a time: every page's totalResults is the number of users the pages hold",
			"lists/Paging /Users 2 at a time: each of the run's users on one page, none on two",
			"lists/Paging /Groups 2 at a time: every page's totalResults is the number of groups the pages hold",
			"lists/Paging /Groups 2 at a time: each of the run's groups on one page, none on two",
		},
		skip: []string{
			"okta-spec/Required Test: Get Users/{{id}}",
			// The pages are compared with the order of the first page,
			// which missed a user.
			"okta-lifecycle/Import: page startIndex=1&count=1 holds the first user of that order",
			"okta-lifecycle/Import: page startIndex=2&count=1 holds the second user of that order",
			"okta-lifecycle/Import: page startIndex=3&count=1 holds the third user of that order",
			"okta-groups/Group exists check: displayName eq in capitals finds the same group",
		},
	},
	{
		name:   "count ignored",
		source: "RFC 7644 §3.4.2.4",
		mw: bkEditQuery(func(r *http.Request, q url.Values) {
			q.Del("count")
		}),
		// okta-lifecycle's "Test API Credentials: at most count=2 users"
		// cannot catch it (it runs when there are no users); the import
		// paging asks again once there are three. The import's pages of
		// one user compare their first id only, so they pass.
		fail: []string{
			"okta-lifecycle/Import: count=2 returns at most 2 users once there are more",
			"rfc7644/startIndex=1&count=2 returns the first page",
			"rfc7644/count=0 returns totalResults and no resources",
			"rfc7644/A negative count is taken as 0",
		},
	},
	{
		name:   "count ignored on an unfiltered list (Okta's import)",
		source: "docs/okta-traffic.md §1.1, §1.7; RFC 7644 §3.4.2.4",
		mw: bkEditQuery(func(r *http.Request, q url.Values) {
			if bkIsList(r) && q.Get("filter") == "" {
				q.Del("count")
			}
		}),
		// Every other count is asked with a filter; Test API Credentials
		// and the SPEC test's first page run when there are at most as
		// many users as they ask for.
		fail: []string{"okta-lifecycle/Import: count=2 returns at most 2 users once there are more"},
	},
	{
		name:   "order of a list without sortBy changes from page to page",
		source: "docs/okta-traffic.md §1.7 (\"consistently return the same ordering of results … regardless of which values are provided for the count and startIndex\")",
		mw: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				count, err := strconv.Atoi(q.Get("count"))
				start, _ := strconv.Atoi(q.Get("startIndex"))
				if !bkIsList(r) || q.Get("sortBy") != "" || err != nil || count < 1 || start <= 1 {
					next.ServeHTTP(w, r)
					return
				}
				// The pages after the first are cut from the whole list in
				// the opposite order: every page is well formed, and the
				// pages together miss some resources and repeat others.
				q.Del("startIndex")
				q.Set("count", "1000")
				all := bkServe(next, bkInternal(r, http.MethodGet, r.URL.Path+"?"+q.Encode(), nil))
				doc, ok := all.object()
				res, _ := doc["Resources"].([]any)
				if !ok || all.status != http.StatusOK || !bkIsListResponse(doc) || len(res) <= count {
					next.ServeHTTP(w, r)
					return
				}
				slices.Reverse(res)
				from := min(start-1, len(res))
				to := min(from+count, len(res))
				doc["Resources"], doc["startIndex"], doc["itemsPerPage"] = res[from:to], start, to-from
				all.setJSON(doc)
				all.write(w)
			})
		},
		// The import's third page holds the first user; the second page,
		// in the middle, holds the right one either way. rfc7644's last
		// partial page is judged by its length. The lists suite's walks
		// see some resources twice and others not at all.
		fail: []string{
			"okta-lifecycle/Import: page startIndex=3&count=1 holds the third user of that order",
			"lists/Paging /Users 2 at a time: every page's totalResults is the number of users the pages hold",
			"lists/Paging /Users 2 at a time: each of the run's users on one page, none on two",
			"lists/Paging /Groups 2 at a time: every page's totalResults is the number of groups the pages hold",
			"lists/Paging /Groups 2 at a time: each of the run's groups on one page, none on two",
		},
	},
	{
		name:   "filter on a URN-qualified extension attribute refused",
		source: "docs/interop-quirks.md row 26",
		mw: bkRefuse(func(r *http.Request, body []byte) (int, string) {
			if bkIsList(r) && strings.HasPrefix(strings.ToLower(r.URL.Query().Get("filter")), "urn:") {
				return http.StatusBadRequest, "invalidFilter"
			}
			return 0, ""
		}),
		fail: []string{"entra/Entra filter: URN-qualified extension attribute (employeeNumber eq)"},
	},
	{
		name:   "filter on an unknown attribute answered with an empty list",
		source: "RFC 7644 §3.12 (invalidFilter)",
		mw: bkRewrite(bkIsList, func(r *http.Request, c *bkAnswer) {
			if doc, ok := c.object(); ok && c.status == http.StatusBadRequest && doc["scimType"] == "invalidFilter" && !strings.Contains(r.URL.Query().Get("filter"), "(") {
				c.status = http.StatusOK
				c.setJSON(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"}, "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []any{}})
			}
		}),
		fail: []string{"rfc7644/Filter on an unknown attribute is 400 invalidFilter"},
	},
	{
		name:   "group displayName eq matched case-sensitively",
		source: "docs/interop-quirks.md row 18 (\"and so must group displayName\")",
		fail:   []string{"okta-groups/Group exists check: displayName eq in capitals finds the same group"},
		mw:     bkCaseExactEq("Groups", "displayName", bkDisplayNameEq),
	},
	{
		name:   "totalResults counts deleted resources",
		source: "RFC 7644 §3.4.2.4 (totalResults: the results matching the query), §3.6",
		// The count query forgets the deleted flag the list query keeps:
		// the pages are right, their total is not.
		mw: bkSoftDelete(func(d *bkDeleted, next http.Handler, w http.ResponseWriter, r *http.Request) {
			c := bkServe(next, r)
			if doc, ok := c.object(); ok && bkIsListResponse(doc) {
				n, _ := strconv.Atoi(bkText(doc["totalResults"]))
				doc["totalResults"] = n + len(d.matching(r))
				c.setJSON(doc)
			}
			c.write(w)
		}),
		fail: []string{
			"lists/Paging /Users 2 at a time: every page's totalResults is the number of users the pages hold",
			"lists/Paging /Groups 2 at a time: every page's totalResults is the number of groups the pages hold",
		},
	},
	{
		name:   "each page after the first starts one early, repeating the last item of the page before",
		source: "RFC 7644 §3.4.2.4 (startIndex: the 1-based index of the first query result)",
		mw: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				n, err := strconv.Atoi(q.Get("startIndex"))
				if !bkIsList(r) || err != nil || n <= 1 {
					next.ServeHTTP(w, r)
					return
				}
				// The offset is computed as startIndex-2; the answer echoes
				// the startIndex asked for.
				q.Set("startIndex", strconv.Itoa(n-1))
				r.URL.RawQuery = q.Encode()
				c := bkServe(next, r)
				if doc, ok := c.object(); ok && bkIsListResponse(doc) {
					doc["startIndex"] = n
					c.setJSON(doc)
				}
				c.write(w)
			})
		},
		// The import's pages of one user and rfc7644's last page see it
		// too; the lists suite alone pages through groups.
		fail: []string{
			"lists/Paging /Users 2 at a time: each of the run's users on one page, none on two",
			"lists/Paging /Groups 2 at a time: each of the run's groups on one page, none on two",
			"okta-lifecycle/Import: page startIndex=2&count=1 holds the second user of that order",
			"okta-lifecycle/Import: page startIndex=3&count=1 holds the third user of that order",
			"rfc7644/startIndex=3&count=2 returns the last, partial page",
		},
	},
	{
		name:   "a plain GET /Groups lists deleted groups",
		source: "RFC 7644 §3.6 (a deleted resource is not returned by any query)",
		// The filters go to a search index that drops a deleted group;
		// the unfiltered list reads a table that keeps it, soft-deleted:
		// only a walk of the plain list shows it.
		mw: bkSoftDelete(func(d *bkDeleted, next http.Handler, w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if ep, _ := bkResource(r); ep != "Groups" || q.Get("filter") != "" {
				next.ServeHTTP(w, r)
				return
			}
			start, _ := strconv.Atoi(q.Get("startIndex"))
			count, err := strconv.Atoi(q.Get("count"))
			q.Set("startIndex", "1")
			q.Set("count", "1000")
			all := bkServe(next, bkInternal(r, http.MethodGet, r.URL.Path+"?"+q.Encode(), nil))
			doc, ok := all.object()
			if !ok || all.status != http.StatusOK || !bkIsListResponse(doc) {
				all.write(w)
				return
			}
			res, _ := doc["Resources"].([]any)
			for _, g := range d.matching(r) {
				res = append(res, g)
			}
			from := min(max(start, 1)-1, len(res))
			to := len(res)
			if err == nil {
				to = min(from+max(count, 0), len(res))
			}
			doc["Resources"], doc["totalResults"], doc["startIndex"], doc["itemsPerPage"] = res[from:to], len(res), from+1, to-from
			all.setJSON(doc)
			all.write(w)
		}),
		fail: []string{"lists/After DELETE /Groups/{id}: the group is on no page of GET /Groups"},
	},
	{
		name:   "itemsPerPage is the count asked for, not the number of resources on the page",
		source: "RFC 7644 §3.4.2.4 (itemsPerPage: the number of query results returned in the page)",
		mw: bkRewrite(func(r *http.Request) bool { return bkIsList(r) && r.URL.Query().Has("count") }, func(r *http.Request, c *bkAnswer) {
			if doc, ok := c.object(); ok && bkIsListResponse(doc) {
				doc["itemsPerPage"], _ = strconv.Atoi(r.URL.Query().Get("count"))
				c.setJSON(doc)
			}
		}),
		fail: []string{
			"lists/Paging /Users 2 at a time: each page's itemsPerPage is its number of Resources, its startIndex the one asked for",
			"lists/Paging /Groups 2 at a time: each page's itemsPerPage is its number of Resources, its startIndex the one asked for",
		},
	},
	{
		name:   "meta.location in a list built from the userName or displayName, not the id",
		source: "RFC 7643 §3.1 (meta.location: the URI of the resource)",
		// The list's own serializer gets it wrong; a single resource's
		// answers are right, so the 201 and read-back checks pass.
		mw: bkRewrite(bkIsList, func(r *http.Request, c *bkAnswer) {
			doc, ok := c.object()
			if !ok || !bkIsListResponse(doc) {
				return
			}
			for _, v := range doc["Resources"].([]any) {
				m, _ := v.(map[string]any)
				meta, _ := m["meta"].(map[string]any)
				loc, id := bkText(meta["location"]), bkText(m["id"])
				if meta == nil || !strings.HasSuffix(loc, "/"+id) {
					continue
				}
				name := bkText(m["userName"])
				if name == "" {
					name = bkText(m["displayName"])
				}
				meta["location"] = strings.TrimSuffix(loc, id) + url.PathEscape(name)
			}
			c.setJSON(doc)
		}),
		fail: []string{"lists/meta.location of a listed user or group answers it: a GET of it returns the same id"},
	},
}

// bkDeleted remembers the resources a broken server deleted, as they were
// before, by key and endpoint: a soft delete.
type bkDeleted struct {
	mu   sync.Mutex
	docs map[string][]map[string]any
}

func bkDeletedKey(r *http.Request) string {
	ep, _ := bkResource(r)
	return r.Header.Get("Authorization") + " " + ep
}

// matching are the deleted resources of r's key and endpoint that r's
// filter (if any) matches.
func (d *bkDeleted) matching(r *http.Request) []map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	all := d.docs[bkDeletedKey(r)]
	f := r.URL.Query().Get("filter")
	if f == "" {
		return slices.Clone(all)
	}
	expr, err := scim.ParseFilter(f)
	if err != nil {
		return nil
	}
	rt := scim.UserResourceType()
	if ep, _ := bkResource(r); ep == "Groups" {
		rt = scim.GroupResourceType()
	}
	var out []map[string]any
	for _, doc := range all {
		if ok, _ := scim.Match(rt, expr, doc); ok {
			out = append(out, doc)
		}
	}
	return out
}

// bkSoftDelete makes a server that remembers what it deletes (a DELETE
// of a user or group: the resource as a GET showed it before) and hands
// the lists of users and groups to list.
func bkSoftDelete(list func(d *bkDeleted, next http.Handler, w http.ResponseWriter, r *http.Request)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		d := &bkDeleted{docs: map[string][]map[string]any{}}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ep, id := bkResource(r)
			switch {
			case bkIsList(r):
				list(d, next, w, r)
			case r.Method == http.MethodDelete && id != "" && (ep == "Users" || ep == "Groups"):
				before := bkServe(next, bkInternal(r, http.MethodGet, r.URL.Path, nil))
				c := bkServe(next, r)
				if doc, ok := before.object(); ok && before.status == http.StatusOK && c.status < 300 {
					d.mu.Lock()
					d.docs[bkDeletedKey(r)] = append(d.docs[bkDeletedKey(r)], doc)
					d.mu.Unlock()
				}
				c.write(w)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}
