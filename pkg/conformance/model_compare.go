package conformance

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kacescim/kacescim/pkg/conformance/internal/jsontext"
	"github.com/kacescim/kacescim/pkg/scim"
)

// attrPath names one attribute the model compares: a top-level attribute
// (a multi-valued one as a whole) or a sub-attribute of a singular
// complex one, in the core schema (urn "") or an extension.
type attrPath struct {
	urn, name, sub string
}

func (p attrPath) String() string {
	s := p.name
	if p.urn != "" {
		s = p.urn + ":" + s
	}
	if p.sub != "" {
		s += "." + p.sub
	}
	return s
}

// nothing is the value of an attribute a resource does not have.
type nothing struct{}

// attr is the schema of the attribute p names; nil for externalId (a
// common attribute, caseExact) and attributes the schema lacks.
func (r *modelResource) attr(p attrPath) *scim.Attribute {
	s := r.rt.Schema
	if p.urn != "" {
		s = r.rt.Extension(p.urn)
	}
	if s == nil {
		return nil
	}
	a := s.Attr(p.name)
	if a != nil && p.sub != "" {
		a = a.Sub(p.sub)
	}
	return a
}

// paths lists the attributes doc (canonical) holds.
func (r *modelResource) paths(doc map[string]any) []attrPath {
	var out []attrPath
	add := func(urn, name string, v any) {
		if m, ok := v.(map[string]any); ok {
			if a := r.attr(attrPath{urn: urn, name: name}); a != nil && !a.MultiValued {
				for sub := range m {
					out = append(out, attrPath{urn, name, sub})
				}
				return
			}
		}
		out = append(out, attrPath{urn: urn, name: name})
	}
	for k, v := range doc {
		if ext := r.rt.Extension(k); ext != nil {
			m, _ := v.(map[string]any)
			for name, ev := range m {
				add(ext.ID, name, ev)
			}
			continue
		}
		add("", k, v)
	}
	return out
}

// get is the value at p in doc, or nothing.
func (r *modelResource) get(doc map[string]any, p attrPath) any {
	c := doc
	if p.urn != "" {
		m, ok := doc[p.urn].(map[string]any)
		if !ok {
			return nothing{}
		}
		c = m
	}
	v, ok := c[p.name]
	if !ok || v == nil {
		return nothing{}
	}
	if p.sub == "" {
		return v
	}
	m, _ := v.(map[string]any)
	sv, ok := m[p.sub]
	if !ok || sv == nil {
		return nothing{}
	}
	return sv
}

// set puts v (nothing removes) at p in doc.
func (r *modelResource) set(doc map[string]any, p attrPath, v any) {
	_, remove := v.(nothing)
	c := doc
	if p.urn != "" {
		m, ok := doc[p.urn].(map[string]any)
		if !ok {
			if remove {
				return
			}
			m = map[string]any{}
			doc[p.urn] = m
		}
		c = m
		defer func() {
			if len(m) == 0 {
				delete(doc, p.urn)
			}
		}()
	}
	if p.sub == "" {
		if remove {
			delete(c, p.name)
		} else {
			c[p.name] = scim.DeepCopy(v)
		}
		return
	}
	m, ok := c[p.name].(map[string]any)
	if !ok {
		if remove {
			return
		}
		m = map[string]any{}
		c[p.name] = m
	}
	if remove {
		delete(m, p.sub)
		if len(m) == 0 {
			delete(c, p.name)
		}
		return
	}
	m[p.sub] = scim.DeepCopy(v)
}

// equal compares the values of p: strings case-insensitively unless the
// attribute is caseExact, multi-valued attributes as sets of elements on
// the sub-attributes the model has (group members on their value).
func (r *modelResource) equal(p attrPath, want, got any) bool {
	_, wantNone := want.(nothing)
	_, gotNone := got.(nothing)
	if wantNone || gotNone {
		return wantNone == gotNone
	}
	a := r.attr(p)
	if a != nil && a.MultiValued {
		subs := r.elementSubs(a, want)
		return sameSet(elementKeys(a, subs, want), elementKeys(a, subs, got))
	}
	return scalarKey(a, p.name == "externalId", want) == scalarKey(a, p.name == "externalId", got)
}

