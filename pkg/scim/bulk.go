package scim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// Message URNs of the Bulk endpoint (RFC 7644 §3.7).
const (
	BulkRequestURN  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	BulkResponseURN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

// BulkIDPrefix starts a value that refers to the resource created by the
// operation with that bulkId ("bulkId:qwerty", RFC 7644 §3.7.2).
const BulkIDPrefix = "bulkId:"

// BulkRequest is the body of POST /Bulk.
type BulkRequest struct {
	Schemas []string `json:"schemas"`
	// FailOnErrors is how many failed operations the client accepts before
	// the rest are skipped; 0 (or absent) means no limit.
	FailOnErrors int             `json:"failOnErrors,omitempty"`
	Operations   []BulkOperation `json:"Operations"`
}

// BulkOperation is one operation of a BulkRequest: a single SCIM request
// in all but transport.
type BulkOperation struct {
	Method  string          `json:"method"`
	BulkID  string          `json:"bulkId,omitempty"`
	Version string          `json:"version,omitempty"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// BulkResponse is the answer to a BulkRequest: one result per operation
// run, in request order.
type BulkResponse struct {
	Schemas    []string     `json:"schemas"`
	Operations []BulkResult `json:"Operations"`
}

// BulkResult is the outcome of one operation. Status is a string, as in
// error bodies; Response is the SCIM error body of a failed operation and
// is omitted on success, which RFC 7644 §3.7.3 allows.
type BulkResult struct {
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Location string          `json:"location,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

// DecodeBulkRequest parses and checks the structure of a BulkRequest:
// a JSON object whose schemas, when present, name BulkRequestURN, with an
// Operations array, a failOnErrors that is not negative and bulkIds that
// are unique. A missing schemas array is accepted, a wrong one is not.
// What is wrong with a single operation (its method, path or data) is that
// operation's failure, not the request's, and is not checked here.
func DecodeBulkRequest(body []byte) (*BulkRequest, error) {
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidSyntax, "the body must be a JSON object")
	}
	var req BulkRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidSyntax, "the body is not a valid BulkRequest message: %s", JSONErrorText(err))
	}
	if req.Schemas != nil && !hasSchema(req.Schemas, BulkRequestURN) {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidSyntax, "schemas must be [%q]", BulkRequestURN)
	}
	if req.Operations == nil { // absent or null; [] decodes to an empty, non-nil slice
		return nil, Errorf(http.StatusBadRequest, TypeInvalidSyntax, "a BulkRequest needs an Operations array")
	}
	if req.FailOnErrors < 0 {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidValue, "failOnErrors must not be negative, not %d", req.FailOnErrors)
	}
	seen := make(map[string]int)
	for i, op := range req.Operations {
		if op.BulkID == "" {
			continue
		}
		if j, ok := seen[op.BulkID]; ok {
			return nil, Errorf(http.StatusBadRequest, TypeInvalidValue, "bulkId %q is used by operations %d and %d: a bulkId must be unique within the request", op.BulkID, j+1, i+1)
		}
		seen[op.BulkID] = i
	}
	return &req, nil
}

func hasSchema(schemas []string, urn string) bool {
	for _, s := range schemas {
		if strings.EqualFold(s, urn) {
			return true
		}
	}
	return false
}

// ResolveBulkIDs replaces every string value of data that is a whole
// "bulkId:<id>" reference (at any depth, in objects and arrays) with
// resolve(<id>), and returns the new JSON. A reference inside a longer
// string (a PATCH path filter, say) is left alone: RFC 7644 §3.7.2 only
// shows references as whole values. Numbers keep their exact text. The
// first error of resolve is returned as is.
func ResolveBulkIDs(data json.RawMessage, resolve func(bulkID string) (string, error)) (json.RawMessage, error) {
	if len(data) == 0 || !bytes.Contains(data, []byte(BulkIDPrefix)) {
		return data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, Errorf(http.StatusBadRequest, TypeInvalidSyntax, "data is not valid JSON: %s", JSONErrorText(err))
	}
	v, err := resolveValue(v, resolve)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func resolveValue(v any, resolve func(string) (string, error)) (any, error) {
	switch v := v.(type) {
	case string:
		if id, ok := strings.CutPrefix(v, BulkIDPrefix); ok {
			return resolve(id)
		}
	case map[string]any:
		for k, e := range v {
			r, err := resolveValue(e, resolve)
			if err != nil {
				return nil, err
			}
			v[k] = r
		}
	case []any:
		for i, e := range v {
			r, err := resolveValue(e, resolve)
			if err != nil {
				return nil, err
			}
			v[i] = r
		}
	}
	return v, nil
}
