package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/scim2/filter-parser/v2"
)

// PatchRequest is the body of a PATCH (RFC 7644 §3.5.2).
type PatchRequest struct {
	Schemas    []string         `json:"schemas"`
	Operations []PatchOperation `json:"Operations"`
}

// PatchOperation is one operation. Op is compared case-insensitively
// (Microsoft Entra ID sends "Replace"); Value is any JSON value.
type PatchOperation struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

// IsPasswordOnly reports whether every operation only sets password: the
// shape of a password sync, which kacescim refuses with a clear error.
func (r *PatchRequest) IsPasswordOnly() bool {
	if len(r.Operations) == 0 {
		return false
	}
	for _, op := range r.Operations {
		switch {
		case strings.EqualFold(op.Path, "password"):
		case op.Path == "":
			m, ok := op.Value.(map[string]any)
			if !ok || len(m) != 1 {
				return false
			}
			for k := range m {
				if !strings.EqualFold(k, "password") {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

// ApplyPatch applies ops to a copy of doc (a canonical resource document as
// Normalize returns it) and returns the copy; doc itself is never changed,
// so a failing operation leaves nothing half-applied. readOnly attributes
// named in a path-less value (Okta's group rename carries "id") and
// password are ignored; unknown attributes are ignored when
// opts.Accepts().UnknownPatchPaths.
func ApplyPatch(rt *ResourceType, doc map[string]any, ops []PatchOperation, opts Options) (map[string]any, error) {
	out := CopyMap(doc)
	for i, op := range ops {
		kind := strings.ToLower(op.Op)
		if !opts.Accepts().OpAnyCase && kind != op.Op {
			return nil, Errorf(http.StatusBadRequest, TypeInvalidSyntax, "operation %d: op %q must be lower-case in strict mode", i+1, op.Op)
		}
		switch kind {
		case "add", "replace", "remove":
		default:
			return nil, Errorf(http.StatusBadRequest, TypeInvalidSyntax, "operation %d: op must be add, replace or remove, not %q", i+1, op.Op)
		}
		if op.Path == "" {
			if err := applyPathless(rt, out, kind, op.Value, opts); err != nil {
				return nil, err
			}
			continue
		}
		path := op.Path
		if opts.Accepts().URNDotPaths {
			path = rt.colonPath(path)
		}
		t, err := resolvePath(rt, path)
		if err != nil {
			return nil, err
		}
		if t == nil || t.password {
			if t == nil && !opts.Accepts().UnknownPatchPaths {
				return nil, Errorf(http.StatusBadRequest, TypeInvalidPath, "operation %d: unknown attribute %q", i+1, op.Path)
			}
			continue
		}
		if t.attr.Mutability == ReadOnly || (t.sub != nil && t.sub.Mutability == ReadOnly) {
			return nil, Errorf(http.StatusBadRequest, TypeMutability, "operation %d: %s is read-only", i+1, op.Path)
		}
		if kind != "remove" && op.Value == nil {
			return nil, Errorf(http.StatusBadRequest, TypeInvalidValue, "operation %d: %s needs a value", i+1, kind)
		}
		if err := t.change(out, kind, op.Value, opts); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// applyPathless applies an operation without a path: value is an object
// whose keys are attribute paths, plain ("active"), dotted ("name.givenName")
// or URN-qualified, or an extension URN holding an object.
func applyPathless(rt *ResourceType, doc map[string]any, kind string, value any, opts Options) error {
	if kind == "remove" {
		return Errorf(http.StatusBadRequest, TypeNoTarget, "remove needs a path naming what to remove")
	}
	m, ok := value.(map[string]any)
	if !ok {
		return Errorf(http.StatusBadRequest, TypeInvalidValue, "an operation without a path needs an object value")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic, whatever the map order
	for _, k := range keys {
		v := m[k]
		if opts.Accepts().URNDotPaths {
			k = rt.colonPath(k)
		}
		if ext := rt.Extension(k); ext != nil {
			sub, ok := v.(map[string]any)
			if !ok {
				return Errorf(http.StatusBadRequest, TypeInvalidValue, "%s must be an object", ext.ID)
			}
			if err := applyPathless(&ResourceType{Schema: ext}, extContainer(doc, ext.ID), kind, sub, opts); err != nil {
				return err
			}
			if c, _ := doc[ext.ID].(map[string]any); len(c) == 0 {
				delete(doc, ext.ID)
			}
			continue
		}
		t, err := resolvePath(rt, k)
		if err != nil || t == nil {
			if !opts.Accepts().UnknownPatchPaths {
				return Errorf(http.StatusBadRequest, TypeInvalidPath, "unknown attribute %q", k)
			}
			continue
		}
		if t.password || t.attr.Mutability == ReadOnly || (t.sub != nil && t.sub.Mutability == ReadOnly) {
			continue // Okta's group rename sends the id back: ignore it
		}
		if v == nil && kind == "replace" {
			if err := t.change(doc, "remove", nil, opts); err != nil {
				return err
			}
			continue
		}
		if err := t.change(doc, kind, v, opts); err != nil {
			return err
		}
	}
	return nil
}

func extContainer(doc map[string]any, urn string) map[string]any {
	c, ok := doc[urn].(map[string]any)
	if !ok {
		c = map[string]any{}
		doc[urn] = c
	}
	return c
}

// target is a resolved PATCH path.
type target struct {
	urn      string     // extension URN holding the attribute, "" for core
	attr     *Attribute // the top-level attribute
	filter   filter.Expression
	sub      *Attribute // sub-attribute after the attribute or the filter
	password bool       // the path names password, which is never kept
	whole    *Schema    // the path names a whole extension
	raw      string
}

// resolvePath parses a PATCH path and finds its attributes. It returns nil
// and no error for an attribute the schema does not know.
func resolvePath(rt *ResourceType, raw string) (*target, error) {
	raw = strings.TrimSpace(raw)
	if strings.EqualFold(raw, "password") {
		return &target{password: true, raw: raw}, nil
	}
	if ext := rt.Extension(raw); ext != nil {
		return &target{whole: ext, attr: &Attribute{Name: ext.ID, Type: TypeComplex, SubAttributes: ext.Attributes, Mutability: ReadWrite}, raw: raw}, nil
	}
	p, ok := parseSimplePath(raw)
	if !ok {
		var err error
		if p, err = filter.ParsePath([]byte(raw)); err != nil {
			return nil, Errorf(http.StatusBadRequest, TypeInvalidPath, "cannot parse path %q", raw)
		}
	}
	ap := p.AttributePath
	if p.ValueExpression != nil && ap.SubAttribute != nil {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidPath, "cannot parse path %q", raw)
	}
	subName := ap.SubAttributeName()
	if p.SubAttribute != nil {
		subName = *p.SubAttribute
	}
	top, sub, urn := rt.Lookup(ap.URI(), ap.AttributeName, subName)
	if top == nil {
		if ap.URI() == "" && strings.EqualFold(ap.AttributeName, "password") {
			return &target{password: true, raw: raw}, nil
		}
		return nil, nil
	}
	t := &target{urn: urn, attr: top, sub: sub, filter: p.ValueExpression, raw: raw}
	if t.filter != nil {
		if !top.MultiValued || top.Type != TypeComplex {
			return nil, Errorf(http.StatusBadRequest, TypeInvalidPath, "%q: a value filter applies only to multi-valued complex attributes", raw)
		}
		if _, err := match(scope{parent: top}, t.filter, map[string]any{}); err != nil {
			detail := err.Error()
			if se, ok := AsError(err); ok {
				detail = se.Detail
			}
			return nil, Errorf(http.StatusBadRequest, TypeInvalidPath, "%q: %s", raw, detail)
		}
	}
	return t, nil
}

func (t *target) container(doc map[string]any, create bool) map[string]any {
	if t.urn == "" {
		return doc
	}
	if create {
		return extContainer(doc, t.urn)
	}
	c, _ := doc[t.urn].(map[string]any)
	return c
}

// cleanup drops an extension object left empty.
func (t *target) cleanup(doc map[string]any) {
	if t.urn != "" {
		if c, _ := doc[t.urn].(map[string]any); len(c) == 0 {
			delete(doc, t.urn)
		}
	}
}

// change applies one operation to doc, and is 400 mutability when that
// changes or removes an immutable value that was set (mutability.go);
// RFC 7644 §3.5.2: "a client MAY "add" a value to an "immutable" attribute
// if the attribute had no previous value". On an error doc may be left
// half-changed, which is why ApplyPatch works on a copy.
func (t *target) change(doc map[string]any, kind string, value any, opts Options) error {
	if t.whole != nil {
		if kind == "remove" {
			before, _ := doc[t.whole.ID].(map[string]any)
			if err := keepAttrs(t.whole.Attributes, t.whole.ID+":", before, nil, false); err != nil {
				return err
			}
		}
		return t.apply(doc, kind, value, opts) // per attribute through applyPathless
	}
	if !hasImmutable(t.attr) {
		return t.apply(doc, kind, value, opts)
	}
	var before any
	if c := t.container(doc, false); c != nil {
		if err := t.checkElements(c, kind, value, opts); err != nil {
			return err
		}
		before = DeepCopy(c[t.attr.Name])
	}
	if err := t.apply(doc, kind, value, opts); err != nil {
		return err
	}
	var after any
	if c := t.container(doc, false); c != nil {
		after = c[t.attr.Name]
	}
	_, err := keepImmutable(t.attr, t.name(), before, after, false)
	return err
}

// name is the attribute's path in errors, URN-qualified in an extension.
func (t *target) name() string {
	if t.urn != "" {
		return t.urn + ":" + t.attr.Name
	}
	return t.attr.Name
}

// apply applies one operation to doc. When it makes a value of a
// multi-valued attribute primary, the values that were primary before stop
// being so: RFC 7644 §3.5.2 has the server clear them automatically.
func (t *target) apply(doc map[string]any, kind string, value any, opts Options) error {
	if t.whole != nil || !t.attr.MultiValued || t.attr.Sub("primary") == nil {
		return t.applyOne(doc, kind, value, opts)
	}
	before := map[uintptr]bool{}
	if c := t.container(doc, false); c != nil {
		list, _ := c[t.attr.Name].([]any)
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && m["primary"] == true {
				before[reflect.ValueOf(m).Pointer()] = true
			}
		}
	}
	if err := t.applyOne(doc, kind, value, opts); err != nil {
		return err
	}
	c := t.container(doc, false)
	if c == nil {
		return nil
	}
	list, _ := c[t.attr.Name].([]any)
	if primaries(list) <= 1 {
		return nil
	}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["primary"] == true && before[reflect.ValueOf(m).Pointer()] {
			m["primary"] = false
		}
	}
	if primaries(list) > 1 {
		return Errorf(http.StatusBadRequest, TypeInvalidValue, "%s: at most one value may be primary (RFC 7643 §2.4)", t.attr.Name)
	}
	return nil
}

func (t *target) applyOne(doc map[string]any, kind string, value any, opts Options) error {
	if t.whole != nil {
		if kind == "remove" {
			delete(doc, t.whole.ID)
			return nil
		}
		return applyPathless(&ResourceType{Schema: t.whole}, extContainer(doc, t.whole.ID), kind, value, opts)
	}
	defer t.cleanup(doc)
	c := t.container(doc, kind != "remove")
	if c == nil {
		return nil // removing from an extension that is not there
	}
	a := t.attr
	switch {
	case t.filter != nil:
		return t.applyFiltered(c, kind, value, opts)
	case t.sub != nil && a.MultiValued:
		// "emails.value": every element's sub-attribute.
		list, _ := c[a.Name].([]any)
		if kind == "remove" {
			for _, e := range list {
				if m, ok := e.(map[string]any); ok {
					delete(m, t.sub.Name)
				}
			}
			c[a.Name] = dropEmpty(list)
			if len(c[a.Name].([]any)) == 0 {
				delete(c, a.Name)
			}
			return nil
		}
		v, err := NormalizeValue(t.sub, value, opts)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			c[a.Name] = []any{map[string]any{t.sub.Name: v}}
			return nil
		}
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				m[t.sub.Name] = v
			}
		}
		return nil
	case t.sub != nil:
		m, _ := c[a.Name].(map[string]any)
		if kind == "remove" {
			if m != nil {
				delete(m, t.sub.Name)
				if len(m) == 0 {
					delete(c, a.Name)
				}
			}
			return nil
		}
		v, err := NormalizeValue(t.sub, value, opts)
		if err != nil {
			return err
		}
		if m == nil {
			m = map[string]any{}
			c[a.Name] = m
		}
		if v == nil {
			delete(m, t.sub.Name)
		} else {
			m[t.sub.Name] = v
		}
		if len(m) == 0 {
			delete(c, a.Name)
		}
		return nil
	case a.MultiValued:
		return applyMulti(c, a, kind, value, opts)
	case a.Type == TypeComplex:
		if kind == "remove" {
			delete(c, a.Name)
			return nil
		}
		v, err := NormalizeValue(a, value, opts)
		if err != nil {
			return err
		}
		m, _ := c[a.Name].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		if nv, ok := v.(map[string]any); ok {
			for k, x := range nv { // merge: unnamed sub-attributes stay (RFC 7644 §3.5.2.3)
				m[k] = x
			}
		}
		if len(m) == 0 {
			delete(c, a.Name)
		} else {
			c[a.Name] = m
		}
		return nil
	default:
		if kind == "remove" {
			delete(c, a.Name)
			return nil
		}
		v, err := NormalizeValue(a, value, opts)
		if err != nil {
			return err
		}
		if v == nil {
			delete(c, a.Name)
		} else {
			c[a.Name] = v
		}
		return nil
	}
}

// applyMulti handles add, replace and remove of a whole multi-valued
// attribute.
func applyMulti(c map[string]any, a *Attribute, kind string, value any, opts Options) error {
	existing, _ := c[a.Name].([]any)
	if kind == "remove" {
		if value == nil {
			delete(c, a.Name)
			return nil
		}
		if !opts.Accepts().RemoveWithValue {
			return Errorf(http.StatusBadRequest, TypeInvalidSyntax, "remove with a value is not RFC 7644: name what to remove with a filter, e.g. %s[value eq \"…\"]", a.Name)
		}
		// Entra (and authentik) remove members with path "members" and
		// the members to remove as the value. Read as RFC 7644 reads a
		// path-only remove, that would empty the group: treat the value as
		// a selector instead, never as "remove all".
		sel, err := NormalizeValue(a, value, opts)
		if err != nil {
			return err
		}
		selList, _ := sel.([]any)
		kept := existing[:0:0]
		for _, e := range existing {
			drop := false
			for _, s := range selList {
				if sameElement(a, e, s) {
					drop = true
					break
				}
			}
			if !drop {
				kept = append(kept, e)
			}
		}
		setList(c, a.Name, kept)
		return nil
	}
	v, err := NormalizeValue(a, value, opts)
	if err != nil {
		return err
	}
	added, _ := v.([]any)
	if kind == "replace" {
		setList(c, a.Name, dedupe(a, added))
		return nil
	}
	setList(c, a.Name, dedupe(a, append(existing, added...)))
	return nil
}

// applyFiltered handles paths with a value filter, with or without a
// sub-attribute: emails[type eq "work"].value, members[value eq "…"].
func (t *target) applyFiltered(c map[string]any, kind string, value any, opts Options) error {
	a := t.attr
	list, _ := c[a.Name].([]any)
	var hits []int
	for i, e := range list {
		m, isMap := e.(map[string]any)
		if !isMap {
			continue
		}
		ok, err := match(scope{parent: a}, t.filter, m)
		if err != nil {
			return err
		}
		if ok {
			hits = append(hits, i)
		}
	}
	if kind == "remove" {
		if t.sub == nil {
			// Rebuild the list rather than deleting by index, so that
			// several matches (members[value eq "a" or value eq "b"])
			// cannot shift each other's indexes and remove the wrong
			// elements.
			kept := make([]any, 0, len(list))
			j := 0
			for i, e := range list {
				if j < len(hits) && hits[j] == i {
					j++
					continue
				}
				kept = append(kept, e)
			}
			setList(c, a.Name, kept)
			return nil
		}
		for _, i := range hits {
			delete(list[i].(map[string]any), t.sub.Name)
		}
		setList(c, a.Name, dropEmpty(list))
		return nil
	}
	var nv any
	var err error
	if t.sub != nil {
		nv, err = NormalizeValue(t.sub, value, opts)
	} else {
		single := *a
		single.MultiValued = false
		nv, err = NormalizeValue(&single, value, opts)
	}
	if err != nil {
		return err
	}
	if len(hits) == 0 {
		if kind == "replace" {
			return Errorf(http.StatusBadRequest, TypeNoTarget, "no value of %s matches %q", a.Name, t.raw)
		}
		// add with no match creates the element the filter describes:
		// Entra sets a user's first work email with an add to
		// emails[type eq "work"].value and expects it created.
		el := equalities(a, t.filter)
		if t.sub != nil {
			el[t.sub.Name] = nv
		} else if m, ok := nv.(map[string]any); ok {
			for k, v := range m {
				el[k] = v
			}
		}
		// The filter's values are as the client wrote them: the new element
		// is canonical like any other ("Work" becomes "work").
		single := *a
		single.MultiValued = false
		ne, err := NormalizeValue(&single, el, opts)
		if err != nil {
			return err
		}
		if ne == nil {
			return nil
		}
		setList(c, a.Name, append(list, ne))
		return nil
	}
	for _, i := range hits {
		m := list[i].(map[string]any)
		if t.sub != nil {
			m[t.sub.Name] = nv
			continue
		}
		if nm, ok := nv.(map[string]any); ok {
			for k, v := range nm {
				m[k] = v
			}
		}
	}
	return nil
}

// equalities returns the sub-attribute values of parent an "a eq x and b
// eq y" filter pins down, under their schema names, as the start of a new
// element.
func equalities(parent *Attribute, expr filter.Expression) map[string]any {
	out := map[string]any{}
	var walk func(filter.Expression)
	walk = func(e filter.Expression) {
		switch x := e.(type) {
		case *filter.AttributeExpression:
			if x.Operator != filter.EQ || x.AttributePath.SubAttribute != nil {
				return
			}
			if sub := parent.Sub(x.AttributePath.AttributeName); sub != nil {
				out[sub.Name] = x.CompareValue
			}
		case *filter.LogicalExpression:
			if x.Operator == filter.AND {
				walk(x.Left)
				walk(x.Right)
			}
		}
	}
	walk(expr)
	return out
}

func setList(c map[string]any, name string, list []any) {
	if len(list) == 0 {
		delete(c, name)
		return
	}
	c[name] = list
}

func dropEmpty(list []any) []any {
	out := list[:0:0]
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && len(m) == 0 {
			continue
		}
		out = append(out, e)
	}
	return out
}

// sameElement reports whether two elements of a multi-valued attribute are
// the same value: equal "value" (and "type", when the attribute has one);
// elements without a value are compared whole.
func sameElement(a *Attribute, x, y any) bool {
	mx, ok1 := x.(map[string]any)
	my, ok2 := y.(map[string]any)
	if !ok1 || !ok2 {
		return reflect.DeepEqual(x, y)
	}
	vx, hasX := mx["value"]
	vy, hasY := my["value"]
	if !hasX || !hasY {
		return reflect.DeepEqual(mx, my)
	}
	if a.Name == "members" {
		return vx == vy
	}
	return vx == vy && mx["type"] == my["type"]
}

// dedupe keeps the last of equal elements, in the position of the first:
// adding a member twice, or an email that is already there, changes nothing
// but the display text. It is linear in the list, so that adding to a group
// of ten thousand members costs ten thousand steps, not a hundred million.
func dedupe(a *Attribute, list []any) []any {
	out := make([]any, 0, len(list))
	index := make(map[elementKey]int, len(list))
	for _, e := range list {
		k, ok := keyOf(a, e)
		if !ok {
			// No value to key on: compare with what is kept so far.
			dup := false
			for i, o := range out {
				if sameElement(a, o, e) {
					out[i], dup = e, true
					break
				}
			}
			if !dup {
				out = append(out, e)
			}
			continue
		}
		if i, seen := index[k]; seen {
			out[i] = e
			continue
		}
		index[k] = len(out)
		out = append(out, e)
	}
	return out
}

// elementKey identifies an element of a multi-valued attribute the way
// sameElement compares them.
type elementKey struct {
	value any
	typ   any
}

func keyOf(a *Attribute, e any) (elementKey, bool) {
	m, ok := e.(map[string]any)
	if !ok {
		return elementKey{}, false
	}
	v, ok := m["value"]
	if !ok {
		return elementKey{}, false
	}
	switch v.(type) {
	case string, float64, bool:
	default:
		return elementKey{}, false // not comparable as a map key
	}
	if a.Name == "members" {
		return elementKey{value: v}, true
	}
	t := m["type"]
	switch t.(type) {
	case nil, string:
	default:
		return elementKey{}, false
	}
	return elementKey{value: v, typ: t}, true
}

// DecodePatch reads a PATCH body, checking its schema and operations.
func DecodePatch(body []byte, opts Options) (*PatchRequest, error) {
	var req PatchRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidSyntax, "the PATCH body is not a valid PatchOp message: %s", JSONErrorText(err))
	}
	accepts := opts.Accepts()
	if !accepts.MissingPatchOpSchema && !slices.Contains(req.Schemas, PatchOpURN) {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidSyntax, "schemas must contain %s", PatchOpURN)
	}
	if !accepts.EmptyOperations && len(req.Operations) == 0 {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidSyntax, "Operations must hold at least one operation")
	}
	return &req, nil
}

