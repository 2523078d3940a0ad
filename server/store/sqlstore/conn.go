package sqlstore

import (
	"context"
)

// Conn is a transaction (or a connection pool, for single statements) as
// this package uses it. Each backend adapts its driver: pgx for PostgreSQL,
// database/sql with prepared statements for SQLite.
type Conn interface {
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	// Exec runs a statement and reports how many rows it changed.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// ExecPrepared is Exec for a statement whose plan has no choice to
	// make, whatever the tables hold (a batch's inserts and upserts from
	// arrays): the backend may plan it once per connection and reuse the
	// plan, where reads are planned per run, for their current statistics.
	ExecPrepared(ctx context.Context, sql string, args ...any) (int64, error)
	// QueryPrepared is Query for such a statement that returns rows.
	QueryPrepared(ctx context.Context, sql string, args ...any) (Rows, error)
}

// Rows is a result being read.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Pipeliner is a Conn that can send several statements in one round trip
// and read their results afterwards, in order (PostgreSQL's pipeline
// mode). A Txn uses it where it knows its next statements before it needs
// the first one's answer: on a server across the network each round trip
// is a wait for the writer and a write and a wake-up for both processes.
// The server still runs the statements one after another, each as if
// sent alone; only the waits between them go.
type Pipeliner interface {
	Pipeline(ctx context.Context, stmts ...Stmt) Results
}

// CommitPipeliner is a Pipeliner in a transaction that can also send the
// transaction's COMMIT in the same round trip, after stmts. If a
// statement fails, the server skips the rest, the COMMIT included, and
// the transaction is rolled back as after any error. Close returns the
// COMMIT's error when the statements succeeded. Afterwards the
// transaction is over: the backend does not commit it again.
type CommitPipeliner interface {
	PipelineCommit(ctx context.Context, stmts ...Stmt) Results
}

// Stmt is one statement of a pipeline.
type Stmt struct {
	SQL  string
	Args []any
	// Prepared: planned once per connection, as ExecPrepared.
	Prepared bool
}

// Results are a pipeline's results, one per statement, taken in the
// order the statements were sent.
type Results interface {
	// Query returns the next statement's rows, to be read to the end (or
	// closed) before the next result is taken.
	Query() (Rows, error)
	// Exec returns how many rows the next statement changed.
	Exec() (int64, error)
	// Close reads what was not taken and returns the pipeline's first
	// error not yet returned.
	Close() error
}
