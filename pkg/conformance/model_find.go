package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// The list rules of the model: a resource the run created is found by a
// filter on its unique attribute (userName, a group's displayName), and a
// resource it deleted is not. Both go into the write's state check, and
// only when the server supports filtering. A search that lags behind the
// writes is a habit of the server, not of one resource: each rule is
// server-wide (metaFault.once), failing the first check that sees it.

// modelFindAttr is the attribute a filter finds a resource of r's type
// by: userName, unique (RFC 7643 §4.1.1), or a group's displayName.
func (r *modelResource) modelFindAttr() string {
	if r.rt.Name == "Group" {
		return "displayName"
	}
	return "userName"
}

// modelFound is what a filter on r's unique attribute answered.
type modelFound struct {
	what   string // "filter GET /Users?filter=userName eq \"x\""
	status int
	ids    []string
	total  int
	hasTot bool
}

// modelFind filters r's endpoint on its unique attribute. It returns no
// answer, with a note on c, when the server does not support filtering
// or the model holds no value to filter on; a failure when the server
// does not answer.
func (sr *scenarioRun) modelFind(ctx context.Context, r *modelResource, p *prepared, c *Check) (*modelFound, string) {
	attr := r.modelFindAttr()
	if !sr.caps[CapFilter] {
		c.Notes = append(c.Notes, fmt.Sprintf("state: the filter on %s not checked: needs %s: %s", attr, CapFilter, sr.capWhy[CapFilter]))
		return nil, ""
	}
	v, _ := r.doc[attr].(string)
	if v == "" {
		c.Notes = append(c.Notes, fmt.Sprintf("state: the filter on %s not checked: the model holds no %s", attr, attr))
		return nil, ""
	}
	lit, _ := json.Marshal(v)
	filter := attr + " eq " + string(lit)
	f := &modelFound{what: "filter GET " + path.Dir(r.loc) + "?filter=" + filter}
	resp, err := sr.client(modelHeader(p)).Do(ctx, http.MethodGet, path.Dir(r.loc)+"?filter="+url.QueryEscape(filter), nil)
	if err != nil {
		return nil, f.what + ": no answer: " + err.Error()
	}
	f.status = resp.Status
	ans := newAnswer(resp, 0)
	doc, _ := ans.doc.(map[string]any)
	switch t := doc["totalResults"].(type) {
	case json.Number: // a string is judged by the list checks; compared as text here
		f.total, err = strconv.Atoi(t.String())
		f.hasTot = err == nil
	case string:
		f.total, err = strconv.Atoi(t)
		f.hasTot = err == nil
	}
	res, _ := doc["Resources"].([]any)
	for _, e := range res {
		if m, ok := e.(map[string]any); ok {
			id, _ := m["id"].(string)
			f.ids = append(f.ids, id)
		}
	}
	return f, ""
}

// modelFindCreated judges the filter after a create: it finds the
// resource, and for a user only it (totalResults 1).
func (sr *scenarioRun) modelFindCreated(ctx context.Context, r *modelResource, p *prepared, c *Check) []metaFault {
	f, fail := sr.modelFind(ctx, r, p, c)
	if f == nil {
		if fail == "" {
			return nil
		}
		return []metaFault{{msg: fail}}
	}
	const rule = "a filter on its unique attribute finds the created resource (MUST, RFC 7644 §3.4.2)"
	switch {
	case f.status != http.StatusOK:
		return r.findFault(rule, fmt.Sprintf("%s: %s: expected 200 with a ListResponse, got %d", f.what, rule, f.status))
	case !slices.Contains(f.ids, r.meta.id):
		return r.findFault(rule, fmt.Sprintf("%s: %s: expected %q among the Resources, got %s (totalResults %s)", f.what, rule, r.meta.id, showIDs(f.ids), showTotal(f)))
	case r.rt.Name == "User" && (!f.hasTot || f.total != 1 || len(f.ids) != 1):
		return r.findFault(rule, fmt.Sprintf("%s: %s, and only it (userName is unique, RFC 7643 §4.1.1): expected totalResults 1 and Resources [%q], got totalResults %s and %s", f.what, rule, r.meta.id, showTotal(f), showIDs(f.ids)))
	}
	return nil
}

// modelFindDeleted judges the filter after a DELETE: the resource is not
// found. A 404 (no list at all) finds nothing either; the list checks
// judge it.
func (sr *scenarioRun) modelFindDeleted(ctx context.Context, r *modelResource, p *prepared, c *Check) []metaFault {
	f, fail := sr.modelFind(ctx, r, p, c)
	if f == nil {
		if fail == "" {
			return nil
		}
		return []metaFault{{msg: fail}}
	}
	const rule = "the service provider MUST NOT consider the deleted resource in subsequent operations (RFC 7644 §3.6)"
	switch {
	case f.status == http.StatusNotFound:
	case f.status != http.StatusOK:
		return r.findFault(rule, fmt.Sprintf("%s: %s: expected 200 with no resource, got %d", f.what, rule, f.status))
	case slices.Contains(f.ids, r.meta.id):
		return r.findFault(rule, fmt.Sprintf("%s: %s: expected no resource with id %q, got %s (totalResults %s)", f.what, rule, r.meta.id, showIDs(f.ids), showTotal(f)))
	}
	return nil
}

func showIDs(ids []string) string {
	if len(ids) == 0 {
		return "no Resources"
	}
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = strconv.Quote(id)
	}
	return "Resources [" + strings.Join(q, ", ") + "]"
}

func showTotal(f *modelFound) string {
	if !f.hasTot {
		return "none"
	}
	return strconv.Itoa(f.total)
}

// findFault is a server-wide fault of rule about r's type.
func (r *modelResource) findFault(rule, msg string) []metaFault {
	return []metaFault{{msg: msg, once: r.rt.Name + ": " + rule}}
}
