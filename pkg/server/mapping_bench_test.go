package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
)

// BenchmarkGroupOfMembers measures Okta's group writes on a group whose
// members are all the provider's users, with the suggested Groups mapping in
// place (the Groups field of every member follows each change):
//
//	go test -run '^$' -bench BenchmarkGroupOfMembers -benchtime 20x ./pkg/server
func BenchmarkGroupOfMembers(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			e := newSCIMEnv(b)
			setupBriefMappings(b, e)
			ids := seedUsers(b, e, n)
			// The group is seeded through the store: its POST body would be
			// larger than the test server's body limit.
			ctx := context.Background()
			p, _ := e.srv.Directory().Provider(ctx, "okta")
			g := &directory.Group{ProviderID: p.ID, ID: "all-users", DisplayName: "All", Resource: map[string]any{"displayName": "All"}}
			for _, id := range ids {
				g.Members = append(g.Members, directory.Member{Value: id})
			}
			if err := e.srv.Directory().Store.CreateGroup(ctx, g); err != nil {
				b.Fatal(err)
			}
			gid := g.ID
			client := e.http.Client()
			b.Run("rename", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					e.benchDo(b, client, "PATCH", "/Groups/"+gid, fmt.Sprintf(`{"Operations":[{"op":"replace","value":{"id":%q,"displayName":"All %d"}}]}`, gid, i), 204)
				}
			})
			b.Run("remove-and-add-one-member", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					id := ids[i%n]
					e.benchDo(b, client, "PATCH", "/Groups/"+gid, `{"Operations":[{"op":"remove","path":"members[value eq \"`+id+`\"]"},{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]}`, 204)
				}
			})
			if got := e.fields(ids[0])["Groups"]; got == nil || !strings.HasPrefix(got.(string), "All") {
				b.Fatalf("Groups field = %v", got)
			}
		})
	}
}

// BenchmarkRemapUsers measures a mapping change that re-derives every
// user of the provider in one transaction (each op adds or removes the
// City mapping, so every user changes):
//
//	go test -run '^$' -bench BenchmarkRemapUsers -benchtime 10x ./pkg/server
func BenchmarkRemapUsers(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			e := newSCIMEnv(b)
			seedUsers(b, e, n)
			ctx := context.Background()
			dir := e.srv.Directory()
			for i := 0; b.Loop(); i++ {
				var err error
				var changed int
				if i%2 == 0 {
					_, changed, err = dir.AddMapping(ctx, "okta", "name.givenName", directory.FieldCity)
				} else {
					_, changed, err = dir.RemoveMapping(ctx, "okta", "", directory.FieldCity)
				}
				if err != nil || changed != n {
					b.Fatalf("changed %d of %d: %v", changed, n, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/user")
		})
	}
}
