package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/spf13/cobra"
)

// testOptions are the flags of `kacescim test`.
type testOptions struct {
	g *globalOptions

	// URL is the SCIM base URL under test; Key the identity provider's
	// key (--key, KACESCIM_KEY or the config file). Token is the hidden
	// --token, the flag's name before --key: it still works, and wins.
	URL   string
	Key   string
	Token string

	// OAuthTokenURL, ClientID and ClientSecret authenticate the run the
	// way Microsoft Entra ID does: an access token from the token
	// endpoint (client credentials grant) instead of a key.
	OAuthTokenURL string
	ClientID      string
	ClientSecret  string

	Suites       []string
	Only         []string
	Skip         []string
	Out          string
	Verbose      bool
	Keep         bool
	Timeout      time.Duration
	Insecure     bool
	ScenariosDir string
	// Strict judges the server as one that follows the RFCs alone.
	Strict bool

	Runscope   string
	NoPause    bool
	PauseScale float64
	AuthHeader bool

	AdminURL   string
	AdminToken string
	NoAdmin    bool

	// IsolationKey is a second provider's key (tenant B) for the
	// isolation suite (--isolation-key, KACESCIM_ISOLATION_KEY).
	IsolationKey string

	// Explore is the number of operations of a generated sequence
	// (--explore), drawn from Seed; a shrunk failing sequence is written
	// under ExploreDir.
	Explore    int
	Seed       uint64
	ExploreDir string
}

// Output formats of `kacescim test`: the global --output's, and JUnit.
const (
	testOutputText  = "text"
	testOutputJSON  = "json"
	testOutputJUnit = "junit"
)

// NewCmdTest returns `kacescim test`, the conformance tester.
func NewCmdTest(g *globalOptions) *cobra.Command {
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
commands, + /scim/v2) and --key the key an identity provider would use
(or KACESCIM_KEY). By default the tester removes what it created; with
--keep it leaves it and lists it. The global --output (-o) takes text,
json or junit here.

Mapping outcomes: with admin access to a kacescim server, the tester
creates a throw-away provider named kacescim-test-<random> with the
suggested mappings (and the custom fields they need), runs with that
provider's key instead of --key, checks after each step the directory
user the step produced, and removes the provider at the end. It has admin
access when --admin-url and --admin-token are given (--admin-url defaults
to the server of --url), or by itself when --url points at a kacescim on
this machine (localhost, 127.0.0.1, ::1) whose admin-token file it finds in
the data directory (--data-dir, KACESCIM_DATA_DIR, $XDG_DATA_HOME/kacescim),
as the other commands do. If that admin API does not answer, the run goes
on without mapping outcomes and says so. --no-admin tests the provider of
--key as it is.

--scenarios DIR adds the scenario files (*.json) under DIR to the built-in
ones; a scenario's suite is its "suite" field, else its folder's name. With
--scenarios and no --suite, only DIR's suites run. Scenarios are data: see
pkg/conformance/scenarios for examples.

--runscope FILE replays a Runscope/BlazeMeter export (such as Okta's
"Okta SCIM 2.0 SPEC Test") instead of the scenarios. Its steps that call an
Okta org are skipped. The SPEC test needs one user on the server: with a
throw-away provider, the tester creates it.

--isolation-key KEY (or KACESCIM_ISOLATION_KEY) is the key of a second
provider of the same server: the isolation suite checks that nothing of
the first one's can be read, found or changed with it. With admin access
and no --isolation-key, the tester makes a second throw-away provider for
it; without either, the isolation checks are skipped.

--explore N sends N operations drawn at random, the way Okta and Entra ID
send them (creates, lookups by userName and externalId, PUTs, PATCHes of
active and of attributes, group pushes, renames, deletes, paging), and
after every write compares the answer and a read-back with what the
requests must have made. --seed S draws the same sequence again (the
report gives the seed of every run). When a check fails, the tester shrinks
the sequence to the shortest it finds that fails the same way and writes it
as a scenario file under --explore-dir (default ./kacescim-explore), which
"kacescim test --scenarios DIR" replays. Without --suite or --scenarios,
--explore runs alone.

Some checks send what Entra ID and Okta really send beyond the RFCs
("False" as a string, a PascalCase op, a value path to add): they need a
lenient server and are MUST, because the identity provider sends them.
--strict judges the server as one that follows the RFCs alone: those are
skipped, and the checks that it refuses what the RFCs do not allow run.
kacescim says which it is (a strict provider) in /ServiceProviderConfig.

