package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
)

// A Scenario is a sequence of SCIM requests an identity provider makes, each
// with what a conforming server answers. It is data: scenarios are JSON
// files (see the embedded ones under scenarios/ and the README), and
// authoring a new one needs no Go code.
//
// A scenario's steps run in order and share its variables. Each step is one
// request and at least one check: the step's own (its status and
// assertions), one per assertion that names a check of its own, and, when
// the run has admin access to a kacescim server, one for the directory user
// the step should have produced.
type Scenario struct {
	// Suite is the suite the scenario belongs to, e.g. "okta-lifecycle".
	// Loaded from a directory, it defaults to the name of the folder the
	// file is in.
	Suite string `json:"suite"`
	// Name names the scenario in reports, e.g. "User lifecycle".
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Source is the default source of the steps' checks: the RFC section
	// or identity-provider document the expectations come from.
	Source string `json:"source,omitempty"`
	// Requires lists the capabilities the scenario needs (see
	// Capability); without them its checks are skipped, saying why.
	Requires []Capability `json:"requires,omitempty"`
	// Vars are the scenario's own variables, set in order of their names
	// after the built-in ones (rand, uuid, baseURL); their values may use
	// the built-in ones ("kcs-{{rand}}@example.com").
	Vars map[string]string `json:"vars,omitempty"`
	// Steps are the requests, sent in order.
	Steps []Step `json:"steps"`
	// Cleanup steps run after the steps, in order, unless the run keeps
	// its resources (Options.Keep). They are not checks: a cleanup that
	// fails is reported as a leftover. Cleanup steps whose variables were
	// never set (the resource was not created) are not sent.
	Cleanup []Step `json:"cleanup,omitempty"`

	file    string // where it was loaded from, for messages
	builtin bool   // one of BuiltinScenarios
}

// A Step is one request and what its answer must be.
type Step struct {
	// Name is the name of the step's check, unique within its suite
	// (cleanup steps have none).
	Name string `json:"name,omitempty"`
	// Severity is MUST (the default), SHOULD or MAY.
	Severity Severity `json:"severity,omitempty"`
	// Source overrides the scenario's Source for this step's checks.
	Source   string       `json:"source,omitempty"`
	Requires []Capability `json:"requires,omitempty"`
	// After names earlier steps of the scenario whose own checks must have
	// passed: a read-back waits on the write it reads back, so that a
	// refused write fails its own check and skips, not fails, the
	// read-back.
	After []string `json:"after,omitempty"`
	// UnlessFailed names earlier steps whose failure skips this one; unlike
	// After, the step runs when they were skipped or not run. A step that
	// applies to every server but would only repeat an earlier failure
	// (a DELETE of the user a dialect step may have removed) waits on
	// that failure, not on the dialect being supported.
	UnlessFailed []string `json:"unlessFailed,omitempty"`

	Method string `json:"method"`
	// Path is relative to the SCIM base URL ("/Users?filter=userName eq
	// \"{{userName}}\""). Characters a URL cannot hold are percent-encoded;
	// variables used in the query are query-escaped.
	Path string `json:"path"`
	// Auth says how the request authenticates: "bearer" (the default:
	// Authorization: Bearer <key>), "bare" (the key alone, as some Okta
	// set-ups send it), "none" (no Authorization header) or "invalid" (a
	// well-formed key that is not valid).
	Auth string `json:"auth,omitempty"`
	// Headers are sent as written (after substitution). Content-Type
	// defaults to application/scim+json when there is a body.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the JSON body. Strings in it (keys too) may hold
	// {{variables}}; a string that is exactly "{{name|json}}" is replaced
	// by the variable's JSON value (a captured object, say).
	Body json.RawMessage `json:"body,omitempty"`
	// RawBody is sent as written instead of Body, for bodies that are not
	// JSON or not valid.
	RawBody *string `json:"rawBody,omitempty"`

	Expect Expect `json:"expect,omitzero"`
	// Capture saves parts of the answer in variables for later steps:
	// name → a JSON path ("id", "Resources[0].id", "meta.version"), "$"
	// for the whole JSON body, or "header:Name" for a header.
	Capture map[string]string `json:"capture,omitempty"`
	// Directory is what the directory user must hold after the step, when
	// the run can read the directory (Options.Directory).
	Directory *DirectoryExpect `json:"directory,omitempty"`
}

