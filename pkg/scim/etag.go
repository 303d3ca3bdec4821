package scim

import (
	"strconv"
	"strings"
)

// ETagList is a parsed If-Match or If-None-Match header (RFC 7232 §3.1,
// §3.2), as RFC 7644 §3.14 uses them to version resources.
type ETagList struct {
	// Any is the header "*": any current representation matches.
	Any bool
	// Tags are the opaque tags listed, with their quotes and without the
	// W/ prefix: weak comparison (RFC 7232 §2.3.2) is all SCIM's weak
	// entity tags (W/"3") allow, so a strong "3" matches W/"3" too.
	Tags []string
}

// ParseETagList reads the values of an If-Match or If-None-Match header
// (each header line may hold a comma-separated list). present is false
// when the header names no tag at all: absent, or empty, which is no
// valid value and is ignored rather than read as "matches nothing". It is
// lenient with what clients send: an unquoted tag (3, W/3) is read as if
// quoted; an empty entry is dropped.
func ParseETagList(values []string) (l ETagList, present bool) {
	for _, v := range values {
		for _, t := range splitTags(v) {
			switch {
			case t == "*":
				l.Any = true
			case t != "":
				l.Tags = append(l.Tags, opaqueTag(t))
			}
		}
	}
	return l, l.Any || len(l.Tags) > 0
}

// Match reports whether the entity tag etag (W/"3" or "3") matches the
// list by weak comparison: "*" matches any tag.
func (l ETagList) Match(etag string) bool {
	if l.Any {
		return true
	}
	o := opaqueTag(etag)
	for _, t := range l.Tags {
		if t == o {
			return true
		}
	}
	return false
}

// opaqueTag is t without its weakness indicator, quoted.
func opaqueTag(t string) string {
	t = strings.TrimSpace(t)
	if len(t) >= 2 && (t[:2] == "W/" || t[:2] == "w/") {
		t = t[2:]
	}
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		t = `"` + strings.Trim(t, `"`) + `"`
	}
	return t
}

// splitTags splits a header value at the commas outside quoted tags.
func splitTags(v string) []string {
	var (
		out     []string
		start   int
		inQuote bool
	)
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, strings.TrimSpace(v[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(v[start:]))
}

// VersionETag is the weak entity tag of a resource's version, W/"3": what
// meta.version and the ETag header carry.
func VersionETag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }
