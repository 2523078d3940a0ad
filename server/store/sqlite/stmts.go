package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements for a pool. SQLite compiles every
// statement it is handed; for the short statements of the write path
// compiling costs more than running, so they are prepared once, at open,
// and reused (database/sql re-prepares them on each new connection).
// Preparing later is not an option: the writer pool has one connection,
// which a transaction holds, so a prepare from inside one would wait on
// itself. Queries not prepared at open run unprepared.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// preparedQueries are the statements every write or balance read runs.
var preparedQueries = []string{
	customerQuery, putCustomerQuery, appendEventQuery, eventQuery, eventByKeyQuery, historyQuery,
	activePolicyQuery, policyQuery, lookupQuery,
}

func newStmtCache(ctx context.Context, db *sql.DB) (*stmtCache, error) {
	c := &stmtCache{m: map[string]*sql.Stmt{}}
	for _, q := range preparedQueries {
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

func (t *txn) exec(ctx context.Context, query string, args ...any) error {
	var err error
	if st := t.stmts.get(query); st != nil {
		_, err = t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	} else {
		_, err = t.tx.ExecContext(ctx, query, args...)
	}
	return translate(err)
}

func (t *txn) queryRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	if st := t.stmts.get(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...), nil
	}
	return t.tx.QueryRowContext(ctx, query, args...), nil
}

func (t *txn) queryRows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	var rows *sql.Rows
	var err error
	if st := t.stmts.get(query); st != nil {
		rows, err = t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	} else {
		rows, err = t.tx.QueryContext(ctx, query, args...)
	}
	return rows, translate(err)
}