// Expect is what a step's answer must be.
type Expect struct {
	// Status lists the acceptable HTTP statuses: a number or an array.
	// Empty accepts any status below 400.
	Status Statuses `json:"status,omitempty"`
	// Assert lists the assertions on headers and body.
	Assert []Assertion `json:"assert,omitempty"`
}

// Statuses is a set of HTTP statuses, written as one number or an array.
type Statuses []int

// UnmarshalJSON accepts a number or an array of numbers.
func (s *Statuses) UnmarshalJSON(b []byte) error {
	var one int
	if err := json.Unmarshal(b, &one); err == nil {
		*s = Statuses{one}
		return nil
	}
	var many []int
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("status must be a number or an array of numbers, not %s", b)
	}
	*s = many
	return nil
}

// An Assertion checks one thing of an answer: a value of the JSON body
// (JSON), a header (Header) or the body as text (Text).
type Assertion struct {
	// JSON is a path into the body: names separated by dots, [n] indexes,
	// [*] for every element ("Resources[*].userName"), URN-qualified names
	// ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department");
	// "" or "$" is the whole body.
	JSON *string `json:"json,omitempty"`
	// Header names a response header.
	Header string `json:"header,omitempty"`
	// Text checks the body as text.
	Text bool `json:"text,omitempty"`
	// Op is the comparison: one of Runscope's (equal, not_equal,
	// equal_number, empty, not_empty, is_null, contains, does_not_contain,
	// has_value, has_key, is_a_number, is_less_than,
	// is_less_than_or_equal, is_greater_than, is_greater_than_or_equal)
	// or present, absent, equal_fold, equal_json, type, length, matches,
	// has_element, lacks_element, has_elements, like, sorted, one_of,
	// faster_than (the answer came in less than Value milliseconds).
	Op string `json:"op"`
	// Value is the expected value; strings in it may hold {{variables}}.
	Value json.RawMessage `json:"value,omitempty"`
	// Check, when set, reports this assertion as a check of its own, named
	// so, with its own Severity (default: the step's) and Source.
	Check    string   `json:"check,omitempty"`
	Severity Severity `json:"severity,omitempty"`
	Source   string   `json:"source,omitempty"`
}

// DirectoryExpect is what the directory user a step created or changed
// must hold: the mapping outcome.
type DirectoryExpect struct {
	// User is the SCIM id of the user ("{{userId}}").
	User string `json:"user"`
	// Fields are the fields' expected values; "" means the field is empty
	// or absent.
	Fields map[string]string `json:"fields,omitempty"`
	// Absent means the user must not be in the directory (after a DELETE).
	Absent bool `json:"absent,omitempty"`
	// Check names the check (default: the step's name + ": directory
	// user"); Severity and Source default to the step's.
	Check    string   `json:"check,omitempty"`
	Severity Severity `json:"severity,omitempty"`
	Source   string   `json:"source,omitempty"`
}

// Capability is a feature a scenario or step needs from the server or the
// run.
type Capability string

const (
	// CapGroups: the server serves Groups (its /ResourceTypes lists Group).
	CapGroups Capability = "groups"
	// CapFilter, CapSort, CapETag, CapBulk, CapPatch and
	// CapChangePassword: /ServiceProviderConfig says the feature is
	// supported.
	CapFilter         Capability = "filter"
	CapSort           Capability = "sort"
	CapETag           Capability = "etag"
	CapBulk           Capability = "bulk"
	CapPatch          Capability = "patch"
	CapChangePassword Capability = "changePassword"
	// CapEnterprise: /Schemas or /ResourceTypes lists the enterprise
	// extension.
	CapEnterprise Capability = "enterprise"
	// CapDirectory: the run can read the directory (mapping outcomes).
	CapDirectory Capability = "directory"
	// CapLenient: the server accepts the identity providers' non-RFC
	// dialect (Entra's); a run against a strict server sets it false.
	// CapStrict is its opposite: the server refuses what the RFCs do not
	// allow, as its /ServiceProviderConfig says (kacescim's dialect
	// extension) or the run is told.
	CapLenient Capability = "lenient"
	CapStrict  Capability = "strict"
)

