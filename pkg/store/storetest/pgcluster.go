package storetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// PGCluster is a PostgreSQL server of a test's own, which the test may
// stop, start and freeze as an outage would, without disturbing the
// server KACESCIM_TEST_POSTGRES names (which other packages' tests share).
// It listens on a fixed loopback port for its whole life, so that a
// client keeps one URL across restarts.
type PGCluster struct {
	tb     testing.TB
	bin    string   // the directory of initdb, pg_ctl and postgres
	dir    string   // its data directory
	port   int      // its loopback port
	runAs  []string // runuser -u postgres -- when the test runs as root
	owner  string   // the database user: the one the server runs as
	frozen []int    // the processes Freeze stopped
}

// NewPGCluster initialises and starts a private PostgreSQL server, stopped
// and deleted when tb ends. It runs only where the PostgreSQL tests run
// (KACESCIM_TEST_POSTGRES set, as scripts/with-postgres.sh does, which
// also installs the server's binaries); it skips with a message where the
// binaries are missing.
func NewPGCluster(tb testing.TB) *PGCluster {
	tb.Helper()
	if os.Getenv(PostgresEnv) == "" {
		tb.Skip(PostgresEnv + " is not set: run the PostgreSQL tests with a private server, " +
			"scripts/with-postgres.sh go test -race ./...")
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		tb.Skip("PostgreSQL's binaries are not in /usr/lib/postgresql/*/bin: " +
			"this test starts and stops a server of its own (apt-get install postgresql)")
	}
	slices.SortFunc(bins, func(a, b string) int { return pgMajor(a) - pgMajor(b) })
	c := &PGCluster{tb: tb, bin: filepath.Dir(bins[len(bins)-1])}

	u, err := osuser.Current()
	if err != nil {
		tb.Fatal(err)
	}
	c.owner = u.Username
	base := tb.TempDir()
	if os.Getuid() == 0 {
		// The server refuses to run as root: run it as the postgres user
		// Debian's package creates, in a directory it owns.
		c.owner, c.runAs = "postgres", []string{"runuser", "-u", "postgres", "--"}
		pw, err := osuser.Lookup("postgres")
		if err != nil {
			tb.Skipf("running as root and there is no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(pw.Uid)
		gid, _ := strconv.Atoi(pw.Gid)
		// The test's temporary directories are 0700 root's: make the
		// path to this one passable.
		for d := base; strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
			os.Chmod(d, 0o755)
		}
		c.dir = filepath.Join(base, "data")
		if err := os.Mkdir(c.dir, 0o700); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chown(c.dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chown(base, uid, gid); err != nil {
			tb.Fatal(err)
		}
	} else {
		c.dir = filepath.Join(base, "data")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	if out, err := c.run("initdb", "-D", c.dir, "-U", c.owner, "-A", "trust", "-E", "UTF8", "--locale=C"); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	tb.Cleanup(func() {
		c.Thaw()
		c.run("pg_ctl", "-D", c.dir, "-m", "immediate", "stop")
	})
	c.Start()
	return c
}

// pgMajor is the major version in a /usr/lib/postgresql/N/bin path.
func pgMajor(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

func (c *PGCluster) run(tool string, args ...string) ([]byte, error) {
	argv := append(slices.Clone(c.runAs), filepath.Join(c.bin, tool))
	argv = append(argv, args...)
	return exec.Command(argv[0], argv[1:]...).CombinedOutput()
}

// DSN is the URL of the cluster's postgres database.
func (c *PGCluster) DSN() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", c.owner, c.port)
}

// Start starts the server (again) and waits until it takes connections.
func (c *PGCluster) Start() {
	c.tb.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", c.port, filepath.Dir(c.dir))
	if out, err := c.run("pg_ctl", "-D", c.dir, "-l", filepath.Join(filepath.Dir(c.dir), "server.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(c.dir), "server.log"))
		c.tb.Fatalf("start PostgreSQL: %v\n%s\n%s", err, out, log)
	}
}

// Stop shuts the server down as an operator's restart does (fast mode:
// sessions are disconnected, open transactions rolled back).
func (c *PGCluster) Stop() {
	c.tb.Helper()
	if out, err := c.run("pg_ctl", "-D", c.dir, "-m", "fast", "-w", "stop"); err != nil {
		c.tb.Fatalf("stop PostgreSQL: %v\n%s", err, out)
	}
}

// Freeze stops (SIGSTOP) the server and every one of its processes, as a
// hung host or a network partition that drops nothing but answers
// nothing would: connections stay open and silent.
func (c *PGCluster) Freeze() {
	c.tb.Helper()
	pids := c.processes()
	if len(pids) == 0 {
		c.tb.Fatal("freeze PostgreSQL: no processes found")
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err == nil {
			c.frozen = append(c.frozen, pid)
		}
	}
}

// Thaw resumes (SIGCONT) what Freeze stopped.
func (c *PGCluster) Thaw() {
	for _, pid := range c.frozen {
		syscall.Kill(pid, syscall.SIGCONT)
	}
	c.frozen = nil
}

// processes are the postmaster (the first line of postmaster.pid) and its
// children, found through /proc.
func (c *PGCluster) processes() []int {
	b, err := os.ReadFile(filepath.Join(c.dir, "postmaster.pid"))
	if err != nil {
		return nil
	}
	main, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return nil
	}
	pids := []int{main}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so read after
		// its closing parenthesis.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		f := strings.Fields(rest)
		if len(f) >= 2 {
			if ppid, _ := strconv.Atoi(f[1]); ppid == main {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
