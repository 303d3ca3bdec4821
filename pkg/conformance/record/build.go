package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/conformance/internal/jsontext"
)

// Info says where a recording comes from, for BuildScenario.
type Info struct {
	// Suite is the scenario's suite (default "recorded").
	Suite string
	// Name names the scenario (default: "Recorded <time>").
	Name string
	// Upstream is the SCIM base URL the traffic went to; strings that
	// start with it are written relative to {{baseURL}}.
	Upstream string
	// FirstStep is the number of the first check (default 1).
	FirstStep int
}

// PasswordPlaceholder replaces recorded passwords: unique per run, and of
// every character class a password policy may ask for.
const PasswordPlaceholder = "Rec-{{rand}}-pw1!"

// Prefix of the values a recording turns into variables: the replay's
// userName is "rec-<random>-" + the recorded one.
const recordedValuePrefix = "rec-{{rand}}-"

// BuildScenario turns recorded exchanges into a scenario that replays them
// against any server, the one they were recorded from included:
//
//   - Secrets are left out. No Authorization header is written: steps use
//     the replaying run's key ("bare" when the identity provider sent the
//     key without "Bearer"), a recorded 401 becomes auth "invalid" (or
//     "none" when no key was sent). Headers that carry credentials or
//     token-like values are dropped, the recorded keys are redacted
//     wherever they show up, and passwords become PasswordPlaceholder.
//   - The values the identity provider chose (userName, displayName,
//     externalId, emails in request bodies and in "eq" filters) become
//     variables "rec-{{rand}}-<value>", substituted wherever the value is
//     a whole string or quoted in one (filters, PATCH paths), so that the
//     replay creates fresh resources instead of colliding with the
//     recorded ones.
//   - Ids the server answered with are captured (user1Id, group1Id, ...)
//     when the request created the resource or a later request uses them,
//     and replaced by the variable after that; so are versions (ETags)
//     that a later request sends in If-Match or If-None-Match.
//   - Each step expects the recorded status and, for JSON answers, a few
//     stable values: schemas, id, userName/displayName/externalId when
//     they are variables, active, totalResults of lists filtered on a
//     variable. Never timestamps, locations or other server-made values.
//   - Resources created by a POST that the recording did not delete get a
//     DELETE cleanup step.
//
// Exchanges with truncated bodies are left out and listed in the
// description.
func BuildScenario(exchanges []Exchange, info Info) (*conformance.Scenario, error) {
	if len(exchanges) == 0 {
		return nil, errors.New("nothing recorded")
	}
	if info.Suite == "" {
		info.Suite = DefaultName
	}
	if info.FirstStep <= 0 {
		info.FirstStep = 1
	}
	b := newBuilder(exchanges, info)
	return b.build()
}

// builder is the state of one BuildScenario.
type builder struct {
	info     Info
	exs      []Exchange // the replayable ones
	left     []string   // what was left out, for the description
	upstream string     // base URL without a trailing slash
	host     string
	red      *conformance.Redactor

	// values maps a recorded value to its variable; valueOrder keeps the
	// order they were found in.
	values     map[string]string
	valueOrder []string
	vars       map[string]string
	counters   map[string]int

	// ids maps a captured id to its variable, from the step after the
	// capture on.
	ids map[string]string
	// versionUse[j][etag] is the variable request j sends as etag.
	versionUse map[int]map[string]string
	// texts[j] is request j as text, to find what later requests use.
	texts []string
}

func newBuilder(exchanges []Exchange, info Info) *builder {
	b := &builder{
		info:       info,
		upstream:   strings.TrimRight(info.Upstream, "/"),
		values:     map[string]string{},
		vars:       map[string]string{},
		counters:   map[string]int{},
		ids:        map[string]string{},
		versionUse: map[int]map[string]string{},
	}
	if u, err := url.Parse(info.Upstream); err == nil {
		b.host = u.Host
		u.User = nil
		b.upstream = strings.TrimRight(u.String(), "/")
	}
	var auths []string
	for _, ex := range exchanges {
		auths = append(auths, ex.RequestHeader.Values("Authorization")...)
		auths = append(auths, ex.RequestHeader.Values("Proxy-Authorization")...)
		if ex.Truncated {
			b.left = append(b.left, fmt.Sprintf("%s %s (a body over the size kept)", ex.Method, pathOnly(ex.Path)))
			continue
		}
		b.exs = append(b.exs, ex)
	}
	b.red = conformance.NewRedactor(auths...)
	for _, ex := range b.exs {
		b.texts = append(b.texts, requestText(ex))
	}
	return b
}

func pathOnly(p string) string {
	before, _, _ := strings.Cut(p, "?")
	return before
}

// requestText is everything of a request a later value could show up in.
func requestText(ex Exchange) string {
	var sb strings.Builder
	sb.WriteString(ex.Path)
	sb.WriteByte('\n')
	if u, err := url.PathUnescape(pathOnly(ex.Path)); err == nil {
		sb.WriteString(u)
	}
	sb.WriteByte('\n')
	if _, q, ok := strings.Cut(ex.Path, "?"); ok {
		if u, err := url.QueryUnescape(q); err == nil {
			sb.WriteString(u)
		}
	}
	sb.WriteByte('\n')
	sb.Write(ex.RequestBody)
	for _, k := range slices.Sorted(maps.Keys(ex.RequestHeader)) {
		if strings.EqualFold(k, "Authorization") {
			continue
		}
		for _, v := range ex.RequestHeader[k] {
			sb.WriteString("\n" + v)
		}
	}
	return sb.String()
}