var knownCapabilities = []Capability{CapGroups, CapFilter, CapSort, CapETag, CapBulk, CapPatch, CapChangePassword, CapEnterprise, CapDirectory, CapLenient, CapStrict}

// Auth modes of a step.
const (
	AuthBearer  = "bearer"
	AuthBare    = "bare"
	AuthNone    = "none"
	AuthInvalid = "invalid"
)

var knownOps = []string{
	"equal", "not_equal", "equal_number", "empty", "not_empty", "is_null", "contains",
	"does_not_contain", "has_value", "has_key", "is_a_number", "is_less_than",
	"is_less_than_or_equal", "is_greater_than", "is_greater_than_or_equal",
	"present", "absent", "equal_fold", "equal_json", "type", "length", "matches",
	"has_element", "lacks_element", "sorted", "one_of", "like", "has_elements",
	"faster_than",
}

// ParseScenario decodes and validates one scenario file. name is used in
// messages (the file's path).
func ParseScenario(name string, data []byte) (*Scenario, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	s.file = name
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	return &s, nil
}

// Validate reports everything that makes s an invalid scenario, as
// ParseScenario does for a file: for scenarios made in code, such as the
// ones package record builds from recorded traffic.
func (s *Scenario) Validate() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("no name"))
	}
	if len(s.Steps) == 0 {
		errs = append(errs, errors.New("no steps"))
	}
	errs = append(errs, checkCapabilities(s.Requires)...)
	for i := range s.Steps {
		for _, err := range s.Steps[i].validate(false) {
			errs = append(errs, fmt.Errorf("step %d (%q): %w", i+1, s.Steps[i].Name, err))
		}
		for _, name := range s.Steps[i].After {
			if !slices.ContainsFunc(s.Steps[:i], func(st Step) bool { return st.Name == name }) {
				errs = append(errs, fmt.Errorf("step %d (%q): after %q: no earlier step of that name", i+1, s.Steps[i].Name, name))
			}
		}
		for _, name := range s.Steps[i].UnlessFailed {
			if !slices.ContainsFunc(s.Steps[:i], func(st Step) bool { return st.Name == name }) {
				errs = append(errs, fmt.Errorf("step %d (%q): unlessFailed %q: no earlier step of that name", i+1, s.Steps[i].Name, name))
			}
		}
	}
	for i := range s.Cleanup {
		for _, err := range s.Cleanup[i].validate(true) {
			errs = append(errs, fmt.Errorf("cleanup step %d: %w", i+1, err))
		}
	}
	return errors.Join(errs...)
}

func (st *Step) validate(cleanup bool) []error {
	var errs []error
	if st.Name == "" && !cleanup {
		errs = append(errs, errors.New("no name"))
	}
	switch strings.ToUpper(st.Method) {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
	default:
		errs = append(errs, fmt.Errorf("method %q is not an HTTP method", st.Method))
	}
	if !strings.HasPrefix(st.Path, "/") {
		errs = append(errs, fmt.Errorf("path %q must start with /", st.Path))
	}
	switch st.Auth {
	case "", AuthBearer, AuthBare, AuthNone, AuthInvalid:
	default:
		errs = append(errs, fmt.Errorf("auth %q is not bearer, bare, none or invalid", st.Auth))
	}
	switch st.Severity {
	case "", SeverityMust, SeverityShould, SeverityMay:
	default:
		errs = append(errs, fmt.Errorf("severity %q is not MUST, SHOULD or MAY", st.Severity))
	}
	if len(st.Body) > 0 && st.RawBody != nil {
		errs = append(errs, errors.New("both body and rawBody"))
	}
	if len(st.Body) > 0 && !json.Valid(st.Body) {
		errs = append(errs, errors.New("body is not valid JSON"))
	}
	errs = append(errs, checkCapabilities(st.Requires)...)
	for i, a := range st.Expect.Assert {
		if err := a.validate(); err != nil {
			errs = append(errs, fmt.Errorf("assertion %d: %w", i+1, err))
		}
	}
	for name, from := range st.Capture {
		if name == "" || from == "" {
			errs = append(errs, fmt.Errorf("capture %q from %q: both a name and a source are needed", name, from))
		}
	}
	if d := st.Directory; d != nil && d.User == "" {
		errs = append(errs, errors.New("directory: no user"))
	}
	return errs
}

