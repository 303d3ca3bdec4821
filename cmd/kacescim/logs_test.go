package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

// fakeLog is an in-memory GET /admin/v1/logs over fixed entries, with the
// server's filters, so that the output of `logs` is the same every run.
type fakeLog struct {
	mu      sync.Mutex
	entries []adminapi.LogEntry
	queries []string // the query of every request, in order
}

func newFakeLog() *fakeLog {
	entry := func(id int64, ago time.Duration, provider, method, path string, status int, resource string, ms float64, errText string) adminapi.LogEntry {
		return adminapi.LogEntry{ID: id, Time: now.Add(-ago), Provider: provider, RequestID: "req-" + strconv.FormatInt(id, 10),
			Method: method, Path: path, ResourceID: resource, Status: status, LatencyMs: ms, Error: errText}
	}
	return &fakeLog{entries: []adminapi.LogEntry{
		entry(1, 3*time.Hour, "Okta", "POST", "/scim/v2/Users", 201, fakeGUID, 12.345, ""),
		entry(2, 2*time.Hour, "Okta", "GET", "/scim/v2/Users?filter=userName%20eq%20%22ada%40example.com%22", 200, "", 3.21, ""),
		entry(3, 90*time.Minute, "Okta", "POST", "/scim/v2/Users", 409, "", 4.5, "userName ada@example.com is already taken"),
		entry(4, 40*time.Minute, "", "GET", "/scim/v2/Users", 401, "", 0.25, "invalid security key"),
		entry(5, 5*time.Minute, "Entra ID", "PATCH", "/scim/v2/Users/e-1", 200, "e-1", 25.7, ""),
		entry(6, time.Minute, "Okta", "DELETE", "/scim/v2/Groups/g-1", 500, "g-1", 1534.2, "internal error"),
		entry(7, 10*time.Second, "Okta", "PUT", "/scim/v2/Users/"+fakeGUID, 200, fakeGUID, 8, ""),
	}}
}

// newEntry is what the identity provider does while `logs --follow` runs.
var newEntry = adminapi.LogEntry{ID: 8, Time: now.Add(-2 * time.Second), Provider: "Okta", RequestID: "req-8", Method: "GET",
	Path: "/scim/v2/Users/nobody", ResourceID: "nobody", Status: 404, LatencyMs: 1.5, Error: "no user with id nobody"}

func (f *fakeLog) add(e adminapi.LogEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, e)
}

func (f *fakeLog) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries...)
}

func (f *fakeLog) handler() http.Handler {
	fail := func(w http.ResponseWriter, status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(adminapi.ErrorBody{Error: adminapi.Error{Code: code, Message: msg}})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.queries = append(f.queries, r.URL.RawQuery)
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			fail(w, 401, "unauthorized", "invalid admin token")
			return
		}
		if r.Method != "GET" || r.URL.Path != "/admin/v1/logs" {
			fail(w, 404, "not_found", "no admin endpoint "+r.Method+" "+r.URL.Path)
			return
		}
		q := r.URL.Query()
		provider := q.Get("provider")
		if provider != "" && !strings.EqualFold(provider, "okta") && !strings.EqualFold(provider, "entra id") {
			fail(w, 404, "not_found", `no provider named "`+provider+`"`)
			return
		}
		var since time.Time
		if s := q.Get("since"); s != "" {
			var err error
			if since, err = adminapi.ParseSince(s, now); err != nil {
				fail(w, 400, "invalid", "since "+err.Error())
				return
			}
		}
		after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
		limit, err := strconv.Atoi(q.Get("limit"))
		if err != nil {
			limit = adminapi.DefaultLogLimit
		}
		var match []adminapi.LogEntry
		for _, e := range f.entries {
			if (provider == "" || strings.EqualFold(provider, e.Provider)) && !e.Time.Before(since) && e.ID > after &&
				(q.Get("failed") != "true" || e.Status >= 400) {
				match = append(match, e)
			}
		}
		list := adminapi.LogList{Entries: match[max(len(match)-limit, 0):]}
		if list.Entries == nil {
			list.Entries = []adminapi.LogEntry{}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(list)
	})
}

// startFakeLog serves a fresh fakeLog; it returns it and the connection
// flags.
func startFakeLog(t *testing.T) (*fakeLog, []string) {
	t.Helper()
	f := newFakeLog()
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	return f, []string{"--server", srv.URL, "--token", testToken}
}

