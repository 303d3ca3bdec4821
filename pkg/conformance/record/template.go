package record

import (
	"maps"
	"net/url"
	"slices"
	"strings"
)

// headers are the request headers worth replaying.
func (b *builder) headers(i int, ex Exchange) map[string]string {
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(ex.RequestHeader)) {
		if slices.ContainsFunc(droppedHeaders, func(d string) bool { return strings.EqualFold(d, k) }) || secretHeaderName.MatchString(k) {
			continue
		}
		v := strings.Join(ex.RequestHeader[k], ", ")
		switch {
		case strings.EqualFold(k, "If-Match") || strings.EqualFold(k, "If-None-Match"):
			if name := b.versionUse[i][strings.TrimSpace(v)]; name != "" && !strings.HasPrefix(name, "\x00") {
				v = "{{" + name + "}}"
			} else {
				v = b.substitute(v)
			}
		case looksLikeToken(v):
			continue
		case strings.EqualFold(k, "Content-Type") && v == mediaTypeSCIM,
			strings.EqualFold(k, "Accept") && v == mediaTypeSCIM,
			strings.EqualFold(k, "User-Agent") && strings.HasPrefix(v, "Go-http-client/"):
			continue // what the replay sends anyway
		default:
			v = b.substitute(v)
		}
		out[k] = b.red.Redact(v)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// mediaTypeSCIM is the SCIM media type, which the replay sends by default.
const mediaTypeSCIM = "application/scim+json"

// queryPart is one key=value of a query, decoded.
type queryPart struct {
	key, value string
	hasValue   bool
}

func queryParts(p string) []queryPart {
	_, q, ok := strings.Cut(p, "?")
	if !ok || q == "" {
		return nil
	}
	var out []queryPart
	for _, part := range strings.Split(q, "&") {
		if part == "" {
			continue
		}
		k, v, hasValue := strings.Cut(part, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		}
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		out = append(out, queryPart{key: k, value: v, hasValue: hasValue})
	}
	return out
}

// pathTemplate is a recorded path with ids and values replaced by
// variables, written as it reads: spaces and quotes stay (the client
// encodes them), what would change the query's meaning is escaped.
func (b *builder) pathTemplate(p string) string {
	before, _, _ := strings.Cut(p, "?")
	segs := strings.Split(before, "/")
	for k, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			continue
		}
		if name, ok := b.ids[dec]; ok {
			segs[k] = "{{" + name + "}}"
		} else if name, ok := b.values[dec]; ok {
			segs[k] = "{{" + name + "|urlpath}}"
		}
	}
	out := b.red.Redact(strings.Join(segs, "/"))
	sep := "?"
	for _, q := range queryParts(p) {
		if secretHeaderName.MatchString(q.key) {
			continue // ?access_token=...: the replay authenticates its own way
		}
		out += sep + escapeQueryLiteral(b.red.Redact(q.key))
		if q.hasValue {
			v := b.red.Redact(q.value)
			if !slices.ContainsFunc(plainParams, func(p string) bool { return strings.EqualFold(p, q.key) }) {
				v = b.substitute(v)
			}
			out += "=" + escapeQueryLiteral(v)
		}
		sep = "&"
	}
	return out
}

// plainParams are query parameters whose values are never recorded
// values or ids: a count of 2 is not the user whose displayName is "2".
var plainParams = []string{"startIndex", "count", "sortBy", "sortOrder", "attributes", "excludedAttributes"}

// escapeQueryLiteral escapes what the client would not: the characters
// that change a query's meaning.
func escapeQueryLiteral(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "#", "%23").Replace(s)
}

// token is a recorded literal and the variable that replaces it.
type token struct {
	lit, name string
	id        bool
}

// tokens are the literals substitute replaces, longest first.
func (b *builder) tokens() []token {
	var ts []token
	for lit, name := range b.values {
		ts = append(ts, token{lit: lit, name: name})
	}
	for lit, name := range b.ids {
		ts = append(ts, token{lit: lit, name: name, id: true})
	}
	slices.SortFunc(ts, func(x, y token) int {
		if len(x.lit) != len(y.lit) {
			return len(y.lit) - len(x.lit)
		}
		return strings.Compare(x.lit, y.lit)
	})
	return ts
}

// minRawID is the shortest id replaced inside other text (URLs): shorter
// ones could be part of anything.
const minRawID = 8

// substitute replaces, in one string, the recorded keys by [REDACTED],
// the upstream base URL by {{baseURL}}, and the recorded values and
// captured ids by their variables: a whole string, a quoted one (a filter
// in a query or a PATCH path), and ids inside URLs.
func (b *builder) substitute(s string) string {
	s = b.red.Redact(s)
	ts := b.tokens()
	for _, t := range ts {
		if s == t.lit {
			return "{{" + t.name + "}}"
		}
	}
	if b.upstream != "" && strings.HasPrefix(s, b.upstream) {
		s = "{{baseURL}}" + s[len(b.upstream):]
	}
	for _, t := range ts {
		s = strings.ReplaceAll(s, `"`+t.lit+`"`, `"{{`+t.name+`}}"`)
		s = strings.ReplaceAll(s, `\"`+t.lit+`\"`, `\"{{`+t.name+`}}\"`)
		if t.id && len(t.lit) >= minRawID {
			s = strings.ReplaceAll(s, t.lit, "{{"+t.name+"}}")
		}
	}
	return s
}

// substituteBody applies substitute to every string of a decoded body.
func (b *builder) substituteBody(v any) any {
	switch x := v.(type) {
	case string:
		return b.substitute(x)
	case []any:
		out := make([]any, len(x))
		for k, e := range x {
			out[k] = b.substituteBody(e)
		}
		return out
	case jsonObject:
		out := make(jsonObject, len(x))
		for k, m := range x {
			out[k] = jsonMember{Key: b.red.Redact(m.Key), Value: b.substituteBody(m.Value)}
		}
		return out
	}
	return v
}
