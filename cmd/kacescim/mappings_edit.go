package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
)

// defaultEditor is run when neither $VISUAL nor $EDITOR names one.
const defaultEditor = "vi"

// errorPrefix starts the comment lines that tell, at the top of the file,
// why the previous save was refused.
const errorPrefix = "# Error: "

type mappingsEditOptions struct {
	g        *globalOptions
	Provider string
	// Editor is the command that edits the file, its path appended:
	// $VISUAL, else $EDITOR, else vi. Words are split by sh.
	Editor string
}

// NewCmdMappingsEdit returns `kacescim mappings edit`.
func NewCmdMappingsEdit(g *globalOptions) *cobra.Command {
	opts := &mappingsEditOptions{g: g}
	cmd := &cobra.Command{
		Use:   "edit --provider NAME",
		Short: "Edit a provider's mappings in $EDITOR; they are applied together after checking",
		Long: `Open the provider's mappings as YAML in $VISUAL, else $EDITOR, else vi. When
the editor exits the mappings are checked and applied all at once, and the
provider's directory users re-derived. If the server refuses them, the file
opens again with the error at the top; save it unchanged to give up. Saving
without changes, or an empty file, cancels. The required mappings are
read-only.`,
		Example: `  kacescim mappings edit -p Okta
  EDITOR="code --wait" kacescim mappings edit -p Okta`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireProvider(cmd, opts.Provider); err != nil {
				return err
			}
			opts.Editor = editorFromEnv()
			return runMappingsEdit(cmd.Context(), opts)
		},
	}
	providerFlag(cmd, &opts.Provider)
	return cmd
}

// editorFromEnv is $VISUAL, else $EDITOR, else vi.
func editorFromEnv() string {
	for _, env := range []string{"VISUAL", "EDITOR"} {
		if e := strings.TrimSpace(os.Getenv(env)); e != "" {
			return e
		}
	}
	return defaultEditor
}

// editDoc is the YAML document the editor shows.
type editDoc struct {
	Mappings []editMapping `yaml:"mappings"`
}

type editMapping struct {
	SCIMPath string `yaml:"scimPath"`
	Field    string `yaml:"field"`
	Required bool   `yaml:"required,omitempty"`
}

func toEdit(ms []adminapi.Mapping) []editMapping {
	out := make([]editMapping, 0, len(ms))
	for _, m := range ms {
		out = append(out, editMapping{SCIMPath: m.SCIMPath, Field: m.Field, Required: m.Required})
	}
	return out
}

func fromEdit(ms []editMapping) []adminapi.Mapping {
	out := make([]adminapi.Mapping, 0, len(ms))
	for _, m := range ms {
		out = append(out, adminapi.Mapping{SCIMPath: strings.TrimSpace(m.SCIMPath), Field: strings.TrimSpace(m.Field), Required: m.Required})
	}
	return out
}

// editHeader explains the file to the person editing it.
func editHeader(provider string) string {
	return `# The mappings of provider ` + provider + `: SCIM attribute path → directory-user field.
# Add, change or delete the optional mappings below, then save and quit: they
# are checked and applied together, or not at all. An empty file cancels.
#
# The required mappings (required: true) are read-only: they are listed for
# reference, and changing them is refused.
#
# field is a built-in field (Email, Name, Disabled, HeliumKeycloakObjectGuid,
# Address, City, State, Zip, Country) or a custom field that exists
# (kacescim fields list; create one with kacescim fields add NAME).
# scimPath examples:
#   urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department
#   phoneNumbers[type eq "mobile"].value
#   addresses[type eq "work"].locality
#   urn:ietf:params:scim:schemas:extension:enterprise:2.0:Group:externalId (group names)
#
`
}

// renderEditFile is the header and the mappings as YAML.
func renderEditFile(provider string, ms []editMapping) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(editHeader(provider))
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(editDoc{Mappings: ms}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// parseEditFile reads the edited mappings. Unknown keys are refused, so
// that a typo is not silently dropped.
func parseEditFile(b []byte) ([]editMapping, error) {
	var doc editDoc
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("the file is not valid: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	for i, m := range doc.Mappings {
		if strings.TrimSpace(m.SCIMPath) == "" || strings.TrimSpace(m.Field) == "" {
			return nil, fmt.Errorf("mapping %d needs both scimPath and field", i+1)
		}
	}
	return doc.Mappings, nil
}

// stripErrorHeader removes the "# Error:" lines a previous refusal put at
// the top of the file.
func stripErrorHeader(b []byte) []byte {
	for bytes.HasPrefix(b, []byte(errorPrefix)) {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil
		}
		b = b[i+1:]
	}
	return b
}

// withErrorHeader puts err at the top of the file, one comment line per
// line of the message.
func withErrorHeader(b []byte, err error) []byte {
	var out bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		out.WriteString(errorPrefix + line + "\n")
	}
	out.Write(stripErrorHeader(b))
	return out.Bytes()
}

// withoutComments is b without its comment lines and blank lines: what
// counts when deciding whether anything was edited.
func withoutComments(b []byte) string {
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		keep = append(keep, strings.TrimRight(line, " \t\r"))
	}
	return strings.Join(keep, "\n")
}

