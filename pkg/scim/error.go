package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Message and schema URNs used on the wire.
const (
	ErrorURN                 = "urn:ietf:params:scim:api:messages:2.0:Error"
	ListResponseURN          = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	PatchOpURN               = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SearchRequestURN         = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	UserURN                  = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupURN                 = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserURN        = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	SchemaURN                = "urn:ietf:params:scim:schemas:core:2.0:Schema"
	ResourceTypeURN          = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	ServiceProviderConfigURN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
)

// MediaType is the content type of every SCIM response.
const MediaType = "application/scim+json"

// scimType values defined by RFC 7644 §3.12.
const (
	TypeInvalidFilter = "invalidFilter"
	TypeTooMany       = "tooMany"
	TypeUniqueness    = "uniqueness"
	TypeMutability    = "mutability"
	TypeInvalidSyntax = "invalidSyntax"
	TypeInvalidPath   = "invalidPath"
	TypeNoTarget      = "noTarget"
	TypeInvalidValue  = "invalidValue"
	TypeInvalidVers   = "invalidVers"
	TypeSensitive     = "sensitive"
)

// Error is a SCIM protocol error. It marshals to the RFC 7644 §3.12 error
// body and is what every layer returns when the identity provider must see a
// specific status and scimType.
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

// Errorf returns an *Error with a formatted detail.
func Errorf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.ScimType != "" {
		return fmt.Sprintf("scim %d %s: %s", e.Status, e.ScimType, e.Detail)
	}
	return fmt.Sprintf("scim %d: %s", e.Status, e.Detail)
}

type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
}

// MarshalJSON writes the RFC 7644 error body, with status as a string.
func (e *Error) MarshalJSON() ([]byte, error) {
	detail := e.Detail
	if detail == "" {
		detail = http.StatusText(e.Status)
	}
	return json.Marshal(errorBody{Schemas: []string{ErrorURN}, Status: strconv.Itoa(e.Status), ScimType: e.ScimType, Detail: detail})
}

// UnmarshalJSON reads an error body; status may be a string or a number, as
// servers in the wild send both.
func (e *Error) UnmarshalJSON(b []byte) error {
	var raw struct {
		Status   json.RawMessage `json:"status"`
		ScimType string          `json:"scimType"`
		Detail   string          `json:"detail"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	s := string(raw.Status)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	e.Status, _ = strconv.Atoi(s)
	e.ScimType = raw.ScimType
	e.Detail = raw.Detail
	return nil
}

// AsError reports whether err is (or wraps) a *Error and returns it.
func AsError(err error) (*Error, bool) {
	var se *Error
	if errors.As(err, &se) {
		return se, true
	}
	return nil, false
}
