package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
)

// OAuth 2.0 client credentials, for Microsoft Entra ID: a provider's
// client ID and secrets, which the token endpoint trades for access
// tokens.

// checkSecretLifetime refuses, before anything is sent, an --expires the
// server would refuse for a client secret.
func checkSecretLifetime(d time.Duration) error {
	if d != 0 && (d < time.Second || d > directory.MaxSecretLifetime) {
		return usageErr(fmt.Sprintf("--expires of a client secret must be from 1s to 1095d (3 years), got %s", (*durationFlag)(&d)))
	}
	return nil
}

// NewCmdProviderAddSecret returns `kacescim provider add-secret`.
func NewCmdProviderAddSecret(g *globalOptions) *cobra.Command {
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "add-secret NAME [--expires D]",
		Short: "Give a provider an OAuth client secret, for Microsoft Entra ID's client credentials",
		Long: `Make an OAuth 2.0 client secret for a provider (and its client ID, the first
time), shown once and stored only as a hash. The identity provider trades
the client ID and secret at the token endpoint (POST /oauth/token, the
client credentials grant of RFC 6749) for an access token that lasts an
hour (serve --oauth-token-lifetime), and sends that token to the SCIM
endpoint as a bearer token, as Microsoft Entra ID's app gallery requires.

A secret expires after a year unless --expires says otherwise (at most
1095d). A provider holds at most two valid secrets, so that one can be
replaced without downtime: add the new one, paste it into the identity
provider, then revoke-secret the old one (which ends the tokens it got).`,
		Example: `  kacescim provider add-secret "Entra ID"
  kacescim provider add-secret "Entra ID" --expires 730d`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkSecretLifetime(expires); err != nil {
				return err
			}
			api, err := g.admin()
			if err != nil {
				return err
			}
			resp, err := api.AddSecret(cmd.Context(), args[0], adminapi.NewSecretRequest{ExpiresInSeconds: int64(expires / time.Second)})
			if err != nil {
				return err
			}
			p := g.printer()
			if g.jsonOutput() {
				return p.JSON(resp)
			}
			p.Success("New client secret for provider %s.", resp.Client.Provider)
			return printNewSecret(p, resp)
		},
	}
	cmd.Flags().Var((*durationFlag)(&expires), "expires", "make the secret expire this long after now (default 365d, at most 1095d)")
	return cmd
}

// printNewSecret shows what to paste into the identity provider, the one
// time the secret is ever shown.
func printNewSecret(p *printer, resp *adminapi.NewSecretResponse) error {
	c := resp.Client
	p.Println()
	fields := [][2]string{
		{"Tenant URL", c.SCIMURL},
		{"Token endpoint", c.TokenURL},
		{"Client ID", c.ClientID},
		{"Client secret", resp.Secret},
	}
	if n := len(c.Secrets); n > 0 {
		fields = append(fields, [2]string{"Expires", p.Time(c.Secrets[n-1].ExpiresAt)})
	}
	if err := p.Fields(fields); err != nil {
		return err
	}
	p.Println()
	p.Warn("Copy the client secret now: it will not be shown again.")
	return nil
}

// NewCmdProviderSecrets returns `kacescim provider secrets`.
func NewCmdProviderSecrets(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "secrets NAME",
		Short: "Show a provider's OAuth client: client ID, token endpoint, secrets",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.admin()
			if err != nil {
				return err
			}
			c, err := api.OAuthClient(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			p := g.printer()
			if g.jsonOutput() {
				return p.JSON(c)
			}
			if err := p.Fields([][2]string{
				{"Tenant URL", c.SCIMURL},
				{"Token endpoint", c.TokenURL},
				{"Client ID", c.ClientID},
			}); err != nil {
				return err
			}
			p.Println()
			rows := make([][]string, 0, len(c.Secrets))
			for _, s := range c.Secrets {
				rows = append(rows, []string{s.ID, s.Masked, s.State, p.Time(s.CreatedAt), p.Time(s.ExpiresAt), p.TimeOrNever(timeOf(s.LastUsedAt))})
			}
			return p.Table([]string{"ID", "SECRET", "STATE", "CREATED", "EXPIRES", "LAST TOKEN"}, rows)
		},
	}
}

// NewCmdProviderRevokeSecret returns `kacescim provider revoke-secret`.
func NewCmdProviderRevokeSecret(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke-secret NAME SECRETID",
		Short: "Stop one of a provider's OAuth client secrets and the access tokens it got",
		Long: `Remove a client secret of a provider: the token endpoint refuses it from now
on, and every access token it got is refused by the SCIM endpoint at once.
SECRETID is the ID column of ` + "`kacescim provider secrets NAME`" + `.`,
		Example: `  kacescim provider revoke-secret "Entra ID" s7m2x9qfa`,
		Args:    exactArgs("NAME", "SECRETID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.admin()
			if err != nil {
				return err
			}
			c, err := api.RevokeSecret(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			p := g.printer()
			if g.jsonOutput() {
				return p.JSON(c)
			}
			p.Success("Revoked client secret %s of provider %s: it and the access tokens it got no longer work.", args[1], c.Provider)
			live := 0
			for _, s := range c.Secrets {
				if s.State == "active" {
					live++
				}
			}
			if live == 0 {
				p.Warn("Provider %s has no valid client secret now: the identity provider gets no token until `kacescim provider add-secret %s`.",
					c.Provider, shellQuote(c.Provider))
			}
			return nil
		},
	}
}

// addSecretAfterAdd is provider add --oauth's second step.
func addSecretAfterAdd(ctx context.Context, g *globalOptions, name string) (*adminapi.NewSecretResponse, error) {
	api, err := g.admin()
	if err != nil {
		return nil, err
	}
	return api.AddSecret(ctx, name, adminapi.NewSecretRequest{})
}
