package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kacescim/kacescim/pkg/store/storetest"
)

// TestMain lets the test binary run as the kacescim command inside the
// scripts.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kacescim": func() { os.Exit(run()) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script at the
// repository root: real `kacescim serve` processes on random ports, driven
// by the commands a user types.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitserver": cmdWaitServer,
			"jsonenv":    cmdJSONEnv,
			"perm":       cmdPerm,
			"pgschema":   cmdPGSchema,
			"sleep":      cmdSleep,
		},
		// [postgres]: a PostgreSQL server is there to test against
		// (scripts/with-postgres.sh sets KACESCIM_TEST_POSTGRES).
		Condition: func(cond string) (bool, error) {
			if cond == "postgres" {
				return os.Getenv(storetest.PostgresEnv) != "", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// cmdSleep implements `sleep DURATION`: waiting out a key's grace period
// or lifetime.
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d > time.Minute {
		ts.Fatalf("sleep %s: give a duration of at most a minute", args[0])
	}
	time.Sleep(d)
}

// cmdPGSchema implements `pgschema VAR`: create a fresh schema on the
// PostgreSQL server KACESCIM_TEST_POSTGRES names, set $VAR to a postgres://
// URL whose search_path is it, and drop it when the script ends.
func cmdPGSchema(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pgschema VAR")
	}
	base := os.Getenv(storetest.PostgresEnv)
	if base == "" {
		ts.Fatalf("%s is not set: guard the script with [!postgres] skip", storetest.PostgresEnv)
	}
	name := fmt.Sprintf("kacescim_script_%d_%d", os.Getpid(), time.Now().UnixNano())
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + name); err != nil {
		ts.Fatalf("create schema: %v", err)
	}
	ts.Defer(func() {
		if err := exec("DROP SCHEMA " + name + " CASCADE"); err != nil {
			ts.Logf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		ts.Fatalf("%s: %v", storetest.PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	ts.Setenv(args[0], u.String())
}

// cmdWaitServer implements `waitserver DIR`: wait until the server started
// on data directory DIR has written its URL and answers /healthz, then set
// $SERVER to the URL. A server-url file left by a killed server is
// skipped because nothing answers there.
func cmdWaitServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitserver DIR")
	}
	path := filepath.Join(ts.MkAbs(args[0]), serverURLFile)
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if err != nil {
			last = err.Error()
			time.Sleep(50 * time.Millisecond)
			continue
		}
		url := strings.TrimSpace(string(b))
		resp, err := hc.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ts.Setenv("SERVER", url)
				return
			}
			last = fmt.Sprintf("GET %s/healthz: %s", url, resp.Status)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("no server came up in %s: %s", args[0], last)
}

// cmdJSONEnv implements `jsonenv VAR PATH`: set $VAR to the value at PATH
// (dot-separated keys and array indexes, e.g. provider.name) in the JSON of
// the last command's stdout.
func cmdJSONEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: jsonenv VAR PATH")
	}
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile("stdout")), &v); err != nil {
		ts.Fatalf("stdout is not JSON: %v", err)
	}
	for _, part := range strings.Split(args[1], ".") {
		switch node := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = node[part]; !ok {
				ts.Fatalf("%s: no field %q", args[1], part)
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(node) {
				ts.Fatalf("%s: no element %q in an array of %d", args[1], part, len(node))
			}
			v = node[i]
		default:
			ts.Fatalf("%s: %q is not inside an object or array", args[1], part)
		}
	}
	switch val := v.(type) {
	case string:
		ts.Setenv(args[0], val)
	case float64, bool:
		ts.Setenv(args[0], fmt.Sprint(val))
	default:
		ts.Fatalf("%s is not a string, number or boolean", args[1])
	}
}

// cmdPerm implements `perm MODE FILE`: the file's permission bits are MODE
// (octal, e.g. 0600).
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm MODE FILE")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		ts.Fatalf("bad mode %q", args[0])
	}
	info, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	got := info.Mode().Perm()
	if (got == os.FileMode(want)) == neg {
		ts.Fatalf("%s has mode %#o, want %s%#o", args[1], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}
