package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/server"
)

// testOptions are the flags of `kacescim test`.
type testOptions struct {
	g *globalOptions

	// URL is the SCIM base URL under test; Token the identity provider's
	// key (Key is the same from KACESCIM_KEY or the config file).
	URL   string
	Token string
	Key   string

	Suites       []string
	Only         []string
	Skip         []string
	Output       string
	Out          string
	Verbose      bool
	Keep         bool
	Timeout      time.Duration
	Insecure     bool
	ScenariosDir string

	Runscope   string
	NoPause    bool
	PauseScale float64
	AuthHeader bool

	AdminURL   string
	AdminToken string
	NoAdmin    bool
}

// Output formats of `kacescim test`.
const (
	testOutputText  = "text"
	testOutputJSON  = "json"
	testOutputJUnit = "junit"
)

// NewCmdTest returns `kacescim test`, the conformance tester.
func NewCmdTest(g *globalOptions, runF func(context.Context, *testOptions) error) *cobra.Command {
	opts := &testOptions{g: g}
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Check a SCIM 2.0 server the way Okta and Entra ID use it",
		Long: `Run the conformance suites against a SCIM 2.0 server, kacescim or any
other, and report every check: PASS, FAIL (a MUST failed), WARN (a SHOULD
or MAY failed) or SKIP (not judged, and why). The suites are the requests
Okta and Microsoft Entra ID really send, and RFC 7644's own rules; each
check names the document section it comes from. The text report ends with
"N passed, N failed, N skipped".

--url is the SCIM base URL (default: the local server's, as for the other
commands, + /scim/v2) and --token the key an identity provider would use
(or KACESCIM_KEY). By default the tester removes what it created; with
--keep it leaves it and lists it.

Mapping outcomes: with admin access to a kacescim server, the tester
creates a throw-away provider named kacescim-test-<random> with the
suggested mappings (and the custom fields they need), runs with that
provider's key instead of --token, checks after each step the directory
user the step produced, and removes the provider at the end. It has admin
access when --admin-url and --admin-token are given (--admin-url defaults
to the server of --url), or by itself when --url points at a kacescim on
this machine (localhost, 127.0.0.1, ::1) whose admin-token file it finds in
the data directory (--data-dir, KACESCIM_DATA_DIR, $XDG_DATA_HOME/kacescim),
as the other commands do. If that admin API does not answer, the run goes
on without mapping outcomes and says so. --no-admin tests the provider of
--token as it is.

--scenarios DIR adds the scenario files (*.json) under DIR to the built-in
ones; a scenario's suite is its "suite" field, else its folder's name. With
--scenarios and no --suite, only DIR's suites run. Scenarios are data: see
pkg/conformance/scenarios for examples.

--runscope FILE replays a Runscope/BlazeMeter export (such as Okta's
"Okta SCIM 2.0 SPEC Test") instead of the scenarios. Its steps that call an
Okta org are skipped. The SPEC test needs one user on the server: with a
throw-away provider, the tester creates it.

Exit status: 0 when no MUST check failed, 1 when one did, 2 for a mistake
on the command line or a server that cannot be reached or refuses the key.`,
		Example: `  kacescim test --url https://scim.example.com/scim/v2 --token "$KEY"
  kacescim test --suite okta-lifecycle,okta-groups --output junit --out report.xml
  kacescim test --only 'Assign:*' --verbose
  kacescim test --scenarios ./recorded
  kacescim test --runscope Okta-SCIM-20-SPEC-Test.json --no-pause --token "$KEY"
  kacescim test --admin-url https://kacescim.internal --admin-token "$ADMIN" --url https://kacescim.internal/scim/v2`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTest(cmd.Context(), opts, cmd.Flags().Changed("pause-scale"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.URL, "url", "", "SCIM base `URL` under test (default: the local server's URL + /scim/v2)")
	f.StringVar(&opts.Token, "token", "", "the identity provider's `KEY` (default $KACESCIM_KEY)")
	f.StringVar(&opts.Key, "key", "", "the same as --token")
	f.StringSliceVar(&opts.Suites, "suite", nil, "`SUITES` to run, comma-separated (default: all: "+strings.Join(conformance.Suites, ", ")+")")
	f.StringSliceVar(&opts.Only, "only", nil, "report only the checks matching these `NAMES` or patterns (\"Assign:*\", \"okta-lifecycle/*\"), comma-separated")
	f.StringSliceVar(&opts.Skip, "skip", nil, "do not run the checks matching these `NAMES` or patterns, comma-separated")
	f.StringVarP(&opts.Output, "output", "o", testOutputText, "report format: text, json or junit")
	f.StringVar(&opts.Out, "out", "", "also write the report to `FILE`: as --output says when it is json or junit, else JUnit for *.xml and JSON otherwise")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "show every request and response in full (the key redacted)")
	f.BoolVar(&opts.Keep, "keep", false, "leave the users, groups and throw-away provider the run created in place")
	f.DurationVar(&opts.Timeout, "timeout", client.DefaultTimeout, "timeout of each request")
	f.BoolVarP(&opts.Insecure, "insecure", "k", false, "accept any TLS certificate (test servers only)")
	f.StringVar(&opts.ScenariosDir, "scenarios", "", "also run the scenario files (*.json) under `DIR`; without --suite, only theirs")
	f.StringVar(&opts.Runscope, "runscope", "", "replay this Runscope/BlazeMeter export (JSON `FILE`) instead of the scenarios")
	f.BoolVar(&opts.NoPause, "no-pause", false, "with --runscope: skip the export's pauses (Okta's SPEC test waits 5 s after each request)")
	f.Float64Var(&opts.PauseScale, "pause-scale", 1, "with --runscope: multiply the export's pauses by this `FACTOR` (0.1: a tenth)")
	f.BoolVar(&opts.AuthHeader, "auth-header", false, `with --runscope: send the key exactly as given, not as "Bearer <key>"`)
	f.StringVar(&opts.AdminURL, "admin-url", "", "`URL` of the kacescim server whose admin API makes the throw-away provider (default: the server of --url)")
	f.StringVar(&opts.AdminToken, "admin-token", "", "admin `TOKEN` of the kacescim server at --admin-url, for mapping outcomes")
	f.BoolVar(&opts.NoAdmin, "no-admin", false, "no mapping outcomes: do not use the admin API even when one is found")
	_ = f.MarkHidden("key") // KACESCIM_KEY and the config file's key: reach --token through it
	configurable(f, "url", "key", "output", "timeout", "admin-url", "admin-token")
	return cmd
}

