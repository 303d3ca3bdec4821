package conformance

import (
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCompare(t *testing.T) {
	const doc = `{"active":true,"status":"401","n":401,"zero":0,"f":false,"s":"","e":[],"o":{},"null":null,
		"schemas":["urn:a","urn:b"],"name":"Runscope123","big":12345678901234567890,"m":{"k":"v"}}`
	v := mustDecode(t, doc).(map[string]any)
	tests := []struct {
		cmp, prop, want string
		pass            bool
	}{
		{"equal", "active", "true", true}, // true == "true"
		{"equal", "active", "false", false},
		{"equal", "n", "401", true}, // 401 == "401"
		{"equal", "status", "401", true},
		{"equal", "zero", "0", true},
		{"equal", "big", "12345678901234567890", true},
		{"equal", "name", "runscope123", false}, // exact case
		{"equal", "missing", "", false},
		{"not_equal", "name", "x", true},
		{"not_equal", "name", "Runscope123", false},
		{"equal_number", "n", "401", true},
		{"equal_number", "n", "401.0", true},
		{"equal_number", "zero", "0", true},
		{"equal_number", "zero", "1", false},
		{"equal_number", "status", "401", false}, // a string is not a number
		{"equal_number", "n", "abc", false},
		{"not_empty", "active", "", true},
		{"not_empty", "f", "", true}, // false is a value
		{"not_empty", "zero", "", true},
		{"not_empty", "name", "", true},
		{"not_empty", "missing", "", false},
		{"not_empty", "null", "", false},
		{"not_empty", "s", "", false},
		{"not_empty", "e", "", false},
		{"not_empty", "o", "", false},
		{"empty", "e", "", true},
		{"empty", "missing", "", true},
		{"empty", "name", "", false},
		{"is_null", "null", "", true},
		{"is_null", "missing", "", false},
		{"has_value", "schemas", "urn:b", true},
		{"has_value", "schemas", "urn", false}, // array members match whole
		{"has_value", "name", "scope", true},   // strings by substring
		{"has_value", "m", "v", true},
		{"has_value", "missing", "x", false},
		{"contains", "schemas", "urn:a", true},
		{"contains", "schemas", "urn", true}, // substring of the JSON text
		{"contains", "name", "123", true},
		{"contains", "name", "xyz", false},
		{"does_not_contain", "name", "xyz", true},
		{"has_key", "m", "k", true},
		{"has_key", "m", "v", false},
		{"is_a_number", "n", "", true},
		{"is_a_number", "zero", "", true},
		{"is_a_number", "status", "", false}, // "401" is a string
		{"is_a_number", "missing", "", false},
		{"is_less_than", "n", "600", true},
		{"is_less_than", "n", "401", false},
		{"is_less_than_or_equal", "n", "401", true},
		{"is_greater_than", "n", "400", true},
		{"is_greater_than_or_equal", "n", "402", false},
		{"no_such_comparison", "n", "401", false},
	}
	for _, tc := range tests {
		val, ok := v[tc.prop]
		_, _, pass := compare(tc.cmp, val, ok, tc.want)
		if pass != tc.pass {
			t.Errorf("%s %s %q: pass = %v, want %v", tc.prop, tc.cmp, tc.want, pass, tc.pass)
		}
	}
}

func TestLookup(t *testing.T) {
	doc := mustDecode(t, `{
		"totalResults": 1,
		"Resources": [{"id":"u1","name":{"familyName":"Doe"},"emails":[{"value":"a@b"},{"value":"c@d"}]}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
		"matrix": [[1,2],[3,4]]
	}`)
	tests := []struct {
		path string
		want string // text of the value; "" = not found
	}{
		{"totalResults", "1"},
		{"Resources[0].id", "u1"},
		{"Resources[0].name.familyName", "Doe"},
		{"Resources[0].emails[1].value", "c@d"},
		{"Resources.0.emails.0.value", "a@b"},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department", "R&D"},
		{"matrix[1][0]", "3"},
		{"Resources[1].id", ""},
		{"Resources[0].missing", ""},
		{"Resources[0].emails.value", ""},
		{"Resources[x].id", ""},
		{"Resources[0", ""},
		{"totalResults.x", ""},
	}
	for _, tc := range tests {
		v, ok := lookup(doc, tc.path)
		got := ""
		if ok {
			got = text(v)
		}
		if got != tc.want {
			t.Errorf("lookup(%q) = %q (found %v), want %q", tc.path, got, ok, tc.want)
		}
	}
	arr := mustDecode(t, `[{"id":"x"}]`)
	if v, ok := lookup(arr, "[0].id"); !ok || v != "x" {
		t.Errorf("[0].id = %v %v", v, ok)
	}
	if v, ok := lookup(arr, ""); !ok || text(v) != `[{"id":"x"}]` {
		t.Errorf(`"" = %v %v`, v, ok)
	}
}

func TestSubstitute(t *testing.T) {
	s := &substituter{vars: map[string]string{"SCIMBaseURL": "http://h/scim/v2", "email": "a@b", "empty": ""}}
	got := s.replace(`{{SCIMBaseURL}}/Users?filter=userName eq "{{ email }}"{{empty}}`)
	if got != `http://h/scim/v2/Users?filter=userName eq "a@b"` || len(s.missing) != 0 {
		t.Errorf("got %q, missing %q", got, s.missing)
	}
	got = s.replace(`/Users/{{id}}/{{id}}/{{other}}`)
	if got != `/Users/{{id}}/{{id}}/{{other}}` || strings.Join(s.missing, ",") != "id,other" {
		t.Errorf("got %q, missing %q", got, s.missing)
	}
}

func TestNoteSeverity(t *testing.T) {
	for note, want := range map[string]Severity{
		"Required Test: Test Users endpoint":    SeverityMust,
		"Optional Test: Verify Groups endpoint": SeverityMay,
		"  optional: lower case":                SeverityMay,
		"Recommended: ETags":                    SeverityShould,
		"Check SCIM Apps instance in Okta ":     SeverityMust,
		"":                                      SeverityMust,
	} {
		if got := noteSeverity(note); got != want {
			t.Errorf("noteSeverity(%q) = %s, want %s", note, got, want)
		}
	}
}

func TestHeaderValues(t *testing.T) {
	var h map[string]HeaderValues
	err := json.Unmarshal([]byte(`{"A":"one","B":["two","three"],"C":null}`), &h)
	if err != nil {
		t.Fatal(err)
	}
	if len(h["A"]) != 1 || h["A"][0] != "one" || len(h["B"]) != 2 || h["B"][1] != "three" || len(h["C"]) != 0 {
		t.Errorf("%q", h)
	}
	if err := json.Unmarshal([]byte(`{"A":3}`), &h); err == nil {
		t.Error("a number header value was accepted")
	}
}

func TestRawText(t *testing.T) {
	for raw, want := range map[string]string{`"200"`: "200", `200`: "200", `null`: "", ``: "", `"{{x}}"`: "{{x}}", `1.5`: "1.5"} {
		if got := rawText(json.RawMessage(raw)); got != want {
			t.Errorf("rawText(%s) = %q, want %q", raw, got, want)
		}
	}
}

func TestOktaSPECVariables(t *testing.T) {
	for seed := range uint64(50) {
		v := OktaSPECVariables(rand.New(rand.NewPCG(seed, 1)))
		if !regexp.MustCompile(`^Runscope[0-9]{3}$`).MatchString(v["randomGivenName"]) {
			t.Errorf("randomGivenName %q", v["randomGivenName"])
		}
		if !regexp.MustCompile(`^[A-Z][a-z]{8}[0-9]{3}$`).MatchString(v["randomFamilyName"]) {
			t.Errorf("randomFamilyName %q", v["randomFamilyName"])
		}
		email := v["randomGivenName"] + v["randomFamilyName"] + "@atko.com"
		if v["randomEmail"] != email || v["randomUsername"] != email || v["randomUsernameCaps"] != strings.ToUpper(email) {
			t.Errorf("email variables %v", v)
		}
		if v["InvalidUserEmail"] != "abcdefgh@atko.com" || v["UserIdThatDoesNotExist"] != "010101001010101011001010101011" {
			t.Errorf("fixed variables %v", v)
		}
	}
}

func TestGroupsScript(t *testing.T) {
	script := knownScript(OktaSPECTest().Steps[18].Scripts[0])
	if script == nil {
		t.Fatal("the SPEC test's Groups script is not recognised")
	}
	for body, wantFail := range map[string]bool{
		`{"totalResults":0,"Resources":[]}`:      false,
		`{"totalResults":0}`:                     false,
		`{"totalResults":2,"Resources":[{},{}]}`: false,
		`{"totalResults":2,"Resources":{}}`:      true,
		`{"totalResults":2}`:                     true,
		`{}`:                                     true,
		`<html>`:                                 true,
	} {
		a := &answer{status: 200, body: []byte(body)}
		a.doc, a.jsonErr = decodeJSON(a.body)
		if got := script(a); (len(got) > 0) != wantFail {
			t.Errorf("%s: %q", body, got)
		}
	}
	if knownScript(`assert.ok(true)`) != nil {
		t.Error("an arbitrary script is recognised")
	}
}
