package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// An Exchange is one request an identity provider sent through a Recorder
// and the answer the upstream server gave. It holds the request as it came,
// Authorization included: it lives in memory only, and BuildScenario is
// what turns it into something safe to write.
type Exchange struct {
	// Time is when the answer was complete.
	Time time.Time
	// Method and Path: Path is relative to the upstream SCIM base URL,
	// with the query as it was sent ("/Users?filter=userName%20eq%20...").
	Method string
	Path   string
	// RequestHeader and RequestBody are the request as the client sent it.
	RequestHeader http.Header
	RequestBody   []byte
	// Status, ResponseHeader and ResponseBody are the upstream's answer.
	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte
	// Truncated is set when a body was larger than the recorder keeps: the
	// exchange was proxied in full but cannot be replayed.
	Truncated bool
}

// RecorderConfig configures a Recorder.
type RecorderConfig struct {
	// Upstream is the SCIM base URL the recorder forwards to, e.g.
	// https://scim.example.com/scim/v2.
	Upstream string
	// Dir is where Flush writes scenario files; it must exist.
	Dir string
	// Name is the suite of the scenarios written and the stem of their
	// file names (default "recorded").
	Name string
	// Transport sends the requests upstream; nil uses a clone of
	// http.DefaultTransport with a response-header timeout.
	Transport http.RoundTripper
	// Insecure accepts any TLS certificate from the upstream (test servers
	// only). It applies to the default transport only.
	Insecure bool
	// MaxBodyBytes bounds the bodies kept (default 10 MiB); larger
	// exchanges are proxied but not recorded.
	MaxBodyBytes int64
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnExchange, when set, is called after each exchange, e.g. to log it.
	// The exchange holds the Authorization header: never print it.
	OnExchange func(Exchange)
}

// DefaultRecordName is the suite name of recorded scenarios unless
// RecorderConfig.Name says otherwise.
const DefaultRecordName = "recorded"

// upstreamTimeout is how long the recorder waits for the upstream's
// answer: Okta gives up after 60 seconds.
const upstreamTimeout = 60 * time.Second

// A Recorder is a reverse proxy in front of a SCIM server that records
// every exchange and writes them as a scenario that Run replays: the
// recorded identity-provider traffic becomes a test (see BuildScenario for
// how). It is an http.Handler: the identity provider's SCIM base URL is
// wherever the handler is served.
type Recorder struct {
	cfg      RecorderConfig
	upstream *url.URL
	proxy    *httputil.ReverseProxy

	mu        sync.Mutex
	exchanges []Exchange
	closed    bool
}

var _ http.Handler = (*Recorder)(nil)

// NewRecorder returns a Recorder forwarding to cfg.Upstream.
func NewRecorder(cfg RecorderConfig) (*Recorder, error) {
	u, err := url.Parse(cfg.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream %q is not an http(s) URL", cfg.Upstream)
	}
	u.RawQuery, u.Fragment = "", ""
	if cfg.Name == "" {
		cfg.Name = DefaultRecordName
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rt := cfg.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = upstreamTimeout
		if cfg.Insecure {
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only by explicit flag
		}
		rt = t
	}
	r := &Recorder{cfg: cfg, upstream: u}
	r.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// The transport then asks for gzip itself and decompresses,
			// so the recorded body is the JSON.
			pr.Out.Header.Del("Accept-Encoding")
		},
		Transport: rt,
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			if st, ok := req.Context().Value(exchangeKey{}).(*exchangeState); ok {
				st.failed = true
			}
			http.Error(w, "kacescim record: the upstream did not answer: "+err.Error(), http.StatusBadGateway)
		},
	}
	return r, nil
}

type exchangeKey struct{}

// exchangeState is what the proxy's error handler tells ServeHTTP.
type exchangeState struct{ failed bool }

// ServeHTTP forwards req to the upstream and records the exchange.
func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		http.Error(w, "kacescim record: the recording is closed", http.StatusServiceUnavailable)
		return
	}
	r.stripBasePath(req)
	ex := Exchange{Method: req.Method, Path: req.URL.EscapedPath(), RequestHeader: req.Header.Clone()}
	if req.URL.RawQuery != "" {
		ex.Path += "?" + req.URL.RawQuery
	}
	if req.Body != nil && req.Body != http.NoBody {
		body, complete, err := readUpTo(req.Body, r.cfg.MaxBodyBytes)
		if err != nil {
			http.Error(w, "kacescim record: reading the request: "+err.Error(), http.StatusBadRequest)
			return
		}
		ex.RequestBody, ex.Truncated = body, !complete
		rest := io.Reader(bytes.NewReader(body))
		if !complete {
			rest = io.MultiReader(rest, req.Body)
		}
		req.Body = io.NopCloser(rest)
	}
	st := &exchangeState{}
	req = req.WithContext(context.WithValue(req.Context(), exchangeKey{}, st))
	cw := &captureWriter{ResponseWriter: w, limit: r.cfg.MaxBodyBytes}
	r.proxy.ServeHTTP(cw, req)
	if st.failed {
		return
	}
	ex.Status = cw.status
	if ex.Status == 0 {
		ex.Status = http.StatusOK
	}
	ex.ResponseHeader = cw.header
	ex.ResponseBody = cw.body.Bytes()
	ex.Truncated = ex.Truncated || cw.truncated
	ex.Time = r.cfg.Now()
	r.mu.Lock()
	r.exchanges = append(r.exchanges, ex)
	r.mu.Unlock()
	if r.cfg.OnExchange != nil {
		r.cfg.OnExchange(ex)
	}
}

