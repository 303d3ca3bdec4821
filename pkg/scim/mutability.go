package scim

import (
	"net/http"
	"reflect"
)

// This file enforces the "immutable" mutability of RFC 7643 §2.2 ("The
// attribute MAY be defined at resource creation (e.g., POST) or at record
// replacement via a request (e.g., a PUT). The attribute SHALL NOT be
// updated."), driven by the schema alone, so that an immutable attribute a
// mapping or a future schema declares is held to it as well.
//
//   - PATCH (RFC 7644 §3.5.2): an operation may set an immutable value that
//     has none, and may restate a value unchanged; changing or removing one
//     that is set is 400 mutability.
//   - PUT (RFC 7644 §3.5.1): "If one or more values are already set for
//     the attribute, the input value(s) MUST match"; a value the body omits
//     is carried over, since an immutable value cannot be cleared either.
//
// Values are compared after normalization (canonical names and values, so
// type "user" is the canonical "User"), exactly: an immutable value is kept
// as it was first written.
//
// The elements of a multi-valued attribute come and go whole: removing a
// member and adding another changes no member's value, even though members'
// value is immutable (RFC 7643 §4.2: "While values MAY be added or removed,
// sub-attributes of members are immutable"). Two documents hold the same
// element when PATCH add would take them for the same one (equal value, and
// equal type except for members); such an element keeps its immutable
// sub-attributes, and restating it without them (as Okta's membership push
// does) keeps them too. What a document comparison cannot see, an operation
// that changes the value identifying an element (replace
// members[value eq "X"].value), is refused before it is applied.

// hasImmutable reports whether a or one of its sub-attributes is immutable.
func hasImmutable(a *Attribute) bool {
	if a.Mutability == Immutable {
		return true
	}
	for _, s := range a.SubAttributes {
		if hasImmutable(s) {
			return true
		}
	}
	return false
}

