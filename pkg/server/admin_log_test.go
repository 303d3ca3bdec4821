package server_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

const adminLogs = adminapi.Prefix + "/logs"

// setClock is a clock that stands still until it is set, so that log
// entries get exactly the times a test chose.
type setClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *setClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *setClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// logEnv is an admin env on a set clock with two enabled providers, okta
// and entra; it returns their keys.
func newLogEnv(t *testing.T) (e *adminEnv, clock *setClock, okta, entra string) {
	t.Helper()
	clock = &setClock{t: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}
	e = newAdminEnv(t, server.Config{}, servertest.Clock(clock.Now))
	key := func(name string) string {
		body := e.mustDo("POST", adminProviders, `{"name":"`+name+`","enabled":true}`, http.StatusCreated)
		return decodeAdmin[adminapi.ProviderKeyResponse](t, body).Key
	}
	return e, clock, key("okta"), key("entra")
}

// logs reads the provisioning log through the admin API with query q.
func (e *adminEnv) logs(q string) []adminapi.LogEntry {
	e.t.Helper()
	body := e.mustDo("GET", adminLogs+q, "", http.StatusOK)
	if !bytes.Contains(body, []byte(`"entries":[`)) {
		e.t.Fatalf("GET %s: entries is not a list: %s", q, body)
	}
	return decodeAdmin[adminapi.LogList](e.t, body).Entries
}

// statuses is the status of each entry, in order: what most checks need.
func statuses(es []adminapi.LogEntry) string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.Provider + ":" + strconv.Itoa(e.Status))
	}
	return b.String()
}

