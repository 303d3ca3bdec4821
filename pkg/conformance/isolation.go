package conformance

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The isolation suite checks, with a second provider's key
// (Options.IsolationToken, tenant B), that nothing of the first one's
// (tenant A, Options.Token) can be seen or changed.
const (
	checkIsoGetUser     = "Tenant B: GET of tenant A's user by id is 404"
	checkIsoGetGroup    = "Tenant B: GET of tenant A's group by id is 404"
	checkIsoFilterUser  = "Tenant B: a filter on tenant A's userName finds nothing"
	checkIsoFilterGroup = "Tenant B: a filter on tenant A's group displayName finds nothing"
	checkIsoListUsers   = "Tenant B: GET /Users lists none of tenant A's users"
	checkIsoListGroups  = "Tenant B: GET /Groups lists none of tenant A's groups"
	checkIsoPatchUser   = "Tenant B: PATCH of tenant A's user is 404, and the user is unchanged"
	checkIsoPutUser     = "Tenant B: PUT of tenant A's user is 404, and the user is unchanged"
	checkIsoDeleteUser  = "Tenant B: DELETE of tenant A's user is 404, and the user is still there"
	checkIsoPatchGroup  = "Tenant B: PATCH of tenant A's group is 404, and the group is unchanged"
	checkIsoPutGroup    = "Tenant B: PUT of tenant A's group is 404, and the group is unchanged"
	checkIsoDeleteGroup = "Tenant B: DELETE of tenant A's group is 404, and the group is still there"
	checkIsoMember      = "Tenant B: a group of B's cannot have tenant A's user as a member (4xx)"
)

// reasonNoIsolationKey is the note of the isolation checks of a run
// without a second key.
const reasonNoIsolationKey = "needs --isolation-key: the key of a second provider (tenant B) of the same server"

const isolationSource = "RFC 7644 §6 (multi-tenancy)"

var isolationSuite = &goSuite{
	name: "isolation",
	checks: []goCheck{
		{checkIsoGetUser, SeverityMust, isolationSource},
		{checkIsoGetGroup, SeverityMust, isolationSource},
		{checkIsoFilterUser, SeverityMust, isolationSource},
		{checkIsoFilterGroup, SeverityMust, isolationSource},
		{checkIsoListUsers, SeverityMust, isolationSource},
		{checkIsoListGroups, SeverityMust, isolationSource},
		{checkIsoPatchUser, SeverityMust, isolationSource},
		{checkIsoPutUser, SeverityMust, isolationSource},
		{checkIsoDeleteUser, SeverityMust, isolationSource},
		{checkIsoPatchGroup, SeverityMust, isolationSource},
		{checkIsoPutGroup, SeverityMust, isolationSource},
		{checkIsoDeleteGroup, SeverityMust, isolationSource},
		{checkIsoMember, SeverityMust, isolationSource},
	},
	run: runIsolation,
}

func runIsolation(ctx context.Context, g *goRun) {
	b := g.opts.IsolationToken
	switch {
	case b == "":
		g.skipAll(reasonNoIsolationKey)
		return
	case b == g.opts.Token:
		g.skipAll("the isolation key is the main key: give a second provider's")
		return
	}
	// A key the server refuses says nothing about isolation.
	if x := g.do(ctx, b, http.MethodGet, "/Users?count=1", nil); x.status == http.StatusUnauthorized || x.status == http.StatusForbidden || x.err != nil {
		g.failAll("tenant B's key: " + x.describe())
		return
	}
	tag := randomHex(4)
	userName := "kcs-iso-" + tag + "@example.com"
	display := "kcs-iso-" + tag + " user"
	uid, x := g.createUser(ctx, g.opts.Token, userName, map[string]any{"displayName": display})
	if uid == "" {
		g.skipAll("not run: setting up tenant A's user failed: " + x.describe())
		return
	}
	user := isoResource{path: "/Users/" + uid, id: uid, attr: "userName", value: userName}
	g.isoGet(ctx, checkIsoGetUser, user)
	g.isoFilter(ctx, checkIsoFilterUser, "/Users", user)
	g.isoList(ctx, checkIsoListUsers, "/Users", user)
	g.isoWrite(ctx, checkIsoPatchUser, http.MethodPatch, user, patchOp("replace", "displayName", "hijacked by tenant B"))
	g.isoWrite(ctx, checkIsoPutUser, http.MethodPut, user, map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "id": uid, "userName": "hijacked-" + userName, "displayName": "hijacked by tenant B"})
	groupChecks := []string{checkIsoGetGroup, checkIsoFilterGroup, checkIsoListGroups, checkIsoPatchGroup, checkIsoPutGroup, checkIsoDeleteGroup}
	if g.needs([]Capability{CapGroups}, append(groupChecks, checkIsoMember)...) {
		groupName := "kcs-iso-" + tag + " group"
		if gid, x := g.createGroup(ctx, g.opts.Token, groupName, []string{uid}); gid == "" {
			for _, n := range groupChecks {
				if g.wanted(n) {
					g.skip(n, "not run: setting up tenant A's group failed: "+x.describe())
				}
			}
		} else {
			group := isoResource{path: "/Groups/" + gid, id: gid, attr: "displayName", value: groupName, group: true}
			g.isoGet(ctx, checkIsoGetGroup, group)
			g.isoFilter(ctx, checkIsoFilterGroup, "/Groups", group)
			g.isoList(ctx, checkIsoListGroups, "/Groups", group)
			g.isoWrite(ctx, checkIsoPatchGroup, http.MethodPatch, group, patchOp("replace", "displayName", "hijacked by tenant B"))
			g.isoWrite(ctx, checkIsoPutGroup, http.MethodPut, group, map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "id": gid, "displayName": "hijacked by tenant B", "members": []any{}})
			g.isoWrite(ctx, checkIsoDeleteGroup, http.MethodDelete, group, nil)
		}
		g.isoMember(ctx, user)
	}
	g.isoWrite(ctx, checkIsoDeleteUser, http.MethodDelete, user, nil)
}

