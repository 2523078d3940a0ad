package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
	"github.com/goodwill-ledger/goodwill/server/store/postgres"
	"github.com/goodwill-ledger/goodwill/server/store/storetest"
)

var _ ledger.Store = (*postgres.Store)(nil)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(t *testing.T, srv pgtest.Server) (*postgres.Store, string) {
	t.Helper()
	url := pgtest.FreshDB(t, srv)
	// Eight writers, so the suite's concurrent transactions meet in the
	// database, as several replicas' (or group-commit writers') do, rather
	// than queueing for the one writer a store allows by default.
	s, err := postgres.Open(t.Context(), url, postgres.Options{Migrate: true, Logger: quiet(), MaxWriters: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url
}

func TestConformance(t *testing.T) {
	for _, srv := range pgtest.Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) ledger.Store {
				s, _ := open(t, srv)
				return s
			})
			storetest.RunKeys(t, func(t *testing.T) auth.KeyStore {
				s, _ := open(t, srv)
				return s
			})
		})
	}
}

func TestDetectsServer(t *testing.T) {
	for _, srv := range pgtest.Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			s, _ := open(t, srv)
			if s.Server() != srv.Name {
				t.Errorf("Server() = %q, want %q", s.Server(), srv.Name)
			}
		})
	}
}

func TestMigrateTwiceIsHarmless(t *testing.T) {
	for _, srv := range pgtest.Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			s, url := open(t, srv)
			if err := s.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			again, err := postgres.Open(t.Context(), url, postgres.Options{Migrate: true, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			again.Close()
		})
	}
}

// On PostgreSQL a serialization failure can be raised by COMMIT itself.
// cockroach-go's savepoint helper would drop that error and report success;
// this store must retry the whole transaction instead, and lose nothing.
func TestSerializationFailureAtCommitIsRetried(t *testing.T) {
	s, conn := openBeside(t)
	ctx := t.Context()
	failCommits(t, conn, 2)
	before := s.Retries()
	attempts := 0
	err := s.Update(ctx, func(tx ledger.Tx) error {
		attempts++
		return tx.AppendEvent(ctx, ledger.Event{TenantID: "t", CustomerID: "c", ID: "e1", Kind: ledger.KindCredit,
			Magnitude: 1, OccurredAt: time.Now().UTC().Truncate(time.Microsecond), RecordedAt: time.Now().UTC().Truncate(time.Microsecond),
			Fingerprint: "fp"})
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM events WHERE event_id = 'e1'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d events committed, want exactly 1", n)
	}
	if attempts != 3 || s.Retries()-before != 2 {
		t.Errorf("attempts %d, retries %d: the commit-time failure was not retried", attempts, s.Retries()-before)
	}
}

func TestEventsAreAppendOnlyOnPostgres(t *testing.T) {
	srv := pgtest.Servers()[0]
	s, url := open(t, srv)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.Update(ctx, func(tx ledger.Tx) error {
		return tx.AppendEvent(ctx, ledger.Event{TenantID: "t", CustomerID: "c", ID: "e1", Kind: ledger.KindCredit,
			Magnitude: 1, OccurredAt: now, RecordedAt: now, Fingerprint: "fp"})
	}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, stmt := range []string{
		`UPDATE events SET magnitude = 100`,
		`DELETE FROM events`,
		`TRUNCATE events`,
	} {
		if _, err := conn.Exec(ctx, stmt); err == nil {
			t.Errorf("%s succeeded on an append-only table", stmt)
		}
	}
}

// Many writers on one customer: every write commits (after retries) and the
// count is exact.
func TestHotCustomerThroughRetries(t *testing.T) {
	for _, srv := range pgtest.Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			s, _ := open(t, srv)
			ctx := t.Context()
			svc := ledger.NewService(s, ledger.Options{})
			const writers, each = 16, 10
			var wg sync.WaitGroup
			errs := make(chan error, writers*each)
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						_, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{
							CustomerID: "hot", Kind: ledger.KindReliableDelivery,
							IdempotencyKey: "w" + string(rune('a'+w)) + "-" + string(rune('a'+i)),
						})
						if err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("write failed: %v", err)
			}
			b, err := svc.GetBalance(ctx, ledger.DefaultTenant, "hot", time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if b.EventCount != writers*each {
				t.Errorf("event count %d, want %d", b.EventCount, writers*each)
			}
			if b.Value < writers*each*0.99 || b.Value > writers*each {
				t.Errorf("balance %v, want about %d", b.Value, writers*each)
			}
			t.Logf("%s: %d transaction retries for %d writes", srv.Name, s.Retries(), writers*each)
		})
	}
}

func postgresOpen(tb testing.TB, url string) (*postgres.Store, error) {
	s, err := postgres.Open(context.Background(), url, postgres.Options{Migrate: true, Logger: quiet()})
	if err == nil {
		tb.Cleanup(func() { s.Close() })
	}
	return s, err
}