// testRun is the state of one `kacescim test`.
type testRun struct {
	*testOptions
	base      string
	transport *http.Transport
	copts     []client.Option
	secrets   []string
	// notes are said once on stderr before the report.
	errOut io.Writer
}

func runTest(ctx context.Context, opts *testOptions, pauseScaleSet bool) error {
	if err := opts.validate(pauseScaleSet); err != nil {
		return err
	}
	if opts.Token == "" {
		opts.Token = opts.Key
	}
	r := &testRun{testOptions: opts, errOut: opts.g.IO.ErrOut}
	r.addSecret(opts.Token)
	r.addSecret(opts.AdminToken)

	base, err := r.baseURL()
	if err != nil {
		return err
	}
	r.base = base
	r.transport = http.DefaultTransport.(*http.Transport).Clone()
	if opts.Insecure {
		r.transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	defer r.transport.CloseIdleConnections()
	r.copts = []client.Option{client.WithTimeout(opts.Timeout), client.WithUserAgent(opts.g.userAgent()), client.WithTransport(r.transport)}

	var scenarios []*conformance.Scenario
	var suites []string
	if opts.Runscope == "" {
		if scenarios, suites, err = r.loadScenarios(); err != nil {
			return err
		}
	}
	var export *conformance.RunscopeExport
	if opts.Runscope != "" {
		data, err := os.ReadFile(opts.Runscope)
		if err != nil {
			return usageErr(fmt.Sprintf("--runscope: %v", err))
		}
		if export, err = conformance.ParseRunscope(data); err != nil {
			return usageErr(fmt.Sprintf("--runscope %s: %v", opts.Runscope, err))
		}
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()

	if err := r.probe(ctx); err != nil {
		return err
	}
	fx, err := r.fixture(ctx)
	if err != nil {
		return err
	}
	key := opts.Token
	if fx != nil {
		key = fx.Key
		r.addSecret(key)
	}
	if err := r.checkKey(ctx, key); err != nil {
		return errors.Join(r.redactErr(err), r.closeFixture(fx, nil))
	}
	var res *conformance.Result

	if export != nil {
		if fx != nil {
			if err := r.seedUser(ctx, key); err != nil {
				return errors.Join(r.redactErr(err), r.closeFixture(fx, nil))
			}
		}
		res = r.runRunscope(ctx, export, key)
	} else {
		copts := conformance.Options{
			BaseURL:       base,
			Token:         key,
			Suites:        suites,
			Only:          opts.Only,
			Skip:          opts.Skip,
			Keep:          opts.Keep,
			Verbose:       opts.Verbose,
			Transport:     r.transport,
			ClientOptions: []client.Option{client.WithTimeout(opts.Timeout), client.WithUserAgent(opts.g.userAgent())},
		}
		if fx != nil {
			copts.Directory = fx.Directory()
		}
		res = conformance.Run(ctx, scenarios, copts)
	}
	if err := r.closeFixture(fx, res); err != nil {
		r.note("Error: %v", err)
	}
	if err := r.write(res); err != nil {
		return err
	}
	if !res.OK() {
		return &exitStatusError{code: exitError}
	}
	return nil
}

// validate checks the flags that do not need the network.
func (o *testOptions) validate(pauseScaleSet bool) error {
	switch o.Output {
	case testOutputText, testOutputJSON, testOutputJUnit:
	default:
		return usageErr(fmt.Sprintf("unknown output format %q: use text, json or junit", o.Output))
	}
	if o.Timeout <= 0 {
		return usageErr(fmt.Sprintf("--timeout %s: must be more than 0", o.Timeout))
	}
	if o.PauseScale < 0 {
		return usageErr(fmt.Sprintf("--pause-scale %g: must be 0 or more", o.PauseScale))
	}
	if o.Runscope == "" {
		var only []string
		if o.NoPause {
			only = append(only, "--no-pause")
		}
		if pauseScaleSet {
			only = append(only, "--pause-scale")
		}
		if o.AuthHeader {
			only = append(only, "--auth-header")
		}
		if len(only) > 0 {
			return usageErr("only with --runscope: " + strings.Join(only, ", "))
		}
	} else {
		if len(o.Suites) > 0 || o.ScenariosDir != "" {
			return usageErr("--runscope replays an export instead of the scenarios: it cannot be used with --suite or --scenarios")
		}
		if o.NoPause && pauseScaleSet {
			return usageErr("--no-pause and --pause-scale: choose one")
		}
	}
	return nil
}

// baseURL is --url, else the admin server's or the local server's SCIM URL.
func (r *testRun) baseURL() (string, error) {
	raw := r.URL
	if raw == "" && r.AdminURL != "" {
		raw = strings.TrimRight(r.AdminURL, "/") + server.SCIMPrefix
	}
	if raw == "" {
		raw = r.g.serverURL() + server.SCIMPrefix
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usageErr(fmt.Sprintf("--url %q: give the SCIM base URL, e.g. https://scim.example.com/scim/v2", raw))
	}
	return strings.TrimRight(raw, "/"), nil
}

// loadScenarios returns the scenarios to run and the suites to select.
func (r *testRun) loadScenarios() ([]*conformance.Scenario, []string, error) {
	var own []*conformance.Scenario
	var dirSuites []string
	if r.ScenariosDir != "" {
		info, err := os.Stat(r.ScenariosDir)
		if err != nil || !info.IsDir() {
			return nil, nil, usageErr(fmt.Sprintf("--scenarios %s: not a directory", r.ScenariosDir))
		}
		if own, err = conformance.LoadScenarios(os.DirFS(r.ScenariosDir), "."); err != nil {
			return nil, nil, usageErr(fmt.Sprintf("--scenarios %s: %v", r.ScenariosDir, err))
		}
		abs, _ := filepath.Abs(r.ScenariosDir)
		for _, s := range own {
			if s.Suite == "." || s.Suite == "" {
				// A file directly in DIR: its folder is DIR itself.
				s.Suite = filepath.Base(abs)
			}
			if !slices.Contains(dirSuites, s.Suite) {
				dirSuites = append(dirSuites, s.Suite)
			}
		}
	}
	valid := slices.Clone(conformance.Suites)
	for _, s := range dirSuites {
		if !slices.Contains(valid, s) {
			valid = append(valid, s)
		}
	}
	suites := dirSuites
	if len(r.Suites) > 0 {
		suites = nil
		for _, s := range r.Suites {
			s = strings.TrimSpace(s)
			i := slices.IndexFunc(valid, func(v string) bool { return strings.EqualFold(v, s) })
			if i < 0 {
				return nil, nil, usageErr(fmt.Sprintf("unknown suite %q: the suites are %s", s, strings.Join(valid, ", ")))
			}
			suites = append(suites, valid[i])
		}
	}
	// The built-in scenarios are read only when a suite of theirs runs.
	needBuiltin := r.ScenariosDir == "" || slices.ContainsFunc(suites, func(s string) bool { return slices.Contains(conformance.Suites, s) })
	if !needBuiltin {
		return own, suites, nil
	}
	builtin, err := builtinScenarios()
	if err != nil {
		return nil, nil, err
	}
	return append(builtin, own...), suites, nil
}

// builtinScenarios is conformance.BuiltinScenarios, with a broken embedded
// scenario (a build of a work in progress) reported as an error.
func builtinScenarios() (s []*conformance.Scenario, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the built-in scenarios of this build cannot be read: %v", p)
		}
	}()
	return conformance.BuiltinScenarios(), nil
}