func TestLogsOutputGolden(t *testing.T) {
	isolateEnv(t)
	for _, tc := range []struct {
		name string
		tty  bool
		args []string
	}{
		{"logs.tty", true, []string{"logs"}},
		{"logs.piped", false, []string{"logs"}},
		{"logs.json", false, []string{"logs", "--output", "json"}},
		{"logs-failed.tty", true, []string{"logs", "--failed"}},
		{"logs-failed.piped", false, []string{"logs", "--failed"}},
		{"logs-provider.piped", false, []string{"logs", "--provider", "okta"}},
		{"logs-provider-failed.json", false, []string{"logs", "-p", "Okta", "--failed", "-o", "json"}},
		{"logs-since.piped", false, []string{"logs", "--since", "1h"}},
		{"logs-since-time.piped", false, []string{"logs", "--since", "2025-03-14T10:30:00+01:00"}},
		{"logs-limit.tty", true, []string{"logs", "--limit", "3"}},
		{"logs-limit.piped", false, []string{"logs", "-L", "2", "--failed"}},
		{"logs-none.tty", true, []string{"logs", "--provider", "Entra ID", "--failed"}},
		{"logs-none.piped", false, []string{"logs", "--provider", "Entra ID", "--failed"}},
		{"logs-none.json", false, []string{"logs", "--provider", "Entra ID", "--failed", "-o", "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, conn := startFakeLog(t)
			r := runCLI(t, tc.tty, append(tc.args, conn...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if strings.Contains(r.stdout, "\x1b[") {
				t.Errorf("escape codes without colour:\n%q", r.stdout)
			}
			if strings.HasSuffix(tc.name, ".json") {
				checkJSONLines(t, r.stdout)
			}
			golden(t, tc.name+".golden", r.stdout)
			if r.stderr != "" {
				golden(t, tc.name+".stderr.golden", r.stderr)
			}
		})
	}
}

// checkJSONLines checks that out is one JSON object per line.
func checkJSONLines(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var e map[string]any
		if line != "" && json.Unmarshal([]byte(line), &e) != nil {
			t.Errorf("not a JSON object: %s", line)
		}
	}
}

// The query sent is the flags, as they were given: the server reads since
// with its own clock.
func TestLogsQuery(t *testing.T) {
	isolateEnv(t)
	f, conn := startFakeLog(t)
	r := runCLI(t, false, append([]string{"logs", "-p", "Entra ID", "--since", "90m", "--failed", "-L", "20"}, conn...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := f.sent(); len(got) != 1 || got[0] != "failed=true&limit=20&provider=Entra+ID&since=90m" {
		t.Fatalf("sent %q", got)
	}
}

func TestLogsErrorsGolden(t *testing.T) {
	isolateEnv(t)
	for _, tc := range []struct {
		name string
		code int
		args []string
	}{
		{"logs-bad-since", exitUsage, []string{"logs", "--since", "yesterday"}},
		{"logs-negative-since", exitUsage, []string{"logs", "--since=-1h"}},
		{"logs-bad-limit", exitUsage, []string{"logs", "--limit", "0"}},
		{"logs-big-limit", exitUsage, []string{"logs", "--limit", "10001"}},
		{"logs-bad-poll", exitUsage, []string{"logs", "--follow", "--poll-interval", "0s"}},
		{"logs-args", exitUsage, []string{"logs", "okta"}},
		{"logs-unknown-provider", exitError, []string{"logs", "--provider", "nope"}},
		{"logs-follow-unknown-provider", exitError, []string{"logs", "--provider", "nope", "--follow"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, conn := startFakeLog(t)
			r := runCLI(t, false, append(tc.args, conn...)...)
			if r.code != tc.code || r.stdout != "" {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q", r.code, tc.code, r.stdout, r.stderr)
			}
			golden(t, "error-"+tc.name+".golden", r.stderr)
		})
	}
}

// syncBuffer is a buffer that a command in the background writes while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startCLI runs the command tree in the background under ctx, as runCLI
// does in the foreground; its exit status arrives on done.
func startCLI(ctx context.Context, tty bool, args ...string) (out, errOut *syncBuffer, done <-chan int) {
	out, errOut = &syncBuffer{}, &syncBuffer{}
	g := &globalOptions{
		IO:       TestIO(strings.NewReader(""), out, errOut),
		Now:      func() time.Time { return now },
		Location: time.UTC,
		Version:  "test",
	}
	g.IO.SetStdoutTTY(tty)
	root := NewCmdRoot(g)
	root.SetArgs(args)
	codes := make(chan int, 1)
	go func() {
		cmd, err := root.ExecuteContextC(ctx)
		codes <- exitCode(g, cmd, err)
	}()
	return out, errOut, codes
}

// waitFor waits until b holds want, failing the test after ten seconds.
func waitFor(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", want, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitExit waits for the command to end after its context was cancelled;
// it must end at once, and cleanly.
func waitExit(t *testing.T, done <-chan int, errOut *syncBuffer) {
	t.Helper()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after cancel: %s", code, errOut)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("logs --follow did not stop when its context ended")
	}
}

// TestLogsFollow: the backlog, then what arrives, until the context ends;
// one request per poll interval, each resuming after the last id printed.
func TestLogsFollow(t *testing.T) {
	isolateEnv(t)
	for _, tc := range []struct {
		name        string
		tty         bool
		args        []string
		first, rest string // the query of the first poll, and of the later ones
	}{
		{"logs-follow.tty", true, nil, "limit=100", "limit=10000"},
		{"logs-follow.piped", false, nil, "limit=100", "limit=10000"},
		{"logs-follow.json", false, []string{"-o", "json"}, "limit=100", "limit=10000"},
		{"logs-follow-failed.piped", false, []string{"--failed", "--limit", "2", "-p", "okta"}, "failed=true&limit=2&provider=okta", "failed=true&limit=10000&provider=okta"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, conn := startFakeLog(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const interval = 20 * time.Millisecond
			start := time.Now()
			args := append(append([]string{"logs", "--follow", "--poll-interval", interval.String()}, tc.args...), conn...)
			out, errOut, done := startCLI(ctx, tc.tty, args...)
			// The second poll is sent only once the backlog is printed.
			waitPolls(t, f, 2)
			backlog := out.String()
			f.add(newEntry)
			waitFor(t, out, "no user with id nobody")
			cancel()
			waitExit(t, done, errOut)
			elapsed := time.Since(start)

			if errOut.String() != "" {
				t.Errorf("stderr: %s", errOut)
			}
			if strings.Contains(backlog, "nobody") || !strings.HasPrefix(out.String(), backlog) {
				t.Errorf("backlog:\n%s\nthen:\n%s", backlog, out)
			}
			if strings.HasSuffix(tc.name, ".json") {
				checkJSONLines(t, out.String())
			}
			golden(t, tc.name+".golden", out.String())

			sent := f.sent()
			if most := int(elapsed/interval) + 2; len(sent) > most {
				t.Errorf("%d polls in %s at one every %s: a busy loop?", len(sent), elapsed, interval)
			}
			if sent[0] != tc.first {
				t.Errorf("first poll %q, want %q", sent[0], tc.first)
			}
			// Then from followOverlap ids below the newest printed: with ids
			// this small, from the start.
			for i, q := range sent[1:] {
				if q != tc.rest {
					t.Errorf("poll %d = %q in %q, want %q", i+2, q, sent, tc.rest)
				}
			}
		})
	}
}

// TestLogsFollowLateCommit: with several replicas on PostgreSQL an entry
// can commit after one with a greater id. The follower asks again from
// followOverlap ids below the newest it printed, prints the late entry,
// and prints nothing twice.
func TestLogsFollowLateCommit(t *testing.T) {
	isolateEnv(t)
	f, conn := startFakeLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut, done := startCLI(ctx, false, append([]string{"logs", "--follow", "--poll-interval", "20ms", "-o", "json"}, conn...)...)
	waitPolls(t, f, 2)
	entry := func(id int64, path string) adminapi.LogEntry {
		e := newEntry
		e.ID, e.RequestID, e.Path = id, "req-"+strconv.FormatInt(id, 10), path
		return e
	}
	f.add(entry(150, "/scim/v2/Users/newest"))
	waitFor(t, out, "/scim/v2/Users/newest")
	f.add(entry(120, "/scim/v2/Users/late")) // committed after 150
	waitFor(t, out, "/scim/v2/Users/late")
	polls := len(f.sent())
	waitPolls(t, f, polls+2)
	cancel()
	waitExit(t, done, errOut)

	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e adminapi.LogEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		seen[e.RequestID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s printed %d times", id, n)
		}
	}
	if len(seen) != 9 {
		t.Errorf("printed %d entries, want the 7 of the backlog, 150 and 120: %v", len(seen), seen)
	}
	if last := f.sent()[len(f.sent())-1]; last != "after="+strconv.Itoa(150-followOverlap)+"&limit=10000" {
		t.Errorf("last poll %q", last)
	}
}

// waitPolls waits until f has been asked n times, failing the test after
// ten seconds.
func waitPolls(t *testing.T, f *fakeLog, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(f.sent()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d polls, want %d", len(f.sent()), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestLogsFollowServer follows a real server's log while SCIM requests
// arrive, and stops on SIGINT.
func TestLogsFollowServer(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir()
	srv, hs := servertest.Start(t, server.Config{DataDir: dir})
	key := servertest.AddProvider(t, srv, "okta")
	token, err := os.ReadFile(filepath.Join(dir, adminapi.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	scim := func(key, path string) {
		req, _ := http.NewRequest("GET", hs.URL+"/scim/v2"+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	scim(key, "/Users")

	out, errOut, done := startCLI(context.Background(), false,
		"logs", "--follow", "--poll-interval", "20ms", "--server", hs.URL, "--token", strings.TrimSpace(string(token)))
	waitFor(t, out, "\tokta\tGET\t/scim/v2/Users\t200\t\t")
	scim("kcs_wrong", "/Groups")
	scim(key, "/Users/nobody")
	waitFor(t, out, "\t\tGET\t/scim/v2/Groups\t401\t\t")
	waitFor(t, out, "\tokta\tGET\t/scim/v2/Users/nobody\t404\tnobody\t")

	// The handler is installed before the first poll, whose row we saw: the
	// signal stops the command instead of the test binary.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitExit(t, done, errOut)
	if lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); len(lines) != 4 || lines[0] != strings.Join(logHeaders, "\t") {
		t.Fatalf("output:\n%s", out)
	}
}

var ansiCodes = regexp.MustCompile("\x1b\\[[0-9;]*m")

// On a colour terminal the status is coloured by class; the table still
// lines up as without colour.
func TestLogsStatusColour(t *testing.T) {
	newPrinter := func(color bool) (*printer, *bytes.Buffer) {
		var b bytes.Buffer
		re := lipgloss.NewRenderer(&b)
		re.SetColorProfile(termenv.Ascii)
		if color {
			re.SetColorProfile(termenv.ANSI)
		}
		return &printer{out: &b, tty: true, now: now, loc: time.UTC, re: re}, &b
	}
	p, _ := newPrinter(true)
	for status, want := range map[int]string{201: "\x1b[32m201", 204: "\x1b[32m204", 302: "302", 401: "\x1b[33m401", 409: "\x1b[33m409", 500: "\x1b[31m500", 503: "\x1b[31m503"} {
		if got := statusCell(p, status); !strings.HasPrefix(got, want) {
			t.Errorf("status %d = %q, want it to start with %q", status, got, want)
		}
	}
	piped := &printer{tty: false}
	if got := statusCell(piped, 500); got != "500" {
		t.Errorf("piped status = %q", got)
	}

	entries := newFakeLog().entries
	colored, cb := newPrinter(true)
	plain, pb := newPrinter(false)
	colored.Table(logHeaders, logRows(colored, entries))
	plain.Table(logHeaders, logRows(plain, entries))
	if !strings.Contains(cb.String(), "\x1b[") {
		t.Fatal("no colour on a colour terminal")
	}
	if got := ansiCodes.ReplaceAllString(cb.String(), ""); got != pb.String() {
		t.Errorf("the coloured table does not line up:\n%s\nwant\n%s", got, pb)
	}
}

func TestLatencyCell(t *testing.T) {
	tty, piped := &printer{tty: true}, &printer{}
	for _, tc := range []struct {
		ms         float64
		tty, piped string
	}{
		{0, "0s", "0s"},
		{0.25, "250µs", "250µs"},
		{0.0004, "0s", "0s"},
		{3.21, "3.2ms", "3.21ms"},
		{12.345, "12.3ms", "12.345ms"},
		{999.99, "1s", "999.99ms"},
		{1534.2, "1.53s", "1.5342s"},
		{61234.5678, "1m1.23s", "1m1.234568s"},
	} {
		if got := latencyCell(tty, tc.ms); got != tc.tty {
			t.Errorf("latency %v on a terminal = %q, want %q", tc.ms, got, tc.tty)
		}
		if got := latencyCell(piped, tc.ms); got != tc.piped {
			t.Errorf("latency %v piped = %q, want %q", tc.ms, got, tc.piped)
		}
	}
}
