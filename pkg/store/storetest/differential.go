package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/scim2/filter-parser/v2"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// diffSeed is the seed of FilterDifferential; KACESCIM_FILTER_SEED
// overrides it to explore others.
const diffSeed = 7644

func differentialSeed(t *testing.T) uint64 {
	if s := os.Getenv("KACESCIM_FILTER_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("KACESCIM_FILTER_SEED: %v", err)
		}
		return n
	}
	return diffSeed
}

// diffSizes are the numbers of users, groups and filters of
// FilterDifferential: fewer with -short or under the race detector.
func diffSizes() (users, groups, userFilters, groupFilters int) {
	switch {
	case raceEnabled:
		return 250, 25, 400, 150
	case testing.Short():
		return 400, 30, 600, 200
	}
	return 2000, 80, 3000, 600
}

// FilterDifferential checks that the store's translation of a filter
// (SQL, for the stores we have) selects exactly the resources scim.Match
// accepts when it evaluates the same parsed filter on the document the
// server renders: thousands of generated users (and groups) in one
// provider, the same number of generated filters over every operator,
// attribute kind and combination, each run through FindUsers (FindGroups)
// and through Match on every document. Both refusing the filter (Match
// with a 400 invalidFilter, the store with EBADFILTER) is agreement; one
// refusing it is a failure. A second
// provider holds twins of the users and groups, which no filter may
// return.
//
// open must return a new, empty store and close it when t ends, as for
// Run. Everything goes through directory.Store. The seed is fixed
// (KACESCIM_FILTER_SEED overrides it, and every failure names it), and a
// seed generates the same users, groups, ids and filters on every run, so
// a failure reproduces; -short and the race detector shrink the sizes. A
// backend's test:
//
//	func TestFilterDifferential(t *testing.T) {
//		storetest.FilterDifferential(t, func(t *testing.T) directory.Store { return openTemp(t) })
//	}
func FilterDifferential(t *testing.T, open func(t *testing.T) directory.Store) {
	seed := differentialSeed(t)
	t.Logf("seed %d (set KACESCIM_FILTER_SEED to change it)", seed)
	nUsers, nGroups, nUserFilters, nGroupFilters := diffSizes()
	r := rand.New(rand.NewPCG(seed, seed^0x5c1d))
	ctx := context.Background()
	db := open(t)
	p := genProvider(t, db, "p")
	other := genProvider(t, db, "other")
	rt := scim.UserResourceType()
	newID := newIDs(seed)

	// Users, and their twins in the other provider.
	var (
		users   []*directory.User
		userIdx = map[string]int{}
		times   []time.Time
	)
	for i := range nUsers {
		created := genTime(r)
		if len(times) > 0 && r.IntN(10) == 0 {
			created = pick(r, times) // the same instant as another user
		}
		modified := created
		if r.IntN(4) > 0 {
			modified = created.Add(time.Duration(r.Int64N(int64(400*24*time.Hour/time.Millisecond))) * time.Millisecond)
		}
		times = append(times, created, modified)
		body := genUserBody(r, i)
		u, err := userFromBody(rt, p.ID, newID(), body, created, modified)
		if err != nil {
			t.Fatalf("seed %d: user %d: %v", seed, i, err)
		}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatalf("seed %d: create user %d: %v", seed, i, err)
		}
		userIdx[u.ID] = len(users)
		users = append(users, u)
		if i%3 == 0 {
			createUserTwin(t, db, u, other.ID, newID())
		}
	}

	// Groups with random members, and twins.
	var (
		groups     []*directory.Group
		userGroups = map[string][]directory.GroupRef{}
	)
	for i := range nGroups {
		created := genTime(r)
		g := &directory.Group{ProviderID: p.ID, ID: newID(), Created: created, LastModified: created.Add(time.Duration(r.IntN(1000)) * time.Second),
			DisplayName: mixCase(r, fmt.Sprintf("%s %d", pick(r, genGroupNames), i))}
		times = append(times, g.Created, g.LastModified)
		g.Resource = map[string]any{"displayName": g.DisplayName}
		switch r.IntN(3) {
		case 0:
		case 1:
			g.ExternalID = mixCase(r, fmt.Sprintf("g-%d", r.IntN(20)))
		default:
			g.ExternalID = fmt.Sprintf("G-%d-%s", i, pick(r, []string{"é", "X", "x"}))
		}
		addRandomMembers(r, g, users, r.IntN(60)*r.IntN(2), userGroups)
		if err := db.CreateGroup(ctx, g); err != nil {
			t.Fatalf("seed %d: create group %d: %v", seed, i, err)
		}
		groups = append(groups, g)
		if i%4 == 0 {
			createGroupTwin(t, db, g, other.ID, newID())
		}
	}

	userDocs := make([]map[string]any, len(users))
	uc := newCorpus()
	uc.times = times
	for i, u := range users {
		userDocs[i] = renderUserDoc(u, userGroups[u.ID])
		uc.collect(userDocs[i])
	}
	groupDocs := make([]map[string]any, len(groups))
	gc := newCorpus()
	gc.times = times
	for i, g := range groups {
		groupDocs[i] = renderGroupDoc(g)
		gc.collect(groupDocs[i])
	}

	userIDs := make([]string, len(users))
	for i, u := range users {
		userIDs[i] = u.ID
	}
	groupIDs := make([]string, len(groups))
	for i, g := range groups {
		groupIDs[i] = g.ID
	}

	t.Run("Users", func(t *testing.T) {
		gen := &filterGen{r: rand.New(rand.NewPCG(seed, 1)), c: uc, core: scim.UserURN,
			attrs: userAttrs(), vpaths: userValuePaths(), invalid: userInvalid}
		storeSide := func(e filter.Expression) (idSet, error) { return findUserIDs(ctx, db, p.ID, e) }
		runDifferential(t, seed, gen, nUserFilters, rt, userIDs, userDocs, storeSide)
	})
	t.Run("Groups", func(t *testing.T) {
		gen := &filterGen{r: rand.New(rand.NewPCG(seed, 2)), c: gc, core: scim.GroupURN,
			attrs: groupAttrs(), vpaths: groupValuePaths(), invalid: groupInvalid}
		storeSide := func(e filter.Expression) (idSet, error) { return findGroupIDs(ctx, db, p.ID, e) }
		runDifferential(t, seed, gen, nGroupFilters, scim.GroupResourceType(), groupIDs, groupDocs, storeSide)
	})
}

