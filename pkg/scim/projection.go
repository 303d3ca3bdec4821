package scim

import (
	"net/http"
	"slices"
	"strings"
)

// This file reads the attribute paths of the query parameters that name
// attributes rather than filter them: attributes and excludedAttributes
// (RFC 7644 §3.4.2.5 and §3.9), which choose what a response returns, and
// sortBy (§3.4.2.3), which chooses the order of a list.
//
// The rules kacescim follows, where the RFC leaves a choice:
//
//   - Names are case-insensitive, may carry their schema URN
//     (urn:…:core:2.0:User:userName, urn:…:enterprise:2.0:User:manager.value)
//     and may name a sub-attribute (name.givenName, emails.value). A whole
//     extension URN selects the whole extension; the core schema URN alone
//     selects every core attribute.
//   - A name the resource type does not know is ignored (RFC 7644 §3.4.2.5
//     lets the server ignore what it does not recognise, and clients send
//     names for attributes we do not keep). A name that is not an attribute
//     path at all (an empty segment, a character an attribute name cannot
//     hold, an unclosed bracket, a.b.c) is a 400 invalidValue naming it: a
//     typo is better reported than silently answered with the wrong shape.
//   - A value filter is accepted and dropped: emails[type eq "work"] selects
//     emails, emails[type eq "work"].value selects emails.value, and every
//     email is returned, not only the work one (Microsoft's Postman
//     collection sends such names; RFC 7644 gives them no meaning there).
//   - attributes and excludedAttributes are mutually exclusive (§3.9); when
//     a client sends both, attributes wins and excludedAttributes is ignored.
//   - returned (RFC 7643 §7) is honoured: "always" attributes (id, and
//     schemas, which is no attribute but is always kept) cannot be left out,
//     "never" attributes are never returned, "request" attributes only when
//     attributes names them, "default" ones unless excluded or left out of
//     attributes.
//   - schemas lists only the extensions the projected resource still holds.

// SplitAttrList splits a comma-separated attributes, excludedAttributes
// value into its names, trimmed, without empty ones. Commas inside a value
// filter (emails[type eq "a,b"]) do not split.
func SplitAttrList(s string) []string {
	var (
		out     []string
		start   int
		depth   int
		inQuote bool
	)
	add := func(end int) {
		if n := strings.TrimSpace(s[start:end]); n != "" {
			out = append(out, n)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == ',' && depth <= 0:
			add(i)
			start = i + 1
		}
	}
	add(len(s))
	return out
}

// common are the common attributes (id, externalId, meta), built once for
// the lookups of this file, which never change them.
var common = commonAttributes()

// commonAttr is the common attribute called name (case-insensitively), or
// nil.
func commonAttr(name string) *Attribute {
	for _, c := range common {
		if strings.EqualFold(c.Name, name) {
			return c
		}
	}
	return nil
}

// paramPath is one name of an attributes, excludedAttributes or sortBy
// parameter, resolved against a resource type.
type paramPath struct {
	schema   *Schema    // the schema the attribute belongs to
	ext      bool       // schema is an extension: its attributes live under its URN
	whole    bool       // the name is the schema URN alone
	attr     *Attribute // nil when whole
	sub      *Attribute // the named sub-attribute, if any
	filtered bool       // the name carried a value filter
}

