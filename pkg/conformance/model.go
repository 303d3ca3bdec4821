package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/kacescim/kacescim/pkg/scim"
)

// The resource model: for every user and group a scenario creates, the
// runner keeps the representation the requests it sent must have produced
// (RFC 7644 semantics, as pkg/scim applies them in its lenient dialect),
// and after every successful write compares the write's answer and a
// read-back of the resource with it: the "<step>: state" checks.

// modelWrite is what a step does to a resource the model can follow.
type modelWrite int

const (
	modelNone modelWrite = iota
	modelCreate
	modelReplace
	modelPatch
	modelDelete
)

// modelStateSuffix ends the name of a step's state check.
const modelStateSuffix = ": state"

// modelWriteOf classifies st by its method and path, before it is sent:
// POST /Users or /Groups creates, PUT, PATCH and DELETE of /Users/{id} or
// /Groups/{id} replace, patch and delete. A step whose expected statuses
// are all errors writes nothing.
func modelWriteOf(st Step) modelWrite {
	if _, ok := modelEndpoint(st.Path); !ok || !expectsSuccess(st.Expect.Status) {
		return modelNone
	}
	_, id := splitResourcePath(st.Path)
	switch m := strings.ToUpper(st.Method); {
	case m == http.MethodPost && id == "":
		return modelCreate
	case m == http.MethodPut && id != "":
		return modelReplace
	case m == http.MethodPatch && id != "":
		return modelPatch
	case m == http.MethodDelete && id != "":
		return modelDelete
	}
	return modelNone
}

// modelCheckNames are the names of st's model checks, when it can have
// them: the state check of a write, and the metadata check of a PUT or a
// PATCH.
func modelCheckNames(st Step) []string {
	switch modelWriteOf(st) {
	case modelCreate, modelDelete:
		return []string{st.Name + modelStateSuffix}
	case modelReplace, modelPatch:
		return []string{st.Name + modelStateSuffix, st.Name + modelMetaSuffix}
	}
	return nil
}

func expectsSuccess(want Statuses) bool {
	if len(want) == 0 {
		return true
	}
	for _, s := range want {
		if s >= 200 && s < 300 {
			return true
		}
	}
	return false
}

// splitResourcePath splits "/Users/{id}?q" into "Users" and "{id}"; a
// deeper path has no id the model follows.
func splitResourcePath(p string) (endpoint, id string) {
	p, _, _ = strings.Cut(p, "?")
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	switch len(parts) {
	case 1:
		return parts[0], ""
	case 2:
		return parts[0], parts[1]
	}
	return "", "\x00"
}

// modelEndpoint is the resource type of the endpoint path p writes to.
func modelEndpoint(p string) (*scim.ResourceType, bool) {
	ep, id := splitResourcePath(p)
	if id == "\x00" {
		return nil, false
	}
	switch {
	case strings.EqualFold(ep, "Users"):
		return scim.UserResourceType(), true
	case strings.EqualFold(ep, "Groups"):
		return scim.GroupResourceType(), true
	}
	return nil, false
}

// modelOpts is the dialect the model applies requests in: the lenient
// one, which accepts what the identity providers send.
var modelOpts = scim.Options{}

// modelResource is what one resource must hold.
type modelResource struct {
	rt  *scim.ResourceType
	loc string // "/Users/{id}"
	// doc is the expected representation in scim.Normalize's canonical
	// form: only attributes the run wrote, no server-assigned ones.
	doc map[string]any
	// written are the attributes the run asserted, present in doc or
	// (removed by a PATCH) expected absent; setBy says which request set
	// each last.
	written map[attrPath]string
	// meta is what the run has seen of its id and metadata (model_meta.go).
	meta metaSeen
}

// stateModel holds the resources of one scenario run, by location.
type stateModel map[string]*modelResource

func modelKey(p string) string {
	ep, id := splitResourcePath(p)
	return "/" + strings.ToLower(ep) + "/" + id
}

// decodeObject decodes a JSON object as encoding/json does (float64
// numbers, which scim.Normalize expects).
func decodeObject(b []byte) (map[string]any, bool) {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || m == nil {
		return nil, false
	}
	return m, true
}

