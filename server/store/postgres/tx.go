package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/sqlstore"
)

var (
	serializable  = pgx.TxOptions{IsoLevel: pgx.Serializable}
	readCommitted = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
)

// Update runs fn in a SERIALIZABLE transaction, retrying it when the server
// asks to, under the store's retry policy (retry.go).
//
// CockroachDB: cockroach-go's ExecuteTx, which retries inside the
// transaction with the SAVEPOINT cockroach_restart protocol (cockroach.go).
//
// PostgreSQL: that helper must not be used. Its RELEASE SAVEPOINT is a
// commit on CockroachDB but not on PostgreSQL, and it ignores the error of
// the final COMMIT, where PostgreSQL reports serialization failures: a lost
// write would look like success. Instead the whole transaction is retried
// on 40001 and 40P01, COMMIT included (postgres_test.go injects a failure
// at COMMIT to prove it).
func (s *Store) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return s.update(ctx, serializable, fn)
}

// UpdateCustomers implements ledger.Store. On PostgreSQL it runs at READ
// COMMITTED: under SERIALIZABLE, writers of different customers aborted
// each other, because its predicate locks cover whole index pages (four
// group-commit writers ran at a fifth of one writer's rate, with 168
// retries per 1,000 events; docs/benchmarks.md). What SERIALIZABLE gave
// these transactions is kept by sqlstore's guarded Txn: a customer is
// written only if its row is still the version this transaction read,
// and otherwise the transaction runs again (SQLSTATE 40001 from the server), as it would
// after a serialization failure; and the tenant's policy lock keeps a
// policy install from passing beneath it. CockroachDB runs it
// SERIALIZABLE, as Update: its serializability is per key, with no
// page-wide false conflicts.
func (s *Store) UpdateCustomers(ctx context.Context, fn func(ledger.Tx) error) error {
	if s.crdb {
		return s.Update(ctx, fn)
	}
	return s.update(ctx, readCommitted, fn)
}

func (s *Store) update(ctx context.Context, iso pgx.TxOptions, fn func(ledger.Tx) error) error {
	select {
	case s.writers <- struct{}{}:
		defer func() { <-s.writers }()
	case <-ctx.Done():
		return ctx.Err()
	}
	runs := attempts{max: s.policy.attempts}
	var panicked any
	var last *sqlstore.Txn // the run that committed, when one did
	run := func(tx pgxQuerier) (err error) {
		if err := runs.next(); err != nil {
			return err
		}
		// A panic must not leave the transaction open on its connection:
		// turn it into an error so the transaction rolls back, then panic
		// again once it has.
		defer func() {
			if r := recover(); r != nil {
				panicked, err = r, errPanic
			}
		}()
		t := newTxn(tx)
		last = t
		if !s.crdb {
			t.WithLocks().NumberAtWrite()
			if iso == readCommitted {
				t.Guarded()
			}
		}
		if err := fn(t); err != nil {
			return err
		}
		return t.Finish(ctx) // what the Txn held back to send with a later statement
	}
	var err error
	for rerun := false; ; rerun = true {
		runs.n = 0
		if s.crdb {
			err = s.updateCockroach(ctx, run)
		} else {
			err = s.retry(ctx, "update", func() error { return s.attempt(ctx, iso, run) })
		}
		if panicked != nil {
			panic(panicked)
		}
		// A unique violation can come from a concurrent insert of the same
		// idempotency key that the attempt could not see; one more run sees
		// it and replays. A second violation is a real duplicate.
		// Never after an ambiguous commit: the writes may have committed.
		var ambiguous *crdb.AmbiguousCommitError
		if rerun || !isUniqueViolation(err) || errors.As(err, &ambiguous) {
			if err == nil {
				s.numbered.Note(last)
			}
			return translate(err)
		}
		s.retries.Add(1)
	}
}

// NumberedAtWrite implements ledger.WriteNumberer: PostgreSQL's write
// transactions number their notifications (Txn.NumberAtWrite);
// CockroachDB leaves them to the sequencer.
func (s *Store) NumberedAtWrite() (int64, bool) { return s.numbered.Last(), !s.crdb }

var errPanic = errors.New("transaction closure panicked")

// attempts counts the runs of one transaction's closure and refuses the
// run after max. cockroach-go (v2.4.2) reads a retry limit of 0 as "no
// limit", so the bound is kept here, for both servers: the error it
// returns is not a serialization failure, which ends any retry loop.
type attempts struct{ n, max int }

func (a *attempts) next() error {
	if a.n++; a.n > a.max {
		return fmt.Errorf("%w: gave up after %d attempts", ledger.ErrUnavailable, a.max)
	}
	return nil
}

// attempt runs one whole transaction: BEGIN, run, COMMIT (or ROLLBACK).
// The BEGIN travels with the transaction's first statement (lazyTx).
func (s *Store) attempt(ctx context.Context, opts pgx.TxOptions, run func(pgxQuerier) error) (err error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release() // a connection left inside a transaction is closed, not reused
	tx := &lazyTx{c: c, opts: opts}
	defer func() {
		if err != nil {
			tx.rollback(ctx)
		}
	}()
	if err = run(tx); err != nil {
		return err
	}
	return tx.commit(ctx)
}

