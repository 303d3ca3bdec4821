package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
)

// Group commit. With synchronous=FULL every COMMIT waits for an fsync of
// the WAL, which costs far more than the statements of a SCIM write. The
// committer is the one goroutine that writes: it takes every write
// transaction queued while the last COMMIT was syncing, runs each in a
// savepoint of one transaction, and commits them together, one fsync for
// the lot. A write that fails is rolled back to its savepoint alone, and
// its neighbours commit; each caller is answered only once the COMMIT
// that holds its write (or its failure) is done. Nothing waits on purpose:
// the batch is what queued during the previous sync, so a lone write is
// committed at once and a busy writer gathers many.

// maxBatch bounds the writes of one transaction: a batch that fails to
// commit fails them all, and one request's latency should not wait on an
// unbounded number of others.
const maxBatch = 128

// writeQueue is how many writes may wait for the committer before a
// caller blocks (or gives up, with its context).
const writeQueue = 1024

var errClosed = errors.New("sqlite: the database is closed")

// writeJob is one write transaction waiting for the committer.
type writeJob struct {
	ctx  context.Context
	fn   func(h handle) error
	err  error
	pan  any // what fn panicked with, re-panicked in the caller
	done chan struct{}
}

// committer runs the write transactions of a DB's writer pool.
type committer struct {
	c  *stmtCache
	cp *checkpointer // told of every commit
	// commits counts the transactions committed, for tests of the
	// gathering.
	commits atomic.Int64
	// writes and commitNanos count the writes committed and the time
	// their transactions took (WriteStats).
	writes      atomic.Int64
	commitNanos atomic.Int64
	jobs        chan *writeJob
	stop        chan struct{}
	exited      chan struct{}
	// unwritable holds the error of the last batch that failed for want
	// of the disk (EUNAVAILABLE), nil once a batch commits again: what
	// readiness reports (DB.Ping).
	unwritable atomic.Pointer[error]
}

func newCommitter(c *stmtCache, cp *checkpointer) *committer {
	cm := &committer{c: c, cp: cp, jobs: make(chan *writeJob, writeQueue), stop: make(chan struct{}), exited: make(chan struct{})}
	go cm.run()
	return cm
}

// do runs fn in a write transaction, gathered with others, and returns
// once it is committed or failed. Once queued, it waits for the outcome
// even when ctx ends: returning earlier would say "not written" of a
// write that may be committing.
func (cm *committer) do(ctx context.Context, fn func(h handle) error) error {
	j := &writeJob{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case cm.jobs <- j:
	case <-ctx.Done():
		return dbError(ctx.Err(), subject{})
	case <-cm.stop:
		return errClosed
	}
	select {
	case <-j.done:
	case <-cm.exited:
		select {
		case <-j.done:
		default:
			return errClosed // queued as the committer stopped
		}
	}
	if j.pan != nil {
		panic(j.pan)
	}
	return j.err
}

// close stops the committer once the writes queued are done.
func (cm *committer) close() {
	select {
	case <-cm.stop:
	default:
		close(cm.stop)
	}
	<-cm.exited
}

func (cm *committer) run() {
	defer close(cm.exited)
	for {
		var first *writeJob
		select {
		case first = <-cm.jobs:
		case <-cm.stop:
			// Writes queued before the stop are still run.
			for {
				select {
				case j := <-cm.jobs:
					cm.commit([]*writeJob{j})
				default:
					return
				}
			}
		}
		batch := []*writeJob{first}
	gather:
		for len(batch) < maxBatch {
			select {
			case j := <-cm.jobs:
				batch = append(batch, j)
			default:
				break gather
			}
		}
		cm.commit(batch)
		cm.noteHealth(batch)
		if cm.cp != nil {
			cm.cp.finish(cm.c.pool)
		}
	}
}

// commit runs batch in one transaction and answers every job.
func (cm *committer) commit(batch []*writeJob) {
	defer func() {
		for _, j := range batch {
			close(j.done)
		}
	}()
	// Jobs whose callers gave up before their turn are not run.
	live := batch[:0:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.err = dbError(err, subject{})
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	// The statements run under a context of their own: a request that
	// ends mid-batch must not interrupt the shared transaction (an
	// interrupted write statement rolls the whole transaction back).
	ctx := context.Background()
	var missed []string
	defer func() {
		for _, q := range missed {
			cm.c.add(ctx, q)
		}
	}()
	began := time.Now()
	tx, err := cm.c.pool.BeginTx(ctx, nil)
	if err != nil {
		for _, j := range live {
			j.err = dbError(err, subject{})
		}
		return
	}
	defer tx.Rollback()
	h := handle{c: cm.c, tx: tx, missed: &missed, ctx: ctx}
	var ok []*writeJob
	for _, j := range live {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			j.err = dbError(err, subject{})
			continue
		}
		j.err, j.pan = runJob(j, h)
		if j.err == nil && j.pan == nil {
			if _, err := tx.ExecContext(ctx, "RELEASE w"); err == nil {
				ok = append(ok, j)
				continue
			} else {
				j.err = dbError(err, subject{})
			}
		}
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
			// SQLite rolled the whole transaction back (a full disk, an
			// I/O error): what the earlier jobs wrote is gone too.
			cause := fmt.Errorf("sqlite: the transaction was rolled back: %w", err)
			for _, o := range ok {
				o.err = dbError(cause, subject{})
			}
			for _, rest := range live {
				if rest.err == nil && rest.pan == nil && !slices.Contains(ok, rest) {
					rest.err = dbError(cause, subject{})
				}
			}
			return
		}
		_, _ = tx.ExecContext(ctx, "RELEASE w")
	}
	if len(ok) == 0 {
		return
	}
	if err := tx.Commit(); err != nil {
		for _, j := range ok {
			j.err = dbError(err, subject{})
		}
		return
	}
	cm.commits.Add(1)
	cm.writes.Add(int64(len(ok)))
	cm.commitNanos.Add(int64(time.Since(began)))
	if cm.cp != nil {
		cm.cp.committed()
	}
}

// WriteStats counts the group commits, the writes they held, their time
// and the writes queued for the next ones.
func (db *DB) WriteStats() directory.WriteStats {
	return directory.WriteStats{
		Commits:    db.cm.commits.Load(),
		Writes:     db.cm.writes.Load(),
		CommitTime: time.Duration(db.cm.commitNanos.Load()),
		Queued:     len(db.cm.jobs),
	}
}

// noteHealth records whether batch could be written: a job that failed
// with EUNAVAILABLE (the disk) makes the database unwritable, a job that
// succeeded makes it writable again.
func (cm *committer) noteHealth(batch []*writeJob) {
	for _, j := range batch {
		switch {
		case j.err == nil && j.pan == nil:
			cm.unwritable.Store(nil)
			return
		case directory.ErrorCode(j.err) == directory.EUNAVAILABLE:
			err := j.err
			cm.unwritable.Store(&err)
		}
	}
}

// runJob runs j's fn, turning a panic into a value for its caller.
func runJob(j *writeJob, h handle) (err error, pan any) {
	defer func() {
		if p := recover(); p != nil {
			pan = p
		}
	}()
	return j.fn(h), nil
}