// probe makes sure something answers at the base URL before anything is
// created.
func (r *testRun) probe(ctx context.Context) error {
	c := client.NewSCIM(r.base, "", r.copts...)
	_, err := c.Do(ctx, http.MethodGet, "/ServiceProviderConfig", nil)
	var unreachable *client.UnreachableError
	if errors.As(err, &unreachable) {
		r.note("Error: cannot reach %s: %v", r.base, unreachable.Err)
		r.note("Is the server running? Give its SCIM base URL with --url (e.g. https://host/scim/v2); for a local kacescim, start `kacescim serve`.")
		return &exitStatusError{code: exitUsage}
	}
	if err != nil {
		return r.redactErr(err)
	}
	return nil
}

// checkKey makes sure the server accepts the key: without it every check
// would fail for the same reason.
func (r *testRun) checkKey(ctx context.Context, key string) error {
	if key == "" {
		return usageErr("no key: give the identity provider's key with --token (or KACESCIM_KEY), or admin access with --admin-url and --admin-token for a throw-away provider")
	}
	copts := slices.Clone(r.copts)
	if r.Runscope != "" && r.AuthHeader {
		copts = append(copts, client.WithAuthMode(client.AuthHeader))
	}
	resp, err := client.NewSCIM(r.base, key, copts...).Do(ctx, http.MethodGet, "/Users?startIndex=1&count=1", nil)
	if err != nil {
		return err
	}
	if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
		r.note("Error: %s refused the key (HTTP %d).", r.base, resp.Status)
		r.note("Give the key of an enabled provider with --token or KACESCIM_KEY (kacescim: `kacescim provider add NAME --enabled` prints one).")
		return &exitStatusError{code: exitUsage}
	}
	return nil
}

