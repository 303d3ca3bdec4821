package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
)

// NewCmdMappings returns `kacescim mappings` and its verbs.
func NewCmdMappings(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "mappings",
		Aliases: []string{"mapping"},
		Short:   "Manage a provider's attribute mappings: SCIM attribute → directory-user field",
		Long: `Each provider maps SCIM attributes of its users to the fields of directory
users. Four mappings are required, created with every provider and read-only:
userName → Email, displayName → Name, id → HeliumKeycloakObjectGuid and
active → Disabled (inverted). Any other SCIM attribute path can be mapped to a
built-in field or to a custom field (kacescim fields add). Every change
re-derives the provider's directory users at once.`,
		Args: parentArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		NewCmdMappingsList(g),
		NewCmdMappingsAdd(g),
		NewCmdMappingsRemove(g),
		NewCmdMappingsSuggest(g),
		NewCmdMappingsEdit(g),
		NewCmdMappingsPreview(g),
	)
	return cmd
}

// providerFlag adds the --provider flag every mappings verb takes.
func providerFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "provider", "p", "", "the provider whose mappings to use (required)")
}

// requireProvider refuses a missing --provider as a usage error.
func requireProvider(cmd *cobra.Command, provider string) error {
	if strings.TrimSpace(provider) == "" {
		return usageErr(fmt.Sprintf("missing --provider: %s --provider NAME (kacescim provider list shows the names)", cmd.CommandPath()))
	}
	return nil
}

// mappingText is "PATH → FIELD".
func mappingText(m adminapi.Mapping) string { return m.SCIMPath + " → " + m.Field }

// plural is "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// printChangedUsers says how many directory users a mapping change
// re-derived.
func printChangedUsers(p *printer, n int) {
	p.Println(plural(n, "directory user") + " updated.")
}

// normPath compares SCIM paths the way the server does: case and spacing
// aside, and with \" written as ".
func normPath(path string) string {
	path = strings.ReplaceAll(path, `\"`, `"`)
	return strings.ToLower(strings.Join(strings.Fields(path), " "))
}

// findMapping returns the mapping of ms that fills field, if any.
func findMapping(ms []adminapi.Mapping, field string) (adminapi.Mapping, bool) {
	for _, m := range ms {
		if strings.EqualFold(m.Field, strings.TrimSpace(field)) {
			return m, true
		}
	}
	return adminapi.Mapping{}, false
}

// --- list ---

type mappingsListOptions struct {
	g        *globalOptions
	Provider string
}

// NewCmdMappingsList returns `kacescim mappings list`.
func NewCmdMappingsList(g *globalOptions) *cobra.Command {
	opts := &mappingsListOptions{g: g}
	cmd := &cobra.Command{
		Use:     "list --provider NAME",
		Aliases: []string{"ls"},
		Short:   "List a provider's mappings, the required read-only ones first",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireProvider(cmd, opts.Provider); err != nil {
				return err
			}
			return runMappingsList(cmd.Context(), opts)
		},
	}
	providerFlag(cmd, &opts.Provider)
	return cmd
}

func runMappingsList(ctx context.Context, opts *mappingsListOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	ms, err := api.Mappings(ctx, opts.Provider)
	if err != nil {
		return err
	}
	return renderMappingList(opts.g, ms)
}

// renderMappingList prints mappings in the output format asked for.
func renderMappingList(g *globalOptions, ms []adminapi.Mapping) error {
	p := g.printer()
	if g.jsonOutput() {
		if ms == nil {
			ms = []adminapi.Mapping{}
		}
		return p.JSON(adminapi.MappingList{Mappings: ms})
	}
	rows := make([][]string, 0, len(ms))
	for _, m := range ms {
		rows = append(rows, []string{m.SCIMPath, m.Field, m.FieldType, mappingNote(m)})
	}
	return p.Table([]string{"SCIM ATTRIBUTE", "FIELD", "TYPE", "NOTE"}, rows)
}

// mappingNote explains the mappings that do more than copy a value.
func mappingNote(m adminapi.Mapping) string {
	switch {
	case m.Required && m.Field == directory.FieldDisabled:
		return "required, read-only; Disabled = not active"
	case m.Required:
		return "required, read-only"
	case strings.EqualFold(m.SCIMPath, directory.GroupsPath):
		return "names of the user's groups, comma-delimited"
	}
	return ""
}

// --- add ---

type mappingsAddOptions struct {
	g        *globalOptions
	Provider string
	SCIMPath string
	Field    string
}

// NewCmdMappingsAdd returns `kacescim mappings add`.
func NewCmdMappingsAdd(g *globalOptions) *cobra.Command {
	opts := &mappingsAddOptions{g: g}
	cmd := &cobra.Command{
		Use:   "add --provider NAME --scim PATH --field FIELD",
		Short: "Map a SCIM attribute to a directory-user field",
		Long: `Map a SCIM attribute path to a built-in field or to a custom field that
exists (kacescim fields add). The provider's directory users are re-derived at
once; the command says how many changed.`,
		Example: `  kacescim mappings add -p Okta --scim urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department --field Department
  kacescim mappings add -p Okta --scim 'phoneNumbers[type eq "mobile"].value' --field Mobile
  kacescim mappings add -p Okta --scim 'addresses[type eq "work"].locality' --field City`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireProvider(cmd, opts.Provider); err != nil {
				return err
			}
			if strings.TrimSpace(opts.SCIMPath) == "" || strings.TrimSpace(opts.Field) == "" {
				return usageErr(fmt.Sprintf("a mapping needs --scim PATH and --field FIELD: %s --provider NAME --scim PATH --field FIELD", cmd.CommandPath()))
			}
			return runMappingsAdd(cmd.Context(), opts)
		},
	}
	providerFlag(cmd, &opts.Provider)
	cmd.Flags().StringVar(&opts.SCIMPath, "scim", "", "the SCIM attribute path, e.g. 'addresses[type eq \"work\"].locality'")
	cmd.Flags().StringVar(&opts.Field, "field", "", "the directory-user field it fills: built-in or custom")
	return cmd
}

func runMappingsAdd(ctx context.Context, opts *mappingsAddOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	resp, err := api.AddMapping(ctx, opts.Provider, adminapi.Mapping{SCIMPath: opts.SCIMPath, Field: opts.Field})
	if err != nil {
		return err
	}
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		return p.JSON(resp)
	}
	added, ok := findMapping(resp.Mappings, opts.Field)
	if !ok { // the server spelled the field differently: show what was asked
		added = adminapi.Mapping{SCIMPath: opts.SCIMPath, Field: opts.Field}
	}
	p.Success("Added mapping %s (%s) to provider %s.", mappingText(added), added.FieldType, opts.Provider)
	printChangedUsers(p, resp.ChangedUsers)
	return nil
}

// --- remove ---

type mappingsRemoveOptions struct {
	g        *globalOptions
	Provider string
	SCIMPath string
	Field    string
}

