package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// The driver errors a write can meet, and the class each must become. An
// outcome the server could not confirm must be UNAVAILABLE (retry with the
// same idempotency key), never a success and never a bare Internal.
func TestTranslate(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "m"} }
	tests := []struct {
		name string
		err  error
		want error // nil: passes through unclassified
	}{
		{"unique violation", pg("23505"), ledger.ErrDuplicate},
		{"serialization failure after retries", pg("40001"), ledger.ErrUnavailable},
		{"deadlock", pg("40P01"), ledger.ErrUnavailable},
		{"CockroachDB: statement completion unknown", pg("40003"), ledger.ErrUnavailable},
		{"connection exception", pg("08006"), ledger.ErrUnavailable},
		{"admin shutdown", pg("57P01"), ledger.ErrUnavailable},
		{"too many connections", pg("53300"), ledger.ErrUnavailable},
		{"cannot connect", &pgconn.ConnectError{}, ledger.ErrUnavailable},
		{"connection lost mid-commit", fmt.Errorf("commit: %w", io.ErrUnexpectedEOF), ledger.ErrUnavailable},
		{"ambiguous commit (cockroach-go)", &crdb.AmbiguousCommitError{}, ledger.ErrUnavailable},
		// Before the fix the PgError inside was matched first, and an
		// unlisted SQLSTATE left the ambiguous commit unclassified.
		{"ambiguous RELEASE with an internal error", releaseFails(t, pg("XX000")), ledger.ErrUnavailable},
		{"ambiguous RELEASE with a constraint error", releaseFails(t, pg("23514")), ledger.ErrUnavailable},
		{"retries exhausted (cockroach-go)", retriesExhausted(t), ledger.ErrUnavailable},
		{"value out of range", pg("22008"), ledger.ErrInvalidArgument},
		{"numeric overflow", pg("22003"), ledger.ErrInvalidArgument},
		{"syntax error stays unclassified", pg("42601"), nil},
		{"domain errors pass through", ledger.ErrNotFound, ledger.ErrNotFound},
		{"cancellation passes through", context.Canceled, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := translate(tt.err)
			if tt.want == nil {
				for _, class := range []error{ledger.ErrDuplicate, ledger.ErrUnavailable, ledger.ErrNotFound} {
					if errors.Is(got, class) {
						t.Errorf("translate(%v) = %v, want it unclassified", tt.err, got)
					}
				}
				return
			}
			if !errors.Is(got, tt.want) {
				t.Errorf("translate(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	// Retries look for the SQLSTATE through the translated error.
	if !retryable(translate(pg("40001"))) {
		t.Error("a translated serialization failure is no longer retryable")
	}
}

// fakeTx is the transaction cockroach-go's retry loop drives: it records
// the statements, and RELEASE fails with release when set.
type fakeTx struct {
	release error
	stmts   []string
}

func (f *fakeTx) Exec(_ context.Context, q string, _ ...any) error {
	f.stmts = append(f.stmts, q)
	if strings.HasPrefix(q, "RELEASE") && f.release != nil {
		return f.release
	}
	return nil
}
func (f *fakeTx) Commit(context.Context) error   { return nil }
func (f *fakeTx) Rollback(context.Context) error { return nil }

// releaseFails is the error cockroach-go returns when RELEASE SAVEPOINT,
// the commit on CockroachDB, fails with cause.
func releaseFails(t *testing.T, cause error) error {
	t.Helper()
	err := crdb.ExecuteInTx(t.Context(), &fakeTx{release: cause}, func() error { return nil })
	var ambiguous *crdb.AmbiguousCommitError
	if !errors.As(err, &ambiguous) {
		t.Fatalf("cockroach-go returned %v, want an AmbiguousCommitError", err)
	}
	return err
}

func retriesExhausted(t *testing.T) error {
	t.Helper()
	err := crdb.ExecuteInTx(crdb.WithMaxRetries(t.Context(), 2), &fakeTx{}, func() error {
		return &pgconn.PgError{Code: "40001"}
	})
	var exhausted *crdb.MaxRetriesExceededError
	if !errors.As(err, &exhausted) {
		t.Fatalf("cockroach-go returned %v, want a MaxRetriesExceededError", err)
	}
	return err
}

// cockroach-go reads WithMaxRetries(ctx, 0) as "retry for ever": the
// closure's own bound (attempts) must end the loop, with an error that
// says the store gave up.
func TestAttemptsBoundCockroachRetries(t *testing.T) {
	t.Parallel()
	for _, max := range []int{1, 3} {
		runs := attempts{max: max}
		calls := 0
		err := crdb.ExecuteInTx(crdb.WithMaxRetries(t.Context(), 0), &fakeTx{}, func() error {
			if err := runs.next(); err != nil {
				return err
			}
			calls++
			if calls > 100 {
				t.Fatal("the closure ran more than 100 times")
			}
			return &pgconn.PgError{Code: "40001"}
		})
		if calls != max || !errors.Is(translate(err), ledger.ErrUnavailable) {
			t.Errorf("max %d: %d runs, %v; want %d runs and UNAVAILABLE", max, calls, err, max)
		}
	}
}
