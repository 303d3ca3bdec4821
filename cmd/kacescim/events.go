package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/directory"
)

// eventHeaders are the columns of `events`, in order.
var eventHeaders = []string{"CURSOR", "TIME", "PROVIDER", "EVENT", "USER", "GROUP", "CHANGES"}

// eventMinWidths are the narrowest the columns of `events --follow` get
// on a terminal (as logMinWidths).
var eventMinWidths = []int{6, 14, 8, 18, 16, 10, 7}

type eventsOptions struct {
	g            *globalOptions
	Provider     string
	User         string
	After        int64
	Limit        int
	Follow       bool
	ShowInternal bool
	PollInterval time.Duration
	afterSet     bool
}

// NewCmdEvents returns `kacescim events`.
func NewCmdEvents(g *globalOptions) *cobra.Command {
	opts := &eventsOptions{g: g}
	cmd := &cobra.Command{
		Use:     "events",
		Aliases: []string{"event"},
		Short:   "Show the change feed: what changed in the directory, in commit order",
		Long: `Every change of a directory user or group is an event of the change feed,
written in the same transaction as the change: a user created, updated,
activated, deactivated or deleted (with each directory field before and
after), a group created, renamed or deleted, a member added or removed.

Each event has a cursor, which increases in commit order (across replicas
on PostgreSQL too). Without --after, the newest --limit events are shown;
with --after CURSOR, the ones after it, oldest first (0: from the oldest
kept). --follow then keeps printing new events as they commit, until
interrupted; with --output json, each event is one line of JSON. An
application that consumes the feed reads GET /admin/v1/events?after=CURSOR
the same way.

serve keeps events for --event-retention and at most --event-max-entries of
them. A cursor older than that has lost events: the command says so, and the
consumer must read the directory again (kacescim users list) and go on from
the newest cursor.`,
		Example: `  kacescim events --provider Okta
  kacescim events --user ada@example.com
  kacescim events --after 0 --limit 1000 --output json
  kacescim events --follow`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 1 || opts.Limit > directory.MaxEventLimit {
				return usageErr(fmt.Sprintf("--limit must be from 1 to %d, not %d", directory.MaxEventLimit, opts.Limit))
			}
			if opts.After < 0 {
				return usageErr(fmt.Sprintf("--after must be a cursor (0 or more), not %d", opts.After))
			}
			if opts.PollInterval <= 0 {
				return usageErr(fmt.Sprintf("--poll-interval must be positive, not %s", opts.PollInterval))
			}
			opts.afterSet = cmd.Flags().Changed("after")
			return runEvents(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Provider, "provider", "p", "", "only the events of this provider")
	f.StringVar(&opts.User, "user", "", "only the events of this directory user (`EMAIL|ID`; a removed user's by ID), memberships included")
	f.Int64Var(&opts.After, "after", 0, "show the events after this `CURSOR` (0: from the oldest kept) instead of the newest")
	f.IntVarP(&opts.Limit, "limit", "L", directory.DefaultEventLimit, "show at most N events")
	f.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new events as they commit, until interrupted")
	f.BoolVar(&opts.ShowInternal, "show-internal", false, "also show changes of the internal HeliumKeycloakObjectGuid field")
	f.DurationVar(&opts.PollInterval, "poll-interval", defaultPollInterval, "how often --follow asks for new events")
	if err := f.MarkHidden("poll-interval"); err != nil {
		panic(err) // a typo in the flag name: a programming error
	}
	return cmd
}

func runEvents(ctx context.Context, opts *eventsOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	q := client.EventQuery{Provider: opts.Provider, User: opts.User, Limit: opts.Limit}
	if opts.afterSet {
		q.After = &opts.After
	}
	if !opts.Follow {
		list, err := api.Events(ctx, q)
		if err != nil {
			return eventsErr(err)
		}
		return renderEvents(opts, list.Events)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := &rowStream{g: opts.g, headers: eventHeaders, minWidths: eventMinWidths}
	tick := time.NewTicker(opts.PollInterval)
	defer tick.Stop()
	for {
		list, err := api.Events(ctx, q)
		switch {
		case ctx.Err() != nil:
			return nil // interrupted: how --follow is meant to stop
		case err != nil:
			return eventsErr(err)
		}
		p := opts.g.printer()
		if opts.g.jsonOutput() {
			err = writeJSONLines(p, list.Events)
		} else {
			err = out.writeRows(p, eventRows(p, list.Events, opts.ShowInternal))
		}
		if err != nil {
			return err
		}
		full := len(list.Events) == q.Limit || q.Limit == 0 && len(list.Events) == directory.DefaultEventLimit
		next := list.Next
		q.After, q.Limit = &next, directory.MaxEventLimit
		if full {
			continue // more are waiting: no pause
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// eventsErr adds to a pruned cursor's error what to do about it.
func eventsErr(err error) error {
	if apiErr, ok := errors.AsType[*client.Error](err); ok && apiErr.Code == directory.EGONE {
		return fmt.Errorf("%w\n`kacescim events` without --after shows the newest events and their cursors", err)
	}
	return err
}

// renderEvents prints events in the output format asked for.
func renderEvents(opts *eventsOptions, events []adminapi.Event) error {
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		return writeJSONLines(p, events)
	}
	if len(events) == 0 && p.tty {
		fmt.Fprintln(opts.g.IO.ErrOut, "No events match.")
		return nil
	}
	if err := p.Table(eventHeaders, eventRows(p, events, opts.ShowInternal)); err != nil {
		return err
	}
	if p.tty && len(events) == opts.Limit {
		if opts.afterSet {
			fmt.Fprintf(opts.g.IO.ErrOut, "Showing %d events: go on with --after %d.\n", opts.Limit, events[len(events)-1].Cursor)
		} else {
			fmt.Fprintf(opts.g.IO.ErrOut, "Showing the newest %d events: raise --limit to look further back.\n", opts.Limit)
		}
	}
	return nil
}

// eventRows are the table cells of events, in eventHeaders order.
func eventRows(p *printer, events []adminapi.Event, showInternal bool) [][]string {
	rows := make([][]string, 0, len(events))
	for _, e := range events {
		var user, group string
		if e.User != nil {
			user = e.User.UserName
		}
		if e.Group != nil {
			group = e.Group.DisplayName
		}
		provider := e.Provider
		if provider == "" && p.tty {
			provider = "-" // removed since
		}
		rows = append(rows, []string{
			fmt.Sprint(e.Cursor),
			p.Time(e.Time),
			provider,
			e.Type,
			user,
			group,
			changesCell(p, e.Changes, showInternal),
		})
	}
	return rows
}

// changesCell is an event's field changes: "Field: before → after",
// separated by "; ", a value it had not or has not any more shown as -.
func changesCell(p *printer, changes []adminapi.FieldChange, showInternal bool) string {
	var parts []string
	for _, c := range changes {
		if c.Field == directory.FieldGUID && !showInternal {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %s → %s", c.Field, changeValue(p, c.Before), changeValue(p, c.After)))
	}
	return strings.Join(parts, "; ")
}

func changeValue(p *printer, v any) string {
	if v == nil {
		return "-"
	}
	if s := p.FieldValue(v); s != "" {
		return s
	}
	return `""`
}

// historyHeaders are the columns of `users history`.
var historyHeaders = []string{"CURSOR", "TIME", "PROVIDER", "EVENT", "GROUP", "CHANGES"}

type usersHistoryOptions struct {
	g            *globalOptions
	Key          string
	ShowInternal bool
}

// NewCmdUsersHistory returns `kacescim users history`.
func NewCmdUsersHistory(g *globalOptions) *cobra.Command {
	opts := &usersHistoryOptions{g: g}
	cmd := &cobra.Command{
		Use:   "history EMAIL|ID",
		Short: "Show what happened to a directory user, and when",
		Long: `Show every change of a directory user the change feed still holds, oldest
first: when it was created, each directory field it changed (before → after),
when it was deactivated and activated again, the groups it joined and left,
and its deletion. A removed user is found by its SCIM id.`,
		Example: `  kacescim users history ada@example.com
  kacescim users history 2819c223-7f76-453a-919d-413861904646 --output json`,
		Args: exactArgs("EMAIL|ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Key = strings.TrimSpace(args[0])
			if opts.Key == "" {
				return usageErr(fmt.Sprintf("missing EMAIL|ID: %s EMAIL|ID", cmd.CommandPath()))
			}
			return runUsersHistory(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ShowInternal, "show-internal", false, "also show changes of the internal HeliumKeycloakObjectGuid field")
	return cmd
}

func runUsersHistory(ctx context.Context, opts *usersHistoryOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	var events []adminapi.Event
	for after := int64(0); ; {
		list, err := api.Events(ctx, client.EventQuery{After: &after, User: opts.Key, Limit: directory.MaxEventLimit})
		if err != nil {
			return eventsErr(err)
		}
		events = append(events, list.Events...)
		if len(list.Events) < directory.MaxEventLimit {
			break
		}
		after = list.Next
	}
	if len(events) == 0 {
		// No event: no such user, or one older than the feed.
		if _, err := api.DirectoryUser(ctx, opts.Key); err != nil {
			return err
		}
	}
	p := opts.g.printer()
	if opts.g.jsonOutput() {
		return writeJSONLines(p, events)
	}
	if len(events) == 0 {
		fmt.Fprintf(opts.g.IO.ErrOut, "No changes of %s are in the change feed (kept for serve's --event-retention).\n", opts.Key)
		return nil
	}
	rows := make([][]string, 0, len(events))
	for _, r := range eventRows(p, events, opts.ShowInternal) {
		rows = append(rows, append(r[:4:4], r[5:]...)) // no USER column: it is the one asked for
	}
	return p.Table(historyHeaders, rows)
}