// JSONErrorText rewords an encoding/json error for someone who wrote the
// body by hand: where the syntax breaks, which field has which wrong
// type.
func JSONErrorText(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("%v (at byte %d)", syntax, syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be a %s, not a %s", typ.Field, typ.Type, typ.Value)
		}
		return fmt.Sprintf("expected a %s, not a %s", typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends in the middle of a value"
	default:
		return strings.TrimPrefix(err.Error(), "json: ")
	}
}

// colonPath reads "<extension URN>.<attribute>" as the RFC's
// "<extension URN>:<attribute>"; other paths are returned as they are.
func (rt *ResourceType) colonPath(p string) string {
	p = strings.TrimSpace(p)
	for _, ext := range rt.Extensions {
		n := len(ext.ID)
		if len(p) > n+1 && p[n] == '.' && strings.EqualFold(p[:n], ext.ID) {
			return p[:n] + ":" + p[n+1:]
		}
	}
	return p
}

// parseSimplePath parses the paths identity providers send most, "active"
// and "name.givenName", as filter.ParsePath would, without its parser,
// which allocates hundreds of times per call. ok is false for anything
// else (URNs, value filters), which the parser then reads.
func parseSimplePath(raw string) (filter.Path, bool) {
	name, sub, dotted := strings.Cut(raw, ".")
	if !isAttrName(name) || (dotted && !isAttrName(sub)) {
		return filter.Path{}, false
	}
	p := filter.Path{AttributePath: filter.AttributePath{AttributeName: name}}
	if dotted {
		p.AttributePath.SubAttribute = &sub
	}
	return p, true
}
