package scim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/scim2/filter-parser/v2"
)

// or joins n comparisons with or.
func orChain(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`userName eq "u%d"`, i)
	}
	return strings.Join(parts, " or ")
}

// nested is a filter of the given depth, alternating and/or so that each
// level counts: (a and (a or (a and ...))).
func nested(depth int) string {
	f := `title pr`
	ops := []string{"and", "or"}
	for i := 1; i < depth; i++ {
		f = fmt.Sprintf(`userName eq "x%d" %s (%s)`, i, ops[i%2], f)
	}
	return f
}

func TestParseFilterLimits(t *testing.T) {
	ok := []string{
		orChain(MaxFilterComparisons),
		nested(MaxFilterDepth),
		strings.Repeat("not (", MaxFilterDepth-1) + `userName eq "x"` + strings.Repeat(")", MaxFilterDepth-1),
		// Redundant parentheses add no depth.
		strings.Repeat("(", 2*MaxFilterDepth) + `userName eq "x"` + strings.Repeat(")", 2*MaxFilterDepth),
		// Operator words inside strings are not comparisons.
		`userName eq "` + strings.Repeat(" eq pr (", 100) + `"`,
		`emails[type eq "work" and value co "@example.com"] and (userName sw "a" or userName sw "b")`,
	}
	for _, f := range ok {
		if _, err := ParseFilter(f); err != nil {
			t.Errorf("%.80s…: %v", f, err)
		}
	}
	tooMany := []string{
		orChain(MaxFilterComparisons + 1),
		orChain(5000), // refused before the parser sees it
		nested(MaxFilterDepth + 1),
		strings.Repeat("not (", MaxFilterDepth) + `userName eq "x"` + strings.Repeat(")", MaxFilterDepth),
		strings.Repeat("(", 200) + `userName eq "x"` + strings.Repeat(")", 200),
		strings.Repeat(`emails[type eq "work" and value co "x"] or `, 25) + `userName pr`,
	}
	for _, f := range tooMany {
		_, err := ParseFilter(f)
		if se, ok := AsError(err); !ok || se.Status != 400 || se.ScimType != TypeTooMany || se.Detail == "" {
			t.Errorf("%.80s…: got %v, want 400 tooMany", f, err)
		}
	}
}