Exit status: 0 when no MUST check failed, 1 when one did, 2 for a mistake
on the command line or a server that cannot be reached or refuses the key.`,
		Example: `  kacescim test --url https://scim.example.com/scim/v2 --key "$KEY"
  kacescim test --suite okta-lifecycle,okta-groups --output junit --out report.xml
  kacescim test --only 'Assign:*' --verbose
  kacescim test --scenarios ./recorded
  kacescim test --explore 500 --seed 42
  kacescim test --runscope Okta-SCIM-20-SPEC-Test.json --no-pause --key "$KEY"
  kacescim test --admin-url https://kacescim.internal --admin-token "$ADMIN" --url https://kacescim.internal/scim/v2`,
		Args:        noArgs,
		Annotations: map[string]string{outputsAnnotation: testOutputText + "," + testOutputJSON + "," + testOutputJUnit},
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if opts.Explore > 0 && !f.Changed("seed") {
				opts.Seed = randomSeed()
			}
			return runTest(cmd.Context(), opts, f.Changed("pause-scale"), f.Changed("seed") || f.Changed("explore-dir"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.URL, "url", "", "SCIM base `URL` under test (default: the local server's URL + /scim/v2)")
	f.StringVar(&opts.Key, "key", "", "the identity provider's `KEY` (default $KACESCIM_KEY)")
	f.StringVar(&opts.OAuthTokenURL, "oauth-token-url", "", "authenticate as Microsoft Entra ID does: get an access token from this OAuth 2.0 token endpoint `URL` (client credentials grant) instead of a --key")
	f.StringVar(&opts.ClientID, "client-id", "", "with --oauth-token-url: the OAuth client `ID`")
	f.StringVar(&opts.ClientSecret, "client-secret", "", "with --oauth-token-url: the OAuth client `SECRET` (default $KACESCIM_CLIENT_SECRET)")
	// The flag's old name; hidden because the root's --token is the admin
	// token, and this one is not.
	f.StringVar(&opts.Token, "token", "", "the same as --key")
	f.StringSliceVar(&opts.Suites, "suite", nil, "`SUITES` to run, comma-separated (default: all: "+strings.Join(conformance.Suites, ", ")+")")
	f.StringSliceVar(&opts.Only, "only", nil, "report only the checks matching these `NAMES` or patterns (\"Assign:*\", \"okta-lifecycle/*\"), comma-separated")
	f.StringSliceVar(&opts.Skip, "skip", nil, "do not run the checks matching these `NAMES` or patterns, comma-separated")
	f.StringVar(&opts.Out, "out", "", "also write the report to `FILE`: as --output says when it is json or junit, else JUnit for *.xml and JSON otherwise")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "show every request and response in full (the key redacted)")
	f.BoolVar(&opts.Keep, "keep", false, "leave the users, groups and throw-away provider the run created in place")
	f.DurationVar(&opts.Timeout, "timeout", client.DefaultTimeout, "timeout of each request")
	f.BoolVarP(&opts.Insecure, "insecure", "k", false, "accept any TLS certificate (test servers only)")
	f.BoolVar(&opts.Strict, "strict", false, "judge the server as following the RFCs alone: skip the checks of Entra's and Okta's non-RFC dialect and run the strict ones")
	f.StringVar(&opts.ScenariosDir, "scenarios", "", "also run the scenario files (*.json) under `DIR`; without --suite, only theirs")
	f.StringVar(&opts.Runscope, "runscope", "", "replay this Runscope/BlazeMeter export (JSON `FILE`) instead of the scenarios")
	f.BoolVar(&opts.NoPause, "no-pause", false, "with --runscope: skip the export's pauses (Okta's SPEC test waits 5 s after each request)")
	f.Float64Var(&opts.PauseScale, "pause-scale", 1, "with --runscope: multiply the export's pauses by this `FACTOR` (0.1: a tenth)")
	f.BoolVar(&opts.AuthHeader, "auth-header", false, `with --runscope: send the key exactly as given, not as "Bearer <key>"`)
	f.StringVar(&opts.AdminURL, "admin-url", "", "`URL` of the kacescim server whose admin API makes the throw-away provider (default: the server of --url)")
	f.StringVar(&opts.AdminToken, "admin-token", "", "admin `TOKEN` of the kacescim server at --admin-url, for mapping outcomes")
	f.BoolVar(&opts.NoAdmin, "no-admin", false, "no mapping outcomes: do not use the admin API even when one is found")
	f.StringVar(&opts.IsolationKey, "isolation-key", "", "the `KEY` of a second provider of the same server, for the isolation suite (default $KACESCIM_ISOLATION_KEY; with admin access, a second throw-away provider)")
	f.IntVar(&opts.Explore, "explore", 0, "also send `N` generated Okta/Entra operations checked against the model, and shrink a failure (alone without --suite or --scenarios)")
	f.Uint64Var(&opts.Seed, "seed", 0, "with --explore: draw the sequence from this `SEED` (default: a random one, shown in the report)")
	f.StringVar(&opts.ExploreDir, "explore-dir", "kacescim-explore", "with --explore: write the shortest failing sequence as a scenario file under `DIR`")
	_ = f.MarkHidden("token")
	configurable(f, "url", "key", "timeout", "admin-url", "admin-token", "isolation-key", "oauth-token-url", "client-id", "client-secret")
	return cmd
}

