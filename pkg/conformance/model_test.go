package conformance

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/scim"
)

// memUsers is a one-user store that applies writes as pkg/scim does;
// dropTitle makes its PUT forget title (a dropped attribute).
func memUsers(dropTitle bool) func(r *http.Request, body string) (int, string) {
	var doc map[string]any
	rt := scim.UserResourceType()
	answer := func(status int) (int, string) {
		out := scim.CopyMap(doc)
		out["id"] = "u1"
		out["meta"] = map[string]any{"resourceType": "User", "location": "http://stub/Users/u1"}
		b, _ := json.Marshal(out)
		return status, string(b)
	}
	return func(r *http.Request, body string) (int, string) {
		var in map[string]any
		_ = json.Unmarshal([]byte(body), &in)
		switch {
		case r.Method == http.MethodPost:
			doc, _ = scim.Normalize(rt, in, scim.Options{})
			return answer(201)
		case r.Method == http.MethodGet:
			return answer(200)
		case r.Method == http.MethodPut:
			doc, _ = scim.Normalize(rt, in, scim.Options{})
			if dropTitle {
				delete(doc, "title")
			}
			return answer(200)
		case r.Method == http.MethodPatch:
			if strings.Contains(body, `"bad"`) {
				return 400, `{"detail":"refused"}`
			}
			req, err := scim.DecodePatch([]byte(body), scim.Options{})
			if err != nil {
				return 204, "" // accepted without applying: the model cannot follow it
			}
			next, err := scim.ApplyPatch(rt, doc, req.Operations, scim.Options{})
			if err != nil {
				return 204, ""
			}
			doc = next
			return answer(200)
		}
		return 204, ""
	}
}

const modelScenario = `{
  "name": "model",
  "steps": [
    {"name": "create", "method": "POST", "path": "/Users", "capture": {"id": "id"},
     "body": {"userName": "a@example.com", "title": "T0", "password": "p"}, "expect": {"status": 201}},
    {"name": "put", "method": "PUT", "path": "/Users/{{id}}",
     "body": {"userName": "a@example.com", "title": "T1", "displayName": "A"}, "expect": {"status": 200}},
    {"name": "patch", "method": "PATCH", "path": "/Users/{{id}}",
     "body": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "B"}]}},
    {"name": "refused", "method": "PATCH", "path": "/Users/{{id}}", "expect": {"status": 400},
     "body": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "bad"}]}},
    {"name": "unknown", "method": "PATCH", "path": "/Users/{{id}}",
     "body": {"Operations": [{"op": "move", "path": "displayName"}]}},
    {"name": "after", "method": "PATCH", "path": "/Users/{{id}}",
     "body": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "C"}]}}
  ]
}`

func TestModelStateChecks(t *testing.T) {
	res := run(t, &stubSCIM{answer: memUsers(false), spc: `{}`}, Options{}, parse(t, modelScenario))
	cs := checks(res)
	for _, name := range []string{"create: state", "put: state", "patch: state"} {
		if c, ok := cs[name]; !ok || c.Status != StatusPass || c.Source == "" || c.Severity != SeverityMust {
			t.Errorf("%s: %+v", name, c)
		}
	}
	for _, name := range []string{"refused: state", "unknown: state", "after: state"} {
		if c, ok := cs[name]; ok {
			t.Errorf("%s: the model cannot know the state, but reported %+v", name, c)
		}
	}
	if notes := strings.Join(cs["unknown"].Notes, " "); !strings.Contains(notes, "state: not checked from here on") {
		t.Errorf("unknown: notes %q; want why the model stops", notes)
	}
	if _, ok := checks(run(t, &stubSCIM{answer: memUsers(false), spc: `{}`}, Options{NoState: true}, parse(t, modelScenario)))["create: state"]; ok {
		t.Error("state checks with Options.NoState")
	}
	skipped := checks(run(t, &stubSCIM{answer: memUsers(false), spc: `{}`}, Options{Skip: []string{"*: state"}}, parse(t, modelScenario)))
	if c := skipped["put: state"]; c.Status != StatusSkip || skipped["put"].Status != StatusPass {
		t.Errorf("--skip '*: state': %+v, %+v", c, skipped["put"])
	}
}

// A dropped attribute fails the write that dropped it, in the answer and
// the read-back, naming the attribute, both values and the request, and
// not the later writes.
func TestModelReportsOneFaultOnce(t *testing.T) {
	cs := checks(run(t, &stubSCIM{answer: memUsers(true), spc: `{}`}, Options{}, parse(t, modelScenario)))
	c := cs["put: state"]
	if c.Status != StatusFail || len(c.Failures) != 2 {
		t.Fatalf("put: state: %+v; want the answer and the read-back", c)
	}
	for _, want := range []string{"title", `expected "T1"`, "set by PUT /Users/u1", "got none"} {
		if !strings.Contains(c.Failures[1], want) || !strings.Contains(c.Failures[1], "read-back GET /Users/u1") {
			t.Errorf("failure %q lacks %q", c.Failures[1], want)
		}
	}
	if c := cs["patch: state"]; c.Status != StatusPass {
		t.Errorf("patch: state: %+v; the dropped title is reported once", c)
	}
}
