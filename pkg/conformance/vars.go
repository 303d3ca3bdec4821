package conformance

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var varPattern = regexp.MustCompile(`\{\{([^{}]+)\}\}`)

// substituter replaces {{name}} with variables and remembers the names it
// could not resolve, which are left as they were.
type substituter struct {
	vars    map[string]string
	missing []string
}

func (s *substituter) replace(in string) string {
	if !strings.Contains(in, "{{") {
		return in
	}
	return varPattern.ReplaceAllStringFunc(in, func(tok string) string {
		name := strings.TrimSpace(tok[2 : len(tok)-2])
		if v, ok := s.vars[name]; ok {
			return v
		}
		if !slices.Contains(s.missing, name) {
			s.missing = append(s.missing, name)
		}
		return tok
	})
}

// variable filters: "{{name|upper}}".
var filters = map[string]func(string) string{
	"upper":    strings.ToUpper,
	"lower":    strings.ToLower,
	"urlquery": url.QueryEscape,
	"urlpath":  url.PathEscape,
	"json": func(s string) string { // a JSON string's inside
		q := strconv.Quote(s)
		return q[1 : len(q)-1]
	},
}

// replaceFiltered is replace with filters ("{{name|upper}}") and, when
// escape is not nil, escape applied to every value.
func (s *substituter) replaceFiltered(in string, escape func(string) string) string {
	if !strings.Contains(in, "{{") {
		return in
	}
	return varPattern.ReplaceAllStringFunc(in, func(tok string) string {
		name, filter, hasFilter := strings.Cut(strings.TrimSpace(tok[2:len(tok)-2]), "|")
		name = strings.TrimSpace(name)
		v, ok := s.vars[name]
		if !ok {
			s.miss(name)
			return tok
		}
		if hasFilter {
			f := filters[strings.TrimSpace(filter)]
			if f == nil {
				s.miss(name + "|" + filter)
				return tok
			}
			v = f(v)
		}
		if escape != nil {
			v = escape(v)
		}
		return v
	})
}

func (s *substituter) miss(name string) {
	if !slices.Contains(s.missing, name) {
		s.missing = append(s.missing, name)
	}
}
