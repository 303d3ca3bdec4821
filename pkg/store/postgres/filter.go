package postgres

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scim2/filter-parser/v2"

	"github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"
)

// This file is PostgreSQL's side of the SCIM filter and sortBy translation
// (pkg/store/internal/sqlfilter has the rules and the attribute tables),
// over the users or groups table aliased r.
//
// The userName and displayName *_key columns are COLLATE "C" so that a
// btree index serves eq, sw (as a range) and the orderings in byte order,
// as SQLite's BINARY does. Every other attribute of a user is read from the
// jsonb search column, the resource with every string lower-cased in Go at
// write time, with -> and ->>, multi-valued ones through
// jsonb_array_elements in an EXISTS: PostgreSQL's lower() would fold by
// the server's locale (or not at all beyond ASCII), not as strings.ToLower
// does. caseExact attributes are read from the resource as written.
//
// PostgreSQL text cannot hold a NUL character nor invalid UTF-8, so no
// stored value holds one: a compare value that does is answered without
// binding it (eq, co, sw and ew match nothing; the orderings compare with
// the part before the NUL, which orders the same against NUL-free text).

// dialect is PostgreSQL's sqlfilter.Dialect.
type dialect struct{}

var _ sqlfilter.Dialect = dialect{}

// keyColumn is the lower-cased copy, kept beside it, of a text column.
func keyColumn(col string) string { return col + "_key" }

// userSchema: users keep a search document. groupSchema: every attribute
// a group filter can name is a column or a membership row, so groups keep
// none.
func userSchema() *sqlfilter.Schema {
	return sqlfilter.Users(sqlfilter.Naming{Ref: "r", Search: "r.search", Resource: "r.resource", Folded: keyColumn})
}

func groupSchema() *sqlfilter.Schema {
	return sqlfilter.Groups(sqlfilter.Naming{Ref: "r", Search: "r.resource", Resource: "r.resource", Folded: keyColumn})
}

