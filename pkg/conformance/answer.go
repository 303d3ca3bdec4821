package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance/internal/jsontext"
)

var errNotJSON = errors.New("the body is not JSON")

// answer is one HTTP answer as Runscope assertions see it.
type answer struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
	doc     any   // the decoded JSON body
	jsonErr error // why the body did not decode
}

func newAnswer(resp *client.Response, elapsed time.Duration) *answer {
	a := &answer{status: resp.Status, header: resp.Header, body: resp.Body, elapsed: elapsed}
	a.doc, a.jsonErr = decodeJSON(resp.Body)
	return a
}

// decodeJSON decodes with json.Number, so that numbers keep their text
// ("0" stays "0", not "0e+00") and large ones their precision.
func decodeJSON(b []byte) (any, error) {
	v, err := jsontext.Decode(b)
	switch {
	case errors.Is(err, jsontext.ErrEmpty), errors.Is(err, jsontext.ErrTrailing):
		return nil, fmt.Errorf("%w: %w", errNotJSON, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %s", errNotJSON, quoteShort(string(b)))
	}
	return v, nil
}

// value returns what an assertion or variable of source and property looks
// at: ok is false when there is no such value, and problem, when not
// empty, says why in a way that beats "missing" (e.g. the body is not JSON).
func (a *answer) value(source, property string) (v any, ok bool, problem string) {
	switch source {
	case "response_status":
		return json.Number(strconv.Itoa(a.status)), true, ""
	case "response_time":
		return json.Number(strconv.FormatInt(a.elapsed.Milliseconds(), 10)), true, ""
	case "response_size":
		return json.Number(strconv.Itoa(len(a.body))), true, ""
	case "response_text":
		return string(a.body), true, ""
	case "response_headers":
		vals := a.header.Values(property)
		if len(vals) == 0 {
			return nil, false, "no " + property + " header"
		}
		return strings.Join(vals, ", "), true, ""
	case "response_json":
		if a.jsonErr != nil {
			return nil, false, fmt.Sprintf("an HTTP %d answer whose body is not JSON (%s)", a.status, shortBody(a.body))
		}
		v, ok := lookup(a.doc, property)
		if !ok {
			return nil, false, "no " + property + " in the body"
		}
		return v, true, ""
	default:
		return nil, false, fmt.Sprintf("source %q is not supported by this runner", source)
	}
}

// text is the string form Runscope compares: strings as they are, numbers
// and booleans as written, null as "null", arrays and objects as JSON.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	default:
		return jsontext.Marshal(x)
	}
}

// show is v as JSON, shortened for a message.
func show(v any) string { return shorten(jsontext.Marshal(v)) }

const maxShown = 200

func shorten(s string) string {
	if len(s) <= maxShown {
		return s
	}
	return s[:maxShown] + "…"
}

func quoteShort(s string) string { return strconv.Quote(shorten(s)) }

func shortBody(b []byte) string {
	if len(bytes.TrimSpace(b)) == 0 {
		return "empty"
	}
	return fmt.Sprintf("%d bytes: %s", len(b), quoteShort(string(b)))
}

// lookup follows a Runscope JSON path: names separated by dots, each
// optionally followed by [n] indexes ("Resources[0].emails[0].value"); a
// path may start with an index ("[0].id"), a bare number indexes an array
// ("Resources.0.id"), and "" is the whole document. A name that is not a
// key is retried joined with the names after it, so that schema URNs,
// which contain dots, work as names
// ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department").
func lookup(doc any, path string) (any, bool) {
	if path == "" {
		return doc, true
	}
	return walk(doc, strings.Split(path, "."))
}

func walk(v any, segs []string) (any, bool) {
	if len(segs) == 0 {
		return v, true
	}
	for n := 1; n <= len(segs); n++ {
		name, idx, ok := parseSegment(strings.Join(segs[:n], "."))
		if !ok {
			continue
		}
		cur := v
		if name != "" {
			switch x := cur.(type) {
			case map[string]any:
				next, has := x[name]
				if !has {
					continue
				}
				cur = next
			case []any:
				i, err := strconv.Atoi(name)
				if err != nil || i < 0 || i >= len(x) {
					return nil, false
				}
				cur = x[i]
			default:
				return nil, false
			}
		}
		found := true
		for _, i := range idx {
			arr, isArr := cur.([]any)
			if !isArr || i >= len(arr) {
				found = false
				break
			}
			cur = arr[i]
		}
		if !found {
			return nil, false
		}
		return walk(cur, segs[n:])
	}
	return nil, false
}

// parseSegment splits "emails[0][1]" into "emails" and [0 1].
func parseSegment(s string) (name string, idx []int, ok bool) {
	open := strings.IndexByte(s, '[')
	if open < 0 {
		return s, nil, true
	}
	name, rest := s[:open], s[open:]
	for rest != "" {
		end := strings.IndexByte(rest, ']')
		if rest[0] != '[' || end < 0 {
			return "", nil, false
		}
		i, err := strconv.Atoi(rest[1:end])
		if err != nil || i < 0 {
			return "", nil, false
		}
		idx = append(idx, i)
		rest = rest[end+1:]
	}
	return name, idx, true
}
