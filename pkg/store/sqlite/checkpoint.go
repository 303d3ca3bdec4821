package sqlite

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"
)

// Checkpoints off the write path. SQLite copies the WAL back into the
// database file at a checkpoint, which by default the connection that
// commits runs inside its COMMIT once the WAL passes 1,000 pages: the
// writes of that batch then wait for a thousand page writes and an fsync
// of the database file, a latency spike that grows with the database
// (random pages coalesce less). The writer connection has automatic
// checkpoints turned off, and a connection of its own runs PASSIVE
// checkpoints, which never block the writer or the readers, while the
// committer carries on.
//
// A WAL restarts from its beginning (instead of growing) only when a
// write transaction begins with every frame already in the database, which
// a checkpoint running beside a busy writer never leaves. So once the
// checkpointer has copied the bulk, the committer finishes the job between
// two batches: a checkpoint of its own, of the few frames written since,
// and the next batch's BEGIN restarts the WAL. The WAL stays bounded under
// a steady load; it grows only while a reader holds a snapshot open.

// checkpointEvery is how many commits may pass between two checkpoints.
// A batch writes some tens of pages, so the WAL stays in the low
// thousands of pages.
const checkpointEvery = 64

// restartFrames is how long the WAL may grow, in pages, before the
// committer finishes a checkpoint so that it restarts: as often as
// SQLite's own automatic checkpoint would run, not at every checkpoint,
// since the finishing one syncs the database file inside the write path.
const restartFrames = 1000

// checkpointIdle is how often a checkpoint runs when fewer commits came,
// so that a quiet server's WAL is folded into the database soon.
const checkpointIdle = time.Second

// checkpointer runs the checkpoints of a DB on its own connection.
type checkpointer struct {
	pool    *sql.DB
	commits atomic.Int64 // commits since the last checkpoint
	nudge   chan struct{}
	stop    chan struct{}
	exited  chan struct{}
	// caughtUp is set by a checkpoint that copied every frame the WAL had
	// when it began: the committer's turn (finish).
	caughtUp atomic.Bool
	// runs counts the checkpoints run, for tests.
	runs atomic.Int64
}

func newCheckpointer(pool *sql.DB) *checkpointer {
	c := &checkpointer{pool: pool, nudge: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	go c.run()
	return c
}

// committed tells the checkpointer of a commit; every checkpointEvery
// commits it wakes up.
func (c *checkpointer) committed() {
	if c.commits.Add(1)%checkpointEvery == 0 {
		select {
		case c.nudge <- struct{}{}:
		default:
		}
	}
}

func (c *checkpointer) run() {
	defer close(c.exited)
	tick := time.NewTicker(checkpointIdle)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			c.checkpoint()
			return
		case <-c.nudge:
		case <-tick.C:
		}
		c.checkpoint()
	}
}

// checkpoint folds the WAL into the database, as far as the readers
// allow. It fails only with the disk, which the next commit reports.
func (c *checkpointer) checkpoint() {
	if c.commits.Swap(0) == 0 {
		return
	}
	var busy, frames, done int
	err := c.pool.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done)
	c.runs.Add(1)
	if err == nil && busy == 0 && frames >= restartFrames && done == frames {
		c.caughtUp.Store(true)
	}
}

// finish is run by the committer on its connection, outside a transaction,
// after the checkpointer caught up: it copies the frames committed since,
// so that the next BEGIN restarts the WAL.
func (c *checkpointer) finish(pool *sql.DB) {
	if !c.caughtUp.Swap(false) {
		return
	}
	var busy, frames, done int
	_ = pool.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done)
}

// close runs a last checkpoint and stops.
func (c *checkpointer) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.exited
}
