package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
)

const bulkURN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

// bulkOp is one Bulk operation; data is raw JSON ("" for none).
type bulkOp struct {
	method, bulkID, path, version, data string
}

// bulkBody is a BulkRequest; failOnErrors 0 leaves it out.
func bulkBody(t *testing.T, failOnErrors int, ops ...bulkOp) string {
	t.Helper()
	list := make([]map[string]any, len(ops))
	for i, o := range ops {
		m := map[string]any{"method": o.method, "path": o.path}
		if o.bulkID != "" {
			m["bulkId"] = o.bulkID
		}
		if o.version != "" {
			m["version"] = o.version
		}
		if o.data != "" {
			m["data"] = json.RawMessage(o.data)
		}
		list[i] = m
	}
	req := map[string]any{"schemas": []string{bulkURN}, "Operations": list}
	if failOnErrors != 0 {
		req["failOnErrors"] = failOnErrors
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bulk posts a Bulk request that must answer 200 with a BulkResponse.
func (e *scimEnv) bulk(t *testing.T, failOnErrors int, ops ...bulkOp) resp {
	t.Helper()
	r := e.must(e.do("POST", "/Bulk", bulkBody(t, failOnErrors, ops...)), 200)
	if fmt.Sprint(r.get("schemas")) != "[urn:ietf:params:scim:api:messages:2.0:BulkResponse]" {
		t.Errorf("schemas = %v", r.get("schemas"))
	}
	return r
}

// bulkResults is the number of operation results of a BulkResponse.
func bulkResults(r resp) int { l, _ := r.get("Operations").([]any); return len(l) }

// wantBulkOp checks the i-th result's status and, for a failure, its SCIM
// error body, scimType and a piece of its detail.
func wantBulkOp(t *testing.T, r resp, i, status int, scimType, detail string) {
	t.Helper()
	p := fmt.Sprintf("Operations.%d.", i)
	if got := r.get(p + "status"); got != fmt.Sprint(status) {
		t.Errorf("operation %d: status %#v, want the string %q\n%s", i, got, fmt.Sprint(status), r.body)
		return
	}
	if status < 400 {
		if r.get(p+"response") != nil {
			t.Errorf("operation %d succeeded with a response: %v", i, r.get(p+"response"))
		}
		return
	}
	if fmt.Sprint(r.get(p+"response.schemas")) != "[urn:ietf:params:scim:api:messages:2.0:Error]" ||
		r.str(p+"response.status") != fmt.Sprint(status) || r.str(p+"response.scimType") != scimType ||
		!strings.Contains(r.str(p+"response.detail"), detail) {
		t.Errorf("operation %d: want %d %q with %q in the detail, got %v", i, status, scimType, detail, r.get(p+"response"))
	}
}

func groupBody(name string, members ...string) string {
	var ms []string
	for _, m := range members {
		ms = append(ms, `{"value":"`+m+`"}`)
	}
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"` + name + `","members":[` + strings.Join(ms, ",") + `]}`
}

// TestBulk creates users and a group whose members name them by bulkId,
// then changes and deletes them by bulkId, in one request.
func TestBulk(t *testing.T) {
	e := newSCIMEnv(t)
	r := e.bulk(t, 0,
		bulkOp{method: "POST", bulkID: "u1", path: "/Users", data: userBody("b1@example.com")},
		bulkOp{method: "POST", bulkID: "u2", path: "/Users", data: userBody("b2@example.com")},
		bulkOp{method: "POST", bulkID: "u3", path: "/Users", data: userBody("b3@example.com")},
		bulkOp{method: "POST", bulkID: "g", path: "/Groups", data: groupBody("Bulk", "bulkId:u1", "bulkId:u2")},
		bulkOp{method: "PATCH", path: "/Groups/bulkId:g", data: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
			{"op":"replace","path":"displayName","value":"Bulk renamed"},
			{"op":"add","path":"members","value":[{"value":"bulkId:u3"}]}]}`},
		bulkOp{method: "PUT", path: "/users/bulkId:u2", data: strings.Replace(userBody("b2@example.com"), "Test User", "Put User", 1)},
		bulkOp{method: "delete", path: "/Users/bulkId:u1"},
	)
	if bulkResults(r) != 7 {
		t.Fatalf("%d results, want 7: %s", bulkResults(r), r.body)
	}
	for i, status := range []int{201, 201, 201, 201, 204, 200, 204} {
		wantBulkOp(t, r, i, status, "", "")
	}
	id := func(i int) string {
		loc := r.str(fmt.Sprintf("Operations.%d.location", i))
		return loc[strings.LastIndex(loc, "/")+1:]
	}
	u1, u2, u3, g := id(0), id(1), id(2), id(3)
	base := e.http.URL + "/scim/v2"
	for i, want := range []struct{ method, bulkID, location string }{
		{"POST", "u1", base + "/Users/" + u1},
		{"POST", "u2", base + "/Users/" + u2},
		{"POST", "u3", base + "/Users/" + u3},
		{"POST", "g", base + "/Groups/" + g},
		{"PATCH", "", base + "/Groups/" + g},
		{"PUT", "", base + "/Users/" + u2},
		{"DELETE", "", base + "/Users/" + u1},
	} {
		p := fmt.Sprintf("Operations.%d.", i)
		if r.str(p+"method") != want.method || r.str(p+"bulkId") != want.bulkID || r.str(p+"location") != want.location {
			t.Errorf("operation %d: method %q bulkId %q location %q, want %+v", i, r.str(p+"method"), r.str(p+"bulkId"), r.str(p+"location"), want)
		}
		if hasVersion := r.str(p+"version") != ""; hasVersion != (want.method != "DELETE") {
			t.Errorf("operation %d: version %q", i, r.str(p+"version"))
		}
	}
	if r.str("Operations.3.version") == r.str("Operations.4.version") {
		t.Errorf("the PATCH did not move the group's version: %s", r.body)
	}

	// The effects are those of the single requests.
	grp := e.must(e.do("GET", "/Groups/"+g, ""), 200)
	if grp.str("displayName") != "Bulk renamed" || fmt.Sprint(memberIDs(grp)) != fmt.Sprint(sorted(u2, u3)) {
		t.Errorf("group: %s", grp.body)
	}
	if u := e.must(e.do("GET", "/Users/"+u2, ""), 200); u.str("displayName") != "Put User" || u.str("groups.0.value") != g {
		t.Errorf("user 2: %s", u.body)
	}
	wantSCIMError(t, e.do("GET", "/Users/"+u1, ""), 404, "")

	// A version is sent as If-Match: the current one is accepted, a stale
	// one is 412 and changes nothing.
	deactivate := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`
	current := e.must(e.do("GET", "/Users/"+u3, ""), 200).header.Get("ETag")
	r = e.bulk(t, 0,
		bulkOp{method: "PATCH", path: "/Users/" + u3, version: current, data: deactivate},
		bulkOp{method: "PUT", path: "/Users/" + u3, version: current, data: userBody("b3@example.com")},
		bulkOp{method: "DELETE", path: "/Users/" + u3, version: current})
	wantBulkOp(t, r, 0, 200, "", "")
	wantBulkOp(t, r, 1, 412, "", "If-Match")
	wantBulkOp(t, r, 2, 412, "", "If-Match")
	if u := e.must(e.do("GET", "/Users/"+u3, ""), 200); u.get("active") != false || u.header.Get("ETag") != r.str("Operations.0.version") {
		t.Errorf("user 3: %s", u.body)
	}
}

// TestBulkFailures checks that every failed operation is reported with its
// SCIM error and does not keep the others from running.
func TestBulkFailures(t *testing.T) {
	e := newSCIMEnv(t)
	existing := e.createUser("taken@example.com")
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":true}]}`
	r := e.bulk(t, 0,
		/* 0 */ bulkOp{method: "POST", bulkID: "dup", path: "/Users", data: userBody("taken@example.com")},
		/* 1 */ bulkOp{method: "POST", bulkID: "ok", path: "/Users", data: userBody("ok@example.com")},
		/* 2 */ bulkOp{method: "POST", bulkID: "g1", path: "/Groups", data: groupBody("G1", "bulkId:dup")},
		/* 3 */ bulkOp{method: "PATCH", path: "/Users/bulkId:nosuch", data: patch},
		/* 4 */ bulkOp{method: "POST", bulkID: "g2", path: "/Groups", data: groupBody("G2", "bulkId:later")},
		/* 5 */ bulkOp{method: "POST", bulkID: "later", path: "/Users", data: userBody("later@example.com")},
		/* 6 */ bulkOp{method: "POST", bulkID: "self", path: "/Groups", data: `{"displayName":"Self","members":[{"value":"bulkId:self"}]}`},
		/* 7 */ bulkOp{method: "PATCH", bulkID: "p", path: "/Users/" + existing, data: patch},
		/* 8 */ bulkOp{method: "POST", bulkID: "g3", path: "/Groups", data: groupBody("G3", "bulkId:p")},
		/* 9 */ bulkOp{method: "GET", path: "/Users/" + existing},
		/* 10 */ bulkOp{path: "/Users/" + existing},
		/* 11 */ bulkOp{method: "POST", bulkID: "x1", path: "/Users/" + existing, data: userBody("x1@example.com")},
		/* 12 */ bulkOp{method: "PATCH", path: "/Users", data: patch},
		/* 13 */ bulkOp{method: "DELETE", path: "/Users/" + existing + "/groups"},
		/* 14 */ bulkOp{method: "POST", bulkID: "x2", path: "/Schemas", data: `{}`},
		/* 15 */ bulkOp{method: "DELETE", path: "Users/" + existing},
		/* 16 */ bulkOp{method: "POST", path: "/Users", data: userBody("nobulkid@example.com")},
		/* 17 */ bulkOp{method: "PUT", path: "/Users/" + existing},
		/* 18 */ bulkOp{method: "DELETE", path: "/Groups/no-such-group"},
		/* 19 */ bulkOp{method: "POST", bulkID: "bad", path: "/Users", data: `{"userName":""}`},
		/* 20 */ bulkOp{method: "PATCH", path: "/Users/.search", data: patch},
		/* 21 */ bulkOp{method: "POST", bulkID: "ok2", path: "/Groups", data: groupBody("OK", "bulkId:ok", "bulkId:later")},
	)
	if bulkResults(r) != 22 {
		t.Fatalf("%d results, want 22: %s", bulkResults(r), r.body)
	}
	wantBulkOp(t, r, 0, 409, "uniqueness", "")
	wantBulkOp(t, r, 1, 201, "", "")
	wantBulkOp(t, r, 2, 400, "invalidValue", "cannot resolve bulkId:dup: it names operation 1, which failed")
	wantBulkOp(t, r, 3, 400, "invalidValue", "bulkId:nosuch: it is not the bulkId of any operation")
	wantBulkOp(t, r, 4, 400, "invalidValue", "bulkId:later: it names operation 6, which has not run yet")
	wantBulkOp(t, r, 5, 201, "", "")
	wantBulkOp(t, r, 6, 400, "invalidValue", "bulkId:self: it names operation 7, which has not run yet")
	wantBulkOp(t, r, 7, 200, "", "")
	wantBulkOp(t, r, 8, 400, "invalidValue", "names operation 8, a PATCH, which creates nothing")
	wantBulkOp(t, r, 9, 400, "invalidValue", `method "GET" is not allowed`)
	wantBulkOp(t, r, 10, 400, "invalidValue", "no method")
	wantBulkOp(t, r, 11, 400, "invalidValue", "a POST creates a resource at /Users")
	wantBulkOp(t, r, 12, 400, "invalidValue", "a PATCH needs the path of one resource")
	wantBulkOp(t, r, 13, 400, "invalidValue", "a DELETE needs the path of one resource")
	wantBulkOp(t, r, 14, 400, "invalidValue", "is not a Users or Groups path")
	wantBulkOp(t, r, 15, 400, "invalidValue", "must start with /")
	wantBulkOp(t, r, 16, 400, "invalidValue", "needs a bulkId")
	wantBulkOp(t, r, 17, 400, "invalidValue", "needs data")
	wantBulkOp(t, r, 18, 404, "", "Group no-such-group not found")
	wantBulkOp(t, r, 19, 400, "invalidValue", "userName is required")
	wantBulkOp(t, r, 20, 400, "invalidValue", "needs the path of one resource")
	wantBulkOp(t, r, 21, 201, "", "")

	// A failed POST has no location; a failed operation on a resource
	// names it.
	if r.str("Operations.0.location") != "" || r.str("Operations.0.bulkId") != "dup" {
		t.Errorf("failed POST: %v", r.get("Operations.0"))
	}
	if r.str("Operations.18.location") != e.http.URL+"/scim/v2/Groups/no-such-group" {
		t.Errorf("failed DELETE: %v", r.get("Operations.18"))
	}
	// What succeeded is there; what failed left nothing behind.
	list := e.must(e.do("GET", "/Users", ""), 200)
	if list.get("totalResults") != 3.0 {
		t.Errorf("users: %s", list.body)
	}
	groups := e.must(e.do("GET", "/Groups", ""), 200)
	if groups.get("totalResults") != 1.0 || groups.str("Resources.0.displayName") != "OK" || len(groups.get("Resources.0.members").([]any)) != 2 {
		t.Errorf("groups: %s", groups.body)
	}
}

