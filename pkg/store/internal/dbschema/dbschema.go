// Package dbschema reads a store's schema migrations: SQL files embedded
// in the binary, one per version, named NNNN_description.sql. How a
// migration is applied (transactions, locks, the schema_migrations table)
// is each backend's own; which files there are, in which order, and
// whether the database is newer than the program are the same for all.
package dbschema

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema change.
type Migration struct {
	Version int
	Name    string // the file's name
	SQL     string
}

// Load returns the migrations in the directory dir of fsys (its *.sql
// files) in version order. A file whose name does not start with a
// positive version number, or two with the same version, are an error.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version number", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version", other, name)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// CheckNewest is an error when newest, the highest version a database
// has applied, is beyond the last of ms: a newer program wrote it.
func CheckNewest(newest int, ms []Migration) error {
	if len(ms) > 0 && newest > ms[len(ms)-1].Version {
		return fmt.Errorf("the database has schema version %d, newer than this program knows (%d): upgrade kacescim", newest, ms[len(ms)-1].Version)
	}
	return nil
}
