package postgres_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
	"github.com/goodwill-ledger/goodwill/server/store/postgres"
)

// writeCounter counts what the store writes to the server's socket: pgx
// flushes once per round trip.
type writeCounter struct {
	net.Conn
	writes *atomic.Int64
}

func (c writeCounter) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// TestRoundTrips pins the round trips of the two hottest transactions:
// a group-commit batch (BEGIN with its reads; the customer upsert with
// the numbered notifications and the COMMIT) and a read-only View of one query
// (BEGIN with the query; COMMIT). Each statement sent alone would be a
// round trip of its own, a wait for the writer and a wake-up of both
// processes (docs/benchmarks.md, round 2's fourth sitting).
func TestRoundTrips(t *testing.T) {
	var writes atomic.Int64
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return writeCounter{c, &writes}, nil
	}
	url := pgtest.FreshDB(t, pgtest.Servers()[0])
	s, err := postgres.Open(t.Context(), url, postgres.WithDial(postgres.Options{Migrate: true, Logger: quiet()}, dial))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ids := []string{"c1", "c2"}
	run := 0
	batch := func() error {
		run++
		return s.UpdateCustomers(ctx, func(tx ledger.Tx) error {
			var keys []ledger.CustomerKey
			for _, id := range ids {
				keys = append(keys, ledger.CustomerKey{CustomerID: id, Key: fmt.Sprintf("k%d-%s", run, id)})
			}
			if err := tx.(ledger.ReadAheader).ReadAhead(ctx, "t", ids, keys); err != nil {
				return err
			}
			if _, err := tx.ActivePolicy(ctx, "t"); err != nil && err != ledger.ErrNotFound {
				return err
			}
			cs, err := tx.CustomersByID(ctx, "t", ids)
			if err != nil {
				return err
			}
			if _, err := tx.EventsByKeys(ctx, "t", keys); err != nil {
				return err
			}
			var events []ledger.Event
			var out []ledger.Customer
			var notes []ledger.Notification
			for i, id := range ids {
				e := ledger.Event{TenantID: "t", CustomerID: id, ID: fmt.Sprintf("e%d-%s", run, id), Kind: ledger.KindCredit,
					Magnitude: 1, OccurredAt: at, RecordedAt: at, IdempotencyKey: keys[i].Key, Fingerprint: "fp"}
				events = append(events, e)
				c, ok := cs[id]
				if !ok {
					c = ledger.Customer{TenantID: "t", ID: id, CreatedAt: at, PolicyVersion: 1}
				}
				c.UpdatedAt, c.State.Count = at, c.State.Count+1
				out = append(out, c)
				notes = append(notes, ledger.Notification{TenantID: "t", ID: fmt.Sprintf("n%d-%s", run, id),
					Type: ledger.NotifyRecovered, CustomerID: id, CustomerSeq: int64(run), OccurredAt: at, CreatedAt: at})
			}
			if err := tx.AppendEvents(ctx, events); err != nil {
				return err
			}
			if err := tx.PutCustomers(ctx, out); err != nil {
				return err
			}
			return tx.AppendNotifications(ctx, notes)
		})
	}
	view := func() error {
		return s.View(ctx, func(r ledger.Reader) error {
			_, err := r.Customer(ctx, "t", "c1")
			return err
		})
	}
	for _, tc := range []struct {
		name string
		want int64
		fn   func() error
	}{
		{"a group-commit batch", 2, batch},
		{"a View of one query", 2, view},
	} {
		var got int64
		for range 3 { // the first runs also describe and prepare the statements
			before := writes.Load()
			if err := tc.fn(); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			got = writes.Load() - before
		}
		if got != tc.want {
			t.Errorf("%s: %d round trips, want %d", tc.name, got, tc.want)
		}
	}
	// The COMMIT that went with the upsert took: every batch is there.
	if n := eventCount(t, s, "c2"); n != 3 {
		t.Errorf("c2 after 3 batches: count %d, want 3", n)
	}
}