func TestBulkFailOnErrors(t *testing.T) {
	e := newSCIMEnv(t)
	e.createUser("taken@example.com")
	dup := bulkOp{method: "POST", bulkID: "d1", path: "/Users", data: userBody("taken@example.com")}
	r := e.bulk(t, 2,
		bulkOp{method: "POST", bulkID: "a", path: "/Users", data: userBody("a@example.com")},
		dup,
		bulkOp{method: "DELETE", path: "/Users/nobody"},
		bulkOp{method: "POST", bulkID: "b", path: "/Users", data: userBody("b@example.com")},
	)
	// The second error stops the run: b is neither created nor listed.
	if bulkResults(r) != 3 {
		t.Fatalf("%d results, want 3: %s", bulkResults(r), r.body)
	}
	wantBulkOp(t, r, 0, 201, "", "")
	wantBulkOp(t, r, 1, 409, "uniqueness", "")
	wantBulkOp(t, r, 2, 404, "", "")
	if l := e.must(e.do("GET", `/Users?filter=userName%20eq%20%22b@example.com%22`, ""), 200); l.get("totalResults") != 0.0 {
		t.Errorf("the operation after the limit ran: %s", l.body)
	}

	r = e.bulk(t, 1, dup, bulkOp{method: "POST", bulkID: "c", path: "/Users", data: userBody("c@example.com")})
	if bulkResults(r) != 1 {
		t.Fatalf("%d results, want 1: %s", bulkResults(r), r.body)
	}
	// Without failOnErrors every operation runs.
	dup2 := dup
	dup2.bulkID = "d2"
	r = e.bulk(t, 0, dup, dup2, bulkOp{method: "POST", bulkID: "c", path: "/Users", data: userBody("c@example.com")})
	if bulkResults(r) != 3 {
		t.Fatalf("%d results, want 3: %s", bulkResults(r), r.body)
	}
	wantBulkOp(t, r, 2, 201, "", "")
}