// stripBasePath lets the identity provider use the proxy's root or the
// upstream's own base path ("/scim/v2/Users") as its base URL.
func (r *Recorder) stripBasePath(req *http.Request) {
	base := strings.TrimRight(r.upstream.EscapedPath(), "/")
	if base == "" {
		return
	}
	ep := req.URL.EscapedPath()
	rest, ok := strings.CutPrefix(ep, base)
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		return
	}
	if rest == "" {
		rest = "/"
	}
	if p, err := url.PathUnescape(rest); err == nil {
		req.URL.Path, req.URL.RawPath = p, rest
	}
}

// readUpTo reads at most limit bytes; complete is false when there was
// more.
func readUpTo(r io.Reader, limit int64) (b []byte, complete bool, err error) {
	b, err = io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		return b, false, nil
	}
	return b, true, nil
}

// captureWriter passes the answer through and keeps a copy.
type captureWriter struct {
	http.ResponseWriter
	status    int
	header    http.Header
	body      bytes.Buffer
	limit     int64
	truncated bool
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
		c.header = c.ResponseWriter.Header().Clone()
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if room := c.limit - int64(c.body.Len()); int64(len(p)) > room {
		c.truncated = true
		c.body.Write(p[:max(room, 0)])
	} else {
		c.body.Write(p)
	}
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController (which the proxy flushes through)
// reach the real writer.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Exchanges returns a copy of the exchanges recorded since the last Flush.
func (r *Recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.exchanges)
}

// Flush writes the exchanges recorded since the last Flush as one scenario
// file in the configured directory and returns its path; with nothing
// recorded it writes nothing and returns "". Its checks are numbered after
// those of the suite's scenarios already in the directory, so that every
// check name stays unique.
func (r *Recorder) Flush() (string, error) {
	r.mu.Lock()
	exs := r.exchanges
	r.exchanges = nil
	r.mu.Unlock()
	if len(exs) == 0 {
		return "", nil
	}
	first := nextStepNumber(r.cfg.Dir, r.cfg.Name)
	s, err := BuildScenario(exs, RecordInfo{Suite: r.cfg.Name, Upstream: r.upstream.String(), FirstStep: first})
	if err != nil {
		return "", err
	}
	data, err := MarshalScenario(s)
	if err != nil {
		return "", err
	}
	return writeScenarioFile(r.cfg.Dir, r.cfg.Name, first, exs[0].Time, data)
}

// Close stops recording (later requests are refused with 503) and
// flushes what was recorded.
func (r *Recorder) Close() (string, error) {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return r.Flush()
}

// stepNumber finds the number of a recorded check name ("12. GET /Users").
var stepNumber = regexp.MustCompile(`^(\d+)\. `)

// nextStepNumber is one more than the highest check number of suite's
// scenarios in dir (1 when there are none).
func nextStepNumber(dir, suite string) int {
	next := 1
	entries, err := os.ReadDir(dir)
	if err != nil {
		return next
	}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		s, err := ParseScenario(e.Name(), data)
		if err != nil || (s.Suite != suite && !(s.Suite == "" && filepath.Base(dir) == suite)) {
			continue
		}
		for _, name := range s.checkNames() {
			if m := stepNumber.FindStringSubmatch(name); m != nil {
				if n, err := strconv.Atoi(m[1]); err == nil && n >= next {
					next = n + 1
				}
			}
		}
	}
	return next
}

