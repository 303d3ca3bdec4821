package record

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/conformance/internal/jsontext"
)

// SCIM message schemas.
const (
	schemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaError        = "urn:ietf:params:scim:api:messages:2.0:Error"
)

func jsonPathOf(s string) *string { return &s }

func assertValue(v any) json.RawMessage { return json.RawMessage(jsontext.Marshal(v)) }

// assertions are the stable expectations of a recorded JSON answer.
func (b *builder) assertions(ex Exchange, doc any) []conformance.Assertion {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	var out []conformance.Assertion
	add := func(path, op string, value any) {
		a := conformance.Assertion{JSON: jsonPathOf(path), Op: op}
		if value != nil {
			a.Value = assertValue(value)
		}
		out = append(out, a)
	}
	schemas, _ := m["schemas"].([]any)
	hasSchema := func(s string) bool {
		return slices.ContainsFunc(schemas, func(x any) bool { v, _ := x.(string); return strings.EqualFold(v, s) })
	}
	varOf := func(v any) (string, bool) {
		s, ok := v.(string)
		if !ok {
			return "", false
		}
		if name, ok := b.ids[s]; ok {
			return "{{" + name + "}}", true
		}
		if name, ok := b.values[s]; ok {
			return "{{" + name + "}}", true
		}
		return "", false
	}
	switch {
	case hasSchema(schemaError):
		add("schemas", "has_value", schemaError)
		if st, ok := m["scimType"].(string); ok && st != "" {
			add("scimType", "equal", st)
		}
	case hasSchema(schemaListResponse) || (m["Resources"] != nil && m["totalResults"] != nil):
		if hasSchema(schemaListResponse) {
			add("schemas", "has_value", schemaListResponse)
		}
		filtered := false
		for _, q := range queryParts(ex.Path) {
			if strings.EqualFold(q.key, "filter") && strings.Contains(b.substitute(q.value), "{{") {
				filtered = true
			}
		}
		total, isNum := m["totalResults"].(json.Number)
		switch {
		case filtered && isNum:
			add("totalResults", "equal_number", total)
			res, _ := m["Resources"].([]any)
			for _, r := range res {
				rm, _ := r.(map[string]any)
				if v, ok := varOf(rm["id"]); ok {
					add("Resources[*].id", "has_element", v)
				}
			}
		case isNum:
			add("totalResults", "is_a_number", nil)
		}
		if _, ok := m["Resources"].([]any); ok {
			add("Resources", "type", "array")
		}
	default:
		if len(schemas) > 0 {
			if s, ok := schemas[0].(string); ok {
				add("schemas", "has_value", s)
			}
		}
		if id, ok := m["id"].(string); ok && id != "" {
			if v, ok := varOf(id); ok && b.ids[id] != "" {
				add("id", "equal", v)
			} else {
				add("id", "not_empty", nil)
			}
		}
		for _, attr := range []string{"userName", "displayName", "externalId"} {
			if v, ok := varOf(m[attr]); ok {
				add(attr, "equal", v)
			}
		}
		if active, ok := m["active"].(bool); ok {
			add("active", "equal", active)
		}
	}
	return out
}

// captures are the variables step i saves: the id of what a POST created,
// ids later requests use, and versions later requests send. Ids captured
// are replaced by their variable from the next step on.
func (b *builder) captures(i int, ex Exchange, doc any) map[string]string {
	out := map[string]string{}
	m, _ := doc.(map[string]any)
	kind := resourceKind(ex.Path, m)
	idVar := func(id, from, kind string) {
		if id == "" || b.ids[id] != "" {
			return
		}
		b.counters[kind+"Id"]++
		name := fmt.Sprintf("%s%dId", kind, b.counters[kind+"Id"])
		out[name] = from
		b.ids[id] = name
	}
	if m != nil {
		if id, ok := m["id"].(string); ok {
			created := strings.EqualFold(ex.Method, http.MethodPost) && ex.Status >= 200 && ex.Status < 300
			if created || b.usedLater(i, id) {
				idVar(id, "id", kind)
			}
		}
		if res, ok := m["Resources"].([]any); ok {
			for k, r := range res {
				rm, _ := r.(map[string]any)
				if id, ok := rm["id"].(string); ok && b.usedLater(i, id) {
					idVar(id, fmt.Sprintf("Resources[%d].id", k), resourceKind(ex.Path, rm))
				}
			}
		}
	}
	// Versions later requests send, named after the resource's id.
	for j := i + 1; j < len(b.exs); j++ {
		for v, mark := range b.versionUse[j] {
			prefix := fmt.Sprintf("\x00%d\x00", i)
			from, ok := strings.CutPrefix(mark, prefix)
			if !ok {
				continue
			}
			name := ""
			for n, f := range out {
				if f == from {
					name = n
				}
			}
			if name == "" {
				stem := kind
				if id, ok := m["id"].(string); ok && b.ids[id] != "" && from == "meta.version" {
					stem = strings.TrimSuffix(b.ids[id], "Id")
				}
				b.counters[stem+"Version"]++
				name = fmt.Sprintf("%sVersion%d", stem, b.counters[stem+"Version"])
				out[name] = from
			}
			b.versionUse[j][v] = name
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// resourceKind names a resource for its variables: "user", "group", or
// the lower-cased singular of the endpoint.
func resourceKind(p string, m map[string]any) string {
	if meta, ok := m["meta"].(map[string]any); ok {
		if rt, ok := meta["resourceType"].(string); ok && rt != "" {
			return lowerFirst(identifier(rt))
		}
	}
	if schemas, ok := m["schemas"].([]any); ok {
		for _, s := range schemas {
			switch str, _ := s.(string); {
			case strings.HasSuffix(str, ":core:2.0:User"):
				return "user"
			case strings.HasSuffix(str, ":core:2.0:Group"):
				return "group"
			}
		}
	}
	segs := strings.Split(strings.Trim(pathOnly(p), "/"), "/")
	if len(segs) > 0 && segs[0] != "" {
		return lowerFirst(strings.TrimSuffix(identifier(segs[0]), "s"))
	}
	return "resource"
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9]+`)

func identifier(s string) string {
	s = nonIdent.ReplaceAllString(s, "")
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return "resource"
	}
	return s
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