// NewCmdMappingsRemove returns `kacescim mappings remove`.
func NewCmdMappingsRemove(g *globalOptions) *cobra.Command {
	opts := &mappingsRemoveOptions{g: g}
	cmd := &cobra.Command{
		Use:     "remove --provider NAME (--scim PATH | --field FIELD)",
		Aliases: []string{"rm"},
		Short:   "Remove an optional mapping, by its SCIM path or its field",
		Long: `Remove an optional mapping. The field it filled is cleared from the
provider's directory users at once. Required mappings cannot be removed.`,
		Example: `  kacescim mappings remove -p Okta --field Manager
  kacescim mappings remove -p Okta --scim 'addresses[type eq "work"].locality'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireProvider(cmd, opts.Provider); err != nil {
				return err
			}
			switch scim, field := strings.TrimSpace(opts.SCIMPath), strings.TrimSpace(opts.Field); {
			case scim == "" && field == "":
				return usageErr(fmt.Sprintf("say which mapping to remove: %s --provider NAME (--scim PATH | --field FIELD)", cmd.CommandPath()))
			case scim != "" && field != "":
				return usageErr("give --scim or --field, not both")
			}
			return runMappingsRemove(cmd.Context(), opts)
		},
	}
	providerFlag(cmd, &opts.Provider)
	cmd.Flags().StringVar(&opts.SCIMPath, "scim", "", "the SCIM attribute path of the mapping")
	cmd.Flags().StringVar(&opts.Field, "field", "", "the field the mapping fills")
	return cmd
}

func runMappingsRemove(ctx context.Context, opts *mappingsRemoveOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	// Read the mappings first, only to name the removed one in full.
	before, err := api.Mappings(ctx, opts.Provider)
	if err != nil {
		return err
	}
	resp, err := api.RemoveMapping(ctx, opts.Provider, opts.SCIMPath, opts.Field)
	if err != nil {
		return err
	}
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		return p.JSON(resp)
	}
	_, removed := diffMappings(before, resp.Mappings)
	for _, m := range removed {
		p.Success("Removed mapping %s from provider %s.", mappingText(m), opts.Provider)
	}
	if len(removed) == 0 {
		p.Success("Removed the mapping from provider %s.", opts.Provider)
	}
	printChangedUsers(p, resp.ChangedUsers)
	return nil
}

// diffMappings returns the mappings of after that are not in before, and
// those of before that are not in after.
func diffMappings(before, after []adminapi.Mapping) (added, removed []adminapi.Mapping) {
	key := func(m adminapi.Mapping) string { return normPath(m.SCIMPath) + "\x00" + strings.ToLower(m.Field) }
	in := func(ms []adminapi.Mapping, m adminapi.Mapping) bool {
		for _, o := range ms {
			if key(o) == key(m) {
				return true
			}
		}
		return false
	}
	for _, m := range after {
		if !in(before, m) {
			added = append(added, m)
		}
	}
	for _, m := range before {
		if !in(after, m) {
			removed = append(removed, m)
		}
	}
	return added, removed
}

// --- suggest ---

type mappingsSuggestOptions struct {
	g            *globalOptions
	Provider     string
	All          bool
	CreateFields bool
}

// NewCmdMappingsSuggest returns `kacescim mappings suggest`.
func NewCmdMappingsSuggest(g *globalOptions) *cobra.Command {
	opts := &mappingsSuggestOptions{g: g}
	cmd := &cobra.Command{
		Use:   "suggest --provider NAME [--all] [--create-fields]",
		Short: "Add the suggested mappings (KACE Cloud's, for Okta) that the provider lacks",
		Long: `Offer the mappings KACE Cloud suggests for Okta that the provider does not
have yet: Manager, Department, Organization, Mobile and Groups (custom
fields) and Address, City, State, Zip and Country from the work address
(built-in fields). On a terminal each one is asked for (y/n) unless --all is
given; the chosen ones are added together, in one change.

A suggestion whose custom field does not exist is skipped, with the
` + "`kacescim fields add`" + ` to run, unless --create-fields creates it first.
Without a terminal to ask on, --all is required.`,
		Example: `  kacescim mappings suggest -p Okta
  kacescim mappings suggest -p Okta --all --create-fields`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireProvider(cmd, opts.Provider); err != nil {
				return err
			}
			if !opts.All && !opts.g.IO.IsStdinTTY() {
				return usageErr("stdin is not a terminal, so there is no one to ask which suggestions to add: pass --all to add them all")
			}
			return runMappingsSuggest(cmd.Context(), opts)
		},
	}
	providerFlag(cmd, &opts.Provider)
	cmd.Flags().BoolVar(&opts.All, "all", false, "add every suggestion without asking")
	cmd.Flags().BoolVar(&opts.CreateFields, "create-fields", false, "create the custom fields the chosen suggestions need")
	return cmd
}

// skippedSuggestion is a suggestion that was not offered, and why.
type skippedSuggestion struct {
	adminapi.Mapping
	Reason string `json:"reason"`
}

// suggestResult is what `mappings suggest` did, for --output json.
type suggestResult struct {
	Added         []adminapi.Mapping  `json:"added"`
	Skipped       []skippedSuggestion `json:"skipped"`
	CreatedFields []string            `json:"createdFields"`
	Mappings      []adminapi.Mapping  `json:"mappings"`
	ChangedUsers  int                 `json:"changedUsers"`
}

func runMappingsSuggest(ctx context.Context, opts *mappingsSuggestOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	suggested, err := api.SuggestedMappings(ctx)
	if err != nil {
		return err
	}
	current, err := api.Mappings(ctx, opts.Provider)
	if err != nil {
		return err
	}
	fields, err := api.Fields(ctx)
	if err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, f := range fields {
		exists[strings.ToLower(f.Name)] = true
	}

	res := suggestResult{Added: []adminapi.Mapping{}, Skipped: []skippedSuggestion{}, CreatedFields: []string{}, Mappings: current}
	var candidates []adminapi.Mapping
	for _, s := range suggested {
		prev, filled := findMapping(current, s.Field)
		switch {
		case filled && normPath(prev.SCIMPath) == normPath(s.SCIMPath):
			continue // already there
		case filled:
			res.Skipped = append(res.Skipped, skippedSuggestion{s, fmt.Sprintf("%s is already filled by %s", prev.Field, prev.SCIMPath)})
		case s.FieldType == "custom" && !exists[strings.ToLower(s.Field)] && !opts.CreateFields:
			res.Skipped = append(res.Skipped, skippedSuggestion{s, fmt.Sprintf("there is no custom field %s; run `kacescim fields add %s` first (or pass --create-fields)", s.Field, shellQuote(s.Field))})
		default:
			candidates = append(candidates, s)
		}
	}

	p := opts.g.printer()
	errOut := opts.g.IO.ErrOut
	if !opts.g.jsonOutput() {
		for _, s := range res.Skipped {
			fmt.Fprintf(errOut, "Skipped %s: %s.\n", mappingText(s.Mapping), s.Reason)
		}
	}
	chosen := candidates
	if !opts.All && len(candidates) > 0 {
		if chosen, err = askSuggestions(opts.g.IO.In, errOut, candidates, exists); err != nil {
			return err
		}
	}
	if len(chosen) == 0 {
		if opts.g.jsonOutput() {
			return p.JSON(res)
		}
		switch {
		case len(candidates) == 0 && len(res.Skipped) == 0:
			p.Println(fmt.Sprintf("Provider %s already has every suggested mapping.", opts.Provider))
		default:
			p.Println("No mappings added.")
		}
		return nil
	}

	for _, m := range chosen {
		if m.FieldType != "custom" || exists[strings.ToLower(m.Field)] {
			continue
		}
		f, err := api.CreateField(ctx, adminapi.CreateFieldRequest{Name: m.Field})
		if err != nil {
			return fmt.Errorf("create custom field %s: %w", m.Field, err)
		}
		exists[strings.ToLower(f.Name)] = true
		res.CreatedFields = append(res.CreatedFields, f.Name)
		if !opts.g.jsonOutput() {
			p.Success("Created custom field %s.", f.Name)
		}
	}
	resp, err := api.SetMappings(ctx, opts.Provider, append(current, chosen...))
	if err != nil {
		return err
	}
	res.Mappings, res.ChangedUsers = resp.Mappings, resp.ChangedUsers
	res.Added, _ = diffMappings(current, resp.Mappings)
	if res.Added == nil {
		res.Added = []adminapi.Mapping{}
	}
	if opts.g.jsonOutput() {
		return p.JSON(res)
	}
	p.Success("Added %s to provider %s:", plural(len(res.Added), "mapping"), opts.Provider)
	for _, m := range res.Added {
		p.Println("  " + mappingText(m))
	}
	printChangedUsers(p, res.ChangedUsers)
	return nil
}

// askSuggestions asks, on errOut, about each candidate and reads the
// answers from in. The end of input answers no to the rest.
func askSuggestions(in io.Reader, errOut io.Writer, candidates []adminapi.Mapping, exists map[string]bool) ([]adminapi.Mapping, error) {
	rd := bufio.NewReader(in)
	var chosen []adminapi.Mapping
	for _, m := range candidates {
		what := m.FieldType
		if m.FieldType == "custom" && !exists[strings.ToLower(m.Field)] {
			what = "custom; creates the field " + m.Field
		}
		for {
			fmt.Fprintf(errOut, "Add %s (%s)? [y/N] ", mappingText(m), what)
			line, err := rd.ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("read answer: %w", err)
			}
			answer := strings.ToLower(strings.TrimSpace(line))
			if errors.Is(err, io.EOF) && answer == "" {
				fmt.Fprintln(errOut)
				return chosen, nil
			}
			if answer == "y" || answer == "yes" {
				chosen = append(chosen, m)
				break
			}
			if answer == "" || answer == "n" || answer == "no" {
				break
			}
			fmt.Fprintln(errOut, "Please answer y or n.")
		}
	}
	return chosen, nil
}

// --- preview ---

type mappingsPreviewOptions struct {
	g        *globalOptions
	Provider string
	File     string
}

// NewCmdMappingsPreview returns `kacescim mappings preview`.
func NewCmdMappingsPreview(g *globalOptions) *cobra.Command {
	opts := &mappingsPreviewOptions{g: g}
	cmd := &cobra.Command{
		Use:   "preview --provider NAME --file USER.json",
		Short: "Show the directory-user fields a SCIM User would get; nothing is written",
		Long: `Show the fields of the directory user that a SCIM User body (as the identity
provider would send it) gets under the provider's mappings: built-in fields
first, then custom ones by name. Nothing is written. --file - reads stdin.`,
		Example: `  kacescim mappings preview -p Okta --file user.json
  kacescim scim GET /Users/ID | kacescim mappings preview -p Okta --file -`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireProvider(cmd, opts.Provider); err != nil {
				return err
			}
			if opts.File == "" {
				return usageErr(fmt.Sprintf("missing --file: %s --provider NAME --file USER.json (or --file - for stdin)", cmd.CommandPath()))
			}
			return runMappingsPreview(cmd.Context(), opts)
		},
	}
	providerFlag(cmd, &opts.Provider)
	cmd.Flags().StringVarP(&opts.File, "file", "f", "", "the SCIM User JSON, or - for stdin")
	return cmd
}

func runMappingsPreview(ctx context.Context, opts *mappingsPreviewOptions) error {
	var (
		body []byte
		err  error
		name = opts.File
	)
	if opts.File == "-" {
		name = "stdin"
		body, err = io.ReadAll(opts.g.IO.In)
	} else {
		body, err = os.ReadFile(opts.File)
	}
	if err != nil {
		return fmt.Errorf("read the SCIM User: %w", err)
	}
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		msg := "not a JSON object"
		if err != nil {
			msg = err.Error()
		}
		return fmt.Errorf("%s is not a SCIM User JSON object: %s", name, msg)
	}
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	resp, err := api.PreviewMappings(ctx, opts.Provider, body)
	if err != nil {
		return err
	}
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		return p.JSON(resp)
	}
	pairs := make([][2]string, 0, len(resp.Fields))
	for _, f := range orderFields(resp.Fields, true) {
		pairs = append(pairs, [2]string{f, p.FieldValue(resp.Fields[f])})
	}
	if err := p.Fields(pairs); err != nil {
		return err
	}
	if p.tty {
		fmt.Fprintln(opts.g.IO.ErrOut, "Preview only: nothing was written.")
	}
	return nil
}
