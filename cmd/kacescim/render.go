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
}

func (g *globalOptions) printer() *printer {
	loc := g.Location
	if loc == nil {
		loc = time.Local
	}
	return &printer{out: g.IO.Out, tty: g.IO.IsStdoutTTY(), now: g.Now(), loc: loc, re: g.IO.renderer()}
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

// Table writes rows under headers: a lipgloss table on a terminal,
// tab-separated lines with a header line otherwise.
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
	header := p.re.NewStyle().Bold(true).PaddingRight(2)
	cell := p.re.NewStyle().PaddingRight(2)
	t := table.New().
		Border(lipgloss.NormalBorder()).
		BorderStyle(p.re.NewStyle().Faint(true)).
		BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderColumn(false).BorderRow(false).BorderHeader(true).
		Headers(headers...).
		Rows(rows...).
		StyleFunc(func(row, _ int) lipgloss.Style {
			if row == table.HeaderRow {
				return header
			}
			return cell
		})
	lines := strings.Split(t.Render(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := fmt.Fprintln(p.out, strings.Join(lines, "\n"))
	return err
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

// Bool formats b: yes/no on a terminal, true/false when piped.
func (p *printer) Bool(b bool) string {
	switch {
	case p.tty && b:
		return "yes"
	case p.tty:
		return "no"
	default:
		return fmt.Sprint(b)
	}
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
