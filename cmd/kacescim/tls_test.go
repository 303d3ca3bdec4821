package main

import (
	"context"
	"crypto/tls"
	"net/http"
	"regexp"
	"testing"
	"time"
)

// TestServeTLSSendsHSTS: serve over HTTPS tells clients to keep to HTTPS
// (Strict-Transport-Security), and its request log names the client IP.
func TestServeTLSSendsHSTS(t *testing.T) {
	isolateEnv(t)
	certFile, keyFile, pool := selfSignedCert(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	_, errOut, done := startCLI(ctx, false, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
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
	stop()
	<-done
}
