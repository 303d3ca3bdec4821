package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// seedUsers adds n users to the env's provider straight through the store
// (the HTTP path is what the benchmarks measure, not the seeding).
func seedUsers(b testing.TB, e *scimEnv, n int) []string {
	b.Helper()
	ctx := context.Background()
	p, err := e.srv.Directory().Provider(ctx, "okta")
	if err != nil {
		b.Fatal(err)
	}
	st := e.srv.Directory().Store
	ids := make([]string, n)
	now := time.Now().UTC()
	for i := range n {
		name := fmt.Sprintf("seed%07d@example.com", i)
		u := &directory.User{ProviderID: p.ID, ID: uuid.NewString(), UserName: name, ExternalID: fmt.Sprintf("00u%07d", i),
			DisplayName: "Seed User", Created: now, LastModified: now,
			Resource: map[string]any{"userName": name, "displayName": "Seed User", "active": true,
				"name":   map[string]any{"givenName": "Seed", "familyName": "User"},
				"emails": []any{map[string]any{"value": name, "type": "work", "primary": true}}}}
		if err := st.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
		ids[i] = u.ID
	}
	return ids
}

func (e *scimEnv) benchDo(b *testing.B, client *http.Client, method, path, body string, want int) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.http.URL+"/scim/v2"+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.key)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		b.Fatalf("%s %s: %d, want %d", method, path, res.StatusCode, want)
	}
}

// BenchmarkSCIM measures Okta's three hot requests over real HTTP on
// loopback against SQLite stores of 1k and 100k users:
//
//	go test -run '^$' -bench BenchmarkSCIM -benchtime 2000x ./pkg/server
func BenchmarkSCIM(b *testing.B) {
	benchSCIM(b, func(b *testing.B) *scimEnv { return newSCIMEnv(b) })
}

// BenchmarkSCIMPostgres is BenchmarkSCIM on the PostgreSQL store, each size
// in a fresh schema of the server KACESCIM_TEST_POSTGRES names:
//
//	scripts/with-postgres.sh go test -run '^$' -bench BenchmarkSCIMPostgres -benchtime 2000x ./pkg/server
func BenchmarkSCIMPostgres(b *testing.B) {
	benchSCIM(b, func(b *testing.B) *scimEnv { return newSCIMEnvOn(b, storetest.PostgresDSN(b)) })
}

func benchSCIM(b *testing.B, newEnv func(b *testing.B) *scimEnv) {
	for _, n := range benchSizes(b) {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			e := newEnv(b)
			ids := seedUsers(b, e, n)
			client := e.http.Client()
			b.Run("lookup-userName-eq", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					name := fmt.Sprintf("seed%07d%%40example.com", (i*7919)%n)
					e.benchDo(b, client, "GET", "/Users?filter=userName%20eq%20%22"+name+"%22&startIndex=1&count=100", "", 200)
				}
			})
			b.Run("deactivate-patch", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					active := "false"
					if (i/n)%2 == 1 {
						active = "true"
					}
					e.benchDo(b, client, "PATCH", "/Users/"+ids[i%n],
						`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":`+active+`}}]}`, 200)
				}
			})
			b.Run("create", func(b *testing.B) {
				start := time.Now().UnixNano() // each run of the sub-benchmark creates new users
				for i := 0; b.Loop(); i++ {
					e.benchDo(b, client, "POST", "/Users", userBody(fmt.Sprintf("bench-%d-%d-%d@example.com", n, start, i)), 201)
				}
			})
		})
	}
}

// benchSizes are the numbers of users BenchmarkSCIM runs with: 1k and 100k,
// or the comma-separated list in KACESCIM_BENCH_USERS (e.g. 1000000).
func benchSizes(b *testing.B) []int {
	env := os.Getenv("KACESCIM_BENCH_USERS")
	if env == "" {
		return []int{1_000, 100_000}
	}
	var sizes []int
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("KACESCIM_BENCH_USERS=%q: want a comma-separated list of user counts", env)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// BenchmarkSCIMMapped is BenchmarkSCIM's writes for a provider with all
// the suggested mappings (directory.SuggestedMappings), whose mapper every
// write needs:
//
//	go test -run '^$' -bench BenchmarkSCIMMapped -benchtime 2000x -benchmem ./pkg/server
func BenchmarkSCIMMapped(b *testing.B) {
	e := newSCIMEnv(b)
	setupBriefMappings(b, e)
	ids := seedUsers(b, e, 1_000)
	client := e.http.Client()
	b.Run("deactivate-patch", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			active := "false"
			if (i/len(ids))%2 == 1 {
				active = "true"
			}
			e.benchDo(b, client, "PATCH", "/Users/"+ids[i%len(ids)],
				`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":`+active+`}}]}`, 200)
		}
	})
	b.Run("create", func(b *testing.B) {
		start := time.Now().UnixNano() // each run of the sub-benchmark creates new users
		for i := 0; b.Loop(); i++ {
			e.benchDo(b, client, "POST", "/Users", userBody(fmt.Sprintf("mapped-%d-%d@example.com", start, i)), 201)
		}
	})
}
