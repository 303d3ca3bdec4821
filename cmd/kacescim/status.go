package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/client"
)

type statusOptions struct {
	g    *globalOptions
	Wait time.Duration
}

// statusPoll is how often status --wait asks again.
const statusPoll = 100 * time.Millisecond

// NewCmdStatus returns `kacescim status`.
func NewCmdStatus(g *globalOptions) *cobra.Command {
	opts := &statusOptions{g: g}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Say whether the server answers and is ready, and its version",
		Long: `Say whether the kacescim server the CLI talks to (--server, else the one
serve runs with this data directory) answers, its version, and whether
its database is ready (/readyz). It needs no admin token.

With --wait, keep asking until the server is ready or the time is up: after
` + "`kacescim serve &`" + ` in a script, before the commands that need it. The exit
status is 0 when the server is ready, 1 otherwise.`,
		Example: `  kacescim status
  kacescim serve & kacescim status --wait 10s`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var((*durationFlag)(&opts.Wait), "wait", "keep asking for up to this long until the server is ready (e.g. 10s)")
	return cmd
}

// statusReport is status's answer, and its -o json form.
type statusReport struct {
	Server  string `json:"server"`
	Version string `json:"version,omitempty"`
	Ready   bool   `json:"ready"`
	Detail  string `json:"detail,omitempty"`
}

func runStatus(ctx context.Context, opts *statusOptions) error {
	g := opts.g
	tlsOpts, err := g.tlsOptions()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(opts.Wait)
	for {
		// The server URL is read again each time: serve writes it to the
		// data directory once it listens.
		api := client.NewAdmin(g.serverURL(), "", append(tlsOpts, client.WithUserAgent(g.userAgent()))...)
		askCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		h, err := api.Health(askCtx)
		cancel()
		var unreachable *client.UnreachableError
		switch {
		case err == nil && h.Ready, time.Now().After(deadline) || err != nil && !errors.As(err, &unreachable):
			if err != nil {
				return err
			}
			return printStatus(g, statusReport{Server: api.BaseURL(), Version: h.Version, Ready: h.Ready, Detail: h.Detail})
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(statusPoll):
		}
	}
}

func printStatus(g *globalOptions, r statusReport) error {
	p := g.printer()
	var err error
	if g.jsonOutput() {
		err = p.JSON(r)
	} else {
		ready := p.Bool(r.Ready)
		if r.Detail != "" {
			ready += " (" + r.Detail + ")"
		}
		err = p.Fields([][2]string{{"Server", r.Server}, {"Version", r.Version}, {"Ready", ready}})
	}
	if err != nil {
		return err
	}
	if !r.Ready {
		return &exitStatusError{code: exitError}
	}
	return nil
}