func sameMappings(a, b []editMapping) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if normPath(a[i].SCIMPath) != normPath(b[i].SCIMPath) || !strings.EqualFold(strings.TrimSpace(a[i].Field), strings.TrimSpace(b[i].Field)) || a[i].Required != b[i].Required {
			return false
		}
	}
	return true
}

// editorCommand runs editor on path: directly when editor is one word,
// else through sh, so that "code --wait" or a quoted path works; the file
// path is appended as one argument either way.
func editorCommand(ctx context.Context, editor, path string) *exec.Cmd {
	if strings.ContainsAny(editor, " \t'\"\\$") {
		return exec.CommandContext(ctx, "sh", "-c", editor+` "$1"`, "sh", path)
	}
	return exec.CommandContext(ctx, editor, path)
}

func runMappingsEdit(ctx context.Context, opts *mappingsEditOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	current, err := api.Mappings(ctx, opts.Provider)
	if err != nil {
		return err
	}
	original := toEdit(current)
	content, err := renderEditFile(opts.Provider, original)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "kacescim-mappings-*.yaml")
	if err != nil {
		return fmt.Errorf("create the file to edit: %w", err)
	}
	path := f.Name()
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write the file to edit: %w", err)
	}
	keep := false // keep the file when the edits would otherwise be lost
	defer func() {
		if !keep {
			os.Remove(path)
		}
	}()

	errOut := opts.g.IO.ErrOut
	p := opts.g.printer()
	cancelled := func(msg string) error {
		fmt.Fprintln(errOut, msg)
		if opts.g.jsonOutput() {
			return p.JSON(adminapi.MappingsChanged{Mappings: current})
		}
		return nil
	}
	var (
		lastErr    error
		lastEdited string
	)
	for {
		cmd := editorCommand(ctx, opts.Editor, path)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.g.IO.In, opts.g.IO.Out, errOut
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("the editor (%s) failed: %v; nothing was changed", opts.Editor, err)
		}
		edited, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read the edited file: %w", err)
		}
		body := withoutComments(edited)
		if body == "" {
			return cancelled("Edit cancelled, the saved file was empty.")
		}
		if lastErr != nil && body == lastEdited {
			keep = true
			return fmt.Errorf("edit cancelled, no valid changes were saved: %v\nYour edits are in %s", lastErr, path)
		}
		lastEdited = body
		ms, err := parseEditFile(edited)
		if err == nil && sameMappings(ms, original) {
			return cancelled("Edit cancelled, no changes made.")
		}
		if err == nil {
			err = fieldConflict(ms, original)
		}
		if err == nil {
			var resp *adminapi.MappingsChanged
			if resp, err = api.SetMappings(ctx, opts.Provider, fromEdit(ms)); err == nil {
				return printEdited(opts, p, current, resp)
			}
			var apiErr *client.Error
			if !errors.As(err, &apiErr) || (apiErr.Code != "invalid" && apiErr.Code != "conflict") {
				// Not about the mappings (unreachable, token, server
				// error): stop, and keep the edits.
				keep = true
				fmt.Fprintf(errOut, "Your edits are in %s.\n", path)
				return err
			}
		}
		// Not valid, or refused: show why at the top and edit again.
		lastErr = err
		if werr := os.WriteFile(path, withErrorHeader(edited, err), 0o600); werr != nil {
			return fmt.Errorf("write the file to edit: %w", werr)
		}
	}
}

// fieldConflict is an error naming the mappings of edited that fill one
// field twice, saying which of them was saved before the edit (in
// original) and which the edit adds, so that the message points at the
// new line rather than at whichever comes first in the file; nil when no
// field is filled twice. The server checks again (custom field names,
// required mappings).
func fieldConflict(edited, original []editMapping) error {
	saved := func(m editMapping) bool {
		return slices.ContainsFunc(original, func(o editMapping) bool {
			return normPath(o.SCIMPath) == normPath(m.SCIMPath) && strings.EqualFold(strings.TrimSpace(o.Field), strings.TrimSpace(m.Field))
		})
	}
	describe := func(m editMapping) string {
		text := strings.TrimSpace(m.SCIMPath) + " → " + strings.TrimSpace(m.Field)
		if saved(m) {
			return text + " (saved before this edit)"
		}
		return text + " (new in this edit)"
	}
	for i, a := range edited {
		for _, b := range edited[i+1:] {
			if strings.TrimSpace(a.Field) != "" && strings.EqualFold(strings.TrimSpace(a.Field), strings.TrimSpace(b.Field)) {
				return fmt.Errorf("%s is filled by two mappings, %s and %s: keep one of them", strings.TrimSpace(a.Field), describe(a), describe(b))
			}
		}
	}
	return nil
}

// printEdited reports what the saved edit changed.
func printEdited(opts *mappingsEditOptions, p *printer, before []adminapi.Mapping, resp *adminapi.MappingsChanged) error {
	if opts.g.jsonOutput() {
		return p.JSON(resp)
	}
	added, removed := diffMappings(before, resp.Mappings)
	p.Success("Saved the mappings of provider %s.", opts.Provider)
	for _, m := range removed {
		p.Println("  - " + mappingText(m))
	}
	for _, m := range added {
		p.Println("  + " + mappingText(m))
	}
	if len(added) == 0 && len(removed) == 0 {
		p.Println("  (no mapping added or removed)")
	}
	printChangedUsers(p, resp.ChangedUsers)
	return nil
}
