package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
)

// NewCmdProvider returns `kacescim provider` and its verbs.
func NewCmdProvider(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "provider",
		Aliases: []string{"providers"},
		Short:   "Manage identity-provider connections and their security keys",
		Long: `A provider is one identity-provider connection (Okta, Entra ID). The
identity provider sends its security key with every SCIM request; the key is
generated when the provider is enabled, shown once, and stored only as a hash.
rotate-key makes a new key and keeps the old one working for a grace period
(24h by default), so that the new one can be pasted into the identity
provider without failed requests; keys lists them, revoke-key stops one.`,
		Args: parentArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		NewCmdProviderAdd(g),
		NewCmdProviderList(g),
		NewCmdProviderShow(g),
		NewCmdProviderSet(g, nil),
		NewCmdProviderEnable(g),
		NewCmdProviderDisable(g),
		NewCmdProviderRotateKey(g),
		NewCmdProviderKeys(g),
		NewCmdProviderRevokeKey(g),
		NewCmdProviderAddSecret(g),
		NewCmdProviderSecrets(g),
		NewCmdProviderRevokeSecret(g),
		NewCmdProviderFederation(g),
		NewCmdProviderRemove(g),
	)
	return cmd
}

// --- add ---

type providerAddOptions struct {
	g         *globalOptions
	Name      string
	Enabled   bool
	Strict    bool
	RateLimit float64
	Quiet     bool
	Expires   time.Duration
	OAuth     bool
}

// NewCmdProviderAdd returns `kacescim provider add`.
func NewCmdProviderAdd(g *globalOptions) *cobra.Command {
	opts := &providerAddOptions{g: g}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a provider (with --enabled, get its SCIM base URL and security key)",
		Example: `  kacescim provider add Okta --enabled
  kacescim provider add "Entra ID"
  kacescim provider add Okta --enabled --strict --rate-limit 50
  export KACESCIM_KEY=$(kacescim provider add Okta --enabled --quiet)`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := checkRateLimit(opts.RateLimit); err != nil {
				return err
			}
			if opts.Quiet && !opts.Enabled {
				return usageErr("--quiet prints the new provider's security key, which only --enabled generates: add --enabled")
			}
			if opts.Expires != 0 && !opts.Enabled {
				return usageErr("--expires is the lifetime of the security key, which only --enabled generates: add --enabled, or give --expires to `provider enable`")
			}
			if err := checkKeyLifetime(opts.Expires); err != nil {
				return err
			}
			if opts.OAuth && opts.Quiet {
				return usageErr("--quiet prints the security key alone; with --oauth there is a client ID and secret too: leave --quiet out (or use --output json)")
			}
			return runProviderAdd(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Enabled, "enabled", false, "enable the provider now, which generates its security key")
	f.BoolVar(&opts.Strict, "strict", false, strictUsage+" (accepted by default)")
	f.Float64Var(&opts.RateLimit, "rate-limit", 0, rateLimitUsage)
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "print the security key alone, for a script to keep (with --enabled)")
	f.Var((*durationFlag)(&opts.Expires), "expires", expiresUsage)
	f.BoolVar(&opts.OAuth, "oauth", false, "also make an OAuth client ID and secret, for Microsoft Entra ID's client credentials (see provider add-secret)")
	return cmd
}

// expiresUsage is the help of --expires, on every verb that makes a key.
const expiresUsage = "make the new security key expire this long after now (e.g. 90d, 720h); by default it never expires"

// checkKeyLifetime refuses, before anything is sent, an --expires the
// server would refuse.
func checkKeyLifetime(d time.Duration) error {
	switch {
	case d < 0:
		return usageErr(fmt.Sprintf("--expires must be positive, got %s", (*durationFlag)(&d)))
	case d > 0 && d < time.Second:
		return usageErr(fmt.Sprintf("--expires must be at least 1s, got %s", (*durationFlag)(&d)))
	case d > directory.MaxKeyLifetime:
		return usageErr(fmt.Sprintf("--expires must be at most 3650d (10 years), got %s", (*durationFlag)(&d)))
	}
	return nil
}

