package scim

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestNormalize(t *testing.T) {
	rt := UserResourceType()
	in := mustJSON(t, `{
		"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:example:unknown"],
		"id":"client-chosen","meta":{"created":"04-12-2018 00:00:00"},"groups":[],"password":"1mz050nq",
		"UserName":"u@x","NAME":{"GivenName":"G","nonsense":1},"active":"True",
		"emails":{"value":"u@x","Primary":"true","type":"work"},
		"adreses":[{"x":1}],"title":null,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"Department":"D","manager":{"value":"m","displayName":"ignored"}}
	}`)
	got, err := Normalize(rt, in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := mustJSON(t, `{"userName":"u@x","name":{"givenName":"G"},"active":true,
		"emails":[{"value":"u@x","primary":true,"type":"work"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D","manager":{"value":"m"}}}`)
	if !reflect.DeepEqual(got, want) {
		b, _ := json.Marshal(got)
		t.Errorf("got %s", b)
	}
	if _, err := Normalize(rt, in, Options{Strict: true}); err == nil {
		t.Errorf("strict mode accepted \"True\" for a boolean")
	}
	for _, bad := range []string{`{"userName":5}`, `{"active":"yes"}`, `{"name":"x"}`, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}`} {
		_, err := Normalize(rt, mustJSON(t, bad), Options{})
		if se, ok := AsError(err); !ok || se.ScimType != TypeInvalidValue || se.Status != 400 {
			t.Errorf("%s: got %v, want 400 invalidValue", bad, err)
		}
	}
}

func TestMatch(t *testing.T) {
	rt := UserResourceType()
	doc := mustJSON(t, `{"userName":"Bjensen@Example.com","id":"abc","active":true,
		"name":{"familyName":"Jensen"},
		"emails":[{"value":"bj@example.com","type":"work"},{"value":"b@home.org","type":"home"}],
		"meta":{"created":"2024-01-02T03:04:05.000Z"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984"}}`)
	tests := map[string]bool{
		`userName eq "bjensen@example.com"`: true,
		`USERNAME EQ "BJENSEN@EXAMPLE.COM"`: true,
		`userName ne "bjensen@example.com"`: false,
		`id eq "ABC"`:                       false, // caseExact
		`userName sw "bjen"`:                true,
		`userName ew ".com"`:                true,
		`userName co "sen@"`:                true,
		`title pr`:                          false,
		`name.familyName pr`:                true,
		`active eq true`:                    true,
		`active eq false`:                   false,
		`emails co "home.org"`:              true,
		`emails.type eq "home"`:             true,
		`emails[type eq "work" and value co "@example.com"]`:                                    true,
		`emails[type eq "home" and value co "@example.com"]`:                                    false,
		`meta.created gt "2024-01-01T00:00:00Z"`:                                                true,
		`meta.created lt "2024-01-01T00:00:00Z"`:                                                false,
		`not (userName eq "x") and active eq true`:                                              true,
		`userName eq "x" or name.familyName eq "jensen"`:                                        true,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`: true,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B"`:                            true,
		`title ne "x"`: true,
	}
	for f, want := range tests {
		expr, err := ParseFilter(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		got, err := Match(rt, expr, doc)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if got != want {
			t.Errorf("%s = %v, want %v", f, got, want)
		}
	}
	for _, f := range []string{`nosuch eq "x"`, `active gt true`, `name eq "x"`, `meta.created gt "yesterday"`, `userName eq`} {
		expr, err := ParseFilter(f)
		if err == nil {
			_, err = Match(rt, expr, doc)
		}
		if se, ok := AsError(err); !ok || se.ScimType != TypeInvalidFilter {
			t.Errorf("%s: got %v, want invalidFilter", f, err)
		}
	}
}