// elementSubs are the sub-attributes the elements of a multi-valued
// complex attribute are compared on: those the model's elements have;
// group members are compared on their value alone.
func (r *modelResource) elementSubs(a *scim.Attribute, want any) []string {
	if a.Type != scim.TypeComplex {
		return nil
	}
	if r.rt.ID == "Group" && a.Name == "members" {
		return []string{"value"}
	}
	seen := map[string]bool{}
	list, _ := want.([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		for k := range m {
			seen[k] = true
		}
	}
	subs := make([]string, 0, len(seen))
	for k := range seen {
		subs = append(subs, k)
	}
	sort.Strings(subs)
	return subs
}

// elementKeys are the elements of a multi-valued value, each as text on
// subs (a scalar element as itself), sorted.
func elementKeys(a *scim.Attribute, subs []string, v any) []string {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	keys := make([]string, 0, len(list))
	for _, e := range list {
		if subs == nil {
			keys = append(keys, scalarKey(a, false, e))
			continue
		}
		m, _ := e.(map[string]any)
		parts := make([]string, 0, len(subs))
		for _, s := range subs {
			sv, ok := m[s]
			if !ok {
				sv = nothing{}
			}
			parts = append(parts, s+"="+scalarKey(a.Sub(s), false, sv))
		}
		keys = append(keys, "{"+strings.Join(parts, ", ")+"}")
	}
	sort.Strings(keys)
	return keys
}

func sameSet(a, b []string) bool {
	set := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	as, bs := set(a), set(b)
	if len(as) != len(bs) {
		return false
	}
	for k := range as {
		if !bs[k] {
			return false
		}
	}
	return true
}

// scalarKey is the text a value is compared by: absent, null and false
// (in an element: a primary left out is not primary) are alike.
func scalarKey(a *scim.Attribute, caseExact bool, v any) string {
	switch x := v.(type) {
	case nothing, nil:
		return ""
	case bool:
		if !x {
			return ""
		}
		return "true"
	case string:
		if caseExact || a != nil && a.CaseExact {
			return fmt.Sprintf("%q", x)
		}
		return fmt.Sprintf("%q", strings.ToLower(x))
	case map[string]any, []any:
		return jsontext.Marshal(x)
	}
	return fmt.Sprint(v)
}

// difference is one attribute whose value is not what the model expects.
type difference struct {
	path      attrPath
	want, got any
	setBy     string
	subs      []string // for a multi-valued attribute, what is compared
	problem   string   // the resource itself is wrong
}

func (d difference) String() string {
	if d.problem != "" {
		return d.problem
	}
	return fmt.Sprintf("%s: expected %s (set by %s), got %s", d.path, d.show(d.want), d.setBy, d.show(d.got))
}

func (d difference) show(v any) string {
	if _, ok := v.(nothing); ok {
		return "none"
	}
	if d.subs != nil {
		list, ok := v.([]any)
		if !ok {
			list = []any{v}
		}
		out := make([]any, 0, len(list))
		for _, e := range list {
			m, _ := e.(map[string]any)
			if len(d.subs) == 1 && d.subs[0] == "value" {
				out = append(out, m["value"])
				continue
			}
			pm := map[string]any{}
			for _, s := range d.subs {
				if sv, ok := m[s]; ok {
					pm[s] = sv
				}
			}
			out = append(out, pm)
		}
		v = out
	}
	return shorten(jsontext.Marshal(v))
}

// compare returns the attributes the run wrote whose value the resource
// server (as the server represents it) does not hold.
func (r *modelResource) compare(server map[string]any) []difference {
	got, err := scim.Normalize(r.rt, server, modelOpts)
	if err != nil {
		return []difference{{problem: "the resource is not a valid " + r.rt.Name + ": " + err.Error()}}
	}
	paths := make([]attrPath, 0, len(r.written))
	for p := range r.written {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return paths[i].String() < paths[j].String() })
	var out []difference
	for _, p := range paths {
		want, have := r.get(r.doc, p), r.get(got, p)
		if r.equal(p, want, have) {
			continue
		}
		d := difference{path: p, want: want, got: have, setBy: r.written[p]}
		if a := r.attr(p); a != nil && a.MultiValued {
			d.subs = r.elementSubs(a, want)
		}
		out = append(out, d)
	}
	return out
}

// adopt takes the server's value of every attribute of diffs.
func (r *modelResource) adopt(server map[string]any, diffs []difference) {
	got, err := scim.Normalize(r.rt, server, modelOpts)
	if err != nil {
		return
	}
	for _, d := range diffs {
		if d.problem == "" {
			r.set(r.doc, d.path, r.get(got, d.path))
		}
	}
}

// differs reports whether r holds, in an attribute the run wrote, a value
// other than doc's.
func (r *modelResource) differs(doc map[string]any) bool {
	for p := range r.written {
		if !r.equal(p, r.get(doc, p), r.get(r.doc, p)) {
			return true
		}
	}
	for _, p := range r.paths(doc) {
		if !r.equal(p, r.get(doc, p), r.get(r.doc, p)) {
			return true
		}
	}
	return false
}
