package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/server"
)

// scimOptions are the arguments and flags of `kacescim scim`.
type scimOptions struct {
	g *globalOptions

	Method     string
	Path       string
	Data       string
	Key        string
	URL        string
	Headers    []string
	AuthHeader bool
	Insecure   bool
	// OAuthTokenURL, ClientID and ClientSecret get an access token first,
	// as Entra does, instead of --key.
	OAuthTokenURL string
	ClientID      string
	ClientSecret  string
}

// NewCmdSCIM returns `kacescim scim`, a curl for SCIM endpoints.
func NewCmdSCIM(g *globalOptions) *cobra.Command {
	opts := &scimOptions{g: g}
	cmd := &cobra.Command{
		Use:   "scim METHOD PATH",
		Short: "Send one SCIM request, as an identity provider would",
		Long: `Send one SCIM request with a provider's security key and print the answer:
the body (JSON pretty-printed) on stdout, "HTTP <status>" on stderr. The exit
status is non-zero when the HTTP status is 400 or more.

PATH is relative to the SCIM base URL (--url, default: the server URL +
/scim/v2). Spaces and quotes in it are percent-encoded for you.`,
		Example: `  kacescim scim GET /Users --key "$KEY"
  kacescim scim GET '/Users?filter=userName eq "ada@example.com"'
  kacescim scim POST /Users --data @user.json
  kacescim scim GET /Users --oauth-token-url https://HOST/oauth/token --client-id "$ID" --client-secret "$SECRET"
  kacescim scim PATCH /Users/ID --data '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}'`,
		Args: exactArgs("METHOD", "PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Method, opts.Path = strings.ToUpper(args[0]), args[1]
			return runSCIM(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Data, "data", "d", "", "request body: JSON, @FILE, or @- for stdin")
	f.StringVar(&opts.Key, "key", "", "the provider's security key")
	f.StringVar(&opts.URL, "url", "", "SCIM base URL (default: the server URL + /scim/v2)")
	f.StringArrayVarP(&opts.Headers, "header", "H", nil, `extra request header "Name: value" (repeatable)`)
	f.BoolVar(&opts.AuthHeader, "auth-header", false, "send the bare key in Authorization, as Okta's HTTP Header mode does")
	f.BoolVarP(&opts.Insecure, "insecure", "k", false, "accept any TLS certificate (test servers only)")
	f.StringVar(&opts.OAuthTokenURL, "oauth-token-url", "", "get an access token from this OAuth 2.0 token endpoint `URL` first (client credentials grant, as Entra ID does) and send it instead of --key")
	f.StringVar(&opts.ClientID, "client-id", "", "with --oauth-token-url: the OAuth client `ID`")
	f.StringVar(&opts.ClientSecret, "client-secret", "", "with --oauth-token-url: the OAuth client `SECRET` (default $KACESCIM_CLIENT_SECRET)")
	configurable(f, "key", "url")
	return cmd
}

func runSCIM(ctx context.Context, opts *scimOptions) error {
	body, err := readData(opts.Data, opts.g.IO.In)
	if err != nil {
		return err
	}
	base := opts.URL
	if base == "" {
		base = opts.g.serverURL() + server.SCIMPrefix
	}
	copts, err := opts.g.tlsOptions()
	if err != nil {
		return err
	}
	copts = append(copts, client.WithUserAgent(opts.g.userAgent()))
	for _, h := range opts.Headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return usageErr(fmt.Sprintf("--header %q: use \"Name: value\"", h))
		}
		copts = append(copts, client.WithHeader(strings.TrimSpace(name), strings.TrimSpace(value)))
	}
	if opts.AuthHeader {
		copts = append(copts, client.WithAuthMode(client.AuthHeader))
	}
	if opts.Insecure {
		copts = append(copts, client.WithInsecureSkipVerify())
	}
	key := opts.Key
	if opts.OAuthTokenURL != "" || opts.ClientID != "" {
		secret := cmp.Or(opts.ClientSecret, os.Getenv("KACESCIM_CLIENT_SECRET"))
		switch {
		case opts.OAuthTokenURL == "" || opts.ClientID == "" || secret == "":
			return usageErr("--oauth-token-url, --client-id and --client-secret (or KACESCIM_CLIENT_SECRET) go together: give all three")
		case key != "":
			return usageErr("--oauth-token-url gets an access token: leave --key (and KACESCIM_KEY) out")
		}
		tok, err := client.FetchToken(ctx, opts.OAuthTokenURL, opts.ClientID, secret, copts...)
		if err != nil {
			return fmt.Errorf("getting an access token: %w", err)
		}
		key = tok.AccessToken
	}
	c := client.NewSCIM(base, key, copts...)
	resp, err := c.Do(ctx, opts.Method, opts.Path, body)
	var unreachable *client.UnreachableError
	if errors.As(err, &unreachable) {
		// Said here, not in exitCode: the flag to fix is --url, not --server.
		return fmt.Errorf("cannot reach %s: %v (is `kacescim serve` running? set --url or --server)", unreachable.URL, unreachable.Err)
	}
	if err != nil {
		return err
	}
	out := resp.Body
	if len(bytes.TrimSpace(out)) > 0 {
		var pretty bytes.Buffer
		if json.Indent(&pretty, out, "", "  ") == nil {
			out = pretty.Bytes()
		}
		if !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, '\n')
		}
		if _, err := opts.g.IO.Out.Write(out); err != nil {
			return err
		}
	}
	fmt.Fprintf(opts.g.IO.ErrOut, "HTTP %d\n", resp.Status)
	if resp.Status >= 400 {
		return &exitStatusError{code: exitError}
	}
	return nil
}

// readData returns the body --data names: nil for none, a file's contents
// for @FILE, stdin for @-, else the text itself.
func readData(data string, stdin io.Reader) ([]byte, error) {
	switch {
	case data == "":
		return nil, nil
	case data == "@-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read request body from stdin: %w", err)
		}
		return b, nil
	case strings.HasPrefix(data, "@"):
		b, err := os.ReadFile(data[1:])
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		return b, nil
	default:
		return []byte(data), nil
	}
}
