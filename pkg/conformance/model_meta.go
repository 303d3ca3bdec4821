package conformance

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/conformance/internal/jsontext"
)

// The metadata and lifecycle rules: the id, meta and ETag of every answer
// and read-back of a modelled resource, judged against what the run saw
// of it before. The MUST rules go into the step's state check, the SHOULD
// rules into its metadata check ("<step>: metadata", PUT and PATCH).

// modelMetaSuffix ends the name of a step's metadata check.
const modelMetaSuffix = ": metadata"

// metaSeen is what the run has seen of a resource's metadata.
type metaSeen struct {
	id       string // returned by the POST
	created  string // meta.created as first seen
	modified time.Time
	version  string    // meta.version or the ETag, the last seen
	at       time.Time // when (client clock) modified was first seen
}

// metaTime parses an RFC 3339 DateTime (RFC 7643 §2.3.5).
func metaTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// metaFault is a broken metadata rule. once, when set, names a rule about
// how the server writes every answer (a Location header, resourceType,
// ETag) rather than about this resource's history: such a fault fails the
// first check that sees it in a run, and is only noted after that, so
// that one server-wide habit does not fail every create of the report.
type metaFault struct {
	msg, once string
}

// metaIn judges one representation of r (what: "the answer to PUT
// /Users/1" or "read-back GET /Users/1") with its headers: the MUST
// rules, returned as faults. created says whether it answers (or reads
// back) the POST that created r; status is the HTTP status of an answer
// (0 for a read-back). What it finds becomes what the run has seen.
func (r *modelResource) metaIn(what string, doc map[string]any, hdr http.Header, status int, created bool) []metaFault {
	var out []metaFault
	fail := func(rule, want, got string) {
		out = append(out, metaFault{msg: fmt.Sprintf("%s: %s: expected %s, got %s", what, rule, want, got)})
	}
	// failOnce is fail for a rule about every answer of the server.
	failOnce := func(rule, want, got string) {
		fail(rule, want, got)
		out[len(out)-1].once = r.rt.Name + ": " + rule
	}
	m := &r.meta
	id, _ := doc["id"].(string)
	if id != m.id {
		got := "none"
		if id != "" {
			got = fmt.Sprintf("%q", id)
		}
		fail("id is stable (MUST, RFC 7643 §3)", fmt.Sprintf("%q, the id the POST returned", m.id), got)
	}
	// schemas names the resource's core schema and every extension it
	// holds (RFC 7643 §3: REQUIRED, the schemas "used to indicate the
	// attributes contained within a resource").
	schemas, _ := doc["schemas"].([]any)
	has := func(urn string) bool {
		return slices.ContainsFunc(schemas, func(v any) bool { s, _ := v.(string); return strings.EqualFold(s, urn) })
	}
	switch {
	case len(schemas) == 0:
		failOnce("schemas is present (MUST, RFC 7643 §3)", fmt.Sprintf("[%q, …]", r.rt.Schema.ID), metaShow(doc["schemas"]))
	case !has(r.rt.Schema.ID):
		failOnce("schemas holds the resource's core schema (MUST, RFC 7643 §3)", fmt.Sprintf("%q among them", r.rt.Schema.ID), metaShow(doc["schemas"]))
	default:
		for k, v := range doc {
			if ext := r.rt.Extension(k); ext != nil && v != nil && !has(ext.ID) {
				failOnce("schemas holds every extension the resource carries (MUST, RFC 7643 §3)", fmt.Sprintf("%q among them", ext.ID), metaShow(doc["schemas"]))
				break
			}
		}
	}
	meta, _ := doc["meta"].(map[string]any)
	if status == http.StatusCreated {
		loc := hdr.Get("Location")
		ml, _ := meta["location"].(string)
		switch {
		case loc == "":
			failOnce("201 Created carries a Location header (SHALL, RFC 7644 §3.3)", "the resource's URI", "none")
		case ml != loc:
			failOnce("meta.location equals the Location header of a 201 (SHALL, RFC 7644 §3.3)", fmt.Sprintf("%q", loc), metaShow(meta["location"]))
		}
	}
	if v, ok := meta["resourceType"]; ok && v != r.rt.Name {
		failOnce("meta.resourceType is the endpoint's resource type (MUST, RFC 7643 §3.1)", fmt.Sprintf("%q", r.rt.Name), metaShow(v))
	}
	if c, ok := meta["created"].(string); ok {
		if m.created != "" {
			was, _ := metaTime(m.created)
			now, _ := metaTime(c)
			if !was.Equal(now) || was.IsZero() && c != m.created {
				fail("meta.created never changes (MUST, RFC 7643 §3.1)", fmt.Sprintf("%q, as first seen", m.created), fmt.Sprintf("%q", c))
			}
		}
		m.created = c // one fault fails once
	}
	cr, crOK := metaTime(meta["created"])
	lm, lmOK := metaTime(meta["lastModified"])
	if lmOK {
		switch {
		case crOK && created && !lm.Equal(cr):
			fail("meta.lastModified equals meta.created until the resource is modified (MUST, RFC 7643 §3.1)", metaShow(meta["created"]), metaShow(meta["lastModified"]))
		case crOK && lm.Before(cr):
			fail("meta.lastModified is not before meta.created (MUST, RFC 7643 §3.1)", "not before "+metaShow(meta["created"]), metaShow(meta["lastModified"]))
		case !m.modified.IsZero() && lm.Before(m.modified):
			fail("meta.lastModified never moves backward (MUST, RFC 7643 §3.1: the most recent update)", "not before "+m.modified.Format(time.RFC3339Nano), metaShow(meta["lastModified"]))
		}
		if !lm.Equal(m.modified) {
			m.modified, m.at = lm, time.Now()
		}
	}
	v, _ := meta["version"].(string)
	tag := hdr.Get("ETag")
	if v != "" && tag != "" && v != tag {
		failOnce("the ETag header equals meta.version (MUST, RFC 7643 §3.1)", fmt.Sprintf("%q, meta.version", v), fmt.Sprintf("%q", tag))
	}
	if v == "" {
		v = tag
	}
	if v != "" {
		m.version = v
	}
	return out
}

// metaChange judges the SHOULD rules of a write that changed r: before is
// what the run had seen of its metadata before the write, r.meta what the
// read-back showed.
func (r *modelResource) metaChange(what string, before metaSeen) []string {
	var out []string
	if before.version != "" && r.meta.version == before.version {
		out = append(out, fmt.Sprintf("%s: the version changes with every change of the resource (SHOULD, RFC 7644 §3.14, RFC 7232 §2.3): expected a version other than %q, got %q", what, before.version, r.meta.version))
	}
	// Servers may keep whole seconds: a write within a second of the last
	// one need not move lastModified.
	if !before.modified.IsZero() && r.meta.modified.Equal(before.modified) && time.Since(before.at) > 1100*time.Millisecond {
		out = append(out, fmt.Sprintf("%s: meta.lastModified moves forward after a change (SHOULD, RFC 7643 §3.1): expected later than %s, got the same", what, before.modified.Format(time.RFC3339Nano)))
	}
	return out
}

func metaShow(v any) string {
	if v == nil {
		return "none"
	}
	return shorten(jsontext.Marshal(v))
}
