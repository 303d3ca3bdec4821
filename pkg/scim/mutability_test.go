package scim

import (
	"encoding/json"
	"reflect"
	"testing"
)

// thingType is a resource type with an immutable attribute of every shape
// the mechanism knows: a simple one (serial), a sub-attribute of a
// singular complex one (badge.number), and one in an extension (hired).
// The RFC schemas kacescim serves have only the immutable sub-attributes
// of Group members.
func thingType() *ResourceType {
	return &ResourceType{ID: "Thing", Name: "Thing", Endpoint: "/Things",
		Schema: &Schema{ID: "urn:test:Thing", Attributes: []*Attribute{
			str("serial", immutable),
			complexAttr("badge", []*Attribute{str("number", immutable), str("color")}),
			str("note"),
		}},
		Extensions: []*Schema{{ID: "urn:test:Ext", Attributes: []*Attribute{str("hired", immutable), str("desk")}}}}
}

const thingDoc = `{"serial":"S1","badge":{"number":"7","color":"red"},"note":"n","urn:test:Ext":{"hired":"2020","desk":"d"}}`

// groupWithMembers is a group document as the server builds it for a PATCH
// or PUT: member a has its type and $ref, member b none yet.
const groupWithMembers = `{"displayName":"G","members":[{"value":"a","display":"A","type":"User","$ref":"https://x/Users/a"},{"value":"b"}]}`

