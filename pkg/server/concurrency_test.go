package server_test

import (
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentPatches: PATCHes of one user from several clients at once
// all land; none overwrites another's change.
func TestConcurrentPatches(t *testing.T) {
	e := newSCIMEnv(t)
	id := e.createUser("busy@example.com")
	const n = 12
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do("PATCH", "/Users/"+id, fmt.Sprintf(`{"Operations":[{"op":"add","path":"emails","value":[{"value":"e%d@example.com","type":"other"}]}]}`, i))
			statuses[i] = r.status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("PATCH %d: status %d", i, s)
		}
	}
	r := e.must(e.do("GET", "/Users/"+id, ""), 200)
	emails, _ := r.get("emails").([]any)
	if len(emails) != n+1 {
		t.Errorf("%d emails after %d concurrent adds, want %d: %s", len(emails), n, n+1, r.body)
	}
	if r.str("meta.version") != fmt.Sprintf(`W/"%d"`, n+1) {
		t.Errorf("version %s, want %d updates counted", r.str("meta.version"), n+1)
	}
}