// testRun is the state of one `kacescim test`.
type testRun struct {
	*testOptions
	base      string
	transport *http.Transport
	copts     []client.Option
	// red hides the key and the admin token in everything printed,
	// whatever a server echoes back.
	red *conformance.Redactor
	// errOut is where notes go, before the report.
	errOut io.Writer
}

func runTest(ctx context.Context, opts *testOptions, pauseScaleSet, exploreSet bool) error {
	if err := opts.validate(pauseScaleSet, exploreSet); err != nil {
		return err
	}
	if opts.Token != "" {
		opts.Key = opts.Token
	}
	r := &testRun{testOptions: opts, errOut: opts.g.IO.ErrOut, red: conformance.NewRedactor(opts.Key, opts.AdminToken, opts.IsolationKey, opts.ClientSecret)}

	base, err := r.baseURL()
	if err != nil {
		return err
	}
	r.base = base
	r.transport = http.DefaultTransport.(*http.Transport).Clone()
	pool, err := opts.g.caPool()
	if err != nil {
		return err
	}
	if opts.Insecure || pool != nil {
		r.transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: opts.Insecure, RootCAs: pool}
	}
	defer r.transport.CloseIdleConnections()
	r.copts = []client.Option{client.WithTimeout(opts.Timeout), client.WithUserAgent(opts.g.userAgent()), client.WithTransport(r.transport)}

	var scenarios []*conformance.Scenario
	var suites []string
	if opts.Runscope == "" && !opts.exploreOnly() {
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
	if opts.OAuthTokenURL != "" {
		token, err := r.fetchToken(ctx, opts.ClientID, opts.ClientSecret)
		if err != nil {
			return err
		}
		opts.Key = token
	}
	fx, err := r.fixture(ctx)
	if err != nil {
		return err
	}
	key := opts.Key
	if fx != nil {
		key = fx.Key
		r.red.Add(key)
		if opts.OAuthTokenURL != "" {
			if key, err = r.fixtureToken(ctx, fx); err != nil {
				return errors.Join(err, r.closeFixture(fx, nil))
			}
		}
	}
	if err := r.checkKey(ctx, key); err != nil {
		return errors.Join(r.redactErr(err), r.closeFixture(fx, nil))
	}
	var res *conformance.Result

	if export != nil {
		if fx != nil {
			// A throw-away provider has no user yet: give the export the
			// one it needs.
			seed := client.NewSCIM(base, key, r.copts...)
			if err := conformance.SeedUser(ctx, seed, "kcs-seed-"+randomSuffix()+"@example.com"); err != nil {
				return errors.Join(r.redactErr(err), r.closeFixture(fx, nil))
			}
		}
		res = r.runRunscope(ctx, export, key)
	} else {
		isoKey, fxB := opts.IsolationKey, (*conformance.Fixture)(nil)
		if isoKey == "" && fx != nil && !opts.exploreOnly() && (len(suites) == 0 || slices.Contains(suites, "isolation")) {
			if fxB = r.isolationFixture(ctx); fxB != nil {
				isoKey = fxB.Key
				r.red.Add(isoKey)
			}
		}
		copts := conformance.Options{
			BaseURL:        base,
			Token:          key,
			IsolationToken: isoKey,
			Suites:         suites,
			Only:           opts.Only,
			Skip:           opts.Skip,
			Keep:           opts.Keep,
			Verbose:        opts.Verbose,
			Capabilities:   opts.capabilities(),
			Explore:        opts.Explore,
			Seed:           opts.Seed,
			Transport:      r.transport,
			ClientOptions:  []client.Option{client.WithTimeout(opts.Timeout), client.WithUserAgent(opts.g.userAgent())},
		}
		if opts.OAuthTokenURL != "" {
			copts.OAuth = &conformance.OAuthClient{TokenURL: opts.OAuthTokenURL, ClientID: opts.ClientID, ClientSecret: opts.ClientSecret}
		}
		if a, err := r.admin(); err == nil && a != nil {
			copts.Credentials = conformance.AdminCredentials(client.NewAdmin(a.url, a.token, r.adminOptions()...))
		}
		if fx != nil {
			copts.Directory = fx.Directory()
		}
		res = conformance.Run(ctx, scenarios, copts)
		// Tenant B first: the custom fields of the mappings go with the
		// last provider.
		if err := r.closeFixture(fxB, res); err != nil {
			r.note("Error: %v", err)
		}
	}
	if err := r.closeFixture(fx, res); err != nil {
		r.note("Error: %v", err)
	}
	if err := r.write(res); err != nil {
		return err
	}
	if err := r.writeShrunk(res.Explore); err != nil {
		return err
	}
	if !res.OK() {
		return &exitStatusError{code: exitError}
	}
	return nil
}

