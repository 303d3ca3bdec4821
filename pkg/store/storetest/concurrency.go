package storetest

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

func testConcurrentCreates(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	const workers, each = 8, 15
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				u := user(p.ID, fmt.Sprintf("w%d-u%d", w, i))
				err := s.CreateUser(c, u)
				if err == nil && i%3 == 0 {
					err = s.CreateGroup(c, group(p.ID, u.UserName, u))
				}
				if err == nil {
					err = recordSync(c, s, p.ID, t0.Add(time.Duration(w*each+i)*time.Second))
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d concurrent writes failed, first: %v", len(errs), errs[0])
	}
	if n := syncedUsers(t, s, p.ID); n != workers*each {
		t.Errorf("SyncedUsers = %d, want %d", n, workers*each)
	}
	users, total, err := s.FindUsers(c, p.ID, directory.Query{Count: workers * each})
	must(t, err)
	if total != workers*each || len(users) != total {
		t.Errorf("FindUsers: %d users, total %d", len(users), total)
	}
	names := userNames(users)
	sort.Strings(names)
	if len(slices.Compact(names)) != workers*each {
		t.Error("duplicate users")
	}
	got, err := s.FindProviderByID(c, p.ID)
	must(t, err)
	sameTime(t, "LastSyncAt", got.LastSyncAt, t0.Add(time.Duration(workers*each-1)*time.Second))
}
