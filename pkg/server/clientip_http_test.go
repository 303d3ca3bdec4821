package server_test

import (
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/server"
)

// loopback trusts the test's own connections as a reverse proxy's.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// scimFrom sends GET /scim/v2/Users with key and, unless xff is empty,
// X-Forwarded-For: xff, and returns the status and body.
func (e *adminEnv) scimFrom(key, xff string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.http.URL+server.SCIMPrefix+"/Users?count=1", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// addOkta adds the enabled provider okta through the admin API and
// returns its key.
func (e *adminEnv) addOkta() string {
	e.t.Helper()
	body := e.mustDo("POST", adminProviders, `{"name":"okta","enabled":true}`, http.StatusCreated)
	return decodeAdmin[adminapi.ProviderKeyResponse](e.t, body).Key
}

// TestForwardedClientIP: behind a trusted proxy, the client
// X-Forwarded-For names is the one both logs keep; without one, the
// header is ignored and the connection's address is kept.
func TestForwardedClientIP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"trusted proxy", loopback, "203.0.113.9"},
		{"no trusted proxy", nil, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAdminEnv(t, server.Config{TrustedProxies: tc.trusted})
			key := e.addOkta()
			if status, body := e.scimFrom(key, "203.0.113.9"); status != http.StatusOK {
				t.Fatalf("GET /Users: %d %s", status, body)
			}
			entries := e.logs("?provider=okta")
			if len(entries) != 1 || entries[0].ClientIP != tc.want {
				t.Fatalf("provisioning log: %+v, want one entry with clientIp %s", entries, tc.want)
			}
			if logs := e.log.String(); !strings.Contains(logs, "path=/scim/v2/Users client_ip="+tc.want+" ") {
				t.Errorf("the request log does not name client_ip=%s:\n%s", tc.want, logs)
			}
		})
	}
}

// TestForwardedClientThrottled: behind a trusted proxy, the throttle of
// wrong keys keeps one bucket per forwarded client, so that one client
// spending its burst does not lock out another behind the same proxy;
// without a trusted proxy, X-Forwarded-For does not let a client out of
// its bucket.
func TestForwardedClientThrottled(t *testing.T) {
	// throttle sends wrong keys as xff until one is refused with 429
	// and returns that answer's detail.
	throttle := func(e *adminEnv, xff string) string {
		t.Helper()
		for i := range 200 {
			status, body := e.scimFrom("kcs_wrong", xff)
			switch status {
			case http.StatusUnauthorized:
			case http.StatusTooManyRequests:
				return body
			default:
				t.Fatalf("wrong key %d as %s: %d %s", i, xff, status, body)
			}
		}
		t.Fatalf("200 wrong keys as %s, none throttled", xff)
		return ""
	}

	e := newAdminEnv(t, server.Config{TrustedProxies: loopback})
	if body := throttle(e, "203.0.113.1"); !strings.Contains(body, "from 203.0.113.1") {
		t.Errorf("the 429 names another address: %s", body)
	}
	if status, body := e.scimFrom("kcs_wrong", "203.0.113.2"); status != http.StatusUnauthorized {
		t.Errorf("another client behind the proxy: %d %s, want 401", status, body)
	}
	if status, _ := e.scimFrom("kcs_wrong", "203.0.113.1"); status != http.StatusTooManyRequests {
		t.Errorf("the throttled client again: %d, want 429", status)
	}

	e = newAdminEnv(t, server.Config{})
	if body := throttle(e, "203.0.113.1"); !strings.Contains(body, "from 127.0.0.1") {
		t.Errorf("the 429 does not name the connection's address: %s", body)
	}
	if status, body := e.scimFrom("kcs_wrong", "203.0.113.2"); status != http.StatusTooManyRequests {
		t.Errorf("a forged X-Forwarded-For escaped the throttle: %d %s", status, body)
	}
}
