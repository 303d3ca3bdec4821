package conformance

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The lists suite pages through /Users and /Groups a few at a time over
// resources it creates, one of each deleted first, and checks that the
// pages add up: what Okta's and Entra's imports rely on, and what one
// list request, as the scenarios send, cannot show.
const (
	checkListUsersTotal   = "Paging /Users 2 at a time: every page's totalResults is the number of users the pages hold"
	checkListUsersOnce    = "Paging /Users 2 at a time: each of the run's users on one page, none on two"
	checkListUsersPage    = "Paging /Users 2 at a time: each page's itemsPerPage is its number of Resources, its startIndex the one asked for"
	checkListUserDeleted  = "After DELETE /Users/{id}: the user is on no page of GET /Users"
	checkListGroupsTotal  = "Paging /Groups 2 at a time: every page's totalResults is the number of groups the pages hold"
	checkListGroupsOnce   = "Paging /Groups 2 at a time: each of the run's groups on one page, none on two"
	checkListGroupsPage   = "Paging /Groups 2 at a time: each page's itemsPerPage is its number of Resources, its startIndex the one asked for"
	checkListGroupDeleted = "After DELETE /Groups/{id}: the group is on no page of GET /Groups"
	checkListLocation     = "meta.location of a listed user or group answers it: a GET of it returns the same id"
)

const (
	sourceListTotal = "RFC 7644 §3.4.2 (totalResults: REQUIRED), §3.4.2.4 (the total number of results matching the query)"
	sourceListOnce  = "RFC 7644 §3.4.2.4 (startIndex: the 1-based index of the first query result)"
	sourceListPage  = "RFC 7644 §3.4.2 (itemsPerPage, startIndex: REQUIRED when partial results are returned), §3.4.2.4"
)

var listsSuite = &goSuite{
	name: "lists",
	checks: []goCheck{
		{checkListUsersTotal, SeverityMust, sourceListTotal},
		{checkListUsersOnce, SeverityMust, sourceListOnce},
		{checkListUsersPage, SeverityMust, sourceListPage},
		{checkListUserDeleted, SeverityMust, "RFC 7644 §3.6 (a deleted resource is not returned by any query)"},
		{checkListGroupsTotal, SeverityMust, sourceListTotal},
		{checkListGroupsOnce, SeverityMust, sourceListOnce},
		{checkListGroupsPage, SeverityMust, sourceListPage},
		{checkListGroupDeleted, SeverityMust, "RFC 7644 §3.6 (a deleted resource is not returned by any query)"},
		{checkListLocation, SeverityMust, "RFC 7643 §3.1 (meta.location: the URI of the resource)"},
	},
	run: runLists,
}

// listPageSize is the count the walks ask for: small, so that the few
// resources of the run span several pages, the last one partial.
const listPageSize = 2

// listKind is what the suite does with one endpoint.
type listKind struct {
	endpoint, attr, noun string
	// made is how many the suite creates; the last is deleted before the
	// walk, and the rest, not a multiple of listPageSize, end in a partial
	// page.
	made                       int
	total, once, page, deleted string
}

var (
	listUsers  = listKind{"/Users", "userName", "user", 6, checkListUsersTotal, checkListUsersOnce, checkListUsersPage, checkListUserDeleted}
	listGroups = listKind{"/Groups", "displayName", "group", 4, checkListGroupsTotal, checkListGroupsOnce, checkListGroupsPage, checkListGroupDeleted}
)

func (k listKind) checks() []string { return []string{k.total, k.once, k.page, k.deleted} }

func runLists(ctx context.Context, g *goRun) {
	prefix := "kcs-lists-" + randomHex(4) + "-"
	want := map[string]bool{}
	for _, n := range listUsers.checks() {
		want[n] = g.wanted(n)
	}
	kinds := []listKind{listUsers}
	if g.needs([]Capability{CapGroups}, listGroups.checks()...) {
		kinds = append(kinds, listGroups)
		for _, n := range listGroups.checks() {
			want[n] = g.wanted(n)
		}
	}
	wantLoc := g.wanted(checkListLocation)
	loc := g.check(checkListLocation)
	followed := 0
	for _, k := range kinds {
		if !slices.ContainsFunc(k.checks(), func(n string) bool { return want[n] }) && !wantLoc {
			continue
		}
		listed, ok := g.listEndpoint(ctx, k, prefix, want)
		if !ok || !wantLoc {
			continue
		}
		followed += g.listLocations(ctx, &loc, listed)
	}
	if !wantLoc {
		return
	}
	if followed == 0 && len(loc.Failures) == 0 {
		loc.Status = StatusSkip
		loc.Notes = append(loc.Notes, "not run: no listed resource of the run's had a meta.location under the base URL")
	}
	g.add(loc)
}

