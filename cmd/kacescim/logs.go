package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
)

// defaultPollInterval is how often `logs --follow` asks for new entries.
const defaultPollInterval = time.Second

// logHeaders are the columns of `logs`, in order.
var logHeaders = []string{"TIME", "PROVIDER", "METHOD", "PATH", "STATUS", "RESOURCE", "LATENCY", "ERROR"}

// logMinWidths are the narrowest the columns of `logs --follow` get on a
// terminal, so that rows that arrive later (a longer time, a path, a SCIM
// id) usually fit under the header printed first.
var logMinWidths = []int{14, 8, 6, 24, 6, 36, 7, 5}

type logsOptions struct {
	g            *globalOptions
	Provider     string
	Since        string
	Failed       bool
	Limit        int
	Follow       bool
	PollInterval time.Duration
}

// NewCmdLogs returns `kacescim logs`.
func NewCmdLogs(g *globalOptions) *cobra.Command {
	opts := &logsOptions{g: g}
	cmd := &cobra.Command{
		Use:     "logs",
		Aliases: []string{"log"},
		Short:   "Show the provisioning log: the SCIM requests identity providers made",
		Long: `Every SCIM request is recorded in the provisioning log: when, which provider
(none when the key matched no provider), the method and path, the status, the
user or group it named or created, how long it took and, for a failed
request, the error sent back. Bodies, headers and keys are never recorded.

The newest --limit entries that match are shown, oldest first. --follow then
keeps printing new ones as they arrive, until interrupted (Ctrl-C). With
--output json, each entry is one line of JSON.

serve keeps entries for --log-retention and at most --log-max-entries of them.`,
		Example: `  kacescim logs --provider Okta --since 1h
  kacescim logs --failed --since 2025-03-14T09:00:00Z
  kacescim logs --follow
  kacescim logs --output json | jq 'select(.status >= 500)'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 1 || opts.Limit > adminapi.MaxLogLimit {
				return usageErr(fmt.Sprintf("--limit must be from 1 to %d, not %d", adminapi.MaxLogLimit, opts.Limit))
			}
			if opts.Since != "" {
				if _, err := adminapi.ParseSince(opts.Since, opts.g.Now()); err != nil {
					return usageErr("--since " + err.Error())
				}
			}
			if opts.PollInterval <= 0 {
				return usageErr(fmt.Sprintf("--poll-interval must be positive, not %s", opts.PollInterval))
			}
			return runLogs(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Provider, "provider", "p", "", "only the requests of this provider")
	f.StringVar(&opts.Since, "since", "", "only requests since this RFC 3339 time, or in this last duration (30m, 1h, 24h)")
	f.BoolVar(&opts.Failed, "failed", false, "only failed requests: status 400 and above")
	f.IntVarP(&opts.Limit, "limit", "L", adminapi.DefaultLogLimit, "show at most the newest N entries")
	f.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new entries as they arrive, until interrupted")
	f.DurationVar(&opts.PollInterval, "poll-interval", defaultPollInterval, "how often --follow asks for new entries")
	if err := f.MarkHidden("poll-interval"); err != nil {
		panic(err) // a typo in the flag name: a programming error
	}
	return cmd
}

func runLogs(ctx context.Context, opts *logsOptions) error {
	api, err := opts.g.admin()
	if err != nil {
		return err
	}
	q := client.LogQuery{Provider: opts.Provider, Since: opts.Since, FailedOnly: opts.Failed, Limit: opts.Limit}
	if !opts.Follow {
		entries, err := api.Logs(ctx, q)
		if err != nil {
			return err
		}
		return renderLogs(opts.g, entries, opts.Limit)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return followLogs(ctx, api, q, opts)
}

// followOverlap is how many ids below the newest it printed `logs
// --follow` asks for again. With PostgreSQL, several replicas write the
// log at once and an entry can commit after one with a greater id; asking
// again a little behind, and printing only what it has not printed, lets
// the follower catch such an entry.
const followOverlap = 100

// followLogs prints the newest entries, then, every poll interval, the
// ones it has not printed yet, until ctx ends: the way `logs --follow` is
// meant to stop, so not an error.
func followLogs(ctx context.Context, api *client.Admin, q client.LogQuery, opts *logsOptions) error {
	out := newLogStream(opts.g)
	tick := time.NewTicker(opts.PollInterval)
	defer tick.Stop()
	var newest int64
	printed := map[int64]bool{} // the ids printed above newest - followOverlap
	for first := true; ; first = false {
		entries, err := api.Logs(ctx, q)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		}
		if !first && len(entries) == q.Limit {
			// The server keeps the newest of a limit: older ones are lost
			// to a follower that fell this far behind.
			fmt.Fprintf(opts.g.IO.ErrOut, "More than %d new entries since the last poll: older ones were skipped.\n", q.Limit-followOverlap)
		}
		fresh := entries[:0:0]
		for _, e := range entries {
			if !printed[e.ID] {
				fresh = append(fresh, e)
				printed[e.ID] = true
				newest = max(newest, e.ID)
			}
		}
		if err := out.write(fresh); err != nil {
			return err
		}
		q.AfterID = max(0, newest-followOverlap)
		for id := range printed {
			if id <= q.AfterID {
				delete(printed, id)
			}
		}
		q.Limit = adminapi.MaxLogLimit
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// renderLogs prints log entries in the output format asked for: a table,
// or one JSON object per line.
func renderLogs(g *globalOptions, entries []adminapi.LogEntry, limit int) error {
	p := g.printer()
	if g.jsonOutput() {
		for _, e := range entries {
			if err := p.JSONLine(e); err != nil {
				return err
			}
		}
		return nil
	}
	if len(entries) == 0 && p.tty {
		fmt.Fprintln(g.IO.ErrOut, "No log entries match.")
		return nil
	}
	if err := p.Table(logHeaders, logRows(p, entries)); err != nil {
		return err
	}
	if p.tty && len(entries) == limit {
		fmt.Fprintf(g.IO.ErrOut, "Showing the newest %d entries: raise --limit to look further back.\n", limit)
	}
	return nil
}

// logRows are the table cells of entries, in logHeaders order.
func logRows(p *printer, entries []adminapi.LogEntry) [][]string {
	rows := make([][]string, 0, len(entries))
	for _, e := range entries {
		provider, path := e.Provider, e.Path
		if p.tty {
			if provider == "" {
				provider = "-"
			}
			// Every SCIM request's path starts so: on a terminal, the
			// room goes to what follows.
			if rest, ok := strings.CutPrefix(path, "/scim/v2/"); ok {
				path = "/" + rest
			}
		}
		rows = append(rows, []string{
			p.Time(e.Time),
			provider,
			e.Method,
			path,
			statusCell(p, e.Status),
			e.ResourceID,
			latencyCell(p, e.LatencyMs),
			e.Error,
		})
	}
	return rows
}

// statusCell is the HTTP status, coloured on a terminal: success green,
// the client's mistakes yellow, the server's red.
func statusCell(p *printer, status int) string {
	s := strconv.Itoa(status)
	if !p.tty {
		return s
	}
	var color lipgloss.Color
	switch {
	case status >= 500:
		color = "1"
	case status >= 400:
		color = "3"
	case status >= 200 && status < 300:
		color = "2"
	default:
		return s
	}
	return p.re.NewStyle().Foreground(color).Render(s)
}

// latencyCell is a latency in milliseconds as a duration: to the
// microsecond when piped (time.ParseDuration reads it), to three figures
// or so on a terminal.
func latencyCell(p *printer, ms float64) string {
	d := time.Duration(math.Round(ms*1000)) * time.Microsecond
	if !p.tty {
		return d.String()
	}
	switch {
	case d < time.Millisecond:
		return d.String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

// rowStream prints rows as they arrive, for --follow: the header once,
// then rows (or JSON lines). On a terminal the columns are as wide as the
// first batch needs, and at least minWidths, so that later rows line up
// under the header without knowing what comes next; a wider cell pushes
// the rest of its row along rather than wrapping.
type rowStream struct {
	g         *globalOptions
	headers   []string
	minWidths []int
	started   bool
	widths    []int
}

// newLogStream is the rowStream of `logs --follow`.
func newLogStream(g *globalOptions) *rowStream {
	return &rowStream{g: g, headers: logHeaders, minWidths: logMinWidths}
}

func (s *rowStream) write(entries []adminapi.LogEntry) error {
	// A fresh printer, for a fresh clock: new rows are "just now".
	p := s.g.printer()
	if s.g.jsonOutput() {
		return writeJSONLines(p, entries)
	}
	return s.writeRows(p, logRows(p, entries))
}

// writeJSONLines prints each of vs as a line of JSON.
func writeJSONLines[T any](p *printer, vs []T) error {
	for _, v := range vs {
		if err := p.JSONLine(v); err != nil {
			return err
		}
	}
	return nil
}

// writeRows prints rows, made with p, under the header the first call
// prints.
func (s *rowStream) writeRows(p *printer, rows [][]string) error {
	var b strings.Builder
	if !s.started {
		s.started = true
		if p.tty {
			s.widths = append([]int(nil), s.minWidths...)
			for _, r := range append([][]string{s.headers}, rows...) {
				for i, c := range r {
					s.widths[i] = max(s.widths[i], lipgloss.Width(c))
				}
			}
			bold := p.re.NewStyle().Bold(true)
			headers := make([]string, len(s.headers))
			total := 0
			for i, h := range s.headers {
				headers[i] = bold.Render(h)
				total += s.widths[i] + 2
			}
			b.WriteString(s.line(headers))
			b.WriteString(p.re.NewStyle().Faint(true).Render(strings.Repeat("─", total)) + "\n")
		} else {
			b.WriteString(tsvRow(s.headers))
		}
	}
	for _, r := range rows {
		if p.tty {
			b.WriteString(s.line(r))
		} else {
			b.WriteString(tsvRow(r))
		}
	}
	_, err := io.WriteString(p.out, b.String())
	return err
}

// line lays cells out in the stream's columns, two spaces apart.
func (s *rowStream) line(cells []string) string {
	var b strings.Builder
	for i, c := range cells {
		b.WriteString(c)
		if i < len(cells)-1 {
			b.WriteString(strings.Repeat(" ", max(s.widths[i]-lipgloss.Width(c), 0)+2))
		}
	}
	return strings.TrimRight(b.String(), " ") + "\n"
}
