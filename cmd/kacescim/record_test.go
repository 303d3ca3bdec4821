package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance"
	"github.com/kacescim/kacescim/pkg/server"
	"github.com/kacescim/kacescim/pkg/server/servertest"
)

// TestRecordCommand runs `kacescim record` in front of a real server,
// sends traffic through it, stops it as Ctrl-C would (its context ends)
// and checks the scenario file it wrote: there, loadable, without the key,
// and replayable against the same server.
func TestRecordCommand(t *testing.T) {
	isolateEnv(t)
	ctx := context.Background()
	srv, hs := servertest.Start(t, server.Config{})
	key := servertest.AddProvider(t, srv, "okta")
	upstream := hs.URL + server.SCIMPrefix
	dir := filepath.Join(t.TempDir(), "recordings", "new") // created by record

	rctx, stop := context.WithCancel(ctx)
	defer stop()
	out, errOut, done := startCLI(rctx, false, "record", "--listen", "127.0.0.1:0", "--upstream", upstream, "--out", dir, "--name", "cli-recorded")
	waitFor(t, errOut, "Press Ctrl-C")
	m := regexp.MustCompile(`listening on (http://\S+),`).FindStringSubmatch(errOut.String())
	if m == nil {
		t.Fatalf("no address in:\n%s", errOut)
	}
	// The identity provider may keep the upstream's base path.
	c := client.NewSCIM(m[1]+server.SCIMPrefix, key, client.WithTimeout(10*time.Second))
	resp, err := c.Do(ctx, "POST", "/Users", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"cli@example.com","password":"hunter2hunter2","active":true}`))
	if err != nil || resp.Status != 201 {
		t.Fatalf("POST through the recorder: %v %v", resp, err)
	}
	resp, err = c.Do(ctx, "GET", `/Users?filter=userName eq "cli@example.com"`, nil)
	if err != nil || resp.Status != 200 {
		t.Fatalf("GET through the recorder: %v %v", resp, err)
	}
	waitFor(t, errOut, `GET /Users?filter=userName%20eq%20%22cli@example.com%22 200`)

	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("record did not stop when its context ended")
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	w := regexp.MustCompile(`Wrote (\S+)`).FindStringSubmatch(out.String())
	if w == nil || !strings.Contains(out.String(), "kacescim test --url "+upstream+` --key "$KEY" --scenarios `+dir) {
		t.Fatalf("stdout:\n%s", out)
	}
	if filepath.Dir(w[1]) != dir || !strings.HasPrefix(filepath.Base(w[1]), "cli-recorded-00001-") {
		t.Errorf("wrote %s", w[1])
	}
	data, err := os.ReadFile(w[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{key, "hunter2hunter2"} {
		for what, text := range map[string]string{"the file": string(data), "stdout": out.String(), "stderr": errOut.String()} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds %q", what, secret)
			}
		}
	}
	scenarios, err := conformance.LoadScenarios(os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	res := conformance.Run(ctx, scenarios, conformance.Options{BaseURL: upstream, Token: key})
	if p, f, s := res.Totals(); p != 3 || f != 0 || s != 0 || len(res.Leftovers) > 0 || res.Reports[0].Suite != "cli-recorded" { // 2 steps and the create's state check
		t.Errorf("replay: %d passed, %d failed, %d skipped, leftovers %q", p, f, s, res.Leftovers)
	}
}

// Nothing recorded: no file, and a word saying so.
func TestRecordCommandNothing(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir()
	ctx, stop := context.WithCancel(context.Background())
	out, errOut, done := startCLI(ctx, false, "record", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1/scim/v2", "--out", dir)
	waitFor(t, errOut, "Press Ctrl-C")
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 || out.String() != "" || !strings.Contains(errOut.String(), "Nothing recorded") {
		t.Errorf("files %v, stdout %q, stderr %q", entries, out, errOut)
	}
}

// TestRecordFlags: --upstream and --out are required, the upstream must be
// an http(s) URL, and the defaults are as documented.
func TestRecordFlags(t *testing.T) {
	isolateEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"record", "--out", "x"}, "--upstream is required"},
		{[]string{"record", "--upstream", "http://127.0.0.1:1"}, "--out is required"},
		{[]string{"record", "--upstream", "ftp://host", "--out", "x"}, "is not an http(s) URL"},
		{[]string{"record", "--upstream", "http://h", "--out", "x", "extra"}, "takes no arguments"},
		{[]string{"record", "--upstream", "http://h", "--out", "x", "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
	} {
		_, errOut, done := startCLI(context.Background(), false, tc.args...)
		if code := <-done; code != exitUsage || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, exitUsage, tc.want)
		}
	}

	g := &globalOptions{IO: TestIO(strings.NewReader(""), &syncBuffer{}, &syncBuffer{}), Now: time.Now, Version: "test"}
	var got *recordOptions
	cmd := NewCmdRecord(g, func(_ context.Context, o *recordOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--upstream", "https://scim.example.com/scim/v2", "--out", "rec"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Listen != "127.0.0.1:8090" || got.Name != "recorded" || got.Insecure {
		t.Errorf("defaults: %+v", got)
	}
}

// TestRecordTLS: with --tls-cert/--tls-key the proxy listens on HTTPS, as
// a real identity provider requires, and a client that trusts the
// certificate records through it.
func TestRecordTLS(t *testing.T) {
	isolateEnv(t)
	ctx := context.Background()
	srv, hs := servertest.Start(t, server.Config{})
	key := servertest.AddProvider(t, srv, "okta")
	certFile, keyFile, pool := selfSignedCert(t)
	dir := t.TempDir()

	rctx, stop := context.WithCancel(ctx)
	defer stop()
	_, errOut, done := startCLI(rctx, false, "record", "--listen", "127.0.0.1:0", "--upstream", hs.URL+server.SCIMPrefix,
		"--out", dir, "--tls-cert", certFile, "--tls-key", keyFile)
	waitFor(t, errOut, "Press Ctrl-C")
	m := regexp.MustCompile(`listening on (https://\S+),`).FindStringSubmatch(errOut.String())
	if m == nil {
		t.Fatalf("no https address in:\n%s", errOut)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	c := client.NewSCIM(m[1], key, client.WithTransport(tr), client.WithTimeout(10*time.Second))
	resp, err := c.Do(ctx, "GET", "/Users?startIndex=1&count=2", nil)
	if err != nil || resp.Status != 200 {
		t.Fatalf("GET over HTTPS through the recorder: %v %v", resp, err)
	}
	// Plain HTTP to the HTTPS port is not served.
	if resp, err := client.NewSCIM(strings.Replace(m[1], "https://", "http://", 1), key).Do(ctx, "GET", "/Users", nil); err == nil && resp.Status == 200 {
		t.Error("the HTTPS proxy answered plain HTTP")
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files %v", entries)
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key to files,
// and returns them with a pool that trusts the certificate.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kacescim record test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
