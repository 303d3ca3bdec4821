package record_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/conformance/record"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

const (
	recKey      = "kcs_s3cretRecordedKey0123456789abcdefABCDEF"
	recPassword = "1mz050nq"
	recUserID   = "2819c223-7f76-453a-919d-413861904646"
	recGroupID  = "e9e30dba-f08f-4109-8486-d5c6a331660a"
	recUpstream = "https://scim.example.com/scim/v2"
)

var recTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// recEx builds a recorded exchange with a bearer key.
func recEx(method, path, reqBody string, status int, respBody string, hdr ...string) record.Exchange {
	e := record.Exchange{
		Time:           recTime,
		Method:         method,
		Path:           path,
		RequestHeader:  http.Header{"Authorization": {"Bearer " + recKey}, "User-Agent": {"Okta SCIM Client 1.0.0"}},
		Status:         status,
		ResponseHeader: http.Header{"Content-Type": {"application/scim+json"}},
	}
	if reqBody != "" {
		e.RequestBody = []byte(reqBody)
		e.RequestHeader.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	if respBody != "" {
		e.ResponseBody = []byte(respBody)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		e.RequestHeader.Set(hdr[i], hdr[i+1])
	}
	return e
}

func recUserJSON(active bool, version string) string {
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":%q,"userName":"jane@example.com",`+
		`"displayName":"Jane Doe","externalId":"00ujl29u0le5T6Aj10h7","active":%t,`+
		`"emails":[{"value":"jane@example.com","primary":true}],`+
		`"meta":{"resourceType":"User","created":"2025-03-04T05:06:07Z","location":"%s/Users/%s","version":%q}}`,
		recUserID, active, recUpstream, recUserID, version)
}

// recSession is an Okta-style session as a recorder sees it.
func recSession() []record.Exchange {
	list := func(n int, resources string) string {
		return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":%d,"startIndex":1,"itemsPerPage":%d,"Resources":[%s]}`, n, n, resources)
	}
	noKey := recEx("GET", "/Users", "", 401, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"no key"}`)
	noKey.RequestHeader.Del("Authorization")
	badKey := recEx("GET", "/Users", "", 401, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"bad key"}`)
	badKey.RequestHeader.Set("Authorization", "Bearer kcs_wrongwrongwrongwrongwrong")
	return []record.Exchange{
		recEx("GET", "/Users?startIndex=1&count=2", "", 200, list(0, "")),
		recEx("GET", "/Users?filter=userName+eq+%22jane%40example.com%22&startIndex=1&count=100", "", 200, list(0, "")),
		recEx("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jane@example.com",`+
			`"name":{"givenName":"Jane","familyName":"Doe"},"emails":[{"primary":true,"value":"jane@example.com","type":"work"}],`+
			`"displayName":"Jane Doe","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"`+recPassword+`","active":true}`,
			201, recUserJSON(true, `W/"1"`)),
		recEx("GET", "/Users/"+recUserID, "", 200, recUserJSON(true, `W/"1"`)),
		recEx("PATCH", "/Users/"+recUserID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
			200, recUserJSON(false, `W/"2"`), "If-Match", `W/"1"`, "X-Request-Id", "f81d4fae7dec11d0a76500a0c91e6bf6", "Cookie", "sid=abc"),
		recEx("PATCH", "/Users/"+recUserID, `{"Operations":[{"op":"replace","path":"password","value":"n3wSecret!"}]}`, 204, ""),
		noKey,
		badKey,
		recEx("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[{"value":"`+recUserID+`","display":"Jane Doe"}]}`,
			201, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"`+recGroupID+`","displayName":"Engineering","members":[{"value":"`+recUserID+`","$ref":"`+recUpstream+`/Users/`+recUserID+`"}],"meta":{"resourceType":"Group","version":"W/\"1\""}}`),
		recEx("PATCH", "/Groups/"+recGroupID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"`+recUserID+`\"]"}]}`, 204, ""),
		recEx("GET", "/Groups?filter=displayName%20eq%20%22Engineering%22", "", 200,
			list(1, `{"id":"`+recGroupID+`","displayName":"Engineering","meta":{"resourceType":"Group"}}`)),
	}
}

// kacescim is a real kacescim server to record in front of.
type kacescim struct {
	base  string // the SCIM base URL
	admin *client.Admin
}

