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