func TestBulkRequestChecks(t *testing.T) {
	e := newSCIMEnv(t) // MaxBodyBytes is 64 KiB
	del := `{"method":"DELETE","path":"/Users/x"}`

	for _, tc := range []struct{ name, body, scimType, detail string }{
		{"wrong schema", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"Operations":[]}`, "invalidSyntax", "schemas must be"},
		{"no Operations", `{"schemas":["` + bulkURN + `"]}`, "invalidSyntax", "Operations"},
		{"null Operations", `{"schemas":["` + bulkURN + `"],"Operations":null}`, "invalidSyntax", "Operations"},
		{"Operations not an array", `{"schemas":["` + bulkURN + `"],"Operations":{}}`, "invalidSyntax", "Operations"},
		{"operation not an object", `{"schemas":["` + bulkURN + `"],"Operations":["x"]}`, "invalidSyntax", ""},
		{"method not a string", `{"Operations":[{"method":1,"path":"/Users"}]}`, "invalidSyntax", "method"},
		{"not JSON", `{"Operations":[`, "invalidSyntax", ""},
		{"not an object", `[]`, "invalidSyntax", ""},
		{"negative failOnErrors", `{"failOnErrors":-1,"Operations":[]}`, "invalidValue", "failOnErrors"},
		{"duplicate bulkId", `{"Operations":[{"method":"POST","bulkId":"a","path":"/Users","data":{}},{"method":"POST","bulkId":"a","path":"/Groups","data":{}}]}`, "invalidValue", `bulkId "a" is used by operations 1 and 2`},
	} {
		r := e.do("POST", "/Bulk", tc.body)
		wantSCIMError(t, r, 400, tc.scimType)
		if !strings.Contains(r.str("detail"), tc.detail) {
			t.Errorf("%s: detail %q, want %q in it", tc.name, r.str("detail"), tc.detail)
		}
	}
	// Without schemas, and with no operations, is fine.
	if r := e.must(e.do("POST", "/Bulk", `{"Operations":[]}`), 200); bulkResults(r) != 0 || r.get("Operations") == nil {
		t.Errorf("empty bulk: %s", r.body)
	}

	// maxOperations: 1000 are accepted (failOnErrors stops them early),
	// 1001 are 413 before any runs.
	ops := func(n int) string { return strings.TrimSuffix(strings.Repeat(del+",", n), ",") }
	r := e.must(e.do("POST", "/Bulk", `{"failOnErrors":1,"Operations":[`+ops(1000)+`]}`), 200)
	if bulkResults(r) != 1 {
		t.Errorf("1000 operations: %d results", bulkResults(r))
	}
	r = e.do("POST", "/Bulk", `{"Operations":[`+ops(1001)+`]}`)
	wantSCIMError(t, r, 413, "")
	if !strings.Contains(r.str("detail"), "1001 operations, more than maxOperations (1000)") {
		t.Errorf("detail: %s", r.str("detail"))
	}
	// maxPayloadSize is the body limit.
	big := `{"Operations":[{"method":"POST","bulkId":"a","path":"/Users","data":{"userName":"` + strings.Repeat("x", 64<<10) + `"}}]}`
	r = e.do("POST", "/Bulk", big)
	wantSCIMError(t, r, 413, "")
	if !strings.Contains(r.str("detail"), "65536 bytes") {
		t.Errorf("detail: %s", r.str("detail"))
	}

	// Bulk is POST only, and has no sub-paths.
	r = e.do("GET", "/Bulk", "")
	wantSCIMError(t, r, 405, "")
	if r.header.Get("Allow") != "POST" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	wantSCIMError(t, e.do("POST", "/Bulk/x", `{"Operations":[]}`), 404, "")
	wantSCIMError(t, e.doAuth("POST", "/Bulk", `{"Operations":[]}`, "Bearer nope"), 401, "")
}

// TestBulkProvisioningLog: the Bulk request is one entry of the log, with
// the Bulk's own status; its operations add none.
func TestBulkProvisioningLog(t *testing.T) {
	e := newSCIMEnv(t)
	wantSCIMError(t, e.do("POST", "/Bulk", bulkBody(t, 0,
		bulkOp{method: "POST", bulkID: "u", path: "/Users", data: userBody("log@example.com")},
		bulkOp{method: "POST", bulkID: "u", path: "/Users", data: userBody("log@example.com")},
	)), 400, "invalidValue") // the same bulkId twice
	r := e.bulk(t, 0,
		bulkOp{method: "POST", bulkID: "u", path: "/Users", data: userBody("log@example.com")},
		bulkOp{method: "POST", bulkID: "v", path: "/Users", data: userBody("log@example.com")},
	)
	wantBulkOp(t, r, 1, 409, "uniqueness", "")
	entries, err := e.srv.Directory().Log(context.Background(), "okta", directory.LogQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d entries, want 2: %+v", len(entries), entries)
	}
	for _, en := range entries {
		if en.Method != "POST" || en.Path != "/scim/v2/Bulk" || en.ProviderName != "okta" || en.ResourceID != "" || en.RequestID == "" {
			t.Errorf("entry: %+v", en)
		}
	}
	if entries[0].Status != 400 || !strings.Contains(entries[0].Error, "bulkId") {
		t.Errorf("refused Bulk: %+v", entries[0])
	}
	if entries[1].Status != 200 || entries[1].Error != "" {
		t.Errorf("Bulk with a failed operation: %+v", entries[1])
	}
}
