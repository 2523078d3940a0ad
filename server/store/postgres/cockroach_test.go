package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
	"github.com/goodwill-ledger/goodwill/server/store/postgres"
)

// cockroach returns the CockroachDB test server, or skips: these tests
// need CockroachDB's own behaviour and run only when
// GOODWILL_TEST_COCKROACH_URL is set.
func cockroach(t *testing.T) pgtest.Server {
	t.Helper()
	for _, srv := range pgtest.Servers() {
		if srv.Name == "cockroachdb" {
			return srv
		}
	}
	t.Skip("SKIPPED: CockroachDB only; set GOODWILL_TEST_COCKROACH_URL to run it")
	return pgtest.Server{}
}

// With inject_retry_errors_enabled, CockroachDB fails every statement of
// an explicit transaction with a retry error, until a transaction that
// uses the cockroach_restart savepoint has been retried three times. A
// write goes through that protocol and must commit after retries; an
// exact read retries whole transactions, each of which starts over, so it
// must give up as UNAVAILABLE after its attempts, not hang.
func TestCockroachInjectedRetryErrors(t *testing.T) {
	srv := cockroach(t)
	_, dbURL := open(t, srv) // migrated by a normal store first
	injected := withParam(t, dbURL, "options", "-c inject_retry_errors_enabled=true")
	s, err := postgres.Open(t.Context(), injected, postgres.Options{Logger: quiet(), MaxAttempts: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := ledger.Customer{TenantID: "t", ID: "c1", CreatedAt: now, UpdatedAt: now, Profile: ledger.Profile{Value: 1}, PolicyVersion: 1}
	before := s.Retries()
	if err := s.Update(ctx, func(tx ledger.Tx) error { return tx.PutCustomer(ctx, c) }); err != nil {
		t.Fatalf("Update under injected retry errors: %v", err)
	}
	if s.Retries()-before < 3 {
		t.Errorf("Update retried %d times, want at least 3", s.Retries()-before)
	}
	err = s.View(ctx, func(r ledger.Reader) error {
		_, err := r.Customer(ctx, "t", "c1")
		return err
	})
	if !errors.Is(err, ledger.ErrUnavailable) {
		t.Errorf("View under injected retry errors: %v, want UNAVAILABLE after its attempts", err)
	}
}
