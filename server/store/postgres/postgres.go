// Package postgres is the production ledger store: CockroachDB, or
// PostgreSQL, over pgx v5. It detects which server it talks to at open and
// runs write transactions the way that server needs (see tx.go). It passes
// the same conformance suite as the embedded store.
//
// It must never hold ledger rules: those live in package ledger.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a ledger.Store on a CockroachDB or PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	crdb bool
	log  *slog.Logger
	// retries counts transaction attempts that were retried, for the logs
	// and the benchmarks.
	retries atomic.Int64
	// maxAttempts bounds one Update's attempts.
	maxAttempts int
	// writers admits this many write transactions at once.
	writers chan struct{}
}

var _ ledger.Store = (*Store)(nil)

// Options tune Open.
type Options struct {
	// Migrate applies pending migrations at open.
	Migrate bool
	Logger  *slog.Logger
	// MaxAttempts bounds the attempts of one write transaction (default 50,
	// as cockroach-go's): a hot customer under many writers needs several.
	MaxAttempts int
	// MaxWriters bounds concurrent write transactions in this process
	// (default 1). Serializable transactions that touch the same customers
	// abort each other; large batches from several callers overlapping in
	// customers could retry each other out of time. One writer per replica
	// removes that contention within the replica; raise it when writes
	// rarely share customers.
	MaxWriters int
}

// Open connects to url (postgres:// or postgresql://) and detects the
// server.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 50
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message can quote the URL, password included.
		return nil, errors.New("invalid database URL (check its syntax; it is not shown because it may hold a password)")
	}
	// Plan every statement with its actual parameters. pgx's default caches
	// named prepared statements, and after a few runs the server may switch
	// them to a generic plan chosen while the tables were small; as they
	// grew, batch reads kept that plan (seen as a 20x slowdown in the
	// benchmark). Descriptions are still cached: one round trip a query.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	// A connection attempt to a database that does not answer (a dropped
	// network, a host gone) must fail in bounded time even under a context
	// without a deadline; connect_timeout in the URL overrides it.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if o.MaxWriters <= 0 {
		o.MaxWriters = 1
	}
	s := &Store{pool: pool, log: o.Logger, maxAttempts: o.MaxAttempts, writers: make(chan struct{}, o.MaxWriters)}
	var version string
	if err := pool.QueryRow(ctx, `SELECT version()`).Scan(&version); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s@%s:%d/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port,
			cfg.ConnConfig.Database, err)
	}
	s.crdb = strings.Contains(version, "CockroachDB")
	o.Logger.Info("connected to the store", "server", s.Server(), "version", version)
	if o.Migrate {
		if err := s.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// DefaultConnectTimeout bounds one connection attempt when the URL sets no
// connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

// Server names the server: "cockroachdb" or "postgresql".
func (s *Store) Server() string {
	if s.crdb {
		return "cockroachdb"
	}
	return "postgresql"
}

// Retries returns how many transaction attempts have been retried.
func (s *Store) Retries() int64 { return s.retries.Load() }

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Migrate applies every pending embedded migration in order. On PostgreSQL
// an advisory lock keeps replicas starting together from migrating twice;
// CockroachDB has no advisory locks, so there run `goodwilld migrate` once
// before starting replicas (docs/deploy-cockroachdb.md).
func (s *Store) Migrate(ctx context.Context) error {
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(goose.NewGoMigration(2, &goose.GoFunc{RunTx: s.appendOnly}, nil)),
	}
	if !s.crdb {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, opts...)
	if err != nil {
		return err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range res {
		s.log.Info("applied migration", "store", s.Server(), "version", r.Source.Version, "took", r.Duration)
	}
	return nil
}

// appendOnly is migration 2: triggers that refuse UPDATE and DELETE on
// events, on PostgreSQL only. CockroachDB's trigger support is recent and
// partial, so there the API is the only writer (the one documented
// difference between the two servers).
func (s *Store) appendOnly(ctx context.Context, tx *sql.Tx) error {
	if s.crdb {
		return nil
	}
	_, err := tx.ExecContext(ctx, `
CREATE FUNCTION goodwill_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END;
$$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION goodwill_events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION goodwill_events_append_only();`)
	return err
}