func newKacescim(t *testing.T) *kacescim {
	t.Helper()
	_, ts := servertest.Start(t, server.Config{AdminToken: "test-admin-token"})
	return &kacescim{base: ts.URL + server.SCIMPrefix, admin: client.NewAdmin(ts.URL, "test-admin-token")}
}

// TestBuildScenario: ids become captures, chosen values variables, the
// recorded statuses and stable values expectations, and what was created
// and not deleted is cleaned up.
func TestBuildScenario(t *testing.T) {
	s, err := record.BuildScenario(recSession(), record.Info{Suite: "okta-rec", Upstream: recUpstream})
	if err != nil {
		t.Fatal(err)
	}
	data, err := conformance.MarshalScenario(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", data)
	if _, err := conformance.ParseScenario("recorded.json", data); err != nil {
		t.Fatalf("the written scenario does not load: %v", err)
	}
	if s.Suite != "okta-rec" || s.Source != "recorded 2025-03-04T05:06:07Z from scim.example.com" {
		t.Errorf("suite %q source %q", s.Suite, s.Source)
	}
	wantVars := map[string]string{
		"userName1":    "rec-{{rand}}-jane@example.com",
		"displayName1": "rec-{{rand}}-Jane Doe",
		"displayName2": "rec-{{rand}}-Engineering",
		"externalId1":  "rec-{{rand}}-00ujl29u0le5T6Aj10h7",
	}
	for k, v := range wantVars {
		if s.Vars[k] != v {
			t.Errorf("var %s = %q, want %q (vars %v)", k, s.Vars[k], v, s.Vars)
		}
	}
	if len(s.Vars) != len(wantVars) {
		t.Errorf("vars %v, want %v", s.Vars, wantVars)
	}

	step := func(i int) conformance.Step { return s.Steps[i] }
	wantPaths := []string{
		"/Users?startIndex=1&count=2",
		`/Users?filter=userName eq "{{userName1}}"&startIndex=1&count=100`,
		"/Users",
		"/Users/{{user1Id}}",
		"/Users/{{user1Id}}",
		"/Users/{{user1Id}}",
		"/Users",
		"/Users",
		"/Groups",
		"/Groups/{{group1Id}}",
		`/Groups?filter=displayName eq "{{displayName2}}"`,
	}
	for i, p := range wantPaths {
		if step(i).Path != p {
			t.Errorf("step %d path %q, want %q", i+1, step(i).Path, p)
		}
		if want := fmt.Sprintf("%d. %s %s", i+1, step(i).Method, p); step(i).Name != want {
			t.Errorf("step %d name %q, want %q", i+1, step(i).Name, want)
		}
		if step(i).Severity != conformance.SeverityMust {
			t.Errorf("step %d severity %q", i+1, step(i).Severity)
		}
	}
	if c := step(2).Capture; c["user1Id"] != "id" {
		t.Errorf("POST /Users captures %v, want user1Id from id", c)
	}
	if c := step(3).Capture; c["user1Version1"] != "meta.version" {
		t.Errorf("GET captures %v, want user1Version1 from meta.version (the If-Match of the next step)", c)
	}
	if h := step(4).Headers; h["If-Match"] != "{{user1Version1}}" || h["X-Request-Id"] != "" || h["Cookie"] != "" || h["User-Agent"] != "Okta SCIM Client 1.0.0" {
		t.Errorf("PATCH headers %v", h)
	}
	if c := step(8).Capture; c["group1Id"] != "id" {
		t.Errorf("POST /Groups captures %v", c)
	}
	if got := []string{step(0).Auth, step(6).Auth, step(7).Auth}; got[0] != "" || got[1] != conformance.AuthNone || got[2] != conformance.AuthInvalid {
		t.Errorf("auth modes %q, want default, none, invalid", got)
	}
	for i, want := range []int{200, 200, 201, 200, 200, 204, 401, 401, 201, 204, 200} {
		if st := step(i).Expect.Status; len(st) != 1 || st[0] != want {
			t.Errorf("step %d status %v, want %d", i+1, st, want)
		}
	}
	body := string(step(2).Body)
	for _, want := range []string{`"userName":"{{userName1}}"`, `"value":"{{userName1}}"`, `"displayName":"{{displayName1}}"`,
		`"externalId":"{{externalId1}}"`, `"password":"` + record.PasswordPlaceholder + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("POST body lacks %s: %s", want, body)
		}
	}
	if !strings.HasPrefix(body, `{"schemas":`) {
		t.Errorf("the body's keys are not in the recorded order: %s", body)
	}
	if b := string(step(5).Body); !strings.Contains(b, `"value":"`+record.PasswordPlaceholder+`"`) {
		t.Errorf("password PATCH body %s", b)
	}
	if b := string(step(8).Body); !strings.Contains(b, `"members":[{"value":"{{user1Id}}","display":"{{displayName1}}"}]`) {
		t.Errorf("group body %s", b)
	}
	if b := string(step(9).Body); !strings.Contains(b, `members[value eq \"{{user1Id}}\"]`) {
		t.Errorf("member remove body %s", b)
	}

	assertions := func(i int) string {
		var parts []string
		for _, a := range step(i).Expect.Assert {
			parts = append(parts, fmt.Sprintf("%s %s %s", *a.JSON, a.Op, a.Value))
		}
		return strings.Join(parts, "; ")
	}
	for i, want := range map[int]string{
		0: `schemas has_value "urn:ietf:params:scim:api:messages:2.0:ListResponse"; totalResults is_a_number ; Resources type "array"`,
		1: `schemas has_value "urn:ietf:params:scim:api:messages:2.0:ListResponse"; totalResults equal_number 0; Resources type "array"`,
		2: `schemas has_value "urn:ietf:params:scim:schemas:core:2.0:User"; id not_empty ; userName equal "{{userName1}}"; displayName equal "{{displayName1}}"; externalId equal "{{externalId1}}"; active equal true`,
		4: `schemas has_value "urn:ietf:params:scim:schemas:core:2.0:User"; id equal "{{user1Id}}"; userName equal "{{userName1}}"; displayName equal "{{displayName1}}"; externalId equal "{{externalId1}}"; active equal false`,
		6: `schemas has_value "urn:ietf:params:scim:api:messages:2.0:Error"`,
		10: `schemas has_value "urn:ietf:params:scim:api:messages:2.0:ListResponse"; totalResults equal_number 1; ` +
			`Resources[*].id has_element "{{group1Id}}"; Resources type "array"`,
	} {
		if got := assertions(i); got != want {
			t.Errorf("step %d assertions:\n got %s\nwant %s", i+1, got, want)
		}
	}
	if len(s.Cleanup) != 2 || s.Cleanup[0].Path != "/Groups/{{group1Id}}" || s.Cleanup[1].Path != "/Users/{{user1Id}}" || s.Cleanup[0].Method != "DELETE" {
		t.Errorf("cleanup %+v, want the group, then the user deleted", s.Cleanup)
	}
	for _, secret := range []string{recKey, recPassword, "n3wSecret!", "kcs_wrongwrongwrongwrongwrong", recUserID, recGroupID,
		"f81d4fae7dec11d0a76500a0c91e6bf6", "sid=abc", `"created"`, recUpstream} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the scenario file holds %q", secret)
		}
	}
}