// writeScenarioFile writes data as DIR/<name>-<first step>-<time>.json,
// never replacing a file, and returns its path. The zero-padded number of
// the first step makes the files sort, and so run, in recording order.
func writeScenarioFile(dir, name string, first int, t time.Time, data []byte) (string, error) {
	stem := fmt.Sprintf("%s-%05d-%s", fileStem(name), first, t.UTC().Format("20060102-150405"))
	for i := 1; ; i++ {
		p := filepath.Join(dir, stem+".json")
		if i > 1 {
			p = filepath.Join(dir, fmt.Sprintf("%s-%d.json", stem, i))
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("write the scenario: %w", err)
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
			return "", fmt.Errorf("write the scenario %s: %w", p, err)
		}
		return p, nil
	}
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileStem(name string) string {
	s := strings.Trim(unsafeFileChars.ReplaceAllString(name, "-"), "-.")
	if s == "" {
		return DefaultRecordName
	}
	return s
}

// MarshalScenario is s as an indented scenario file, written as a person
// would: a single status as a number, cleanup steps without the name and
// expectations they do not use.
func MarshalScenario(s *Scenario) ([]byte, error) {
	type scenarioAlias Scenario
	type stepAlias Step
	type expectOut struct {
		Status any         `json:"status,omitempty"`
		Assert []Assertion `json:"assert,omitempty"`
	}
	type stepOut struct {
		Name string `json:"name,omitempty"`
		*stepAlias
		Expect *expectOut `json:"expect,omitempty"`
	}
	type scenarioOut struct {
		*scenarioAlias
		Steps   []stepOut `json:"steps"`
		Cleanup []stepOut `json:"cleanup,omitempty"`
	}
	conv := func(steps []Step) []stepOut {
		var out []stepOut
		for i := range steps {
			st := &steps[i]
			so := stepOut{Name: st.Name, stepAlias: (*stepAlias)(st)}
			if len(st.Expect.Status) > 0 || len(st.Expect.Assert) > 0 {
				so.Expect = &expectOut{Assert: st.Expect.Assert}
				switch len(st.Expect.Status) {
				case 0:
				case 1:
					so.Expect.Status = st.Expect.Status[0]
				default:
					so.Expect.Status = []int(st.Expect.Status)
				}
			}
			out = append(out, so)
		}
		return out
	}
	v := scenarioOut{scenarioAlias: (*scenarioAlias)(s), Steps: conv(s.Steps), Cleanup: conv(s.Cleanup)}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// RecordInfo says where a recording comes from, for BuildScenario.
type RecordInfo struct {
	// Suite is the scenario's suite (default "recorded").
	Suite string
	// Name names the scenario (default: "Recorded <time>").
	Name string
	// Upstream is the SCIM base URL the traffic went to; strings that
	// start with it are written relative to {{baseURL}}.
	Upstream string
	// FirstStep is the number of the first check (default 1).
	FirstStep int
}

// PasswordPlaceholder replaces recorded passwords: unique per run, and of
// every character class a password policy may ask for.
const PasswordPlaceholder = "Rec-{{rand}}-pw1!"

// Prefix of the values a recording turns into variables: the replay's
// userName is "rec-<random>-" + the recorded one.
const recordedValuePrefix = "rec-{{rand}}-"

// BuildScenario turns recorded exchanges into a scenario that replays them
// against any server, the one they were recorded from included:
//
//   - Secrets are left out. No Authorization header is written: steps use
//     the replaying run's key ("bare" when the identity provider sent the
//     key without "Bearer"), a recorded 401 becomes auth "invalid" (or
//     "none" when no key was sent). Headers that carry credentials or
//     token-like values are dropped, the recorded keys are redacted
//     wherever they show up, and passwords become PasswordPlaceholder.
//   - The values the identity provider chose (userName, displayName,
//     externalId, emails in request bodies and in "eq" filters) become
//     variables "rec-{{rand}}-<value>", substituted wherever the value is
//     a whole string or quoted in one (filters, PATCH paths), so that the
//     replay creates fresh resources instead of colliding with the
//     recorded ones.
//   - Ids the server answered with are captured (user1Id, group1Id, ...)
//     when the request created the resource or a later request uses them,
//     and replaced by the variable after that; so are versions (ETags)
//     that a later request sends in If-Match or If-None-Match.
//   - Each step expects the recorded status and, for JSON answers, a few
//     stable values: schemas, id, userName/displayName/externalId when
//     they are variables, active, totalResults of lists filtered on a
//     variable. Never timestamps, locations or other server-made values.
//   - Resources created by a POST that the recording did not delete get a
//     DELETE cleanup step.
//
// Exchanges with truncated bodies are left out and listed in the
// description.
func BuildScenario(exchanges []Exchange, info RecordInfo) (*Scenario, error) {
	if len(exchanges) == 0 {
		return nil, errors.New("nothing recorded")
	}
	if info.Suite == "" {
		info.Suite = DefaultRecordName
	}
	if info.FirstStep <= 0 {
		info.FirstStep = 1
	}
	b := newBuilder(exchanges, info)
	return b.build()
}

// builder is the state of one BuildScenario.
type builder struct {
	info     RecordInfo
	exs      []Exchange // the replayable ones
	left     []string   // what was left out, for the description
	upstream string     // base URL without a trailing slash
	host     string
	red      redactor

	// values maps a recorded value to its variable; valueOrder keeps the
	// order they were found in.
	values     map[string]string
	valueOrder []string
	vars       map[string]string
	counters   map[string]int

	// ids maps a captured id to its variable, from the step after the
	// capture on.
	ids map[string]string
	// versionUse[j][etag] is the variable request j sends as etag.
	versionUse map[int]map[string]string
	// texts[j] is request j as text, to find what later requests use.
	texts []string
}

func newBuilder(exchanges []Exchange, info RecordInfo) *builder {
	b := &builder{
		info:       info,
		upstream:   strings.TrimRight(info.Upstream, "/"),
		values:     map[string]string{},
		vars:       map[string]string{},
		counters:   map[string]int{},
		ids:        map[string]string{},
		versionUse: map[int]map[string]string{},
	}
	if u, err := url.Parse(info.Upstream); err == nil {
		b.host = u.Host
		u.User = nil
		b.upstream = strings.TrimRight(u.String(), "/")
	}
	var auths []string
	for _, ex := range exchanges {
		auths = append(auths, ex.RequestHeader.Values("Authorization")...)
		auths = append(auths, ex.RequestHeader.Values("Proxy-Authorization")...)
		if ex.Truncated {
			b.left = append(b.left, fmt.Sprintf("%s %s (a body over the size kept)", ex.Method, pathOnly(ex.Path)))
			continue
		}
		b.exs = append(b.exs, ex)
	}
	b.red = newRedactor(nil, auths...)
	for _, ex := range b.exs {
		b.texts = append(b.texts, requestText(ex))
	}
	return b
}

func pathOnly(p string) string {
	before, _, _ := strings.Cut(p, "?")
	return before
}

// requestText is everything of a request a later value could show up in.
func requestText(ex Exchange) string {
	var sb strings.Builder
	sb.WriteString(ex.Path)
	sb.WriteByte('\n')
	if u, err := url.PathUnescape(pathOnly(ex.Path)); err == nil {
		sb.WriteString(u)
	}
	sb.WriteByte('\n')
	if _, q, ok := strings.Cut(ex.Path, "?"); ok {
		if u, err := url.QueryUnescape(q); err == nil {
			sb.WriteString(u)
		}
	}
	sb.WriteByte('\n')
	sb.Write(ex.RequestBody)
	for _, k := range sortedKeys(ex.RequestHeader) {
		if strings.EqualFold(k, "Authorization") {
			continue
		}
		for _, v := range ex.RequestHeader[k] {
			sb.WriteString("\n" + v)
		}
	}
	return sb.String()
}

func (b *builder) build() (*Scenario, error) {
	if len(b.exs) == 0 {
		return nil, errors.New("nothing replayable recorded: " + strings.Join(b.left, "; "))
	}
	b.findValues()
	b.findVersions()
	start := b.exs[0].Time.UTC()
	s := &Scenario{
		Suite:  b.info.Suite,
		Name:   b.info.Name,
		Source: fmt.Sprintf("recorded %s from %s", start.Format(time.RFC3339), b.host),
		Vars:   b.vars,
	}
	if s.Name == "" {
		s.Name = "Recorded " + start.Format(time.RFC3339)
	}
	s.Description = fmt.Sprintf("%d requests recorded by kacescim record from %s.", len(b.exs), b.host)
	if len(b.left) > 0 {
		s.Description += " Left out: " + strings.Join(b.left, "; ") + "."
	}
	if len(s.Vars) == 0 {
		s.Vars = nil
	}
	type created struct{ collection, id, path string }
	var made []created
	deleted := map[string]bool{}
	for i, ex := range b.exs {
		st := b.step(i, ex, b.info.FirstStep+i)
		s.Steps = append(s.Steps, st)
		if strings.EqualFold(ex.Method, http.MethodPost) && ex.Status >= 200 && ex.Status < 300 {
			if v := st.Capture; v != nil {
				for name, from := range v {
					if from == "id" {
						coll := strings.TrimRight(pathOnly(st.Path), "/")
						made = append(made, created{collection: coll, id: name, path: coll + "/{{" + name + "}}"})
					}
				}
			}
		}
		if strings.EqualFold(ex.Method, http.MethodDelete) && (ex.Status < 300 || ex.Status == http.StatusNotFound) {
			deleted[st.Path] = true
		}
	}
	for i := len(made) - 1; i >= 0; i-- {
		if !deleted[made[i].path] {
			s.Cleanup = append(s.Cleanup, Step{Method: http.MethodDelete, Path: made[i].path})
		}
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("the recording makes an invalid scenario: %w", err)
	}
	return s, nil
}

// valueAttrs are the attributes whose recorded values become variables,
// with the stem of the variable's name.
var valueAttrs = map[string]string{
	"username":    "userName",
	"displayname": "displayName",
	"externalid":  "externalId",
}

// filterValue finds `attr eq "value"` in a filter.
var filterValue = regexp.MustCompile(`(?i)\b(userName|displayName|externalId|emails(?:\.value)?|emails\[[^\]]*\]\.value)\s+eq\s+"((?:[^"\\]|\\.)*)"`)

// findValues gives each value the identity provider chose a variable:
// those of request bodies first (they are the values as created), then
// those of filters.
func (b *builder) findValues() {
	for _, ex := range b.exs {
		if v, err := decodeJSON(ex.RequestBody); err == nil {
			b.valuesIn(v, "")
		}
	}
	for _, ex := range b.exs {
		for _, q := range queryParts(ex.Path) {
			if !strings.EqualFold(q.key, "filter") {
				continue
			}
			for _, m := range filterValue.FindAllStringSubmatch(q.value, -1) {
				lit := m[2]
				if u, err := strconv.Unquote(`"` + lit + `"`); err == nil {
					lit = u
				}
				attr := strings.ToLower(m[1])
				if strings.HasPrefix(attr, "emails") {
					b.addValue("email", lit)
				} else {
					b.addValue(valueAttrs[attr], lit)
				}
			}
		}
	}
}

// valuesIn collects the values of v; attr is the attribute v is the value
// of (a PATCH operation's path, or the key it is under).
func (b *builder) valuesIn(v any, attr string) {
	la := strings.ToLower(attr)
	if i := strings.LastIndex(la, ":"); i >= 0 { // URN-qualified
		la = la[i+1:]
	}
	switch x := v.(type) {
	case string:
		if stem, ok := valueAttrs[la]; ok {
			b.addValue(stem, x)
		} else if la == "emails" || la == "emails.value" || (strings.HasPrefix(la, "emails[") && strings.HasSuffix(la, "].value")) {
			b.addValue("email", x)
		}
	case []any:
		for _, e := range x {
			if la == "emails" {
				if m, ok := e.(map[string]any); ok {
					if s, ok := m["value"].(string); ok {
						b.addValue("email", s)
					}
					continue
				}
			}
			b.valuesIn(e, attr)
		}
	case map[string]any:
		// A PATCH operation: its value is that of its path.
		if p, ok := x["path"].(string); ok {
			if val, ok := x["value"]; ok {
				b.valuesIn(val, p)
			}
		}
		for _, k := range sortedMapKeys(x) {
			if k == "path" || (k == "value" && x["path"] != nil) {
				continue
			}
			b.valuesIn(x[k], k)
		}
	}
}

// sortedMapKeys orders an object's keys so that variable numbers are
// stable, with emails last: a userName that is also the email address
// names its variable userName.
func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ei, ej := strings.EqualFold(keys[i], "emails"), strings.EqualFold(keys[j], "emails")
		if ei != ej {
			return ej
		}
		return keys[i] < keys[j]
	})
	return keys
}

