package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// Giving the space of pruned log entries back. SQLite keeps the pages a
// DELETE frees in the file, on its freelist, for later writes to reuse:
// without more, a provisioning log pruned from 1 GB to 100 MB leaves a
// 1 GB file. The database therefore runs with auto_vacuum=INCREMENTAL
// (set on the writer connection before a new file's first table), which
// lets PruneLog move the free pages to the end of the file and cut them
// off (PRAGMA incremental_vacuum) a slice at a time, between the other
// writes, instead of rewriting the whole file the way VACUUM does. In WAL
// mode the file shrinks at the next checkpoint.

// vacuumSlice is how many free pages (4 KiB each) one write of PruneLog
// gives back: the writes queued behind it wait a few milliseconds at
// most.
const vacuumSlice = 2048

// autoVacuumIncremental is PRAGMA auto_vacuum's answer for INCREMENTAL.
const autoVacuumIncremental = 2

// convertToIncrementalVacuum turns auto_vacuum=INCREMENTAL on for a
// database made before kacescim set it, once: SQLite changes the mode of
// a file that has tables only by rebuilding it (VACUUM), which takes the
// time of copying the file and needs as much free disk again. A file that
// cannot be rebuilt (a full disk) keeps its mode, and the next Open tries
// again: the database works the same, only pruning does not shrink it.
func convertToIncrementalVacuum(ctx context.Context, w *sql.DB) error {
	mode, err := autoVacuum(ctx, w)
	if err != nil || mode == autoVacuumIncremental {
		return err
	}
	if _, err := w.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
		return fmt.Errorf("set auto_vacuum: %w", err)
	}
	if _, err := w.ExecContext(ctx, `VACUUM`); err != nil {
		return nil // tried again at the next Open
	}
	return nil
}

func autoVacuum(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var mode int
	if err := q.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return 0, fmt.Errorf("read auto_vacuum: %w", err)
	}
	return mode, nil
}

// reclaim gives the database's free pages back to the file system, a
// vacuumSlice at a time, and returns how many it gave back. A database
// whose conversion has not happened yet gives none.
func (db *DB) reclaim(ctx context.Context) (int, error) {
	mode, err := autoVacuum(ctx, db.r)
	if err != nil || mode != autoVacuumIncremental {
		return 0, err
	}
	total := 0
	for {
		var freed int
		err := db.write(ctx, func(h handle) error {
			freed = 0
			// One row per page freed: the statement runs as long as it
			// is stepped, so every row is read.
			rows, err := h.QueryContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, vacuumSlice))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				freed++
			}
			return rows.Err()
		})
		total += freed
		if err != nil {
			return total, dbError(err, subject{})
		}
		if freed < vacuumSlice {
			return total, nil
		}
	}
}
