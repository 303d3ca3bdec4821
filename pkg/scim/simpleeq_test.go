package scim

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/scim2/filter-parser/v2"
)

// TestParseSimpleEqMatchesParser: wherever the fast path answers, its
// expression is the one the general parser builds.
func TestParseSimpleEqMatchesParser(t *testing.T) {
	inputs := []string{
		`userName eq "jane@example.com"`,
		`UserName Eq "JANE@EXAMPLE.COM"`,
		`userName EQ "a b  c"`,
		`userName   eq   "x"`,
		`name.familyName eq "O'Malley"`,
		`externalId eq "00ujl29u0le5T6Aj10h7"`,
		`displayName eq "Test SCIMv2"`,
		`userName eq ""`,
		`userName eq "caf\u00e9"`,
		`userName eq "a\"b"`,
		`userName eq "a\\b"`,
		`userName eq "a" and displayName eq "b"`,
		`userName eq "a" or userName eq "b"`,
		`userName ne "a"`,
		`userName eq x`,
		`userName eq 5`,
		`userName eq true`,
		`emails[type eq "work"]`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"`,
		`a.b.c eq "x"`,
		`1abc eq "x"`,
		`user_name-2 eq "x"`,
		`userName eq "x`,
		`userNameeq "x"`,
		`userName eq"x"`,
	}
	for _, in := range inputs {
		fast, ok := parseSimpleEq(in)
		if !ok {
			continue
		}
		slow, err := filter.ParseFilter([]byte(in))
		if err != nil {
			t.Errorf("%s: the fast path accepted what the parser refuses (%v)", in, err)
			continue
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s:\nfast %s\nslow %s", in, describe(fast), describe(slow))
		}
	}
	// The shapes Okta sends must take the fast path.
	for _, in := range []string{`userName eq "jane@example.com"`, `displayName eq "Test SCIMv2"`, `externalId eq "00u1"`} {
		if _, ok := parseSimpleEq(in); !ok {
			t.Errorf("%s did not take the fast path", in)
		}
	}
}

func describe(e filter.Expression) string {
	if a, ok := e.(*filter.AttributeExpression); ok {
		return fmt.Sprintf("%q %v %#v", a.AttributePath.String(), a.Operator, a.CompareValue)
	}
	return fmt.Sprintf("%#v", e)
}

func BenchmarkParseFilter(b *testing.B) {
	for b.Loop() {
		if _, err := ParseFilter(`userName eq "jane.doe@example.com"`); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseSimplePathMatchesParser: wherever the PATCH path fast path
// answers, its path is the one the general parser builds.
func TestParseSimplePathMatchesParser(t *testing.T) {
	for _, in := range []string{
		"active", "userName", "name.givenName", "Name.GivenName", "x509Certificates", "a-b_c",
		"user_name-2", "title", "emails", "emails.value", "a.b.c", "1abc", "", ".", "a.", ".b",
		"emails[type eq \"work\"]", "emails[type eq \"work\"].value", "members[value eq \"1\"]",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
		"name givenName", "name.given name", "$ref", "é", "name.é",
	} {
		fast, ok := parseSimplePath(in)
		if !ok {
			continue
		}
		slow, err := filter.ParsePath([]byte(in))
		if err != nil {
			t.Errorf("%q: the fast path accepted what the parser refuses (%v)", in, err)
			continue
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%q:\nfast %#v\nslow %#v", in, fast, slow)
		}
	}
	for _, in := range []string{"active", "name.givenName", "displayName"} {
		if _, ok := parseSimplePath(in); !ok {
			t.Errorf("%q did not take the fast path", in)
		}
	}
}
