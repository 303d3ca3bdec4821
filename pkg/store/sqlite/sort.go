package sqlite

import (
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
)

// This file translates directory.Query.SortBy (RFC 7644 §3.4.2.3) into the
// ORDER BY of FindUsers and FindGroups, from the same attribute tables the
// filter translator uses (filter.go):
//
//   - an attribute kept as a column (id, externalId, userName,
//     displayName, active, meta.created, meta.lastModified) sorts by the
//     column, the lower-cased *_key copy for userName and displayName;
//   - any other attribute is read from the JSON resource with json_extract,
//     through foldFunc unless it is caseExact, and a multi-valued one by the
//     value of its primary element, or else of its first;
//   - an attribute of an extension the tables do not know (one a mapping
//     declared: single-valued strings) is read from the resource too, its
//     JSON path bound as a parameter;
//   - an absent value, null or "" is NULL, which sorts last ascending and
//     first descending (NULLS LAST / NULLS FIRST), as the RFC asks;
//   - seq, the creation order, breaks ties in both directions, so the
//     order is total and paging through it never repeats or skips a
//     resource.
//
// The only text spliced into the SQL comes from the attribute tables.

// orderBy is the ORDER BY list (without the keywords) of q over the
// resource schema s, and the arguments of its placeholders.
func (s *resourceSchema) orderBy(q directory.Query) (string, []any, error) {
	if q.SortBy == "" {
		return "seq", nil, nil
	}
	key, args, err := s.sortKey(q.SortBy)
	if err != nil {
		return "", nil, err
	}
	if q.SortDescending {
		return key + " DESC NULLS FIRST, seq", args, nil
	}
	return key + " ASC NULLS LAST, seq", args, nil
}

// sortedPageQuery reads one page (LIMIT ? OFFSET ?) of the rows of table
// that where selects, in the order order gives.
func sortedPageQuery(table, columns, where, order string) string {
	return "SELECT " + columns + " FROM " + table + " " + where + " ORDER BY " + order + " LIMIT ? OFFSET ?"
}

// cannotSort is the error for a SortBy the store cannot honour.
func cannotSort(path, why string) error {
	return directory.Errorf(directory.EINVALID, "cannot sort by %q: %s", path, why)
}

// sortKey is the SQL expression of the value a resource sorts by, NULL
// when it has none.
func (s *resourceSchema) sortKey(path string) (string, []any, error) {
	attrs, rest := s.attrs, strings.TrimSpace(path)
	if strings.HasPrefix(strings.ToLower(rest), "urn:") {
		// Attribute names hold no colon: the URN ends at the last one.
		i := strings.LastIndexByte(rest, ':')
		urn := rest[:i]
		rest = rest[i+1:]
		switch {
		case strings.EqualFold(urn, s.core):
		case s.exts[strings.ToLower(urn)] != nil:
			attrs = s.exts[strings.ToLower(urn)]
		default:
			return s.customSortKey(path, urn, rest)
		}
	}
	name, subName, hasSub := strings.Cut(rest, ".")
	a := attrs[strings.ToLower(name)]
	switch {
	case a == nil:
		return "", nil, cannotSort(path, "no such attribute")
	case a.unsupported != "":
		return "", nil, cannotSort(path, "it is computed by the server")
	case a.relation != nil:
		return "", nil, cannotSort(path, a.name+" are kept as memberships, not in the resource")
	case a.typ != typeComplex && hasSub:
		return "", nil, cannotSort(path, a.name+" has no sub-attributes")
	case a.typ != typeComplex:
		return s.sortValue(a), nil, nil
	case !hasSub && a.multi && a.subs["value"] != nil:
		subName = "value" // emails sorts by emails.value
	case !hasSub:
		return "", nil, cannotSort(path, a.name+" is complex: name one of its sub-attributes")
	}
	sub := a.subs[strings.ToLower(subName)]
	switch {
	case sub == nil:
		return "", nil, cannotSort(path, "no such attribute")
	case sub.unsupported != "":
		return "", nil, cannotSort(path, "it cannot be sorted by: "+sub.unsupported)
	case !a.multi:
		return s.sortValue(sub), nil, nil
	}
	// The primary element's value, or else the first element's.
	elem := "json_extract(e.value, " + quote(jsonPath(sub.path, false)) + ")"
	return "(SELECT " + sortString(sub, elem) +
		" FROM json_each(" + s.table + ".resource, " + quote(jsonPath(a.path, false)) + ") AS e" +
		" WHERE e.type = 'object'" +
		" ORDER BY json_extract(e.value, '$.\"primary\"') IS 1 DESC, e.key LIMIT 1)", nil, nil
}

// sortValue is the sort key of a attribute outside a multi-valued one: its
// column, or its value in the JSON resource.
func (s *resourceSchema) sortValue(a *attr) string {
	if a.column != "" {
		if a.optional {
			return "NULLIF(" + a.column + ", '')"
		}
		return a.column
	}
	return sortString(a, "json_extract("+s.table+".resource, "+quote(jsonPath(a.path, false))+")")
}

// sortString folds the JSON value x of attribute a when a is a
// case-insensitive string, and makes "" NULL (absent, as in filters).
func sortString(a *attr, x string) string {
	if a.typ != typeString {
		return x
	}
	if !a.caseExact {
		x = foldFunc + "(" + x + ")"
	}
	return "NULLIF(" + x + ", '')"
}

// customSortKey sorts by the attribute name of an extension the tables do
// not know: a mapping declared it, so it is a single-valued string kept
// under the URN, spelled as the server resolved it.
func (s *resourceSchema) customSortKey(path, urn, name string) (string, []any, error) {
	if !isSortURN(urn) || !isSortName(name) {
		return "", nil, cannotSort(path, "no such attribute")
	}
	x := foldFunc + "(json_extract(" + s.table + ".resource, ?))"
	return "NULLIF(" + x + ", '')", []any{jsonPath([]string{urn, name}, false)}, nil
}

// isSortURN accepts the characters of a URN (RFC 8141, without the
// percent-encoding, query and fragment parts no schema URN has).
func isSortURN(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(":.-_", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// isSortName accepts an ATTRNAME of RFC 7644 §3.10.
func isSortName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '-' || c == '_')) {
			return false
		}
	}
	return s != ""
}