func TestApplyPatchImmutable(t *testing.T) {
	tests := []struct {
		name  string
		rt    *ResourceType
		doc   string
		patch string
		want  string // "" when the PATCH must be refused with mutability
	}{
		// Members: sub-attributes of an existing member.
		{"member value changed by a filtered path", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"replace","path":"members[value eq \"a\"].value","value":"z"}]}`, ""},
		{"member type changed", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"replace","path":"members[value eq \"a\"].type","value":"Group"}]}`, ""},
		{"member $ref changed", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"replace","path":"members[value eq \"a\"].$ref","value":"https://y/Users/z"}]}`, ""},
		{"member type removed", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"remove","path":"members[value eq \"a\"].type"}]}`, ""},
		{"every member's value changed", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"replace","path":"members.value","value":"z"}]}`, ""},
		{"member value changed by merging into the filtered element", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"replace","path":"members[value eq \"a\"]","value":{"value":"z"}}]}`, ""},
		{"member value changed by a path-less key", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"replace","value":{"members[value eq \"a\"].value":"z"}}]}`, ""},
		{"existing member added again with another type", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"a","type":"Group"}]}]}`, ""},
		{"member list replaced, an existing member with another $ref", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"replace","value":{"members":[{"value":"a","$ref":"https://y/Users/a"}]}}]}`, ""},
		{"the same type, in another case, is the canonical one: no change", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"replace","path":"members[value eq \"a\"].type","value":"user"}]}`, groupWithMembers},
		{"the same value restated", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"replace","path":"members[value eq \"a\"].value","value":"a"}]}`, groupWithMembers},
		{"a type where a member had none", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"add","path":"members[value eq \"b\"].type","value":"User"}]}`,
			`{"displayName":"G","members":[{"value":"a","display":"A","type":"User","$ref":"https://x/Users/a"},{"value":"b","type":"User"}]}`},
		{"display is readWrite", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"replace","path":"members[value eq \"a\"]","value":{"display":"A2"}}]}`,
			`{"displayName":"G","members":[{"value":"a","display":"A2","type":"User","$ref":"https://x/Users/a"},{"value":"b"}]}`},
		{"re-adding a member without type and $ref keeps them", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"a","display":"A3"}]}]}`,
			`{"displayName":"G","members":[{"value":"a","display":"A3","type":"User","$ref":"https://x/Users/a"},{"value":"b"}]}`},
		{"whole members come and go", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"remove","path":"members[value eq \"a\"]"},{"op":"add","path":"members","value":[{"value":"c","type":"User"}]}]}`,
			`{"displayName":"G","members":[{"value":"b"},{"value":"c","type":"User"}]}`},
		{"the member list replaced", GroupResourceType(), groupWithMembers,
			`{"Operations":[{"op":"replace","path":"members","value":[{"value":"z"}]}]}`, `{"displayName":"G","members":[{"value":"z"}]}`},

		// A simple attribute, a sub-attribute of a complex one, an extension.
		{"simple: changed", thingType(), thingDoc, `{"Operations":[{"op":"replace","path":"serial","value":"S2"}]}`, ""},
		{"simple: removed", thingType(), thingDoc, `{"Operations":[{"op":"remove","path":"serial"}]}`, ""},
		{"simple: nulled by a path-less replace", thingType(), thingDoc, `{"Operations":[{"op":"replace","value":{"serial":null}}]}`, ""},
		{"simple: restated", thingType(), thingDoc, `{"Operations":[{"op":"replace","value":{"serial":"S1","note":"m"}}]}`,
			`{"serial":"S1","badge":{"number":"7","color":"red"},"note":"m","urn:test:Ext":{"hired":"2020","desk":"d"}}`},
		{"simple: set when unset", thingType(), `{"note":"n"}`, `{"Operations":[{"op":"add","path":"serial","value":"S9"}]}`, `{"note":"n","serial":"S9"}`},
		{"complex: sub changed", thingType(), thingDoc, `{"Operations":[{"op":"replace","path":"badge.number","value":"8"}]}`, ""},
		{"complex: sub changed by merge", thingType(), thingDoc, `{"Operations":[{"op":"replace","path":"badge","value":{"number":"8"}}]}`, ""},
		{"complex: removed whole", thingType(), thingDoc, `{"Operations":[{"op":"remove","path":"badge"}]}`, ""},
		{"complex: other sub changed", thingType(), thingDoc, `{"Operations":[{"op":"replace","path":"badge","value":{"number":"7","color":"blue"}}]}`,
			`{"serial":"S1","badge":{"number":"7","color":"blue"},"note":"n","urn:test:Ext":{"hired":"2020","desk":"d"}}`},
		{"complex: sub set when unset", thingType(), `{"badge":{"color":"red"}}`, `{"Operations":[{"op":"add","path":"badge.number","value":"1"}]}`,
			`{"badge":{"number":"1","color":"red"}}`},
		{"extension: changed by path", thingType(), thingDoc, `{"Operations":[{"op":"replace","path":"urn:test:Ext:hired","value":"2021"}]}`, ""},
		{"extension: changed by a path-less URN object", thingType(), thingDoc, `{"Operations":[{"op":"replace","value":{"urn:test:Ext":{"hired":"2021"}}}]}`, ""},
		{"extension: removed whole", thingType(), thingDoc, `{"Operations":[{"op":"remove","path":"urn:test:Ext"}]}`, ""},
		{"extension: other attribute changed", thingType(), thingDoc, `{"Operations":[{"op":"replace","path":"urn:test:Ext:desk","value":"e"}]}`,
			`{"serial":"S1","badge":{"number":"7","color":"red"},"note":"n","urn:test:Ext":{"hired":"2020","desk":"e"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mustJSON(t, tt.doc)
			for _, opts := range []Options{{}, {Strict: true}} {
				got, err := ApplyPatch(tt.rt, doc, ops(t, tt.patch), opts)
				if tt.want == "" {
					se, ok := AsError(err)
					if !ok || se.Status != 400 || se.ScimType != TypeMutability {
						t.Fatalf("strict %v: got %v, %v; want 400 mutability", opts.Strict, got, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("strict %v: %v", opts.Strict, err)
				}
				if want := mustJSON(t, tt.want); !reflect.DeepEqual(got, want) {
					g, _ := json.Marshal(got)
					t.Errorf("strict %v:\ngot  %s\nwant %s", opts.Strict, g, tt.want)
				}
			}
			if !reflect.DeepEqual(doc, mustJSON(t, tt.doc)) {
				t.Errorf("ApplyPatch changed its input")
			}
		})
	}
}