// resolveParamPath resolves raw against rt. It returns nil and no error for
// a well-formed name rt does not know, and a 400 invalidValue for a
// malformed one; param names the parameter in that error.
func resolveParamPath(rt *ResourceType, param, raw string) (*paramPath, error) {
	malformed := func(why string) error {
		return Errorf(http.StatusBadRequest, TypeInvalidValue, "%s: %q is not an attribute path: %s", param, raw, why)
	}
	name := strings.TrimSpace(raw)
	filtered := false
	if i := strings.IndexByte(name, '['); i >= 0 {
		end := closingBracket(name, i)
		if end < 0 {
			return nil, malformed("the value filter has no closing ]")
		}
		name, filtered = name[:i]+name[end+1:], true
	}
	if name == "" {
		return nil, malformed("it is empty")
	}

	p := &paramPath{schema: rt.Schema, filtered: filtered}
	if len(name) > 4 && strings.EqualFold(name[:4], "urn:") {
		rest, s, ok := splitURN(rt, name)
		if !ok {
			return nil, nil // a schema this resource type does not have
		}
		p.schema, p.ext = s, s != rt.Schema
		if rest == "" {
			if filtered {
				return nil, malformed("a schema URN cannot have a value filter")
			}
			p.whole = true
			return p, nil
		}
		name = rest
	}

	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return nil, malformed("a path has at most an attribute and a sub-attribute")
	}
	for _, part := range parts {
		if !isPathName(part) {
			return nil, malformed("an attribute name starts with a letter and holds letters, digits, - and _")
		}
	}
	p.attr = p.schema.Attr(parts[0])
	if p.attr == nil && p.schema == rt.Schema {
		p.attr = commonAttr(parts[0])
	}
	if p.attr == nil {
		return nil, nil
	}
	if len(parts) == 2 {
		if p.sub = p.attr.Sub(parts[1]); p.sub == nil {
			return nil, nil
		}
	}
	return p, nil
}

// splitURN finds which of rt's schemas the URN-qualified name starts with
// and returns the rest of the name after the URN and its colon.
func splitURN(rt *ResourceType, name string) (rest string, s *Schema, ok bool) {
	for _, c := range append([]*Schema{rt.Schema}, rt.Extensions...) {
		n := len(c.ID)
		switch {
		case len(name) == n && strings.EqualFold(name, c.ID):
			return "", c, true
		case len(name) > n+1 && name[n] == ':' && strings.EqualFold(name[:n], c.ID):
			return name[n+1:], c, true
		}
	}
	return "", nil, false
}

// closingBracket is the index of the ] that closes the [ at open, skipping
// quoted strings, or -1.
func closingBracket(s string, open int) int {
	inQuote := false
	for i := open + 1; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ']':
			return i
		}
	}
	return -1
}

// isPathName reports whether s is an ATTRNAME of RFC 7644 §3.10, or
// $ref, the one sub-attribute name outside that grammar.
func isPathName(s string) bool { return s == "$ref" || isAttrName(s) }

// Projection is a parsed attributes or excludedAttributes parameter: the
// attributes a response returns of each resource. The zero of it, a nil
// *Projection, returns the default set: every attribute but those returned
// "never" or only on "request".
type Projection struct {
	rt      *ResourceType
	include bool      // attributes: return only what is named (and "always")
	named   selection // what the parameter names, by top-level document key
}

// selection is what a parameter names inside one object of a document, by
// canonical key: a top-level attribute, an extension URN, an extension's
// attribute or a sub-attribute.
type selection map[string]*selected

type selected struct {
	whole bool      // named itself: all of it
	subs  selection // only these parts of it were named
}

func (s selection) at(key string) *selected {
	n := s[key]
	if n == nil {
		n = &selected{}
		s[key] = n
	}
	return n
}

func (n *selected) sub(key string) *selected {
	if n.subs == nil {
		n.subs = selection{}
	}
	return n.subs.at(key)
}

// NewProjection parses the names of an attributes parameter (attributes)
// or, when that is empty, of an excludedAttributes parameter (excluded),
// against rt, following the rules in the package documentation
// (Projection). It returns nil, the default projection, when both are
// empty.
func NewProjection(rt *ResourceType, attributes, excluded []string) (*Projection, error) {
	param, names := "attributes", attributes
	if len(names) == 0 {
		param, names = "excludedAttributes", excluded
	}
	if len(names) == 0 {
		return nil, nil
	}
	p := &Projection{rt: rt, include: param == "attributes", named: selection{}}
	for _, raw := range names {
		pp, err := resolveParamPath(rt, param, raw)
		if err != nil {
			return nil, err
		}
		if pp == nil {
			continue
		}
		switch {
		case pp.whole && !pp.ext:
			for _, a := range append(slices.Clone(common), rt.Schema.Attributes...) {
				p.named.at(a.Name).whole = true
			}
		case pp.whole:
			p.named.at(pp.schema.ID).whole = true
		default:
			n := p.named
			var node *selected
			if pp.ext {
				node = n.at(pp.schema.ID).sub(pp.attr.Name)
			} else {
				node = n.at(pp.attr.Name)
			}
			if pp.sub != nil {
				node = node.sub(pp.sub.Name)
			}
			node.whole = true
		}
	}
	return p, nil
}

