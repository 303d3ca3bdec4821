package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// NewCmdVersion returns `kacescim version`.
func NewCmdVersion(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.jsonOutput() {
				return g.printer().JSON(map[string]string{
					"version":  g.Version,
					"go":       runtime.Version(),
					"platform": runtime.GOOS + "/" + runtime.GOARCH,
				})
			}
			_, err := fmt.Fprintf(g.IO.Out, "kacescim %s (%s %s/%s)\n", g.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