// listEndpoint creates k's resources, deletes the last, pages through the
// rest and judges the pages. It returns the run's resources as the walk
// listed them, and whether the setup worked.
func (g *goRun) listEndpoint(ctx context.Context, k listKind, prefix string, want map[string]bool) ([]map[string]any, bool) {
	ids := make([]string, k.made)
	for i := range ids {
		var x *exchange
		if k.noun == "user" {
			ids[i], x = g.createUser(ctx, g.opts.Token, fmt.Sprintf("%su%d@example.com", prefix, i+1), nil)
		} else {
			ids[i], x = g.createGroup(ctx, g.opts.Token, fmt.Sprintf("%sg%d", prefix, i+1), nil)
		}
		if ids[i] == "" {
			for _, n := range k.checks() {
				if want[n] {
					g.skip(n, "not run: setting up failed: "+x.describe())
				}
			}
			return nil, false
		}
	}
	gone, kept := ids[len(ids)-1], ids[:len(ids)-1]
	del := g.do(ctx, g.opts.Token, http.MethodDelete, k.endpoint+"/"+gone, nil)
	if !del.ok() {
		// Still there: the walk must hold it.
		kept = ids
	}

	w := g.listWalk(ctx, k, prefix)
	if w.bad != nil {
		for _, n := range []string{k.total, k.once, k.page} {
			if want[n] {
				c := g.check(n)
				g.record(&c, w.bad)
				c.Failures = append(c.Failures, "expected 200 with a ListResponse, got "+w.bad.describe())
				g.add(c)
			}
		}
	} else if len(w.pages) > 0 {
		g.judgeListPages(k, w, kept, want)
	}
	if want[k.deleted] {
		g.judgeListDeleted(ctx, k, w, gone, del)
	}
	var listed []map[string]any
	for _, p := range w.pages {
		for _, d := range p.docs {
			if id, _ := d["id"].(string); slices.Contains(kept, id) && !slices.ContainsFunc(listed, func(m map[string]any) bool { return m["id"] == id }) {
				listed = append(listed, d)
			}
		}
	}
	return listed, true
}

// listWalk is one walk through a list, page by page.
type listWalk struct {
	pages []listPage
	bad   *exchange // a page that was not a 200
	// complete is false when the walk stopped at its page limit.
	complete bool
	// notes say how the walk was made, when not as meant.
	notes []string
}

type listPage struct {
	start int // the startIndex asked for
	x     *exchange
	docs  []map[string]any
	ids   []string
}

// listWalk pages through k's endpoint, listPageSize at a time. A filter
// on the run's prefix keeps other resources of the tenant, and their
// changes during the walk, out of it; a server that cannot filter with
// sw is walked whole, in pages sized so that the walk stays short.
func (g *goRun) listWalk(ctx context.Context, k listKind, prefix string) listWalk {
	var notes []string
	if c, why, missing := g.missingCap([]Capability{CapFilter}); missing {
		notes = append(notes, fmt.Sprintf("paged without a filter (needs %s: %s)", c, why))
	} else {
		w := g.walk(ctx, k.endpoint, fmt.Sprintf("%s sw %q", k.attr, prefix), listPageSize, 20)
		if w.bad == nil || len(w.pages) > 0 {
			return w
		}
		notes = append(notes, fmt.Sprintf("paged without a filter: the filter %s sw: %s", k.attr, w.bad.describe()))
	}
	probe := g.do(ctx, g.opts.Token, http.MethodGet, k.endpoint+"?startIndex=1&count=1", nil)
	n, err := strconv.Atoi(text(probe.doc["totalResults"]))
	if probe.status != http.StatusOK || err != nil {
		return listWalk{bad: probe, notes: notes}
	}
	// At most 40 pages, 2 at a time unless the list is longer than 80.
	w := g.walk(ctx, k.endpoint, "", max(listPageSize, (n+39)/40), 40)
	w.notes = append(notes, "other clients' changes during the walk would show in these checks too")
	return w
}

