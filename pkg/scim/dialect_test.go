package scim

import (
	"reflect"
	"testing"
)

// Entra sends the enterprise manager as the manager's id, in a POST and in
// a PATCH; a lenient provider takes it as {"value": id}, a strict one
// refuses it.
func TestValueShorthand(t *testing.T) {
	rt := UserResourceType()
	const mgr = EnterpriseUserURN + ":manager"
	body := map[string]any{"userName": "a@example.com", EnterpriseUserURN: map[string]any{"manager": "boss-1"}}
	doc, err := Normalize(rt, body, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := doc[EnterpriseUserURN].(map[string]any)["manager"]; !equalJSON(got, map[string]any{"value": "boss-1"}) {
		t.Errorf("lenient POST: manager %v", got)
	}
	if _, err := Normalize(rt, body, Options{Strict: true}); !isSCIM(err, TypeInvalidValue) {
		t.Errorf("strict POST: %v, want invalidValue", err)
	}

	ops := []PatchOperation{{Op: "add", Path: mgr, Value: "boss-2"}}
	out, err := ApplyPatch(rt, doc, ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := out[EnterpriseUserURN].(map[string]any)["manager"]; !equalJSON(got, map[string]any{"value": "boss-2"}) {
		t.Errorf("lenient PATCH: manager %v", got)
	}
	if _, err := ApplyPatch(rt, doc, ops, Options{Strict: true}); !isSCIM(err, TypeInvalidValue) {
		t.Errorf("strict PATCH: %v, want invalidValue", err)
	}
	// A string is no shorthand for a complex attribute without a value.
	if _, err := ApplyPatch(rt, doc, []PatchOperation{{Op: "replace", Path: "name", Value: "Ada"}}, Options{}); !isSCIM(err, TypeInvalidValue) {
		t.Errorf("name as a string: %v, want invalidValue", err)
	}
}

// Microsoft's reference collection writes extension attributes with a dot
// after the URN.
func TestURNDotPaths(t *testing.T) {
	rt := UserResourceType()
	doc := map[string]any{"userName": "a@example.com"}
	for _, ops := range [][]PatchOperation{
		{{Op: "replace", Path: EnterpriseUserURN + ".department", Value: "Dots"}},
		{{Op: "replace", Value: map[string]any{EnterpriseUserURN + ".department": "Dots"}}},
	} {
		out, err := ApplyPatch(rt, doc, ops, Options{})
		if err != nil {
			t.Fatalf("%+v: %v", ops, err)
		}
		if got := out[EnterpriseUserURN]; !equalJSON(got, map[string]any{"department": "Dots"}) {
			t.Errorf("%+v: enterprise %v", ops, got)
		}
		if _, err := ApplyPatch(rt, doc, ops, Options{Strict: true}); !isSCIM(err, TypeInvalidPath) {
			t.Errorf("strict %+v: %v, want invalidPath", ops, err)
		}
	}
	if got := rt.colonPath("name.givenName"); got != "name.givenName" {
		t.Errorf("colonPath changed a core path: %q", got)
	}
}

func isSCIM(err error, scimType string) bool {
	se, ok := AsError(err)
	return ok && se.ScimType == scimType
}

func equalJSON(a, b any) bool { return reflect.DeepEqual(a, b) }