// Project returns doc as NewProjection(rt, attributes, excluded) selects
// it. doc is not changed; the result shares values with it.
func Project(rt *ResourceType, doc map[string]any, attributes, excluded []string) (map[string]any, error) {
	p, err := NewProjection(rt, attributes, excluded)
	if err != nil {
		return nil, err
	}
	return p.Apply(doc), nil
}

// Returns reports whether a resource projected by p can hold the core
// attribute name (true for the nil, default projection, which the server
// only uses for attributes it returns by default): the server reads what
// is costly to read, a group's members, only when the answer is yes.
func (p *Projection) Returns(name string) bool {
	if p == nil {
		return true
	}
	a := p.rt.Schema.Attr(name)
	if a == nil {
		return !p.include
	}
	return returns(a, p.named[a.Name], p.include)
}

// returns decides whether an attribute with this returned characteristic
// is (at least partly) in the response: named is what the parameter said
// of it, include whether the parameter was attributes.
func returns(a *Attribute, named *selected, include bool) bool {
	switch a.Returned {
	case ReturnedNever:
		return false
	case ReturnedAlways:
		return true
	case ReturnedRequest:
		return include && named != nil
	}
	if include {
		return named != nil
	}
	return named == nil || !named.whole
}

// Apply returns the part of doc, a rendered resource (schemas, id, meta and
// extensions under their URN included), that p selects. doc is not
// changed; the result shares values with it.
func (p *Projection) Apply(doc map[string]any) map[string]any {
	if p == nil {
		return doc
	}
	rt := p.rt
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		if k == "schemas" {
			out[k] = v
			continue
		}
		if ext := rt.Extension(k); ext != nil {
			ea := &Attribute{Name: ext.ID, Type: TypeComplex, SubAttributes: ext.Attributes, Returned: ReturnedDefault}
			if nv, ok := project(ea, v, p.named[ext.ID], p.include); ok {
				out[ext.ID] = nv
			}
			continue
		}
		a := rt.Schema.Attr(k)
		if a == nil {
			a = commonAttr(k)
		}
		if a == nil {
			// Not in the schema: part of the default set only.
			if !p.include {
				out[k] = v
			}
			continue
		}
		if nv, ok := project(a, v, p.named[a.Name], p.include); ok {
			out[k] = nv
		}
	}
	if schemas, ok := out["schemas"]; ok {
		out["schemas"] = keptSchemas(rt, schemas, out)
	}
	return out
}

// project returns the part of v, the value of attribute a, that the
// response holds, and false when it holds none of it.
func project(a *Attribute, v any, named *selected, include bool) (any, bool) {
	if !returns(a, named, include) {
		return nil, false
	}
	if a.Returned == ReturnedAlways || named == nil || named.whole {
		// All of it: an attribute that cannot be left out, one the
		// parameter does not mention (default set), or one it names
		// whole in attributes (named whole in excludedAttributes is not
		// returned at all).
		return dropHidden(a, v), true
	}
	// Only some sub-attributes were named.
	if a.Type != TypeComplex {
		return v, true
	}
	sub := func(m map[string]any) (map[string]any, bool) {
		out := make(map[string]any, len(m))
		for k, sv := range m {
			sa := a.Sub(k)
			if sa == nil {
				if !include {
					out[k] = sv
				}
				continue
			}
			if nv, ok := project(sa, sv, named.subs[sa.Name], include); ok {
				out[k] = nv
			}
		}
		return out, len(out) > 0
	}
	switch t := v.(type) {
	case map[string]any:
		return sub(t)
	case []any:
		list := make([]any, 0, len(t))
		for _, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				if !include {
					list = append(list, e)
				}
				continue
			}
			if nm, ok := sub(m); ok {
				list = append(list, nm)
			}
		}
		return list, len(list) > 0
	}
	return v, true
}

