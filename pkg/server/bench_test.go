package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// From 16 goroutines, so that the group commit gathers the creates
	// (a million users in a few minutes); in creation order by index
	// within each goroutine's share, which is all the benchmarks need.
	const seeders = 16
	var (
		wg   sync.WaitGroup
		fail atomic.Value
	)
	for w := range seeders {
		wg.Go(func() {
			for i := w; i < n; i += seeders {
				name := fmt.Sprintf("seed%07d@example.com", i)
				u := &directory.User{ProviderID: p.ID, ID: uuid.NewString(), UserName: name, ExternalID: fmt.Sprintf("00u%07d", i),
					DisplayName: "Seed User", Created: now, LastModified: now,
					Resource: map[string]any{"userName": name, "displayName": "Seed User", "active": true,
						"name":   map[string]any{"givenName": "Seed", "familyName": "User"},
						"emails": []any{map[string]any{"value": name, "type": "work", "primary": true}}}}
				if err := st.CreateUser(ctx, u); err != nil {
					fail.Store(err)
					return
				}
				ids[i] = u.ID
			}
		})
	}
	wg.Wait()
	if err, _ := fail.Load().(error); err != nil {
		b.Fatal(err)
	}
	return ids
}

// latencies records the time of each operation of a benchmark and reports
// their 99th percentile, the figure the scale targets are stated in.
type latencies []time.Duration

// time runs op and records how long it took.
func (l *latencies) time(op func()) {
	t := time.Now()
	op()
	*l = append(*l, time.Since(t))
}

// report adds the p99 (and p50) of the recorded times to b's results.
func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	at := func(q float64) float64 { return float64(l[min(len(l)-1, int(q*float64(len(l))))].Microseconds()) }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
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

// BenchmarkSCIM measures Okta's hot requests over real HTTP on loopback
// against SQLite stores of 1k and 100k users (or KACESCIM_BENCH_USERS),
// with the p50 and p99 of each request:
//
//	go test -run '^$' -bench 'BenchmarkSCIM$' -benchtime 2000x ./pkg/server
//	KACESCIM_BENCH_USERS=1000,1000000 go test -run '^$' -bench 'BenchmarkSCIM$' -benchtime 5000x -timeout 60m ./pkg/server
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
				var l latencies
				for i := 0; b.Loop(); i++ {
					name := fmt.Sprintf("seed%07d%%40example.com", (i*7919)%n)
					l.time(func() {
						e.benchDo(b, client, "GET", "/Users?filter=userName%20eq%20%22"+name+"%22&startIndex=1&count=100", "", 200)
					})
				}
				l.report(b)
			})
			b.Run("deactivate-patch", func(b *testing.B) {
				var l latencies
				for i := 0; b.Loop(); i++ {
					active := "false"
					if (i/n)%2 == 1 {
						active = "true"
					}
					id := ids[(i*7919)%n]
					l.time(func() {
						e.benchDo(b, client, "PATCH", "/Users/"+id,
							`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":`+active+`}}]}`, 200)
					})
				}
				l.report(b)
			})
			// An import's walk: pages of 100 in order, from the first to
			// the last, then again.
			b.Run("list-page-walk", func(b *testing.B) {
				var l latencies
				pages := (n + 99) / 100
				for i := 0; b.Loop(); i++ {
					start := (i%pages)*100 + 1
					l.time(func() { e.benchDo(b, client, "GET", fmt.Sprintf("/Users?startIndex=%d&count=100", start), "", 200) })
				}
				l.report(b)
			})
			// The last page, asked for on its own: an OFFSET of n, unless
			// an earlier page left a mark to start from.
			b.Run("list-last-page", func(b *testing.B) {
				var l latencies
				for b.Loop() {
					l.time(func() {
						e.benchDo(b, client, "GET", fmt.Sprintf("/Users?startIndex=%d&count=100", max(1, n-99)), "", 200)
					})
				}
				l.report(b)
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

// BenchmarkGroupPush100k pushes a group of 100,000 members as Okta's Group
// Push does, in PATCHes of +100 members: 1,000 PATCHes an op. The time of
// a PATCH must not grow with the group: first100-ms and last100-ms are the
// mean PATCH times of the first and the last hundred.
//
//	go test -run '^$' -bench BenchmarkGroupPush100k -benchtime 1x -timeout 30m ./pkg/server
func BenchmarkGroupPush100k(b *testing.B) {
	const members, batch = 100_000, 100
	e := newSCIMEnv(b)
	ids := seedUsers(b, e, members)
	client := e.http.Client()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		res := e.do("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Push %d","members":[]}`, i))
		gid := e.must(res, 201).str("id")
		b.StartTimer()
		var l latencies
		for start := 0; start < members; start += batch {
			var v strings.Builder
			for j, id := range ids[start : start+batch] {
				if j > 0 {
					v.WriteByte(',')
				}
				fmt.Fprintf(&v, `{"value":%q}`, id)
			}
			l.time(func() {
				e.benchDo(b, client, "PATCH", "/Groups/"+gid,
					`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[`+v.String()+`]}]}`, 204)
			})
		}
		b.StopTimer()
		mean := func(d []time.Duration) float64 {
			var sum time.Duration
			for _, x := range d {
				sum += x
			}
			return float64(sum.Microseconds()) / 1000 / float64(len(d))
		}
		b.ReportMetric(mean(l[:100]), "first100-ms")
		b.ReportMetric(mean(l[len(l)-100:]), "last100-ms")
		l.report(b)
		ctx := context.Background()
		p, _ := e.srv.Directory().Provider(ctx, "okta")
		g, err := e.srv.Directory().Store.FindGroupByID(ctx, p.ID, gid, true)
		if err != nil || len(g.Members) != members {
			b.Fatalf("the group: %v, want %d members", err, members)
		}
		b.StartTimer()
	}
}

// BenchmarkCreateConcurrent creates users from 8 clients at once, as an
// initial import does: the group commit shares one fsync among the
// creates that arrive together (ns/op is per create).
//
//	go test -run '^$' -bench BenchmarkCreateConcurrent -benchtime 5000x ./pkg/server
func BenchmarkCreateConcurrent(b *testing.B) {
	e := newSCIMEnv(b)
	client := e.http.Client()
	var next atomic.Int64
	start := time.Now().UnixNano()
	b.SetParallelism(4) // 8 clients on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e.benchDo(b, client, "POST", "/Users", userBody(fmt.Sprintf("conc-%d-%d@example.com", start, next.Add(1))), 201)
		}
	})
}
