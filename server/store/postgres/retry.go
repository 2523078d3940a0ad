package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// retryPolicy is the one way this store retries a transaction the server
// aborted (SQLSTATE 40001, a serialization failure, or 40P01, a
// deadlock): at most attempts runs, the first included; before each rerun
// a wait drawn uniformly from [0, min(max, base·2^(n-1))) ("full jitter",
// so contending transactions spread out instead of colliding again in
// step); the caller's context checked during every wait; every rerun
// counted (Store.Retries, goodwill_store_transaction_retries_total).
//
// It serves every kind of transaction on both servers: writes (Update),
// exact reads (View) and stale reads (ViewStale). Only the place of the
// rerun differs: on CockroachDB a write reruns inside its transaction
// (cockroach-go's savepoint protocol, which keeps the transaction's place
// in line); everything else reruns the whole transaction.
type retryPolicy struct {
	attempts  int
	base, max time.Duration
	// pause waits d or until ctx ends (nil: a timer); tests record it.
	pause func(ctx context.Context, d time.Duration) error
}

// defaultRetry is the policy of a store opened without MaxAttempts: 50
// attempts, as cockroach-go's default, which a hot customer under many
// writers needs; waits from 2 ms doubling to 100 ms.
var defaultRetry = retryPolicy{attempts: 50, base: 2 * time.Millisecond, max: 100 * time.Millisecond}

// ceiling is the longest wait before rerun n+1, after n runs (n >= 1).
func (p retryPolicy) ceiling(n int) time.Duration {
	return min(p.base<<min(n-1, 20), p.max)
}

// wait sleeps before rerun n+1, or returns the context's error if it ends
// first.
func (p retryPolicy) wait(ctx context.Context, n int) error {
	d := rand.N(p.ceiling(n))
	if p.pause != nil {
		return p.pause(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryable reports whether a whole transaction should run again:
// serialization failures and deadlocks (the server chose a victim). Both
// are found anywhere in the chain, through the ledger's wrapping.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01":
		return true // 40001 also when a guarded write found a customer changed (migration 16)
	}
	return false
}

// retry runs a whole transaction (run begins and ends it) under the policy.
func (s *Store) retry(ctx context.Context, what string, run func() error) error {
	for n := 1; ; n++ {
		err := run()
		if !retryable(err) {
			return err
		}
		if n >= s.policy.attempts {
			return fmt.Errorf("%w: %s gave up after %d attempts: %w", ledger.ErrUnavailable, what, n, err)
		}
		s.retries.Add(1)
		s.log.DebugContext(ctx, "retrying transaction", "kind", what, "attempt", n, "err", err)
		if err := s.policy.wait(ctx, n); err != nil {
			return err
		}
	}
}
