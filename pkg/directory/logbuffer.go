package directory

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The provisioning log off the request's critical path. A SCIM request's
// log entry is queued and written with the others queued beside it, one
// store write per batch, by one goroutine; the request is answered
// without waiting for it. What a crash can lose: the entries still
// queued (at most logQueue, normally the few of the last milliseconds),
// never a SCIM write, which is committed before its answer. Reads of the
// log (Service.Log) write what is queued first, so that an admin sees
// every request answered before the read.

// logQueue bounds the entries waiting to be written. Past it, a request
// writes its own entry: the log slows requests down rather than drops
// entries or grows without bound.
const logQueue = 4096

// logBatch bounds the entries of one write.
const logBatch = 512

// logBuffer queues log entries for a Service.
type logBuffer struct {
	store   LogStore
	entries chan *LogEntry
	flushes chan chan struct{}
	stop    chan struct{}
	exited  chan struct{}
	once    sync.Once
	// onError is told about a batch that could not be written.
	onError atomic.Pointer[func(error)]
}

func newLogBuffer(store LogStore) *logBuffer {
	b := &logBuffer{
		store:   store,
		entries: make(chan *LogEntry, logQueue),
		flushes: make(chan chan struct{}),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	go b.run()
	return b
}

// add queues e, or writes it at once when the queue is full or closed.
func (b *logBuffer) add(ctx context.Context, e *LogEntry) error {
	select {
	case <-b.stop:
	default:
		select {
		case b.entries <- e:
			return nil
		default:
		}
	}
	return b.store.RecordRequests(ctx, []*LogEntry{e})
}

// flush returns once every entry queued before it is written.
func (b *logBuffer) flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case b.flushes <- done:
	case <-b.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close writes what is queued and stops.
func (b *logBuffer) close() {
	b.once.Do(func() { close(b.stop) })
	<-b.exited
}

func (b *logBuffer) run() {
	defer close(b.exited)
	batch := make([]*LogEntry, 0, logBatch)
	write := func() {
		if len(batch) == 0 {
			return
		}
		// The requests are answered: their contexts are gone.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := b.store.RecordRequests(ctx, batch)
		cancel()
		if f := b.onError.Load(); err != nil && f != nil {
			(*f)(err)
		}
		clear(batch)
		batch = batch[:0]
	}
	// drain takes what is queued, writing a batch each logBatch entries.
	drain := func() {
		for {
			select {
			case e := <-b.entries:
				batch = append(batch, e)
				if len(batch) == logBatch {
					write()
				}
			default:
				write()
				return
			}
		}
	}
	for {
		select {
		case e := <-b.entries:
			batch = append(batch, e)
			drain()
		case done := <-b.flushes:
			drain()
			close(done)
		case <-b.stop:
			drain()
			return
		}
	}
}