// TestEntraMemberRemovalIsNoChange: Entra's removal of members by value
// (lenient dialect only) removes whole members, which is allowed.
func TestEntraMemberRemovalIsNoChange(t *testing.T) {
	got, err := ApplyPatch(GroupResourceType(), mustJSON(t, groupWithMembers),
		ops(t, `{"Operations":[{"op":"remove","path":"members","value":[{"value":"a"}]}]}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := mustJSON(t, `{"displayName":"G","members":[{"value":"b"}]}`); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
}

func TestKeepImmutable(t *testing.T) {
	tests := []struct {
		name          string
		rt            *ResourceType
		before, after string
		want          string // "" for 400 mutability
	}{
		{"same values", thingType(), thingDoc, thingDoc, thingDoc},
		{"omitted values are carried over", thingType(), thingDoc, `{"badge":{"color":"blue"},"note":"m"}`,
			`{"serial":"S1","badge":{"number":"7","color":"blue"},"note":"m","urn:test:Ext":{"hired":"2020"}}`},
		{"omitted complex keeps its immutable sub-attribute", thingType(), thingDoc, `{"serial":"S1"}`,
			`{"serial":"S1","badge":{"number":"7"},"urn:test:Ext":{"hired":"2020"}}`},
		{"set where unset", thingType(), `{"note":"n"}`, `{"serial":"S1","badge":{"number":"7"}}`, `{"serial":"S1","badge":{"number":"7"}}`},
		{"simple changed", thingType(), thingDoc, `{"serial":"S2"}`, ""},
		{"complex sub changed", thingType(), thingDoc, `{"badge":{"number":"8"}}`, ""},
		{"extension changed", thingType(), thingDoc, `{"urn:test:Ext":{"hired":"2021"}}`, ""},
		{"other members", GroupResourceType(), groupWithMembers, `{"displayName":"G","members":[{"value":"c"},{"value":"d","type":"User"}]}`,
			`{"displayName":"G","members":[{"value":"c"},{"value":"d","type":"User"}]}`},
		{"a member restated without type and $ref keeps them", GroupResourceType(), groupWithMembers,
			`{"displayName":"H","members":[{"value":"a"},{"value":"b","type":"User"}]}`,
			`{"displayName":"H","members":[{"value":"a","type":"User","$ref":"https://x/Users/a"},{"value":"b","type":"User"}]}`},
		{"a member restated with another type", GroupResourceType(), groupWithMembers,
			`{"displayName":"G","members":[{"value":"a","type":"Group"}]}`, ""},
		{"a member restated with another $ref", GroupResourceType(), groupWithMembers,
			`{"displayName":"G","members":[{"value":"a","$ref":"https://x/Users/b"}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after, err := Normalize(tt.rt, mustJSON(t, tt.after), Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = KeepImmutable(tt.rt, mustJSON(t, tt.before), after)
			if tt.want == "" {
				if se, ok := AsError(err); !ok || se.Status != 400 || se.ScimType != TypeMutability {
					t.Fatalf("got %v; want 400 mutability", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := mustJSON(t, tt.want); !reflect.DeepEqual(after, want) {
				g, _ := json.Marshal(after)
				t.Errorf("\ngot  %s\nwant %s", g, tt.want)
			}
		})
	}
}

// TestGroupSchemaMutability pins the Group schema to RFC 7643 §8.7.1:
// members is readWrite, its value, $ref and type are immutable.
func TestGroupSchemaMutability(t *testing.T) {
	members := GroupSchema().Attr("members")
	if members.Mutability != ReadWrite {
		t.Errorf("members is %s", members.Mutability)
	}
	for _, name := range []string{"value", "$ref", "type"} {
		if s := members.Sub(name); s == nil || s.Mutability != Immutable {
			t.Errorf("members.%s is not immutable", name)
		}
	}
}

// TestAsMembershipDeltaLeavesRefsToApplyPatch: a membership add that states a
// $ref is not taken on the fast path, which cannot compare it with the
// member's own.
func TestAsMembershipDeltaLeavesRefsToApplyPatch(t *testing.T) {
	if _, ok := AsMembershipDelta(ops(t, `{"Operations":[{"op":"add","path":"members","value":[{"value":"a","$ref":"https://y/Users/a"}]}]}`), Options{}); ok {
		t.Errorf("a stated $ref was taken on the fast path")
	}
	if _, ok := AsMembershipDelta(ops(t, `{"Operations":[{"op":"add","path":"members","value":[{"value":"a","$ref":null}]}]}`), Options{}); !ok {
		t.Errorf(`"$ref": null left the fast path`)
	}
}
