package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// This file serves POST /Bulk (RFC 7644 §3.7).
//
// Each operation is the single request it describes, run in memory through
// routeSCIM with the Bulk request's context and authenticated provider: the
// same handlers, the same checks, the same atomicity (each operation on its
// own; the Bulk request as a whole is not a transaction, as the RFC says).
// An operation's version is sent as If-Match.
//
// Operations run in request order. "bulkId:<id>" as a whole string value
// anywhere in data, or as the id in path, is replaced with the id created
// by the earlier POST with that bulkId. A reference to a bulkId that is not
// in the request, whose operation failed or created nothing, or that comes
// later in the request (so also a circular one) fails its operation with
// 400 invalidValue: forward references are not resolved.
//
// failOnErrors N stops the run after the Nth failed operation; the
// operations after it are neither run nor listed. The response is 200 with
// a result per operation run; a failed one carries its SCIM error body.
//
// The provisioning log holds the Bulk request as one entry (POST /Bulk and
// its status), written by serveSCIM; the operations have no entries of
// their own.

// bulkMaxOperations is the most operations a Bulk request may hold; more
// get 413. Advertised as bulk.maxOperations in /ServiceProviderConfig.
const bulkMaxOperations = 1000

// bulkMaxPayload is the largest Bulk request body in bytes, larger ones
// get 413: the limit of every request body. Advertised as
// bulk.maxPayloadSize in /ServiceProviderConfig.
func (s *Server) bulkMaxPayload() int64 { return s.cfg.MaxBodyBytes }

func (s *Server) bulk(w http.ResponseWriter, r *http.Request, p *directory.Provider) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := scim.DecodeBulkRequest(body)
	if err != nil {
		return err
	}
	if n := len(req.Operations); n > bulkMaxOperations {
		return scim.Errorf(http.StatusRequestEntityTooLarge, "", "the request holds %d operations, more than maxOperations (%d): split it", n, bulkMaxOperations)
	}
	run := &bulkRun{s: s, r: r, p: p, created: map[string]string{}, unresolved: map[string]string{}}
	for i, op := range req.Operations {
		if op.BulkID != "" {
			run.unresolved[op.BulkID] = fmt.Sprintf("names operation %d, which has not run yet: operations run in request order, so a bulkId can only refer to an earlier POST", i+1)
		}
	}
	out := scim.BulkResponse{Schemas: []string{scim.BulkResponseURN}, Operations: make([]scim.BulkResult, 0, len(req.Operations))}
	failed := 0
	for i, op := range req.Operations {
		if err := r.Context().Err(); err != nil {
			return err
		}
		res, ok := run.operation(i, op)
		out.Operations = append(out.Operations, res)
		if !ok {
			failed++
			if req.FailOnErrors > 0 && failed >= req.FailOnErrors {
				break
			}
		}
	}
	writeSCIM(w, http.StatusOK, out)
	return nil
}

// bulkRun is the state of one Bulk request: the ids its POSTs created and
// why the other bulkIds cannot be resolved (yet).
type bulkRun struct {
	s          *Server
	r          *http.Request
	p          *directory.Provider
	created    map[string]string // bulkId → id of the created resource
	unresolved map[string]string // bulkId → why it names no resource
}

// bulkTarget is the resource type endpoint ("Users" or "Groups") and, but
// for a POST, the id an operation's path names.
type bulkTarget struct{ endpoint, id string }

func (t bulkTarget) path() string {
	if t.id == "" {
		return "/" + t.endpoint
	}
	return "/" + t.endpoint + "/" + t.id
}

// operation runs op, the i-th operation (0-based), and reports whether it
// succeeded.
func (b *bulkRun) operation(i int, op scim.BulkOperation) (scim.BulkResult, bool) {
	method := strings.ToUpper(op.Method)
	res := scim.BulkResult{Method: method, BulkID: op.BulkID}
	t, data, err := b.prepare(method, op)
	if err != nil {
		se, _ := toSCIMError(err)
		res.Status = strconv.Itoa(se.Status)
		res.Response, _ = json.Marshal(se)
		if t.id != "" {
			res.Location = b.s.scimBaseURL(b.r) + t.path()
		}
		b.settle(i, method, op.BulkID, "")
		return res, false
	}

	req := b.request(method, t, data, op.Version)
	rec := newMemResponse()
	if err := b.s.routeSCIM(rec, req, b.p); err != nil {
		b.s.writeSCIMError(rec, req, err)
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	res.Status = strconv.Itoa(status)
	if status >= 400 {
		res.Response = bytes.TrimSpace(rec.body.Bytes())
		if t.id != "" {
			res.Location = b.s.scimBaseURL(b.r) + t.path()
		}
		b.settle(i, method, op.BulkID, "")
		return res, false
	}
	res.Version = rec.header.Get("ETag")
	if method == http.MethodPost {
		var created struct {
			ID string `json:"id"`
		}
		json.Unmarshal(rec.body.Bytes(), &created)
		t.id = created.ID
	}
	res.Location = b.s.scimBaseURL(b.r) + t.path()
	b.settle(i, method, op.BulkID, t.id)
	return res, true
}

// settle records the outcome of the i-th operation for later references
// to its bulkId: the id a POST created, or why there is none.
func (b *bulkRun) settle(i int, method, bulkID, id string) {
	if bulkID == "" {
		return
	}
	switch {
	case method == http.MethodPost && id != "":
		b.created[bulkID] = id
		delete(b.unresolved, bulkID)
	case method == http.MethodPost || id == "":
		b.unresolved[bulkID] = fmt.Sprintf("names operation %d, which failed", i+1)
	default:
		b.unresolved[bulkID] = fmt.Sprintf("names operation %d, a %s, which creates nothing", i+1, method)
	}
}

// resolve returns the id created by the POST with bulkId ref.
func (b *bulkRun) resolve(ref string) (string, error) {
	if id, ok := b.created[ref]; ok {
		return id, nil
	}
	why, ok := b.unresolved[ref]
	if !ok {
		why = "is not the bulkId of any operation in this request"
	}
	return "", scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "cannot resolve %s%s: it %s", scim.BulkIDPrefix, ref, why)
}