func (a *Assertion) validate() error {
	targets := 0
	if a.JSON != nil {
		targets++
	}
	if a.Header != "" {
		targets++
	}
	if a.Text {
		targets++
	}
	if targets != 1 {
		return errors.New("exactly one of json, header and text")
	}
	if !slices.Contains(knownOps, a.Op) {
		return fmt.Errorf("op %q is not one of %s", a.Op, strings.Join(knownOps, ", "))
	}
	if len(a.Value) > 0 && !json.Valid(a.Value) {
		return errors.New("value is not valid JSON")
	}
	switch a.Severity {
	case "", SeverityMust, SeverityShould, SeverityMay:
	default:
		return fmt.Errorf("severity %q is not MUST, SHOULD or MAY", a.Severity)
	}
	return nil
}

func checkCapabilities(caps []Capability) []error {
	var errs []error
	for _, c := range caps {
		if !slices.Contains(knownCapabilities, c) {
			errs = append(errs, fmt.Errorf("unknown capability %q", c))
		}
	}
	return errs
}

// LoadScenarios reads every *.json file under root in fsys as a scenario.
// A scenario without a suite takes the name of its folder. Files are read
// in lexical order, which is the order scenarios run in within a suite.
func LoadScenarios(fsys fs.FS, root string) ([]*Scenario, error) {
	var out []*Scenario
	var errs []error
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(p) != ".json" {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		s, err := ParseScenario(p, data)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if s.Suite == "" {
			s.Suite = path.Base(path.Dir(p))
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario files (*.json) under %s", root)
	}
	if err := checkUniqueNames(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkUniqueNames refuses two checks of one name in a suite: --only and
// --skip select checks by name.
func checkUniqueNames(scenarios []*Scenario) error {
	seen := map[string]string{}
	var errs []error
	for _, s := range scenarios {
		for _, name := range s.CheckNames() {
			key := s.Suite + "\x00" + strings.ToLower(name)
			if prev, dup := seen[key]; dup {
				errs = append(errs, fmt.Errorf("suite %s: check %q is in both %s and %s", s.Suite, name, prev, s.file))
				continue
			}
			seen[key] = s.file
		}
	}
	return errors.Join(errs...)
}

// CheckNames are the names of every check the scenario can report: each
// step's, its assertions' own checks and its directory check.
func (s *Scenario) CheckNames() []string {
	var names []string
	for _, st := range s.Steps {
		names = append(names, stepCheckNames(st)...)
		names = append(names, modelCheckNames(st)...)
	}
	return names
}

// stepCheckNames are the names of a step's checks: its own, one per
// distinct assertion check, and its directory check. Several assertions of
// one step may share a check.
func stepCheckNames(st Step) []string {
	names := []string{st.Name}
	for _, a := range st.Expect.Assert {
		if a.Check != "" && !slices.Contains(names, a.Check) {
			names = append(names, a.Check)
		}
	}
	if st.Directory != nil {
		names = append(names, st.Directory.checkName(st.Name))
	}
	return names
}

func (d *DirectoryExpect) checkName(step string) string {
	if d.Check != "" {
		return d.Check
	}
	return step + ": directory user"
}