func (b *builder) addValue(stem, lit string) {
	if stem == "" || strings.TrimSpace(lit) == "" || strings.Contains(lit, "{{") {
		return
	}
	if _, ok := b.values[lit]; ok {
		return
	}
	b.counters[stem]++
	name := fmt.Sprintf("%s%d", stem, b.counters[stem])
	b.values[lit] = name
	b.valueOrder = append(b.valueOrder, lit)
	b.vars[name] = recordedValuePrefix + b.red.apply(lit)
}

// findVersions finds, for each If-Match or If-None-Match value a request
// sends, the latest earlier answer that carried it; those answers capture
// it (see step).
func (b *builder) findVersions() {
	for j, ex := range b.exs {
		for _, h := range []string{"If-Match", "If-None-Match"} {
			for _, v := range ex.RequestHeader.Values(h) {
				v = strings.TrimSpace(v)
				if v == "" || v == "*" {
					continue
				}
				for i := j - 1; i >= 0; i-- {
					if from := versionSource(b.exs[i], v); from != "" {
						if b.versionUse[j] == nil {
							b.versionUse[j] = map[string]string{}
						}
						// Filled in with the variable's name when step i
						// is built; until then, where to capture it from.
						b.versionUse[j][v] = fmt.Sprintf("\x00%d\x00%s", i, from)
						break
					}
				}
			}
		}
	}
}

