package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
	"github.com/goodwill-ledger/goodwill/server/store/postgres"
)

// TestGuardedWriteRerunsWhenACustomerChanged changes a customer between a
// group-commit transaction's read and its write. The write, sent with
// the numbering and the COMMIT in one round trip, must fail on the server
// (migration 16's check), so that nothing of that run commits, and the
// store must run the transaction again from the new row. Were the COMMIT
// to go through after a guard held the customer back, the first run's
// event and notification would be stored without the customer's update.
func TestGuardedWriteRerunsWhenACustomerChanged(t *testing.T) {
	s, other := openBeside(t)
	ctx := t.Context()
	runs := 0
	write := func(tag string, meddle bool) error {
		return guardedWrite(ctx, s, tag, &runs, func() error {
			if !meddle || runs != 1 {
				return nil
			}
			// Another writer's committed update: the row's version moves on.
			_, err := other.Exec(ctx, `UPDATE customers SET updated_at = updated_at WHERE customer_id = 'c1'`)
			return err
		})
	}
	if err := write("seed", false); err != nil {
		t.Fatal(err)
	}
	runs = 0
	before := s.Retries()
	if err := write("meddled", true); err != nil {
		t.Fatalf("UpdateCustomers: %v", err)
	}
	if runs != 2 || s.Retries()-before != 1 {
		t.Errorf("%d runs, %d retries; want 2 and 1: the changed customer was not caught", runs, s.Retries()-before)
	}
	count := func(q string) int {
		var n int
		if err := other.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM events WHERE event_id = 'meddled-run1'`); n != 0 {
		t.Errorf("the failed run's event was committed (%d rows)", n)
	}
	if n := count(`SELECT count(*) FROM notifications WHERE notification_id = 'meddled-run1'`); n != 0 {
		t.Errorf("the failed run's notification was committed (%d rows)", n)
	}
	if n := count(`SELECT count(*) FROM events WHERE event_id = 'meddled-run2'`); n != 1 {
		t.Errorf("the rerun's event: %d rows, want 1", n)
	}
	if n := eventCount(t, s, "c1"); n != 2 {
		t.Errorf("c1's count %d, want 2 (the seed and the rerun)", n)
	}
}

// guardedWrite is one group-commit-like transaction on customer c1: it
// reads c1, calls between (after the read, before any write), then
// appends an event and a notification with tag and the run's number as
// their ids, and writes c1 with its count one higher. runs counts the
// closure's runs.
func guardedWrite(ctx context.Context, s *postgres.Store, tag string, runs *int, between func() error) error {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	return s.UpdateCustomers(ctx, func(tx ledger.Tx) error {
		*runs++
		cs, err := tx.CustomersByID(ctx, "t", []string{"c1"})
		if err != nil {
			return err
		}
		if err := between(); err != nil {
			return err
		}
		c, ok := cs["c1"]
		if !ok {
			c = ledger.Customer{TenantID: "t", ID: "c1", CreatedAt: at, PolicyVersion: 1}
		}
		c.UpdatedAt, c.State.Count = at, c.State.Count+1
		id := fmt.Sprintf("%s-run%d", tag, *runs)
		if err := tx.AppendEvents(ctx, []ledger.Event{{TenantID: "t", CustomerID: "c1", ID: id, Kind: ledger.KindCredit,
			Magnitude: 1, OccurredAt: at, RecordedAt: at, Fingerprint: "fp"}}); err != nil {
			return err
		}
		if err := tx.PutCustomers(ctx, []ledger.Customer{c}); err != nil {
			return err
		}
		return tx.AppendNotifications(ctx, []ledger.Notification{{TenantID: "t", ID: id, Type: ledger.NotifyRecovered,
			CustomerID: "c1", CustomerSeq: int64(c.State.Count), OccurredAt: at, CreatedAt: at}})
	})
}

// TestPipelinedCommitFailureIsRetried fails the COMMIT that a guarded
// write sends in the same round trip as its statements (PipelineCommit),
// twice, with a serialization failure: the failure must surface, the
// transaction run again, and its writes be stored exactly once. A COMMIT
// error lost in the pipeline would report success for writes never
// stored.
func TestPipelinedCommitFailureIsRetried(t *testing.T) {
	s, other := openBeside(t)
	ctx := t.Context()
	failCommits(t, other, 2)
	runs := 0
	before := s.Retries()
	if err := guardedWrite(ctx, s, "w", &runs, func() error { return nil }); err != nil {
		t.Fatalf("UpdateCustomers: %v", err)
	}
	if runs != 3 || s.Retries()-before != 2 {
		t.Errorf("%d runs, %d retries; want 3 and 2: a failed COMMIT went unseen", runs, s.Retries()-before)
	}
	for _, table := range []string{"events", "notifications"} {
		var n int
		if err := other.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s: %d rows, want 1", table, n)
		}
	}
	if n := eventCount(t, s, "c1"); n != 1 {
		t.Errorf("c1's count %d, want 1", n)
	}
}

// failCommits makes the next n commits that inserted an event fail with
// SQLSTATE 40001, from a deferred constraint trigger, which runs at
// COMMIT. The count lives in a sequence because nextval is not rolled
// back with the failed commit.
func failCommits(t *testing.T, conn *pgx.Conn, n int) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), fmt.Sprintf(`
CREATE SEQUENCE fault_count;
CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('fault_count') <= %d THEN
        RAISE EXCEPTION 'injected serialization failure' USING ERRCODE = '40001';
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER inject_commit_failure AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit();`, n)); err != nil {
		t.Fatal(err)
	}
}

// eventCount is the event count of tenant t's customer id, read back.
func eventCount(t *testing.T, s *postgres.Store, id string) int64 {
	t.Helper()
	var c ledger.Customer
	if err := s.View(t.Context(), func(r ledger.Reader) (err error) {
		c, err = r.Customer(t.Context(), "t", id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c.State.Count
}

// openBeside opens a store on a fresh database and a plain connection to
// the same database beside it, for a test to act as another client.
func openBeside(t *testing.T) (*postgres.Store, *pgx.Conn) {
	t.Helper()
	s, url := open(t, pgtest.Servers()[0])
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return s, conn
}
