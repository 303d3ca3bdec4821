package conformance

import "testing"

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