// runDifferential generates n filters and compares, for each, the ids
// storeSide returns with the ids of the docs scim.Match accepts.
func runDifferential(t *testing.T, seed uint64, gen *filterGen, n int, rt *scim.ResourceType, ids []string,
	docs []map[string]any, storeSide func(filter.Expression) (idSet, error)) {
	t.Helper()
	filters := make([]string, n)
	for i := range filters {
		filters[i] = gen.filter()
	}

	type outcome struct {
		filter             string
		goErr, sqlErr      error
		goSet, sqlSet      idSet
		unknownIDs, parsed bool
	}
	results := make([]outcome, n)
	valid := map[string]bool{}
	for _, id := range ids {
		valid[id] = true
	}
	var wg sync.WaitGroup
	work := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				o := outcome{filter: filters[i]}
				e, err := scim.ParseFilter(filters[i])
				if err != nil {
					o.goErr, o.sqlErr = err, err
					results[i] = o
					continue
				}
				o.parsed = true
				o.sqlSet, o.sqlErr = storeSide(e)
				o.goSet = idSet{}
				for j, doc := range docs {
					ok, err := scim.Match(rt, e, doc)
					if err != nil {
						o.goErr, o.goSet = err, nil
						break
					}
					if ok {
						o.goSet[ids[j]] = true
					}
				}
				for id := range o.sqlSet {
					if !valid[id] {
						o.unknownIDs = true // another provider's
					}
				}
				results[i] = o
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()

	var (
		failures                           int
		unparsed, refused, none, some, all int
		docByID                            = map[string]map[string]any{}
	)
	for i, id := range ids {
		docByID[id] = docs[i]
	}
	fail := func(format string, args ...any) {
		failures++
		if failures <= 25 {
			t.Errorf("seed %d: "+format, append([]any{seed}, args...)...)
		}
	}
	for _, o := range results {
		switch {
		case !o.parsed:
			unparsed++
			fail("%s: scim.ParseFilter refused a generated filter: %v", o.filter, o.goErr)
		case o.goErr != nil || o.sqlErr != nil:
			gse, _ := scim.AsError(o.goErr)
			if gse == nil || gse.ScimType != scim.TypeInvalidFilter || gse.Status != 400 || directory.ErrorCode(o.sqlErr) != directory.EBADFILTER {
				fail("%s:\n\tMatch error: %v\n\tSQL error:   %v", o.filter, o.goErr, o.sqlErr)
				continue
			}
			refused++
		case o.unknownIDs:
			fail("%s: the store returned resources of another provider", o.filter)
		default:
			if len(o.goSet) != len(o.sqlSet) || !subset(o.goSet, o.sqlSet) {
				fail("%s: %s", o.filter, mismatch(o.goSet, o.sqlSet, docByID))
				continue
			}
			switch len(o.goSet) {
			case 0:
				none++
			case len(ids):
				all++
			default:
				some++
			}
		}
	}
	if failures > 25 {
		t.Errorf("seed %d: … and %d more discrepancies", seed, failures-25)
	}
	t.Logf("%d filters: %d select some of the %d resources, %d none, %d all; %d refused by both (invalidFilter); %d unparsed",
		n, some, len(ids), none, all, refused, unparsed)
	// The generator must produce filters that discriminate: a test where
	// everything selects nothing proves little.
	if some < n/3 || refused < n/50 {
		t.Errorf("seed %d: too few discriminating filters (%d of %d) or refused ones (%d): fix the generator", seed, some, n, refused)
	}
}

