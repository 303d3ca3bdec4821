package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// Paging limits of list responses, advertised in /ServiceProviderConfig.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// scimHandler is an endpoint that has an authenticated provider. It returns
// an error instead of writing one, so that every error body is written by
// writeSCIMError in one place.
type scimHandler func(w http.ResponseWriter, r *http.Request, p *directory.Provider) error

func (s *Server) scimRoutes(mux *http.ServeMux) {
	h := http.HandlerFunc(s.serveSCIM)
	mux.Handle(SCIMPrefix+"/", h)
	mux.Handle(SCIMPrefix, h)
}

// throttleAuth is the answer to a request from an address that failed to
// authenticate too often: 429 with Retry-After.
func (s *Server) throttleAuth(w http.ResponseWriter, ip string, retryAfter int) error {
	s.metrics.limited.WithLabelValues("auth_failures").Inc()
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	return scim.Errorf(http.StatusTooManyRequests, "",
		"too many failed authentications from %s: retry after the number of seconds in Retry-After, with a valid security key", ip)
}

// serveSCIM authenticates the provider, routes the request by hand (so
// that 404 and 405 are SCIM errors too, and the method is checked before the
// body is read) and records it in the provisioning log, which also moves
// the provider's most recent sync on success.
func (s *Server) serveSCIM(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ri := infoFrom(r.Context())
	// Every request has a deadline of its own: a frozen database answers
	// 503 (errDeadline), not a hang until the client gives up.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	rec := &statusRecorder{ResponseWriter: w}
	var (
		p      *directory.Provider
		key    *directory.Key
		err    error
		ip     = ri.clientIP
		logRow = true // whether the request gets a provisioning-log row
	)
	authorization := r.Header.Get("Authorization")
	// An address past its budget of failures is refused before its key
	// is looked up, unless the key authenticated lately (a provider
	// behind the same address as a misconfigured one keeps working):
	// an attacker's flood costs no store read (authfail.go).
	if ok, retryAfter := s.authFails.allow(ip, start); !ok && !s.authFails.knownGood(authorization, start) {
		err = s.throttleAuth(rec, ip, retryAfter)
		logRow = s.authFails.failed(s.log, ip, true, start)
		s.paceFailure(rec, r)
	} else {
		p, key, err = s.dir.AuthenticateKey(r.Context(), authorization)
	}
	switch code := directory.ErrorCode(err); {
	case err == nil:
		s.authFails.authenticated(authorization, start)
	case code == directory.EFORBIDDEN:
		if p != nil && !p.Enabled {
			s.metrics.authFails.WithLabelValues("disabled").Inc()
		}
	case directory.IsExpired(err):
		// A key of a known provider that expired: like a disabled
		// provider's, it is logged under the provider (the admin must see
		// that the identity provider still sends it) and not throttled.
		s.metrics.authFails.WithLabelValues("expired").Inc()
	case code == directory.EUNAUTHORIZED:
		reason := "invalid"
		if strings.TrimSpace(authorization) == "" {
			reason = "missing"
		}
		s.metrics.authFails.WithLabelValues(reason).Inc()
		// A valid key is served whatever its address did: only failures
		// are throttled (authfail.go).
		ok, retryAfter := s.authFails.allow(ip, start)
		if !ok {
			err = s.throttleAuth(rec, ip, retryAfter)
		}
		logRow = s.authFails.failed(s.log, ip, !ok, start)
		s.paceFailure(rec, r)
	}
	if p != nil {
		ri.provider = p.Name
	}
	switch {
	case err != nil:
		s.writeSCIMError(rec, r, err)
	case !s.allow(rec, p):
		s.metrics.limited.WithLabelValues("provider").Inc()
		s.writeSCIMError(rec, r, scim.Errorf(http.StatusTooManyRequests, "",
			"provider %s is limited to %g requests per second: retry after the number of seconds in Retry-After", p.Name, p.RateLimit))
	default:
		if err := s.routeSCIM(rec, r, p); err != nil {
			s.writeSCIMError(rec, r, err)
		}
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	s.metrics.observe(ri.provider, r.Method, r.URL.Path, rec.status, time.Since(start))
	if !logRow {
		return // a failed authentication the window has seen (authfail.go)
	}
	uriMax := maxLogText
	if p == nil {
		uriMax = maxFailureURI
	}
	entry := &directory.LogEntry{
		Time:       s.dir.Now(),
		RequestID:  ri.id,
		ClientIP:   ip,
		Method:     r.Method,
		Path:       logURI(r.URL, uriMax),
		ResourceID: ri.resourceID,
		Status:     rec.status,
		Latency:    time.Since(start),
		Error:      clipText(ri.errDetail, maxLogText),
	}
	if p != nil {
		entry.ProviderID = p.ID
	}
	if key != nil && err == nil {
		entry.KeyID = key.ID
	}
	if entry.Status == 0 {
		entry.Status = http.StatusOK
	}
	// The request's own context may be cancelled once the client has its
	// answer; the log entry must still be written.
	if err := s.dir.RecordRequest(context.WithoutCancel(r.Context()), entry); err != nil {
		s.log.Error("record request", "request_id", ri.id, "err", err)
	}
}

// allow applies the provider's rate limit, setting Retry-After (whole
// seconds, which Okta and Entra honour) when the request must wait.
func (s *Server) allow(w http.ResponseWriter, p *directory.Provider) bool {
	ok, retryAfter := s.throttle.allow(p, time.Now())
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	return ok
}

func (s *Server) routeSCIM(w http.ResponseWriter, r *http.Request, p *directory.Provider) error {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, SCIMPrefix), "/")
	parts := strings.Split(rest, "/")
	if rest == "" {
		parts = nil
	}
	var id string
	if len(parts) == 2 {
		id = parts[1]
	}
	if len(parts) == 0 || len(parts) > 2 {
		return scim.Errorf(http.StatusNotFound, "", "no SCIM endpoint at %s: use %s/Users or %s/Groups", r.URL.Path, SCIMPrefix, SCIMPrefix)
	}
	switch strings.ToLower(parts[0]) {
	case "users":
		if strings.EqualFold(id, ".search") {
			return dispatch(w, r, p, map[string]scimHandler{"POST": s.search("/Users", s.listUsers)})
		}
		if id == "" {
			return dispatch(w, r, p, map[string]scimHandler{"GET": s.listUsers, "POST": s.createUser})
		}
		return dispatch(w, r, p, map[string]scimHandler{
			"GET":    withID(id, s.getUser),
			"PUT":    withID(id, s.replaceUser),
			"PATCH":  withID(id, s.patchUser),
			"DELETE": withID(id, s.deleteUser),
		})
	case "groups":
		if strings.EqualFold(id, ".search") {
			return dispatch(w, r, p, map[string]scimHandler{"POST": s.search("/Groups", s.listGroups)})
		}
		if id == "" {
			return dispatch(w, r, p, map[string]scimHandler{"GET": s.listGroups, "POST": s.createGroup})
		}
		return dispatch(w, r, p, map[string]scimHandler{
			"GET":    withID(id, s.getGroup),
			"PUT":    withID(id, s.replaceGroup),
			"PATCH":  withID(id, s.patchGroup),
			"DELETE": withID(id, s.deleteGroup),
		})
	case ".search":
		if id != "" {
			break
		}
		return dispatch(w, r, p, map[string]scimHandler{"POST": s.searchAll})
	case "bulk":
		if id != "" {
			break
		}
		return dispatch(w, r, p, map[string]scimHandler{"POST": s.bulk})
	case "serviceproviderconfig":
		if id != "" {
			break
		}
		return dispatch(w, r, p, map[string]scimHandler{"GET": s.serviceProviderConfig})
	case "resourcetypes":
		return dispatch(w, r, p, map[string]scimHandler{"GET": withID(id, s.resourceTypes)})
	case "schemas":
		return dispatch(w, r, p, map[string]scimHandler{"GET": withID(id, s.schemas)})
	}
	return scim.Errorf(http.StatusNotFound, "", "no SCIM endpoint at %s", r.URL.Path)
}