// The help of the flags add and set share.
const (
	strictUsage    = "accept RFC 7644 only from the provider, refusing Microsoft Entra ID's dialect"
	rateLimitUsage = "answer 429 to the provider's SCIM requests beyond `N` per second (0: no limit)"
)

// checkRateLimit refuses, before anything is sent, a --rate-limit the
// server would refuse.
func checkRateLimit(r float64) error {
	if !(r >= 0 && r <= directory.MaxRateLimit) { // NaN fails both
		return usageErr(fmt.Sprintf("--rate-limit must be from 0 (no limit) to %d requests per second, not %s", directory.MaxRateLimit, formatRate(r)))
	}
	return nil
}

func formatRate(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }

// dialectText and rateLimitText describe the provider's settings in words.
func dialectText(strict bool) string {
	if strict {
		return "strict (RFC 7644 only)"
	}
	return "lenient (accepts Microsoft Entra ID's dialect)"
}

func rateLimitText(r float64) string {
	if r == 0 {
		return "none"
	}
	return formatRate(r) + " requests/s"
}

func runProviderAdd(ctx context.Context, opts *providerAddOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	resp, err := api.CreateProvider(ctx, adminapi.CreateProviderRequest{
		Name: opts.Name, Enabled: opts.Enabled, Strict: opts.Strict, RateLimit: opts.RateLimit,
		KeyExpiresInSeconds: int64(opts.Expires / time.Second),
	})
	if err != nil {
		return err
	}
	var oauth *adminapi.NewSecretResponse
	if opts.OAuth {
		if oauth, err = addSecretAfterAdd(ctx, opts.g, resp.Provider.Name); err != nil {
			return fmt.Errorf("provider %s was added, but its client secret was not: %w (retry with kacescim provider add-secret %s)",
				resp.Provider.Name, err, shellQuote(resp.Provider.Name))
		}
		resp.Provider.ClientID = oauth.Client.ClientID
	}
	p := opts.g.printer()
	switch {
	case opts.g.jsonOutput() && oauth != nil:
		return p.JSON(struct {
			*adminapi.ProviderKeyResponse
			OAuth *adminapi.NewSecretResponse `json:"oauth"`
		}{resp, oauth})
	case opts.g.jsonOutput():
		return p.JSON(resp)
	case opts.Quiet:
		p.Println(resp.Key)
		return nil
	}
	if resp.Key == "" {
		p.Success("Created provider %s (%s).", resp.Provider.Name, createdState(resp.Provider))
		p.Println(fmt.Sprintf("It has no security key yet: run `kacescim provider enable %s` to get one.", shellQuote(resp.Provider.Name)))
	} else {
		p.Success("Created provider %s (%s).", resp.Provider.Name, createdState(resp.Provider))
		if err := printNewKey(p, resp); err != nil {
			return err
		}
	}
	if oauth != nil {
		p.Println()
		p.Println("For Microsoft Entra ID's OAuth 2.0 client credentials:")
		return printNewSecret(p, oauth)
	}
	return nil
}

// createdState is "enabled" or "disabled", followed by the settings that
// differ from the defaults.
func createdState(pr adminapi.Provider) string {
	state := "disabled"
	if pr.Enabled {
		state = "enabled"
	}
	if pr.Strict {
		state += ", strict"
	}
	if pr.RateLimit != 0 {
		state += ", rate limit " + rateLimitText(pr.RateLimit)
	}
	return state
}

// printNewKey shows the SCIM base URL and the new key, the one time the
// key is ever shown.
func printNewKey(p *printer, resp *adminapi.ProviderKeyResponse) error {
	p.Println()
	fields := [][2]string{
		{"SCIM base URL", resp.Provider.SCIMURL},
		{"Security key", resp.Key},
	}
	if n := len(resp.Provider.Keys); n > 0 && resp.Provider.Keys[n-1].ExpiresAt != nil {
		fields = append(fields, [2]string{"Expires", p.Time(*resp.Provider.Keys[n-1].ExpiresAt)})
	}
	if err := p.Fields(fields); err != nil {
		return err
	}
	p.Println()
	p.Warn("Copy the security key now: it will not be shown again.")
	return nil
}

