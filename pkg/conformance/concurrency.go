package conformance

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
)

// The concurrency suite sends requests at once (concurrency of them) and
// checks that none of them is lost: the races no scenario can show.
const (
	checkMemberAdds    = "Concurrent member adds: 16 PATCH add to one group, every acknowledged member is in it"
	checkMemberRemoves = "Concurrent member removes: exactly the members added and not removed remain"
	checkUserPatches   = "Concurrent PATCHes to one user, each a different attribute: every acknowledged change is kept"
	checkValueAdds     = "Concurrent adds to one multi-valued attribute (a user's roles): every acknowledged value is kept"
	checkUniqueCreate  = "Concurrent POSTs of one userName: exactly one 201, the others 409"
	checkUniqueFilter  = "Concurrent POSTs of one userName: a filter on it finds exactly one user"
)

// memberAdds is how many users the membership checks add to one group.
const memberAdds = 16

var concurrencySuite = &goSuite{
	name: "concurrency",
	checks: []goCheck{
		{checkMemberAdds, SeverityMust, "RFC 7644 §3.5.2.1"},
		{checkMemberRemoves, SeverityMust, "RFC 7644 §3.5.2.2"},
		{checkUserPatches, SeverityMust, "RFC 7644 §3.5.2"},
		{checkValueAdds, SeverityMust, "RFC 7644 §3.5.2.1"},
		{checkUniqueCreate, SeverityMust, "RFC 7644 §3.3 (409 uniqueness)"},
		{checkUniqueFilter, SeverityMust, "RFC 7644 §3.3, §3.4.2.2"},
	},
	run: runConcurrency,
}

func runConcurrency(ctx context.Context, g *goRun) {
	tag := randomHex(4)
	g.membership(ctx, tag)
	g.userPatches(ctx, tag)
	g.valueAdds(ctx, tag)
	g.uniqueness(ctx, tag)
}

// needs skips the checks named when the run lacks one of caps; it
// reports whether they can run.
func (g *goRun) needs(caps []Capability, names ...string) bool {
	if c, why, missing := g.missingCap(caps); missing {
		for _, n := range names {
			if len(g.opts.Skip) > 0 && g.matches(g.opts.Skip, g.suite.name, n) {
				g.skip(n, reasonSkipOption)
				continue
			}
			g.skip(n, fmt.Sprintf("needs %s: %s", c, why))
		}
		return false
	}
	return true
}

