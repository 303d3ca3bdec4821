package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
)

// envPrefix prefixes every environment variable: --data-dir is
// KACESCIM_DATA_DIR.
const envPrefix = "KACESCIM"

// serverURLFile is where `kacescim serve` writes the URL it listens on, in
// the data directory, so that the admin commands find it.
const serverURLFile = "server-url"

// lastServerURLFile is where serve moves the server-url file when it
// stops, so that the CLI can say where it last ran.
const lastServerURLFile = "last-server-url"

// defaultServerURL is tried when nothing says where the server is.
var defaultServerURL = "http://127.0.0.1:8080"

// configAnnotation marks the flags that may also come from the environment
// and the config file. The others (--yes, --enabled, --data, ...) are about
// one invocation and are taken from the command line only.
const configAnnotation = "kacescim_configurable"

// globalOptions are the root's persistent flags, resolved in its pre-run,
// and what every command shares.
type globalOptions struct {
	IO *IOStreams
	// Now is the clock for humanised times.
	Now func() time.Time
	// Location is where humanised dates are shown (default time.Local).
	Location *time.Location
	// Version is the program version, for `version` and the User-Agent.
	Version string
	// Build is how the binary was built, for --version and `version`.
	Build buildInfo

	ConfigFile string
	DataDir    string
	Server     string
	Token      string
	Output     string
	CACert     string // --ca-cert: the PEM file of a CA to trust
	Wide       bool   // --wide: tables keep every value whole, whatever the terminal's width

	// tokenSource says where the admin token came from, for error messages.
	tokenSource string
}