// findUserIDs is the store's side of a user filter: the ids FindUsers
// returns for e in provider, all on one page.
func findUserIDs(ctx context.Context, db directory.Store, provider string, e filter.Expression) (idSet, error) {
	us, total, err := db.FindUsers(ctx, provider, directory.Query{Filter: e, StartIndex: 1, Count: 1 << 20})
	return pageIDs("FindUsers", "users", us, total, err, func(u *directory.User) string { return u.ID })
}

// findGroupIDs is findUserIDs for groups.
func findGroupIDs(ctx context.Context, db directory.Store, provider string, e filter.Expression) (idSet, error) {
	gs, total, err := db.FindGroups(ctx, provider, directory.Query{Filter: e, StartIndex: 1, Count: 1 << 20})
	return pageIDs("FindGroups", "groups", gs, total, err, func(g *directory.Group) string { return g.ID })
}

// pageIDs is the set of ids of a page that find returned, which must be
// the whole result (total) and hold each resource once.
func pageIDs[T any](find, kind string, page []T, total int, err error, id func(T) string) (idSet, error) {
	if err != nil {
		return nil, err
	}
	got := idSet{}
	for _, r := range page {
		got[id(r)] = true
	}
	if total != len(page) || len(got) != len(page) {
		return nil, fmt.Errorf("%s: total %d for %d %s (%d distinct)", find, total, len(page), kind, len(got))
	}
	return got, nil
}

// mismatch describes how the ids Match selects (goSet) differ from the ids
// the store returns (sqlSet), with one document of each side as an example.
func mismatch(goSet, sqlSet idSet, docs map[string]map[string]any) string {
	onlyGo, onlySQL := diff(goSet, sqlSet), diff(sqlSet, goSet)
	msg := fmt.Sprintf("Match selects %d, SQL %d; only Match: %d, only SQL: %d", len(goSet), len(sqlSet), len(onlyGo), len(onlySQL))
	for _, s := range []idSet{onlyGo, onlySQL} {
		for id := range s {
			b, _ := json.Marshal(docs[id])
			msg += "\n\te.g. " + string(b)
			break
		}
	}
	return msg
}

// addRandomMembers adds up to n distinct users, drawn from users, to g,
// some with a display in mixed case, and records g in userGroups for each.
func addRandomMembers(r *rand.Rand, g *directory.Group, users []*directory.User, n int, userGroups map[string][]directory.GroupRef) {
	seen := map[string]bool{}
	for range n {
		u := pick(r, users)
		if seen[u.ID] {
			continue
		}
		seen[u.ID] = true
		display := ""
		if r.IntN(3) > 0 {
			display = mixCase(r, u.UserName)
		}
		g.Members = append(g.Members, directory.Member{Value: u.ID, Display: display})
		userGroups[u.ID] = append(userGroups[u.ID], directory.GroupRef{ID: g.ID, DisplayName: g.DisplayName})
	}
}

// createUserTwin creates a copy of u, under id, in provider other: a
// resource no filter in u's provider may return.
func createUserTwin(tb testing.TB, db directory.Store, u *directory.User, other, id string) {
	tb.Helper()
	twin := *u
	twin.ProviderID, twin.ID = other, id
	if err := db.CreateUser(context.Background(), &twin); err != nil {
		tb.Fatal(err)
	}
}

// createGroupTwin is createUserTwin for a group, created without members.
func createGroupTwin(tb testing.TB, db directory.Store, g *directory.Group, other, id string) {
	tb.Helper()
	twin := *g
	twin.ProviderID, twin.ID, twin.Members = other, id, nil
	if err := db.CreateGroup(context.Background(), &twin); err != nil {
		tb.Fatal(err)
	}
}

// genProvider creates the provider name in s.
func genProvider(tb testing.TB, s directory.Store, name string) *directory.Provider {
	tb.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	p := &directory.Provider{ID: uuid.NewString(), Name: name, Enabled: true, Created: now, Updated: now}
	if err := s.CreateProvider(context.Background(), p); err != nil {
		tb.Fatalf("create provider %s: %v", name, err)
	}
	return p
}

// idSet is a set of resource ids.
type idSet map[string]bool

func subset(a, b idSet) bool {
	for id := range a {
		if !b[id] {
			return false
		}
	}
	return true
}

func diff(a, b idSet) idSet {
	d := idSet{}
	for id := range a {
		if !b[id] {
			d[id] = true
		}
	}
	return d
}