// membership: concurrent adds of different members to one group, then
// concurrent removes of half of them; a read-back after each must hold
// every member acknowledged.
func (g *goRun) membership(ctx context.Context, tag string) {
	if !g.needs([]Capability{CapGroups, CapPatch}, checkMemberAdds, checkMemberRemoves) {
		return
	}
	// The adds run, unreported, when --only selects the removes alone.
	wantRemoves, run := g.pair(checkMemberAdds, checkMemberRemoves)
	if !run {
		return
	}
	adds := g.check(checkMemberAdds)
	ids := make([]string, memberAdds)
	fails := make([]string, memberAdds)
	parallel(memberAdds, func(i int) {
		id, x := g.createUser(ctx, g.opts.Token, fmt.Sprintf("kcs-race-%s-m%02d@example.com", tag, i), nil)
		ids[i] = id
		if id == "" {
			fails[i] = "setting up failed: " + x.describe()
		}
	})
	var gid string
	if !slices.Contains(ids, "") {
		var x *exchange
		if gid, x = g.createGroup(ctx, g.opts.Token, "kcs-race-"+tag+" members", nil); gid == "" {
			fails = append(fails, "setting up failed: "+x.describe())
		}
	}
	if f := slices.DeleteFunc(fails, func(s string) bool { return s == "" }); len(f) > 0 {
		// Not a race: the checks of what the setup is for say so.
		g.skip(checkMemberAdds, "not run: "+f[0])
		if wantRemoves {
			g.skip(checkMemberRemoves, "not run: "+f[0])
		}
		return
	}
	path := "/Groups/" + gid
	acked := make([]bool, memberAdds)
	answers := make([]*exchange, memberAdds)
	parallel(memberAdds, func(i int) {
		x := g.do(ctx, g.opts.Token, http.MethodPatch, path, patchOp("add", "members", []any{map[string]any{"value": ids[i]}}))
		acked[i], answers[i] = x.ok(), x
	})
	want := map[string]bool{}
	for i, ok := range acked {
		if ok {
			want[ids[i]] = true
		} else {
			adds.Notes = append(adds.Notes, "not acknowledged: "+answers[i].describe())
		}
	}
	if len(want) == 0 {
		adds.Failures = append(adds.Failures, fmt.Sprintf("none of the %d PATCHes was acknowledged: %s", memberAdds, answers[0].describe()))
	}
	g.judgeMembers(ctx, &adds, path, want, ids)
	g.add(adds)
	if !wantRemoves {
		return
	}

	removes := g.check(checkMemberRemoves)
	half := ids[:memberAdds/2]
	removed := make([]bool, len(half))
	rAnswers := make([]*exchange, len(half))
	parallel(len(half), func(i int) {
		x := g.do(ctx, g.opts.Token, http.MethodPatch, path, patchOp("remove", fmt.Sprintf("members[value eq %q]", half[i]), nil))
		removed[i], rAnswers[i] = x.ok(), x
	})
	for i, ok := range removed {
		if ok {
			delete(want, half[i])
		} else {
			removes.Notes = append(removes.Notes, "not acknowledged: "+rAnswers[i].describe())
		}
	}
	g.judgeMembers(ctx, &removes, path, want, ids)
	g.add(removes)
}

// judgeMembers reads the group at path back and fails c unless its
// members are exactly want (the ids of users, by index in all, name
// them).
func (g *goRun) judgeMembers(ctx context.Context, c *Check, path string, want map[string]bool, all []string) {
	x := g.do(ctx, g.opts.Token, http.MethodGet, path, nil)
	g.record(c, x)
	if x.status != http.StatusOK {
		c.Failures = append(c.Failures, "reading the group back: "+x.describe())
		return
	}
	got := map[string]bool{}
	for _, m := range memberIDs(x.doc) {
		got[m] = true
	}
	name := func(id string) string {
		if i := slices.Index(all, id); i >= 0 {
			return fmt.Sprintf("m%02d (%s)", i, id)
		}
		return id
	}
	var missing, extra []string
	for _, id := range all {
		switch {
		case want[id] && !got[id]:
			missing = append(missing, name(id))
		case !want[id] && got[id]:
			extra = append(extra, name(id))
		}
	}
	if len(missing) > 0 {
		c.Failures = append(c.Failures, fmt.Sprintf("lost members: %d of %d acknowledged members are not in the group: %s", len(missing), len(want), strings.Join(missing, ", ")))
	}
	if len(extra) > 0 {
		c.Failures = append(c.Failures, fmt.Sprintf("members whose remove was acknowledged (or whose add was refused) are in the group: %s", strings.Join(extra, ", ")))
	}
}

// userAttributes are the core User attributes the concurrent PATCHes set,
// one each, and the value each sets.
var userAttributes = []struct{ path, value string }{
	{"displayName", "Race Display"},
	{"nickName", "racer"},
	{"title", "Race Engineer"},
	{"userType", "Contractor"},
	{"profileUrl", "https://example.com/race"},
	{"preferredLanguage", "en-US"},
	{"locale", "en-US"},
	{"timezone", "America/Los_Angeles"},
}