// isSet reports whether v is a value: RFC 7643 §2.5 makes null and an
// empty array the same as unassigned, and an empty object holds nothing.
func isSet(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

func immutableError(name string) *Error {
	return Errorf(http.StatusBadRequest, TypeMutability,
		"%s is immutable: it can be set when it has no value, but not changed or removed once set (RFC 7643 §2.2)", name)
}

// keepImmutable checks after, the new value of attribute a (name is its path
// in errors), against before, its value so far. With carry, an immutable
// value after omits is carried over (PUT); without, its removal is a
// change (PATCH). It returns the value to keep: after, or what carry added.
func keepImmutable(a *Attribute, name string, before, after any, carry bool) (any, error) {
	if !isSet(before) || !hasImmutable(a) {
		return after, nil
	}
	switch {
	case a.Mutability == Immutable && !isSet(after):
		if carry {
			return before, nil
		}
		return nil, immutableError(name)
	case a.Mutability == Immutable:
		if !reflect.DeepEqual(before, after) {
			return nil, immutableError(name)
		}
		return after, nil
	case a.MultiValued:
		return after, keepElements(a, name, before, after)
	}
	bm, _ := before.(map[string]any)
	am, _ := after.(map[string]any)
	am, err := keepSubs(a, name, bm, am, carry)
	if err != nil || am == nil {
		return nil, err
	}
	return am, nil
}

// keepSubs checks the immutable sub-attributes of one complex value, am
// against bm; carried values are added to am (created if nil), which it
// returns.
func keepSubs(a *Attribute, name string, bm, am map[string]any, carry bool) (map[string]any, error) {
	for _, s := range a.SubAttributes {
		if s.Mutability != Immutable {
			continue
		}
		v, err := keepImmutable(s, name+"."+s.Name, bm[s.Name], am[s.Name], carry)
		if err != nil {
			return nil, err
		}
		if isSet(v) && !isSet(am[s.Name]) {
			if am == nil {
				am = map[string]any{}
			}
			am[s.Name] = v
		}
	}
	return am, nil
}

// keepElements checks the elements after and before of a multi-valued
// complex attribute both hold: each keeps the immutable sub-attributes it
// had, carried over when after restates it without them. Elements after
// adds or drops are no change. Linear in the lists, as dedupe is.
func keepElements(a *Attribute, name string, before, after any) error {
	bl, _ := before.([]any)
	al, _ := after.([]any)
	if len(al) == 0 {
		return nil
	}
	index := make(map[elementKey]map[string]any, len(bl))
	for _, e := range bl {
		if k, ok := keyOf(a, e); ok {
			index[k] = e.(map[string]any)
		}
	}
	for _, e := range al {
		k, ok := keyOf(a, e)
		if !ok {
			continue // no value to know it by: a new element
		}
		bm, found := index[k]
		if !found {
			continue
		}
		if _, err := keepSubs(a, name, bm, e.(map[string]any), true); err != nil {
			return err
		}
	}
	return nil
}

// keepAttrs checks the immutable attributes of attrs between two
// containers (a resource, or an extension's object); prefix is put before
// each name in errors. With carry, after must not be nil: carried values
// are put into it.
func keepAttrs(attrs []*Attribute, prefix string, before, after map[string]any, carry bool) error {
	for _, a := range attrs {
		if !hasImmutable(a) {
			continue
		}
		v, err := keepImmutable(a, prefix+a.Name, before[a.Name], after[a.Name], carry)
		if err != nil {
			return err
		}
		if carry && isSet(v) && !isSet(after[a.Name]) {
			after[a.Name] = v
		}
	}
	return nil
}

// KeepImmutable holds after, the normalized body of a PUT, to the
// immutable values of before, the resource it replaces (RFC 7644 §3.5.1):
// a value after states differently is 400 mutability; one it omits is
// carried over into after. Elements of multi-valued attributes may be
// added and removed whole (a PUT of a group with other members changes
// no immutable value).
func KeepImmutable(rt *ResourceType, before, after map[string]any) error {
	if err := keepAttrs(append(commonAttributes(), rt.Schema.Attributes...), "", before, after, true); err != nil {
		return err
	}
	for _, ext := range rt.Extensions {
		bm, _ := before[ext.ID].(map[string]any)
		if len(bm) == 0 {
			continue
		}
		am, _ := after[ext.ID].(map[string]any)
		if am == nil {
			am = map[string]any{}
		}
		if err := keepAttrs(ext.Attributes, ext.ID+":", bm, am, true); err != nil {
			return err
		}
		if len(am) > 0 {
			after[ext.ID] = am
		}
	}
	return nil
}

// checkElements refuses an operation on a sub-attribute of the elements of
// a multi-valued attribute, or on the elements a value filter selects,
// that would change an immutable sub-attribute an element already has. It
// runs before the operation: once members[value eq "X"].value is "Y", the
// documents show one member gone and another come, which is no change.
func (t *target) checkElements(c map[string]any, kind string, value any, opts Options) error {
	a := t.attr
	if !a.MultiValued || (t.sub == nil && t.filter == nil) {
		return nil
	}
	writes, err := t.elementWrites(kind, value, opts)
	if err != nil || len(writes) == 0 {
		return err
	}
	list, _ := c[a.Name].([]any)
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if t.filter != nil {
			hit, err := match(scope{parent: a}, t.filter, m)
			if err != nil {
				return err
			}
			if !hit {
				continue
			}
		}
		for name, v := range writes {
			if old := m[name]; isSet(old) && !reflect.DeepEqual(old, v) {
				if t.sub == nil {
					return immutableError(t.raw + "." + name)
				}
				return immutableError(t.raw)
			}
		}
	}
	return nil
}

// elementWrites are the immutable sub-attributes the operation writes into
// each element it reaches, by canonical name (nil: removed); none for the
// removal of whole elements.
func (t *target) elementWrites(kind string, value any, opts Options) (map[string]any, error) {
	a := t.attr
	switch {
	case t.sub != nil && t.sub.Mutability != Immutable:
		return nil, nil
	case t.sub != nil && kind == "remove":
		return map[string]any{t.sub.Name: nil}, nil
	case t.sub != nil:
		v, err := NormalizeValue(t.sub, value, opts)
		return map[string]any{t.sub.Name: v}, err
	case kind == "remove":
		return nil, nil
	}
	single := *a
	single.MultiValued = false
	v, err := NormalizeValue(&single, value, opts)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	writes := map[string]any{}
	for k, x := range m {
		if s := a.Sub(k); s != nil && s.Mutability == Immutable {
			writes[s.Name] = x
		}
	}
	return writes, nil
}