func TestFilterSize(t *testing.T) {
	cases := map[string][2]int{ // comparisons, depth
		`userName eq "x"`:                             {1, 1},
		`a pr or b pr or c pr or d pr`:                {4, 2},
		`a pr and b pr or c pr`:                       {3, 3},
		`(a pr or b pr) and (c pr or d pr)`:           {4, 3},
		`not (a pr)`:                                  {1, 2},
		`not (not (a pr and b pr))`:                   {2, 4},
		`emails[type eq "w" and value co "x"]`:        {2, 3},
		`a pr and emails[type eq "w"] and not (b pr)`: {3, 3},
	}
	for f, want := range cases {
		e, err := filter.ParseFilter([]byte(f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		n, d := filterSize(e, "")
		if n != want[0] || d != want[1] {
			t.Errorf("%s: %d comparisons at depth %d, want %d at %d", f, n, d, want[0], want[1])
		}
	}
	// CheckFilterLimits applies the same limits to an expression parsed
	// elsewhere (the store calls it).
	e, err := filter.ParseFilter([]byte(orChain(MaxFilterComparisons + 1)))
	if err != nil {
		t.Fatal(err)
	}
	if se, ok := AsError(CheckFilterLimits(e)); !ok || se.ScimType != TypeTooMany {
		t.Errorf("CheckFilterLimits: got %v, want tooMany", se)
	}
}

// TestParseFilterDecodesEscapes: compare values come out of ParseFilter
// decoded, whichever path parsed them.
func TestParseFilterDecodesEscapes(t *testing.T) {
	cases := map[string]string{
		`userName eq "a\"b"`:                        `a"b`,
		`userName eq "a\\b"`:                        `a\b`,
		`userName eq "caf\u00E9"`:                   "café",
		`userName eq "caf\u00e9"`:                   "café", // JSON allows lower-case hex digits; the grammar alone does not
		`userName eq "a\/b\tc\nd"`:                  "a/b\tc\nd",
		`userName eq "\uD83D\uDE00"`:                "😀",
		`userName eq "a\\\"b"`:                      `a\"b`,
		`userName eq "plain"`:                       "plain", // the fast path
		`emails[value eq "x\"y"]`:                   `x"y`,
		`not (title co "\\") and title sw "\u0041"`: "", // checked below
	}
	for f, want := range cases {
		e, err := ParseFilter(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		var got []string
		var walk func(filter.Expression)
		walk = func(e filter.Expression) {
			switch x := e.(type) {
			case *filter.AttributeExpression:
				got = append(got, x.CompareValue.(string))
			case *filter.LogicalExpression:
				walk(x.Left)
				walk(x.Right)
			case *filter.NotExpression:
				walk(x.Expression)
			case *filter.ValuePath:
				walk(x.ValueFilter)
			}
		}
		walk(e)
		if want == "" {
			if strings.Join(got, "|") != `\|A` {
				t.Errorf("%s: values %q", f, got)
			}
			continue
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: values %q, want %q", f, got, want)
		}
	}
	// Match sees the decoded value.
	rt := UserResourceType()
	e, err := ParseFilter(`userName eq "A\"B"`)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Match(rt, e, map[string]any{"userName": `a"b`}); !ok || err != nil {
		t.Errorf(`userName eq "A\"B" on a"b: %v, %v`, ok, err)
	}
}

// TestMatchRules pins the rules Match shares with the store's SQL
// translation (see Match).
func TestMatchRules(t *testing.T) {
	rt := UserResourceType()
	doc := mustJSON(t, `{"userName":"u","displayName":"","id":"abc",
		"name":{"givenName":"","familyName":"F"},"nickName":"",
		"emails":[{"value":"a@x","type":"work","primary":true},{"value":"b@x","type":"home"}],
		"addresses":[{"locality":""}],
		"groups":[{"value":"G1","display":"Staff","type":"direct"}],
		"meta":{"created":"2024-01-02T03:04:05.000Z","version":"W/\"1\"","resourceType":"User","location":"https://x/Users/abc"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":""}}}`)
	want := map[string]bool{
		`displayName pr`:        false,
		`displayName eq ""`:     false, // "" is absent
		`displayName ne ""`:     true,
		`nickName co ""`:        false,
		`name.familyName co ""`: true,
		`name pr`:               true,
		`addresses pr`:          false, // only an empty locality
		`emails pr`:             true,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr`: false,
		`emails.value ne "a@x"`:                  false, // one email is a@x
		`emails.value ne "c@x"`:                  true,
		`emails[value ne "a@x"]`:                 true, // b@x is not
		`emails.primary ne true`:                 false,
		`emails[primary ne true]`:                true,
		`groups.value eq "g1"`:                   true, // caseExact false
		`phoneNumbers.value ne "x"`:              true,
		`title ne "x"`:                           true,
		`meta.created ge "2024-01-02T03:04:05Z"`: true,
	}
	for f, w := range want {
		e, err := ParseFilter(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got, err := Match(rt, e, doc)
		if err != nil || got != w {
			t.Errorf("%s = %v, %v; want %v", f, got, err, w)
		}
	}
	for _, f := range []string{
		`userName eq 5`, `userName eq true`, `userName eq null`, `meta.created co "2024"`, `meta.version eq "W/\"1\""`,
		`meta.location pr`, `meta.resourceType eq "User"`, `groups.type eq "direct"`, `groups[type eq "direct"]`,
		`x509Certificates.value eq "x"`, `name[givenName eq "x"]`, `emails.value[type eq "work"]`,
	} {
		e, err := ParseFilter(f)
		if err == nil {
			_, err = Match(rt, e, doc)
		}
		if se, ok := AsError(err); !ok || se.ScimType != TypeInvalidFilter {
			t.Errorf("%s: got %v, want invalidFilter", f, err)
		}
	}
}
