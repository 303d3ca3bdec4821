package server

import (
	"encoding/json"
	"math"
	"testing"

	gojson "github.com/goccy/go-json"
)

// TestWriteSCIMEncodesAsEncodingJSON: writeSCIM's encoder writes the bytes
// encoding/json writes for what the server renders: sorted keys, HTML
// characters and U+2028/U+2029 escaped, invalid UTF-8 replaced, numbers as
// float64 would print.
func TestWriteSCIMEncodesAsEncodingJSON(t *testing.T) {
	for _, v := range []any{
		map[string]any{
			"userName": "a<b>&c@example.com", "displayName": "Zoë \u2028 \u2029 \x7f", "bad": "\xff\xfe",
			"active": true, "nickName": nil, "n": 12.5, "big": 1e21, "small": 1e-7, "neg": -0.0, "max": math.MaxInt64,
			"emails": []any{map[string]any{"value": "x@example.com", "primary": true, "type": "work"}},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "R&D"},
			"z": []any{}, "a": map[string]any{},
		},
		newList(2, 1, []any{map[string]any{"id": "1"}, map[string]any{"id": "2"}}),
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := gojson.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("go-json wrote\n%s\nencoding/json\n%s", got, want)
		}
	}
}
