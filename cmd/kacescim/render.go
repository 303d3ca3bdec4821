package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/charmbracelet/x/ansi"
)

// printer renders command output for the streams it is given: styled
// tables and humanised times on a terminal, tab-separated rows and RFC 3339
// times when piped, and JSON when asked.
type printer struct {
	out io.Writer
	tty bool
	now time.Time
	loc *time.Location
	re  *lipgloss.Renderer
	// width is what a table on the terminal fits in, in columns: 0 for
	// no limit (--wide, or a width the terminal does not tell).
	width int
}

func (g *globalOptions) printer() *printer {
	loc := g.Location
	if loc == nil {
		loc = time.Local
	}
	p := &printer{out: g.IO.Out, tty: g.IO.IsStdoutTTY(), now: g.Now(), loc: loc, re: g.IO.renderer()}
	if !g.Wide {
		p.width = g.IO.TerminalWidth()
	}
	return p
}

// JSON writes v indented, the same data the text form shows. Directory
// data is not HTML: "R&D" stays "R&D".
func (p *printer) JSON(v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := p.out.Write(b.Bytes())
	return err
}

// Table writes rows under headers: a lipgloss table on a terminal, fitted
// to its width (fitColumns), tab-separated lines with a header line
// otherwise, every value whole.
func (p *printer) Table(headers []string, rows [][]string) error {
	if !p.tty {
		var b strings.Builder
		b.WriteString(strings.Join(headers, "\t") + "\n")
		for _, r := range rows {
			b.WriteString(tsvRow(r))
		}
		_, err := io.WriteString(p.out, b.String())
		return err
	}
	if p.width > 0 {
		headers, rows = fitColumns(headers, rows, p.width)
	}
	// Each column but the last ends in its gap: the header's rule is as
	// wide as the widest line.
	header := p.re.NewStyle().Bold(true)
	cell := p.re.NewStyle()
	last := len(headers) - 1
	t := table.New().
		Border(lipgloss.NormalBorder()).
		BorderStyle(p.re.NewStyle().Faint(true)).
		BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderColumn(false).BorderRow(false).BorderHeader(true).
		Headers(headers...).
		Rows(rows...).
		StyleFunc(func(row, col int) lipgloss.Style {
			style := cell
			if row == table.HeaderRow {
				style = header
			}
			if col < last {
				style = style.PaddingRight(columnGap)
			}
			return style
		})
	lines := strings.Split(t.Render(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := fmt.Fprintln(p.out, strings.Join(lines, "\n"))
	return err
}

// columnGap is the space between two columns of a table on a terminal.
const columnGap = 2

// shortColumn is the widest a column may be and still be cut only when
// cutting the longer ones is not enough.
const shortColumn = 16

// minColumn is the narrowest a column is cut to (with its ellipsis), or
// its header's width if that is wider: enough to tell values apart.
const minColumn = 8

// hardFloor is the narrowest a column is ever cut to: three characters
// and the ellipsis.
const hardFloor = 4

// fitColumns cuts the cells of the widest columns, with an ellipsis,
// until a table of them fits in width columns: a line never wraps, and
// the columns that are narrow already (names, statuses, dates) stay
// whole while they can. Only a table of very many columns for its
// terminal has its headers cut too; one that does not fit even then is as
// narrow as hardFloor allows.
func fitColumns(headers []string, rows [][]string, width int) ([]string, [][]string) {
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = ansi.StringWidth(h)
	}
	for _, r := range rows {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], ansi.StringWidth(c))
			}
		}
	}
	// The last column has no gap after it.
	room := width - columnGap*(len(headers)-1)
	total := 0
	for _, w := range widths {
		total += w
	}
	if total <= room {
		return headers, rows
	}
	// Take a column from the widest one at a time, so that the cut falls
	// on the long values, evenly among columns as long: first from the
	// columns longer than shortColumn only, so that dates, names and
	// statuses stay whole while they can, then from any column down to
	// its floor (minColumn, or its header's width).
	floor := make([]int, len(widths))
	for i, h := range headers {
		floor[i] = min(widths[i], max(minColumn, ansi.StringWidth(h)))
	}
	shortFirst := make([]int, len(widths))
	for i, w := range widths {
		shortFirst[i] = w
		if w > shortColumn {
			shortFirst[i] = floor[i]
		}
	}
	// Last, when there are too many columns for the terminal, the headers
	// are cut too, to hardFloor.
	hard := make([]int, len(widths))
	for i, w := range widths {
		hard[i] = min(w, hardFloor)
	}
	for _, floor := range [][]int{shortFirst, floor, hard} {
		for total > room {
			widest := -1
			for i, w := range widths {
				if w > floor[i] && (widest < 0 || w > widths[widest]) {
					widest = i
				}
			}
			if widest < 0 {
				break
			}
			widths[widest]--
			total--
		}
	}
	cut := func(cells []string) []string {
		out := make([]string, len(cells))
		for i, c := range cells {
			if i < len(widths) && ansi.StringWidth(c) > widths[i] {
				c = ansi.Truncate(c, widths[i], "…")
			}
			out[i] = c
		}
		return out
	}
	fitted := make([][]string, len(rows))
	for i, r := range rows {
		fitted[i] = cut(r)
	}
	return cut(headers), fitted
}

