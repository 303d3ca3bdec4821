package scim

import (
	"net/http"
	"strings"
	"unicode/utf8"
)

// The content policy, the same whatever store keeps the resource: before
// it, PostgreSQL refused a userName over ~2.7 kB (its index row limit)
// with a 500 where SQLite took a megabyte, and took a NUL that SQLite
// kept. Both now get the resource only once it passes CheckContent.
const (
	// MaxIdentifierBytes bounds the strings the stores index or look
	// resources up by: userName, externalId, displayName, the values of
	// emails and of members.
	MaxIdentifierBytes = 1 << 10
	// MaxStringBytes bounds any other string value (a photo URL, a
	// certificate).
	MaxStringBytes = 64 << 10
)

// identifierPaths are the attributes MaxIdentifierBytes applies to, by
// lower-cased path (sub-attributes of multi-valued attributes as
// "emails.value").
var identifierPaths = map[string]bool{
	"username": true, "externalid": true, "displayname": true,
	"emails.value": true, "members.value": true, "id": true,
}

// CheckContent refuses, with 400 invalidValue naming the attribute, a
// document holding a string with a NUL character or invalid UTF-8, an
// identifier longer than MaxIdentifierBytes, or any string longer than
// MaxStringBytes.
func CheckContent(doc map[string]any) error {
	for k, v := range doc {
		if err := checkValue(k, strings.ToLower(k), v); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(name, path string, v any) error {
	switch v := v.(type) {
	case string:
		return CheckString(name, v, identifierPaths[path])
	case map[string]any:
		// An extension's attributes are paths of their own.
		prefix := path + "."
		if strings.HasPrefix(path, "urn:") {
			prefix = ""
		}
		for k, sub := range v {
			if err := checkValue(name+"."+k, prefix+strings.ToLower(k), sub); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range v {
			if err := checkValue(name, path, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckString applies the content policy to one string value of the
// attribute name (an identifier or not).
func CheckString(name, s string, identifier bool) error {
	limit := MaxStringBytes
	if identifier {
		limit = MaxIdentifierBytes
	}
	switch {
	case len(s) > limit:
		return Errorf(http.StatusBadRequest, TypeInvalidValue, "%s is %d bytes long: at most %d are accepted", name, len(s), limit)
	case strings.IndexByte(s, 0) >= 0:
		return Errorf(http.StatusBadRequest, TypeInvalidValue, "%s holds a NUL character (\\u0000), which kacescim does not store", name)
	case !utf8.ValidString(s):
		return Errorf(http.StatusBadRequest, TypeInvalidValue, "%s is not valid UTF-8", name)
	}
	return nil
}

// CheckBody refuses a request body that is not UTF-8 (RFC 8259 §8.1: JSON
// text exchanged between systems is UTF-8), with 400 invalidSyntax,
// instead of letting a JSON decoder replace the bad bytes with U+FFFD.
func CheckBody(b []byte) error {
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return Errorf(http.StatusBadRequest, TypeInvalidSyntax, "the request body is not valid UTF-8 (at byte %d): JSON must be sent as UTF-8", i)
	}
	return nil
}