// --- list ---

type providerListOptions struct {
	g *globalOptions
}

// NewCmdProviderList returns `kacescim provider list`.
func NewCmdProviderList(g *globalOptions) *cobra.Command {
	opts := &providerListOptions{g: g}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List providers",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProviderList(cmd.Context(), opts)
		},
	}
}

func runProviderList(ctx context.Context, opts *providerListOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	ps, err := api.Providers(ctx)
	if err != nil {
		return err
	}
	return renderProviderList(opts.g, ps)
}

// renderProviderList prints the providers in the output format asked for.
// The key hint is withheld: `provider show --show-key-hint` reveals it.
func renderProviderList(g *globalOptions, ps []adminapi.Provider) error {
	p := g.printer()
	for i := range ps {
		ps[i] = hideKeyHint(ps[i])
	}
	if g.jsonOutput() {
		if ps == nil {
			ps = []adminapi.Provider{}
		}
		return p.JSON(adminapi.ProviderList{Providers: ps})
	}
	if len(ps) == 0 && p.tty {
		fmt.Fprintln(g.IO.ErrOut, "No providers yet: add one with `kacescim provider add NAME --enabled`.")
		return nil
	}
	rows := make([][]string, 0, len(ps))
	for _, pr := range ps {
		key := pr.KeyMasked
		if key == "" && p.tty {
			key = "none"
		}
		rows = append(rows, []string{
			pr.Name,
			p.Bool(pr.Enabled),
			key,
			strconv.FormatInt(pr.SyncedUsers, 10),
			p.Time(timeOf(pr.LastSyncAt)),
			p.Time(pr.CreatedAt),
		})
	}
	return p.Table([]string{"NAME", "ENABLED", "KEY", "SYNCED USERS", "LAST SYNC", "CREATED"}, rows)
}

// hideKeyHint masks the whole key, hint included.
func hideKeyHint(p adminapi.Provider) adminapi.Provider {
	if p.KeyMasked != "" {
		p.KeyMasked = directory.MaskedKeyNoHint
	}
	p.Keys = slices.Clone(p.Keys)
	for i := range p.Keys {
		p.Keys[i].Masked = directory.MaskedKeyNoHint
	}
	return p
}

// timeOf is *t, or zero for nil.
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// --- show ---

type providerShowOptions struct {
	g           *globalOptions
	Name        string
	ShowKeyHint bool
}

// NewCmdProviderShow returns `kacescim provider show`.
func NewCmdProviderShow(g *globalOptions) *cobra.Command {
	opts := &providerShowOptions{g: g}
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a provider: state, masked key, SCIM base URL, synced users, last sync",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return runProviderShow(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ShowKeyHint, "show-key-hint", false, "show the last 4 characters of the security key, to tell which key an identity provider holds")
	return cmd
}

func runProviderShow(ctx context.Context, opts *providerShowOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	pr, err := api.Provider(ctx, opts.Name)
	if err != nil {
		return err
	}
	return renderProvider(opts.g, *pr, opts.ShowKeyHint)
}