// prepare checks op's method and path and resolves the bulkId references
// in its path and data. The target's id is set as soon as it is known, so
// that a failure can still name the resource.
func (b *bulkRun) prepare(method string, op scim.BulkOperation) (bulkTarget, json.RawMessage, error) {
	var t bulkTarget
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	case "":
		return t, nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "the operation has no method: use POST, PUT, PATCH or DELETE")
	default:
		return t, nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "method %q is not allowed in a Bulk request: use POST, PUT, PATCH or DELETE", op.Method)
	}
	rest, ok := strings.CutPrefix(op.Path, "/")
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	switch {
	case !ok:
		return t, nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "path %q must start with /: /Users, /Groups, /Users/{id} or /Groups/{id}", op.Path)
	case strings.EqualFold(parts[0], "Users"):
		t.endpoint = "Users"
	case strings.EqualFold(parts[0], "Groups"):
		t.endpoint = "Groups"
	default:
		return t, nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "path %q is not a Users or Groups path: a Bulk operation changes /Users or /Groups", op.Path)
	}
	switch {
	case method == http.MethodPost && len(parts) != 1:
		return t, nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "a POST creates a resource at /%s, not at %q", t.endpoint, op.Path)
	case method != http.MethodPost && (len(parts) != 2 || parts[1] == "" || strings.EqualFold(parts[1], ".search")):
		return t, nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "a %s needs the path of one resource, /%s/{id}, not %q", method, t.endpoint, op.Path)
	case method != http.MethodPost:
		t.id = parts[1]
	}
	if ref, ok := strings.CutPrefix(t.id, scim.BulkIDPrefix); ok {
		id, err := b.resolve(ref)
		if err != nil {
			return t, nil, err
		}
		t.id = id
	}
	if method == http.MethodPost && op.BulkID == "" {
		return t, nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "a POST operation needs a bulkId")
	}
	if method == http.MethodDelete {
		return t, nil, nil
	}
	if len(op.Data) == 0 || string(op.Data) == "null" {
		return t, nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "a %s operation needs data: the body of the single request", method)
	}
	data, err := scim.ResolveBulkIDs(op.Data, b.resolve)
	return t, data, err
}

// request builds the single request an operation stands for. It keeps the
// Bulk request's host and TLS state, so that locations are the same, and
// gets a requestInfo of its own, so that the operation's resource and error
// do not end up in the Bulk request's log entry.
func (b *bulkRun) request(method string, t bulkTarget, data json.RawMessage, version string) *http.Request {
	parent := infoFrom(b.r.Context())
	ctx := context.WithValue(b.r.Context(), requestInfoKey{}, &requestInfo{id: parent.id, provider: parent.provider})
	req := b.r.Clone(ctx)
	req.Method = method
	req.URL = &url.URL{Path: SCIMPrefix + t.path()}
	req.RequestURI = req.URL.RequestURI()
	req.Header = http.Header{}
	if version != "" {
		req.Header.Set("If-Match", version)
	}
	req.Body, req.ContentLength, req.GetBody = http.NoBody, 0, nil
	if data != nil {
		req.Header.Set("Content-Type", scim.MediaType)
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
	}
	return req
}

// memResponse is an http.ResponseWriter in memory: what a Bulk operation or
// one part of a search writes.
type memResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newMemResponse() *memResponse { return &memResponse{header: http.Header{}} }

func (m *memResponse) Header() http.Header { return m.header }

func (m *memResponse) WriteHeader(code int) {
	if m.status == 0 {
		m.status = code
	}
}

func (m *memResponse) Write(b []byte) (int, error) {
	if m.status == 0 {
		m.status = http.StatusOK
	}
	return m.body.Write(b)
}
