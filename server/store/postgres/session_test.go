package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
	"github.com/goodwill-ledger/goodwill/server/store/postgres"
)

func dbName(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func admin(t *testing.T, dbURL, stmt string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func withParam(t *testing.T, dbURL, key, value string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx reads no "+" as a space
	return u.String()
}

// An operator's default that would refuse every write (or, on CockroachDB,
// make exact reads stale) is overridden by the store's pins; the same
// setting forced in the --db URL is refused at open, naming it.
func TestSessionPins(t *testing.T) {
	for _, srv := range pgtest.Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			dbURL := pgtest.FreshDB(t, srv)
			db := dbName(t, dbURL)
			if srv.Name == "cockroachdb" {
				// root ignores defaults set for every role, so the test
				// connects as a role of its own with its own defaults.
				role := appRole(t, srv)
				admin(t, dbURL, `GRANT ALL ON DATABASE `+db+` TO `+role)
				admin(t, dbURL, `ALTER ROLE `+role+` IN DATABASE `+db+` SET default_transaction_read_only = on`)
				admin(t, dbURL, `ALTER ROLE `+role+` IN DATABASE `+db+` SET default_transaction_use_follower_reads = on`)
				u, err := url.Parse(dbURL)
				if err != nil {
					t.Fatal(err)
				}
				u.User = url.User(role)
				dbURL = u.String()
			} else {
				admin(t, dbURL, `ALTER DATABASE `+db+` SET default_transaction_read_only = on`)
			}
			s, err := postgres.Open(t.Context(), dbURL, postgres.Options{Migrate: true, Logger: quiet()})
			if err != nil {
				t.Fatalf("open under a read-only default: %v", err)
			}
			defer s.Close()
			now := time.Now().UTC().Truncate(time.Microsecond)
			c := ledger.Customer{TenantID: "t", ID: "c1", CreatedAt: now, UpdatedAt: now, Profile: ledger.Profile{Value: 1}, PolicyVersion: 1}
			if err := s.Update(t.Context(), func(tx ledger.Tx) error { return tx.PutCustomer(t.Context(), c) }); err != nil {
				t.Fatalf("write under a read-only default: %v", err)
			}
			// Read your own write: no follower read leaks into an exact one.
			if _, _, err := s.Lookup(t.Context(), "t", "c1"); err != nil {
				t.Fatalf("Lookup after the write: %v", err)
			}

			forced := []string{withParam(t, dbURL, "options", "-c default_transaction_read_only=on")}
			if srv.Name == "postgresql" {
				// A parameter of its own beats "options" on PostgreSQL
				// whatever their order; pgx sends parameters in map order,
				// and CockroachDB's rule for that is not documented.
				forced = append(forced, withParam(t, dbURL, "default_transaction_read_only", "on"))
			}
			for _, u := range forced {
				s, err := postgres.Open(t.Context(), u, postgres.Options{Logger: quiet()})
				if err == nil {
					s.Close()
					t.Errorf("open with %s succeeded", u)
				} else if !strings.Contains(err.Error(), `default_transaction_read_only is "on", want "off"`) {
					t.Errorf("open with a read-only URL: %v; want it to name the setting", err)
				}
			}
		})
	}
}

