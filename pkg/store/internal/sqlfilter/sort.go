package sqlfilter

import (
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
)

// This file translates directory.Query.SortBy (RFC 7644 §3.4.2.3) into the
// ORDER BY of FindUsers and FindGroups, from the same attribute tables the
// filter translator uses:
//
//   - an attribute kept as a column (id, externalId, userName,
//     displayName, active, meta.created, meta.lastModified) sorts by the
//     column, the lower-cased *_key copy for userName and displayName;
//   - any other attribute is read from the JSON resource, folded unless it
//     is caseExact (Dialect.SortString), and a multi-valued one by the
//     value of its primary element, or else of its first;
//   - an attribute of an extension the tables do not know (one a mapping
//     declared: single-valued strings) is read from the resource too, its
//     JSON path bound as a parameter;
//   - text sorts in byte order, as strings.ToLower's output compares;
//   - an absent value, null or "" is NULL, which sorts last ascending and
//     first descending (NULLS LAST / NULLS FIRST), as the RFC asks;
//   - seq, the creation order, breaks ties in both directions, so the
//     order is total and paging through it never repeats or skips a
//     resource.

// orderBy is the ORDER BY list (without the keywords) of q over s.
func (s *Schema) orderBy(d Dialect, args *Args, q directory.Query) (string, error) {
	seq := s.Ref + ".seq"
	if q.SortBy == "" {
		return seq, nil
	}
	key, err := s.sortKey(d, args, q.SortBy)
	if err != nil {
		return "", err
	}
	if q.SortDescending {
		return key + " DESC NULLS FIRST, " + seq, nil
	}
	return key + " ASC NULLS LAST, " + seq, nil
}

// cannotSort is the error for a SortBy the store cannot honour.
func cannotSort(path, why string) error {
	return directory.Errorf(directory.EINVALID, "cannot sort by %q: %s", path, why)
}

// sortKey is the SQL expression of the value a resource sorts by, NULL
// when it has none.
func (s *Schema) sortKey(d Dialect, args *Args, path string) (string, error) {
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
			// An extension a mapping declared: a single-valued string
			// kept under the URN, spelled as the server resolved it.
			if !isSortURN(urn) || !isSortName(rest) {
				return "", cannotSort(path, "no such attribute")
			}
			return d.CustomSortKey(args, s.Search, urn, rest), nil
		}
	}
	name, subName, hasSub := strings.Cut(rest, ".")
	a := attrs[strings.ToLower(name)]
	switch {
	case a == nil:
		return "", cannotSort(path, "no such attribute")
	case a.Unsupported != "":
		return "", cannotSort(path, "it is computed by the server")
	case a.Relation != nil:
		return "", cannotSort(path, a.Name+" are kept as memberships, not in the resource")
	case a.Type != Complex && hasSub:
		return "", cannotSort(path, a.Name+" has no sub-attributes")
	case a.Type != Complex:
		return s.sortValue(d, a), nil
	case !hasSub && a.Multi && a.Subs["value"] != nil:
		subName = "value" // emails sorts by emails.value
	case !hasSub:
		return "", cannotSort(path, a.Name+" is complex: name one of its sub-attributes")
	}
	sub := a.Subs[strings.ToLower(subName)]
	switch {
	case sub == nil:
		return "", cannotSort(path, "no such attribute")
	case sub.Unsupported != "":
		return "", cannotSort(path, "it cannot be sorted by: "+sub.Unsupported)
	case !a.Multi:
		return s.sortValue(d, sub), nil
	}
	// The primary element's value, or else the first element's.
	el := d.Elements(s.Search, a.Path)
	return "(SELECT " + sortString(d, sub, d.Text(el.Value, sub.Path)) +
		" FROM " + el.From + " WHERE " + el.Object +
		" ORDER BY " + el.Primary + " DESC, " + el.Index + " LIMIT 1)", nil
}

// sortValue is the sort key of an attribute outside a multi-valued one:
// its column, or its value in the JSON resource.
func (s *Schema) sortValue(d Dialect, a *Attr) string {
	if a.Column != "" {
		if a.Optional {
			return "NULLIF(" + a.Column + ", '')"
		}
		return a.Column
	}
	return sortString(d, a, d.Text(s.doc(a), a.Path))
}

func sortString(d Dialect, a *Attr, x string) string {
	if a.Type != String {
		return x
	}
	return d.SortString(a, x)
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
