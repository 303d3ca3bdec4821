// Package durability names what an acknowledged write survives, for the
// backends to set their commits by (package store re-exports it).
package durability

import (
	"fmt"
	"strings"
)

// Level says what an acknowledged write survives.
type Level string

const (
	// Full: a power loss or a kernel crash. Every commit is synced to
	// stable storage before the write is answered (SQLite
	// synchronous=FULL; PostgreSQL synchronous_commit=on). The default.
	Full Level = "full"
	// Process: the death of the process (kill -9, a crash) but not a
	// power loss or a kernel crash, which may lose the last writes
	// acknowledged (SQLite synchronous=NORMAL in WAL mode; PostgreSQL
	// synchronous_commit=off: the database server's own crash too).
	Process Level = "process"
)

// Parse reads a level as --durability gives it; "" is Full.
func Parse(s string) (Level, error) {
	switch l := Level(strings.ToLower(strings.TrimSpace(s))); l {
	case "":
		return Full, nil
	case Full, Process:
		return l, nil
	}
	return "", fmt.Errorf("durability %q: use full (survives a power loss) or process (survives the process's death, faster)", s)
}