// versionSource says where in ex's answer the version v is: a JSON path
// or "header:ETag"; "" when it is not there.
func versionSource(ex Exchange, v string) string {
	if doc, err := decodeJSON(ex.ResponseBody); err == nil {
		if got, ok := lookup(doc, "meta.version"); ok && got == v {
			return "meta.version"
		}
		if res, ok := lookup(doc, "Resources"); ok {
			if arr, ok := res.([]any); ok {
				for k := range arr {
					p := fmt.Sprintf("Resources[%d].meta.version", k)
					if got, ok := lookup(doc, p); ok && got == v {
						return p
					}
				}
			}
		}
	}
	if ex.ResponseHeader.Get("ETag") == v {
		return "header:ETag"
	}
	return ""
}

// usedLater reports whether s shows up in a request after the i-th.
func (b *builder) usedLater(i int, s string) bool {
	for _, t := range b.texts[i+1:] {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

// step makes the i-th exchange a step numbered n.
func (b *builder) step(i int, ex Exchange, n int) Step {
	st := Step{Method: strings.ToUpper(ex.Method), Severity: SeverityMust}
	st.Path = b.pathTemplate(ex.Path)
	st.Name = fmt.Sprintf("%d. %s %s", n, st.Method, shortName(st.Path))
	st.Auth = authMode(ex)
	st.Headers = b.headers(i, ex)
	if len(bytes.TrimSpace(ex.RequestBody)) > 0 {
		if v, err := decodeOrdered(ex.RequestBody); err == nil {
			body := b.substituteBody(redactPasswords(v, ""))
			st.Body = json.RawMessage(marshal(body))
		} else {
			raw := b.substitute(redactRawPasswords(string(ex.RequestBody)))
			st.RawBody = &raw
		}
	}
	st.Expect.Status = Statuses{ex.Status}
	doc, err := decodeJSON(ex.ResponseBody)
	if err == nil {
		st.Expect.Assert = b.assertions(ex, doc)
		st.Capture = b.captures(i, ex, doc)
	} else if ex.ResponseHeader.Get("ETag") != "" {
		st.Capture = b.captures(i, ex, nil)
	}
	return st
}

func shortName(p string) string {
	const max = 100
	if r := []rune(p); len(r) > max {
		return string(r[:max]) + "…"
	}
	return p
}

// authMode is how the replay authenticates a recorded request.
func authMode(ex Exchange) string {
	h := strings.TrimSpace(ex.RequestHeader.Get("Authorization"))
	switch {
	case h == "":
		return AuthNone
	case ex.Status == http.StatusUnauthorized:
		return AuthInvalid
	case !strings.Contains(h, " "):
		return AuthBare
	}
	return "" // bearer, the default; another scheme is replayed as bearer too
}

// droppedHeaders are never written: credentials, and what the transport
// sets for itself.
var droppedHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Host", "Content-Length", "Connection",
	"Keep-Alive", "Transfer-Encoding", "Te", "Trailer", "Upgrade", "Accept-Encoding",
	"Proxy-Connection", "Forwarded", "Via", "Expect",
}

// secretHeaderName matches the names of headers that carry credentials.
var secretHeaderName = regexp.MustCompile(`(?i)token|secret|key|auth|session|cookie|passw|signature|credential|^x-forwarded|^x-real-ip`)

// tokenLike matches values that look like a credential: a scheme and a
// token, or a long run of token characters mixing letters and digits.
var (
	schemeToken = regexp.MustCompile(`(?i)^(bearer|basic|token|ssws|digest|negotiate|apikey)\s+\S+`)
	tokenChars  = regexp.MustCompile(`[A-Za-z0-9_\-.~+/=]{20,}`)
)

func looksLikeToken(v string) bool {
	if schemeToken.MatchString(strings.TrimSpace(v)) {
		return true
	}
	for _, run := range tokenChars.FindAllString(v, -1) {
		if strings.ContainsAny(run, "0123456789") && strings.IndexFunc(run, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' }) >= 0 {
			return true
		}
	}
	return false
}

// headers are the request headers worth replaying.
func (b *builder) headers(i int, ex Exchange) map[string]string {
	out := map[string]string{}
	for _, k := range sortedKeys(ex.RequestHeader) {
		if slices.ContainsFunc(droppedHeaders, func(d string) bool { return strings.EqualFold(d, k) }) || secretHeaderName.MatchString(k) {
			continue
		}
		v := strings.Join(ex.RequestHeader[k], ", ")
		switch {
		case strings.EqualFold(k, "If-Match") || strings.EqualFold(k, "If-None-Match"):
			if name := b.versionUse[i][strings.TrimSpace(v)]; name != "" && !strings.HasPrefix(name, "\x00") {
				v = "{{" + name + "}}"
			} else {
				v = b.substitute(v)
			}
		case looksLikeToken(v):
			continue
		case strings.EqualFold(k, "Content-Type") && v == mediaTypeSCIM,
			strings.EqualFold(k, "Accept") && v == mediaTypeSCIM,
			strings.EqualFold(k, "User-Agent") && strings.HasPrefix(v, "Go-http-client/"):
			continue // what the replay sends anyway
		default:
			v = b.substitute(v)
		}
		out[k] = b.red.apply(v)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// mediaTypeSCIM is the SCIM media type, which the replay sends by default.
const mediaTypeSCIM = "application/scim+json"

// queryPart is one key=value of a query, decoded.
type queryPart struct {
	key, value string
	hasValue   bool
}

func queryParts(p string) []queryPart {
	_, q, ok := strings.Cut(p, "?")
	if !ok || q == "" {
		return nil
	}
	var out []queryPart
	for _, part := range strings.Split(q, "&") {
		if part == "" {
			continue
		}
		k, v, hasValue := strings.Cut(part, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		}
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		out = append(out, queryPart{key: k, value: v, hasValue: hasValue})
	}
	return out
}

// pathTemplate is a recorded path with ids and values replaced by
// variables, written as it reads: spaces and quotes stay (the client
// encodes them), what would change the query's meaning is escaped.
func (b *builder) pathTemplate(p string) string {
	before, _, _ := strings.Cut(p, "?")
	segs := strings.Split(before, "/")
	for k, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			continue
		}
		if name, ok := b.ids[dec]; ok {
			segs[k] = "{{" + name + "}}"
		} else if name, ok := b.values[dec]; ok {
			segs[k] = "{{" + name + "|urlpath}}"
		}
	}
	out := b.red.apply(strings.Join(segs, "/"))
	sep := "?"
	for _, q := range queryParts(p) {
		if secretHeaderName.MatchString(q.key) {
			continue // ?access_token=...: the replay authenticates its own way
		}
		out += sep + escapeQueryLiteral(b.red.apply(q.key))
		if q.hasValue {
			v := b.red.apply(q.value)
			if !slices.ContainsFunc(plainParams, func(p string) bool { return strings.EqualFold(p, q.key) }) {
				v = b.substitute(v)
			}
			out += "=" + escapeQueryLiteral(v)
		}
		sep = "&"
	}
	return out
}

// plainParams are query parameters whose values are never recorded
// values or ids: a count of 2 is not the user whose displayName is "2".
var plainParams = []string{"startIndex", "count", "sortBy", "sortOrder", "attributes", "excludedAttributes"}

// escapeQueryLiteral escapes what the client would not: the characters
// that change a query's meaning.
func escapeQueryLiteral(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "#", "%23").Replace(s)
}