// NewCmdRoot builds the command tree over g.
func NewCmdRoot(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "kacescim",
		Short: "SCIM 2.0 user provisioning: the server and its admin CLI",
		Long: `kacescim receives users and groups from identity providers (Okta, Microsoft
Entra ID) over SCIM 2.0 and keeps them in its directory.

Quick start:
  kacescim serve                       # in one terminal
  kacescim provider add Okta --enabled # prints the SCIM base URL and security key

Settings such as --data-dir, --server, --token, serve's flags and scim's
--key can also come from the environment (KACESCIM_DATA_DIR for --data-dir)
or the config file (data-dir: ...). A flag wins over the environment, which
wins over the config file.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          parentArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.resolve(cmd)
		},
	}
	root.Version = g.Build.String()
	root.SetVersionTemplate("kacescim {{.Version}}\n")
	root.SetOut(g.IO.Out)
	root.SetErr(g.IO.ErrOut)
	root.SetIn(g.IO.In)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err.Error()) })

	pf := root.PersistentFlags()
	pf.StringVar(&g.ConfigFile, "config", "", "config file (default $XDG_CONFIG_HOME/kacescim/config.yaml if present)")
	pf.StringVar(&g.DataDir, "data-dir", "", "data directory: database, admin token, server URL (default $XDG_DATA_HOME/kacescim)")
	pf.StringVar(&g.Server, "server", "", "kacescim server URL (default: the URL kacescim serve wrote to the data directory, else "+defaultServerURL+")")
	pf.StringVar(&g.Token, "token", "", "admin token (default: the admin-token file in the data directory)")
	pf.StringVarP(&g.Output, "output", "o", "text", "output format: text or json")
	pf.BoolVar(&g.Wide, "wide", false, "tables show every value whole instead of fitting the terminal's width")
	pf.StringVar(&g.CACert, "ca-cert", "", "PEM `FILE` of the CA (or self-signed certificate) to trust for the server's TLS certificate")
	configurable(pf, "config", "data-dir", "server", "token", "output", "ca-cert")

	root.AddCommand(
		NewCmdServe(g, nil),
		NewCmdProvider(g),
		NewCmdFields(g),
		NewCmdMappings(g),
		NewCmdUsers(g),
		NewCmdLogs(g),
		NewCmdEvents(g),
		NewCmdWebhooks(g),
		NewCmdSCIM(g),
		NewCmdTest(g),
		NewCmdRecord(g, nil),
		NewCmdVersion(g),
		NewCmdStatus(g),
	)
	registerCompletions(root, g)
	return root
}

// configurable marks flags whose value may come from the environment or
// the config file.
func configurable(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		if err := fs.SetAnnotation(n, configAnnotation, []string{"true"}); err != nil {
			panic(err) // a typo in a flag name: a programming error
		}
	}
}

// resolve fills every configurable flag the command line left unset from
// the environment, then the config file: flag > env > config > default. It
// uses a viper made for this invocation only.
func (g *globalOptions) resolve(cmd *cobra.Command) error {
	v := viper.New()
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()

	configFile, explicit := g.ConfigFile, cmd.Flags().Changed("config")
	if !explicit {
		if env := v.GetString("config"); env != "" {
			configFile, explicit = env, true
		} else {
			configFile = defaultConfigFile()
		}
	}
	if configFile != "" {
		v.SetConfigFile(configFile)
		if err := v.ReadInConfig(); err != nil {
			var pathErr *fs.PathError
			switch {
			case errors.As(err, &pathErr) && errors.Is(err, fs.ErrNotExist) && !explicit:
				// No default config file: nothing to read.
			case errors.As(err, &pathErr) && errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("config file %s does not exist", configFile)
			default:
				return fmt.Errorf("read config file %s: %w", configFile, err)
			}
		}
	}

	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Annotations[configAnnotation] == nil || f.Name == "config" {
			return
		}
		if !v.IsSet(f.Name) {
			return
		}
		val := v.Get(f.Name)
		var s string
		switch val := val.(type) {
		case []any:
			parts := make([]string, len(val))
			for i, p := range val {
				parts[i] = fmt.Sprint(p)
			}
			s = strings.Join(parts, ",")
		default:
			s = fmt.Sprint(val)
		}
		if err := cmd.Flags().Set(f.Name, s); err != nil {
			errs = append(errs, fmt.Errorf("invalid value %q for %s (from %s_%s or the config file): %v",
				s, f.Name, envPrefix, strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")), err))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return usageErr(err.Error())
	}
	formats := []string{"text", "json"}
	if a := cmd.Annotations[outputsAnnotation]; a != "" {
		formats = strings.Split(a, ",")
	}
	if !slices.Contains(formats, g.Output) {
		last := len(formats) - 1
		return usageErr(fmt.Sprintf("unknown output format %q: use %s or %s", g.Output, strings.Join(formats[:last], ", "), formats[last]))
	}
	return nil
}

// outputsAnnotation, on a command, lists the --output formats it takes
// when they are not just text and json: `test` also writes JUnit XML.
const outputsAnnotation = "kacescim-outputs"

// defaultConfigFile is $XDG_CONFIG_HOME/kacescim/config.yaml, or "" when
// there is no config directory.
func defaultConfigFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "kacescim", "config.yaml")
}

// dataDir is --data-dir, else $XDG_DATA_HOME/kacescim, else
// ~/.local/share/kacescim.
func (g *globalOptions) dataDir() (string, error) {
	if g.DataDir != "" {
		return g.DataDir, nil
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "kacescim"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", errors.New("cannot find a data directory: set --data-dir or KACESCIM_DATA_DIR")
	}
	return filepath.Join(home, ".local", "share", "kacescim"), nil
}

// serverURL is --server, else the URL `serve` wrote to the data
// directory, else the default.
func (g *globalOptions) serverURL() string {
	if g.Server != "" {
		return strings.TrimRight(g.Server, "/")
	}
	if dir, err := g.dataDir(); err == nil {
		if b, err := os.ReadFile(filepath.Join(dir, serverURLFile)); err == nil {
			if u := strings.TrimSpace(string(b)); u != "" {
				return u
			}
		}
	}
	return defaultServerURL
}

// lastServerURL is the URL a serve with this data directory last ran at,
// when it has stopped since and --server is not set; else "".
func (g *globalOptions) lastServerURL() string {
	if g.Server != "" {
		return ""
	}
	dir, err := g.dataDir()
	if err != nil {
		return ""
	}
	if _, err := os.Stat(filepath.Join(dir, serverURLFile)); err == nil {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(dir, lastServerURLFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// adminToken is --token, else the admin-token file of the data directory.
func (g *globalOptions) adminToken() (string, error) {
	if g.Token != "" {
		g.tokenSource = "--token, " + envPrefix + "_TOKEN or the config file"
		return g.Token, nil
	}
	dir, err := g.dataDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, adminapi.TokenFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("no admin token: %s does not exist; run `kacescim serve` with this data directory first, or set --token", path)
	case err != nil:
		return "", fmt.Errorf("read admin token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("admin token file %s is empty", path)
	}
	g.tokenSource = path
	return token, nil
}

// admin returns the admin API client.
func (g *globalOptions) admin() (*client.Admin, error) {
	token, err := g.adminToken()
	if err != nil {
		return nil, err
	}
	tlsOpts, err := g.tlsOptions()
	if err != nil {
		return nil, err
	}
	return client.NewAdmin(g.serverURL(), token, append(tlsOpts, client.WithUserAgent(g.userAgent()))...), nil
}

// caPool is the pool of --ca-cert, nil without it.
func (g *globalOptions) caPool() (*x509.CertPool, error) {
	if g.CACert == "" {
		return nil, nil
	}
	b, err := os.ReadFile(g.CACert)
	if err != nil {
		return nil, usageErr(fmt.Sprintf("--ca-cert: %v", err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, usageErr(fmt.Sprintf("--ca-cert %s holds no PEM certificate", g.CACert))
	}
	return pool, nil
}

// tlsOptions are the client options of --ca-cert.
func (g *globalOptions) tlsOptions() ([]client.Option, error) {
	pool, err := g.caPool()
	if err != nil || pool == nil {
		return nil, err
	}
	return []client.Option{client.WithRootCAs(pool)}, nil
}

func (g *globalOptions) userAgent() string { return "kacescim/" + g.Version }

func (g *globalOptions) jsonOutput() bool { return g.Output == "json" }

// parentArgs, noArgs, exactArgs: argument checks that fail as usage
// errors. parentArgs is for commands that only group others.
func parentArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(": did you mean %q?", s[0])
		}
		return usageErr(msg)
	}
	return nil
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr(fmt.Sprintf("%s takes no arguments, got %q", cmd.CommandPath(), args[0]))
	}
	return nil
}

func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usageErr(fmt.Sprintf("missing %s: %s %s", strings.Join(names[len(args):], " "), cmd.CommandPath(), strings.Join(names, " ")))
		case len(args) > len(names):
			return usageErr(fmt.Sprintf("too many arguments: %s %s (quote a name that contains spaces)", cmd.CommandPath(), strings.Join(names, " ")))
		}
		return nil
	}
}
