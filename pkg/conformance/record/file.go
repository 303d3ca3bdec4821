package record

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/conformance"
)

// stepNumber finds the number of a recorded check name ("12. GET /Users").
var stepNumber = regexp.MustCompile(`^(\d+)\. `)

// nextStepNumber is one more than the highest check number of suite's
// scenarios in dir (1 when there are none).
func nextStepNumber(dir, suite string) int {
	next := 1
	entries, err := os.ReadDir(dir)
	if err != nil {
		return next
	}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		s, err := conformance.ParseScenario(e.Name(), data)
		if err != nil || (s.Suite != suite && !(s.Suite == "" && filepath.Base(dir) == suite)) {
			continue
		}
		for _, name := range s.CheckNames() {
			if m := stepNumber.FindStringSubmatch(name); m != nil {
				if n, err := strconv.Atoi(m[1]); err == nil && n >= next {
					next = n + 1
				}
			}
		}
	}
	return next
}

// writeScenarioFile writes data as DIR/<name>-<first step>-<time>.json,
// never replacing a file, and returns its path. The zero-padded number of
// the first step makes the files sort, and so run, in recording order.
func writeScenarioFile(dir, name string, first int, t time.Time, data []byte) (string, error) {
	stem := fmt.Sprintf("%s-%05d-%s", fileStem(name), first, t.UTC().Format("20060102-150405"))
	for i := 1; ; i++ {
		p := filepath.Join(dir, stem+".json")
		if i > 1 {
			p = filepath.Join(dir, fmt.Sprintf("%s-%d.json", stem, i))
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("write the scenario: %w", err)
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
			return "", fmt.Errorf("write the scenario %s: %w", p, err)
		}
		return p, nil
	}
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileStem(name string) string {
	s := strings.Trim(unsafeFileChars.ReplaceAllString(name, "-"), "-.")
	if s == "" {
		return DefaultName
	}
	return s
}
