package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/scim"
)

// memUsers is a one-user store that applies writes as pkg/scim does;
// dropTitle makes its PUT forget title (a dropped attribute).
func memUsers(dropTitle bool) func(r *http.Request, body string) (int, string) {
	var doc map[string]any
	rt := scim.UserResourceType()
	answer := func(status int) (int, string) {
		out := scim.CopyMap(doc)
		out["schemas"] = []any{rt.Schema.ID}
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
		case r.Method == http.MethodGet && r.URL.Query().Has("filter"):
			_, one := answer(200)
			return 200, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":[` + one + `]}`
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

// metaUsers is a one-user store with metadata: created, lastModified (one
// second later at every write) and version (one more at every write), and
// the ETag header; bug plants one fault in it.
func metaUsers(bug string) http.Handler {
	var (
		doc      map[string]any
		version  int
		modified time.Time
		deleted  bool
		patches  int
	)
	rt := scim.UserResourceType()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/Users") {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var in map[string]any
		_ = json.Unmarshal(body, &in)
		status := http.StatusOK
		switch r.Method {
		case http.MethodPost:
			doc, _ = scim.Normalize(rt, in, scim.Options{})
			version, modified, status = 1, created, http.StatusCreated
		case http.MethodPut:
			doc, _ = scim.Normalize(rt, in, scim.Options{})
			version, modified = version+1, modified.Add(time.Second)
		case http.MethodPatch:
			req, _ := scim.DecodePatch(body, scim.Options{})
			doc, _ = scim.ApplyPatch(rt, doc, req.Operations, scim.Options{})
			patches++
			if bug != "version stays" || patches == 1 {
				version++
			}
			modified = modified.Add(time.Second)
			if bug == "lastModified backward" && patches == 2 {
				modified = created.Add(time.Second / 2)
			}
		case http.MethodDelete:
			deleted = bug != "delete kept"
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.URL.Query().Has("filter") {
			// A filter on userName finds the one user unless deleted.
			found := []any{}
			if (!deleted || bug == "deleted found") && bug != "filter misses" {
				found = append(found, map[string]any{"id": "u1", "userName": doc["userName"]})
			}
			w.Header().Set("Content-Type", "application/scim+json")
			_ = json.NewEncoder(w).Encode(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"}, "totalResults": len(found), "Resources": found})
			return
		}
		if deleted {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		out := scim.CopyMap(doc)
		out["schemas"] = []any{rt.Schema.ID}
		if bug == "no schemas" {
			delete(out, "schemas")
		}
		out["id"] = "u1"
		tag := fmt.Sprintf(`W/"%d"`, version)
		meta := map[string]any{"resourceType": "User", "location": "http://stub/Users/u1", "version": tag,
			"created": created.Format(time.RFC3339), "lastModified": modified.Format(time.RFC3339)}
		// The faults of the create's answer.
		switch map[bool]string{true: bug}[status == http.StatusCreated] {
		case "Location differs":
			w.Header().Set("Location", "http://stub/Users/other")
		case "resourceType Group":
			meta["resourceType"] = "Group"
		case "ETag differs":
			tag = `W/"0"`
		}
		if w.Header().Get("Location") == "" && status == http.StatusCreated {
			w.Header().Set("Location", "http://stub/Users/u1")
		}
		out["meta"] = meta
		w.Header().Set("ETag", tag)
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	})
}

const metaScenario = `{
  "name": "meta",
  "steps": [
    {"name": "create", "method": "POST", "path": "/Users", "capture": {"id": "id"},
     "body": {"userName": "a@example.com", "title": "T0"}, "expect": {"status": 201}},
    {"name": "patch", "method": "PATCH", "path": "/Users/{{id}}",
     "body": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "title", "value": "T1"}]}},
    {"name": "patch2", "method": "PATCH", "path": "/Users/{{id}}",
     "body": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "title", "value": "T2"}]}},
    {"name": "delete", "method": "DELETE", "path": "/Users/{{id}}", "expect": {"status": 204}}
  ]
}`

// Each metadata rule fails the check it belongs to, naming the rule, and
// nothing else; the good store fails nothing.
func TestModelMetadataRules(t *testing.T) {
	for bug, want := range map[string]struct{ check, text string }{
		"":                      {},
		"Location differs":      {"create: state", "meta.location equals the Location header"},
		"resourceType Group":    {"create: state", "meta.resourceType"},
		"ETag differs":          {"create: state", "the ETag header equals meta.version"},
		"no schemas":            {"create: state", "schemas is present (MUST, RFC 7643 §3)"},
		"lastModified backward": {"patch2: state", "never moves backward"},
		"version stays":         {"patch2: metadata", "the version changes"},
		"delete kept":           {"delete: state", "expected 404, got 200"},
		"filter misses":         {"create: state", `filter GET /Users?filter=userName eq "a@example.com": a filter on its unique attribute finds the created resource (MUST, RFC 7644 §3.4.2): expected "u1" among the Resources, got no Resources (totalResults 0)`},
		"deleted found":         {"delete: state", `filter GET /Users?filter=userName eq "a@example.com": the service provider MUST NOT consider the deleted resource in subsequent operations (RFC 7644 §3.6): expected no resource with id "u1"`},
	} {
		cs := checks(run(t, metaUsers(bug), Options{}, parse(t, metaScenario)))
		for _, name := range []string{"create: state", "patch: state", "patch: metadata", "patch2: state", "patch2: metadata", "delete: state"} {
			c, ok := cs[name]
			switch {
			case !ok:
				t.Errorf("%q: no check %q", bug, name)
			case name == want.check:
				if c.Status != StatusFail || !strings.Contains(strings.Join(c.Failures, "; "), want.text) {
					t.Errorf("%q: %s: %s %q; want a failure saying %q", bug, name, c.Status, c.Failures, want.text)
				}
			case c.Status != StatusPass:
				t.Errorf("%q: %s: %s %q", bug, name, c.Status, c.Failures)
			}
		}
		if c := cs["patch: metadata"]; c.Severity != SeverityShould {
			t.Errorf("patch: metadata: severity %s; want SHOULD", c.Severity)
		}
	}
	skipped := checks(run(t, metaUsers("version stays"), Options{Skip: []string{"*: metadata"}}, parse(t, metaScenario)))
	if c := skipped["patch2: metadata"]; c.Status != StatusSkip || skipped["patch2: state"].Status != StatusPass {
		t.Errorf("--skip '*: metadata': %+v, %+v", c, skipped["patch2: state"])
	}
}

// A rule about every answer of the server (here: resourceType) fails the
// first check that sees it and is only noted after that, so one habit of
// the server does not fail every create of the report.
func TestModelServerWideFaultFailsOnce(t *testing.T) {
	twoCreates := `{"name": "two", "steps": [
	  {"name": "create", "method": "POST", "path": "/Users", "body": {"userName": "a@example.com"}, "expect": {"status": 201}},
	  {"name": "create again", "method": "POST", "path": "/Users", "body": {"userName": "b@example.com"}, "expect": {"status": 201}}
	]}`
	cs := checks(run(t, metaUsers("resourceType Group"), Options{}, parse(t, twoCreates)))
	if c := cs["create: state"]; c.Status != StatusFail || !strings.Contains(strings.Join(c.Failures, "; "), "meta.resourceType") {
		t.Errorf("create: state: %s %q; want the resourceType failure", c.Status, c.Failures)
	}
	c := cs["create again: state"]
	if c.Status != StatusPass || !strings.Contains(strings.Join(c.Notes, "; "), `meta.resourceType is the endpoint's resource type (MUST, RFC 7643 §3.1): expected "User", got "Group" (failed first by create: state)`) {
		t.Errorf("create again: state: %s, failures %q, notes %q; want passed with the fault noted", c.Status, c.Failures, c.Notes)
	}
}

// Without filtering, the state checks judge no filter, saying so.
func TestModelFindNeedsFilter(t *testing.T) {
	cs := checks(run(t, &stubSCIM{answer: memUsers(false), spc: `{"filter": {"supported": false}}`}, Options{}, parse(t, modelScenario)))
	if c := cs["create: state"]; c.Status != StatusPass || !strings.Contains(strings.Join(c.Notes, "; "), "state: the filter on userName not checked: needs filter") {
		t.Errorf("create: state: %s, failures %q, notes %q; want passed with a note", c.Status, c.Failures, c.Notes)
	}
}

// A search that misses a user just created is a habit of the server: the
// filter rule fails the first create and is noted on the next.
func TestModelFindFailsOnce(t *testing.T) {
	twoCreates := `{"name": "two", "steps": [
	  {"name": "create", "method": "POST", "path": "/Users", "body": {"userName": "a@example.com"}, "expect": {"status": 201}},
	  {"name": "create again", "method": "POST", "path": "/Users", "body": {"userName": "b@example.com"}, "expect": {"status": 201}}
	]}`
	cs := checks(run(t, metaUsers("filter misses"), Options{}, parse(t, twoCreates)))
	if c := cs["create: state"]; c.Status != StatusFail || !strings.Contains(strings.Join(c.Failures, "; "), "finds the created resource") {
		t.Errorf("create: state: %s %q; want the filter failure", c.Status, c.Failures)
	}
	if c := cs["create again: state"]; c.Status != StatusPass || !strings.Contains(strings.Join(c.Notes, "; "), "(failed first by create: state)") {
		t.Errorf("create again: state: %s, failures %q, notes %q; want passed with the fault noted", c.Status, c.Failures, c.Notes)
	}
}
