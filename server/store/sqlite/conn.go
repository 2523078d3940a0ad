package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"sync"

	"github.com/goodwill-ledger/goodwill/server/store/sqlstore"
)

// The statements of the embedded store, in SQLite's dialect: times as Unix
// microseconds, JSON as text, a batch's rows in multi-row statements of a
// few fixed sizes (no arrays; sqlstore/multirow.go).
var (
	dialect = &sqlstore.Dialect{
		Name:   "sqlite",
		Micros: true,
		// One writer connection: every write transaction takes its turn.
		SerialWrites: true,
		// Without ANALYZE statistics SQLite may prefer customers_by_rank
		// once the key has two range bounds, and then walks every segment.
		SegmentRankHint: "INDEXED BY customers_by_segment_rank",
		// Without them it reads a probe's whole tenant through the
		// primary key instead of the key's or the incident's index.
		IndexedBy: true,
		// No statement journals on the write path.
		InsertOrFail: true,
	}
	statements = sqlstore.NewStatements(dialect)
)

// stmtCache keeps prepared statements for a pool. SQLite compiles every
// statement it is handed; for the short statements of the write path
// compiling costs more than running, so they are prepared once, at open,
// and reused (database/sql re-prepares them on each new connection).
// Preparing later is not an option: the writer pool has one connection,
// which a transaction holds, so a prepare from inside one would wait on
// itself. Other statements run unprepared.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// newStmtCache prepares on db the hot statements keep picks: the read pool skips the
// writes, whose compiled programs (the multi-row inserts' above all) each
// of its connections would otherwise hold for nothing.
func newStmtCache(ctx context.Context, db *sql.DB, keep func(query string) bool) (*stmtCache, error) {
	c := &stmtCache{m: map[string]*sql.Stmt{}}
	for _, q := range statements.Hot() {
		if !keep(q) {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			c.close()
			return nil, err
		}
		c.m[q] = st
	}
	return c, nil
}

func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// all keeps every statement; reads keeps the SELECTs.
func all(string) bool { return true }

func reads(query string) bool { return strings.HasPrefix(query, "SELECT") }

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// querier is what *sql.Tx and *sql.DB share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// conn adapts a transaction (or the reader pool) to sqlstore.Conn, running
// the statements prepared at open through their prepared form.
type conn struct {
	q     querier
	tx    *sql.Tx // nil on the pool
	stmts *stmtCache
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	var rows *sql.Rows
	var err error
	switch st := c.stmts.get(query); {
	case st != nil && c.tx != nil:
		rows, err = c.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	case st != nil:
		rows, err = st.QueryContext(ctx, args...)
	default:
		rows, err = c.q.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if st := c.stmts.get(query); st != nil && c.tx != nil {
		res, err = c.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	} else {
		res, err = c.q.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ExecPrepared is Exec: the write path's statements are prepared at open.
func (c conn) ExecPrepared(ctx context.Context, query string, args ...any) (int64, error) {
	return c.Exec(ctx, query, args...)
}

// QueryPrepared implements sqlstore.Conn: SQLite's statements are planned
// in-process, so it is Query.
func (c conn) QueryPrepared(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return c.Query(ctx, query, args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }
