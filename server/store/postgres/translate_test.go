package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
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
