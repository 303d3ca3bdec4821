package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
)

// NewCmdWebhooks returns `kacescim webhooks` and its verbs.
func NewCmdWebhooks(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "webhooks",
		Aliases: []string{"webhook"},
		Short:   "Push the change feed to the applications that use the directory",
		Long: `A webhook gets every event of the change feed it selects (kacescim events),
POSTed one at a time in cursor order, from the moment it is added. Delivery
runs beside the SCIM requests, never in them: a receiver that is down or slow
delays no identity provider. An event is sent until the receiver answers 2xx
(at least once: the event's cursor is its id, to drop repeats), with an
exponential back-off between tries; after --webhook-retry-window of failures
(serve's, 24 h by default) the webhook is dead until replayed.

Formats: set (the default) sends RFC 9967 Security Event Tokens, JWTs signed
with the webhook's secret (HS256, typ secevent+jwt), as
application/secevent+jwt; json sends the event as JSON with the header
Kacescim-Signature: t=UNIX,v1=HEX, the HMAC-SHA256 of "t.body" with the
secret. The secret is shown once, when the webhook is added.`,
		Args: parentArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdWebhooksAdd(g), newCmdWebhooksList(g), newCmdWebhooksShow(g), newCmdWebhooksRemove(g), newCmdWebhooksReplay(g))
	return cmd
}

func newCmdWebhooksAdd(g *globalOptions) *cobra.Command {
	var req adminapi.CreateWebhookRequest
	cmd := &cobra.Command{
		Use:   "add URL",
		Short: "Subscribe a URL to the change feed, from now on",
		Example: `  kacescim webhooks add https://app.example.com/scim-events
  kacescim webhooks add https://app.example.com/hooks --provider Okta --events user.created,user.deactivated --format json`,
		Args: exactArgs("URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.URL = args[0]
			for i, t := range req.Events {
				req.Events[i] = strings.TrimSpace(t)
			}
			api, err := g.admin()
			if err != nil {
				return err
			}
			out, err := api.AddWebhook(cmd.Context(), req)
			if err != nil {
				return err
			}
			p := g.printer()
			if g.jsonOutput() {
				return p.JSON(out)
			}
			p.Success("Added webhook %s", out.ID)
			p.Println()
			if err := p.Fields(append(webhookFields(p, out.Webhook), [2]string{"Signing secret", out.Secret})); err != nil {
				return err
			}
			p.Println()
			p.Warn("Copy the signing secret now: it will not be shown again.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&req.Provider, "provider", "p", "", "only the events of this provider")
	f.StringSliceVar(&req.Events, "events", nil, "only these event types, separated by commas ("+strings.Join(directory.EventTypes, ", ")+")")
	f.StringVar(&req.Format, "format", directory.WebhookSET, "set (RFC 9967 Security Event Tokens) or json (HMAC-signed JSON)")
	return cmd
}

func newCmdWebhooksList(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the webhooks and how their deliveries go",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.admin()
			if err != nil {
				return err
			}
			hooks, err := api.Webhooks(cmd.Context())
			if err != nil {
				return err
			}
			p := g.printer()
			if g.jsonOutput() {
				return p.JSON(hooks)
			}
			if len(hooks) == 0 && p.tty {
				fmt.Fprintln(g.IO.ErrOut, "No webhooks: kacescim webhooks add URL adds one.")
				return nil
			}
			rows := make([][]string, 0, len(hooks))
			for _, h := range hooks {
				rows = append(rows, []string{h.ID, h.URL, orAll(h.Provider), h.Format, webhookState(h), fmt.Sprint(h.Cursor), fmt.Sprint(h.Delivered)})
			}
			return p.Table([]string{"ID", "URL", "PROVIDER", "FORMAT", "STATE", "CURSOR", "DELIVERED"}, rows)
		},
	}
}

func newCmdWebhooksShow(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a webhook and its deliveries: cursor, failures, last error",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.admin()
			if err != nil {
				return err
			}
			h, err := api.Webhook(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			p := g.printer()
			if g.jsonOutput() {
				return p.JSON(h)
			}
			return p.Fields(webhookFields(p, *h))
		},
	}
}

func newCmdWebhooksRemove(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a webhook: nothing more is sent to it",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := g.admin()
			if err != nil {
				return err
			}
			if err := api.RemoveWebhook(cmd.Context(), args[0]); err != nil {
				return err
			}
			g.printer().Success("Removed webhook %s", args[0])
			return nil
		},
	}
}

func newCmdWebhooksReplay(g *globalOptions) *cobra.Command {
	var from int64
	cmd := &cobra.Command{
		Use:   "replay ID --from CURSOR",
		Short: "Deliver again every event after a cursor (and start a dead webhook again)",
		Example: `  kacescim webhooks replay wh_3Jx… --from 0
  kacescim webhooks replay wh_3Jx… --from 1200`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("from") {
				return usageErr("give the cursor to deliver again after: --from CURSOR (0: from the oldest event kept)")
			}
			if from < 0 {
				return usageErr(fmt.Sprintf("--from must be a cursor (0 or more), not %d", from))
			}
			api, err := g.admin()
			if err != nil {
				return err
			}
			h, err := api.ReplayWebhook(cmd.Context(), args[0], from)
			if err != nil {
				return eventsErr(err)
			}
			p := g.printer()
			if g.jsonOutput() {
				return p.JSON(h)
			}
			p.Success("Webhook %s delivers again the events after cursor %d", h.ID, from)
			return nil
		},
	}
	cmd.Flags().Int64Var(&from, "from", 0, "deliver again the events after this `CURSOR` (0: from the oldest kept)")
	return cmd
}

// webhookFields are the lines of `webhooks show` (and `add`).
func webhookFields(p *printer, h adminapi.Webhook) [][2]string {
	events := "all"
	if len(h.Events) > 0 {
		events = strings.Join(h.Events, ", ")
	}
	fields := [][2]string{
		{"ID", h.ID},
		{"URL", h.URL},
		{"Provider", orAll(h.Provider)},
		{"Events", events},
		{"Format", h.Format},
		{"State", webhookState(h)},
		{"Cursor", fmt.Sprint(h.Cursor)},
		{"Delivered", fmt.Sprint(h.Delivered)},
		{"Created", p.Time(h.Created)},
	}
	if h.Attempts > 0 {
		fields = append(fields, [2]string{"Failed tries", fmt.Sprint(h.Attempts)})
	}
	if h.FailingSince != nil {
		fields = append(fields, [2]string{"Failing since", p.Time(*h.FailingSince)})
	}
	if h.NextAttempt != nil && h.State == directory.WebhookActive {
		fields = append(fields, [2]string{"Next try", p.Time(*h.NextAttempt)})
	}
	if h.LastError != "" {
		fields = append(fields, [2]string{"Last error", h.LastError})
	}
	return fields
}

// webhookState is active, failing (active with failures on record) or
// dead, with what to do about a dead one.
func webhookState(h adminapi.Webhook) string {
	switch {
	case h.State == directory.WebhookDead:
		return "dead (kacescim webhooks replay " + h.ID + " --from " + fmt.Sprint(h.Cursor) + " starts it again)"
	case h.Attempts > 0:
		return "failing"
	default:
		return h.State
	}
}

func orAll(provider string) string {
	if provider == "" {
		return "all"
	}
	return provider
}