// adminAccess says which admin API makes the throw-away provider; explicit
// is false when it was found on this machine rather than given.
type adminAccess struct {
	url, token string
	explicit   bool
}

// admin returns the admin API to use, or nil for none.
func (r *testRun) admin() (*adminAccess, error) {
	if r.NoAdmin {
		return nil, nil
	}
	if r.Runscope != "" && r.Token != "" {
		// The export tests the provider of --token; a throw-away provider is
		// only made when there is no key.
		return nil, nil
	}
	origin := r.origin()
	if r.AdminURL != "" || r.AdminToken != "" {
		a := &adminAccess{url: strings.TrimRight(r.AdminURL, "/"), token: r.AdminToken, explicit: true}
		if a.url == "" {
			a.url = origin
		}
		if a.token == "" {
			token, err := r.g.adminToken()
			if err != nil {
				return nil, usageErr("--admin-url needs --admin-token (or KACESCIM_ADMIN_TOKEN): " + err.Error())
			}
			a.token = token
			r.addSecret(token)
		}
		if u, err := url.Parse(a.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageErr(fmt.Sprintf("--admin-url %q: give the kacescim server's URL, e.g. https://kacescim.internal", a.url))
		}
		return a, nil
	}
	if !r.loopback() {
		return nil, nil
	}
	token, err := r.g.adminToken()
	if err != nil {
		return nil, nil // not a kacescim of ours: no mapping outcomes
	}
	r.addSecret(token)
	return &adminAccess{url: origin, token: token}, nil
}

// origin is the scheme and host of the base URL: where kacescim serves its
// admin API too.
func (r *testRun) origin() string {
	u, _ := url.Parse(r.base)
	return u.Scheme + "://" + u.Host
}