// dropHidden returns v without the sub-attributes of a that are returned
// "never" or only on request.
func dropHidden(a *Attribute, v any) any {
	hidden := false
	for _, s := range a.SubAttributes {
		if s.Returned == ReturnedNever || s.Returned == ReturnedRequest {
			hidden = true
		}
	}
	if !hidden {
		return v
	}
	strip := func(m map[string]any) map[string]any {
		out := make(map[string]any, len(m))
		for k, sv := range m {
			if s := a.Sub(k); s != nil && (s.Returned == ReturnedNever || s.Returned == ReturnedRequest) {
				continue
			}
			out[k] = sv
		}
		return out
	}
	switch t := v.(type) {
	case map[string]any:
		return strip(t)
	case []any:
		list := make([]any, len(t))
		for i, e := range t {
			if m, ok := e.(map[string]any); ok {
				list[i] = strip(m)
			} else {
				list[i] = e
			}
		}
		return list
	}
	return v
}

// keptSchemas is the schemas value without the extension URNs the
// projected document no longer holds.
func keptSchemas(rt *ResourceType, v any, doc map[string]any) any {
	keep := func(s string) bool {
		ext := rt.Extension(s)
		if ext == nil {
			return true
		}
		_, ok := doc[ext.ID]
		return ok
	}
	switch t := v.(type) {
	case []string:
		out := make([]string, 0, len(t))
		for _, s := range t {
			if keep(s) {
				out = append(out, s)
			}
		}
		return out
	case []any:
		out := make([]any, 0, len(t))
		for _, e := range t {
			if s, ok := e.(string); !ok || keep(s) {
				out = append(out, e)
			}
		}
		return out
	}
	return v
}

// SortPath resolves a sortBy parameter (RFC 7644 §3.4.2.3) against rt and
// returns the attribute path in its canonical spelling, which is what
// directory.Query.SortBy holds: a core attribute without its URN
// (userName, name.familyName, meta.created), an extension attribute with
// it (urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value).
// A multi-valued complex attribute named alone sorts by its value
// sub-attribute (emails is emails.value), and the store sorts a resource by
// the value of its primary element, or else its first (RFC 7644 §3.4.2.3).
//
// The RFC lets a server ignore a sortBy it cannot honour; kacescim answers
// 400 invalidValue naming the attribute instead, so that a client never
// takes an unsorted list for a sorted one. That covers a name rt does not
// know, a value filter, a complex attribute without a sub-attribute, a
// binary one, and the attributes the server computes or keeps as rows
// (meta.resourceType, meta.location, meta.version, $ref, a user's groups,
// a group's members).
func SortPath(rt *ResourceType, raw string) (string, error) {
	refuse := func(why string) error {
		return Errorf(http.StatusBadRequest, TypeInvalidValue, "cannot sort by %q: %s", raw, why)
	}
	p, err := resolveParamPath(rt, "sortBy", raw)
	switch {
	case err != nil:
		return "", err
	case p == nil:
		return "", refuse("it is no attribute of " + rt.Name)
	case p.filtered:
		return "", refuse("sortBy takes an attribute path without a value filter")
	case p.whole:
		return "", refuse("it names a schema, not an attribute")
	}
	a, sub := p.attr, p.sub
	if sub == nil && a.Type == TypeComplex {
		if sub = a.Sub("value"); sub == nil || !a.MultiValued {
			return "", refuse(a.Name + " is complex: name one of its sub-attributes, as in " + a.Name + "." + a.SubAttributes[0].Name)
		}
	}
	leaf := a
	if sub != nil {
		leaf = sub
	}
	switch {
	case leaf.Type == TypeBinary:
		return "", refuse("it is binary")
	case !p.ext && (a.Name == "groups" || a.Name == "members"):
		return "", refuse(a.Name + " are kept as memberships, not in the resource")
	case leaf.Name == "$ref",
		!p.ext && a.Name == "meta" && sub.Name != "created" && sub.Name != "lastModified":
		return "", refuse("it is computed by the server; meta.created and meta.lastModified can be sorted by")
	}
	path := a.Name
	if sub != nil {
		path += "." + sub.Name
	}
	if p.ext {
		path = p.schema.ID + ":" + path
	}
	return path, nil
}