// renderProvider prints one provider in the output format asked for.
func renderProvider(g *globalOptions, pr adminapi.Provider, showKeyHint bool) error {
	p := g.printer()
	if !showKeyHint {
		pr = hideKeyHint(pr)
	}
	if g.jsonOutput() {
		return p.JSON(pr)
	}
	key := pr.KeyMasked
	switch {
	case !pr.HasKey && !pr.Enabled:
		key = fmt.Sprintf("none (run `kacescim provider enable %s` to generate one)", shellQuote(pr.Name))
	case key == "":
		key = fmt.Sprintf("none (run `kacescim provider rotate-key %s` to generate one)", shellQuote(pr.Name))
	case !showKeyHint && p.tty:
		key += "  (--show-key-hint shows its last 4 characters)"
	}
	fields := [][2]string{
		{"Name", pr.Name},
		{"Enabled", p.Bool(pr.Enabled)},
		{"Security key", key},
	}
	if more := keySummary(p, pr); more != "" {
		fields = append(fields, [2]string{"Keys", more})
	}
	fields = append(fields, [2]string{"SCIM base URL", pr.SCIMURL})
	if pr.ClientID != "" {
		fields = append(fields, [2]string{"OAuth client ID", pr.ClientID}, [2]string{"Token endpoint", pr.TokenURL})
	}
	if pr.JWTIssuer != "" {
		fields = append(fields, [2]string{"JWT issuer", pr.JWTIssuer})
	}
	fields = append(fields, setupHints(pr)...)
	return p.Fields(append(fields, [][2]string{
		{"Dialect", dialectText(pr.Strict)},
		{"Rate limit", rateLimitText(pr.RateLimit)},
		{"Synced users", strconv.FormatInt(pr.SyncedUsers, 10)},
		{"Last sync", p.TimeOrNever(timeOf(pr.LastSyncAt))},
		{"Created", p.Time(pr.CreatedAt)},
	}...))
}

// setupHints say what to paste where in Okta and in Entra ID, for the
// credentials the provider has.
func setupHints(pr adminapi.Provider) [][2]string {
	if !pr.Enabled {
		return nil
	}
	var hints [][2]string
	if pr.KeyMasked != "" {
		hints = append(hints, [2]string{"In Okta", "SCIM connector base URL: the SCIM base URL; authentication mode HTTP Header, Bearer: the security key"})
	}
	var entra []string
	if pr.KeyMasked != "" {
		entra = append(entra, "Tenant URL: the SCIM base URL, Secret Token: the security key")
	}
	if pr.ClientID != "" {
		entra = append(entra, "OAuth 2.0 client credentials: the client ID, its client secret (shown when it was made) and the token endpoint")
	}
	if pr.JWTIssuer != "" {
		entra = append(entra, "its own JWTs (workload identity federation, kacescim provider federation show)")
	}
	if len(entra) > 0 {
		hints = append(hints, [2]string{"In Entra ID", strings.Join(entra, "; or ")})
	}
	return hints
}

// keySummary says, beside the current key, what else the provider holds
// and when it matters: its expiry, a key in its grace period, expired
// keys. "" when there is only a current key that never expires.
func keySummary(p *printer, pr adminapi.Provider) string {
	var current, others []string
	for _, k := range pr.Keys {
		switch {
		case k.State == "active" && k.ExpiresAt != nil:
			current = append(current, "this one expires "+p.Time(*k.ExpiresAt))
		case k.State == "grace":
			others = append(others, fmt.Sprintf("the key it replaced (%s) works until %s", k.ID, p.Time(timeOf(k.ExpiresAt))))
		case k.State == "expired":
			others = append(others, fmt.Sprintf("key %s expired %s", k.ID, p.Time(timeOf(k.ExpiresAt))))
		}
	}
	parts := append(current, others...)
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ") + fmt.Sprintf(" (kacescim provider keys %s)", shellQuote(pr.Name))
}

// --- set ---

type providerSetOptions struct {
	g    *globalOptions
	Name string
	// Strict and RateLimit are nil unless their flag was given: only what
	// the command line names changes.
	Strict    *bool
	RateLimit *float64
}