func (dialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

func (dialect) Const(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// elements is the FROM item of the values of the multi-valued attribute
// whose jsonb value is x (NULL or not an array: none), one jsonb value v
// per row, numbered n from 1.
func elements(x string) string {
	return "jsonb_array_elements(CASE jsonb_typeof(" + x + ") WHEN 'array' THEN " + x + " ELSE '[]'::jsonb END) WITH ORDINALITY AS e(v, n)"
}

func (dialect) Elements(doc string, path []string) sqlfilter.Elements {
	return sqlfilter.Elements{
		From:    elements(jsonPath(doc, path, false)),
		Object:  "jsonb_typeof(e.v) = 'object'",
		Value:   "e.v",
		Primary: "(e.v->'primary' = 'true'::jsonb) IS TRUE",
		Index:   "e.n",
	}
}

// presentPath is the SQL/JSON path that finds a non-empty node: RFC 7644
// §3.4.2.2's "contains a non-empty node", as scim.Match's present: a
// number, a boolean or a non-empty string, at any depth.
const presentPath = `'strict $.** ? (@.type() == "number" || @.type() == "boolean" || (@.type() == "string" && @ != ""))'`

func (dialect) Present(doc string, path []string) string {
	return "COALESCE(jsonb_path_exists(" + jsonPath(doc, path, false) + ", " + presentPath + "), FALSE)"
}

// jsonb is the jsonb expression of the value of o, text the ->> expression
// of its text (both NULL when the value is absent).
func jsonb(o sqlfilter.Operand) string { return jsonPath(o.Doc, o.Attr.Path, false) }
func text(o sqlfilter.Operand) string  { return jsonPath(o.Doc, o.Attr.Path, true) }

func (dialect) StringPresent(o sqlfilter.Operand) string { return jsonString(o, "") }

// jsonString is the condition that the JSON value of o is a non-empty
// string for whose text cond (if any) holds: absent, null, "" or a value
// of another type never matches, and the result is never NULL.
func jsonString(o sqlfilter.Operand, cond string) string {
	if cond != "" {
		cond = " AND " + cond
	}
	return "COALESCE(jsonb_typeof(" + jsonb(o) + ") = 'string' AND " + text(o) + " <> ''" + cond + ", FALSE)"
}

func (dialect) CompareString(a *sqlfilter.Args, o sqlfilter.Operand, op filter.CompareOperator, v string) string {
	// Text PostgreSQL can store holds no NUL and is valid UTF-8.
	storable, nul := true, false
	if i := strings.IndexByte(v, 0); i >= 0 {
		v, storable, nul = v[:i], false, true
	}
	if !utf8.ValidString(v) {
		v, storable = strings.ToValidUTF8(v, "\uFFFD"), false
	}
	x, ordered := o.Column, o.Column // the text, and the text to order in byte order
	if x == "" {
		x = text(o)
		ordered = "(" + x + ` COLLATE "C")`
	}
	var c string
	switch op {
	case filter.EQ, filter.CO, filter.SW, filter.EW:
		if !storable {
			c = "FALSE" // no stored text can equal, contain, start or end with it
			break
		}
		switch op {
		case filter.EQ:
			c = x + " = " + a.Bind(v)
		case filter.CO:
			c = "strpos(" + x + ", " + a.Bind(v) + ") > 0"
		case filter.SW:
			switch {
			case v == "":
				c = "TRUE"
			case o.Column != "":
				// A range, which the column's "C" btree index serves.
				c = x + " >= " + a.Bind(v)
				if end, ok := prefixEnd(v); ok {
					c += " AND " + x + " < " + a.Bind(end)
				}
			default:
				c = "starts_with(" + x + ", " + a.Bind(v) + ")"
			}
		case filter.EW:
			c = "TRUE"
			if v != "" {
				c = "right(" + x + ", " + a.Bind(utf8.RuneCountInString(v)) + ") = " + a.Bind(v)
			}
		}
	case filter.GT:
		c = ordered + " > " + a.Bind(v)
	case filter.GE:
		if !nul {
			c = ordered + " >= " + a.Bind(v)
		} else { // x ≥ "a\x00…" is x > "a" for text without NUL
			c = ordered + " > " + a.Bind(v)
		}
	case filter.LT:
		if !nul {
			c = ordered + " < " + a.Bind(v)
		} else { // x < "a\x00…" is x ≤ "a"
			c = ordered + " <= " + a.Bind(v)
		}
	case filter.LE:
		c = ordered + " <= " + a.Bind(v)
	}
	if o.Column == "" {
		return jsonString(o, c)
	}
	return c
}

func (dialect) BoolPresent(o sqlfilter.Operand) string {
	return "COALESCE(jsonb_typeof(" + jsonb(o) + ") = 'boolean', FALSE)"
}

func (dialect) BoolEqual(_ *sqlfilter.Args, o sqlfilter.Operand, v bool) string {
	return "COALESCE(" + jsonb(o) + " = '" + strconv.FormatBool(v) + "'::jsonb, FALSE)"
}

// Millis binds a time as the timestamptz columns compare with it.
func (dialect) Millis(a *sqlfilter.Args, msec int64) string {
	return a.Bind(time.UnixMilli(msec).UTC())
}

// prefixEnd is the least valid UTF-8 string above every string that
// starts with p in byte order: p with its last character replaced by the
// next one (after dropping trailing U+10FFFF, which has none; surrogates
// are skipped). UTF-8 orders as code points do and no character's
// encoding is a prefix of another's, so [p, end) holds exactly the
// strings that start with p. ok is false when there is none. (SQLite's
// store increments the last byte, which PostgreSQL would refuse as
// invalid UTF-8.)
func prefixEnd(p string) (end string, ok bool) {
	rs := []rune(p)
	for len(rs) > 0 && rs[len(rs)-1] >= utf8.MaxRune {
		rs = rs[:len(rs)-1]
	}
	if len(rs) == 0 {
		return "", false
	}
	next := rs[len(rs)-1] + 1
	if next >= 0xD800 && next <= 0xDFFF {
		next = 0xE000
	}
	rs[len(rs)-1] = next
	return string(rs), true
}

// jsonPath is the jsonb expression of keys in doc (doc->'a'->'b'), or of
// the text of the last one (doc->'a'->>'b') when text.
func jsonPath(doc string, keys []string, text bool) string {
	var b strings.Builder
	b.WriteString(doc)
	for i, k := range keys {
		if text && i == len(keys)-1 {
			b.WriteString("->>")
		} else {
			b.WriteString("->")
		}
		b.WriteString(sqlfilter.Quote(k))
	}
	return b.String()
}
