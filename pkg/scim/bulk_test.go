package scim

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

func TestResolveBulkIDs(t *testing.T) {
	ids := map[string]string{"u1": "id-1", "u2": "id-2"}
	resolve := func(ref string) (string, error) {
		if id, ok := ids[ref]; ok {
			return id, nil
		}
		return "", errors.New("unknown " + ref)
	}
	for _, tc := range []struct{ in, want string }{
		// Whole string values at any depth, in objects and arrays.
		{`{"members":[{"value":"bulkId:u1"},{"value":"bulkId:u2","display":"x"}]}`,
			`{"members":[{"value":"id-1"},{"display":"x","value":"id-2"}]}`},
		{`{"Operations":[{"op":"add","path":"members","value":[{"value":"bulkId:u2"}]}]}`,
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"id-2"}]}]}`},
		{`["bulkId:u1",["bulkId:u2"]]`, `["id-1",["id-2"]]`},
		// Not a whole value, or not the prefix exactly: left alone.
		{`{"path":"members[value eq \"bulkId:u1\"]","v":"BULKID:u1","w":"xbulkId:u1"}`,
			`{"path":"members[value eq \"bulkId:u1\"]","v":"BULKID:u1","w":"xbulkId:u1"}`},
		// Numbers keep their text.
		{`{"n":12345678901234567890,"f":1.50,"s":"bulkId:u1"}`, `{"f":1.50,"n":12345678901234567890,"s":"id-1"}`},
		// Nothing to resolve: the data comes back as sent.
		{`{"b": 1.0,  "a": 2}`, `{"b": 1.0,  "a": 2}`},
	} {
		got, err := ResolveBulkIDs(json.RawMessage(tc.in), resolve)
		if err != nil || string(got) != tc.want {
			t.Errorf("ResolveBulkIDs(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := ResolveBulkIDs(json.RawMessage(`{"a":[{"value":"bulkId:nope"}]}`), resolve); err == nil || err.Error() != "unknown nope" {
		t.Errorf("unknown reference: %v", err)
	}
	if _, err := ResolveBulkIDs(json.RawMessage(`{"a":"bulkId:u1"`), resolve); !isStatus(err, http.StatusBadRequest, TypeInvalidSyntax) {
		t.Errorf("bad JSON: %v", err)
	}
	if got, err := ResolveBulkIDs(nil, resolve); err != nil || got != nil {
		t.Errorf("no data: %s, %v", got, err)
	}
}

func isStatus(err error, status int, scimType string) bool {
	se, ok := AsError(err)
	return ok && se.Status == status && se.ScimType == scimType
}

func TestDecodeBulkRequest(t *testing.T) {
	req, err := DecodeBulkRequest([]byte(`{"schemas":["` + BulkRequestURN + `"],"failOnErrors":2,"Operations":[
		{"method":"POST","bulkId":"a","path":"/Users","data":{"userName":"x"}},
		{"method":"DELETE","path":"/Users/1","version":"W/\"1\""}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.FailOnErrors != 2 || len(req.Operations) != 2 || req.Operations[0].BulkID != "a" ||
		string(req.Operations[0].Data) != `{"userName":"x"}` || req.Operations[1].Version != `W/"1"` || req.Operations[1].Data != nil {
		t.Errorf("decoded %+v", req)
	}
	if req, err := DecodeBulkRequest([]byte(`{"Operations":[]}`)); err != nil || req.Operations == nil || len(req.Operations) != 0 {
		t.Errorf("empty request without schemas: %+v, %v", req, err)
	}
	for _, tc := range []struct {
		body, scimType string
	}{
		{``, TypeInvalidSyntax},
		{`null`, TypeInvalidSyntax},
		{`[]`, TypeInvalidSyntax},
		{`{"Operations":[}`, TypeInvalidSyntax},
		{`{"schemas":[],"Operations":[]}`, TypeInvalidSyntax},
		{`{"schemas":["` + SearchRequestURN + `"],"Operations":[]}`, TypeInvalidSyntax},
		{`{"schemas":"` + BulkRequestURN + `","Operations":[]}`, TypeInvalidSyntax},
		{`{}`, TypeInvalidSyntax},
		{`{"Operations":null}`, TypeInvalidSyntax},
		{`{"Operations":[1]}`, TypeInvalidSyntax},
		{`{"failOnErrors":"1","Operations":[]}`, TypeInvalidSyntax},
		{`{"failOnErrors":-1,"Operations":[]}`, TypeInvalidValue},
		{`{"Operations":[{"method":"POST","bulkId":"a"},{"method":"POST"},{"method":"POST","bulkId":"a"}]}`, TypeInvalidValue},
	} {
		if _, err := DecodeBulkRequest([]byte(tc.body)); !isStatus(err, http.StatusBadRequest, tc.scimType) {
			t.Errorf("DecodeBulkRequest(%s) = %v, want 400 %s", tc.body, err, tc.scimType)
		}
	}
}
