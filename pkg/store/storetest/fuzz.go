package storetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim2/filter-parser/v2"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// FilterFuzz is the body of a fuzz target that feeds arbitrary filters to
// the store's translation of them (SQL, for the stores we have). One store
// per fuzz process holds a few dozen varied users and groups (the
// generator of FilterDifferential, plus every user and group body of the
// seed corpus in testdata/seeds) and twins of some of them in a second
// provider. For each filter that scim.ParseFilter accepts, FindUsers and
// FindGroups must answer with a page or an EBADFILTER *directory.Error
// (the server's 400 invalidFilter; any other error is a 500 for the
// identity provider), never with another provider's resources; and the
// page must hold exactly the resources scim.Match accepts in the documents
// the server renders, or both must refuse the filter. The seed filters are testdata/seeds/filters.txt, found from the
// working directory up (a test runs in its package's directory).
//
// open must return a new, empty store and close it when tb ends. A
// backend's fuzz target:
//
//	func FuzzFilterSQL(f *testing.F) {
//		storetest.FilterFuzz(f, func(tb testing.TB) directory.Store { return openTemp(tb) })
//	}
func FilterFuzz(f *testing.F, open func(tb testing.TB) directory.Store) {
	seeds := seedDir(f)
	for _, s := range []string{
		`userName eq "test.user@okta.local"`,
		`emails[type eq "work" and value co "@"] or not (title pr)`,
		`name.familyName sw "o'" and meta.lastModified gt "2020-01-01T00:00:00Z"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "MGR-1"`,
		`groups.display co "team" or members.display ew ".COM"`,
		`displayName eq "Quo\"ted" or externalId lt "G" or title eq "R\\D lead"`,
		`userName co "%" or userName co "_" or userName sw "a*b?[c]"`,
	} {
		f.Add(s)
	}
	b, err := os.ReadFile(filepath.Join(seeds, "filters.txt"))
	if err != nil {
		f.Fatalf("the fuzz target needs the seed filters: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		if l := strings.TrimRight(sc.Text(), "\r"); l != "" {
			f.Add(l)
			n++
		}
	}
	if n == 0 {
		f.Fatal("testdata/seeds/filters.txt is empty")
	}

	fx := newFuzzFixture(f, open(f))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		// Parse once per side: nothing may depend on one side leaving the
		// expression as it found it.
		if _, err := scim.ParseFilter(raw); err != nil {
			if se, ok := scim.AsError(err); !ok || se.Status != 400 {
				t.Fatalf("ParseFilter(%q): %v is not a SCIM 400", raw, err)
			}
			return
		}
		parse := func() filter.Expression { e, _ := scim.ParseFilter(raw); return e }
		fx.check(t, raw, "Users", scim.UserResourceType(), fx.userDocs, func() (idSet, error) {
			return findUserIDs(ctx, fx.db, fx.p.ID, parse())
		})
		fx.check(t, raw, "Groups", scim.GroupResourceType(), fx.groupDocs, func() (idSet, error) {
			return findGroupIDs(ctx, fx.db, fx.p.ID, parse())
		})
	})
}

// fuzzFixture is the store of FilterFuzz and the documents the server
// renders for what it holds in provider p, by id.
type fuzzFixture struct {
	db                  directory.Store
	p                   *directory.Provider
	userDocs, groupDocs map[string]map[string]any
}