// token is a recorded literal and the variable that replaces it.
type token struct {
	lit, name string
	id        bool
}

// tokens are the literals substitute replaces, longest first.
func (b *builder) tokens() []token {
	var ts []token
	for lit, name := range b.values {
		ts = append(ts, token{lit: lit, name: name})
	}
	for lit, name := range b.ids {
		ts = append(ts, token{lit: lit, name: name, id: true})
	}
	slices.SortFunc(ts, func(x, y token) int {
		if len(x.lit) != len(y.lit) {
			return len(y.lit) - len(x.lit)
		}
		return strings.Compare(x.lit, y.lit)
	})
	return ts
}

// minRawID is the shortest id replaced inside other text (URLs): shorter
// ones could be part of anything.
const minRawID = 8

// substitute replaces, in one string, the recorded keys by [REDACTED],
// the upstream base URL by {{baseURL}}, and the recorded values and
// captured ids by their variables: a whole string, a quoted one (a filter
// in a query or a PATCH path), and ids inside URLs.
func (b *builder) substitute(s string) string {
	s = b.red.apply(s)
	ts := b.tokens()
	for _, t := range ts {
		if s == t.lit {
			return "{{" + t.name + "}}"
		}
	}
	if b.upstream != "" && strings.HasPrefix(s, b.upstream) {
		s = "{{baseURL}}" + s[len(b.upstream):]
	}
	for _, t := range ts {
		s = strings.ReplaceAll(s, `"`+t.lit+`"`, `"{{`+t.name+`}}"`)
		s = strings.ReplaceAll(s, `\"`+t.lit+`\"`, `\"{{`+t.name+`}}\"`)
		if t.id && len(t.lit) >= minRawID {
			s = strings.ReplaceAll(s, t.lit, "{{"+t.name+"}}")
		}
	}
	return s
}

