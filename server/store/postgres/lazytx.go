package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lazyTx is a transaction on a pooled connection whose BEGIN waits for
// its first statement and goes in the same round trip, in a pgx batch
// (pgx.Batch.BeginTx): a read-only View of one query takes two round
// trips instead of three, and a write batch's first, its reads
// (sqlstore's ReadAhead, a pipeline), carry it too. A transaction that
// sends nothing begins and commits nothing.
type lazyTx struct {
	c    *pgxpool.Conn
	opts pgx.TxOptions
	tx   pgx.Tx // nil until the first statement
	// committed: the COMMIT went in a pipeline (conn.PipelineCommit),
	// whose results carried its outcome.
	committed bool
}

var _ pgxQuerier = (*lazyTx)(nil)

// Conn is the connection, on which conn.Pipeline prepares statements
// (prepared statements belong to the session, not the transaction).
func (l *lazyTx) Conn() *pgx.Conn { return l.c.Conn() }

func (l *lazyTx) begin(ctx context.Context) error {
	if l.tx != nil {
		return nil
	}
	tx, err := l.c.BeginTx(ctx, l.opts)
	if err != nil {
		return err
	}
	l.tx = tx
	return nil
}

// Query runs sql, led by the BEGIN if it is the transaction's first
// statement (see batchable).
func (l *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if l.tx != nil || !batchable(args) {
		if err := l.begin(ctx); err != nil {
			return nil, err
		}
		return l.tx.Query(ctx, sql, args...)
	}
	br := l.beginWith(ctx, sql, args)
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &firstRows{Rows: rows, br: br}, nil
}

// Exec is Query for a statement whose rows are not read.
func (l *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if l.tx != nil || !batchable(args) {
		if err := l.begin(ctx); err != nil {
			return pgconn.CommandTag{}, err
		}
		return l.tx.Exec(ctx, sql, args...)
	}
	br := l.beginWith(ctx, sql, args)
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// beginWith sends the BEGIN and sql in one batch and takes the BEGIN's
// result; sql's is next.
func (l *lazyTx) beginWith(ctx context.Context, sql string, args []any) pgx.BatchResults {
	b := &pgx.Batch{}
	b.BeginTx(l.opts)
	b.Queue(sql, args...)
	br := l.c.SendBatch(ctx, b)
	l.tx = br.Tx()
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return pgx.FailedBatchResults(&pgx.Batch{}, err)
	}
	return br
}

// batchable reports whether a statement with these arguments can go in a
// pgx batch: one that names its own execution mode (conn.ExecPrepared)
// cannot, as batches run in the connection's mode.
func batchable(args []any) bool {
	if len(args) == 0 {
		return true
	}
	_, mode := args[0].(pgx.QueryExecMode)
	return !mode
}

// firstRows are the rows of a transaction's first statement, sent in a
// batch with its BEGIN: closing them finishes the batch.
type firstRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r *firstRows) Close() {
	r.Rows.Close()
	if r.br != nil {
		_ = r.br.Close()
		r.br = nil
	}
}

// SendBatch sends b, led by the BEGIN if the transaction has not begun;
// the BEGIN's own result is taken here, so the caller sees b's alone.
func (l *lazyTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if l.tx != nil {
		return l.tx.SendBatch(ctx, b)
	}
	led := &pgx.Batch{}
	led.BeginTx(l.opts)
	led.QueuedQueries = append(led.QueuedQueries, b.QueuedQueries...)
	br := l.c.SendBatch(ctx, led)
	l.tx = br.Tx()
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return pgx.FailedBatchResults(b, err)
	}
	return br
}

// commit commits what was sent, if anything was and no pipeline has.
func (l *lazyTx) commit(ctx context.Context) error {
	if l.tx == nil || l.committed {
		return nil
	}
	return l.tx.Commit(ctx)
}

// rollback rolls back what was sent, if anything was (see rollbackTimeout).
func (l *lazyTx) rollback(ctx context.Context) {
	if l.tx != nil {
		rollback(ctx, l.tx)
	}
}