func withID(id string, h func(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error) scimHandler {
	return func(w http.ResponseWriter, r *http.Request, p *directory.Provider) error {
		infoFrom(r.Context()).resourceID = id
		return h(w, r, p, id)
	}
}

func dispatch(w http.ResponseWriter, r *http.Request, p *directory.Provider, methods map[string]scimHandler) error {
	h, ok := methods[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = methods[http.MethodGet]
	}
	if !ok {
		allowed := make([]string, 0, len(methods))
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if _, ok := methods[m]; ok {
				allowed = append(allowed, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return scim.Errorf(http.StatusMethodNotAllowed, "", "%s is not allowed on %s: use %s", r.Method, r.URL.Path, strings.Join(allowed, ", "))
	}
	return h(w, r, p)
}

// writeSCIM writes v as application/scim+json.
func writeSCIM(w http.ResponseWriter, status int, v any) {
	// goccy/go-json writes what encoding/json writes (sorted keys, HTML
	// escaped), in a third of the time: a list page of 100 users spent a
	// quarter of its CPU here.
	b, err := gojson.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(&scim.Error{Status: status, Detail: "internal error"})
	}
	writeSCIMBody(w, status, append(b, '\n'))
}

// writeSCIMBody writes b, a JSON document and its newline, as
// application/scim+json.
func writeSCIMBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", scim.MediaType+"; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// readBody reads the request body within the configured size limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidSyntax, "cannot read the request body")
	}
	if err := scim.CheckBody(b); err != nil {
		return nil, err
	}
	return b, nil
}

// readObject reads a body that must be a JSON object, within the
// configured size limit.
func (s *Server) readObject(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	b, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidSyntax, "the body must be a JSON object")
	}
	return m, nil
}

// pageParams reads startIndex and count (RFC 7644 §3.4.2.4): 1-based,
// values below 1 mean 1, a negative count means 0, count is capped at
// maxPageSize.
func pageParams(startIndexParam, countParam string) (startIndex, count int, err error) {
	startIndex, count = 1, defaultPageSize
	if v := startIndexParam; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "startIndex must be an integer, not %q", v)
		}
		startIndex = max(n, 1)
	}
	if v := countParam; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "count must be an integer, not %q", v)
		}
		count = min(max(n, 0), maxPageSize)
	}
	return startIndex, count, nil
}

