package conformance

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance/internal/jsontext"
)

// prepared is a step with its variables substituted.
type prepared struct {
	method, target string
	body           []byte
	header         http.Header
	expected       []any // each assertion's value, substituted and decoded
	client         *client.SCIM
}

// prepare substitutes a step's variables; missing lists those not set.
func (sr *scenarioRun) prepare(st Step) (*prepared, []string) {
	sub := &substituter{vars: sr.vars}
	p := &prepared{method: strings.ToUpper(st.Method), header: http.Header{}}
	p.target = substitutePath(sub, st.Path)
	switch st.Auth {
	case "", AuthBearer:
		p.header.Set("Authorization", "Bearer "+sr.opts.Token)
	case AuthBare:
		p.header.Set("Authorization", sr.opts.Token)
	case AuthInvalid:
		p.header.Set("Authorization", "Bearer "+invalidToken)
	case AuthNone:
		p.header["Authorization"] = nil
	}
	switch {
	case st.RawBody != nil:
		p.body = []byte(sub.replace(*st.RawBody))
	case len(st.Body) > 0:
		p.body = []byte(jsontext.Marshal(sr.substituteJSON(sub, decodeLoose(st.Body))))
	}
	if p.body != nil {
		p.header.Set("Content-Type", "application/scim+json")
	}
	for k, v := range st.Headers {
		p.header.Set(k, sub.replace(v))
	}
	for _, a := range st.Expect.Assert {
		var v any
		if len(a.Value) > 0 {
			v = sr.substituteJSON(sub, decodeLoose(a.Value))
		}
		p.expected = append(p.expected, v)
	}
	p.client = sr.client(p.header)
	return p, sub.missing
}

// substitutePath replaces variables in a path, query-escaping those in
// the query.
func substitutePath(sub *substituter, p string) string {
	before, query, hasQuery := strings.Cut(p, "?")
	out := sub.replace(before)
	if hasQuery {
		out += "?" + sub.replaceFiltered(query, queryEscape)
	}
	return out
}

// queryEscape escapes what would change a query's meaning: the rest
// (spaces, quotes) the client encodes as it sends.
func queryEscape(s string) string { return queryEscaper.Replace(s) }

var queryEscaper = strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "#", "%23", "=", "%3D")

// substituteJSON replaces variables in every string (and key) of v.
func (sr *scenarioRun) substituteJSON(sub *substituter, v any) any {
	switch x := v.(type) {
	case string:
		if m := varPattern.FindStringSubmatch(x); m != nil && m[0] == x {
			name, filter, _ := strings.Cut(strings.TrimSpace(m[1]), "|")
			if strings.TrimSpace(filter) == "json" {
				name = strings.TrimSpace(name)
				if raw, ok := sr.jsonVars[name]; ok {
					return decodeLoose([]byte(raw))
				}
				if s, ok := sr.vars[name]; ok {
					return s
				}
				sub.miss(name)
				return x
			}
		}
		return sub.replaceFiltered(x, nil)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = sr.substituteJSON(sub, e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[sub.replaceFiltered(k, nil)] = sr.substituteJSON(sub, e)
		}
		return out
	}
	return v
}

// decodeLoose decodes JSON with json.Number; invalid JSON (validated on
// load) decodes to nil.
func decodeLoose(b []byte) any {
	v, err := decodeJSON(b)
	if err != nil {
		return nil
	}
	return v
}

// transcript is the exchange of a step, for --verbose, the key redacted.
func (sr *scenarioRun) transcript(p *prepared, resp *client.Response) *Transcript {
	t := &Transcript{
		Request:  fmt.Sprintf("%s %s", p.method, p.client.URL(p.target)),
		Status:   resp.Status,
		Response: string(resp.Body),
	}
	for _, k := range slices.Sorted(maps.Keys(p.header)) {
		for _, v := range p.header[k] {
			t.RequestHeaders = append(t.RequestHeaders, k+": "+v)
		}
	}
	if p.body != nil {
		t.RequestBody = string(p.body)
	}
	for _, k := range slices.Sorted(maps.Keys(resp.Header)) {
		for _, v := range resp.Header[k] {
			t.ResponseHeaders = append(t.ResponseHeaders, k+": "+v)
		}
	}
	t.redact(&sr.red)
	return t
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