// NewCmdProviderSet returns `kacescim provider set`. runF replaces the run
// function in tests that check how the flags become options.
func NewCmdProviderSet(g *globalOptions, runF func(context.Context, *providerSetOptions) error) *cobra.Command {
	opts := &providerSetOptions{g: g}
	var strict bool
	var rateLimit float64
	cmd := &cobra.Command{
		Use:   "set NAME [--strict=true|false] [--rate-limit N]",
		Short: "Change a provider's dialect or rate limit",
		Long: `Change a provider's settings. Only the flags given change; the others keep
their values.

--strict holds the provider's SCIM requests to RFC 7644: what only Microsoft
Entra ID sends (capitalised PATCH ops, booleans as strings, PATCHes without
Operations) is answered 400. --strict=false accepts it again, as a new
provider does.

--rate-limit N answers 429, with Retry-After, to the provider's SCIM requests
beyond N per second; --rate-limit 0 removes the limit.`,
		Example: `  kacescim provider set Okta --strict --rate-limit 50
  kacescim provider set "Entra ID" --strict=false
  kacescim provider set Okta --rate-limit 0`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			f := cmd.Flags()
			if f.Changed("strict") {
				opts.Strict = &strict
			}
			if f.Changed("rate-limit") {
				if err := checkRateLimit(rateLimit); err != nil {
					return err
				}
				opts.RateLimit = &rateLimit
			}
			if opts.Strict == nil && opts.RateLimit == nil {
				return usageErr(fmt.Sprintf("nothing to set: give --strict=true|false, --rate-limit N or both (%s %s --rate-limit 50)", cmd.CommandPath(), shellQuote(opts.Name)))
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runProviderSet(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&strict, "strict", false, strictUsage+" (--strict=false accepts it again)")
	f.Float64Var(&rateLimit, "rate-limit", 0, rateLimitUsage)
	return cmd
}

func runProviderSet(ctx context.Context, opts *providerSetOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	pr, err := api.UpdateProvider(ctx, opts.Name, adminapi.UpdateProviderRequest{Strict: opts.Strict, RateLimit: opts.RateLimit})
	if err != nil {
		return err
	}
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		return p.JSON(hideKeyHint(*pr))
	}
	p.Success("Updated provider %s.", pr.Name)
	return p.Fields([][2]string{
		{"Dialect", dialectText(pr.Strict)},
		{"Rate limit", rateLimitText(pr.RateLimit)},
	})
}

// --- enable, disable, rotate-key ---

// providerKeyOptions are the options of the verbs that take just a name.
type providerKeyOptions struct {
	g    *globalOptions
	Name string
}

func newProviderNameCmd(g *globalOptions, use, short, long string, run func(context.Context, *providerKeyOptions) error) *cobra.Command {
	opts := &providerKeyOptions{g: g}
	return &cobra.Command{
		Use:   use + " NAME",
		Short: short,
		Long:  long,
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return run(cmd.Context(), opts)
		},
	}
}

// newKeyCmdOptions are the options of enable and rotate-key, which make
// a key.
type newKeyCmdOptions struct {
	g       *globalOptions
	Name    string
	Grace   time.Duration
	Expires time.Duration
}

// NewCmdProviderEnable returns `kacescim provider enable`.
func NewCmdProviderEnable(g *globalOptions) *cobra.Command {
	opts := &newKeyCmdOptions{g: g}
	cmd := &cobra.Command{
		Use:   "enable NAME [--expires D]",
		Short: "Enable a provider and generate its new security key",
		Long: `Enable a disabled provider. It gets a new security key, shown once; a key
it had before it was disabled no longer works. Enabling an enabled provider
changes nothing.`,
		Example: `  kacescim provider enable Okta
  kacescim provider enable Okta --expires 90d`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := checkKeyLifetime(opts.Expires); err != nil {
				return err
			}
			return runProviderEnable(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var((*durationFlag)(&opts.Expires), "expires", expiresUsage)
	return cmd
}

func runProviderEnable(ctx context.Context, opts *newKeyCmdOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	resp, err := api.EnableProvider(ctx, opts.Name, adminapi.NewKeyRequest{ExpiresInSeconds: int64(opts.Expires / time.Second)})
	if err != nil {
		return err
	}
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		return p.JSON(resp)
	}
	if resp.Key == "" {
		p.Println(fmt.Sprintf("Provider %s is already enabled: its security key is unchanged (`kacescim provider rotate-key %s` makes a new one).",
			resp.Provider.Name, shellQuote(resp.Provider.Name)))
		return nil
	}
	p.Success("Enabled provider %s.", resp.Provider.Name)
	return printNewKey(p, resp)
}

// NewCmdProviderDisable returns `kacescim provider disable`.
func NewCmdProviderDisable(g *globalOptions) *cobra.Command {
	return newProviderNameCmd(g, "disable", "Disable a provider: its SCIM requests are refused",
		`Disable a provider. Its SCIM requests are answered 403 (nothing is changed)
until it is enabled again, which generates a new security key.`, runProviderDisable)
}

func runProviderDisable(ctx context.Context, opts *providerKeyOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	resp, err := api.DisableProvider(ctx, opts.Name)
	if err != nil {
		return err
	}
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		return p.JSON(resp)
	}
	p.Success("Disabled provider %s: its SCIM requests are refused until `kacescim provider enable %s`, which issues a new key.",
		resp.Provider.Name, shellQuote(resp.Provider.Name))
	return nil
}