// modelStep updates the model with a step the server answered, and
// returns the step's model checks (its state check, and for a PUT or a
// PATCH its metadata check), or none: it wrote no modelled resource, or
// its status was an error or not the expected one. main is the step's own
// check, for notes.
func (sr *scenarioRun) modelStep(ctx context.Context, st Step, p *prepared, ans *answer, wrongStatus bool, main *Check) []Check {
	kind := modelWriteOf(st)
	if kind == modelNone || sr.opts.NoState {
		return nil
	}
	if wrongStatus || ans.status < 200 || ans.status >= 300 {
		// The write was refused (or not as expected): the model keeps what
		// it had, and the step's own check says what is wrong.
		return nil
	}
	rt, _ := modelEndpoint(p.target)
	req := p.method + " " + sr.red.Redact(strings.SplitN(p.target, "?", 2)[0])
	var (
		r      *modelResource
		before metaSeen
		was    map[string]any // the model before a PUT or PATCH
	)
	switch kind {
	case modelCreate:
		created, _ := ans.doc.(map[string]any)
		id, _ := created["id"].(string)
		if id == "" {
			return nil // nothing to follow; the step's checks judge the answer
		}
		body, ok := decodeObject(p.body)
		doc, err := scim.Normalize(rt, body, modelOpts)
		if !ok || err != nil {
			main.Notes = append(main.Notes, modelNote(req, "its body", err))
			return nil
		}
		r = &modelResource{rt: rt, loc: "/" + strings.TrimPrefix(strings.SplitN(p.target, "?", 2)[0], "/") + "/" + id, written: map[attrPath]string{}, meta: metaSeen{id: id}}
		r.replace(doc, req)
		sr.model[modelKey(r.loc)] = r
	case modelReplace, modelPatch:
		r = sr.model[modelKey(p.target)]
		if r == nil {
			return nil // not created by this run: the model does not know it
		}
		doc, err := r.apply(kind, p.body)
		if err != nil {
			delete(sr.model, modelKey(p.target))
			main.Notes = append(main.Notes, modelNote(req, "the request", err))
			return nil
		}
		before, was = r.meta, scim.CopyMap(r.doc)
		if kind == modelReplace {
			r.replace(doc, req)
		} else {
			r.patch(doc, req)
		}
	case modelDelete:
		r = sr.model[modelKey(p.target)]
		delete(sr.model, modelKey(p.target))
		if r == nil {
			return nil
		}
	}

	c := sr.modelCheck(st, st.Name+modelStateSuffix, SeverityMust, modelSource(kind), main)
	if c.Status == StatusSkip {
		return []Check{c}
	}
	if kind == modelDelete {
		c.Failures = sr.modelGone(ctx, r, p)
		sr.metaFaults(&c, sr.modelFindDeleted(ctx, r, p, &c))
		return []Check{sr.modelFinish(c)}
	}
	what := "the answer to " + req
	if got, ok := ans.doc.(map[string]any); ok {
		if !strings.Contains(p.target, "?") {
			// An answer with a query (attributes, excludedAttributes) need
			// not hold everything.
			for _, d := range r.compare(got) {
				c.Failures = append(c.Failures, what+": "+d.String())
			}
		}
		sr.metaFaults(&c, r.metaIn(what, got, ans.header, ans.status, kind == modelCreate))
	}
	read, ok := sr.modelReadBack(ctx, r, p, kind == modelCreate, &c)
	c.Failures = append(c.Failures, read...)
	if kind == modelCreate && ok {
		sr.metaFaults(&c, sr.modelFindCreated(ctx, r, p, &c))
	}
	out := []Check{sr.modelFinish(c)}
	if kind == modelReplace || kind == modelPatch {
		m := sr.modelCheck(st, st.Name+modelMetaSuffix, SeverityShould, "RFC 7643 §3.1; RFC 7644 §3.14", main)
		// The version and lastModified need move only when the resource
		// changed: the model after the read-back (which adopts what the
		// server holds) differs from the one before the write.
		if m.Status != StatusSkip && ok && r.differs(was) {
			m.Failures = r.metaChange("read-back GET "+r.loc+" after "+req, before)
		}
		out = append(out, sr.modelFinish(m))
	}
	return out
}

// modelCheck is a model check of st, passing, or skipped by --skip.
func (sr *scenarioRun) modelCheck(st Step, name string, sev Severity, source string, main *Check) Check {
	c := Check{Name: name, Severity: sev, Source: source, Status: StatusPass, Request: main.Request}
	if len(sr.opts.Skip) > 0 && sr.matches(sr.opts.Skip, sr.s.Suite, name) {
		c.Status, c.Request, c.Notes = StatusSkip, nil, []string{reasonSkipOption}
	}
	return c
}

// modelFinish fails c if it has failures, redacted.
func (sr *scenarioRun) modelFinish(c Check) Check {
	if len(c.Failures) > 0 {
		c.Status = StatusFail
		for i := range c.Failures {
			c.Failures[i] = sr.red.Redact(c.Failures[i])
		}
	}
	return c
}

// modelHeader is the header of the model's own requests: the step's
// authorization.
func modelHeader(p *prepared) http.Header {
	h := http.Header{}
	if v, ok := p.header["Authorization"]; ok {
		h["Authorization"] = v
	}
	return h
}

