package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
)

// TestGuardedWriteRerunsWhenACustomerChanged changes a customer between a
// group-commit transaction's read and its write. The write, sent with
// the numbering and the COMMIT in one round trip, must fail on the server
// (migration 16's check), so that nothing of that run commits, and the
// store must run the transaction again from the new row. Were the COMMIT
// to go through after a guard held the customer back, the first run's
// event and notification would be stored without the customer's update.
func TestGuardedWriteRerunsWhenACustomerChanged(t *testing.T) {
	s, url := open(t, pgtest.Servers()[0])
	ctx := t.Context()
	other, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	runs := 0
	write := func(tag string, meddle bool) error {
		return s.UpdateCustomers(ctx, func(tx ledger.Tx) error {
			runs++
			cs, err := tx.CustomersByID(ctx, "t", []string{"c1"})
			if err != nil {
				return err
			}
			if meddle && runs == 1 {
				// Another writer's committed update: the row's version moves on.
				if _, err := other.Exec(ctx, `UPDATE customers SET updated_at = updated_at WHERE customer_id = 'c1'`); err != nil {
					return err
				}
			}
			c, ok := cs["c1"]
			if !ok {
				c = ledger.Customer{TenantID: "t", ID: "c1", CreatedAt: at, PolicyVersion: 1}
			}
			c.UpdatedAt, c.State.Count = at, c.State.Count+1
			id := fmt.Sprintf("%s-run%d", tag, runs)
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
	var c ledger.Customer
	if err := s.View(ctx, func(r ledger.Reader) (err error) {
		c, err = r.Customer(ctx, "t", "c1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if c.State.Count != 2 {
		t.Errorf("c1's count %d, want 2 (the seed and the rerun)", c.State.Count)
	}
}
