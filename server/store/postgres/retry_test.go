package postgres

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// pauses records the waits a policy asks for instead of sleeping.
type pauses struct{ got []time.Duration }

func (p *pauses) pause(ctx context.Context, d time.Duration) error {
	p.got = append(p.got, d)
	return ctx.Err()
}

// The wait before rerun n+1 is drawn below a ceiling that doubles from
// base and stops at max, and is never negative.
func TestRetryPolicyCeiling(t *testing.T) {
	t.Parallel()
	rec := &pauses{}
	p := retryPolicy{attempts: 50, base: 2 * time.Millisecond, max: 100 * time.Millisecond, pause: rec.pause}
	for n, want := range map[int]time.Duration{1: 2 * time.Millisecond, 2: 4 * time.Millisecond,
		3: 8 * time.Millisecond, 6: 64 * time.Millisecond, 7: 100 * time.Millisecond, 49: 100 * time.Millisecond} {
		if got := p.ceiling(n); got != want {
			t.Errorf("ceiling(%d) = %v, want %v", n, got, want)
		}
	}
	for range 1000 {
		if err := p.wait(t.Context(), 3); err != nil {
			t.Fatal(err)
		}
	}
	var sum time.Duration
	for _, d := range rec.got {
		if d < 0 || d >= 8*time.Millisecond {
			t.Fatalf("wait(3) drew %v, want [0, 8ms)", d)
		}
		sum += d
	}
	// Full jitter: uniform over the range, so the mean is near half of it.
	if mean := sum / time.Duration(len(rec.got)); mean < 3*time.Millisecond || mean > 5*time.Millisecond {
		t.Errorf("mean wait %v over 1,000 draws, want about 4ms", mean)
	}
}

// A context that ends during a wait ends it at once, with its error.
func TestRetryWaitHonoursTheContext(t *testing.T) {
	t.Parallel()
	p := retryPolicy{attempts: 50, base: time.Hour, max: time.Hour}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.wait(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait = %v, want the deadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("wait returned after %v", d)
	}
}

func quietStore(p retryPolicy) *Store {
	return &Store{policy: p, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// The CockroachDB write path: cockroach-go reruns the closure on 40001;
// every rerun is counted, waits first (within its ceiling), stops when the
// context ends, and no run starts past the policy's attempts.
// (fakeTx stands in for the transaction: no CockroachDB runs here.)
func TestCockroachRerunsArePacedAndCounted(t *testing.T) {
	t.Parallel()
	rec := &pauses{}
	s := quietStore(retryPolicy{attempts: 50, base: 5 * time.Millisecond, max: 40 * time.Millisecond, pause: rec.pause})
	calls := 0
	run := s.pacedReruns(t.Context(), func(pgxQuerier) error {
		if calls++; calls < 4 {
			return &pgconn.PgError{Code: "40001"}
		}
		return nil
	})
	if err := crdb.ExecuteInTx(t.Context(), &fakeTx{}, func() error { return run(nil) }); err != nil {
		t.Fatal(err)
	}
	if calls != 4 || s.Retries() != 3 || len(rec.got) != 3 {
		t.Fatalf("%d runs, %d retries counted, %d waits; want 4, 3 and 3", calls, s.Retries(), len(rec.got))
	}
	for i, d := range rec.got {
		if ceil := s.policy.ceiling(i + 1); d < 0 || d >= ceil {
			t.Errorf("wait %d drew %v, want below %v", i+1, d, ceil)
		}
	}

	// The bound: with 3 attempts the 4th run never starts, nor waits.
	rec.got = nil
	bounded := quietStore(retryPolicy{attempts: 3, base: time.Millisecond, max: time.Millisecond, pause: rec.pause})
	calls = 0
	run = bounded.pacedReruns(t.Context(), func(pgxQuerier) error { calls++; return &pgconn.PgError{Code: "40001"} })
	err := crdb.ExecuteInTx(crdb.WithMaxRetries(t.Context(), 3), &fakeTx{}, func() error { return run(nil) })
	if calls != 3 || len(rec.got) != 2 || bounded.Retries() != 2 || !errors.Is(translate(err), ledger.ErrUnavailable) {
		t.Errorf("bounded at 3: %d runs, %d waits, %d retries, %v; want 3, 2, 2 and UNAVAILABLE", calls, len(rec.got), bounded.Retries(), err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	slow := quietStore(retryPolicy{attempts: 50, base: time.Hour, max: time.Hour})
	calls = 0
	run = slow.pacedReruns(ctx, func(pgxQuerier) error {
		calls++
		cancel() // the caller gives up while the rerun waits
		return &pgconn.PgError{Code: "40001"}
	})
	err = crdb.ExecuteInTx(ctx, &fakeTx{}, func() error { return run(nil) })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("after cancel: %d runs, %v; want 1 run and context.Canceled", calls, err)
	}
}

// Whole-transaction retries (PostgreSQL writes, every read): retried only
// on 40001 and 40P01, bounded, and the give-up is UNAVAILABLE.
func TestRetryWholeTransactions(t *testing.T) {
	t.Parallel()
	s := quietStore(retryPolicy{attempts: 3, base: time.Millisecond, max: time.Millisecond})
	for _, tc := range []struct {
		name  string
		err   error
		runs  int
		check func(error) bool
	}{
		{"serialization failure", &pgconn.PgError{Code: "40001"}, 3, func(err error) bool { return errors.Is(translate(err), ledger.ErrUnavailable) }},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, 3, func(err error) bool { return errors.Is(translate(err), ledger.ErrUnavailable) }},
		{"unique violation", &pgconn.PgError{Code: "23505"}, 1, func(err error) bool { return errors.Is(translate(err), ledger.ErrDuplicate) }},
		{"domain error", ledger.ErrNotFound, 1, func(err error) bool { return errors.Is(err, ledger.ErrNotFound) }},
	} {
		runs := 0
		err := s.retry(t.Context(), "test", func() error { runs++; return tc.err })
		if runs != tc.runs || !tc.check(err) {
			t.Errorf("%s: %d runs, %v", tc.name, runs, err)
		}
	}
}