// tsvRow is one line of piped table output: tabs and newlines inside a
// cell become spaces, so that each row stays one line of tab-separated
// cells.
func tsvRow(cells []string) string {
	clean := make([]string, len(cells))
	for i, c := range cells {
		clean[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
	}
	return strings.Join(clean, "\t") + "\n"
}

// JSONLine writes v as one compact line of JSON: the form for streams
// (JSON lines) that tools such as jq read one object at a time.
func (p *printer) JSONLine(v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := p.out.Write(b.Bytes())
	return err
}

// Fields writes "label: value" lines with the values aligned.
func (p *printer) Fields(pairs [][2]string) error {
	width := 0
	for _, kv := range pairs {
		width = max(width, len(kv[0])+1)
	}
	label := p.re.NewStyle().Bold(true)
	var b strings.Builder
	for _, kv := range pairs {
		pad := strings.Repeat(" ", width-len(kv[0])+1)
		if p.tty {
			b.WriteString(label.Render(kv[0]+":") + pad + kv[1] + "\n")
		} else {
			b.WriteString(kv[0] + ":" + pad + kv[1] + "\n")
		}
	}
	_, err := io.WriteString(p.out, b.String())
	return err
}

// Println writes one line.
func (p *printer) Println(a ...any) { fmt.Fprintln(p.out, a...) }

// Success writes a line that reports a change, with a check mark on a
// terminal.
func (p *printer) Success(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if p.tty {
		msg = p.re.NewStyle().Foreground(lipgloss.Color("2")).Render("✓") + " " + msg
	}
	fmt.Fprintln(p.out, msg)
}

// Warn writes a line that must not be missed, in bold on a terminal.
func (p *printer) Warn(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if p.tty {
		msg = p.re.NewStyle().Bold(true).Foreground(lipgloss.Color("3")).Render(msg)
	}
	fmt.Fprintln(p.out, msg)
}

// Time formats t: humanised on a terminal, RFC 3339 otherwise; zero is
// never (or "" when piped, so that scripts can test for it).
func (p *printer) Time(t time.Time) string {
	switch {
	case t.IsZero() && p.tty:
		return "never"
	case t.IsZero():
		return ""
	case p.tty:
		return humanTime(p.now, t, p.loc)
	default:
		return t.UTC().Format(time.RFC3339)
	}
}

// TimeOrNever is Time, but says "never" when piped too: for the one-value
// lines of `show`, where an empty value reads as a missing line.
func (p *printer) TimeOrNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return p.Time(t)
}

// Bool formats b as yes or no, on a terminal and piped alike: text
// output says one thing one way. Scripts that need true and false read
// --output json.
func (p *printer) Bool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// FieldValue formats the value of a directory-user field: text as it
// is (on one line), booleans as Bool does, anything else as JSON.
func (p *printer) FieldValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(v)
	case bool:
		return p.Bool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

// humanTime says how long ago t was, the way a person would.
func humanTime(now, t time.Time, loc *time.Location) string {
	d := now.Sub(t)
	plural := func(n int, unit string) string {
		if n == 1 {
			return fmt.Sprintf("1 %s ago", unit)
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch {
	case d < -time.Minute:
		return t.In(loc).Format("Jan 2, 2006 15:04")
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d < 30*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	default:
		return t.In(loc).Format("Jan 2, 2006")
	}
}

// shellQuote quotes s for a POSIX shell when it needs it, so that the
// commands we suggest can be pasted as they are.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
