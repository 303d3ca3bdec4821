package main

import (
	"io"
	"os"

	"github.com/charmbracelet/lipgloss"
	"github.com/mattn/go-isatty"
	"github.com/muesli/termenv"
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
}

// SystemIO returns the process's streams, with the TTY and colour switches
// set from the terminal and NO_COLOR.
func SystemIO() *IOStreams {
	tty := isTerminal(os.Stdout)
	_, noColor := os.LookupEnv("NO_COLOR")
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, stdoutTTY: tty, stdinTTY: isTerminal(os.Stdin), color: tty && !noColor}
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
