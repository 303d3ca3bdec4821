package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/adminapi"
)

// NewCmdFields returns `kacescim fields` and its verbs.
func NewCmdFields(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "fields",
		Aliases: []string{"field"},
		Short:   "Manage the custom fields of directory users",
		Long: `Directory users have built-in fields (Email, Name, Disabled, Address, City,
State, Zip, Country and the internal HeliumKeycloakObjectGuid) and the custom
fields you define here (Settings > Custom Fields > Users in KACE Cloud). A
provider's mappings fill them from SCIM attributes: define a custom field
first, then map to it with ` + "`kacescim mappings add`" + `.`,
		Args: parentArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		NewCmdFieldsAdd(g),
		NewCmdFieldsList(g),
		NewCmdFieldsRemove(g),
	)
	return cmd
}

// --- add ---

type fieldsAddOptions struct {
	g           *globalOptions
	Name        string
	Description string
}

// NewCmdFieldsAdd returns `kacescim fields add`.
func NewCmdFieldsAdd(g *globalOptions) *cobra.Command {
	opts := &fieldsAddOptions{g: g}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Define a custom field of directory users",
		Example: `  kacescim fields add Manager
  kacescim fields add "Cost Center" --description "Finance cost center"`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return runFieldsAdd(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Description, "description", "", "what the field holds")
	return cmd
}

func runFieldsAdd(ctx context.Context, opts *fieldsAddOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	f, err := api.CreateField(ctx, adminapi.CreateFieldRequest{Name: opts.Name, Description: opts.Description})
	if err != nil {
		return err
	}
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		return p.JSON(f)
	}
	p.Success("Created custom field %s.", f.Name)
	p.Println(fmt.Sprintf("Map a SCIM attribute to it with `kacescim mappings add --provider NAME --scim PATH --field %s`.", shellQuote(f.Name)))
	return nil
}

// --- list ---

type fieldsListOptions struct {
	g *globalOptions
}

// NewCmdFieldsList returns `kacescim fields list`.
func NewCmdFieldsList(g *globalOptions) *cobra.Command {
	opts := &fieldsListOptions{g: g}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the fields of directory users: built-in, then custom",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFieldsList(cmd.Context(), opts)
		},
	}
}

func runFieldsList(ctx context.Context, opts *fieldsListOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	fs, err := api.Fields(ctx)
	if err != nil {
		return err
	}
	return renderFieldList(opts.g, fs)
}

// renderFieldList prints the fields in the output format asked for. Built-in
// fields have no creation time: their CREATED cell is empty.
func renderFieldList(g *globalOptions, fs []adminapi.Field) error {
	p := g.printer()
	if g.jsonOutput() {
		if fs == nil {
			fs = []adminapi.Field{}
		}
		return p.JSON(adminapi.FieldList{Fields: fs})
	}
	rows := make([][]string, 0, len(fs))
	for _, f := range fs {
		created := ""
		if f.CreatedAt != nil {
			created = p.Time(*f.CreatedAt)
		}
		rows = append(rows, []string{f.Name, f.Type, f.Description, created})
	}
	return p.Table([]string{"NAME", "TYPE", "DESCRIPTION", "CREATED"}, rows)
}

// --- remove ---

type fieldsRemoveOptions struct {
	g    *globalOptions
	Name string
}

// NewCmdFieldsRemove returns `kacescim fields remove`.
func NewCmdFieldsRemove(g *globalOptions) *cobra.Command {
	opts := &fieldsRemoveOptions{g: g}
	return &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Remove a custom field that no mapping uses",
		Long: `Remove a custom field. A field that a provider's mapping fills cannot be
removed: remove the mapping first (kacescim mappings remove).`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return runFieldsRemove(cmd.Context(), opts)
		},
	}
}

func runFieldsRemove(ctx context.Context, opts *fieldsRemoveOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	if err := api.RemoveField(ctx, opts.Name); err != nil {
		return err
	}
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		return p.JSON(struct {
			Name    string `json:"name"`
			Removed bool   `json:"removed"`
		}{opts.Name, true})
	}
	p.Success("Removed custom field %s.", opts.Name)
	return nil
}