func (r *testRun) loopback() bool {
	u, err := url.Parse(r.base)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fixture creates the throw-away provider when there is admin access.
func (r *testRun) fixture(ctx context.Context) (*conformance.Fixture, error) {
	a, err := r.admin()
	if err != nil || a == nil {
		return nil, err
	}
	admin := client.NewAdmin(a.url, a.token, r.adminOptions()...)
	name := "kacescim-test-" + randomSuffix()
	fx, err := conformance.NewFixture(ctx, admin, name)
	if err == nil {
		if r.Token != "" && r.Runscope == "" {
			r.note("Mapping outcomes: testing throw-away provider %s with the suggested mappings, not the provider of --token (--no-admin to test that one).", name)
		} else {
			r.note("Mapping outcomes: testing throw-away provider %s with the suggested mappings.", name)
		}
		return fx, nil
	}
	var unreachable *client.UnreachableError
	var apiErr *client.Error
	refused := errors.As(err, &unreachable) || errors.As(err, &apiErr) && (apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden || apiErr.Status == http.StatusNotFound)
	switch {
	case !a.explicit:
		r.note("No mapping outcomes: the admin API at %s did not answer (%v); give --admin-url and --admin-token, or --no-admin.", a.url, r.redact(err.Error()))
		return nil, nil
	case refused:
		r.note("Error: the admin API at %s: %v", a.url, r.redact(err.Error()))
		r.note("Check --admin-url (the kacescim server, without /admin/v1) and --admin-token (the admin-token file of its data directory), or drop them.")
		return nil, &exitStatusError{code: exitUsage}
	default:
		return nil, fmt.Errorf("create the throw-away provider %s: %s", name, r.redact(err.Error()))
	}
}

func (r *testRun) adminOptions() []client.Option {
	opts := []client.Option{client.WithTimeout(r.Timeout), client.WithUserAgent(r.g.userAgent())}
	if r.Insecure {
		opts = append(opts, client.WithInsecureSkipVerify())
	}
	return opts
}

// closeFixture removes the throw-away provider (unless --keep) and adds to
// res's leftovers what stays. The error says what could not be removed.
func (r *testRun) closeFixture(fx *conformance.Fixture, res *conformance.Result) error {
	if fx == nil {
		return nil
	}
	name := fx.Provider
	if r.Keep {
		if res != nil {
			res.Leftovers = append(res.Leftovers, fmt.Sprintf("provider %s (kept: `kacescim provider remove %s --yes` removes it with its users and groups)", name, name))
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*r.Timeout)
	defer cancel()
	if err := fx.Close(ctx); err != nil {
		msg := r.redact(err.Error())
		if res != nil {
			res.Leftovers = append(res.Leftovers, fmt.Sprintf("provider %s: %s", name, msg))
		}
		return fmt.Errorf("the throw-away provider %s was not removed: %s; remove it with `kacescim provider remove %s --yes`", name, msg, name)
	}
	return nil
}

// seedUser creates the one user Okta's SPEC test expects to find.
func (r *testRun) seedUser(ctx context.Context, key string) error {
	user := "kcs-seed-" + randomSuffix() + "@example.com"
	resp, err := client.NewSCIM(r.base, key, r.copts...).DoJSON(ctx, http.MethodPost, "/Users", map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": user,
		"name":     map[string]string{"givenName": "Seed", "familyName": "User"},
		"emails":   []map[string]any{{"value": user, "type": "work", "primary": true}},
		"active":   true,
	})
	if err != nil {
		return fmt.Errorf("create the user the export needs: %w", err)
	}
	if resp.Status != http.StatusCreated {
		return fmt.Errorf("create the user the export needs: HTTP %d", resp.Status)
	}
	return nil
}

// runRunscope replays the export and reports it as a Result.
func (r *testRun) runRunscope(ctx context.Context, export *conformance.RunscopeExport, key string) *conformance.Result {
	auth := "Bearer " + key
	if r.AuthHeader {
		auth = key
	}
	skipped := map[int]bool{}
	if len(r.Skip) > 0 {
		for i := range export.Steps {
			st := &export.Steps[i]
			if st.Type == "request" && !st.Skipped && conformance.MatchCheck(r.Skip, export.Name, runscopeName(*st)) {
				st.Skipped = true
				skipped[i] = true
			}
		}
	}
	scale := r.PauseScale
	if r.NoPause {
		scale = 0
	}
	rep := conformance.RunRunscope(ctx, export, conformance.RunscopeOptions{
		BaseURL:       r.base,
		Auth:          auth,
		Transport:     r.transport,
		ClientOptions: []client.Option{client.WithTimeout(r.Timeout), client.WithUserAgent(r.g.userAgent())},
		Pause: func(ctx context.Context, d time.Duration) error {
			return conformance.Sleep(ctx, time.Duration(float64(d)*scale))
		},
	})
	// Say why the steps --skip marked were not run, and leave out what
	// --only does not select.
	var names []string
	for i, st := range export.Steps {
		if st.Type == "request" && skipped[i] {
			names = append(names, runscopeName(st))
		}
	}
	checks := rep.Checks[:0]
	for _, c := range rep.Checks {
		if c.Status == conformance.StatusSkip && slices.Contains(names, c.Name) {
			c.Notes = []string{"skipped by --skip"}
		}
		if len(r.Only) > 0 && !conformance.MatchCheck(r.Only, rep.Suite, c.Name) {
			continue
		}
		checks = append(checks, c)
	}
	rep.Checks = checks
	return &conformance.Result{Reports: []*conformance.Report{rep}}
}

// runscopeName is the check name RunRunscope gives a request step: its
// note, else its method and URL.
func runscopeName(st conformance.RunscopeStep) string {
	if n := strings.TrimSpace(st.Note); n != "" {
		return n
	}
	return strings.TrimSpace(strings.ToUpper(st.Method) + " " + st.URL)
}

// write prints the report on stdout, and to --out.
func (r *testRun) write(res *conformance.Result) error {
	var out bytes.Buffer
	switch {
	case r.Output == testOutputJSON && r.Out == "":
		if err := res.WriteJSON(&out); err != nil {
			return err
		}
	case r.Output == testOutputJUnit && r.Out == "":
		if err := res.WriteJUnit(&out); err != nil {
			return err
		}
	case r.g.IO.IsStdoutTTY():
		if err := res.WriteTextStyled(&out, r.textStyle()); err != nil {
			return err
		}
	default:
		if err := res.WriteText(&out); err != nil {
			return err
		}
	}
	if r.Out != "" {
		var file bytes.Buffer
		junit := r.Output == testOutputJUnit || r.Output == testOutputText && strings.EqualFold(filepath.Ext(r.Out), ".xml")
		write := res.WriteJSON
		if junit {
			write = res.WriteJUnit
		}
		if err := write(&file); err != nil {
			return err
		}
		if err := os.WriteFile(r.Out, []byte(r.redact(file.String())), 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	_, err := io.WriteString(r.g.IO.Out, r.redact(out.String()))
	return err
}

// textStyle colours the text report on a terminal.
func (r *testRun) textStyle() conformance.TextStyle {
	re := r.g.IO.renderer()
	color := func(c string) func(string) string {
		s := re.NewStyle().Bold(true).Foreground(lipgloss.Color(c))
		return func(t string) string { return s.Render(t) }
	}
	bold := re.NewStyle().Bold(true)
	faint := re.NewStyle().Faint(true)
	return conformance.TextStyle{
		Pass:    color("2"),
		Fail:    color("1"),
		Warn:    color("3"),
		Skip:    func(t string) string { return faint.Render(t) },
		Heading: func(t string) string { return bold.Render(t) },
		Detail:  func(t string) string { return faint.Render(t) },
	}
}

// note says one line on stderr, secrets redacted.
func (r *testRun) note(format string, a ...any) {
	fmt.Fprintln(r.errOut, r.redact(fmt.Sprintf(format, a...)))
}

func (r *testRun) addSecret(s string) {
	if s = strings.TrimSpace(s); len(s) >= 4 && !slices.Contains(r.secrets, s) {
		r.secrets = append(r.secrets, s, url.QueryEscape(s), url.PathEscape(s))
		slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	}
}

// redact hides the key and the admin token: they never appear in any
// output, whatever a server echoes back.
func (r *testRun) redact(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "[REDACTED]")
	}
	return s
}

func (r *testRun) redactErr(err error) error {
	var status *exitStatusError
	var usage *usageError
	if err == nil || errors.As(err, &status) || errors.As(err, &usage) {
		return err
	}
	return errors.New(r.redact(err.Error()))
}

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
