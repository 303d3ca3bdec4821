// Command kacescim is the SCIM 2.0 provisioning server and the admin CLI
// that manages it, in one binary.
//
// `kacescim serve` runs the SCIM 2.0 endpoint identity providers push users
// and groups to, and the JSON admin API (pkg/adminapi) the other commands
// talk to through pkg/client: provider (connections and their security
// keys), fields (custom directory-user fields), mappings (how SCIM
// attributes fill those fields), users, logs (the provisioning log), scim
// (one SCIM request with a provider's key) and version. `kacescim test`
// checks a SCIM server the way Okta and Entra ID use it, and `kacescim
// record` turns real traffic into scenarios it replays (pkg/conformance).
//
// Each verb is an options struct, a NewCmd constructor that binds the flags
// to it, and a run function; a constructor takes a runF hook only where a
// test checks how the flags become options. Commands write to the
// IOStreams in globalOptions: tables and humanised times on a terminal,
// tab-separated rows and RFC 3339 times when piped, JSON with --output
// json. Settings come from a flag, else the KACESCIM_ environment, else the
// config file; exit codes are decided in exitCode alone.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/client"
)

// version, commit and buildDate are set at link time for release builds:
// -ldflags "-X main.version=v1.2.3 -X main.commit=$(git rev-parse HEAD)
// -X main.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)". Without them, the
// build's own record (go build in a git checkout) gives what it has.
var version, commit, buildDate string

// Exit codes, decided in exitCode and nowhere else.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // the command line is wrong
	exitAuth  = 4 // the server refused the admin token
)

func main() {
	os.Exit(run())
}

// run executes the command line and returns the exit status.
func run() int {
	b := readBuildInfo()
	g := &globalOptions{IO: SystemIO(), Now: time.Now, Version: b.Version, Build: b}
	root := NewCmdRoot(g)
	root.SetArgs(os.Args[1:])
	cmd, err := root.ExecuteContextC(context.Background())
	return exitCode(g, cmd, err)
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErr(msg string) error { return &usageError{msg: msg} }

// exitStatusError ends the command with an exit status and no message,
// because the command has already said what happened (e.g. `scim`, which
// prints the HTTP status).
type exitStatusError struct{ code int }

func (e *exitStatusError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// exitCode prints err for a person and maps it to the exit status. It is
// the only place that decides either.
func exitCode(g *globalOptions, cmd *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	w := g.IO.ErrOut
	var (
		usage       *usageError
		status      *exitStatusError
		unreachable *client.UnreachableError
		apiErr      *client.Error
	)
	switch {
	case errors.As(err, &status):
		return status.code
	case errors.As(err, &usage), isCobraUsage(err):
		fmt.Fprintf(w, "Error: %v\n", err)
		path := "kacescim"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", path)
		return exitUsage
	case errors.As(err, &unreachable) && isCertificateError(unreachable.Err):
		fmt.Fprintf(w, "Error: kacescim at %s answered with a TLS certificate this machine does not trust: %v\n", unreachable.URL, unreachable.Err)
		fmt.Fprintln(w, "If serve uses a self-signed or private certificate, pass its CA with --ca-cert FILE (or KACESCIM_CA_CERT).")
		return exitError
	case errors.As(err, &unreachable):
		fmt.Fprintf(w, "Error: cannot reach kacescim at %s: is `kacescim serve` running? (set --server)\n", unreachable.URL)
		if last := g.lastServerURL(); last != "" && last != unreachable.URL {
			fmt.Fprintf(w, "kacescim serve last ran at %s with this data directory and has stopped: start it again, or pass --server URL.\n", last)
		}
		return exitError
	case errors.As(err, &apiErr) && apiErr.Code == "not_found" && strings.HasPrefix(apiErr.Message, "no provider named"):
		fmt.Fprintf(w, "Error: %s\n", apiErr.Message)
		fmt.Fprintln(w, "`kacescim provider list` shows the providers there are; `kacescim provider add NAME` creates one.")
		return exitError
	case errors.As(err, &apiErr) && apiErr.Status == 401:
		fmt.Fprintf(w, "Error: %s: the server refused the admin token from %s\n", apiErr.Message, g.tokenSource)
		fmt.Fprintln(w, "Use the token in the admin-token file of the server's data directory (--data-dir), or pass it with --token.")
		return exitAuth
	default:
		fmt.Fprintf(w, "Error: %v\n", err)
		return exitError
	}
}

// isCobraUsage recognises the errors cobra returns for an unknown command.
func isCobraUsage(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}

// isCertificateError reports whether err is a TLS certificate that did
// not verify: an unknown authority, a wrong host name, an expired one.
func isCertificateError(err error) bool {
	var (
		cve *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
	)
	return errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}
