package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/directory"
)

// usersPageSize is how many directory users `users list` asks for per
// request while it gathers --limit of them.
const usersPageSize = 500

// NewCmdUsers returns `kacescim users` and its verbs.
func NewCmdUsers(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "users",
		Aliases: []string{"user"},
		Short:   "Look at directory users: the fields providers' mappings fill",
		Long: `Directory users are what the identity providers' SCIM users become through
each provider's mappings: built-in fields (Email, Name, Disabled, Address, ...)
and custom fields. HeliumKeycloakObjectGuid is internal and hidden unless
--show-internal is given.`,
		Args: parentArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		NewCmdUsersList(g),
		NewCmdUsersShow(g),
		NewCmdUsersHistory(g),
	)
	return cmd
}

// orderFields returns the names of fields in display order: built-in
// fields in directory.BuiltinFields order, then custom ones by name
// (case-insensitively). The internal GUID is left out unless withGUID.
func orderFields(fields map[string]any, withGUID bool) []string {
	var out, custom []string
	for _, b := range directory.BuiltinFields {
		if _, ok := fields[b]; ok && (withGUID || b != directory.FieldGUID) {
			out = append(out, b)
		}
	}
	for name := range fields {
		if _, builtin := directory.IsBuiltinField(name); !builtin {
			custom = append(custom, name)
		}
	}
	sort.Slice(custom, func(i, j int) bool {
		a, b := strings.ToLower(custom[i]), strings.ToLower(custom[j])
		if a != b {
			return a < b
		}
		return custom[i] < custom[j]
	})
	return append(out, custom...)
}

// withoutGUID returns u with the internal GUID field removed, unless keep.
func withoutGUID(u adminapi.DirectoryUser, keep bool) adminapi.DirectoryUser {
	if keep {
		return u
	}
	fields := make(map[string]any, len(u.Fields))
	for k, v := range u.Fields {
		if k != directory.FieldGUID {
			fields[k] = v
		}
	}
	u.Fields = fields
	return u
}

// --- list ---

type usersListOptions struct {
	g            *globalOptions
	Provider     string
	Disabled     bool
	Enabled      bool
	Field        string
	Limit        int
	ShowInternal bool
}