// rollbackTimeout bounds a rollback. It runs even when the caller's
// context has ended, so it cannot use that context, but it must not wait
// for ever on a connection whose peer went silent.
const rollbackTimeout = 5 * time.Second

func rollback(ctx context.Context, tx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	_ = tx.Rollback(rctx)
}

// olderThanTheSchema reports the errors of a read whose snapshot predates
// what it names: a table (42P01), a column (42703), or, on a database
// created moments ago, the database itself (3D000).
func olderThanTheSchema(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "42P01", "42703", "3D000":
		return true
	}
	return false
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// readOnly is an exact read: one snapshot for all the closure's reads.
// CockroachDB runs REPEATABLE READ as SERIALIZABLE unless a preview
// setting is on; the snapshot is the same, but there a read can wait on a
// writer and fail with 40001, so reads are retried like writes.
var readOnly = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// View runs fn in a read-only transaction, rerun under the retry policy.
func (s *Store) View(ctx context.Context, fn func(ledger.Reader) error) error {
	return translate(s.retry(ctx, "view", func() error {
		return s.attempt(ctx, readOnly, func(tx pgxQuerier) error { return fn(newTxn(tx)) })
	}))
}

// ViewStale reads a snapshot a few seconds old where the server offers one
// (CockroachDB: a follower read, served by the nearest replica without
// waiting on writes); on PostgreSQL it is View.
//
// A stale snapshot can predate the schema: right after a migration its
// tables or columns do not exist yet at that timestamp. Such a read is
// answered by an exact read (View) instead: the caller asked for "possibly
// stale", never for an error a fresh read would not give. Any other error
// stands: a timeout or an overloaded server is no reason to read again.
func (s *Store) ViewStale(ctx context.Context, fn func(ledger.Reader) error) error {
	if s.staleRead == "" {
		return s.View(ctx, fn)
	}
	err := s.retry(ctx, "stale view", func() error {
		return s.attempt(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgxQuerier) error {
			if _, err := tx.Exec(ctx, s.staleRead); err != nil {
				return err
			}
			return fn(newTxn(tx))
		})
	})
	if !olderThanTheSchema(err) || ctx.Err() != nil {
		return translate(err)
	}
	s.staleFallbacks.Add(1)
	s.log.DebugContext(ctx, "stale read failed; reading fresh instead", "err", err)
	return s.View(ctx, fn)
}

// translate turns driver errors into the ledger's error classes; unknown
// errors pass through (and become Internal at the API, logged there).
func translate(err error) error {
	if err == nil {
		return nil
	}
	var le *ledger.Error
	if errors.As(err, &le) || errors.Is(err, ledger.ErrNotFound) || errors.Is(err, ledger.ErrDuplicate) ||
		errors.Is(err, ledger.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// cockroach-go's errors first: each wraps the driver error that caused
	// it, but what matters is what it says about the commit. Any failure of
	// RELEASE (CockroachDB's commit) that is not a retry is ambiguous,
	// whatever SQLSTATE its cause carries: the client must retry with its
	// idempotency key, and nothing may re-run the writes as if they had not
	// committed.
	var ambiguous *crdb.AmbiguousCommitError
	if errors.As(err, &ambiguous) {
		return fmt.Errorf("%w: commit outcome unknown: %w", ledger.ErrUnavailable, err)
	}
	var restart *crdb.TxnRestartError
	var exhausted *crdb.MaxRetriesExceededError
	if errors.As(err, &restart) || errors.As(err, &exhausted) {
		return fmt.Errorf("%w: %w", ledger.ErrUnavailable, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return fmt.Errorf("%w: %w", ledger.ErrDuplicate, err)
		case pe.Code == "40003": // CockroachDB: statement completion unknown
			return fmt.Errorf("%w: commit outcome unknown: %w", ledger.ErrUnavailable, err)
		case pe.Code == "40001" || pe.Code == "40P01":
			// Keep the driver error in the chain: Update's retry loop
			// looks for its SQLSTATE.
			return fmt.Errorf("%w: %w", ledger.ErrUnavailable, err)
		case strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57") || strings.HasPrefix(pe.Code, "53"):
			// connection exceptions, operator intervention (shutdown),
			// insufficient resources
			return fmt.Errorf("%w: %w", ledger.ErrUnavailable, err)
		case strings.HasPrefix(pe.Code, "22"):
			// Data exceptions (a value out of range, such as a time no
			// column can hold): the request carried it, and validation
			// should have stopped it. A backstop, so the client hears
			// INVALID_ARGUMENT rather than INTERNAL; the driver's words
			// are not passed on.
			return errValueOutOfRange
		}
		return err
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || isConnError(err) {
		return fmt.Errorf("%w: %w", ledger.ErrUnavailable, err)
	}
	return err
}

var errValueOutOfRange = &ledger.Error{Class: ledger.ErrInvalidArgument,
	Message: "a value in the request is outside what the store can hold"}

// isConnError reports a failure to reach the server or a connection lost
// mid-way: the outcome of a commit in flight is unknown, so the client
// retries with its idempotency key.
func isConnError(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
