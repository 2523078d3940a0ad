package postgres

import (
	"context"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SetMigrations replaces the schema's versions, so a test can migrate to a
// broken or slow version.
func SetMigrations(s *Store, f fs.FS) { s.migrations = f }

// EmbeddedMigrations is the schema's versions as shipped.
func EmbeddedMigrations() fs.FS { return mustSub(migrations, "migrations") }

// ForceStaleRead makes ViewStale run stmt first, as it runs the follower
// read on CockroachDB, so the fallback can be tested on PostgreSQL.
func ForceStaleRead(s *Store, stmt string) { s.staleRead = stmt }

// MigrateTo applies the shipped migrations up to version, as a store that
// shipped then would have: the ledger a later migration meets.
func MigrateTo(ctx context.Context, s *Store, version int64) error {
	db := s.migrationDB()
	defer db.Close()
	p, err := s.migrator(db, false)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// WithIdleInTransaction sets how long the server lets a session sit idle
// inside a transaction.
func WithIdleInTransaction(o Options, d time.Duration) Options {
	o.idleInTransaction = d
	return o
}

// Pool is the store's connection pool.
func Pool(s *Store) *pgxpool.Pool { return s.pool }

// WithDial sets the dialer of the store's connections.
func WithDial(o Options, dial pgconn.DialFunc) Options {
	o.dial = dial
	return o
}
