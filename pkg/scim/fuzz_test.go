package scim

import (
	"encoding/json"
	"testing"
)

// FuzzPatch feeds arbitrary documents and PATCH bodies through Normalize,
// DecodePatch and ApplyPatch: whatever comes in, the answer is a result or
// a *scim.Error with a 4xx status, never a panic.
//
//	go test -run '^$' -fuzz FuzzPatch -fuzztime 60s ./pkg/scim
func FuzzPatch(f *testing.F) {
	seeds := [][2]string{
		{okUser, `{"Operations":[{"op":"replace","value":{"active":false}}]}`},
		{`{"displayName":"G","members":[{"value":"a"}]}`, `{"Operations":[{"op":"remove","path":"members[value eq \"a\"]"},{"op":"add","path":"members","value":[{"value":"b"}]}]}`},
		{`{"userName":"u"}`, `{"Operations":[{"op":"Add","path":"emails[type eq \"work\"].value","value":"w@x"}]}`},
		{`{"userName":"u"}`, `{"Operations":[{"op":"replace","value":{"name.givenName":"G","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value":"m"}}]}`},
		{`{"userName":"u","emails":["x",1,null]}`, `{"Operations":[{"op":"remove","path":"emails[not (type eq \"x\")]"}]}`},
		{`{}`, `{"Operations":[{"op":"remove","path":"members","value":"x"}]}`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	users, groups := UserResourceType(), GroupResourceType()
	f.Fuzz(func(t *testing.T, doc, patch string) {
		var in map[string]any
		if json.Unmarshal([]byte(doc), &in) != nil {
			return
		}
		for _, rt := range []*ResourceType{users, groups} {
			for _, opts := range []Options{{}, {Strict: true}} {
				norm, err := Normalize(rt, in, opts)
				if err != nil {
					checkClientError(t, err)
					continue
				}
				req, err := DecodePatch([]byte(patch), opts)
				if err != nil {
					checkClientError(t, err)
					continue
				}
				req.IsPasswordOnly()
				if _, err := ApplyPatch(rt, norm, req.Operations, opts); err != nil {
					checkClientError(t, err)
				}
			}
		}
	})
}

func checkClientError(t *testing.T, err error) {
	t.Helper()
	se, ok := AsError(err)
	if !ok || se.Status < 400 || se.Status >= 500 {
		t.Fatalf("error is not a SCIM 4xx: %#v", err)
	}
}

// FuzzFilter checks that any filter either fails to parse with
// invalidFilter or evaluates without panicking.
//
//	go test -run '^$' -fuzz FuzzFilter -fuzztime 60s ./pkg/scim
func FuzzFilter(f *testing.F) {
	for _, s := range []string{`userName eq "x"`, `emails[type eq "work" and value co "@"]`, `not (active eq true) or meta.created gt "2020-01-01T00:00:00Z"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr`, `title gt 5`} {
		f.Add(s)
	}
	rt := UserResourceType()
	var doc map[string]any
	json.Unmarshal([]byte(okUser), &doc)
	f.Fuzz(func(t *testing.T, raw string) {
		expr, err := ParseFilter(raw)
		if err != nil {
			checkClientError(t, err)
			return
		}
		if _, err := Match(rt, expr, doc); err != nil {
			checkClientError(t, err)
		}
	})
}