// userPatches: concurrent PATCHes to one user, each replacing another
// attribute; every change acknowledged must be kept.
func (g *goRun) userPatches(ctx context.Context, tag string) {
	if !g.needs([]Capability{CapPatch}, checkUserPatches) || !g.wanted(checkUserPatches) {
		return
	}
	c := g.check(checkUserPatches)
	id, x := g.createUser(ctx, g.opts.Token, "kcs-race-"+tag+"-patch@example.com", nil)
	if id == "" {
		g.skip(checkUserPatches, "not run: setting up failed: "+x.describe())
		return
	}
	path := "/Users/" + id
	acked := make([]bool, len(userAttributes))
	answers := make([]*exchange, len(userAttributes))
	parallel(len(userAttributes), func(i int) {
		a := userAttributes[i]
		x := g.do(ctx, g.opts.Token, http.MethodPatch, path, patchOp("replace", a.path, a.value))
		acked[i], answers[i] = x.ok(), x
	})
	back := g.do(ctx, g.opts.Token, http.MethodGet, path, nil)
	g.record(&c, back)
	if back.status != http.StatusOK {
		c.Failures = append(c.Failures, "reading the user back: "+back.describe())
		g.add(c)
		return
	}
	if !slices.Contains(acked, true) {
		c.Failures = append(c.Failures, fmt.Sprintf("none of the %d PATCHes was acknowledged: %s", len(userAttributes), answers[0].describe()))
	}
	var lost []string
	for i, a := range userAttributes {
		if !acked[i] {
			c.Notes = append(c.Notes, "not acknowledged: "+answers[i].describe())
			continue
		}
		if got := text(back.doc[a.path]); !strings.EqualFold(got, a.value) {
			lost = append(lost, fmt.Sprintf("%s: expected %q, got %q", a.path, a.value, got))
		}
	}
	if len(lost) > 0 {
		c.Failures = append(c.Failures, fmt.Sprintf("lost updates: %d of the acknowledged PATCHes are not in the user: %s", len(lost), strings.Join(lost, "; ")))
	}
	g.add(c)
}

// valueAdds: concurrent PATCH adds, each of another value, to the roles
// of one user; an add to a multi-valued attribute appends (RFC 7644
// §3.5.2.1), so every value acknowledged must be kept. Roles, because
// Okta maps them (docs/okta-traffic.md §3 item 10) and granting a role is
// one such add: two grants at once are the race. Unlike emails or
// phoneNumbers they have no type, so no add is refused for repeating one
// (docs/interop-quirks.md row 28).
func (g *goRun) valueAdds(ctx context.Context, tag string) {
	if !g.needs([]Capability{CapPatch}, checkValueAdds) || !g.wanted(checkValueAdds) {
		return
	}
	c := g.check(checkValueAdds)
	id, x := g.createUser(ctx, g.opts.Token, "kcs-race-"+tag+"-roles@example.com", nil)
	if id == "" {
		g.skip(checkValueAdds, "not run: setting up failed: "+x.describe())
		return
	}
	path := "/Users/" + id
	values := make([]string, concurrency)
	for i := range values {
		values[i] = fmt.Sprintf("kcs-race-%s-role%02d", tag, i)
	}
	acked := make([]bool, concurrency)
	answers := make([]*exchange, concurrency)
	parallel(concurrency, func(i int) {
		x := g.do(ctx, g.opts.Token, http.MethodPatch, path, patchOp("add", "roles", []any{map[string]any{"value": values[i]}}))
		acked[i], answers[i] = x.ok(), x
	})
	back := g.do(ctx, g.opts.Token, http.MethodGet, path, nil)
	g.record(&c, back)
	if back.status != http.StatusOK {
		c.Failures = append(c.Failures, "reading the user back: "+back.describe())
		g.add(c)
		return
	}
	if !slices.Contains(acked, true) {
		c.Failures = append(c.Failures, fmt.Sprintf("none of the %d PATCHes was acknowledged: %s", concurrency, answers[0].describe()))
	}
	got := map[string]bool{}
	roles, _ := back.doc["roles"].([]any)
	for _, r := range roles {
		if m, ok := r.(map[string]any); ok {
			got[text(m["value"])] = true
		}
	}
	var lost []string
	for i, v := range values {
		if !acked[i] {
			c.Notes = append(c.Notes, "not acknowledged: "+answers[i].describe())
			continue
		}
		if !got[v] {
			lost = append(lost, v)
		}
	}
	if len(lost) > 0 {
		c.Failures = append(c.Failures, fmt.Sprintf("lost values: %d of the acknowledged roles are not in the user (it has %d): %s", len(lost), len(roles), strings.Join(lost, ", ")))
	}
	g.add(c)
}

