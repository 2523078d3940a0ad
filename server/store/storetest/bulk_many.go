package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// manyRows is more rows than any one statement of a backend carries
// (SQLite writes and reads a batch in statements of 64, 32 ... 2 rows and
// one): 3 x 64 + 8 + 2 + 1, so most sizes and a single row are used.
const manyRows = 203

// testBulkMany: a batch of manyRows customers, events and notifications is
// written and read back whole, every row where it belongs: each customer
// with its own values, each key's holder, each notification numbered
// once, in the sequencer's order.
func testBulkMany(t *testing.T, s ledger.Store) {
	var cs []ledger.Customer
	var evs []ledger.Event
	var ns []ledger.Notification
	var ids []string
	var keys []ledger.CustomerKey
	for i := range manyRows {
		id := fmt.Sprintf("many-%03d", i)
		c := fullCustomer(tenantA, id)
		c.Profile.DisplayName, c.State.Count, c.State.Value = "customer "+id, int64(i), float64(i)-100.5
		if i%2 == 0 {
			c.Keys.Recovery = nil
		}
		cs = append(cs, c)
		e := fullEvent(tenantA, id, fmt.Sprintf("me-%03d", i))
		if i%5 == 0 {
			e.IdempotencyKey = "" // no key: not a holder
		}
		evs = append(evs, e)
		keys = append(keys, ledger.CustomerKey{CustomerID: id, Key: "key-" + e.ID})
		ns = append(ns, note(tenantA, id, 1, ledger.NotifyOverdrawn, at(i)))
		ids = append(ids, id)
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.AppendEvents(ctx, evs); err != nil {
			return err
		}
		if err := tx.AppendNotifications(ctx, ns); err != nil {
			return err
		}
		return tx.PutCustomers(ctx, cs)
	})
	// One more, in tenant B, under a key and id tenant A also uses.
	other := fullEvent(tenantB, "many-001", "me-001")
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.AppendEvents(ctx, []ledger.Event{other}); err != nil {
			return err
		}
		return tx.PutCustomers(ctx, []ledger.Customer{newCustomer(tenantB, "many-001")})
	})

	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		got, err := tx.CustomersByID(ctx, tenantA, append(ids, "many-missing"))
		if err != nil {
			return err
		}
		if len(got) != manyRows {
			t.Fatalf("CustomersByID found %d of %d customers", len(got), manyRows)
		}
		for _, c := range cs {
			equalCustomer(t, c.ID, got[c.ID], c)
		}
		asked := append(keys, ledger.CustomerKey{CustomerID: "many-000", Key: "key-me-001"}, // another's key
			ledger.CustomerKey{CustomerID: "many-001", Key: "key-missing"})
		holders, err := tx.EventsByKeys(ctx, tenantA, asked)
		if err != nil {
			return err
		}
		want := 0
		for i, e := range evs {
			if e.IdempotencyKey == "" {
				if h, ok := holders[keys[i]]; ok {
					t.Errorf("key %q of a keyless event has holder %s", keys[i].Key, h.ID)
				}
				continue
			}
			want++
			equalEvent(t, "holder of "+e.IdempotencyKey, holders[keys[i]], e)
		}
		if len(holders) != want {
			t.Errorf("EventsByKeys found %d holders, want %d", len(holders), want)
		}
		return nil
	})

	// Rewriting customers the transaction read: manyRows that exist, each
	// changed, and manyRows new ones, interleaved (SQLite updates the one
	// kind and inserts the other, in statements of every size).
	var mixed []ledger.Customer
	var mixedIDs []string
	for i, c := range cs {
		c.Profile.DisplayName, c.State.Count = "changed "+c.ID, c.State.Count+1000
		n := fullCustomer(tenantA, fmt.Sprintf("many-new-%03d", i))
		n.State.Count = int64(i)
		mixed = append(mixed, c, n)
		mixedIDs = append(mixedIDs, c.ID, n.ID)
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		got, err := tx.CustomersByID(ctx, tenantA, mixedIDs)
		if err != nil {
			return err
		}
		if len(got) != manyRows {
			t.Fatalf("CustomersByID before the rewrite found %d customers, want %d", len(got), manyRows)
		}
		return tx.PutCustomers(ctx, mixed)
	})
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		got, err := tx.CustomersByID(ctx, tenantA, mixedIDs)
		if err != nil {
			return err
		}
		if len(got) != len(mixed) {
			t.Fatalf("CustomersByID after the rewrite found %d customers, want %d", len(got), len(mixed))
		}
		for _, c := range mixed {
			equalCustomer(t, "rewritten "+c.ID, got[c.ID], c)
		}
		b, err := tx.CustomersByID(ctx, tenantB, []string{"many-001"})
		if err != nil {
			return err
		}
		equalCustomer(t, "tenant B's many-001", b["many-001"], newCustomer(tenantB, "many-001"))
		return nil
	})

	if n := sequenceAll(t, s); n != 0 && n != manyRows {
		t.Fatalf("the sequencer numbered %d notifications, want %d (or none, if numbered at write)", n, manyRows)
	}
	got := readNotifications(t, s, tenantA, 0, nil, 1000)
	if len(got) != manyRows {
		t.Fatalf("read %d notifications, want %d", len(got), manyRows)
	}
	for i, n := range got {
		if n.ID != ns[i].ID || n.Seq != got[0].Seq+int64(i) {
			t.Fatalf("notification %d is %s numbered %d, want %s numbered %d", i, n.ID, n.Seq, ns[i].ID, got[0].Seq+int64(i))
		}
	}
}
