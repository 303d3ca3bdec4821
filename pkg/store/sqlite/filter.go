package sqlite

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/scim2/filter-parser/v2"

	"github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"
)

// This file is SQLite's side of the SCIM filter and sortBy translation
// (pkg/store/internal/sqlfilter has the rules and the attribute tables):
// JSON is read with json_each, json_type and json_extract from the
// resource column as written, and case-insensitive text is compared
// through folded.
//
// A filter on an attribute without an index is a scan of the provider's
// rows, one row at a time: nothing is collected in memory, and folded only
// calls back into Go (which allocates) for text that is not ASCII.

// dialect is SQLite's sqlfilter.Dialect.
type dialect struct{}

var _ sqlfilter.Dialect = dialect{}

// naming is how this store's queries name the table of a schema: by the
// table's own name, with no alias.
func naming(table string) sqlfilter.Naming {
	return sqlfilter.Naming{Ref: table, Search: table + ".resource", Resource: table + ".resource", Folded: folded}
}

func userSchema() *sqlfilter.Schema  { return sqlfilter.Users(naming("users")) }
func groupSchema() *sqlfilter.Schema { return sqlfilter.Groups(naming("groups")) }

func (dialect) Placeholder(int) string { return "?" }

func (dialect) Const(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (dialect) Elements(doc string, path []string) sqlfilter.Elements {
	return sqlfilter.Elements{
		From:    "json_each(" + doc + ", " + sqlfilter.Quote(jsonPath(path)) + ") AS e",
		Object:  "e.type = 'object'",
		Value:   "e.value",
		Primary: `json_extract(e.value, '$."primary"') IS 1`,
		Index:   "e.key",
	}
}

func (dialect) Present(doc string, path []string) string {
	return fmt.Sprintf("EXISTS (SELECT 1 FROM json_tree(%s, %s) AS e WHERE e.type NOT IN ('null', 'object', 'array') AND (e.type <> 'text' OR e.atom <> ''))",
		doc, sqlfilter.Quote(jsonPath(path)))
}

func (dialect) StringPresent(o sqlfilter.Operand) string { return jsonString(o, "") }

// jsonString is the condition that the JSON value of o is a non-empty
// string f.atom for which cond (if any) holds: absent, null, "" or a value
// of another type never matches, and the result is 0 or 1, never NULL.
//
// json_each on the path of a primitive yields one row, with a NULL key,
// that carries both the type and the value: one JSON lookup per row,
// where json_type and json_extract would take one each (and folded three
// more), which made a scan of 100,000 users half again as slow.
func jsonString(o sqlfilter.Operand, cond string) string {
	if cond != "" {
		cond = " AND " + cond
	}
	if o.Elem {
		// In one value of a multi-valued attribute (a small object),
		// going through its keys costs half of looking one up by path.
		return fmt.Sprintf("EXISTS (SELECT 1 FROM json_each(%s) AS f WHERE f.key = %s AND f.type = 'text' AND f.atom <> ''%s)",
			o.Doc, sqlfilter.Quote(o.Attr.Path[0]), cond)
	}
	return fmt.Sprintf("EXISTS (SELECT 1 FROM json_each(%s, %s) AS f WHERE f.key IS NULL AND f.type = 'text' AND f.atom <> ''%s)",
		o.Doc, sqlfilter.Quote(jsonPath(o.Attr.Path)), cond)
}

// jsonType is the JSON type of the value of o ('text', 'true', ...), NULL
// when it has none.
func jsonType(o sqlfilter.Operand) string {
	return fmt.Sprintf("json_type(%s, %s)", o.Doc, sqlfilter.Quote(jsonPath(o.Attr.Path)))
}

func (dialect) CompareString(a *sqlfilter.Args, o sqlfilter.Operand, op filter.CompareOperator, v string) string {
	x := o.Column
	if x == "" {
		x = "f.atom" // in jsonString
		if !o.Attr.CaseExact {
			x = folded(x)
		}
	}
	var c string
	switch op {
	case filter.EQ:
		if o.Column == "" && !o.Attr.CaseExact && !strings.ContainsRune(v, 0) {
			// Folding keeps the number of characters, so a value of
			// another length cannot be equal: only the others are folded
			// (which, for non-ASCII text, calls back into Go). length()
			// stops at a NUL, hence the exception.
			c = "length(f.atom) = " + a.Bind(utf8.RuneCountInString(v)) + " AND "
		}
		c += x + " = " + a.Bind(v)
	// co, sw and ew avoid LIKE and GLOB: LIKE folds ASCII, which is wrong
	// for caseExact attributes, and a LIKE or GLOB whose pattern is a
	// parameter makes SQLite compile the statement again every time the
	// parameter changes (it might serve a prefix from an index), which
	// doubled the cost of an indexed userName sw. A prefix is a range
	// instead, which an index serves with no recompiling.
	case filter.CO:
		c = "instr(" + x + ", " + a.Bind(v) + ") > 0"
	case filter.SW:
		c = "1"
		if v != "" {
			c = x + " >= " + a.Bind(v)
			if end, ok := prefixEnd(v); ok {
				c += " AND " + x + " < " + a.Bind(end)
			}
		}
	case filter.EW:
		c = "1"
		if v != "" {
			c = "substr(" + x + ", " + a.Bind(-utf8.RuneCountInString(v)) + ") = " + a.Bind(v)
		}
	case filter.GT:
		c = x + " > " + a.Bind(v)
	case filter.GE:
		c = x + " >= " + a.Bind(v)
	case filter.LT:
		c = x + " < " + a.Bind(v)
	case filter.LE:
		c = x + " <= " + a.Bind(v)
	}
	if o.Column == "" {
		return jsonString(o, c)
	}
	return c
}

func (dialect) BoolPresent(o sqlfilter.Operand) string {
	return fmt.Sprintf("ifnull(%s IN ('true', 'false'), 0)", jsonType(o))
}

func (dialect) BoolEqual(a *sqlfilter.Args, o sqlfilter.Operand, v bool) string {
	return jsonType(o) + " IS " + a.Bind(fmt.Sprint(v)) // 'true' or 'false'
}

// Millis binds a time as the columns hold it: unix milliseconds.
func (dialect) Millis(a *sqlfilter.Args, msec int64) string { return a.Bind(msec) }

// folded is the SQL expression of the text x lower-cased the way
// strings.ToLower does it, which the case-insensitive comparisons need
// (the *_key columns hold strings.ToLower of their column). SQLite's lower()
// folds ASCII only, which is strings.ToLower exactly on ASCII text, and
// costs nothing; foldFunc calls back into Go, which allocates for every
// row, so it is kept for text with a non-ASCII character (more bytes than
// characters). NULL stays NULL.
func folded(x string) string {
	return "(CASE WHEN length(" + x + ") = octet_length(" + x + ") THEN lower(" + x + ") ELSE " + foldFunc + "(" + x + ") END)"
}

// prefixEnd is the least string above every string that starts with p
// in SQLite's BINARY order (memcmp): p with its last byte incremented,
// after dropping trailing 0xFF bytes (which UTF-8 never holds). ok is
// false when there is none (p is empty or all 0xFF).
func prefixEnd(p string) (end string, ok bool) {
	b := []byte(p)
	for len(b) > 0 && b[len(b)-1] == 0xFF {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "", false
	}
	b[len(b)-1]++
	return string(b), true
}

// jsonPath is the SQLite JSON path of keys: $."a"."b".
func jsonPath(keys []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, k := range keys {
		b.WriteString(`."`)
		b.WriteString(k)
		b.WriteString(`"`)
	}
	return b.String()
}
