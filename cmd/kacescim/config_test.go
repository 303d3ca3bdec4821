package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/server"
)

// execServe runs `kacescim ARGS` with serve's run function replaced by one
// that records the resolved options.
func execServe(t *testing.T, args ...string) (*serveOptions, *globalOptions, error) {
	t.Helper()
	var out, errb bytes.Buffer
	g := &globalOptions{IO: TestIO(strings.NewReader(""), &out, &errb), Now: time.Now, Version: "test"}
	root := NewCmdRoot(g)
	for _, c := range root.Commands() {
		if c.Name() == "serve" {
			root.RemoveCommand(c)
		}
	}
	var got *serveOptions
	root.AddCommand(NewCmdServe(g, func(_ context.Context, o *serveOptions) error { got = o; return nil }))
	root.SetArgs(args)
	err := root.Execute()
	return got, g, err
}

// writeConfig writes the default config file, $XDG_CONFIG_HOME/kacescim/config.yaml.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "kacescim", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const configYAML = `
listen: 127.0.0.1:1111
max-body-bytes: 1111
log-level: warn
data-dir: /from/config
server: http://config.example:1111
token: config-token
output: json
`

func TestPrecedenceDefault(t *testing.T) {
	isolateEnv(t)
	o, g, err := execServe(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != "127.0.0.1:8080" || o.MaxBodyBytes != server.DefaultMaxBodyBytes || o.LogLevel != "info" || o.LogFormat != "text" || g.Output != "text" {
		t.Fatalf("defaults = %+v, output %q", o, g.Output)
	}
	dir, err := g.dataDir()
	if want := filepath.Join(os.Getenv("XDG_DATA_HOME"), "kacescim"); err != nil || dir != want {
		t.Fatalf("data dir = %q, %v; want %q", dir, err, want)
	}
	if u := g.serverURL(); u != "http://127.0.0.1:8080" {
		t.Fatalf("server URL = %q", u)
	}
}

// Without XDG_DATA_HOME the data directory is ~/.local/share/kacescim.
func TestDataDirHome(t *testing.T) {
	isolateEnv(t)
	home := t.TempDir()
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", home)
	_, g, err := execServe(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if dir, _ := g.dataDir(); dir != filepath.Join(home, ".local", "share", "kacescim") {
		t.Fatalf("data dir = %q", dir)
	}
}

func TestPrecedenceConfigFile(t *testing.T) {
	isolateEnv(t)
	writeConfig(t, configYAML)
	o, g, err := execServe(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != "127.0.0.1:1111" || o.MaxBodyBytes != 1111 || o.LogLevel != "warn" || g.DataDir != "/from/config" ||
		g.Server != "http://config.example:1111" || g.Token != "config-token" || g.Output != "json" {
		t.Fatalf("from config: %+v %+v", o, g)
	}
}

func TestPrecedenceEnvOverConfig(t *testing.T) {
	isolateEnv(t)
	writeConfig(t, configYAML)
	t.Setenv("KACESCIM_LISTEN", "127.0.0.1:2222")
	t.Setenv("KACESCIM_MAX_BODY_BYTES", "2222")
	t.Setenv("KACESCIM_DATA_DIR", "/from/env")
	t.Setenv("KACESCIM_SERVER", "http://env.example:2222")
	o, g, err := execServe(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != "127.0.0.1:2222" || o.MaxBodyBytes != 2222 || g.DataDir != "/from/env" || g.Server != "http://env.example:2222" {
		t.Fatalf("env does not win over config: %+v %+v", o, g)
	}
	// What the environment does not set still comes from the config file.
	if o.LogLevel != "warn" || g.Token != "config-token" {
		t.Fatalf("config lost under env: %+v %+v", o, g)
	}
}

func TestPrecedenceFlagOverEnv(t *testing.T) {
	isolateEnv(t)
	writeConfig(t, configYAML)
	t.Setenv("KACESCIM_LISTEN", "127.0.0.1:2222")
	t.Setenv("KACESCIM_DATA_DIR", "/from/env")
	t.Setenv("KACESCIM_LOG_LEVEL", "error")
	o, g, err := execServe(t, "serve", "--listen", "127.0.0.1:3333", "--data-dir", "/from/flag", "--max-body-bytes", "3333", "--output", "text")
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != "127.0.0.1:3333" || g.DataDir != "/from/flag" || o.MaxBodyBytes != 3333 || g.Output != "text" {
		t.Fatalf("flags do not win: %+v %+v", o, g)
	}
	if o.LogLevel != "error" {
		t.Fatalf("env lost under flags: %+v", o)
	}
}

func TestConfigFileChoice(t *testing.T) {
	isolateEnv(t)
	writeConfig(t, "listen: 127.0.0.1:1111\n")
	other := filepath.Join(t.TempDir(), "other.yaml")
	os.WriteFile(other, []byte("listen: 127.0.0.1:4444\n"), 0o600)

	if o, _, err := execServe(t, "serve", "--config", other); err != nil || o.Listen != "127.0.0.1:4444" {
		t.Fatalf("--config: %+v, %v", o, err)
	}
	t.Setenv("KACESCIM_CONFIG", other)
	if o, _, err := execServe(t, "serve"); err != nil || o.Listen != "127.0.0.1:4444" {
		t.Fatalf("KACESCIM_CONFIG: %+v, %v", o, err)
	}
	t.Setenv("KACESCIM_CONFIG", "")

	// A config file named explicitly must exist; the default one need not.
	_, _, err := execServe(t, "serve", "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yaml does not exist") {
		t.Fatalf("missing --config: %v", err)
	}
	os.Remove(filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "kacescim", "config.yaml"))
	if _, _, err := execServe(t, "serve"); err != nil {
		t.Fatalf("no default config file: %v", err)
	}

	broken := filepath.Join(t.TempDir(), "broken.yaml")
	os.WriteFile(broken, []byte("listen: [unclosed\n"), 0o600)
	if _, _, err := execServe(t, "serve", "--config", broken); err == nil || !strings.Contains(err.Error(), "read config file") {
		t.Fatalf("broken config: %v", err)
	}
}

func TestInvalidEnvValue(t *testing.T) {
	isolateEnv(t)
	t.Setenv("KACESCIM_MAX_BODY_BYTES", "lots")
	_, _, err := execServe(t, "serve")
	if _, ok := err.(*usageError); !ok || !strings.Contains(err.Error(), "KACESCIM_MAX_BODY_BYTES") {
		t.Fatalf("error = %v", err)
	}
}

// Flags about one invocation are not read from the environment: an
// exported KACESCIM_YES must not confirm a removal.
func TestOneShotFlagsIgnoreEnv(t *testing.T) {
	isolateEnv(t)
	t.Setenv("KACESCIM_YES", "true")
	t.Setenv("KACESCIM_ENABLED", "true")
	r := runCLI(t, false, "provider", "remove", "Okta", "--server", "http://127.0.0.1:1", "--token", "t")
	if r.code != exitError || !strings.Contains(r.stderr, "add --yes to confirm") {
		t.Fatalf("KACESCIM_YES confirmed a removal: %+v", r)
	}
}

// The admin commands find the server: --server > env > config > the URL
// file serve wrote > the default.
func TestServerURLResolution(t *testing.T) {
	isolateEnv(t)
	dataDir := t.TempDir()
	t.Setenv("KACESCIM_DATA_DIR", dataDir)
	resolve := func(args ...string) string {
		t.Helper()
		_, g, err := execServe(t, append([]string{"serve"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return g.serverURL()
	}
	if u := resolve(); u != defaultServerURL {
		t.Fatalf("default = %q", u)
	}
	os.WriteFile(filepath.Join(dataDir, serverURLFile), []byte("http://127.0.0.1:43121\n"), 0o600)
	if u := resolve(); u != "http://127.0.0.1:43121" {
		t.Fatalf("from server-url = %q", u)
	}
	writeConfig(t, "server: http://config.example\n")
	if u := resolve(); u != "http://config.example" {
		t.Fatalf("from config = %q", u)
	}
	t.Setenv("KACESCIM_SERVER", "http://env.example/")
	if u := resolve(); u != "http://env.example" {
		t.Fatalf("from env = %q", u)
	}
	if u := resolve("--server", "http://flag.example"); u != "http://flag.example" {
		t.Fatalf("from flag = %q", u)
	}
}

// The admin token: --token > env > config > the data directory's file.
func TestAdminTokenResolution(t *testing.T) {
	isolateEnv(t)
	dataDir := t.TempDir()
	t.Setenv("KACESCIM_DATA_DIR", dataDir)
	token := func(args ...string) (string, error) {
		t.Helper()
		_, g, err := execServe(t, append([]string{"serve"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return g.adminToken()
	}
	if _, err := token(); err == nil || !strings.Contains(err.Error(), "admin-token does not exist; run `kacescim serve`") {
		t.Fatalf("no token: %v", err)
	}
	os.WriteFile(filepath.Join(dataDir, "admin-token"), []byte("file-token\n"), 0o600)
	if tok, err := token(); err != nil || tok != "file-token" {
		t.Fatalf("from file = %q, %v", tok, err)
	}
	writeConfig(t, "token: config-token\n")
	if tok, _ := token(); tok != "config-token" {
		t.Fatalf("from config = %q", tok)
	}
	t.Setenv("KACESCIM_TOKEN", "env-token")
	if tok, _ := token(); tok != "env-token" {
		t.Fatalf("from env = %q", tok)
	}
	if tok, _ := token("--token", "flag-token"); tok != "flag-token" {
		t.Fatalf("from flag = %q", tok)
	}
}

func TestListenURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:43121": "http://127.0.0.1:43121",
		"0.0.0.0:8080":    "http://127.0.0.1:8080",
		"[::]:8080":       "http://[::1]:8080",
		"[::1]:8080":      "http://[::1]:8080",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := listenURL(a, false); got != want {
			t.Errorf("listenURL(%s) = %q, want %q", addr, got, want)
		}
	}
	a, _ := net.ResolveTCPAddr("tcp", "127.0.0.1:8443")
	if got := listenURL(a, true); got != "https://127.0.0.1:8443" {
		t.Errorf("TLS: %q", got)
	}
}

func TestServeFlagValidation(t *testing.T) {
	isolateEnv(t)
	for _, tc := range []struct{ args, want string }{
		{"--log-level loud", `unknown log level "loud"`},
		{"--log-format xml", `unknown log format "xml"`},
		{"--max-body-bytes 0", "--max-body-bytes must be positive"},
		{"--log-retention 0s", "--log-retention must be positive, got 0s"},
		{"--log-max-entries -1", "--log-max-entries must be positive, got -1"},
		{"--log-max-bytes 0", "--log-max-bytes must be positive, got 0"},
		{"--log-max-bytes lots", `"lots" is not a size such as 4194304, 4MiB or 1GB`},
		{"--max-body-bytes 4XB", `"4XB" is not a size`},
		{"--log-retention 30x", `"30x" is not a duration such as 24h, 90m or 30d`},
		{"--durability fast", `--durability "fast": use full (survives a power loss) or process`},
		{"--pprof-listen 0.0.0.0:6060", `--pprof-listen "0.0.0.0:6060": give a loopback address`},
		{"--auth-failure-rate 0", "--auth-failure-rate must be a number of answers a second above 0 (or -1 for no pace), got 0"},
		{"--auth-failure-rate -5", "got -5"},
		{"--auth-failure-rate NaN", "got NaN"},
	} {
		r := runCLI(t, false, append([]string{"serve", "--data-dir", t.TempDir()}, strings.Fields(tc.args)...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("serve %s: %+v", tc.args, r)
		}
	}
}

func TestServerURLFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), serverURLFile)
	if err := writeServerURL(path, "http://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, %v", info.Mode(), err)
	}
	// Another server took the file over: it is left alone.
	writeServerURL(path, "http://127.0.0.1:2")
	removeServerURL(path, "http://127.0.0.1:1")
	if b, _ := os.ReadFile(path); string(b) != "http://127.0.0.1:2\n" {
		t.Fatalf("file = %q", b)
	}
	removeServerURL(path, "http://127.0.0.1:2")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("not removed: %v", err)
	}
}

// The provisioning log's bounds reach server.Config through every layer:
// flag > env > config file > default.
func TestServeLogFlags(t *testing.T) {
	isolateEnv(t)
	config := func(args ...string) server.Config {
		t.Helper()
		o, _, err := execServe(t, append([]string{"serve"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return o.config("/data", nil)
	}
	if c := config(); c.LogRetention != 720*time.Hour || c.LogMaxEntries != 1_000_000 || c.LogMaxBytes != 512<<20 || c.DataDir != "/data" {
		t.Fatalf("defaults: %+v", c)
	}
	writeConfig(t, "log-retention: 168h\nlog-max-entries: 5000\nlog-max-bytes: 64MiB\n")
	if c := config(); c.LogRetention != 168*time.Hour || c.LogMaxEntries != 5000 || c.LogMaxBytes != 64<<20 {
		t.Fatalf("from config: %+v", c)
	}
	t.Setenv("KACESCIM_LOG_RETENTION", "24h")
	t.Setenv("KACESCIM_LOG_MAX_ENTRIES", "200")
	t.Setenv("KACESCIM_LOG_MAX_BYTES", "1GB")
	if c := config(); c.LogRetention != 24*time.Hour || c.LogMaxEntries != 200 || c.LogMaxBytes != 1_000_000_000 {
		t.Fatalf("from env: %+v", c)
	}
	if c := config("--log-retention", "90m", "--log-max-entries", "10", "--log-max-bytes", "1000"); c.LogRetention != 90*time.Minute || c.LogMaxEntries != 10 || c.LogMaxBytes != 1000 {
		t.Fatalf("from flags: %+v", c)
	}
	t.Setenv("KACESCIM_LOG_RETENTION", "a week")
	if _, _, err := execServe(t, "serve"); err == nil || !strings.Contains(err.Error(), "KACESCIM_LOG_RETENTION") {
		t.Fatalf("bad env: %v", err)
	}
}

func TestDurationFlagDays(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90d": 90 * 24 * time.Hour, "1d12h": 36 * time.Hour, "0d": 0, " 7d ": 7 * 24 * time.Hour, "24h": 24 * time.Hour, "90m": 90 * time.Minute,
	} {
		var d durationFlag
		if err := d.Set(in); err != nil || time.Duration(d) != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, time.Duration(d), err, want)
		}
	}
	for _, in := range []string{"d", "9x9d", "1d-2h", "1dd", "99999999999d", "days", "-1d"} {
		var d durationFlag
		if err := d.Set(in); err == nil || !strings.Contains(err.Error(), "30d") {
			t.Errorf("Set(%q) = %v, %v; want an error naming the forms", in, time.Duration(d), err)
		}
	}
}

func TestDurationFlag(t *testing.T) {
	for d, want := range map[time.Duration]string{
		720 * time.Hour:           "720h",
		90 * time.Minute:          "1h30m",
		30 * time.Minute:          "30m",
		90 * time.Second:          "1m30s",
		time.Hour + 5*time.Second: "1h0m5s",
		0:                         "0s",
		1500 * time.Millisecond:   "1.5s",
	} {
		if got := (*durationFlag)(&d).String(); got != want {
			t.Errorf("%v reads %q, want %q", d, got, want)
		}
	}
}

// --trusted-proxy reaches server.Config through every layer, repeated,
// separated by commas or spaces, or a YAML list, a bare IP as a /32 or /128; a value
// that is not an address or CIDR is refused, naming what is expected.
func TestServeTrustedProxies(t *testing.T) {
	isolateEnv(t)
	proxies := func(args ...string) string {
		t.Helper()
		o, _, err := execServe(t, append([]string{"serve"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, p := range o.config("/data", nil).TrustedProxies {
			s = append(s, p.String())
		}
		return strings.Join(s, " ")
	}
	if p := proxies(); p != "" {
		t.Fatalf("default: %q, want none", p)
	}
	writeConfig(t, "trusted-proxy: [10.0.0.0/8, 192.0.2.7]\n")
	if p := proxies(); p != "10.0.0.0/8 192.0.2.7/32" {
		t.Fatalf("from config: %q", p)
	}
	t.Setenv("KACESCIM_TRUSTED_PROXY", "172.16.0.0/12 2001:db8::1")
	if p := proxies(); p != "172.16.0.0/12 2001:db8::1/128" {
		t.Fatalf("from env: %q", p)
	}
	if p := proxies("--trusted-proxy", "10.1.2.3/16,fd00::/8", "--trusted-proxy", "127.0.0.1"); p != "10.1.0.0/16 fd00::/8 127.0.0.1/32" {
		t.Fatalf("from flags: %q", p)
	}

	for _, tc := range []struct{ args, want string }{
		{"--trusted-proxy 10.0.0.0/33", `invalid argument "10.0.0.0/33" for "--trusted-proxy" flag: not an IP address or CIDR such as 10.0.0.0/8`},
		{"--trusted-proxy lb.example.com", `"lb.example.com" for "--trusted-proxy" flag: not an IP address or CIDR`},
		{"--trusted-proxy 10.0.0.0/8,10.0.0", `"10.0.0" is not an IP address or CIDR such as 10.0.0.0/8`},
	} {
		r := runCLI(t, false, append([]string{"serve", "--data-dir", t.TempDir()}, strings.Fields(tc.args)...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("serve %s: %+v", tc.args, r)
		}
	}
	t.Setenv("KACESCIM_TRUSTED_PROXY", "10.0.0.0/8,any")
	if _, _, err := execServe(t, "serve"); err == nil || !strings.Contains(err.Error(), "KACESCIM_TRUSTED_PROXY") ||
		!strings.Contains(err.Error(), "not an IP address or CIDR") {
		t.Fatalf("bad env: %v", err)
	}
}