// listQuery reads the query parameters of a GET list (filter, sortBy,
// sortOrder, startIndex, count) into a directory.Query; see
// queryFromParams.
func listQuery(r *http.Request) (directory.Query, error) {
	v := r.URL.Query()
	return queryFromParams(v.Get("filter"), v.Get("sortBy"), v.Get("sortOrder"), v.Get("startIndex"), v.Get("count"))
}

// queryFromParams builds the query of a list from its parameter values,
// wherever they came from (a GET's URL, a SearchRequest body):
//
//   - filter is parsed (400 invalidFilter, tooMany);
//   - sortBy is kept as given, trimmed: it names an attribute of a
//     resource type, which sortFor resolves once the type is known;
//   - sortOrder is ascending (the default) or descending,
//     case-insensitively, and anything else is 400 invalidValue. Without
//     sortBy it is checked and otherwise ignored: the creation order has
//     no direction to reverse (RFC 7644 §3.4.2.3 defines sortOrder only
//     as the order sortBy is applied in);
//   - startIndex and count as page reads them.
func queryFromParams(filter, sortBy, sortOrder, startIndex, count string) (directory.Query, error) {
	start, n, err := pageParams(startIndex, count)
	if err != nil {
		return directory.Query{}, err
	}
	q := directory.Query{StartIndex: start, Count: n, SortBy: strings.TrimSpace(sortBy)}
	switch o := strings.TrimSpace(sortOrder); {
	case o == "", strings.EqualFold(o, "ascending"):
	case strings.EqualFold(o, "descending"):
		q.SortDescending = q.SortBy != ""
	default:
		return q, scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "sortOrder must be ascending or descending, not %q", sortOrder)
	}
	if f := strings.TrimSpace(filter); f != "" {
		if q.Filter, err = scim.ParseFilter(f); err != nil {
			return q, err
		}
	}
	return q, nil
}

// sortFor resolves q.SortBy against rt into the canonical path the store
// takes (scim.SortPath): 400 invalidValue naming an attribute that cannot
// be sorted by.
func sortFor(q *directory.Query, rt *scim.ResourceType) error {
	if q.SortBy == "" {
		return nil
	}
	path, err := scim.SortPath(rt, q.SortBy)
	q.SortBy = path
	return err
}

// projectionParams are the names of the attributes and excludedAttributes
// parameters of r (each may be repeated, each value a comma-separated
// list).
func projectionParams(r *http.Request) (attributes, excluded []string) {
	v := r.URL.Query()
	return scim.SplitAttrList(strings.Join(v["attributes"], ",")), scim.SplitAttrList(strings.Join(v["excludedAttributes"], ","))
}

// projection is the scim.Projection r asks for on resources of type rt:
// nil, all attributes returned by default, when r has neither parameter.
func projection(r *http.Request, rt *scim.ResourceType) (*scim.Projection, error) {
	attributes, excluded := projectionParams(r)
	return scim.NewProjection(rt, attributes, excluded)
}

// listResponse is the RFC 7644 §3.4.2 ListResponse.
type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
}

func newList(total, startIndex int, resources []any) listResponse {
	if resources == nil {
		resources = []any{}
	}
	return listResponse{Schemas: []string{scim.ListResponseURN}, TotalResults: total, StartIndex: startIndex, ItemsPerPage: len(resources), Resources: resources}
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func etag(version int64) string { return scim.VersionETag(version) }

// ifMatch is the If-Match list of r, nil when r has none (RFC 7644
// §3.14). meta.version and the ETag header are the weak tag of the
// resource's version. The If-Match of a PUT, PATCH or DELETE is handed to
// the directory service (directory.Target.IfMatch), which makes the write
// conditional: 412 when it names no current version (see
// pkg/directory/versions.go). A request whose body or parameters cannot
// be parsed is 400 before If-Match is looked at; If-Match on a GET is
// ignored.
func ifMatch(r *http.Request) *scim.ETagList {
	l, ok := scim.ParseETagList(r.Header.Values("If-Match"))
	if !ok {
		return nil
	}
	return &l
}

// notModified answers 304, with the ETag and no body, if the
// If-None-Match of r names version (or is "*"). It is only asked on a GET
// of one resource: If-None-Match on a write is ignored.
func notModified(w http.ResponseWriter, r *http.Request, version int64) bool {
	l, ok := scim.ParseETagList(r.Header.Values("If-None-Match"))
	if !ok || !l.Match(etag(version)) {
		return false
	}
	w.Header().Set("ETag", etag(version))
	w.WriteHeader(http.StatusNotModified)
	return true
}

func meta(resourceType, location string, created, modified time.Time, version int64) map[string]any {
	return map[string]any{
		"resourceType": resourceType,
		"created":      formatTime(created),
		"lastModified": formatTime(modified),
		"location":     location,
		"version":      etag(version),
	}
}