// A stale read the server refuses (on CockroachDB: a follower read older
// than the table it names) is answered by a fresh one; one that works is
// used; the closure's own answers stand.
func TestStaleReadFallsBackToAFreshRead(t *testing.T) {
	s, _ := open(t, pgtest.Servers()[0])
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := ledger.Customer{TenantID: "t", ID: "c1", CreatedAt: now, UpdatedAt: now, Profile: ledger.Profile{Value: 1}, PolicyVersion: 1}
	if err := s.Update(ctx, func(tx ledger.Tx) error { return tx.PutCustomer(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	count := func() (int64, error) {
		var n int64
		err := s.ViewStale(ctx, func(r ledger.Reader) error {
			var err error
			n, err = r.CountCustomers(ctx, "t")
			return err
		})
		return n, err
	}
	for _, tc := range []struct {
		stmt      string
		fallbacks int64
	}{
		{"SELECT 1", 0},                      // the stale read works
		{"SELECT 1 FROM not_created_yet", 1}, // 42P01, as right after a migration
		{"SELECT missing_column FROM customers", 1},
		{"SELECT 1 / 0", 0}, // an error that is not about the schema stands
	} {
		postgres.ForceStaleRead(s, tc.stmt)
		before := s.StaleFallbacks()
		n, err := count()
		if tc.stmt == "SELECT 1 / 0" {
			if err == nil {
				t.Errorf("%s: %d, nil; want its error", tc.stmt, n)
			}
		} else if err != nil || n != 1 {
			t.Errorf("%s: count %d, %v; want 1", tc.stmt, n, err)
		}
		if got := s.StaleFallbacks() - before; got != tc.fallbacks {
			t.Errorf("%s: %d fresh reads instead, want %d", tc.stmt, got, tc.fallbacks)
		}
	}
	postgres.ForceStaleRead(s, "SELECT 1")
	before := s.StaleFallbacks()
	err := s.ViewStale(ctx, func(r ledger.Reader) error {
		_, err := r.Customer(ctx, "t", "nobody")
		return err
	})
	if !errors.Is(err, ledger.ErrNotFound) || s.StaleFallbacks() != before {
		t.Errorf("a stale read's own not-found: %v, %d fallbacks; want ErrNotFound and none", err, s.StaleFallbacks()-before)
	}
}

// Exact reads are retried on a serialization failure like writes (on
// CockroachDB a read can meet one; the closure here raises it).
func TestViewIsRetried(t *testing.T) {
	s, _ := open(t, pgtest.Servers()[0])
	ctx := t.Context()
	before := s.Retries()
	runs := 0
	err := s.View(ctx, func(r ledger.Reader) error {
		if runs++; runs < 3 {
			return &pgconn.PgError{Code: "40001", Message: "injected"}
		}
		_, err := r.CountCustomers(ctx, "t")
		return err
	})
	if err != nil || runs != 3 || s.Retries()-before != 2 {
		t.Errorf("View: %v after %d runs, %d retries; want success after 3 runs, 2 retries", err, runs, s.Retries()-before)
	}
}

// A transaction whose client went quiet between two statements (a request
// cut off, a COMMIT lost on the way) ends after the idle timeout, and the
// row locks it held go with it: the next writer that needs them waits
// that long, not until the server notices the client is gone. The default
// is set on every session, and a --db URL that sets it wins.
func TestIdleTransactionEnds(t *testing.T) {
	for _, srv := range pgtest.Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			dbURL := pgtest.FreshDB(t, srv)
			admin(t, dbURL, `CREATE TABLE idle_probe (id INT PRIMARY KEY)`)
			admin(t, dbURL, `INSERT INTO idle_probe VALUES (1)`)
			s, err := postgres.Open(t.Context(), dbURL,
				postgres.WithIdleInTransaction(postgres.Options{Logger: quiet()}, time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			pool := postgres.Pool(s)
			lost, err := pool.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer lost.Rollback(context.Background()) //nolint:errcheck // the server ended it
			if _, err := lost.Exec(t.Context(), `SELECT id FROM idle_probe WHERE id = 1 FOR UPDATE`); err != nil {
				t.Fatal(err)
			}
			// The lost transaction now sits idle, holding the row.
			start := time.Now()
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			next, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer next.Rollback(context.Background()) //nolint:errcheck // after Commit, a no-op
			if _, err := next.Exec(ctx, `UPDATE idle_probe SET id = 1 WHERE id = 1`); err != nil {
				t.Fatalf("the next writer of the row: %v after %s; want it to get the row once the idle one ended",
					err, time.Since(start).Round(time.Millisecond))
			}
			if err := next.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 8*time.Second {
				t.Errorf("the next writer waited %s for a row held by a transaction idle for 1 s", took.Round(time.Millisecond))
			}
			if err := lost.Commit(t.Context()); err == nil {
				t.Error("the idle transaction committed; want its session ended")
			}

			show := func(s *postgres.Store) string {
				var v string
				if err := postgres.Pool(s).QueryRow(t.Context(), `SHOW idle_in_transaction_session_timeout`).Scan(&v); err != nil {
					t.Fatal(err)
				}
				return v
			}
			def, err := postgres.Open(t.Context(), dbURL, postgres.Options{Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			defer def.Close()
			if got := show(def); got != "10s" && got != "00:00:10" {
				t.Errorf("idle_in_transaction_session_timeout = %q by default, want 10s", got)
			}
			off, err := postgres.Open(t.Context(), withParam(t, dbURL, "options", "-c idle_in_transaction_session_timeout=0"),
				postgres.Options{Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			defer off.Close()
			if got := show(off); got != "0" && got != "00:00:00" {
				t.Errorf("idle_in_transaction_session_timeout = %q with the URL setting 0, want 0", got)
			}
		})
	}
}