// walk asks endpoint for pages of count with filter (none: ""), at most
// maxPages of them, until a page is empty or totalResults are listed.
func (g *goRun) walk(ctx context.Context, endpoint, filter string, count, maxPages int) listWalk {
	var w listWalk
	total := -1
	for start := 1; len(w.pages) < maxPages; {
		q := "?startIndex=" + strconv.Itoa(start) + "&count=" + strconv.Itoa(count)
		if filter != "" {
			q += "&filter=" + url.QueryEscape(filter)
		}
		x := g.do(ctx, g.opts.Token, http.MethodGet, endpoint+q, nil)
		if x.status != http.StatusOK {
			w.bad = x
			return w
		}
		p := listPage{start: start, x: x, docs: resources(x.doc)}
		for _, d := range p.docs {
			id, _ := d["id"].(string)
			p.ids = append(p.ids, id)
		}
		w.pages = append(w.pages, p)
		if total < 0 {
			total, _ = strconv.Atoi(text(x.doc["totalResults"]))
		}
		start += len(p.docs)
		if len(p.docs) == 0 || start > total {
			w.complete = true
			return w
		}
	}
	return w
}

// judgeListPages judges the three paging checks of k on w: kept are the
// ids of the run's resources that must be listed.
func (g *goRun) judgeListPages(k listKind, w listWalk, kept []string, want map[string]bool) {
	first := w.pages[0]
	seen := map[string][]int{} // id → the startIndex of each page it is on
	for _, p := range w.pages {
		for _, id := range p.ids {
			seen[id] = append(seen[id], p.start)
		}
	}
	report := func(name string, judge func(c *Check) *exchange) {
		if !want[name] {
			return
		}
		c := g.check(name)
		c.Notes = append(c.Notes, w.notes...)
		bad := judge(&c)
		if bad == nil {
			bad = first.x
		}
		g.record(&c, bad)
		if !w.complete && len(c.Failures) == 0 {
			c.Notes = append(c.Notes, fmt.Sprintf("the walk stopped after %d pages", len(w.pages)))
		}
		g.add(c)
	}
	report(k.total, func(c *Check) *exchange {
		var bad *exchange
		total := text(first.x.doc["totalResults"])
		for _, p := range w.pages[1:] {
			if t := text(p.x.doc["totalResults"]); t != total {
				c.Failures = append(c.Failures, fmt.Sprintf("the page at startIndex=%d says totalResults %s, the first page %s", p.start, t, total))
				bad = firstOf(bad, p.x)
			}
		}
		if w.complete && total != strconv.Itoa(len(seen)) {
			c.Failures = append(c.Failures, fmt.Sprintf("totalResults is %s, but the %d pages hold %d %ss", total, len(w.pages), len(seen), k.noun))
		}
		return bad
	})
	report(k.once, func(c *Check) *exchange {
		var bad *exchange
		for _, id := range slices.Sorted(maps.Keys(seen)) {
			if on := seen[id]; len(on) > 1 {
				c.Failures = append(c.Failures, fmt.Sprintf("%s %s is on %d pages (startIndex %s)", k.noun, id, len(on), joinInts(on)))
				bad = firstOf(bad, w.pageAt(on[1]).x)
			}
		}
		if w.complete {
			for _, id := range kept {
				if len(seen[id]) == 0 {
					c.Failures = append(c.Failures, fmt.Sprintf("the run's %s %s is on no page", k.noun, id))
				}
			}
		}
		return bad
	})
	report(k.page, func(c *Check) *exchange {
		var bad *exchange
		total, _ := strconv.Atoi(text(first.x.doc["totalResults"]))
		for _, p := range w.pages {
			partial := len(p.docs) < total
			ipp, hasIPP := p.x.doc["itemsPerPage"]
			si, hasSI := p.x.doc["startIndex"]
			var f []string
			switch {
			case hasIPP && text(ipp) != strconv.Itoa(len(p.docs)):
				f = append(f, fmt.Sprintf("itemsPerPage %s with %d Resources", text(ipp), len(p.docs)))
			case !hasIPP && partial:
				f = append(f, fmt.Sprintf("no itemsPerPage, with %d of %d results", len(p.docs), total))
			}
			switch {
			case hasSI && text(si) != strconv.Itoa(p.start):
				f = append(f, fmt.Sprintf("startIndex %s", text(si)))
			case !hasSI && partial:
				f = append(f, fmt.Sprintf("no startIndex, with %d of %d results", len(p.docs), total))
			}
			if len(f) > 0 {
				c.Failures = append(c.Failures, fmt.Sprintf("the page asked with startIndex=%d&count=%d: %s", p.start, listPageSize, strings.Join(f, ", ")))
				bad = firstOf(bad, p.x)
			}
		}
		return bad
	})
}