// NewCmdUsersList returns `kacescim users list`.
func NewCmdUsersList(g *globalOptions) *cobra.Command {
	opts := &usersListOptions{g: g}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List directory users, with every field they have as a column",
		Example: `  kacescim users list --provider Okta --disabled
  kacescim users list --field Department=Engineering
  kacescim users list --field Groups=Admins --output json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Disabled && opts.Enabled {
				return usageErr("give --disabled or --enabled, not both")
			}
			if opts.Field != "" {
				if name, _, ok := strings.Cut(opts.Field, "="); !ok || strings.TrimSpace(name) == "" {
					return usageErr(fmt.Sprintf("--field %q: use NAME=VALUE, e.g. --field Department=Engineering", opts.Field))
				}
			}
			if opts.Limit < 1 {
				return usageErr(fmt.Sprintf("--limit must be at least 1, not %d", opts.Limit))
			}
			return runUsersList(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Provider, "provider", "p", "", "only the users of this provider")
	f.BoolVar(&opts.Disabled, "disabled", false, "only disabled users")
	f.BoolVar(&opts.Enabled, "enabled", false, "only users that are not disabled")
	f.StringVar(&opts.Field, "field", "", "only users whose field NAME equals VALUE (case-insensitively): NAME=VALUE")
	f.IntVarP(&opts.Limit, "limit", "L", 100, "list at most this many users")
	f.BoolVar(&opts.ShowInternal, "show-internal", false, "also show the internal HeliumKeycloakObjectGuid field")
	return cmd
}

func runUsersList(ctx context.Context, opts *usersListOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	q := client.DirectoryUserQuery{Provider: opts.Provider}
	switch {
	case opts.Disabled:
		q.Disabled = ptrTo(true)
	case opts.Enabled:
		q.Disabled = ptrTo(false)
	}
	if opts.Field != "" {
		name, value, _ := strings.Cut(opts.Field, "=")
		q.Field, q.Value = strings.TrimSpace(name), value
	}
	list := adminapi.DirectoryUserList{Users: []adminapi.DirectoryUser{}}
	for q.StartIndex = 1; len(list.Users) < opts.Limit; {
		q.Count = min(opts.Limit-len(list.Users), usersPageSize)
		page, err := api.DirectoryUsers(ctx, q)
		if err != nil {
			return err
		}
		list.TotalResults = page.TotalResults
		list.Users = append(list.Users, page.Users...)
		if len(page.Users) == 0 || q.StartIndex-1+len(page.Users) >= page.TotalResults {
			break
		}
		q.StartIndex += len(page.Users)
	}
	return renderUserList(opts.g, list, opts.ShowInternal)
}

func ptrTo[T any](v T) *T { return &v }

// renderUserList prints directory users: PROVIDER, EMAIL, NAME, DISABLED,
// then a column for every other field any of them has, in display order.
func renderUserList(g *globalOptions, list adminapi.DirectoryUserList, showInternal bool) error {
	p := g.printer()
	for i, u := range list.Users {
		list.Users[i] = withoutGUID(u, showInternal)
	}
	if g.jsonOutput() {
		return p.JSON(list)
	}
	if len(list.Users) == 0 && p.tty {
		fmt.Fprintln(g.IO.ErrOut, "No directory users match.")
		return nil
	}
	all := map[string]any{}
	for _, u := range list.Users {
		for k, v := range u.Fields {
			all[k] = v
		}
	}
	var extra []string
	for _, f := range orderFields(all, showInternal) {
		if f != directory.FieldEmail && f != directory.FieldName && f != directory.FieldDisabled {
			extra = append(extra, f)
		}
	}
	headers := []string{"PROVIDER", "EMAIL", "NAME", "DISABLED"}
	for _, f := range extra {
		headers = append(headers, strings.ToUpper(f))
	}
	rows := make([][]string, 0, len(list.Users))
	for _, u := range list.Users {
		row := []string{u.Provider, p.FieldValue(u.Fields[directory.FieldEmail]), p.FieldValue(u.Fields[directory.FieldName]), p.FieldValue(u.Fields[directory.FieldDisabled])}
		for _, f := range extra {
			row = append(row, p.FieldValue(u.Fields[f]))
		}
		rows = append(rows, row)
	}
	if err := p.Table(headers, rows); err != nil {
		return err
	}
	if list.TotalResults > len(list.Users) {
		fmt.Fprintf(g.IO.ErrOut, "Showing %d of %d directory users: raise --limit to see more.\n", len(list.Users), list.TotalResults)
	}
	return nil
}

// --- show ---

type usersShowOptions struct {
	g            *globalOptions
	Key          string
	ShowInternal bool
}

// NewCmdUsersShow returns `kacescim users show`.
func NewCmdUsersShow(g *globalOptions) *cobra.Command {
	opts := &usersShowOptions{g: g}
	cmd := &cobra.Command{
		Use:   "show EMAIL|ID",
		Short: "Show a directory user's fields, by Email or SCIM id",
		Long: `Show a directory user: its provider, its SCIM id, then its fields one per
line, built-in fields first, then custom fields by name. The internal
HeliumKeycloakObjectGuid is hidden, as on KACE Cloud's user details page,
unless --show-internal is given.`,
		Example: `  kacescim users show ada@example.com
  kacescim users show 2819c223-7f76-453a-919d-413861904646 --show-internal`,
		Args: exactArgs("EMAIL|ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Key = args[0]
			if strings.TrimSpace(opts.Key) == "" {
				return usageErr(fmt.Sprintf("missing EMAIL|ID: %s EMAIL|ID", cmd.CommandPath()))
			}
			return runUsersShow(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ShowInternal, "show-internal", false, "also show the internal HeliumKeycloakObjectGuid field")
	return cmd
}

func runUsersShow(ctx context.Context, opts *usersShowOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	u, err := api.DirectoryUser(ctx, opts.Key)
	if err != nil {
		return err
	}
	return renderDirectoryUser(opts.g, withoutGUID(*u, opts.ShowInternal), opts.ShowInternal)
}

// renderDirectoryUser prints one directory user in the output format
// asked for.
func renderDirectoryUser(g *globalOptions, u adminapi.DirectoryUser, showInternal bool) error {
	p := g.printer()
	if g.jsonOutput() {
		return p.JSON(u)
	}
	pairs := [][2]string{{"Provider", u.Provider}, {"SCIM id", u.ID}}
	for _, f := range orderFields(u.Fields, showInternal) {
		pairs = append(pairs, [2]string{f, p.FieldValue(u.Fields[f])})
	}
	return p.Fields(pairs)
}