func (b *builder) build() (*conformance.Scenario, error) {
	if len(b.exs) == 0 {
		return nil, errors.New("nothing replayable recorded: " + strings.Join(b.left, "; "))
	}
	b.findValues()
	b.findVersions()
	start := b.exs[0].Time.UTC()
	s := &conformance.Scenario{
		Suite:  b.info.Suite,
		Name:   b.info.Name,
		Source: fmt.Sprintf("recorded %s from %s", start.Format(time.RFC3339), b.host),
		Vars:   b.vars,
	}
	if s.Name == "" {
		s.Name = "Recorded " + start.Format(time.RFC3339)
	}
	s.Description = fmt.Sprintf("%d requests recorded by kacescim record from %s.", len(b.exs), b.host)
	if len(b.left) > 0 {
		s.Description += " Left out: " + strings.Join(b.left, "; ") + "."
	}
	if len(s.Vars) == 0 {
		s.Vars = nil
	}
	type created struct{ collection, id, path string }
	var made []created
	deleted := map[string]bool{}
	for i, ex := range b.exs {
		st := b.step(i, ex, b.info.FirstStep+i)
		s.Steps = append(s.Steps, st)
		if strings.EqualFold(ex.Method, http.MethodPost) && ex.Status >= 200 && ex.Status < 300 {
			if v := st.Capture; v != nil {
				for name, from := range v {
					if from == "id" {
						coll := strings.TrimRight(pathOnly(st.Path), "/")
						made = append(made, created{collection: coll, id: name, path: coll + "/{{" + name + "}}"})
					}
				}
			}
		}
		if strings.EqualFold(ex.Method, http.MethodDelete) && (ex.Status < 300 || ex.Status == http.StatusNotFound) {
			deleted[st.Path] = true
		}
	}
	for i := len(made) - 1; i >= 0; i-- {
		if !deleted[made[i].path] {
			s.Cleanup = append(s.Cleanup, conformance.Step{Method: http.MethodDelete, Path: made[i].path})
		}
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("the recording makes an invalid scenario: %w", err)
	}
	return s, nil
}

// valueAttrs are the attributes whose recorded values become variables,
// with the stem of the variable's name.
var valueAttrs = map[string]string{
	"username":    "userName",
	"displayname": "displayName",
	"externalid":  "externalId",
}

// filterValue finds `attr eq "value"` in a filter.
var filterValue = regexp.MustCompile(`(?i)\b(userName|displayName|externalId|emails(?:\.value)?|emails\[[^\]]*\]\.value)\s+eq\s+"((?:[^"\\]|\\.)*)"`)

// findValues gives each value the identity provider chose a variable:
// those of request bodies first (they are the values as created), then
// those of filters.
func (b *builder) findValues() {
	for _, ex := range b.exs {
		if v, err := jsontext.Decode(ex.RequestBody); err == nil {
			b.valuesIn(v, "")
		}
	}
	for _, ex := range b.exs {
		for _, q := range queryParts(ex.Path) {
			if !strings.EqualFold(q.key, "filter") {
				continue
			}
			for _, m := range filterValue.FindAllStringSubmatch(q.value, -1) {
				lit := m[2]
				if u, err := strconv.Unquote(`"` + lit + `"`); err == nil {
					lit = u
				}
				attr := strings.ToLower(m[1])
				if strings.HasPrefix(attr, "emails") {
					b.addValue("email", lit)
				} else {
					b.addValue(valueAttrs[attr], lit)
				}
			}
		}
	}
}

// valuesIn collects the values of v; attr is the attribute v is the value
// of (a PATCH operation's path, or the key it is under).
func (b *builder) valuesIn(v any, attr string) {
	la := strings.ToLower(attr)
	if i := strings.LastIndex(la, ":"); i >= 0 { // URN-qualified
		la = la[i+1:]
	}
	switch x := v.(type) {
	case string:
		if stem, ok := valueAttrs[la]; ok {
			b.addValue(stem, x)
		} else if la == "emails" || la == "emails.value" || (strings.HasPrefix(la, "emails[") && strings.HasSuffix(la, "].value")) {
			b.addValue("email", x)
		}
	case []any:
		for _, e := range x {
			if la == "emails" {
				if m, ok := e.(map[string]any); ok {
					if s, ok := m["value"].(string); ok {
						b.addValue("email", s)
					}
					continue
				}
			}
			b.valuesIn(e, attr)
		}
	case map[string]any:
		// A PATCH operation: its value is that of its path.
		if p, ok := x["path"].(string); ok {
			if val, ok := x["value"]; ok {
				b.valuesIn(val, p)
			}
		}
		for _, k := range sortedMapKeys(x) {
			if k == "path" || (k == "value" && x["path"] != nil) {
				continue
			}
			b.valuesIn(x[k], k)
		}
	}
}