func newFuzzFixture(tb testing.TB, db directory.Store) *fuzzFixture {
	tb.Helper()
	ctx := context.Background()
	seeds := seedDir(tb)
	fx := &fuzzFixture{db: db, p: genProvider(tb, db, "p"), userDocs: map[string]map[string]any{}, groupDocs: map[string]map[string]any{}}
	other := genProvider(tb, db, "other")
	r := rand.New(rand.NewPCG(7644, 0xf022))
	rt := scim.UserResourceType()
	newID := newIDs(7644)

	// Bodies: generated ones, then the seed corpus's users.
	var bodies []map[string]any
	for i := range 40 {
		bodies = append(bodies, genUserBody(r, i))
	}
	var groupBodies []map[string]any
	names, _ := filepath.Glob(filepath.Join(seeds, "resources", "*.json"))
	if len(names) == 0 {
		tb.Fatalf("no seed resources in %s", filepath.Join(seeds, "resources"))
	}
	slices.Sort(names)
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			tb.Fatal(err)
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			continue // the junk body of Microsoft's collection
		}
		if strings.HasPrefix(filepath.Base(n), "group-") {
			groupBodies = append(groupBodies, m)
		} else {
			bodies = append(bodies, m)
		}
	}

	var users []*directory.User
	for i, body := range bodies {
		created := genTime(r)
		u, err := userFromBody(rt, fx.p.ID, newID(), body, created, created.Add(time.Duration(r.IntN(1000))*time.Hour))
		if err != nil || u.UserName == "" {
			continue // refused (no userName, wrong types), as the server would
		}
		if err := db.CreateUser(ctx, u); err != nil {
			if directory.ErrorCode(err) == directory.ECONFLICT {
				continue // the seed corpus repeats userNames
			}
			tb.Fatalf("create user %d: %v", i, err)
		}
		users = append(users, u)
		if i%3 == 0 {
			createUserTwin(tb, db, u, other.ID, newID())
		}
	}
	if len(users) < 40 {
		tb.Fatalf("only %d users could be created", len(users))
	}

	userGroups := map[string][]directory.GroupRef{}
	for i := range 8 {
		groupBodies = append(groupBodies, map[string]any{"displayName": mixCase(r, fmt.Sprintf("%s %d", pick(r, genGroupNames), i)),
			"externalId": fmt.Sprintf("G-%d-%s", i, pick(r, []string{"é", "X", "x", ""}))})
	}
	for i, body := range groupBodies {
		doc, err := scim.Normalize(scim.GroupResourceType(), body, scim.Options{})
		if err != nil {
			continue
		}
		created := genTime(r)
		g := &directory.Group{ProviderID: fx.p.ID, ID: newID(), Created: created, LastModified: created.Add(time.Duration(r.IntN(1000)) * time.Second)}
		g.DisplayName, _ = doc["displayName"].(string)
		g.ExternalID, _ = doc["externalId"].(string)
		if g.DisplayName == "" {
			continue
		}
		g.Resource = map[string]any{"displayName": g.DisplayName}
		addRandomMembers(r, g, users, r.IntN(12), userGroups)
		if err := db.CreateGroup(ctx, g); err != nil {
			if directory.ErrorCode(err) == directory.ECONFLICT {
				continue
			}
			tb.Fatalf("create group %d: %v", i, err)
		}
		fx.groupDocs[g.ID] = renderGroupDoc(g)
		if i%2 == 0 {
			createGroupTwin(tb, db, g, other.ID, newID())
		}
	}
	if len(fx.groupDocs) < 8 {
		tb.Fatalf("only %d groups could be created", len(fx.groupDocs))
	}
	for _, u := range users {
		fx.userDocs[u.ID] = renderUserDoc(u, userGroups[u.ID])
	}
	tb.Logf("%d users and %d groups in provider p, twins of some in provider other", len(fx.userDocs), len(fx.groupDocs))
	return fx
}

// seedDir is testdata/seeds of the repository, found from the working
// directory up.
func seedDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "seeds")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the working directory: FilterFuzz needs the repository's testdata/seeds")
		}
		dir = parent
	}
}

// check compares, for one resource type, what storeSide returns for the
// filter raw with what scim.Match accepts in docs.
func (fx *fuzzFixture) check(t *testing.T, raw, kind string, rt *scim.ResourceType, docs map[string]map[string]any, storeSide func() (idSet, error)) {
	t.Helper()
	sqlSet, sqlErr := storeSide()
	if sqlErr != nil {
		if directory.ErrorCode(sqlErr) != directory.EBADFILTER {
			t.Fatalf("%s %q: the store answers %v, which the server turns into a 500: it must be a page or a *directory.Error %s", kind, raw, sqlErr, directory.EBADFILTER)
		}
	}
	expr, _ := scim.ParseFilter(raw)
	goSet := idSet{}
	var goErr error
	for id, doc := range docs {
		ok, err := scim.Match(rt, expr, doc)
		if err != nil {
			goErr = err
			break
		}
		if ok {
			goSet[id] = true
		}
	}
	switch {
	case goErr != nil && sqlErr != nil:
		return // both refuse it
	case goErr != nil || sqlErr != nil:
		t.Fatalf("%s %q: one side refuses the filter\n\tMatch error: %v\n\tSQL error:   %v", kind, raw, goErr, sqlErr)
	}
	for id := range sqlSet {
		if docs[id] == nil {
			t.Fatalf("%s %q: the store returned %s, which is another provider's", kind, raw, id)
		}
	}
	if len(goSet) != len(sqlSet) || !subset(goSet, sqlSet) {
		t.Fatalf("%s %q: %s", kind, raw, mismatch(goSet, sqlSet, docs))
	}
}
