package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// This file decides, for every error a handler returns, the status and
// the body the client gets: SCIM handlers and admin handlers alike return
// their errors and never write one themselves.
//
//   - *scim.Error (a malformed PATCH, an immutable attribute, a filter
//     that does not parse) carries its own status and scimType;
//   - *directory.Error has a code that errorTable maps;
//   - *http.MaxBytesError is a body over --max-body-bytes: 413;
//   - anything else is a bug or an outage: 500 "internal error", logged
//     in full and never shown.

// errorTable maps directory error codes to the HTTP status both APIs
// answer with and the scimType of the SCIM API's error body: the one place
// where that decision is made.
var errorTable = map[string]struct {
	status   int
	scimType string
}{
	directory.ENOTFOUND:     {http.StatusNotFound, ""},
	directory.ECONFLICT:     {http.StatusConflict, scim.TypeUniqueness},
	directory.EINVALID:      {http.StatusBadRequest, scim.TypeInvalidValue},
	directory.EBADFILTER:    {http.StatusBadRequest, scim.TypeInvalidFilter},
	directory.EUNAUTHORIZED: {http.StatusUnauthorized, ""},
	directory.EFORBIDDEN:    {http.StatusForbidden, ""},
	directory.ESTALE:        {http.StatusConflict, ""},
	directory.EPRECONDITION: {http.StatusPreconditionFailed, ""}, // RFC 7644 §3.14 gives it no scimType
	directory.ETOOMANY:      {http.StatusBadRequest, scim.TypeTooMany},
	directory.EUNAVAILABLE:  {http.StatusServiceUnavailable, ""}, // with Retry-After: Okta and Entra retry
	directory.EGONE:         {http.StatusGone, ""},
}

// unavailableRetryAfter is the Retry-After, in seconds, of a 503.
const unavailableRetryAfter = 2

// toSCIMError converts any error into the *scim.Error the client sees,
// and reports whether it is internal: a bare 500 with no detail from
// inside.
func toSCIMError(err error) (*scim.Error, bool) {
	if se, ok := scim.AsError(err); ok {
		return se, false
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return scim.Errorf(http.StatusRequestEntityTooLarge, "", "the request body is larger than the limit of %d bytes", mbe.Limit), false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = errDeadline
	}
	if e, ok := errorTable[directory.ErrorCode(err)]; ok {
		return &scim.Error{Status: e.status, ScimType: e.scimType, Detail: directory.ErrorMessage(err)}, false
	}
	return &scim.Error{Status: http.StatusInternalServerError, Detail: "internal error"}, true
}

// errDeadline is what a request that ran out of its deadline (Config.
// RequestTimeout) answers: the database did not answer in time.
var errDeadline = directory.Errorf(directory.EUNAVAILABLE, "the database did not answer in time; try again")

// writeSCIMError answers a SCIM request with the error body for err and
// notes its detail for the provisioning log.
func (s *Server) writeSCIMError(w http.ResponseWriter, r *http.Request, err error) {
	se, internal := toSCIMError(err)
	if len(se.Detail) > maxErrorDetail {
		c := *se
		c.Detail = clipText(c.Detail, maxErrorDetail)
		se = &c
	}
	infoFrom(r.Context()).errDetail = se.Detail
	if internal {
		s.log.Error("internal error", "request_id", infoFrom(r.Context()).id, "err", err)
	}
	switch se.Status {
	case http.StatusUnauthorized:
		// RFC 6750 §3.1: a credential that was sent and is not (or no
		// longer) good is invalid_token; a request without one gets the
		// challenge alone.
		switch {
		case directory.IsExpired(err):
			w.Header().Set("WWW-Authenticate", `Bearer realm="kacescim", error="invalid_token", error_description="the credential expired"`)
		case strings.TrimSpace(r.Header.Get("Authorization")) != "":
			w.Header().Set("WWW-Authenticate", `Bearer realm="kacescim", error="invalid_token"`)
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="kacescim"`)
		}
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(unavailableRetryAfter))
		s.log.Warn("unavailable, answered 503", "request_id", infoFrom(r.Context()).id, "err", err)
	}
	writeSCIM(w, se.Status, se)
}

// toAdminError converts any error into the status and error body of the
// admin API, and reports whether it is internal.
func toAdminError(err error) (int, adminapi.Error, bool) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, adminapi.Error{
			Code:    directory.EINVALID,
			Message: fmt.Sprintf("request body is larger than the %d-byte limit", mbe.Limit),
		}, false
	}
	code := directory.ErrorCode(err)
	if e, ok := errorTable[code]; ok {
		return e.status, adminapi.Error{Code: code, Message: directory.ErrorMessage(err)}, false
	}
	return http.StatusInternalServerError, adminapi.Error{Code: directory.EINTERNAL, Message: "internal error"}, true
}

// writeAdminError answers an admin request with the ErrorBody for err.
// Internal errors are logged in full and shown only as "internal error".
func (s *Server) writeAdminError(w http.ResponseWriter, r *http.Request, err error) {
	status, body, internal := toAdminError(err)
	if internal {
		s.log.LogAttrs(r.Context(), slog.LevelError, "admin request failed",
			slog.String("request_id", infoFrom(r.Context()).id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("error", err.Error()),
		)
	}
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="kacescim admin"`)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(unavailableRetryAfter))
	}
	s.adminJSON(w, r, status, adminapi.ErrorBody{Error: body})
}