func TestAdminLog(t *testing.T) {
	e, clock, okta, entra := newLogEnv(t)
	t0 := clock.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	// The log starts empty, as [] rather than null.
	if es := e.logs(""); len(es) != 0 {
		t.Fatalf("new server's log: %+v", es)
	}

	clock.Set(at(0))
	status, created := e.scim(okta, "POST", "/Users", `{"userName":"ada@example.com","displayName":"Ada","active":true}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, created)
	}
	id, _ := created["id"].(string)
	clock.Set(at(time.Hour))
	e.scim(okta, "GET", `/Users?filter=userName%20eq%20%22ada@example.com%22`, "")
	clock.Set(at(90 * time.Minute))
	if status, _ := e.scim(okta, "POST", "/Users", `{"userName":"ADA@example.com"}`); status != http.StatusConflict {
		t.Fatalf("duplicate: %d", status)
	}
	clock.Set(at(2 * time.Hour))
	e.scim("kcs_not-a-key", "GET", "/Users", "")
	e.scim(entra, "GET", "/Users/"+id, "")

	// Everything, oldest first, with each field filled from the request.
	all := e.logs("")
	if got := statuses(all); got != "okta:201 okta:200 okta:409 :401 entra:404" {
		t.Fatalf("log = %s", got)
	}
	create, lookup, dup, unauth, other := all[0], all[1], all[2], all[3], all[4]
	if create.Method != "POST" || create.Path != "/scim/v2/Users" || create.ResourceID != id || create.RequestID == "" ||
		create.LatencyMs <= 0 || create.Error != "" || !create.Time.Equal(at(0)) {
		t.Errorf("create entry: %+v", create)
	}
	if lookup.Method != "GET" || lookup.Path != `/scim/v2/Users?filter=userName%20eq%20%22ada@example.com%22` || !lookup.Time.Equal(at(time.Hour)) {
		t.Errorf("lookup entry: %+v", lookup)
	}
	if !strings.Contains(dup.Error, "already taken") || dup.ResourceID != "" {
		t.Errorf("duplicate entry: %+v", dup)
	}
	if unauth.Provider != "" || unauth.Error == "" || !unauth.Time.Equal(at(2*time.Hour)) {
		t.Errorf("401 entry: %+v", unauth)
	}
	if other.ResourceID != id || other.Path != "/scim/v2/Users/"+id {
		t.Errorf("entra's 404 entry: %+v", other)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatalf("ids do not increase: %d then %d", all[i-1].ID, all[i].ID)
		}
	}
	// The provider is "" on the wire, not missing, for the 401.
	if body := e.mustDo("GET", adminLogs+"?failed=true&limit=2", "", 200); !bytes.Contains(body, []byte(`"provider":"","requestId"`)) {
		t.Errorf("401 entry on the wire: %s", body)
	}

	for _, tc := range []struct {
		query, want string
	}{
		{"?provider=okta", "okta:201 okta:200 okta:409"},
		{"?provider=ENTRA", "entra:404"},
		{"?failed=true", "okta:409 :401 entra:404"},
		{"?failed=false", "okta:201 okta:200 okta:409 :401 entra:404"},
		{"?provider=okta&failed=true", "okta:409"},
		// A limit keeps the newest, still oldest first.
		{"?limit=2", ":401 entra:404"},
		{"?provider=okta&limit=1", "okta:409"},
		{"?limit=20000", "okta:201 okta:200 okta:409 :401 entra:404"},
		// after= is how a follower resumes.
		{"?after=" + strconv.FormatInt(dup.ID, 10), ":401 entra:404"},
		{"?after=" + strconv.FormatInt(other.ID, 10), ""},
		{"?after=0", "okta:201 okta:200 okta:409 :401 entra:404"},
		{"?after=" + strconv.FormatInt(create.ID, 10) + "&failed=true&limit=1", "entra:404"},
		// since: a duration before the server's clock (now 11:00), or a time;
		// the bound is inclusive.
		{"?since=90m", "okta:200 okta:409 :401 entra:404"},
		{"?since=1h30m", "okta:200 okta:409 :401 entra:404"},
		{"?since=30m", "okta:409 :401 entra:404"},
		{"?since=0s", ":401 entra:404"},
		{"?since=" + url.QueryEscape(at(time.Hour).Format(time.RFC3339)), "okta:200 okta:409 :401 entra:404"},
		{"?since=" + url.QueryEscape(at(time.Hour).In(time.FixedZone("", 2*3600)).Format(time.RFC3339)), "okta:200 okta:409 :401 entra:404"},
		{"?since=2026-03-14T10:00:00.001Z&provider=okta", "okta:409"},
		{"?since=2027-01-01T00:00:00Z", ""},
	} {
		if got := statuses(e.logs(tc.query)); got != tc.want {
			t.Errorf("GET %s = %q, want %q", tc.query, got, tc.want)
		}
	}

	// Reading the log is not itself logged.
	if n := len(e.logs("")); n != 5 {
		t.Fatalf("%d entries after the reads, want 5", n)
	}
}

func TestAdminLogErrors(t *testing.T) {
	e, _, _, _ := newLogEnv(t)
	for _, tc := range []struct {
		query, code, msg string
		status           int
	}{
		{"?provider=nope", "not_found", `no provider named "nope"`, 404},
		{"?since=yesterday", "invalid", `since "yesterday" is neither an RFC 3339 time (2025-03-14T09:00:00Z) nor a duration (30m, 1h, 24h)`, 400},
		{"?since=1d", "invalid", `since "1d" is neither`, 400},
		{"?since=2026-03-14", "invalid", `since "2026-03-14" is neither`, 400},
		{"?since=-1h", "invalid", `since "-1h" is a negative duration: 1h means the last hour`, 400},
		{"?after=x", "invalid", `after must be a log entry id (0 or more), not "x"`, 400},
		{"?after=-3", "invalid", `after must be a log entry id (0 or more), not "-3"`, 400},
		{"?failed=maybe", "invalid", `failed must be true or false, not "maybe"`, 400},
		{"?limit=0", "invalid", `limit must be a whole number from 1 to 10000, not "0"`, 400},
		{"?limit=ten", "invalid", `limit must be a whole number from 1 to 10000, not "ten"`, 400},
	} {
		status, body := e.do("GET", adminLogs+tc.query, "")
		wantAdminError(t, status, body, tc.status, tc.code, tc.msg)
	}
	status, body := e.doAuth("GET", adminLogs, "", "Bearer wrong")
	wantAdminError(t, status, body, http.StatusUnauthorized, "unauthorized", "invalid admin token")
	status, body = e.do("POST", adminLogs, "")
	wantAdminError(t, status, body, http.StatusNotFound, "not_found", "no admin endpoint POST "+adminLogs)
}
