package scim

import (
	"net/http"
	"strings"

	"github.com/scim2/filter-parser/v2"
)

// AttrPath is a parsed attribute path as mappings use it: an attribute
// (core or in an extension), an optional value filter on a multi-valued
// attribute, and an optional sub-attribute:
//
//	userName
//	name.givenName
//	urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value
//	phoneNumbers[type eq "mobile"].value
type AttrPath struct {
	URN    string // the extension holding the attribute; "" for the core schema
	Attr   *Attribute
	Filter filter.Expression
	Sub    *Attribute
	raw    string
}

// String is the path as it was parsed.
func (p *AttrPath) String() string { return p.raw }

// Leaf is the attribute whose values the path selects.
func (p *AttrPath) Leaf() *Attribute {
	if p.Sub != nil {
		return p.Sub
	}
	return p.Attr
}

// ParseAttrPath parses raw against rt. Quotes escaped with a backslash
// (phoneNumbers[type eq \"mobile\"].value) are accepted, since KACE Cloud's
// Okta set-up instructions write its suggested mapping paths that way and
// admins copy them as written. An attribute rt does not know gives 400
// invalidPath.
func ParseAttrPath(rt *ResourceType, raw string) (*AttrPath, error) {
	clean := strings.TrimSpace(strings.ReplaceAll(raw, `\"`, `"`))
	p, err := filter.ParsePath([]byte(clean))
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidPath, "cannot parse the attribute path %q", raw)
	}
	ap := p.AttributePath
	if p.ValueExpression != nil && ap.SubAttribute != nil {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidPath, "cannot parse the attribute path %q", raw)
	}
	subName := ap.SubAttributeName()
	if p.SubAttribute != nil {
		subName = *p.SubAttribute
	}
	top, sub, urn := rt.Lookup(ap.URI(), ap.AttributeName, subName)
	if top == nil {
		where := "the core " + rt.Name + " schema"
		if ap.URI() != "" {
			where = ap.URI()
		}
		return nil, Errorf(http.StatusBadRequest, TypeInvalidPath, "%q names no attribute of %s", raw, where)
	}
	out := &AttrPath{URN: urn, Attr: top, Sub: sub, Filter: p.ValueExpression, raw: clean}
	if out.Filter != nil {
		if !top.MultiValued || top.Type != TypeComplex {
			return nil, Errorf(http.StatusBadRequest, TypeInvalidPath, "%q: a value filter applies only to multi-valued complex attributes", raw)
		}
		if _, err := match(scope{parent: top}, out.Filter, map[string]any{}); err != nil {
			se, _ := AsError(err)
			return nil, Errorf(http.StatusBadRequest, TypeInvalidPath, "%q: %s", raw, se.Detail)
		}
	}
	return out, nil
}

// Values returns the values the path selects in doc, a canonical resource
// document. Of several elements of a multi-valued attribute, the one
// marked primary comes first, then the others in document order.
func (p *AttrPath) Values(doc map[string]any) []any {
	container := doc
	if p.URN != "" {
		container, _ = doc[p.URN].(map[string]any)
	}
	v, ok := container[p.Attr.Name]
	if !ok || v == nil {
		return nil
	}
	if !p.Attr.MultiValued {
		if p.Sub == nil {
			return []any{v}
		}
		m, _ := v.(map[string]any)
		if s, ok := m[p.Sub.Name]; ok && s != nil {
			return []any{s}
		}
		return nil
	}
	list, _ := v.([]any)
	var primary, rest []any
	for _, e := range list {
		m, isMap := e.(map[string]any)
		if p.Filter != nil {
			if !isMap {
				continue
			}
			if ok, err := match(scope{parent: p.Attr}, p.Filter, m); err != nil || !ok {
				continue
			}
		}
		val := e
		if p.Sub != nil {
			if !isMap || m[p.Sub.Name] == nil {
				continue
			}
			val = m[p.Sub.Name]
		}
		if isMap && m["primary"] == true {
			primary = append(primary, val)
		} else {
			rest = append(rest, val)
		}
	}
	return append(primary, rest...)
}