// isoResource is a resource of tenant A's.
type isoResource struct {
	path, id    string
	attr, value string // an attribute that identifies it, for a filter
	group       bool
}

func (g *goRun) isoGet(ctx context.Context, name string, res isoResource) {
	if !g.wanted(name) {
		return
	}
	c := g.check(name)
	x := g.do(ctx, g.opts.IsolationToken, http.MethodGet, res.path, nil)
	g.record(&c, x)
	if x.status != http.StatusNotFound {
		c.Failures = append(c.Failures, fmt.Sprintf("expected 404, got %s%s", x.describe(), leaked(x.doc, res)))
	}
	g.add(c)
}

func (g *goRun) isoFilter(ctx context.Context, name, endpoint string, res isoResource) {
	if !g.needs([]Capability{CapFilter}, name) || !g.wanted(name) {
		return
	}
	c := g.check(name)
	x := g.do(ctx, g.opts.IsolationToken, http.MethodGet, endpoint+"?filter="+url.QueryEscape(fmt.Sprintf("%s eq %q", res.attr, res.value)), nil)
	g.record(&c, x)
	switch {
	case x.status != http.StatusOK:
		c.Failures = append(c.Failures, "expected 200 with totalResults 0, got "+x.describe())
	case text(x.doc["totalResults"]) != "0" || len(resources(x.doc)) > 0:
		c.Failures = append(c.Failures, fmt.Sprintf("%s eq %q: expected totalResults 0, got %s and %d resources: tenant A's resource leaks to tenant B", res.attr, res.value, text(x.doc["totalResults"]), len(resources(x.doc))))
	}
	g.add(c)
}

// isoList pages through tenant B's list (at most 10 pages of 100) for
// tenant A's resource.
func (g *goRun) isoList(ctx context.Context, name, endpoint string, res isoResource) {
	if !g.wanted(name) {
		return
	}
	c := g.check(name)
	for start := 1; start < 1000; start += 100 {
		x := g.do(ctx, g.opts.IsolationToken, http.MethodGet, fmt.Sprintf("%s?startIndex=%d&count=100", endpoint, start), nil)
		g.record(&c, x)
		if x.status != http.StatusOK {
			c.Failures = append(c.Failures, "expected 200, got "+x.describe())
			break
		}
		page := resources(x.doc)
		if slices.ContainsFunc(page, func(m map[string]any) bool { return m["id"] == res.id }) {
			c.Failures = append(c.Failures, fmt.Sprintf("tenant A's %s %s is in tenant B's list", strings.TrimPrefix(endpoint, "/"), res.id))
			break
		}
		if len(page) < 100 {
			break
		}
	}
	g.add(c)
}

// isoWrite sends tenant B's write to tenant A's resource: it must be 404,
// and tenant A's read-back must be as before.
func (g *goRun) isoWrite(ctx context.Context, name, method string, res isoResource, body any) {
	if method == http.MethodPatch && !g.needs([]Capability{CapPatch}, name) || !g.wanted(name) {
		return
	}
	c := g.check(name)
	x := g.do(ctx, g.opts.IsolationToken, method, res.path, body)
	g.record(&c, x)
	if x.status != http.StatusNotFound {
		c.Failures = append(c.Failures, "expected 404, got "+x.describe())
	}
	back := g.do(ctx, g.opts.Token, http.MethodGet, res.path, nil)
	switch {
	case back.status != http.StatusOK:
		c.Failures = append(c.Failures, "tenant A's read-back: "+back.describe()+": tenant B's "+method+" changed it")
	case !strings.EqualFold(text(back.doc[res.attr]), res.value):
		c.Failures = append(c.Failures, fmt.Sprintf("tenant A's read-back: %s is %q, expected %q: tenant B's %s changed it", res.attr, text(back.doc[res.attr]), res.value, method))
	case !res.group && text(back.doc["displayName"]) == "hijacked by tenant B",
		res.group && len(memberIDs(back.doc)) != 1:
		c.Failures = append(c.Failures, "tenant A's read-back: tenant B's "+method+" changed it")
	}
	g.add(c)
}

// isoMember: tenant B creates a group with tenant A's user as a member.
func (g *goRun) isoMember(ctx context.Context, user isoResource) {
	if !g.wanted(checkIsoMember) {
		return
	}
	c := g.check(checkIsoMember)
	gid, x := g.createGroup(ctx, g.opts.IsolationToken, "kcs-iso-"+randomHex(4)+" of tenant B", []string{user.id})
	g.record(&c, x)
	if gid != "" || x.status < 400 || x.status >= 500 {
		c.Failures = append(c.Failures, "expected a 4xx, got "+x.describe())
		if slices.Contains(memberIDs(x.doc), user.id) {
			c.Failures = append(c.Failures, "tenant B's group holds tenant A's user "+user.id)
		}
	}
	g.add(c)
}

// leaked says what of res an answer shows.
func leaked(doc map[string]any, res isoResource) string {
	if doc != nil && doc["id"] == res.id {
		return fmt.Sprintf(": tenant A's resource (%s %q) leaks to tenant B", res.attr, text(doc[res.attr]))
	}
	return ""
}