// uniqueness: concurrent POSTs of one userName; one may be created.
func (g *goRun) uniqueness(ctx context.Context, tag string) {
	wantFilter, run := g.pair(checkUniqueCreate, checkUniqueFilter)
	if !run {
		return
	}
	c := g.check(checkUniqueCreate)
	userName := "kcs-race-" + tag + "-dup@example.com"
	answers := make([]*exchange, concurrency)
	var mu sync.Mutex
	var created []string
	parallel(concurrency, func(i int) {
		id, x := g.createUser(ctx, g.opts.Token, userName, nil)
		answers[i] = x
		if id != "" {
			mu.Lock()
			created = append(created, id)
			mu.Unlock()
		}
	})
	statuses := map[int]int{}
	for _, x := range answers {
		statuses[x.status]++
	}
	g.record(&c, answers[0])
	if statuses[http.StatusCreated] > 1 {
		sort.Strings(created)
		c.Failures = append(c.Failures, fmt.Sprintf("%d of %d POSTs of userName %q were created (201), ids %s: the userName is not unique", statuses[http.StatusCreated], concurrency, userName, strings.Join(created, ", ")))
	}
	if statuses[http.StatusCreated] == 0 {
		c.Failures = append(c.Failures, fmt.Sprintf("none of %d POSTs of userName %q was created (201): %s", concurrency, userName, describeStatusCounts(statuses)))
	}
	if other := concurrency - statuses[http.StatusCreated] - statuses[http.StatusConflict]; other > 0 {
		c.Failures = append(c.Failures, fmt.Sprintf("%d answers were neither 201 nor 409: %s", other, describeStatusCounts(statuses)))
	}
	g.add(c)
	if !wantFilter {
		return
	}
	if !g.needs([]Capability{CapFilter}, checkUniqueFilter) {
		return
	}
	f := g.check(checkUniqueFilter)
	x := g.do(ctx, g.opts.Token, http.MethodGet, "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", userName)), nil)
	g.record(&f, x)
	if x.status != http.StatusOK {
		f.Failures = append(f.Failures, "the filter: "+x.describe())
		g.add(f)
		return
	}
	found := resources(x.doc)
	for _, u := range found {
		// Delete whatever holds the userName, duplicates included.
		if id, _ := u["id"].(string); id != "" && !slices.Contains(created, id) {
			g.created(g.opts.Token, "/Users/"+id)
		}
	}
	if total := text(x.doc["totalResults"]); total != "1" || len(found) != 1 {
		f.Failures = append(f.Failures, fmt.Sprintf("userName eq %q: expected exactly one user, got totalResults %s and %d resources", userName, total, len(found)))
	}
	g.add(f)
}

func describeStatusCounts(statuses map[int]int) string {
	codes := make([]int, 0, len(statuses))
	for s := range statuses {
		codes = append(codes, s)
	}
	sort.Ints(codes)
	parts := make([]string, len(codes))
	for i, s := range codes {
		what := fmt.Sprint(s)
		if s == 0 {
			what = "no answer"
		}
		parts[i] = fmt.Sprintf("%d × %s", statuses[s], what)
	}
	return strings.Join(parts, ", ")
}

// pair decides the run of a check and of the one that waits on it: run is
// false when the first must not run (skipped by --skip, which skips the
// second too, saying why, or neither reported by --only); wantThen says
// whether the second is wanted. The first runs, unreported, when --only
// selects the second alone.
func (g *goRun) pair(first, then string) (wantThen, run bool) {
	wantThen = !g.skipped(then) && g.reported(then)
	if g.skipped(first) {
		if wantThen {
			g.skip(then, fmt.Sprintf("not run: waits on %q, which was not run", first))
		}
		return false, false
	}
	return wantThen, wantThen || g.reported(first)
}
