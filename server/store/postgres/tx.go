package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	crdbpgx "github.com/cockroachdb/cockroach-go/v2/crdb/crdbpgxv5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

var serializable = pgx.TxOptions{IsoLevel: pgx.Serializable}

// Update runs fn in a SERIALIZABLE transaction, retrying it when the server
// asks to.
//
// CockroachDB: cockroach-go's ExecuteTx, which retries inside the
// transaction with the SAVEPOINT cockroach_restart protocol.
//
// PostgreSQL: that helper must not be used. Its RELEASE SAVEPOINT is a
// commit on CockroachDB but not on PostgreSQL, and it ignores the error of
// the final COMMIT, where PostgreSQL reports serialization failures: a lost
// write would look like success. Instead the whole transaction is retried
// on 40001 and 40P01, COMMIT included (postgres_test.go injects a failure
// at COMMIT to prove it).
func (s *Store) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	select {
	case s.writers <- struct{}{}:
		defer func() { <-s.writers }()
	case <-ctx.Done():
		return ctx.Err()
	}
	runs := attempts{max: s.maxAttempts}
	var panicked any
	run := func(tx pgx.Tx) (err error) {
		if err := runs.next(); err != nil {
			return err
		}
		if runs.n > 1 {
			s.retries.Add(1)
		}
		// A panic must not leave the transaction open on its connection:
		// turn it into an error so the transaction rolls back, then panic
		// again once it has.
		defer func() {
			if r := recover(); r != nil {
				panicked, err = r, errPanic
			}
		}()
		return fn(newTxn(tx))
	}
	var err error
	for rerun := false; ; rerun = true {
		runs.n = 0
		if s.crdb {
			err = crdbpgx.ExecuteTx(crdb.WithMaxRetries(ctx, s.maxAttempts), s.pool, serializable, run)
		} else {
			err = s.retryPostgres(ctx, run)
		}
		if panicked != nil {
			panic(panicked)
		}
		// A unique violation can come from a concurrent insert of the same
		// idempotency key that the attempt could not see; one more run sees
		// it and replays. A second violation is a real duplicate.
		if rerun || !isUniqueViolation(err) {
			return translate(err)
		}
		s.retries.Add(1)
	}
}

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

func (s *Store) retryPostgres(ctx context.Context, run func(pgx.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.attempt(ctx, run)
		if !retryable(err) || attempt >= s.maxAttempts {
			if retryable(err) {
				return fmt.Errorf("%w: gave up after %d attempts: %w", ledger.ErrUnavailable, attempt, err)
			}
			return err
		}
		// Exponential backoff with full jitter: 2 ms, 4 ms ... capped at
		// 100 ms, so contending writers spread out instead of colliding
		// again in step.
		backoff := min(2*time.Millisecond<<min(attempt-1, 10), 100*time.Millisecond)
		s.log.Debug("retrying transaction", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rand.N(backoff) + time.Millisecond):
		}
	}
}

func (s *Store) attempt(ctx context.Context, run func(pgx.Tx) error) (err error) {
	tx, err := s.pool.BeginTx(ctx, serializable)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			rollback(ctx, tx)
		}
	}()
	if err = run(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
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

// retryable reports whether a whole transaction should run again:
// serialization failures and deadlocks (the server chose a victim).
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01":
		return true
	}
	return false
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// View runs fn in a read-only transaction: one snapshot for all its reads.
func (s *Store) View(ctx context.Context, fn func(ledger.Reader) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return translate(err)
	}
	defer func() { rollback(ctx, tx) }()
	return translate(fn(newTxn(tx)))
}

// ViewStale reads a snapshot a few seconds old on CockroachDB (a follower
// read: the nearest replica answers, and the read never waits on writes);
// on PostgreSQL it is View. This is one of the two CockroachDB-only
// statements in the store.
func (s *Store) ViewStale(ctx context.Context, fn func(ledger.Reader) error) error {
	if !s.crdb {
		return s.View(ctx, fn)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return translate(err)
	}
	defer func() { rollback(ctx, tx) }()
	if _, err := tx.Exec(ctx, `SET TRANSACTION AS OF SYSTEM TIME follower_read_timestamp()`); err != nil {
		return translate(err)
	}
	return translate(fn(newTxn(tx)))
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