// capabilities are what the flags say of the server, over what its
// discovery endpoints say.
func (o *testOptions) capabilities() map[conformance.Capability]bool {
	if !o.Strict {
		return nil
	}
	return map[conformance.Capability]bool{conformance.CapLenient: false, conformance.CapStrict: true}
}

// exploreOnly says whether --explore runs alone: no --suite, no
// --scenarios.
func (o *testOptions) exploreOnly() bool {
	return o.Explore > 0 && len(o.Suites) == 0 && o.ScenariosDir == ""
}

// validate checks the flags that do not need the network. exploreSet says
// whether --seed or --explore-dir was given.
func (o *testOptions) validate(pauseScaleSet, exploreSet bool) error {
	oauth := o.OAuthTokenURL != "" || o.ClientID != ""
	if oauth && o.ClientSecret == "" {
		o.ClientSecret = os.Getenv("KACESCIM_CLIENT_SECRET")
	}
	switch {
	case oauth && (o.OAuthTokenURL == "" || o.ClientID == "" || o.ClientSecret == ""):
		return usageErr("--oauth-token-url, --client-id and --client-secret (or KACESCIM_CLIENT_SECRET) go together: give all three")
	case o.OAuthTokenURL != "" && (o.Key != "" || o.Token != ""):
		return usageErr("--oauth-token-url gets the run an access token: leave --key (and KACESCIM_KEY) out")
	case o.OAuthTokenURL != "" && o.Runscope != "":
		return usageErr("--runscope replays Okta's export, which authenticates with a key: --oauth-token-url cannot be used with it")
	}
	switch {
	case o.Explore < 0 || o.Explore > maxExplore:
		return usageErr(fmt.Sprintf("--explore %d: give a number of operations from 1 to %d", o.Explore, maxExplore))
	case o.Explore == 0 && exploreSet:
		return usageErr("--seed and --explore-dir go with --explore N")
	case o.Explore > 0 && o.Runscope != "":
		return usageErr("--runscope replays an export: it cannot be used with --explore")
	case o.Explore > 0 && o.ExploreDir == "":
		return usageErr("--explore-dir: give a directory for the shortest failing sequence")
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
		var err error
		if own, dirSuites, err = conformance.LoadScenarioDir(r.ScenariosDir); err != nil {
			return nil, nil, usageErr("--scenarios " + err.Error())
		}
	}
	suites, err := conformance.SelectSuites(r.Suites, dirSuites)
	if err != nil {
		return nil, nil, usageErr(err.Error())
	}
	// The built-in scenarios are read only when a suite of theirs runs.
	needBuiltin := r.ScenariosDir == "" || slices.ContainsFunc(suites, func(s string) bool { return slices.Contains(conformance.Suites, s) })
	if !needBuiltin {
		return own, suites, nil
	}
	builtin, err := conformance.BuiltinScenarios()
	if err != nil {
		return nil, nil, err
	}
	return append(builtin, own...), suites, nil
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
		return usageErr("no key: give the identity provider's key with --key (or KACESCIM_KEY), or admin access with --admin-url and --admin-token for a throw-away provider")
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
		r.note("Give the key of an enabled provider with --key or KACESCIM_KEY (kacescim: `kacescim provider add NAME --enabled` prints one).")
		return &exitStatusError{code: exitUsage}
	}
	return nil
}