// substituteBody applies substitute to every string of a decoded body.
func (b *builder) substituteBody(v any) any {
	switch x := v.(type) {
	case string:
		return b.substitute(x)
	case []any:
		out := make([]any, len(x))
		for k, e := range x {
			out[k] = b.substituteBody(e)
		}
		return out
	case jsonObject:
		out := make(jsonObject, len(x))
		for k, m := range x {
			out[k] = jsonMember{Key: b.red.apply(m.Key), Value: b.substituteBody(m.Value)}
		}
		return out
	}
	return v
}

// isPasswordAttr reports whether a key or PATCH path names a password.
func isPasswordAttr(a string) bool {
	a = strings.ToLower(a)
	if i := strings.LastIndex(a, ":"); i >= 0 {
		a = a[i+1:]
	}
	return a == "password"
}

// redactPasswords replaces every password in a decoded body by the
// placeholder: keys named password, and the values of PATCH operations on
// the password path. attr is the key v is under.
func redactPasswords(v any, attr string) any {
	switch x := v.(type) {
	case string:
		if isPasswordAttr(attr) {
			return PasswordPlaceholder
		}
		return x
	case []any:
		out := make([]any, len(x))
		for k, e := range x {
			out[k] = redactPasswords(e, attr)
		}
		return out
	case jsonObject:
		var opPath string
		for _, m := range x {
			if strings.EqualFold(m.Key, "path") {
				opPath, _ = m.Value.(string)
			}
		}
		out := make(jsonObject, len(x))
		for k, m := range x {
			key := m.Key
			if strings.EqualFold(key, "value") && isPasswordAttr(opPath) {
				key = "password"
			}
			if isPasswordAttr(key) {
				out[k] = jsonMember{Key: m.Key, Value: PasswordPlaceholder}
				continue
			}
			out[k] = jsonMember{Key: m.Key, Value: redactPasswords(m.Value, m.Key)}
		}
		return out
	}
	if isPasswordAttr(attr) && v != nil {
		return PasswordPlaceholder
	}
	return v
}

// rawPassword finds "password": "..." and password=... in a body that is
// not valid JSON.
var rawPassword = regexp.MustCompile(`(?i)("password"\s*:\s*")((?:[^"\\]|\\.)*)(")|(password=)([^&\s]*)()`)

func redactRawPasswords(s string) string {
	return rawPassword.ReplaceAllString(s, "${1}${4}"+PasswordPlaceholder+"${3}${6}")
}

// SCIM message schemas.
const (
	schemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaError        = "urn:ietf:params:scim:api:messages:2.0:Error"
)

func jsonPathOf(s string) *string { return &s }

func assertValue(v any) json.RawMessage { return json.RawMessage(marshal(v)) }

// assertions are the stable expectations of a recorded JSON answer.
func (b *builder) assertions(ex Exchange, doc any) []Assertion {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	var out []Assertion
	add := func(path, op string, value any) {
		a := Assertion{JSON: jsonPathOf(path), Op: op}
		if value != nil {
			a.Value = assertValue(value)
		}
		out = append(out, a)
	}
	schemas, _ := m["schemas"].([]any)
	hasSchema := func(s string) bool {
		return slices.ContainsFunc(schemas, func(x any) bool { v, _ := x.(string); return strings.EqualFold(v, s) })
	}
	varOf := func(v any) (string, bool) {
		s, ok := v.(string)
		if !ok {
			return "", false
		}
		if name, ok := b.ids[s]; ok {
			return "{{" + name + "}}", true
		}
		if name, ok := b.values[s]; ok {
			return "{{" + name + "}}", true
		}
		return "", false
	}
	switch {
	case hasSchema(schemaError):
		add("schemas", "has_value", schemaError)
		if st, ok := m["scimType"].(string); ok && st != "" {
			add("scimType", "equal", st)
		}
	case hasSchema(schemaListResponse) || (m["Resources"] != nil && m["totalResults"] != nil):
		if hasSchema(schemaListResponse) {
			add("schemas", "has_value", schemaListResponse)
		}
		filtered := false
		for _, q := range queryParts(ex.Path) {
			if strings.EqualFold(q.key, "filter") && strings.Contains(b.substitute(q.value), "{{") {
				filtered = true
			}
		}
		total, isNum := m["totalResults"].(json.Number)
		switch {
		case filtered && isNum:
			add("totalResults", "equal_number", total)
			res, _ := m["Resources"].([]any)
			for _, r := range res {
				rm, _ := r.(map[string]any)
				if v, ok := varOf(rm["id"]); ok {
					add("Resources[*].id", "has_element", v)
				}
			}
		case isNum:
			add("totalResults", "is_a_number", nil)
		}
		if _, ok := m["Resources"].([]any); ok {
			add("Resources", "type", "array")
		}
	default:
		if len(schemas) > 0 {
			if s, ok := schemas[0].(string); ok {
				add("schemas", "has_value", s)
			}
		}
		if id, ok := m["id"].(string); ok && id != "" {
			if v, ok := varOf(id); ok && b.ids[id] != "" {
				add("id", "equal", v)
			} else {
				add("id", "not_empty", nil)
			}
		}
		for _, attr := range []string{"userName", "displayName", "externalId"} {
			if v, ok := varOf(m[attr]); ok {
				add(attr, "equal", v)
			}
		}
		if active, ok := m["active"].(bool); ok {
			add("active", "equal", active)
		}
	}
	return out
}

