package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/adminapi"
)

// NewCmdProviderFederation returns `kacescim provider federation` and its
// verbs: the JWTs a provider may authenticate with, signed by the identity
// provider itself (workload identity federation).
func NewCmdProviderFederation(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "federation",
		Short: "Trust the JWTs an identity provider signs itself (workload identity federation, RFC 7523)",
		Long: `Instead of a security key or an OAuth access token, an identity provider
such as Microsoft Entra ID can send a JWT it signed itself. A provider that
trusts an issuer takes a bearer JWT when its signature verifies with a key
of the issuer's JWK Set (fetched from --jwks-url and cached for an hour, or
given with --jwks-file), its iss is the issuer, its aud holds the
audience, its sub is the subject (when one is set), and it has not expired
(a minute of clock skew is allowed). RS*, PS*, ES* and EdDSA signatures
are accepted; "none" and HMAC are not.`,
		Args: parentArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdFederationSet(g), newCmdFederationShow(g), newCmdFederationRemove(g))
	return cmd
}

func newCmdFederationSet(g *globalOptions) *cobra.Command {
	var f adminapi.Federation
	var file string
	cmd := &cobra.Command{
		Use:   "set NAME --issuer ISS --audience AUD (--jwks-url URL | --jwks-file FILE) [--subject SUB]",
		Short: "Make a provider trust an issuer's JWTs",
		Example: `  kacescim provider federation set "Entra ID" \
    --issuer https://login.microsoftonline.com/TENANT/v2.0 --audience api://kacescim \
    --jwks-url https://login.microsoftonline.com/TENANT/discovery/v2.0/keys --subject SERVICE-PRINCIPAL-ID`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case f.Issuer == "" || f.Audience == "":
				return usageErr("give the issuer and the audience the JWTs carry: --issuer ISS --audience AUD")
			case (f.JWKSURL == "") == (file == ""):
				return usageErr("give the issuer's keys with --jwks-url URL or --jwks-file FILE, one of the two")
			}
			if file != "" {
				doc, err := os.ReadFile(file)
				if err != nil {
					return usageErr(fmt.Sprintf("--jwks-file: %v", err))
				}
				f.JWKS = doc
			}
			api, err := g.admin()
			if err != nil {
				return err
			}
			got, err := api.SetFederation(cmd.Context(), args[0], f)
			if err != nil {
				return err
			}
			p := g.printer()
			if g.jsonOutput() {
				return p.JSON(got)
			}
			p.Success("Provider %s trusts the JWTs of %s for audience %s.", args[0], got.Issuer, got.Audience)
			return printFederation(p, got)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Issuer, "issuer", "", "the iss of the identity provider's JWTs, exactly")
	fl.StringVar(&f.Audience, "audience", "", "an aud the JWTs must carry")
	fl.StringVar(&f.Subject, "subject", "", "the sub the JWTs must carry (the identity provider's own identity); any when left out")
	fl.StringVar(&f.JWKSURL, "jwks-url", "", "where the issuer publishes its JWK Set (https; http on loopback only)")
	fl.StringVar(&file, "jwks-file", "", "a JWK Set `FILE` to keep instead of fetching one")
	return cmd
}

func printFederation(p *printer, f *adminapi.Federation) error {
	subject, keys := f.Subject, f.JWKSURL
	if subject == "" {
		subject = "any"
	}
	if keys == "" {
		keys = fmt.Sprintf("the JWK Set given (%d bytes)", len(f.JWKS))
	}
	return p.Fields([][2]string{
		{"Issuer", f.Issuer},
		{"Audience", f.Audience},
		{"Subject", subject},
		{"Keys", keys},
		{"Updated", p.Time(f.UpdatedAt)},
	})
}

func newCmdFederationShow(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show which JWTs a provider trusts",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.admin()
			if err != nil {
				return err
			}
			f, err := api.Federation(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			p := g.printer()
			if g.jsonOutput() {
				return p.JSON(f)
			}
			return printFederation(p, f)
		},
	}
}

func newCmdFederationRemove(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Stop trusting JWTs for a provider",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.admin()
			if err != nil {
				return err
			}
			if err := api.RemoveFederation(cmd.Context(), args[0]); err != nil {
				return err
			}
			p := g.printer()
			if g.jsonOutput() {
				return p.JSON(struct {
					Provider string `json:"provider"`
					Removed  bool   `json:"removed"`
				}{args[0], true})
			}
			p.Success("Provider %s no longer takes JWTs.", args[0])
			return nil
		},
	}
}
