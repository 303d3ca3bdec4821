package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStmts bounds a pool's statement cache. The SQL text of a
// filtered query depends on the filter's shape, not on its values (they
// are bound), so a few dozen texts cover what identity providers send; past
// the bound, statements are simply prepared each time.
const maxCachedStmts = 512

// stmtCache keeps the prepared statements of one connection pool by SQL
// text. Parsing and planning a statement costs more than running an
// indexed lookup, so every statement the store runs goes through it.
type stmtCache struct {
	pool *sql.DB
	mu   sync.Mutex
	m    map[string]*sql.Stmt
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: map[string]*sql.Stmt{}}
}

func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// add prepares query on the pool and caches it; nil if the cache is full
// or the statement does not prepare (running it will report why). The
// caller must not hold a connection of the pool: the pool of the writer
// has only one.
func (c *stmtCache) add(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	s, full := c.m[query], len(c.m) >= maxCachedStmts
	c.mu.Unlock()
	if s != nil || full {
		return s
	}
	s, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if other := c.m[query]; other != nil { // prepared concurrently
		s.Close()
		return other
	}
	c.m[query] = s
	return s
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, s := range c.m {
		errs = append(errs, s.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// handle runs statements on a pool, or in one of its transactions, through
// the pool's statement cache. A statement first seen inside a transaction
// runs unprepared there and is added to the cache once the transaction has
// released its connection (preparing it on the pool meanwhile could wait
// for the very connection the transaction holds).
type handle struct {
	c      *stmtCache
	tx     *sql.Tx
	missed *[]string
	// ctx, when set, replaces the context of every statement: in a group
	// commit, one request's cancellation must not interrupt the others'.
	ctx context.Context
}

func (h handle) stmt(ctx context.Context, query string) *sql.Stmt {
	s := h.c.lookup(query)
	if s == nil {
		if h.tx != nil {
			*h.missed = append(*h.missed, query)
			return nil
		}
		if s = h.c.add(ctx, query); s == nil {
			return nil
		}
	}
	if h.tx != nil {
		return h.tx.StmtContext(ctx, s)
	}
	return s
}

// QueryContext is sql.DB.QueryContext / sql.Tx.QueryContext.
func (h handle) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if h.ctx != nil {
		ctx = h.ctx
	}
	if s := h.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	if h.tx != nil {
		return h.tx.QueryContext(ctx, query, args...)
	}
	return h.c.pool.QueryContext(ctx, query, args...)
}

// QueryRowContext is sql.DB.QueryRowContext / sql.Tx.QueryRowContext.
func (h handle) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if h.ctx != nil {
		ctx = h.ctx
	}
	if s := h.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	if h.tx != nil {
		return h.tx.QueryRowContext(ctx, query, args...)
	}
	return h.c.pool.QueryRowContext(ctx, query, args...)
}

// ExecContext is sql.DB.ExecContext / sql.Tx.ExecContext.
func (h handle) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if h.ctx != nil {
		ctx = h.ctx
	}
	if s := h.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	if h.tx != nil {
		return h.tx.ExecContext(ctx, query, args...)
	}
	return h.c.pool.ExecContext(ctx, query, args...)
}

// inTx runs fn in a transaction of c's pool (read-only or not, per opts)
// and commits it if fn returns nil (a read-only one is rolled back: it has
// nothing to commit).
func (c *stmtCache) inTx(ctx context.Context, opts *sql.TxOptions, fn func(h handle) error) error {
	var missed []string
	defer func() {
		for _, q := range missed {
			c.add(ctx, q)
		}
	}()
	tx, err := c.pool.BeginTx(ctx, opts)
	if err != nil {
		return dbError(err, subject{})
	}
	// If fn panics (a caller's callback, such as ReplaceMappings' derive),
	// the transaction must not keep the connection: on the writer pool it
	// is the only one. Once committed or rolled back this is a no-op.
	defer tx.Rollback()
	if err := fn(handle{c: c, tx: tx, missed: &missed}); err != nil {
		tx.Rollback()
		return err
	}
	if opts != nil && opts.ReadOnly {
		return dbError(tx.Rollback(), subject{})
	}
	return dbError(tx.Commit(), subject{})
}
