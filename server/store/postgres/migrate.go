package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrate applies every pending migration, in order, each in one
// transaction: all of it or none of it, on both servers (on CockroachDB
// that needs autocommit_before_ddl off; cockroach.go).
//
// Replicas may start together, and each migrates by default: a lock row
// in goose_lock (goose's table locker, plain SQL that both servers run)
// lets one migrate while the others wait, then find nothing pending. The
// lock is a lease, so a migrator that dies frees it within 30 s.
// When nothing is pending Migrate only reads: it takes no lock and writes
// nothing, so a role without DDL rights (docs/deploy-cockroachdb.md) can
// start with it.
func (s *Store) Migrate(ctx context.Context) error {
	n, err := s.Pending(ctx)
	if err != nil || n == 0 {
		return err
	}
	db := s.migrationDB()
	defer db.Close()
	p, err := s.migrator(db, true)
	if err != nil {
		return err
	}
	res, err := p.Up(ctx)
	for _, r := range res {
		if r.Error == nil {
			s.log.Info("applied migration", "store", s.Server(), "version", r.Source.Version, "took", r.Duration)
		}
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Pending reports how many migrations have not been applied, gaps
// included. It only reads: goose would create its version table to
// answer, so a database without one is answered here (every migration is
// pending) before goose is asked.
func (s *Store) Pending(ctx context.Context) (int, error) {
	var exists bool
	// pg_tables, as goose asks: unlike information_schema it lists tables
	// the role holds no privilege on.
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_tables
		WHERE schemaname = current_schema() AND tablename = 'goose_db_version')`).Scan(&exists); err != nil {
		return 0, translate(err)
	}
	db := s.migrationDB()
	defer db.Close()
	p, err := s.migrator(db, false)
	if err != nil {
		return 0, err
	}
	if !exists {
		return len(p.ListSources()), nil
	}
	st, err := p.Status(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range st {
		if m.State == goose.StatePending {
			n++
		}
	}
	return n, nil
}

// migrationDB opens the connections migrations run on: the store's
// session pins, SERIALIZABLE as the default isolation (goose begins its
// transactions without naming one, and CockroachDB refuses schema changes
// in READ COMMITTED), and on CockroachDB no autocommit before DDL.
func (s *Store) migrationDB() *sql.DB {
	cc := s.connConfig.Copy()
	cc.RuntimeParams["options"] = strings.TrimSpace("-c default_transaction_isolation=serializable " + cc.RuntimeParams["options"])
	var opts []stdlib.OptionOpenDB
	if s.crdb {
		opts = append(opts, stdlib.OptionAfterConnect(noAutocommitBeforeDDL))
	}
	return stdlib.OpenDB(*cc, opts...)
}

// lockRetry is how often a replica waiting for another's migrations asks
// for the lock again, and how many times before it gives up (5 minutes).
const (
	lockRetry    = time.Second
	lockAttempts = 300
)

func (s *Store) migrator(db *sql.DB, locked bool) (*goose.Provider, error) {
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(
			goose.NewGoMigration(2, &goose.GoFunc{RunTx: s.appendOnly}, nil),
			goose.NewGoMigration(5, &goose.GoFunc{RunTx: s.bytewiseIDs}, nil),
			goose.NewGoMigration(10, &goose.GoFunc{RunTx: s.bytewiseOutboxIDs}, nil),
			goose.NewGoMigration(13, &goose.GoFunc{RunTx: s.bytewiseTrendIDs}, nil),
			goose.NewGoMigration(15, &goose.GoFunc{RunTx: s.bytewiseLeaseIDs}, nil),
			goose.NewGoMigration(16, &goose.GoFunc{RunTx: s.writtenCheck}, nil),
		),
	}
	if locked {
		locker, err := lock.NewPostgresTableLocker(lock.WithTableLockTimeout(lockRetry, lockAttempts),
			lock.WithTableLogger(s.log))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithLocker(locker))
	}
	return goose.NewProvider(goose.DialectPostgres, db, s.migrations, opts...)
}

// appendOnly is migration 2: triggers that refuse UPDATE, DELETE and
// TRUNCATE on events, on PostgreSQL only; CockroachDB's triggers are a
// preview without statement-level or TRUNCATE triggers. On both servers
// the role goodwilld runs as is meant to hold no such privilege on events
// (Grants), which makes the rule the same everywhere; the triggers
// also stop the owner on PostgreSQL.
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

// bytewiseColumns are the text columns lists are ordered and paged by.
// CockroachDB, SQLite and Go compare strings byte by byte; PostgreSQL by
// the database's collation, where "B" may sort before "a" or "a-b" after
// "ab", so the same list would come back in another order and a page
// token would skip or repeat ids. A table added later lists its own here,
// in a migration of its own that calls collateBytewise.
var bytewiseColumns = map[string][]string{
	"customers":       {"tenant_id", "customer_id"},
	"events":          {"tenant_id", "customer_id", "event_id"},
	"policies":        {"tenant_id"},
	"active_policies": {"tenant_id"},
	"recompute_jobs":  {"tenant_id", "job_id"},
	"api_keys":        {"key_id", "tenant_id"},
}

// bytewiseIDs is migration 5: the C collation on the id columns, on
// PostgreSQL only (CockroachDB already compares bytes, and has no column
// collation "C").
func (s *Store) bytewiseIDs(ctx context.Context, tx *sql.Tx) error {
	if s.crdb {
		return nil
	}
	return collateBytewise(ctx, tx, bytewiseColumns)
}

// bytewiseOutboxColumns are the id columns of the notification tables
// (migrations 6, 8 and 9), which missed the C collation when they were
// added.
// Beyond order, it matters for speed: a notification read joins its event
// on (tenant_id, customer_id, event_id), and PostgreSQL uses events'
// primary key for that only when both sides compare the same way.
var bytewiseOutboxColumns = map[string][]string{
	"notifications":        {"tenant_id", "notification_id", "customer_id", "event_id"},
	"webhooks":             {"tenant_id", "webhook_id"},
	"webhook_deliveries":   {"tenant_id", "webhook_id", "notification_id", "customer_id"},
	"webhook_attempts":     {"tenant_id", "webhook_id", "notification_id", "customer_id"},
	"notification_cursors": {"name"},
	"notification_marks":   {"tenant_id"},
}

// bytewiseOutboxIDs is migration 10: bytewiseIDs for the notification
// tables.
func (s *Store) bytewiseOutboxIDs(ctx context.Context, tx *sql.Tx) error {
	if s.crdb {
		return nil
	}
	return collateBytewise(ctx, tx, bytewiseOutboxColumns)
}

// bytewiseTrendColumns are the key columns of trend_points (migration 12),
// which CockroachDB's shared SQL cannot collate.
var bytewiseTrendColumns = map[string][]string{
	"trend_points": {"tenant_id", "segment", "day"},
}

// bytewiseTrendIDs is migration 13: bytewiseIDs for the trend snapshots.
func (s *Store) bytewiseTrendIDs(ctx context.Context, tx *sql.Tx) error {
	if s.crdb {
		return nil
	}
	return collateBytewise(ctx, tx, bytewiseTrendColumns)
}

// bytewiseLeaseColumns is the key of leases (migration 14).
var bytewiseLeaseColumns = map[string][]string{
	"leases": {"name"},
}

// bytewiseLeaseIDs is migration 15: bytewiseIDs for the leases.
func (s *Store) bytewiseLeaseIDs(ctx context.Context, tx *sql.Tx) error {
	if s.crdb {
		return nil
	}
	return collateBytewise(ctx, tx, bytewiseLeaseColumns)
}

// writtenCheck is migration 16: goodwill_check_written, which a guarded
// write (sqlstore's Txn.Guarded) calls with the number of customer rows
// its version guard let through and the number it meant to write. When
// they differ, another transaction wrote one of its customers after this
// one read it, and the function fails the statement with SQLSTATE 40001,
// as a serialization failure would: the transaction aborts on the server,
// so a COMMIT sent in the same round trip (Txn.Finish) commits nothing,
// and the store runs the transaction again. PostgreSQL only: CockroachDB
// runs these transactions SERIALIZABLE, without the guard.
func (s *Store) writtenCheck(ctx context.Context, tx *sql.Tx) error {
	if s.crdb {
		return nil
	}
	_, err := tx.ExecContext(ctx, `
CREATE FUNCTION goodwill_check_written(written BIGINT, want BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$
BEGIN
    IF written <> want THEN
        RAISE EXCEPTION 'a customer changed after this transaction read it (% of % customers written)', written, want
            USING ERRCODE = '40001';
    END IF;
    RETURN written;
END;
$$;`)
	return err
}

// collateBytewise gives columns the C collation; PostgreSQL rebuilds the
// indexes on them.
func collateBytewise(ctx context.Context, tx *sql.Tx, columns map[string][]string) error {
	for _, table := range slices.Sorted(maps.Keys(columns)) {
		cols := columns[table]
		alters := make([]string, len(cols))
		for i, c := range cols {
			alters[i] = fmt.Sprintf(`ALTER COLUMN %s TYPE TEXT COLLATE "C"`, pgx.Identifier{c}.Sanitize())
		}
		q := fmt.Sprintf(`ALTER TABLE %s %s`, pgx.Identifier{table}.Sanitize(), strings.Join(alters, ", "))
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}
