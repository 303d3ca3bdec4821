package scim

import (
	"sort"
	"strings"

	"github.com/scim2/filter-parser/v2"
)

// MemberRef is one member named in a membership change.
type MemberRef struct {
	Value   string
	Display string
}

// MembershipDelta is a group PATCH restated as what it changes.
type MembershipDelta struct {
	DisplayName string      // "" when the name is not set
	Add         []MemberRef // in request order, each value once
	Remove      []string    // member values to remove before adding
}

// AsMembershipDelta restates a group PATCH as a MembershipDelta when it is
// made only of the shapes identity providers send for membership pushes
// and renames, so that it can be applied without reading the member list:
//
//	{"op":"add","path":"members","value":[{"value":…,"display":…}]}
//	{"op":"remove","path":"members[value eq \"…\"]"}
//	{"op":"remove","path":"members","value":[{"value":…}]}        (Entra)
//	{"op":"replace","value":{"id":…,"displayName":…}}              (Okta rename)
//	{"op":"replace","path":"displayName","value":…}
//
// Operations apply in order: a member removed and then added ends a
// member, one added and then removed does not. ok is false for anything
// else (replacing the whole member list, value filters of other shapes,
// other attributes), which the caller applies with ApplyPatch.
func AsMembershipDelta(ops []PatchOperation, opts Options) (d *MembershipDelta, ok bool) {
	if len(ops) == 0 {
		return nil, false
	}
	members := GroupSchema().Attr("members")
	d = &MembershipDelta{}
	added := map[string]int{} // value → index in d.Add, -1 once removed again
	removed := map[string]bool{}
	var addOrder []MemberRef
	add := func(m MemberRef) {
		if i, seen := added[m.Value]; seen && i >= 0 {
			addOrder[i] = m
			return
		}
		added[m.Value] = len(addOrder)
		addOrder = append(addOrder, m)
	}
	remove := func(v string) {
		if i, seen := added[v]; seen && i >= 0 {
			addOrder[i].Value = "" // dropped below
			added[v] = -1
		}
		removed[v] = true
	}
	for _, op := range ops {
		kind := strings.ToLower(op.Op)
		if !opts.Accepts().OpAnyCase && kind != op.Op {
			return nil, false
		}
		path := strings.TrimSpace(op.Path)
		switch {
		case kind == "add" && strings.EqualFold(path, "members"):
			refs, ok := memberRefs(members, op.Value, opts)
			if !ok || statesRef(op.Value) {
				// A $ref must match the member's own (members.$ref is
				// immutable), which takes the member list to check.
				return nil, false
			}
			for _, r := range refs {
				add(r)
			}
		case kind == "remove" && strings.EqualFold(path, "members") && op.Value != nil && opts.Accepts().RemoveWithValue:
			refs, ok := memberRefs(members, op.Value, opts)
			if !ok {
				return nil, false
			}
			for _, r := range refs {
				remove(r.Value)
			}
		case kind == "remove" && path != "":
			v, ok := memberValueFilter(path)
			if !ok {
				return nil, false
			}
			remove(v)
		case (kind == "replace" || kind == "add") && path == "":
			m, ok := op.Value.(map[string]any)
			if !ok {
				return nil, false
			}
			for k, v := range m {
				switch {
				case strings.EqualFold(k, "id"):
					// Okta sends the id back; it is read-only.
				case strings.EqualFold(k, "displayName"):
					name, ok := v.(string)
					if !ok || name == "" {
						return nil, false
					}
					d.DisplayName = name
				default:
					return nil, false
				}
			}
		case kind == "replace" && strings.EqualFold(path, "displayName"):
			name, ok := op.Value.(string)
			if !ok || name == "" {
				return nil, false
			}
			d.DisplayName = name
		default:
			return nil, false
		}
	}
	for _, r := range addOrder {
		if r.Value != "" {
			d.Add = append(d.Add, r)
		}
	}
	for v := range removed {
		d.Remove = append(d.Remove, v)
	}
	sort.Strings(d.Remove)
	return d, true
}

// memberRefs reads the value of a members operation: an array of (or one)
// member objects, each with a string value and, if any, type User.
func memberRefs(members *Attribute, value any, opts Options) ([]MemberRef, bool) {
	v, err := NormalizeValue(members, value, opts)
	if err != nil {
		return nil, false
	}
	list, _ := v.([]any)
	refs := make([]MemberRef, 0, len(list))
	for _, e := range list {
		m, _ := e.(map[string]any)
		value, _ := m["value"].(string)
		if value == "" {
			return nil, false
		}
		if t, _ := m["type"].(string); t != "" && !strings.EqualFold(t, "User") {
			return nil, false
		}
		display, _ := m["display"].(string)
		refs = append(refs, MemberRef{Value: value, Display: display})
	}
	return refs, true
}

// statesRef reports whether a members value holds a member with a $ref
// that is not null.
func statesRef(value any) bool {
	list, ok := value.([]any)
	if !ok {
		list = []any{value}
	}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			for k, v := range m {
				if strings.EqualFold(k, "$ref") && v != nil {
					return true
				}
			}
		}
	}
	return false
}

// memberValueFilter recognises members[value eq "…"] and returns the value.
// Okta's exact spelling is read directly (the general path parser costs
// thousands of allocations); other spellings go through the parser.
func memberValueFilter(path string) (string, bool) {
	const prefix, suffix = `members[value eq "`, `"]`
	if len(path) > len(prefix)+len(suffix) && strings.EqualFold(path[:len(prefix)], prefix) && strings.HasSuffix(path, suffix) {
		v := path[len(prefix) : len(path)-len(suffix)]
		if !strings.ContainsAny(v, `"\`) {
			return v, v != ""
		}
	}
	p, err := filter.ParsePath([]byte(path))
	if err != nil || p.SubAttribute != nil || p.AttributePath.SubAttribute != nil || p.AttributePath.URIPrefix != nil ||
		!strings.EqualFold(p.AttributePath.AttributeName, "members") {
		return "", false
	}
	e, ok := p.ValueExpression.(*filter.AttributeExpression)
	if !ok || e.Operator != filter.EQ || e.AttributePath.SubAttribute != nil || e.AttributePath.URIPrefix != nil ||
		!strings.EqualFold(e.AttributePath.AttributeName, "value") {
		return "", false
	}
	v, ok := e.CompareValue.(string)
	return v, ok && v != "" && !strings.Contains(v, `\`)
}