// modelGone reads back a resource a DELETE removed: it must be 404.
func (sr *scenarioRun) modelGone(ctx context.Context, r *modelResource, p *prepared) []string {
	what := "read-back GET " + r.loc + " after " + p.method + " " + sr.red.Redact(strings.SplitN(p.target, "?", 2)[0])
	resp, err := sr.client(modelHeader(p)).Do(ctx, http.MethodGet, r.loc, nil)
	switch {
	case err != nil:
		return []string{what + ": no answer: " + err.Error()}
	case resp.Status != http.StatusNotFound:
		return []string{fmt.Sprintf("%s: a deleted resource is not found (MUST, RFC 7644 §3.6): expected 404, got %d", what, resp.Status)}
	}
	return nil
}

// modelReadBack reads r back with the step's authorization and compares
// it with the model, which then adopts what the server holds for every
// attribute that differs, so that one fault is reported once. ok says
// whether the resource was read.
func (sr *scenarioRun) modelReadBack(ctx context.Context, r *modelResource, p *prepared, created bool, c *Check) (failures []string, ok bool) {
	what := "read-back GET " + r.loc
	resp, err := sr.client(modelHeader(p)).Do(ctx, http.MethodGet, r.loc, nil)
	if err != nil {
		delete(sr.model, modelKey(r.loc))
		return []string{what + ": no answer: " + err.Error()}, false
	}
	ans := newAnswer(resp, 0)
	got, isObj := ans.doc.(map[string]any)
	if resp.Status != http.StatusOK || !isObj {
		delete(sr.model, modelKey(r.loc))
		return []string{fmt.Sprintf("%s: expected 200 with the resource, got %d%s", what, resp.Status, errorDetail(ans))}, false
	}
	var out []string
	diffs := r.compare(got)
	for _, d := range diffs {
		out = append(out, what+": "+d.String())
	}
	r.adopt(got, diffs)
	sr.metaFaults(c, r.metaIn(what, got, ans.header, 0, created))
	return out, true
}

func modelNote(req, what string, err error) string {
	why := "it is not a JSON object"
	if err != nil {
		why = err.Error()
	}
	return fmt.Sprintf("state: not checked from here on: the model cannot follow %s of %s (%s)", what, req, why)
}

func modelSource(kind modelWrite) string {
	switch kind {
	case modelReplace:
		return "RFC 7644 §3.5.1"
	case modelPatch:
		return "RFC 7644 §3.5.2"
	case modelDelete:
		return "RFC 7644 §3.6"
	}
	return "RFC 7644 §3.3"
}

// apply returns what r must hold after a PUT (kind modelReplace) or a
// PATCH with body.
func (r *modelResource) apply(kind modelWrite, body []byte) (map[string]any, error) {
	if kind == modelReplace {
		m, ok := decodeObject(body)
		if !ok {
			return nil, fmt.Errorf("the body is not a JSON object")
		}
		return scim.Normalize(r.rt, m, modelOpts)
	}
	req, err := scim.DecodePatch(body, modelOpts)
	if err != nil {
		return nil, err
	}
	return scim.ApplyPatch(r.rt, r.doc, req.Operations, modelOpts)
}

// replace makes doc the whole of what the run asserts (a POST or a PUT:
// attributes it leaves out the server may clear or default).
func (r *modelResource) replace(doc map[string]any, req string) {
	r.doc = doc
	r.written = map[attrPath]string{}
	for _, p := range r.paths(doc) {
		r.written[p] = req
	}
}

// patch makes doc what r holds after a PATCH: every attribute it changed,
// added or removed is now set by req.
func (r *modelResource) patch(doc map[string]any, req string) {
	before := r.doc
	r.doc = doc
	for _, p := range r.paths(doc) {
		if _, ok := r.written[p]; !ok || !r.equal(p, r.get(before, p), r.get(doc, p)) {
			r.written[p] = req
		}
	}
	for p := range r.written {
		if _, ok := r.get(doc, p).(nothing); ok {
			if _, was := r.get(before, p).(nothing); !was {
				r.written[p] = req
			}
		}
	}
}

// metaFaults adds faults to c: as failures, but for a server-wide rule
// that an earlier check of the run failed already, which is noted instead.
func (sr *scenarioRun) metaFaults(c *Check, faults []metaFault) {
	for _, f := range faults {
		if f.once == "" {
			c.Failures = append(c.Failures, f.msg)
			continue
		}
		if first, ok := sr.metaFailed[f.once]; ok {
			c.Notes = append(c.Notes, sr.red.Redact(f.msg)+" (failed first by "+first+")")
			continue
		}
		sr.metaFailed[f.once] = c.Name
		c.Failures = append(c.Failures, f.msg)
	}
}