// judgeListDeleted checks that the deleted resource gone is on no page of
// the walk, nor of the plain list, unfiltered, as an import reads it.
func (g *goRun) judgeListDeleted(ctx context.Context, k listKind, w listWalk, gone string, del *exchange) {
	c := g.check(k.deleted)
	g.record(&c, del)
	if !del.ok() {
		c.Failures = append(c.Failures, "the DELETE: expected 204, got "+del.describe())
		g.add(c)
		return
	}
	on := func(w listWalk) *listPage {
		for i, p := range w.pages {
			if slices.Contains(p.ids, gone) {
				return &w.pages[i]
			}
		}
		return nil
	}
	if p := on(w); p != nil {
		g.record(&c, p.x)
		c.Failures = append(c.Failures, fmt.Sprintf("the deleted %s %s is on the page at startIndex=%d of the walk", k.noun, gone, p.start))
	}
	plain := g.walk(ctx, k.endpoint, "", 100, 20)
	switch p := on(plain); {
	case plain.bad != nil:
		g.record(&c, plain.bad)
		c.Failures = append(c.Failures, "the plain list: expected 200, got "+plain.bad.describe())
	case p != nil:
		g.record(&c, p.x)
		c.Failures = append(c.Failures, fmt.Sprintf("the deleted %s %s is listed by GET %s?startIndex=%d&count=100", k.noun, gone, k.endpoint, p.start))
	case !plain.complete:
		c.Notes = append(c.Notes, fmt.Sprintf("the plain list was read as far as %d pages of 100", len(plain.pages)))
	}
	g.add(c)
}

// listLocations follows the meta.location of each listed resource, when
// it is under the base URL (the key goes nowhere else), and fails c
// unless the GET answers the same resource. It returns how many it
// followed.
func (g *goRun) listLocations(ctx context.Context, c *Check, listed []map[string]any) int {
	base, err := url.Parse(g.base + "/")
	if err != nil {
		return 0
	}
	n, failed := 0, len(c.Failures) > 0
	for _, d := range listed {
		id, _ := d["id"].(string)
		meta, _ := d["meta"].(map[string]any)
		raw, _ := meta["location"].(string)
		if raw == "" {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: no meta.location in the list", id))
			continue
		}
		u, err := base.Parse(raw)
		rel, under := "", false
		if err == nil {
			rel, under = strings.CutPrefix(u.String(), strings.TrimSuffix(base.String(), "/"))
		}
		if !under || rel != "" && !strings.HasPrefix(rel, "/") {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: meta.location %q is not under the base URL: not followed", id, raw))
			continue
		}
		n++
		x := g.do(ctx, g.opts.Token, http.MethodGet, rel, nil)
		if c.Request == nil {
			g.record(c, x)
		}
		switch got, _ := x.doc["id"].(string); {
		case x.status != http.StatusOK:
			c.Failures = append(c.Failures, fmt.Sprintf("meta.location %q of %s: expected 200, got %s", raw, id, x.describe()))
		case got != id:
			c.Failures = append(c.Failures, fmt.Sprintf("meta.location %q of %s answers id %q", raw, id, got))
		default:
			continue
		}
		// The request shown is the first that failed.
		if !failed {
			g.record(c, x)
			failed = true
		}
	}
	return n
}

// pageAt is the page asked at start.
func (w listWalk) pageAt(start int) listPage {
	for _, p := range w.pages {
		if p.start == start {
			return p
		}
	}
	return w.pages[0]
}

// firstOf is a, or b when a is nil: the first of the exchanges that
// failed.
func firstOf(a, b *exchange) *exchange {
	if a != nil {
		return a
	}
	return b
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
