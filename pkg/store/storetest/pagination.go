package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

func userNames(us []*directory.User) []string {
	var s []string
	for _, u := range us {
		s = append(s, u.UserName)
	}
	return s
}

func testUsersPagination(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	other := newProvider(t, s, "other")
	var all []string
	for i := range 25 {
		// Names out of alphabetical order: the order is creation order.
		name := fmt.Sprintf("user%02d", (i*7)%25)
		u := user(p.ID, name)
		u.Resource["active"] = i%2 == 0
		u.Created = t0.Add(time.Duration(i) * time.Second)
		must(t, s.CreateUser(c, u))
		all = append(all, name)
		newUser(t, s, other.ID, name)
	}
	active := []string{}
	for i, n := range all {
		if i%2 == 0 {
			active = append(active, n)
		}
	}
	activeFilter := parse(t, `active eq true`)
	cases := []struct {
		q     directory.Query
		want  []string
		total int
	}{
		{directory.Query{StartIndex: 1, Count: 10}, all[:10], 25},
		{directory.Query{StartIndex: 11, Count: 10}, all[10:20], 25},
		{directory.Query{StartIndex: 21, Count: 10}, all[20:], 25},
		{directory.Query{StartIndex: 0, Count: 3}, all[:3], 25},
		{directory.Query{StartIndex: -5, Count: 3}, all[:3], 25},
		{directory.Query{StartIndex: 1, Count: 0}, nil, 25},
		{directory.Query{StartIndex: 26, Count: 10}, nil, 25},
		{directory.Query{StartIndex: 1, Count: 100}, all, 25},
		{directory.Query{Filter: activeFilter, StartIndex: 2, Count: 3}, active[1:4], 13},
		{directory.Query{Filter: activeFilter, StartIndex: 12, Count: 3}, active[11:], 13},
		{directory.Query{Filter: activeFilter, Count: 0}, nil, 13},
	}
	for _, tc := range cases {
		users, total, err := s.FindUsers(c, p.ID, tc.q)
		must(t, err)
		if got := userNames(users); !slices.Equal(got, tc.want) || total != tc.total {
			t.Errorf("FindUsers(start %d, count %d, filter %v) = %v total %d, want %v total %d",
				tc.q.StartIndex, tc.q.Count, tc.q.Filter, got, total, tc.want, tc.total)
		}
	}
	// Paging through the whole list visits every user once, in order.
	var seen []string
	for start := 1; ; start += 4 {
		users, total, err := s.FindUsers(c, p.ID, directory.Query{StartIndex: start, Count: 4})
		must(t, err)
		if total != 25 {
			t.Fatalf("total = %d", total)
		}
		if len(users) == 0 {
			break
		}
		seen = append(seen, userNames(users)...)
	}
	if !slices.Equal(seen, all) {
		t.Errorf("paged = %v, want %v", seen, all)
	}
	// Pages come with their users' groups.
	u, _, err := s.FindUsers(c, p.ID, directory.Query{StartIndex: 3, Count: 2})
	must(t, err)
	g := newGroup(t, s, p.ID, "g", u[1])
	u, _, err = s.FindUsers(c, p.ID, directory.Query{StartIndex: 3, Count: 2})
	must(t, err)
	if len(u[0].Groups) != 0 || len(u[1].Groups) != 1 || u[1].Groups[0].ID != g.ID {
		t.Errorf("groups on page: %v, %v", u[0].Groups, u[1].Groups)
	}
}

func groupNames(gs []*directory.Group) []string {
	var s []string
	for _, g := range gs {
		s = append(s, g.DisplayName)
	}
	return s
}

func testGroupsPagination(t *testing.T, s directory.Store) {
	c := ctx(t)
	p := newProvider(t, s, "p")
	other := newProvider(t, s, "other")
	alice := newUser(t, s, p.ID, "alice")
	bob := newUser(t, s, p.ID, "bob")
	var all []string
	for i := range 12 {
		name := fmt.Sprintf("group%02d", (i*5)%12)
		members := []*directory.User{alice}
		if i%3 == 0 {
			members = append(members, bob)
		}
		newGroup(t, s, p.ID, name, members...)
		newGroup(t, s, other.ID, name)
		all = append(all, name)
	}
	gs, total, err := s.FindGroups(c, p.ID, directory.Query{StartIndex: 4, Count: 5})
	must(t, err)
	if got := groupNames(gs); !slices.Equal(got, all[3:8]) || total != 12 {
		t.Errorf("page = %v total %d, want %v total 12", got, total, all[3:8])
	}
	for _, g := range gs {
		if g.Members != nil {
			t.Errorf("Members filled without WithMembers: %v", g.Members)
		}
	}
	gs, total, err = s.FindGroups(c, p.ID, directory.Query{StartIndex: 1, Count: 4, WithMembers: true})
	must(t, err)
	if total != 12 || len(gs) != 4 {
		t.Fatalf("got %d groups, total %d", len(gs), total)
	}
	for i, g := range gs {
		want := []string{alice.ID + "=alice"}
		if i%3 == 0 {
			want = append(want, bob.ID+"=bob")
		}
		if got := memberList(g.Members); !slices.Equal(got, want) {
			t.Errorf("members of %s = %v, want %v", g.DisplayName, got, want)
		}
	}
	gs, total, err = s.FindGroups(c, p.ID, directory.Query{StartIndex: 1, Count: 0})
	must(t, err)
	if len(gs) != 0 || total != 12 {
		t.Errorf("count 0: %d groups, total %d", len(gs), total)
	}
	gs, total, err = s.FindGroups(c, p.ID, directory.Query{StartIndex: 13, Count: 5})
	must(t, err)
	if len(gs) != 0 || total != 12 {
		t.Errorf("past the end: %d groups, total %d", len(gs), total)
	}
	gs, total, err = s.FindGroups(c, p.ID, directory.Query{Filter: parse(t, fmt.Sprintf(`members[value eq %q]`, bob.ID)), StartIndex: 2, Count: 10})
	must(t, err)
	if got := groupNames(gs); !slices.Equal(got, []string{all[3], all[6], all[9]}) || total != 4 {
		t.Errorf("filtered page = %v total %d", got, total)
	}
}
