package sqlite

import "github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"

// SQLite's side of the sortBy translation (pkg/store/internal/sqlfilter):
// a value in the resource is read with json_extract and folded with
// foldFunc unless it is caseExact; text compares as BINARY (memcmp), which
// is byte order.

func (dialect) Text(doc string, path []string) string {
	return "json_extract(" + doc + ", " + sqlfilter.Quote(jsonPath(path)) + ")"
}

func (dialect) SortString(a *sqlfilter.Attr, x string) string {
	if !a.CaseExact {
		x = foldFunc + "(" + x + ")"
	}
	return "NULLIF(" + x + ", '')"
}

func (dialect) CustomSortKey(a *sqlfilter.Args, doc, urn, name string) string {
	return "NULLIF(" + foldFunc + "(json_extract(" + doc + ", " + a.Bind(jsonPath([]string{urn, name})) + ")), '')"
}
