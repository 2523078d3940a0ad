package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lazyTx is a transaction on a pooled connection whose BEGIN waits for
// its first statement. When that statement is a pipeline (conn.Pipeline:
// a write batch's reads, sqlstore's ReadAhead), the BEGIN goes in the
// same round trip (pgx.Batch.BeginTx); otherwise it is sent alone first,
// as pgx.Conn.BeginTx would. A transaction that sends nothing begins and
// commits nothing.
type lazyTx struct {
	c    *pgxpool.Conn
	opts pgx.TxOptions
	tx   pgx.Tx // nil until the first statement
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

func (l *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := l.begin(ctx); err != nil {
		return nil, err
	}
	return l.tx.Query(ctx, sql, args...)
}

func (l *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := l.begin(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return l.tx.Exec(ctx, sql, args...)
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

// commit commits what was sent, if anything was.
func (l *lazyTx) commit(ctx context.Context) error {
	if l.tx == nil {
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
