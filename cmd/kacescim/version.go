package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// buildInfo is what the binary knows of how it was built: from the
// link-time variables of a release build (main.go), else from the record
// go build keeps of the module and of the git checkout it built from.
type buildInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`   // built from a checkout with changes not committed
	Date     string `json:"buildDate,omitempty"`  // a release build's, from -ldflags
	Time     string `json:"commitTime,omitempty"` // the commit's, from the build's record
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// readBuildInfo reads the build's record.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: buildDate, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = b.Modified || s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// String is the version line: "v1.2.3 (commit 0123456789ab, modified,
// committed 2026-12-03T19:00:00Z, go1.26.8 linux/amd64)", with "built
// DATE" for a release build's date. A build that recorded no
// commit (go run, or -buildvcs=false) says so and how to get one.
func (b buildInfo) String() string {
	if b.Version == "" {
		b.Version = "dev"
	}
	var parts []string
	switch {
	case b.Commit != "":
		c := "commit " + b.Commit[:min(12, len(b.Commit))]
		if b.Modified {
			c += ", modified"
		}
		parts = append(parts, c)
	case b.Go != "":
		parts = append(parts, "commit unknown: built without version control data (go run, or -buildvcs=false); go build -buildvcs=true ./cmd/kacescim records it")
	}
	if b.Time != "" {
		parts = append(parts, "committed "+b.Time)
	}
	if b.Date != "" {
		parts = append(parts, "built "+b.Date)
	}
	if b.Go != "" {
		parts = append(parts, b.Go+" "+b.Platform)
	}
	if len(parts) == 0 {
		return b.Version
	}
	return b.Version + " (" + strings.Join(parts, ", ") + ")"
}

// NewCmdVersion returns `kacescim version`.
func NewCmdVersion(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit and the build date",
		Long: `Print the version, the commit the binary was built from (with "modified"
when the checkout had changes not committed), the build date, and the Go
version and platform. kacescim --version prints the same line.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := g.Build
			if b.Version == "" {
				b.Version = g.Version
			}
			if g.jsonOutput() {
				return g.printer().JSON(b)
			}
			_, err := fmt.Fprintf(g.IO.Out, "kacescim %s\n", b)
			return err
		},
	}
}
