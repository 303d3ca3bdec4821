package main

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/kacescim/kacescim/pkg/conformance"
)

// write prints the report on stdout, and to --out.
func (r *testRun) write(res *conformance.Result) error {
	var out bytes.Buffer
	switch {
	case r.g.Output == testOutputJSON && r.Out == "":
		if err := res.WriteJSON(&out); err != nil {
			return err
		}
	case r.g.Output == testOutputJUnit && r.Out == "":
		if err := res.WriteJUnit(&out); err != nil {
			return err
		}
	case r.g.IO.IsStdoutTTY():
		if err := res.WriteTextStyled(&out, r.textStyle()); err != nil {
			return err
		}
	default:
		if err := res.WriteText(&out); err != nil {
			return err
		}
	}
	if r.Out != "" {
		var file bytes.Buffer
		junit := r.g.Output == testOutputJUnit || r.g.Output == testOutputText && strings.EqualFold(filepath.Ext(r.Out), ".xml")
		write := res.WriteJSON
		if junit {
			write = res.WriteJUnit
		}
		if err := write(&file); err != nil {
			return err
		}
		if err := os.WriteFile(r.Out, []byte(r.redact(file.String())), 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	_, err := io.WriteString(r.g.IO.Out, r.redact(out.String()))
	return err
}

// textStyle colours the text report on a terminal.
func (r *testRun) textStyle() conformance.TextStyle {
	re := r.g.IO.renderer()
	color := func(c string) func(string) string {
		s := re.NewStyle().Bold(true).Foreground(lipgloss.Color(c))
		return func(t string) string { return s.Render(t) }
	}
	bold := re.NewStyle().Bold(true)
	faint := re.NewStyle().Faint(true)
	return conformance.TextStyle{
		Pass:    color("2"),
		Fail:    color("1"),
		Warn:    color("3"),
		Skip:    func(t string) string { return faint.Render(t) },
		Heading: func(t string) string { return bold.Render(t) },
		Detail:  func(t string) string { return faint.Render(t) },
	}
}

// note says one line on stderr, secrets redacted.
func (r *testRun) note(format string, a ...any) {
	fmt.Fprintln(r.errOut, r.redact(fmt.Sprintf(format, a...)))
}

func (r *testRun) redact(s string) string { return r.red.Redact(s) }

func (r *testRun) redactErr(err error) error {
	var status *exitStatusError
	var usage *usageError
	if err == nil || errors.As(err, &status) || errors.As(err, &usage) {
		return err
	}
	return errors.New(r.redact(err.Error()))
}

// maxExplore bounds --explore: a sequence of more operations is better
// sent as several seeds.
const maxExplore = 100_000

// randomSeed is the seed of an --explore without --seed.
func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 1 // positive as an int64 too, for JSON readers
}

// writeShrunk writes the shortest failing sequence of --explore as a
// scenario file under --explore-dir, and says how to replay it.
func (r *testRun) writeShrunk(ex *conformance.Exploration) error {
	if ex == nil || ex.Shrunk == nil {
		return nil
	}
	data, err := conformance.MarshalScenario(ex.Shrunk)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.ExploreDir, 0o755); err != nil {
		return fmt.Errorf("--explore-dir: %w", err)
	}
	file := filepath.Join(r.ExploreDir, fmt.Sprintf("seed-%d.json", ex.Seed))
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return fmt.Errorf("--explore-dir: %w", err)
	}
	r.note("The shortest failing sequence (%d of %d operations) is in %s; replay it with: kacescim test --scenarios %s", len(ex.Shrunk.Steps), ex.Operations, file, r.ExploreDir)
	return nil
}