// A recording that deletes what it created needs no cleanup; numbering
// starts where it is told.
func TestBuildScenarioDeletedAndNumbering(t *testing.T) {
	s, err := record.BuildScenario([]record.Exchange{
		recEx("POST", "/Groups", `{"displayName":"Ops"}`, 201, `{"id":"`+recGroupID+`","displayName":"Ops"}`),
		recEx("DELETE", "/Groups/"+recGroupID, "", 204, ""),
	}, record.Info{Upstream: recUpstream, FirstStep: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cleanup) != 0 {
		t.Errorf("cleanup %+v, want none", s.Cleanup)
	}
	if s.Suite != "recorded" || s.Steps[0].Name != "7. POST /Groups" || s.Steps[1].Name != "8. DELETE /Groups/{{group1Id}}" {
		t.Errorf("suite %q, names %q, %q", s.Suite, s.Steps[0].Name, s.Steps[1].Name)
	}
}

// Secrets never reach the file: credentials in headers, the key wherever
// it shows up, token-like values, passwords in bodies that are not JSON.
func TestBuildScenarioRedaction(t *testing.T) {
	bare := recEx("GET", "/Users?access_token="+recKey, "", 200, `{"totalResults":0,"Resources":[]}`,
		"Authorization", recKey, "X-Api-Key", "plain", "X-Trace", "Bearer abcdef", "X-Correlation", "a1b2c3d4e5f6a7b8c9d0e1f2",
		"Accept", "application/scim+json", "X-Custom", "kept as is")
	form := recEx("POST", "/Login", "", 400, "not json")
	form.RequestBody = []byte("user=jane&password=" + recPassword + "&note=" + recKey)
	form.RequestHeader.Set("Content-Type", "application/x-www-form-urlencoded")
	basic := recEx("GET", "/Groups", "", 200, "")
	basic.RequestHeader.Set("Authorization", "Basic amFuZTpodW50ZXIy")
	s, err := record.BuildScenario([]record.Exchange{bare, form, basic}, record.Info{Upstream: recUpstream})
	if err != nil {
		t.Fatal(err)
	}
	data, err := conformance.MarshalScenario(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{recKey, recPassword, "plain", "Bearer abcdef", "a1b2c3d4e5f6a7b8c9d0e1f2", "amFuZTpodW50ZXIy"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the scenario holds %q:\n%s", secret, data)
		}
	}
	if s.Steps[0].Path != "/Users" {
		t.Errorf("path %q: the access_token parameter should be left out", s.Steps[0].Path)
	}
	if s.Steps[0].Auth != conformance.AuthBare || s.Steps[2].Auth != "" {
		t.Errorf("auth %q, %q: want bare, then the default", s.Steps[0].Auth, s.Steps[2].Auth)
	}
	if h := s.Steps[0].Headers; len(h) != 2 || h["X-Custom"] != "kept as is" || h["User-Agent"] == "" {
		t.Errorf("headers %v, want X-Custom and User-Agent alone", h)
	}
	if rb := s.Steps[1].RawBody; rb == nil || *rb != "user=jane&password="+record.PasswordPlaceholder+"&note=[REDACTED]" {
		t.Errorf("raw body %v", rb)
	}
	if s.Steps[1].Headers["Content-Type"] != "application/x-www-form-urlencoded" {
		t.Errorf("headers %v", s.Steps[1].Headers)
	}
}

// TestRecordReplay records Okta-style traffic through the Recorder in
// front of a real kacescim server and replays the recording against the
// same server: every check passes, none is skipped, nothing is left.
func TestRecordReplay(t *testing.T) {
	ctx := context.Background()
	env := newKacescim(t)
	prov, err := env.admin.CreateProvider(ctx, adminapi.CreateProviderRequest{Name: "okta-recorded", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	key := prov.Key
	dir := t.TempDir()
	rec, err := record.New(record.Config{Upstream: env.base, Dir: dir, Name: "okta-recorded"})
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(rec)
	defer proxy.Close()

	okta := client.NewSCIM(proxy.URL, key, client.WithUserAgent("Okta SCIM Client 1.0.0"), client.WithHeader("Accept-Charset", "utf-8"))
	var ids []string
	send := func(c *client.SCIM, method, path, body string, want int) map[string]any {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		resp, err := c.Do(ctx, method, path, b)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != want {
			t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, resp.Status, want, resp.Body)
		}
		var m map[string]any
		_ = json.Unmarshal(resp.Body, &m)
		if id, ok := m["id"].(string); ok {
			ids = append(ids, id)
		}
		return m
	}
	const userName = "jane.doe@example.com"
	send(okta, "GET", "/Users?startIndex=1&count=2", "", 200)
	send(okta, "GET", `/Users?filter=userName+eq+%22jane.doe%40example.com%22&startIndex=1&count=100`, "", 200)
	user := send(okta, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+userName+`",`+
		`"name":{"givenName":"Jane","familyName":"Doe"},"emails":[{"primary":true,"value":"`+userName+`","type":"work"}],`+
		`"displayName":"Jane Doe","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"`+recPassword+`","active":true}`, 201)
	userID := user["id"].(string)
	send(okta, "GET", `/Users?filter=userName eq "JANE.DOE@EXAMPLE.COM"&startIndex=1&count=100`, "", 200)
	fetched := send(okta, "GET", "/Users/"+userID, "", 200)
	version := fetched["meta"].(map[string]any)["version"].(string)
	conditional := client.NewSCIM(proxy.URL, key, client.WithHeader("If-Match", version))
	send(conditional, "PATCH", "/Users/"+userID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`, 200)
	send(client.NewSCIM(proxy.URL, ""), "GET", "/Users", "", 401)
	send(client.NewSCIM(proxy.URL, "kcs_wrongwrongwrongwrongwrongwrong"), "GET", "/Users", "", 401)
	group := send(okta, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering Team",`+
		`"members":[{"value":"`+userID+`","display":"Jane Doe"}]}`, 201)
	groupID := group["id"].(string)
	send(okta, "PATCH", "/Groups/"+groupID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+
		`{"op":"remove","path":"members[value eq \"`+userID+`\"]"},{"op":"add","path":"members","value":[{"value":"`+userID+`","display":"Jane Doe"}]}]}`, 204)
	send(okta, "GET", `/Groups?filter=displayName eq "Engineering Team"&startIndex=1&count=100`, "", 200)
	send(okta, "DELETE", "/Groups/"+groupID, "", 204)

	file, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(file) != dir {
		t.Fatalf("wrote %s, not in %s", file, dir)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s:\n%s", file, data)
	for _, secret := range append([]string{key, recPassword, "kcs_wrongwrongwrongwrongwrongwrong", `"` + userName + `"`, `"JANE.DOE@EXAMPLE.COM\"`}, ids...) {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the recording holds %q", secret)
		}
	}
	if resp, err := http.Get(proxy.URL + "/Users"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: %v %v, want 503", resp, err)
	} else {
		resp.Body.Close()
	}

	scenarios, err := conformance.LoadScenarios(os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	res := conformance.Run(ctx, scenarios, conformance.Options{BaseURL: env.base, Token: key, Verbose: true})
	for _, rep := range res.Reports {
		var buf bytes.Buffer
		if err := rep.WriteText(&buf); err != nil {
			t.Fatal(err)
		}
		t.Log("\n" + buf.String())
		if rep.Suite != "okta-recorded" || rep.Failed() != 0 || rep.Skipped() != 0 || rep.Passed() != 19 {
			t.Errorf("suite %s: %d passed, %d failed, %d skipped; want 19 passed (12 steps, 5 state checks, 2 metadata checks)", rep.Suite, rep.Passed(), rep.Failed(), rep.Skipped())
			for _, c := range rep.Checks {
				if c.Status != conformance.StatusPass {
					t.Logf("%s: %v %v %+v", c.Name, c.Failures, c.Notes, c.Transcript)
				}
			}
		}
	}
	if len(res.Reports) != 1 || len(res.Leftovers) > 0 {
		t.Errorf("%d reports, leftovers %q", len(res.Reports), res.Leftovers)
	}
	// The replay removed its user; the recorded one is still there.
	c := client.NewSCIM(env.base, key)
	resp, err := c.Do(ctx, "GET", "/Users", nil)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		TotalResults int `json:"totalResults"`
	}
	if err := resp.Decode(&list); err != nil || list.TotalResults != 1 {
		t.Errorf("after the replay: %d users (%v), want the recorded one", list.TotalResults, err)
	}

	// A second session in the same directory goes on numbering, and both
	// load together.
	rec2, err := record.New(record.Config{Upstream: env.base, Dir: dir, Name: "okta-recorded"})
	if err != nil {
		t.Fatal(err)
	}
	proxy2 := httptest.NewServer(rec2)
	defer proxy2.Close()
	send(client.NewSCIM(proxy2.URL, key), "GET", "/Users/"+userID, "", 200)
	file2, err := rec2.Flush()
	if err != nil || file2 == "" || file2 == file {
		t.Fatalf("second flush: %q, %v", file2, err)
	}
	scenarios, err = conformance.LoadScenarios(os.DirFS(dir), ".")
	if err != nil {
		t.Fatalf("two recordings do not load together: %v", err)
	}
	if len(scenarios) != 2 || scenarios[1].Steps[0].Name != "13. GET /Users/"+userID {
		t.Errorf("second recording: %d scenarios, first step %q", len(scenarios), scenarios[len(scenarios)-1].Steps[0].Name)
	}
	if again, err := rec2.Flush(); err != nil || again != "" {
		t.Errorf("flush with nothing new: %q, %v", again, err)
	}
}
