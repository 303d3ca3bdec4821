package scim

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
)

// applyDelta applies d to a group document the way the store does:
// removals, then additions, then the name.
func applyDelta(doc map[string]any, d *MembershipDelta) (name string, members map[string]string) {
	name, _ = doc["displayName"].(string)
	members = map[string]string{}
	list, _ := doc["members"].([]any)
	for _, e := range list {
		m := e.(map[string]any)
		display, _ := m["display"].(string)
		members[m["value"].(string)] = display
	}
	for _, v := range d.Remove {
		delete(members, v)
	}
	for _, r := range d.Add {
		members[r.Value] = r.Display
	}
	if d.DisplayName != "" {
		name = d.DisplayName
	}
	return name, members
}

// TestAsMembershipDeltaMatchesApplyPatch: for every PATCH the fast path takes, the
// outcome is the one ApplyPatch gives.
func TestAsMembershipDeltaMatchesApplyPatch(t *testing.T) {
	rt := GroupResourceType()
	base := `{"displayName":"G","members":[{"value":"a","display":"A"},{"value":"b"},{"value":"c"}]}`
	patches := []string{
		`{"Operations":[{"op":"remove","path":"members[value eq \"b\"]"},{"op":"add","path":"members","value":[{"value":"d","display":"D"}]}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq \"a\"]"},{"op":"remove","path":"members[value eq \"c\"]"},{"op":"add","path":"members","value":[{"value":"e"},{"value":"f"}]}]}`,
		`{"Operations":[{"op":"replace","value":{"id":"x","displayName":"Renamed"}}]}`,
		`{"Operations":[{"op":"Replace","path":"displayName","value":"R2"}]}`,
		`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"a"},{"value":"c"}]}]}`,
		`{"Operations":[{"op":"add","path":"members","value":[{"value":"a","display":"A2"}]}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq \"zz\"]"}]}`,
		`{"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"n","type":"User"}]}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq \"a\"]"},{"op":"add","path":"members","value":[{"value":"a","display":"back"}]}]}`,
		`{"Operations":[{"op":"add","path":"members","value":[{"value":"q"}]},{"op":"remove","path":"members[value eq \"q\"]"}]}`,
		`{"Operations":[{"op":"add","path":"members","value":{"value":"single"}}]}`,
	}
	for _, body := range patches {
		req, err := DecodePatch([]byte(body), Options{})
		if err != nil {
			t.Fatal(err)
		}
		d, ok := AsMembershipDelta(req.Operations, Options{})
		if !ok {
			t.Errorf("%s: not taken by the fast path", body)
			continue
		}
		doc := mustJSON(t, base)
		patched, err := ApplyPatch(rt, doc, req.Operations, Options{})
		if err != nil {
			t.Fatal(err)
		}
		wantName, wantMembers := applyDelta(patched, &MembershipDelta{})
		gotName, gotMembers := applyDelta(mustJSON(t, base), d)
		if gotName != wantName || !reflect.DeepEqual(gotMembers, wantMembers) {
			t.Errorf("%s:\n delta gives %s %v\n patch gives %s %v", body, gotName, gotMembers, wantName, wantMembers)
		}
	}
}

func TestAsMembershipDeltaDeclines(t *testing.T) {
	for _, body := range []string{
		`{"Operations":[]}`,
		`{"Operations":[{"op":"replace","path":"members","value":[{"value":"x"}]}]}`,
		`{"Operations":[{"op":"remove","path":"members"}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"}]}`,
		`{"Operations":[{"op":"remove","path":"members[display eq \"a\"]"}]}`,
		`{"Operations":[{"op":"replace","value":{"displayName":"x","externalId":"e"}}]}`,
		`{"Operations":[{"op":"add","path":"members","value":[{"value":"g","type":"Group"}]}]}`,
		`{"Operations":[{"op":"add","path":"members","value":[{"display":"no value"}]}]}`,
		`{"Operations":[{"op":"replace","path":"externalId","value":"x"}]}`,
		`{"Operations":[{"op":"replace","value":{"displayName":""}}]}`,
	} {
		req, err := DecodePatch([]byte(body), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := AsMembershipDelta(req.Operations, Options{}); ok {
			t.Errorf("%s: taken by the fast path as %+v", body, d)
		}
	}
	req, _ := DecodePatch([]byte(`{"Operations":[{"op":"Add","path":"members","value":[{"value":"x"}]}]}`), Options{})
	if _, ok := AsMembershipDelta(req.Operations, Options{Strict: true}); ok {
		t.Errorf("strict mode took a capitalised op")
	}
}

func TestAsMembershipDeltaOrder(t *testing.T) {
	req, _ := DecodePatch([]byte(`{"Operations":[{"op":"add","path":"members","value":[{"value":"b"},{"value":"a"},{"value":"b","display":"B"}]}]}`), Options{})
	d, ok := AsMembershipDelta(req.Operations, Options{})
	if !ok {
		t.Fatal("not taken")
	}
	got := fmt.Sprint(d.Add)
	if got != "[{b B} {a }]" {
		t.Errorf("Add = %s", got)
	}
	if !sort.StringsAreSorted(d.Remove) {
		t.Errorf("Remove not sorted")
	}
}

func TestMemberValueFilter(t *testing.T) {
	for path, want := range map[string]string{
		`members[value eq "abc-1"]`:     "abc-1",
		`Members[Value EQ "abc-2"]`:     "abc-2",
		`members[value eq  "abc-3"]`:    "abc-3", // through the parser
		`members[ value eq "abc-4" ]`:   "abc-4", // through the parser
		`members[value eq "a\"b"]`:      "",
		`members[value eq ""]`:          "",
		`members[display eq "x"]`:       "",
		`members[value eq "a"].display`: "",
		`emails[value eq "a"]`:          "",
	} {
		got, ok := memberValueFilter(path)
		if ok != (want != "") || (ok && got != want) {
			t.Errorf("%s: got %q %v, want %q", path, got, ok, want)
		}
	}
}