// NewCmdProviderRotateKey returns `kacescim provider rotate-key`.
func NewCmdProviderRotateKey(g *globalOptions) *cobra.Command {
	opts := &newKeyCmdOptions{g: g}
	cmd := &cobra.Command{
		Use:   "rotate-key NAME [--grace D] [--expires D]",
		Short: "Give an enabled provider a new security key; the old one works for a grace period",
		Long: `Generate a new security key for an enabled provider, shown once. The key it
replaces keeps working for the grace period (--grace, 24h by default), so
that the identity provider keeps provisioning while the new key is pasted
into it; then it is refused with 401, saying that it was replaced.

--grace 0 stops every old key at once: what a leaked key needs.

A provider holds at most two live keys: rotating again while a key is in
its grace period is refused (revoke it first with revoke-key, or rotate
with --grace 0).`,
		Example: `  kacescim provider rotate-key Okta
  kacescim provider rotate-key Okta --grace 1h --expires 90d
  kacescim provider rotate-key Okta --grace 0`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.Grace < 0 {
				return usageErr(fmt.Sprintf("--grace must be 0 (stop the old key at once) or positive, got %s", (*durationFlag)(&opts.Grace)))
			}
			if opts.Grace > 30*24*time.Hour {
				return usageErr(fmt.Sprintf("--grace must be at most 30d, got %s", (*durationFlag)(&opts.Grace)))
			}
			if err := checkKeyLifetime(opts.Expires); err != nil {
				return err
			}
			return runProviderRotateKey(cmd.Context(), opts)
		},
	}
	opts.Grace = directory.DefaultGrace
	f := cmd.Flags()
	f.Var((*durationFlag)(&opts.Grace), "grace", "how long the replaced key keeps working (0: stop it at once)")
	f.Var((*durationFlag)(&opts.Expires), "expires", expiresUsage)
	return cmd
}

func runProviderRotateKey(ctx context.Context, opts *newKeyCmdOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	grace := int64(opts.Grace / time.Second)
	resp, err := api.RotateKey(ctx, opts.Name, adminapi.NewKeyRequest{GraceSeconds: &grace, ExpiresInSeconds: int64(opts.Expires / time.Second)})
	if err != nil {
		return err
	}
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		return p.JSON(resp)
	}
	var until *time.Time
	for _, k := range resp.Provider.Keys {
		if k.State == "grace" {
			until = k.ExpiresAt
		}
	}
	if until == nil {
		p.Success("New security key for provider %s: the old key no longer works.", resp.Provider.Name)
	} else {
		p.Success("New security key for provider %s: the old key keeps working until %s.", resp.Provider.Name, p.Time(*until))
	}
	if err := printNewKey(p, resp); err != nil {
		return err
	}
	if until != nil {
		p.Println(fmt.Sprintf("Paste it into the identity provider before then; `kacescim provider keys %s` shows when the old key was last used.",
			shellQuote(resp.Provider.Name)))
	}
	return nil
}

// NewCmdProviderKeys returns `kacescim provider keys`.
func NewCmdProviderKeys(g *globalOptions) *cobra.Command {
	opts := &providerKeyOptions{g: g}
	return &cobra.Command{
		Use:   "keys NAME",
		Short: "List a provider's security keys: state, created, expires, last used",
		Long: `List a provider's security keys, oldest first, masked to their last 4
characters. STATE is active, grace (replaced by a rotation, working until
EXPIRES) or expired (refused). LAST USED is the newest request the key
authenticated, as the provisioning log records it (within a second or so).`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return runProviderKeys(cmd.Context(), opts)
		},
	}
}

