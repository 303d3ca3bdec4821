package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/conformance/record"
)

// defaultRecordListen is where `kacescim record` listens unless told.
const defaultRecordListen = "127.0.0.1:8090"

// recordOptions are the flags of `kacescim record`.
type recordOptions struct {
	g *globalOptions

	Listen   string
	Upstream string
	Out      string
	Name     string
	Insecure bool
	// TLSCert and TLSKey make the proxy listen on HTTPS, which a real
	// Okta tenant requires of a SCIM base URL.
	TLSCert, TLSKey string
}

// NewCmdRecord returns `kacescim record`. runF replaces the run function
// in tests that check flag handling only.
func NewCmdRecord(g *globalOptions, runF func(context.Context, *recordOptions) error) *cobra.Command {
	opts := &recordOptions{g: g}
	cmd := &cobra.Command{
		Use:   "record --upstream URL --out DIR",
		Short: "Record an identity provider's SCIM traffic as replayable scenarios",
		Long: `Run a reverse proxy in front of a SCIM server that records what an identity
provider sends and what the server answers. Give the identity provider the
address record listens on as its SCIM base URL (the upstream's own base path,
e.g. /scim/v2, may be kept or left out).

On Ctrl-C, record writes the session as a scenario file in --out, which
` + "`kacescim test --scenarios DIR`" + ` replays against any SCIM server. The file holds no
secret: the Authorization header is never written (the replay uses its own
key), passwords become a placeholder, token-like headers are dropped. Ids the
server made are captured from its answers, and the userNames, displayNames,
externalIds and emails the identity provider chose become fresh random values,
so that a replay does not collide with the recorded users.`,
		Example: `  kacescim record --upstream http://127.0.0.1:8080/scim/v2 --out recordings
  kacescim record --listen 127.0.0.1:9000 --upstream https://scim.example.com/scim/v2 --out rec --name okta-push
  kacescim record --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --upstream http://127.0.0.1:8080/scim/v2 --out rec`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRecord(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", defaultRecordListen, "address to listen on (port 0 picks a free port)")
	f.StringVar(&opts.Upstream, "upstream", "", "SCIM base URL of the server to record, e.g. http://127.0.0.1:8080/scim/v2 (required)")
	f.StringVar(&opts.Out, "out", "", "directory the scenario files are written to, created if missing (required)")
	f.StringVar(&opts.Name, "name", record.DefaultName, "suite name of the recorded scenarios, and the stem of their file names")
	f.BoolVarP(&opts.Insecure, "insecure", "k", false, "accept any TLS certificate from the upstream (test servers only)")
	f.StringVar(&opts.TLSCert, "tls-cert", "", "listen on HTTPS with this certificate (PEM), as a real identity provider requires")
	f.StringVar(&opts.TLSKey, "tls-key", "", "the private key (PEM) of --tls-cert")
	return cmd
}

func (opts *recordOptions) validate() error {
	switch {
	case opts.Upstream == "":
		return usageErr("--upstream is required: the SCIM base URL of the server to record")
	case opts.Out == "":
		return usageErr("--out is required: the directory to write the scenarios to")
	case strings.TrimSpace(opts.Name) == "":
		return usageErr("--name must not be empty")
	case (opts.TLSCert == "") != (opts.TLSKey == ""):
		return usageErr("--tls-cert and --tls-key go together: give both to listen on HTTPS, or neither")
	}
	u, err := url.Parse(opts.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErr(fmt.Sprintf("--upstream %q is not an http(s) URL such as http://127.0.0.1:8080/scim/v2", opts.Upstream))
	}
	return nil
}

func runRecord(ctx context.Context, opts *recordOptions) error {
	errOut := opts.g.IO.ErrOut
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", opts.Out, err)
	}
	rec, err := record.New(record.Config{
		Upstream:   opts.Upstream,
		Dir:        opts.Out,
		Name:       opts.Name,
		Insecure:   opts.Insecure,
		OnExchange: func(ex record.Exchange) { fmt.Fprintln(errOut, exchangeLine(ex)) },
	})
	if err != nil {
		return usageErr(err.Error())
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", opts.Listen, err)
	}
	upstream := displayURL(opts.Upstream)
	srv := &http.Server{Handler: rec, ReadHeaderTimeout: 30 * time.Second}
	useTLS := opts.TLSCert != ""
	if useTLS {
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			ln.Close()
			return usageErr(fmt.Sprintf("cannot load --tls-cert/--tls-key: %v", err))
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	fmt.Fprintf(errOut, "Recording: listening on %s, forwarding to %s\n", listenURL(ln.Addr(), useTLS), upstream)
	fmt.Fprintf(errOut, "Give the identity provider %s as its SCIM base URL. Press Ctrl-C to stop and write the scenarios to %s.\n",
		listenURL(ln.Addr(), useTLS), opts.Out)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	path, err := rec.Close()
	if err != nil {
		return fmt.Errorf("write the recording: %w", err)
	}
	if path == "" {
		fmt.Fprintln(errOut, "Nothing recorded: no scenario written.")
	} else {
		out := opts.g.IO.Out
		fmt.Fprintf(out, "Wrote %s\n", path)
		fmt.Fprintf(out, "Replay it with:\n  kacescim test --url %s --key \"$KEY\" --scenarios %s\n", upstream, opts.Out)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("the proxy stopped: %w", serveErr)
	}
	return nil
}

// exchangeLine is one exchange for the log: method, path and status,
// never a header. A key sent in the query is hidden.
func exchangeLine(ex record.Exchange) string {
	p := conformance.NewRedactor(ex.RequestHeader.Values("Authorization")...).Redact(ex.Path)
	line := fmt.Sprintf("%s %s %d", ex.Method, p, ex.Status)
	if ex.Truncated {
		line += " (too large to record)"
	}
	return line
}

// displayURL is u without user information.
func displayURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.User = nil
	return strings.TrimRight(p.String(), "/")
}
