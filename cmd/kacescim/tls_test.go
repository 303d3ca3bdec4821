package main

import (
	"context"
	"crypto/tls"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeTLSSendsHSTS: serve over HTTPS tells clients to keep to HTTPS
// (Strict-Transport-Security), and its request log names the client IP;
// the CLI facing its self-signed certificate says so and takes it with
// --ca-cert.
func TestServeTLSSendsHSTS(t *testing.T) {
	isolateEnv(t)
	certFile, keyFile, pool := selfSignedCert(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	data := t.TempDir()
	_, errOut, done := startCLI(ctx, false, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
		"--tls-cert", certFile, "--tls-key", keyFile)
	waitFor(t, errOut, "kacescim listening")
	m := regexp.MustCompile(`url=(https://\S+)`).FindStringSubmatch(errOut.String())
	if m == nil {
		t.Fatalf("no https URL in:\n%s", errOut)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	res, err := c.Get(m[1] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("Strict-Transport-Security %q over HTTPS", got)
	}
	waitFor(t, errOut, "client_ip=127.0.0.1")

	// The CLI names the certificate, and --ca-cert is the way through.
	_, cliErr, cliDone := startCLI(context.Background(), false, "provider", "list", "--data-dir", data)
	if code := <-cliDone; code == 0 || !strings.Contains(cliErr.String(), "does not trust") || !strings.Contains(cliErr.String(), "--ca-cert") {
		t.Errorf("provider list without --ca-cert: exit %d, %s", code, cliErr)
	}
	out, cliErr, cliDone := startCLI(context.Background(), false, "provider", "list", "--data-dir", data, "--ca-cert", certFile)
	if code := <-cliDone; code != 0 {
		t.Errorf("provider list --ca-cert: exit %d, %s %s", code, out, cliErr)
	}
	_, cliErr, cliDone = startCLI(context.Background(), false, "provider", "list", "--data-dir", data, "--ca-cert", keyFile)
	if code := <-cliDone; code != exitUsage || !strings.Contains(cliErr.String(), "holds no PEM certificate") {
		t.Errorf("--ca-cert of a key file: exit %d, %s", code, cliErr)
	}
	stop()
	<-done
}
