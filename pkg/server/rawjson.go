package server

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	gojson "github.com/goccy/go-json"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// Lists written from the stored JSON. A page of 100 users spent most of
// its CPU decoding each stored resource into a map, adding id, meta,
// schemas and groups, and encoding the map again. Where no projection is
// asked, the SQLite store hands the resource over as it stored it
// (directory.User.RawResource: compact, keys sorted, as encoding/json
// writes a map), and appendRawUser splices the server's attributes into
// it at their sorted places: the bytes renderUser and writeSCIM would
// have written, without the round trip. A document it does not recognise
// as one the store wrote (a key with an escape, say) goes the long way.

// jsonMember is one member of a JSON object: its key (unquoted) and its
// value as written.
type jsonMember struct{ key, value string }

// objectMembers splits the JSON object s, compact as encoding/json writes
// it, into its members; false if s is not such an object or a key holds
// an escape.
func objectMembers(s string, members []jsonMember) ([]jsonMember, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	i := 1
	if s[i] == '}' {
		return members, i == len(s)-1
	}
	for {
		if s[i] != '"' {
			return nil, false
		}
		end := strings.IndexByte(s[i+1:], '"')
		if end < 0 {
			return nil, false
		}
		key := s[i+1 : i+1+end]
		if strings.IndexByte(key, '\\') >= 0 {
			return nil, false
		}
		i += end + 2
		if i >= len(s) || s[i] != ':' {
			return nil, false
		}
		i++
		n := skipValue(s[i:])
		if n <= 0 {
			return nil, false
		}
		members = append(members, jsonMember{key: key, value: s[i : i+n]})
		i += n
		switch {
		case i < len(s)-1 && s[i] == ',':
			i++
		case i == len(s)-1 && s[i] == '}':
			return members, true
		default:
			return nil, false
		}
	}
}

// skipValue returns the length of the compact JSON value s starts with,
// or 0 if it does not start with one.
func skipValue(s string) int {
	if s == "" {
		return 0
	}
	switch s[0] {
	case '"':
		return skipString(s)
	case '{', '[':
		depth := 0
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '"':
				n := skipString(s[i:])
				if n == 0 {
					return 0
				}
				i += n - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return 0
	default: // a number, true, false or null
		i := 0
		for i < len(s) && s[i] != ',' && s[i] != '}' && s[i] != ']' {
			i++
		}
		return i
	}
}

// skipString returns the length of the JSON string s starts with, quotes
// included, or 0 if it is not closed.
func skipString(s string) int {
	for j := 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return 0
}

// appendRawUser appends u, whose RawResource is set, as renderUser and
// writeSCIM would write it; false (b unchanged) if RawResource is not a
// document the store wrote.
func appendRawUser(b []byte, base string, u *directory.User, scratch []jsonMember) ([]byte, []jsonMember, bool) {
	members, ok := objectMembers(u.RawResource, scratch[:0])
	if !ok {
		return b, scratch, false
	}
	// The server's own attributes, as renderUser sets them, in key order.
	own := make([]jsonMember, 0, 5)
	if u.ExternalID != "" {
		own = append(own, jsonMember{key: "externalId", value: quote(u.ExternalID)})
	}
	if len(u.Groups) > 0 {
		var g strings.Builder
		g.WriteByte('[')
		for i, ref := range u.Groups {
			if i > 0 {
				g.WriteByte(',')
			}
			g.WriteString(`{"$ref":`)
			g.WriteString(quote(base + "/Groups/" + ref.ID))
			g.WriteString(`,"display":`)
			g.WriteString(quote(ref.DisplayName))
			g.WriteString(`,"type":"direct","value":`)
			g.WriteString(quote(ref.ID))
			g.WriteByte('}')
		}
		g.WriteByte(']')
		own = append(own, jsonMember{key: "groups", value: g.String()})
	}
	own = append(own, jsonMember{key: "id", value: quote(u.ID)})
	own = append(own, jsonMember{key: "meta", value: `{"created":` + quote(formatTime(u.Created)) +
		`,"lastModified":` + quote(formatTime(u.LastModified)) +
		`,"location":` + quote(base+"/Users/"+u.ID) +
		`,"resourceType":"User","version":` + quote(etag(u.Version)) + `}`})
	schemas := `["` + scim.UserURN + `"`
	var exts []string
	for _, m := range members {
		if strings.HasPrefix(m.key, "urn:") {
			exts = append(exts, m.key)
		}
	}
	slices.Sort(exts)
	for _, e := range exts {
		schemas += "," + quote(e)
	}
	own = append(own, jsonMember{key: "schemas", value: schemas + "]"})

	// Merge the two key-ordered lists; the server's attributes replace the
	// document's of the same name.
	b = append(b, '{')
	first := true
	put := func(m jsonMember) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, m.key...)
		b = append(b, `":`...)
		b = append(b, m.value...)
	}
	i, j := 0, 0
	for i < len(members) || j < len(own) {
		switch {
		case j == len(own) || (i < len(members) && members[i].key < own[j].key):
			put(members[i])
			i++
		case i < len(members) && members[i].key == own[j].key:
			i++ // replaced by own[j], next
		default:
			put(own[j])
			j++
		}
	}
	return append(b, '}'), members, true
}

// quote is s as a JSON string, escaped as encoding/json escapes it.
func quote(s string) string {
	simple := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			simple = false
			break
		}
	}
	if simple {
		return `"` + s + `"`
	}
	q, _ := gojson.Marshal(s)
	return string(q)
}

// writeUserList writes the list response of users, each from its
// RawResource where it has one (proj is nil then) and through renderUser
// otherwise.
func (s *Server) writeUserList(w http.ResponseWriter, r *http.Request, total, startIndex int, users []*directory.User, proj *scim.Projection) {
	if proj != nil || len(users) == 0 || users[0].RawResource == "" {
		res := make([]any, len(users))
		for i, u := range users {
			res[i] = proj.Apply(s.renderUser(r, u))
		}
		writeSCIM(w, http.StatusOK, newList(total, startIndex, res))
		return
	}
	base := s.scimBaseURL(r)
	b := make([]byte, 0, 1024+len(users)*(len(users[0].RawResource)+400))
	b = append(b, `{"schemas":["`+scim.ListResponseURN+`"],"totalResults":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"startIndex":`...)
	b = strconv.AppendInt(b, int64(startIndex), 10)
	b = append(b, `,"itemsPerPage":`...)
	b = strconv.AppendInt(b, int64(len(users)), 10)
	b = append(b, `,"Resources":[`...)
	var scratch []jsonMember
	for i, u := range users {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, scratch, ok = appendRawUser(b, base, u, scratch); !ok {
			d, err := rawDecoded(u)
			var enc []byte
			if err == nil {
				enc, err = gojson.Marshal(s.renderUser(r, d))
			}
			if err != nil {
				writeSCIM(w, http.StatusInternalServerError, &scim.Error{Status: http.StatusInternalServerError, Detail: "internal error"})
				return
			}
			b = append(b, enc...)
		}
	}
	writeSCIMBody(w, http.StatusOK, append(b, "]}\n"...))
}

// rawDecoded is u with its RawResource decoded into Resource.
func rawDecoded(u *directory.User) (*directory.User, error) {
	if u.Resource != nil || u.RawResource == "" {
		return u, nil
	}
	d := *u
	if err := gojson.Unmarshal([]byte(u.RawResource), &d.Resource); err != nil {
		return nil, err
	}
	return &d, nil
}
