package postgres

import (
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
)

// This file translates directory.Query.SortBy (RFC 7644 §3.4.2.3) into the
// ORDER BY of FindUsers and FindGroups, from the same attribute tables the
// filter translator uses (filter.go), as the SQLite store does (its
// sort.go):
//
//   - an attribute kept as a column (id, externalId, userName,
//     displayName, active, meta.created, meta.lastModified) sorts by the
//     column, the lower-cased *_key copy for userName and displayName;
//   - any other attribute is read from the search document (its strings
//     already lower-cased in Go), a multi-valued one by the value of its
//     primary element, or else of its first;
//   - an attribute of an extension the tables do not know (one a mapping
//     declared: single-valued strings) is read from the search document
//     too, its path bound as a parameter;
//   - text sorts in byte order (COLLATE "C"), as SQLite's BINARY;
//   - an absent value, null or "" is NULL, which sorts last ascending and
//     first descending (NULLS LAST / NULLS FIRST), as the RFC asks;
//   - seq, the creation order, breaks ties in both directions, so the
//     order is total and paging through it never repeats or skips a
//     resource.
//
// The only text spliced into the SQL comes from the attribute tables.

// orderBy is the ORDER BY list (without the keywords) of q over the
// resource schema s; it binds its parameters with t.
func (s *resourceSchema) orderBy(t *translator, q directory.Query) (string, error) {
	if q.SortBy == "" {
		return "r.seq", nil
	}
	key, err := s.sortKey(t, q.SortBy)
	if err != nil {
		return "", err
	}
	if q.SortDescending {
		return key + " DESC NULLS FIRST, r.seq", nil
	}
	return key + " ASC NULLS LAST, r.seq", nil
}

// cannotSort is the error for a SortBy the store cannot honour.
func cannotSort(path, why string) error {
	return directory.Errorf(directory.EINVALID, "cannot sort by %q: %s", path, why)
}

// sortKey is the SQL expression of the value a resource sorts by, NULL
// when it has none.
func (s *resourceSchema) sortKey(t *translator, path string) (string, error) {
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
			return s.customSortKey(t, path, urn, rest)
		}
	}
	name, subName, hasSub := strings.Cut(rest, ".")
	a := attrs[strings.ToLower(name)]
	switch {
	case a == nil:
		return "", cannotSort(path, "no such attribute")
	case a.unsupported != "":
		return "", cannotSort(path, "it is computed by the server")
	case a.relation != nil:
		return "", cannotSort(path, a.name+" are kept as memberships, not in the resource")
	case a.typ != typeComplex && hasSub:
		return "", cannotSort(path, a.name+" has no sub-attributes")
	case a.typ != typeComplex:
		return s.sortValue(a), nil
	case !hasSub && a.multi && a.subs["value"] != nil:
		subName = "value" // emails sorts by emails.value
	case !hasSub:
		return "", cannotSort(path, a.name+" is complex: name one of its sub-attributes")
	}
	sub := a.subs[strings.ToLower(subName)]
	switch {
	case sub == nil:
		return "", cannotSort(path, "no such attribute")
	case sub.unsupported != "":
		return "", cannotSort(path, "it cannot be sorted by: "+sub.unsupported)
	case !a.multi:
		return s.sortValue(sub), nil
	}
	// The primary element's value, or else the first element's.
	return "(SELECT " + sortString(sub, "e.v->>"+quote(sub.name)) +
		" FROM " + elements(jsonPath(s.search, a.path, false)) +
		" WHERE jsonb_typeof(e.v) = 'object'" +
		" ORDER BY (e.v->'primary' = 'true'::jsonb) IS TRUE DESC, e.n LIMIT 1)", nil
}

// sortValue is the sort key of an attribute outside a multi-valued one:
// its column, or its value in the search document.
func (s *resourceSchema) sortValue(a *attr) string {
	if a.column != "" {
		if a.optional {
			return "NULLIF(" + a.column + ", '')"
		}
		return a.column
	}
	doc := s.search
	if a.caseExact {
		doc = s.resource
	}
	return sortString(a, jsonPath(doc, a.path, true))
}

// sortString makes the text x of a string attribute NULL when it is ""
// (absent, as in filters) and orders it in byte order.
func sortString(a *attr, x string) string {
	if a.typ != typeString {
		return x
	}
	return "(NULLIF(" + x + `, '') COLLATE "C")`
}

// customSortKey sorts by the attribute name of an extension the tables do
// not know: a mapping declared it, so it is a single-valued string kept
// under the URN, spelled as the server resolved it.
func (s *resourceSchema) customSortKey(t *translator, path, urn, name string) (string, error) {
	if !isSortURN(urn) || !isSortName(name) {
		return "", cannotSort(path, "no such attribute")
	}
	return "(NULLIF(" + s.search + " #>> " + t.bind([]string{urn, name}) + `::text[], '') COLLATE "C")`, nil
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
