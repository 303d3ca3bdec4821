package scim

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
)

// Options are the per-provider dialect switches.
type Options struct {
	// Strict refuses what only Microsoft Entra ID sends; by default it is
	// accepted. Accepts lists what that is.
	Strict bool
}

// Normalize checks a resource body against rt and returns its canonical
// form: attribute names spelled as in the schema, values of the right type
// (booleans sent as "True"/"false" strings become booleans unless
// opts.Strict), multi-valued attributes as arrays, extension attributes under
// their schema URN, null and unknown attributes dropped (RFC 7644 §3.3
// allows ignoring what the server does not know) and readOnly attributes
// (id, meta, groups), schemas and password left out. The result is what the
// store keeps; required attributes are checked by the caller, which knows
// whether a PATCH is still on its way.
func Normalize(rt *ResourceType, in map[string]any, opts Options) (map[string]any, error) {
	out := make(map[string]any, len(in))
	if !opts.Accepts().UnknownSchemas {
		if err := checkSchemas(rt, in); err != nil {
			return nil, err
		}
	}
	for k, v := range in {
		if v == nil {
			continue
		}
		if ext := rt.Extension(k); ext != nil {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, Errorf(http.StatusBadRequest, TypeInvalidValue, "%s must be an object", ext.ID)
			}
			nm, err := normalizeAttrs(ext.Attributes, m, opts, ext.ID+":")
			if err != nil {
				return nil, err
			}
			if len(nm) > 0 {
				out[ext.ID] = nm
			}
			continue
		}
		if strings.EqualFold(k, "externalId") {
			id, ok := v.(string)
			if !ok {
				return nil, Errorf(http.StatusBadRequest, TypeInvalidValue, "externalId must be a string")
			}
			out["externalId"] = id
			continue
		}
		a := rt.Schema.Attr(k)
		if a == nil || a.Mutability == ReadOnly {
			continue // id, meta, schemas, password, groups, unknown attributes
		}
		nv, err := normalizeValue(a, v, opts, "")
		if err != nil {
			return nil, err
		}
		if nv != nil {
			out[a.Name] = nv
		}
	}
	return out, nil
}

func normalizeAttrs(attrs []*Attribute, in map[string]any, opts Options, prefix string) (map[string]any, error) {
	out := make(map[string]any, len(in))
	for k, v := range in {
		var a *Attribute
		for _, c := range attrs {
			if strings.EqualFold(c.Name, k) {
				a = c
				break
			}
		}
		if a == nil || v == nil || a.Mutability == ReadOnly {
			continue
		}
		nv, err := normalizeValue(a, v, opts, prefix)
		if err != nil {
			return nil, err
		}
		if nv != nil {
			out[a.Name] = nv
		}
	}
	return out, nil
}

// NormalizeValue converts v to the canonical form of attribute a.
func NormalizeValue(a *Attribute, v any, opts Options) (any, error) {
	return normalizeValue(a, v, opts, "")
}

func normalizeValue(a *Attribute, v any, opts Options, prefix string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if a.MultiValued {
		list, ok := v.([]any)
		if !ok {
			list = []any{v} // a single value where an array belongs: be liberal
		}
		out := make([]any, 0, len(list))
		single := *a
		single.MultiValued = false
		for _, e := range list {
			ne, err := normalizeValue(&single, e, opts, prefix)
			if err != nil {
				return nil, err
			}
			if ne != nil {
				out = append(out, ne)
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		if primaries(out) > 1 {
			return nil, Errorf(http.StatusBadRequest, TypeInvalidValue, "%s%s: at most one value may be primary (RFC 7643 §2.4)", prefix, a.Name)
		}
		return out, nil
	}
	switch a.Type {
	case TypeComplex:
		m, ok := v.(map[string]any)
		if s, isString := v.(string); isString && opts.Accepts().ValueShorthand && a.Sub("value") != nil {
			m, ok = map[string]any{"value": s}, true
		}
		if !ok {
			return nil, Errorf(http.StatusBadRequest, TypeInvalidValue, "%s%s must be an object", prefix, a.Name)
		}
		nm, err := normalizeAttrs(a.SubAttributes, m, opts, prefix+a.Name+".")
		if err != nil {
			return nil, err
		}
		if len(nm) == 0 {
			return nil, nil
		}
		return nm, nil
	case TypeBoolean:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if opts.Accepts().StringBooleans {
				switch strings.ToLower(b) {
				case "true":
					return true, nil
				case "false":
					return false, nil
				}
			}
		}
		return nil, Errorf(http.StatusBadRequest, TypeInvalidValue, "%s%s must be a boolean (true or false)", prefix, a.Name)
	case TypeInteger:
		switch n := v.(type) {
		case float64:
			if n == math.Trunc(n) {
				return n, nil
			}
		case json.Number:
			if i, err := n.Int64(); err == nil {
				return float64(i), nil
			}
		}
		return nil, Errorf(http.StatusBadRequest, TypeInvalidValue, "%s%s must be an integer", prefix, a.Name)
	case TypeDecimal:
		if n, ok := v.(float64); ok {
			return n, nil
		}
		return nil, Errorf(http.StatusBadRequest, TypeInvalidValue, "%s%s must be a number", prefix, a.Name)
	default: // string, reference, dateTime, binary
		s, ok := v.(string)
		if !ok {
			return nil, Errorf(http.StatusBadRequest, TypeInvalidValue, "%s%s must be a string", prefix, a.Name)
		}
		for _, c := range a.CanonicalValues {
			if strings.EqualFold(c, s) {
				return c, nil // "Work" is the canonical "work"
			}
		}
		return s, nil
	}
}

// DeepCopy returns a copy of a JSON-shaped value that shares nothing with v.
func DeepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = DeepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = DeepCopy(e)
		}
		return l
	default:
		return v
	}
}

// CopyMap deep-copies a resource document.
func CopyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return DeepCopy(m).(map[string]any)
}

// checkSchemas holds a strict provider to RFC 7643 §3: schemas names the
// resource's core schema and only extensions the server knows (Entra sends
// a Microsoft Group schema URI there, which the lenient dialect ignores).
func checkSchemas(rt *ResourceType, in map[string]any) error {
	raw, ok := in["schemas"]
	if !ok {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		return Errorf(http.StatusBadRequest, TypeInvalidValue, "schemas must be an array of schema URIs")
	}
	for _, e := range list {
		urn, _ := e.(string)
		if strings.EqualFold(urn, rt.Schema.ID) || rt.Extension(urn) != nil {
			continue
		}
		return Errorf(http.StatusBadRequest, TypeInvalidValue, "schemas names %q, which is neither %s nor one of its extensions", urn, rt.Schema.ID)
	}
	return nil
}

// primaries counts the elements of a multi-valued attribute marked primary.
func primaries(list []any) int {
	n := 0
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["primary"] == true {
			n++
		}
	}
	return n
}