func runProviderKeys(ctx context.Context, opts *providerKeyOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	keys, err := api.Keys(ctx, opts.Name)
	if err != nil {
		return err
	}
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		if keys == nil {
			keys = []adminapi.Key{}
		}
		return p.JSON(adminapi.KeyList{Keys: keys})
	}
	if len(keys) == 0 && p.tty {
		fmt.Fprintf(opts.g.IO.ErrOut, "Provider %s has no security key: `kacescim provider enable %s` (or rotate-key, if it is enabled) makes one.\n",
			opts.Name, shellQuote(opts.Name))
		return nil
	}
	rows := make([][]string, 0, len(keys))
	for _, k := range keys {
		expires := "never"
		if k.ExpiresAt != nil {
			expires = p.Time(*k.ExpiresAt)
		}
		rows = append(rows, []string{k.ID, k.Masked, k.State, p.Time(k.CreatedAt), expires, p.TimeOrNever(timeOf(k.LastUsedAt))})
	}
	return p.Table([]string{"ID", "KEY", "STATE", "CREATED", "EXPIRES", "LAST USED"}, rows)
}

// NewCmdProviderRevokeKey returns `kacescim provider revoke-key`.
func NewCmdProviderRevokeKey(g *globalOptions) *cobra.Command {
	var name, id string
	return &cobra.Command{
		Use:   "revoke-key NAME KEYID",
		Short: "Stop one of a provider's security keys at once",
		Long: `Remove a security key of a provider: requests carrying it are refused with
401 from now on. KEYID is the ID column of ` + "`kacescim provider keys NAME`" + ` (or the
key's last 4 characters, when no other key of the provider shares them).
Revoking the last live key leaves the provider unable to provision until
rotate-key (or enable) makes a new one.`,
		Example: `  kacescim provider keys Okta
  kacescim provider revoke-key Okta k7m2x9qfa`,
		Args: exactArgs("NAME", "KEYID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, id = args[0], args[1]
			api, err := g.admin()
			if err != nil {
				return err
			}
			resp, err := api.RevokeKey(cmd.Context(), name, id)
			if err != nil {
				return err
			}
			p := g.printer()
			if g.jsonOutput() {
				return p.JSON(resp)
			}
			p.Success("Revoked key %s of provider %s: it no longer works.", id, resp.Provider.Name)
			live := 0
			for _, k := range resp.Provider.Keys {
				if k.State != "expired" {
					live++
				}
			}
			if live == 0 {
				p.Warn("Provider %s has no live key now: its SCIM requests fail until `kacescim provider rotate-key %s` makes one.",
					resp.Provider.Name, shellQuote(resp.Provider.Name))
			}
			return nil
		},
	}
}

// --- remove ---

type providerRemoveOptions struct {
	g    *globalOptions
	Name string
	Yes  bool
}

// NewCmdProviderRemove returns `kacescim provider remove`.
func NewCmdProviderRemove(g *globalOptions) *cobra.Command {
	opts := &providerRemoveOptions{g: g}
	cmd := &cobra.Command{
		Use:     "remove NAME --yes",
		Aliases: []string{"rm"},
		Short:   "Remove a provider with all its users and groups",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return runProviderRemove(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "confirm the removal")
	return cmd
}

func runProviderRemove(ctx context.Context, opts *providerRemoveOptions) error {
	if !opts.Yes {
		return fmt.Errorf("removing provider %s deletes all its users and groups and cannot be undone: add --yes to confirm (kacescim provider remove %s --yes)",
			opts.Name, shellQuote(opts.Name))
	}
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	if err := api.RemoveProvider(ctx, opts.Name); err != nil {
		return err
	}
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		return p.JSON(struct {
			Name    string `json:"name"`
			Removed bool   `json:"removed"`
		}{opts.Name, true})
	}
	p.Success("Removed provider %s with all its users and groups.", opts.Name)
	return nil
}
