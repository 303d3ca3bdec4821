package scim

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	return m
}

func ops(t *testing.T, s string) []PatchOperation {
	t.Helper()
	req, err := DecodePatch([]byte(s), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return req.Operations
}

const okUser = `{"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},
 "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","active":true}`

func TestApplyPatchUser(t *testing.T) {
	rt := UserResourceType()
	tests := []struct {
		name  string
		doc   string
		patch string
		want  string
	}{
		{"okta deactivate: path-less replace active false", okUser,
			`{"Operations":[{"op":"replace","value":{"active":false}}]}`,
			`{"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","active":false}`},
		{"okta reactivate", `{"userName":"u","active":false}`,
			`{"Operations":[{"op":"replace","value":{"active":true}}]}`, `{"userName":"u","active":true}`},
		{"entra: capitalised op and string boolean", `{"userName":"u","active":true}`,
			`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`, `{"userName":"u","active":false}`},
		{"replace simple by path", `{"userName":"u","title":"a"}`,
			`{"Operations":[{"op":"replace","path":"title","value":"b"}]}`, `{"userName":"u","title":"b"}`},
		{"add simple by path", `{"userName":"u"}`,
			`{"Operations":[{"op":"add","path":"nickName","value":"n"}]}`, `{"userName":"u","nickName":"n"}`},
		{"remove simple by path", `{"userName":"u","title":"a"}`,
			`{"Operations":[{"op":"remove","path":"title"}]}`, `{"userName":"u"}`},
		{"replace sub-attribute", okUser,
			`{"Operations":[{"op":"replace","path":"name.givenName","value":"Another"}]}`,
			`{"userName":"test.user@okta.local","name":{"givenName":"Another","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","active":true}`},
		{"replace complex merges sub-attributes", `{"userName":"u","name":{"givenName":"A","familyName":"B"}}`,
			`{"Operations":[{"op":"replace","path":"name","value":{"middleName":"M"}}]}`,
			`{"userName":"u","name":{"givenName":"A","familyName":"B","middleName":"M"}}`},
		{"remove complex", `{"userName":"u","name":{"givenName":"A"}}`,
			`{"Operations":[{"op":"remove","path":"name"}]}`, `{"userName":"u"}`},
		{"remove sub-attribute leaves the rest", `{"userName":"u","name":{"givenName":"A","familyName":"B"}}`,
			`{"Operations":[{"op":"remove","path":"name.givenName"}]}`, `{"userName":"u","name":{"familyName":"B"}}`},
		{"add to multi-valued appends", `{"userName":"u","emails":[{"value":"a@x","type":"work"}]}`,
			`{"Operations":[{"op":"add","path":"emails","value":[{"value":"b@x","type":"home"}]}]}`,
			`{"userName":"u","emails":[{"value":"a@x","type":"work"},{"value":"b@x","type":"home"}]}`},
		{"replace multi-valued", `{"userName":"u","emails":[{"value":"a@x","type":"work"}]}`,
			`{"Operations":[{"op":"replace","path":"emails","value":[{"value":"c@x","type":"work"}]}]}`,
			`{"userName":"u","emails":[{"value":"c@x","type":"work"}]}`},
		{"remove multi-valued", `{"userName":"u","emails":[{"value":"a@x"}]}`,
			`{"Operations":[{"op":"remove","path":"emails"}]}`, `{"userName":"u"}`},
		{"replace filtered sub-attribute", `{"userName":"u","emails":[{"value":"a@x","type":"work"},{"value":"h@x","type":"home"}]}`,
			`{"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"new value@x"}]}`,
			`{"userName":"u","emails":[{"value":"new value@x","type":"work"},{"value":"h@x","type":"home"}]}`},
		{"add filtered sub-attribute with no match creates the element", `{"userName":"u"}`,
			`{"Operations":[{"op":"add","path":"emails[type eq \"work\"].value","value":"w@x"}]}`,
			`{"userName":"u","emails":[{"type":"work","value":"w@x"}]}`},
		{"remove filtered elements", `{"userName":"u","phoneNumbers":[{"value":"1","type":"work"},{"value":"2","type":"mobile"},{"value":"3","type":"work"}]}`,
			`{"Operations":[{"op":"remove","path":"phoneNumbers[type eq \"work\"]"}]}`,
			`{"userName":"u","phoneNumbers":[{"value":"2","type":"mobile"}]}`},
		{"path-less with dotted and URN keys (Entra)", `{"userName":"u"}`,
			`{"Operations":[{"op":"replace","value":{"name.givenName":"G","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"42","displayName":"D"}}]}`,
			`{"userName":"u","name":{"givenName":"G"},"displayName":"D","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42"}}`},
		{"enterprise extension sub-attribute by URN path", `{"userName":"u"}`,
			`{"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value","value":"m1"}]}`,
			`{"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m1"}}}`},
		{"path-less extension object", `{"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"A","division":"X"}}`,
			`{"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"B"}}}]}`,
			`{"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"B","division":"X"}}`},
		{"remove extension attribute drops the empty extension", `{"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"A"}}`,
			`{"Operations":[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]}`,
			`{"userName":"u"}`},
		{"case-insensitive attribute names", `{"userName":"u"}`,
			`{"Operations":[{"op":"add","path":"DisplayName","value":"D"},{"op":"add","value":{"Title":"T"}}]}`,
			`{"userName":"u","displayName":"D","title":"T"}`},
		{"unknown attributes are ignored", `{"userName":"u"}`,
			`{"Operations":[{"op":"add","path":"adreses","value":"x"},{"op":"replace","value":{"bogus":1,"id":"x","meta":{}}}]}`,
			`{"userName":"u"}`},
		{"password in a mixed patch is dropped", `{"userName":"u"}`,
			`{"Operations":[{"op":"replace","value":{"password":"p","title":"T"}},{"op":"replace","path":"password","value":"q"}]}`,
			`{"userName":"u","title":"T"}`},
		{"value with spaces survives", `{"userName":"u","addresses":[{"type":"work","locality":"x"}]}`,
			`{"Operations":[{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main Street Suite 100"}]}`,
			`{"userName":"u","addresses":[{"type":"work","locality":"x","streetAddress":"1 Main Street Suite 100"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := mustJSON(t, tc.doc)
			before := CopyMap(doc)
			got, err := ApplyPatch(rt, doc, ops(t, tc.patch), Options{})
			if err != nil {
				t.Fatalf("ApplyPatch: %v", err)
			}
			if want := mustJSON(t, tc.want); !reflect.DeepEqual(got, want) {
				gb, _ := json.Marshal(got)
				t.Errorf("got  %s\nwant %s", gb, tc.want)
			}
			if !reflect.DeepEqual(doc, before) {
				t.Errorf("ApplyPatch changed its input")
			}
		})
	}
}

func TestApplyPatchGroupMembers(t *testing.T) {
	rt := GroupResourceType()
	base := `{"displayName":"G","members":[{"value":"a","display":"A"},{"value":"b"},{"value":"c"}]}`
	tests := []struct{ name, doc, patch, want string }{
		{"okta: remove by filter and add in one request", base,
			`{"Operations":[{"op":"remove","path":"members[value eq \"b\"]"},{"op":"add","path":"members","value":[{"value":"d","display":"D"}]}]}`,
			`{"displayName":"G","members":[{"value":"a","display":"A"},{"value":"c"},{"value":"d","display":"D"}]}`},
		{"several remove ops then one add", base,
			`{"Operations":[{"op":"remove","path":"members[value eq \"a\"]"},{"op":"remove","path":"members[value eq \"c\"]"},{"op":"add","path":"members","value":[{"value":"e"},{"value":"f"}]}]}`,
			`{"displayName":"G","members":[{"value":"b"},{"value":"e"},{"value":"f"}]}`},
		{"multi-match remove", base,
			`{"Operations":[{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"}]}`,
			`{"displayName":"G","members":[{"value":"c"}]}`},
		{"push now: replace the list", base,
			`{"Operations":[{"op":"replace","path":"members","value":[{"value":"x","display":"X"}]}]}`,
			`{"displayName":"G","members":[{"value":"x","display":"X"}]}`},
		{"push now: replace with an empty list", base,
			`{"Operations":[{"op":"replace","path":"members","value":[]}]}`, `{"displayName":"G"}`},
		{"rename: path-less replace with id, which is ignored", base,
			`{"Operations":[{"op":"replace","value":{"id":"abf4dd94","displayName":"Renamed"}}]}`,
			`{"displayName":"Renamed","members":[{"value":"a","display":"A"},{"value":"b"},{"value":"c"}]}`},
		{"path-less members replace", base,
			`{"Operations":[{"op":"replace","value":{"members":[{"value":"z"}]}}]}`, `{"displayName":"G","members":[{"value":"z"}]}`},
		{"entra: remove members with a value list removes only those", base,
			`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"a"},{"value":"c"}]}]}`,
			`{"displayName":"G","members":[{"value":"b"}]}`},
		{"remove all members", base, `{"Operations":[{"op":"remove","path":"members"}]}`, `{"displayName":"G"}`},
		{"adding an existing member does not duplicate it", base,
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"a","display":"A2"}]}]}`,
			`{"displayName":"G","members":[{"value":"a","display":"A2"},{"value":"b"},{"value":"c"}]}`},
		{"remove of a member that is not there is a no-op", base,
			`{"Operations":[{"op":"remove","path":"members[value eq \"zz\"]"}]}`, base},
		{"entra: $ref null accepted", `{"displayName":"G"}`,
			`{"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"a"}]}]}`,
			`{"displayName":"G","members":[{"value":"a"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ApplyPatch(rt, mustJSON(t, tc.doc), ops(t, tc.patch), Options{})
			if err != nil {
				t.Fatalf("ApplyPatch: %v", err)
			}
			if want := mustJSON(t, tc.want); !reflect.DeepEqual(got, want) {
				gb, _ := json.Marshal(got)
				t.Errorf("got  %s\nwant %s", gb, tc.want)
			}
		})
	}
}

func TestApplyPatchErrors(t *testing.T) {
	rt := UserResourceType()
	tests := []struct{ name, doc, patch, scimType string }{
		{"replace with no match is noTarget", `{"userName":"u"}`,
			`{"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"x"}]}`, TypeNoTarget},
		{"remove without path is noTarget", `{"userName":"u"}`, `{"Operations":[{"op":"remove"}]}`, TypeNoTarget},
		{"unknown op", `{"userName":"u"}`, `{"Operations":[{"op":"move","path":"title","value":"x"}]}`, TypeInvalidSyntax},
		{"unparsable path", `{"userName":"u"}`, `{"Operations":[{"op":"add","path":"emails[type eq","value":"x"}]}`, TypeInvalidPath},
		{"read-only path", `{"userName":"u"}`, `{"Operations":[{"op":"replace","path":"meta.created","value":"x"}]}`, TypeMutability},
		{"wrong type", `{"userName":"u"}`, `{"Operations":[{"op":"replace","path":"active","value":"maybe"}]}`, TypeInvalidValue},
		{"path-less value not an object", `{"userName":"u"}`, `{"Operations":[{"op":"replace","value":"x"}]}`, TypeInvalidValue},
		{"filter on a simple attribute", `{"userName":"u"}`, `{"Operations":[{"op":"replace","path":"title[value eq \"x\"]","value":"x"}]}`, TypeInvalidPath},
		{"a later failing op fails the whole patch", `{"userName":"u"}`,
			`{"Operations":[{"op":"replace","path":"title","value":"ok"},{"op":"replace","path":"active","value":3}]}`, TypeInvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := mustJSON(t, tc.doc)
			before := CopyMap(doc)
			_, err := ApplyPatch(rt, doc, ops(t, tc.patch), Options{})
			se, ok := AsError(err)
			if !ok {
				t.Fatalf("want a *scim.Error %s, got %v", tc.scimType, err)
			}
			if se.Status != 400 || se.ScimType != tc.scimType {
				t.Errorf("got %d %s (%s), want 400 %s", se.Status, se.ScimType, se.Detail, tc.scimType)
			}
			if !reflect.DeepEqual(doc, before) {
				t.Errorf("a failed patch changed the document")
			}
		})
	}
}

func TestStrictDialect(t *testing.T) {
	rt := UserResourceType()
	_, err := ApplyPatch(rt, map[string]any{"userName": "u"}, []PatchOperation{{Op: "Replace", Path: "title", Value: "x"}}, Options{Strict: true})
	if se, ok := AsError(err); !ok || se.ScimType != TypeInvalidSyntax {
		t.Errorf("strict mode accepted a capitalised op: %v", err)
	}
	_, err = ApplyPatch(rt, map[string]any{"userName": "u"}, []PatchOperation{{Op: "replace", Path: "active", Value: "true"}}, Options{Strict: true})
	if se, ok := AsError(err); !ok || se.ScimType != TypeInvalidValue {
		t.Errorf("strict mode accepted a string boolean: %v", err)
	}
	if _, err := DecodePatch([]byte(`{"schemas":["`+PatchOpURN+`"],"Operations":[]}`), Options{Strict: true}); err == nil {
		t.Errorf("strict mode accepted an empty Operations list")
	}
}

func TestIsPasswordOnly(t *testing.T) {
	for body, want := range map[string]bool{
		`{"Operations":[{"op":"replace","value":{"password":"x"}}]}`:               true,
		`{"Operations":[{"op":"replace","path":"password","value":"x"}]}`:          true,
		`{"Operations":[{"op":"replace","value":{"password":"x","active":true}}]}`: false,
		`{"Operations":[{"op":"replace","value":{"active":false}}]}`:               false,
		`{"Operations":[]}`: false,
		`{"Operations":[{"op":"replace","path":"password","value":"x"},{"op":"replace","path":"title","value":"t"}]}`: false,
	} {
		req, err := DecodePatch([]byte(body), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := req.IsPasswordOnly(); got != want {
			t.Errorf("%s: IsPasswordOnly = %v, want %v", body, got, want)
		}
	}
}

func TestStrictRefusesEntraDialect(t *testing.T) {
	groups := GroupResourceType()
	doc := mustJSON(t, `{"displayName":"G","members":[{"value":"a"},{"value":"b"}]}`)
	remove := []PatchOperation{{Op: "remove", Path: "members", Value: []any{map[string]any{"value": "a"}}}}
	if _, err := ApplyPatch(groups, doc, remove, Options{Strict: true}); err == nil {
		t.Errorf("strict mode accepted remove-members-with-a-value")
	}
	if _, ok := AsMembershipDelta(remove, Options{Strict: true}); ok {
		t.Errorf("strict mode took remove-members-with-a-value on the fast path")
	}
	body := mustJSON(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"G"}`)
	if _, err := Normalize(groups, body, Options{Strict: true}); err == nil {
		t.Errorf("strict mode accepted a Microsoft schema URI")
	}
	if _, err := Normalize(groups, body, Options{}); err != nil {
		t.Errorf("the lenient dialect refused a Microsoft schema URI: %v", err)
	}
}

func TestPrimaryAndCanonicalValues(t *testing.T) {
	rt := UserResourceType()
	doc, err := Normalize(rt, mustJSON(t, `{"userName":"u","emails":[{"value":"a@x","type":"Work","primary":true},{"value":"b@x","type":"HOME"}]}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(doc["emails"]); got != "[map[primary:true type:work value:a@x] map[type:home value:b@x]]" {
		t.Errorf("canonical types: %s", got)
	}
	// Two primaries in one body are refused.
	_, err = Normalize(rt, mustJSON(t, `{"userName":"u","emails":[{"value":"a@x","primary":true},{"value":"b@x","primary":true}]}`), Options{})
	if se, ok := AsError(err); !ok || se.ScimType != TypeInvalidValue {
		t.Errorf("two primaries accepted: %v", err)
	}
	// A PATCH that makes another value primary clears the old one.
	got, err := ApplyPatch(rt, doc, ops(t, `{"Operations":[{"op":"add","path":"emails","value":[{"value":"c@x","type":"other","primary":true}]}]}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if primaries(got["emails"].([]any)) != 1 || got["emails"].([]any)[2].(map[string]any)["primary"] != true {
		t.Errorf("after add: %v", got["emails"])
	}
	got, err = ApplyPatch(rt, doc, ops(t, `{"Operations":[{"op":"replace","path":"emails[value eq \"b@x\"].primary","value":true}]}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e := got["emails"].([]any); e[0].(map[string]any)["primary"] != false || e[1].(map[string]any)["primary"] != true {
		t.Errorf("after replace: %v", e)
	}
}
