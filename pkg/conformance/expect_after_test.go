package conformance

import "testing"

func TestFilterAfter(t *testing.T) {
	sub := &substituter{vars: map[string]string{"id": "u1", "done": "Mon, 01 Jan 2024 00:00:00 GMT"}}
	if got := sub.replaceFiltered("{{id}}{{done|after}}", nil); got != "u1" {
		t.Errorf("with the variable set: got %q, want %q", got, "u1")
	}
	if len(sub.missing) != 0 {
		t.Errorf("missing %q, want none", sub.missing)
	}
	sub = &substituter{vars: map[string]string{"id": "u1"}}
	sub.replaceFiltered("{{id}}{{done|after}}", nil)
	if len(sub.missing) != 1 || sub.missing[0] != "done" {
		t.Errorf("without the variable: missing %q, want [done]", sub.missing)
	}
}

func TestLikeAndHasElements(t *testing.T) {
	doc := mustDecode(t, `{"name":{"givenName":"A","familyName":"B","formatted":"A B"},
		"members":[{"value":"1","display":"x"},{"value":"2"},{"value":"3"}]}`).(map[string]any)
	for _, tc := range []struct {
		op, path, value string
		pass            bool
	}{
		{"like", "name", `{"givenName":"A","familyName":"B"}`, true},
		{"like", "name", `{"givenName":"A","familyName":"C"}`, false},
		{"like", "name", `{"middleName":"A"}`, false},
		{"like", "members", `{"value":"1"}`, false},
		{"has_elements", "members", `[{"value":"2"},{"value":"3"}]`, true},
		{"has_elements", "members", `[{"value":"2"},{"value":"4"}]`, false},
		{"has_elements", "members", `{"value":"1","display":"x"}`, true},
		{"has_elements", "name", `[{"value":"1"}]`, false},
	} {
		v, present := lookupAll(doc, tc.path)
		_, got, pass := judge(tc.op, v, present, mustDecode(t, tc.value))
		if pass != tc.pass {
			t.Errorf("%s %s %s: pass %v, want %v (got %s)", tc.path, tc.op, tc.value, pass, tc.pass, got)
		}
	}
	if _, err := ParseScenario("t.json", []byte(`{"name":"t","steps":[{"name":"s","method":"GET","path":"/Users",
		"expect":{"assert":[{"json":"name","op":"like","value":{}},{"json":"members","op":"has_elements","value":[]}]}}]}`)); err != nil {
		t.Errorf("like and has_elements refused: %v", err)
	}
}
