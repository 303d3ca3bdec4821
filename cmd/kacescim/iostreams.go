package main

import (
	"io"
	"os"
	"strconv"

	"github.com/charmbracelet/lipgloss"
	"github.com/mattn/go-isatty"
	"github.com/muesli/termenv"
	"golang.org/x/term"
)

// IOStreams are the streams a command reads and writes, with what is known
// about them. Commands never touch os.Stdout or os.Stderr: tests hand them
// buffers and flip the TTY switch to see both renderings.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdoutTTY bool
	stdinTTY  bool
	color     bool
	width     int // the terminal's columns; 0 when unknown
}

// SystemIO returns the process's streams, with the TTY and colour switches
// set from the terminal and NO_COLOR.
func SystemIO() *IOStreams {
	tty := isTerminal(os.Stdout)
	_, noColor := os.LookupEnv("NO_COLOR")
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, stdoutTTY: tty, stdinTTY: isTerminal(os.Stdin), color: tty && !noColor,
		width: terminalWidth(os.Stdout, tty)}
}

// terminalWidth is the width of the terminal f is, in columns: COLUMNS
// when it holds a number (as shells set it, and for a fixed width),
// otherwise what the terminal says; 0 when f is no terminal or it cannot
// tell.
func terminalWidth(f *os.File, tty bool) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if !tty {
		return 0
	}
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil || w <= 0 {
		return 0
	}
	return w
}

// TestIO returns streams over the given writers, not a terminal.
func TestIO(in io.Reader, out, errOut io.Writer) *IOStreams {
	return &IOStreams{In: in, Out: out, ErrOut: errOut}
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// IsStdoutTTY reports whether stdout is a terminal: tables and humanised
// times for people, tab-separated rows and RFC 3339 for programs.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// SetStdoutTTY overrides the detection (tests).
func (s *IOStreams) SetStdoutTTY(tty bool) { s.stdoutTTY = tty }

// IsStdinTTY reports whether stdin is a terminal, i.e. whether a command
// may ask a question: without one it must not wait for an answer.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// SetStdinTTY overrides the detection (tests).
func (s *IOStreams) SetStdinTTY(tty bool) { s.stdinTTY = tty }

// TerminalWidth is the width of the terminal stdout is, in columns (0
// when unknown): what tables fit to.
func (s *IOStreams) TerminalWidth() int { return s.width }

// SetTerminalWidth overrides the detection (tests).
func (s *IOStreams) SetTerminalWidth(w int) { s.width = w }

// SetColorEnabled overrides the detection (tests).
func (s *IOStreams) SetColorEnabled(on bool) { s.color = on }

// renderer returns the lipgloss renderer for Out: with colours only when
// they are enabled, so that a table on a non-colour terminal (or in a
// test) still has its layout but no escape codes.
func (s *IOStreams) renderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(s.Out)
	if !s.color {
		r.SetColorProfile(termenv.Ascii)
	}
	return r
}