// captures are the variables step i saves: the id of what a POST created,
// ids later requests use, and versions later requests send. Ids captured
// are replaced by their variable from the next step on.
func (b *builder) captures(i int, ex Exchange, doc any) map[string]string {
	out := map[string]string{}
	m, _ := doc.(map[string]any)
	kind := resourceKind(ex.Path, m)
	idVar := func(id, from, kind string) {
		if id == "" || b.ids[id] != "" {
			return
		}
		b.counters[kind+"Id"]++
		name := fmt.Sprintf("%s%dId", kind, b.counters[kind+"Id"])
		out[name] = from
		b.ids[id] = name
	}
	if m != nil {
		if id, ok := m["id"].(string); ok {
			created := strings.EqualFold(ex.Method, http.MethodPost) && ex.Status >= 200 && ex.Status < 300
			if created || b.usedLater(i, id) {
				idVar(id, "id", kind)
			}
		}
		if res, ok := m["Resources"].([]any); ok {
			for k, r := range res {
				rm, _ := r.(map[string]any)
				if id, ok := rm["id"].(string); ok && b.usedLater(i, id) {
					idVar(id, fmt.Sprintf("Resources[%d].id", k), resourceKind(ex.Path, rm))
				}
			}
		}
	}
	// Versions later requests send, named after the resource's id.
	for j := i + 1; j < len(b.exs); j++ {
		for v, mark := range b.versionUse[j] {
			prefix := fmt.Sprintf("\x00%d\x00", i)
			from, ok := strings.CutPrefix(mark, prefix)
			if !ok {
				continue
			}
			name := ""
			for n, f := range out {
				if f == from {
					name = n
				}
			}
			if name == "" {
				stem := kind
				if id, ok := m["id"].(string); ok && b.ids[id] != "" && from == "meta.version" {
					stem = strings.TrimSuffix(b.ids[id], "Id")
				}
				b.counters[stem+"Version"]++
				name = fmt.Sprintf("%sVersion%d", stem, b.counters[stem+"Version"])
				out[name] = from
			}
			b.versionUse[j][v] = name
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// resourceKind names a resource for its variables: "user", "group", or
// the lower-cased singular of the endpoint.
func resourceKind(p string, m map[string]any) string {
	if meta, ok := m["meta"].(map[string]any); ok {
		if rt, ok := meta["resourceType"].(string); ok && rt != "" {
			return lowerFirst(identifier(rt))
		}
	}
	if schemas, ok := m["schemas"].([]any); ok {
		for _, s := range schemas {
			switch str, _ := s.(string); {
			case strings.HasSuffix(str, ":core:2.0:User"):
				return "user"
			case strings.HasSuffix(str, ":core:2.0:Group"):
				return "group"
			}
		}
	}
	segs := strings.Split(strings.Trim(pathOnly(p), "/"), "/")
	if len(segs) > 0 && segs[0] != "" {
		return lowerFirst(strings.TrimSuffix(identifier(segs[0]), "s"))
	}
	return "resource"
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9]+`)

func identifier(s string) string {
	s = nonIdent.ReplaceAllString(s, "")
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return "resource"
	}
	return s
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// jsonObject is a JSON object that keeps its keys in the order they came,
// so that a recorded body reads as the identity provider sent it.
type jsonObject []jsonMember

type jsonMember struct {
	Key   string
	Value any
}

// MarshalJSON writes the members in order.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for k, m := range o {
		if k > 0 {
			b.WriteByte(',')
		}
		b.WriteString(marshal(m.Key))
		b.WriteByte(':')
		b.WriteString(marshal(m.Value))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// decodeOrdered decodes one JSON value with objects as jsonObject and
// numbers as json.Number.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeOrderedValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func decodeOrderedValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		o := jsonObject{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := kt.(string)
			v, err := decodeOrderedValue(dec)
			if err != nil {
				return nil, err
			}
			o = append(o, jsonMember{Key: key, Value: v})
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return o, nil
	case '[':
		arr := []any{}
		for dec.More() {
			v, err := decodeOrderedValue(dec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return arr, nil
	}
	return nil, fmt.Errorf("unexpected %v", d)
}
