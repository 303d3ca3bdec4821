package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// This file serves POST .search (RFC 7644 §3.4.3): the query of a GET
// list sent as a SearchRequest body, so that filters stay out of URLs and
// logs. A search is turned into the GET list request it stands for and
// answered by the very same handler, so the two cannot drift apart.
//
// The body's schemas may be absent; when present it must name the
// SearchRequest URN, so that a PatchOp or a resource sent here by mistake
// is refused rather than read as "list everything".
//
// The search at the root (/.search) spans both resource types: its results
// are the Users, then the Groups, and startIndex and count page through
// that concatenation. Each type evaluates the filter on its own; a type
// for which the filter is invalid (userName for Groups, members for Users)
// contributes nothing, and only a filter that is invalid for both is an
// error. sortBy is refused there: an order within each type is not the
// order across them that the client would be asking for.

// searchRequest is the body of a POST .search.
type searchRequest struct {
	Schemas            []string `json:"schemas"`
	Attributes         []string `json:"attributes"`
	ExcludedAttributes []string `json:"excludedAttributes"`
	Filter             string   `json:"filter"`
	SortBy             string   `json:"sortBy"`
	SortOrder          string   `json:"sortOrder"`
	StartIndex         *int     `json:"startIndex"`
	Count              *int     `json:"count"`
}

// params are the query parameters of the equivalent GET.
func (q *searchRequest) params() url.Values {
	v := url.Values{}
	set := func(key, value string) {
		if value != "" {
			v.Set(key, value)
		}
	}
	set("attributes", strings.Join(q.Attributes, ","))
	set("excludedAttributes", strings.Join(q.ExcludedAttributes, ","))
	set("filter", q.Filter)
	set("sortBy", q.SortBy)
	set("sortOrder", q.SortOrder)
	if q.StartIndex != nil {
		v.Set("startIndex", strconv.Itoa(*q.StartIndex))
	}
	if q.Count != nil {
		v.Set("count", strconv.Itoa(*q.Count))
	}
	return v
}

func (s *Server) readSearch(w http.ResponseWriter, r *http.Request) (*searchRequest, error) {
	b, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidSyntax, "the body must be a SearchRequest: a JSON object")
	}
	var q searchRequest
	if err := json.Unmarshal(b, &q); err != nil {
		return nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidSyntax, "the body is not a valid SearchRequest message: %s", searchDetail(err))
	}
	if q.Schemas != nil && !containsFold(q.Schemas, scim.SearchRequestURN) {
		return nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidSyntax, "schemas must be [%q]", scim.SearchRequestURN)
	}
	return &q, nil
}

// listRequest is r as the GET of endpoint ("/Users") with query v: same
// context, host and headers, no body.
func listRequest(r *http.Request, endpoint string, v url.Values) *http.Request {
	lr := r.Clone(r.Context())
	lr.Method = http.MethodGet
	lr.URL = &url.URL{Path: SCIMPrefix + endpoint, RawQuery: v.Encode()}
	lr.RequestURI = lr.URL.RequestURI()
	lr.Body, lr.ContentLength = http.NoBody, 0
	lr.Header.Del("Content-Type")
	lr.Header.Del("Content-Length")
	return lr
}

// search answers POST {endpoint}/.search with list, the GET handler of
// the endpoint.
func (s *Server) search(endpoint string, list scimHandler) scimHandler {
	return func(w http.ResponseWriter, r *http.Request, p *directory.Provider) error {
		q, err := s.readSearch(w, r)
		if err != nil {
			return err
		}
		return list(w, listRequest(r, endpoint, q.params()), p)
	}
}

// searchAll answers POST /.search: Users then Groups, paged as one list.
func (s *Server) searchAll(w http.ResponseWriter, r *http.Request, p *directory.Provider) error {
	q, err := s.readSearch(w, r)
	if err != nil {
		return err
	}
	if q.SortBy != "" {
		return scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue,
			"sortBy is not supported in a search at the root, whose results are the Users and then the Groups: use /Users/.search or /Groups/.search to sort")
	}
	v := q.params()
	// The GET list's own reading of startIndex and count (defaults, bounds).
	paging, err := listQuery(listRequest(r, "", v))
	if err != nil {
		return err
	}
	var (
		total     int
		resources []any
		answered  int
		filterErr error
	)
	for _, t := range []struct {
		endpoint string
		list     scimHandler
	}{{"/Users", s.listUsers}, {"/Groups", s.listGroups}} {
		// Indexes before this type's first one belong to the types before.
		v.Set("startIndex", strconv.Itoa(max(paging.StartIndex-total, 1)))
		v.Set("count", strconv.Itoa(paging.Count-len(resources)))
		l, err := runList(t.list, listRequest(r, t.endpoint, v), p)
		if directory.ErrorCode(err) == directory.EBADFILTER {
			// The filter names what this type does not have: the other
			// type may still answer it.
			if filterErr == nil {
				filterErr = err
			}
			continue
		}
		if err != nil {
			return err
		}
		answered++
		total += l.TotalResults
		for _, res := range l.Resources {
			resources = append(resources, res)
		}
	}
	if answered == 0 {
		return filterErr
	}
	writeSCIM(w, http.StatusOK, newList(total, paging.StartIndex, resources))
	return nil
}

// listPage is the part of a ListResponse searchAll combines; resources are
// kept as rendered.
type listPage struct {
	TotalResults int               `json:"totalResults"`
	Resources    []json.RawMessage `json:"Resources"`
}

// runList calls a GET list handler in memory and reads its ListResponse.
func runList(list scimHandler, r *http.Request, p *directory.Provider) (*listPage, error) {
	rec := newMemResponse()
	if err := list(rec, r, p); err != nil {
		return nil, err
	}
	var l listPage
	if rec.status != http.StatusOK {
		return nil, errors.New("list " + r.URL.Path + ": status " + strconv.Itoa(rec.status))
	}
	if err := json.Unmarshal(rec.body.Bytes(), &l); err != nil {
		return nil, err
	}
	return &l, nil
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

// searchFieldKinds is what each member of a SearchRequest must be, for
// the error detail.
var searchFieldKinds = map[string]string{
	"schemas":            "an array of strings",
	"attributes":         "an array of strings",
	"excludedAttributes": "an array of strings",
	"filter":             "a string",
	"sortBy":             "a string",
	"sortOrder":          "a string",
	"startIndex":         "an integer",
	"count":              "an integer",
}

// searchDetail turns an encoding/json error into a short sentence.
func searchDetail(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "invalid JSON at byte " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te) && searchFieldKinds[te.Field] != "":
		return te.Field + " must be " + searchFieldKinds[te.Field] + ", not " + te.Value
	}
	return err.Error()
}
