package postgres

import "github.com/kacescim/kacescim/pkg/store/internal/sqlfilter"

// PostgreSQL's side of the sortBy translation (pkg/store/internal/sqlfilter):
// a value is read with ->> from the search document, whose strings are
// lower-cased already, and text sorts in byte order (COLLATE "C"), as
// SQLite's BINARY.

func (dialect) Text(doc string, path []string) string { return jsonPath(doc, path, true) }

func (dialect) SortString(_ *sqlfilter.Attr, x string) string {
	return "(NULLIF(" + x + `, '') COLLATE "C")`
}

func (dialect) CustomSortKey(a *sqlfilter.Args, doc, urn, name string) string {
	return "(NULLIF(" + doc + " #>> " + a.Bind([]string{urn, name}) + `::text[], '') COLLATE "C")`
}