// sortedMapKeys orders an object's keys so that variable numbers are
// stable, with emails last: a userName that is also the email address
// names its variable userName.
func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ei, ej := strings.EqualFold(keys[i], "emails"), strings.EqualFold(keys[j], "emails")
		if ei != ej {
			return ej
		}
		return keys[i] < keys[j]
	})
	return keys
}

func (b *builder) addValue(stem, lit string) {
	if stem == "" || strings.TrimSpace(lit) == "" || strings.Contains(lit, "{{") {
		return
	}
	if _, ok := b.values[lit]; ok {
		return
	}
	b.counters[stem]++
	name := fmt.Sprintf("%s%d", stem, b.counters[stem])
	b.values[lit] = name
	b.valueOrder = append(b.valueOrder, lit)
	b.vars[name] = recordedValuePrefix + b.red.Redact(lit)
}

// findVersions finds, for each If-Match or If-None-Match value a request
// sends, the latest earlier answer that carried it; those answers capture
// it (see step).
func (b *builder) findVersions() {
	for j, ex := range b.exs {
		for _, h := range []string{"If-Match", "If-None-Match"} {
			for _, v := range ex.RequestHeader.Values(h) {
				v = strings.TrimSpace(v)
				if v == "" || v == "*" {
					continue
				}
				for i := j - 1; i >= 0; i-- {
					if from := versionSource(b.exs[i], v); from != "" {
						if b.versionUse[j] == nil {
							b.versionUse[j] = map[string]string{}
						}
						// Filled in with the variable's name when step i
						// is built; until then, where to capture it from.
						b.versionUse[j][v] = fmt.Sprintf("\x00%d\x00%s", i, from)
						break
					}
				}
			}
		}
	}
}

// versionSource says where in ex's answer the version v is: a JSON path
// or "header:ETag"; "" when it is not there.
func versionSource(ex Exchange, v string) string {
	if doc, err := jsontext.Decode(ex.ResponseBody); err == nil {
		if got, ok := metaVersion(doc); ok && got == v {
			return "meta.version"
		}
		if m, ok := doc.(map[string]any); ok {
			if arr, ok := m["Resources"].([]any); ok {
				for k, r := range arr {
					if got, ok := metaVersion(r); ok && got == v {
						return fmt.Sprintf("Resources[%d].meta.version", k)
					}
				}
			}
		}
	}
	if ex.ResponseHeader.Get("ETag") == v {
		return "header:ETag"
	}
	return ""
}

// metaVersion is the meta.version of a decoded resource, found as the
// scenario runner's JSON paths find it: with no "meta" key, a key named
// "meta.version" is the value.
func metaVersion(v any) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	meta, ok := m["meta"]
	if !ok {
		got, ok := m["meta.version"]
		return got, ok
	}
	mm, ok := meta.(map[string]any)
	if !ok {
		return nil, false
	}
	got, ok := mm["version"]
	return got, ok
}

// usedLater reports whether s shows up in a request after the i-th.
func (b *builder) usedLater(i int, s string) bool {
	for _, t := range b.texts[i+1:] {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

// step makes the i-th exchange a step numbered n.
func (b *builder) step(i int, ex Exchange, n int) conformance.Step {
	st := conformance.Step{Method: strings.ToUpper(ex.Method), Severity: conformance.SeverityMust}
	st.Path = b.pathTemplate(ex.Path)
	st.Name = fmt.Sprintf("%d. %s %s", n, st.Method, shortName(st.Path))
	st.Auth = authMode(ex)
	st.Headers = b.headers(i, ex)
	if len(bytes.TrimSpace(ex.RequestBody)) > 0 {
		if v, err := decodeOrdered(ex.RequestBody); err == nil {
			body := b.substituteBody(redactPasswords(v, ""))
			st.Body = json.RawMessage(jsontext.Marshal(body))
		} else {
			raw := b.substitute(redactRawPasswords(string(ex.RequestBody)))
			st.RawBody = &raw
		}
	}
	st.Expect.Status = conformance.Statuses{ex.Status}
	doc, err := jsontext.Decode(ex.ResponseBody)
	if err == nil {
		st.Expect.Assert = b.assertions(ex, doc)
		st.Capture = b.captures(i, ex, doc)
	} else if ex.ResponseHeader.Get("ETag") != "" {
		st.Capture = b.captures(i, ex, nil)
	}
	return st
}

func shortName(p string) string {
	const max = 100
	if r := []rune(p); len(r) > max {
		return string(r[:max]) + "…"
	}
	return p
}

// authMode is how the replay authenticates a recorded request.
func authMode(ex Exchange) string {
	h := strings.TrimSpace(ex.RequestHeader.Get("Authorization"))
	switch {
	case h == "":
		return conformance.AuthNone
	case ex.Status == http.StatusUnauthorized:
		return conformance.AuthInvalid
	case !strings.Contains(h, " "):
		return conformance.AuthBare
	}
	return "" // bearer, the default; another scheme is replayed as bearer too
}
