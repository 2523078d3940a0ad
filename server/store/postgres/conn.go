package postgres

import (
	"context"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/sqlstore"
)

// The statements of the production store, in the dialect CockroachDB and
// PostgreSQL share: numbered placeholders, TIMESTAMPTZ, JSONB read back as
// text, and batches sent as arrays the server unnests (one round trip).
var (
	dialect = &sqlstore.Dialect{
		Name:       "postgresql",
		Numbered:   true,
		JSONColumn: func(col string) string { return col + "::TEXT" },
		Arrays:     true,
	}
	statements = sqlstore.NewStatements(dialect)
)

// pgxQuerier is what pgx.Tx and *pgxpool.Pool share.
type pgxQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Pipeline implements sqlstore.Pipeliner with a pgx batch: the statements
// are sent together and the server answers them in order. A prepared
// statement is prepared on the transaction's connection first, once per
// connection, and queued by name; pgx's batches otherwise run every
// statement unnamed, planned on each run.
func (c conn) Pipeline(ctx context.Context, stmts ...sqlstore.Stmt) sqlstore.Results {
	b, err := c.batch(ctx, stmts)
	if err != nil {
		return batchResults{pgx.FailedBatchResults(b, err)}
	}
	return batchResults{c.q.SendBatch(ctx, b)}
}

// batch queues stmts, the prepared ones by name.
func (c conn) batch(ctx context.Context, stmts []sqlstore.Stmt) (*pgx.Batch, error) {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(stmts)+1)}
	for _, st := range stmts {
		sql := st.SQL
		if tx, ok := c.q.(interface{ Conn() *pgx.Conn }); ok && st.Prepared {
			sd, err := tx.Conn().Prepare(ctx, statementName(sql), sql)
			if err != nil {
				return b, err
			}
			sql = sd.Name
		}
		b.Queue(sql, st.Args...)
	}
	return b, nil
}

// PipelineCommit implements sqlstore.CommitPipeliner: Pipeline with the
// transaction's COMMIT queued last. pgx runs the COMMIT's check when its
// result is read (Close at the latest): PostgreSQL answers COMMIT in a
// transaction that failed with a ROLLBACK tag, not an error.
func (c conn) PipelineCommit(ctx context.Context, stmts ...sqlstore.Stmt) sqlstore.Results {
	l, ok := c.q.(*lazyTx)
	if !ok || l.tx == nil {
		// Only a transaction that has begun can end in a pipeline (a
		// guarded write always has: its reads carried the BEGIN).
		return c.Pipeline(ctx, stmts...)
	}
	b, err := c.batch(ctx, stmts)
	if err != nil {
		return batchResults{pgx.FailedBatchResults(b, err)}
	}
	// Prepared by name like the other statements: pgx forgets the
	// descriptions of a failed batch's unnamed statements, and the rerun
	// after a guard's failure would pay a round trip to describe COMMIT.
	commit, err := l.c.Conn().Prepare(ctx, statementName("COMMIT"), "COMMIT")
	if err != nil {
		return batchResults{pgx.FailedBatchResults(b, err)}
	}
	b.Queue(commit.Name).Exec(func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return pgx.ErrTxCommitRollback
		}
		return nil
	})
	l.committed = true
	return batchResults{l.tx.SendBatch(ctx, b)}
}

// statementName names a prepared statement by its text, as pgx's own
// statement cache does, so that the same text is prepared once per
// connection.
func statementName(sql string) string {
	h := fnv.New64a()
	h.Write([]byte(sql))
	return "goodwill_" + strconv.FormatUint(h.Sum64(), 36)
}

// batchResults adapts pgx's to sqlstore.Results.
type batchResults struct{ br pgx.BatchResults }

func (r batchResults) Query() (sqlstore.Rows, error) { return r.br.Query() }

func (r batchResults) Exec() (int64, error) {
	tag, err := r.br.Exec()
	return tag.RowsAffected(), err
}

func (r batchResults) Close() error { return r.br.Close() }

// conn adapts a pgx transaction or the pool to sqlstore.Conn.
type conn struct{ q pgxQuerier }

func (c conn) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return c.q.Query(ctx, sql, args...)
}

func (c conn) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

// ExecPrepared runs sql as a prepared statement, cached per connection:
// the server parses and plans it once, instead of on every run as in the
// pool's default mode (QueryExecModeCacheDescribe, kept for reads, whose
// plans must follow the tables' statistics). Planning the batch write
// alone took 0.9 ms of PostgreSQL's CPU per batch (pg_stat_statements).
func (c conn) ExecPrepared(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, sql, append([]any{pgx.QueryExecModeCacheStatement}, args...)...)
	return tag.RowsAffected(), err
}

// QueryPrepared is ExecPrepared for a statement that returns rows. In a
// transaction it is prepared on the connection by name, as in Pipeline, so
// that a transaction's first statement still carries its BEGIN (lazyTx
// cannot batch a statement that names its own execution mode).
func (c conn) QueryPrepared(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	if tx, ok := c.q.(interface{ Conn() *pgx.Conn }); ok {
		sd, err := tx.Conn().Prepare(ctx, statementName(sql), sql)
		if err != nil {
			return nil, err
		}
		return c.q.Query(ctx, sd.Name, args...)
	}
	return c.q.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheStatement}, args...)...)
}

func newTxn(q pgxQuerier) *sqlstore.Txn { return statements.NewTxn(conn{q}, translate) }

// Lookup runs one statement on the pool, outside a transaction: a single
// statement is its own snapshot, and BEGIN and ROLLBACK would triple the
// round trips of GetBalance.
func (s *Store) Lookup(ctx context.Context, tenant, id string) (ledger.Customer, int64, error) {
	return newTxn(s.pool).Lookup(ctx, tenant, id)
}

// Key reads on the pool: one statement needs no transaction.
func (s *Store) Key(ctx context.Context, id string) (auth.Key, error) {
	return newTxn(s.pool).Key(ctx, id)
}

// Keys lists a tenant's API keys, or all when tenant is "".
func (s *Store) Keys(ctx context.Context, tenant string) ([]auth.Key, error) {
	return newTxn(s.pool).Keys(ctx, tenant)
}

// PutKey inserts a key in a retried write transaction, like every write.
func (s *Store) PutKey(ctx context.Context, k auth.Key) error {
	return s.Update(ctx, func(tx ledger.Tx) error { return tx.(*sqlstore.Txn).PutKey(ctx, k) })
}

// PutFirstKey checks and inserts in one SERIALIZABLE transaction: of two
// servers bootstrapping at once, one is retried and then finds the other's
// key.
func (s *Store) PutFirstKey(ctx context.Context, k auth.Key) (put bool, err error) {
	err = s.Update(ctx, func(tx ledger.Tx) error {
		put, err = tx.(*sqlstore.Txn).PutFirstKey(ctx, k)
		return err
	})
	return put, err
}

// RevokeKey marks a key revoked. Errors: ledger.ErrNotFound.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return s.Update(ctx, func(tx ledger.Tx) error { return tx.(*sqlstore.Txn).RevokeKey(ctx, id, at) })
}
