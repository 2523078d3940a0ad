package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// testBulkCustomers: PutCustomers writes and replaces whole rows like
// PutCustomer, and CustomersByID reads back exactly the ones that exist.
func testBulkCustomers(t *testing.T, s ledger.Store) {
	ctx := t.Context()
	full := fullCustomer(tenantA, "bulk-full")
	plain := newCustomer(tenantA, "bulk-plain")
	other := newCustomer(tenantB, "bulk-full") // same id, other tenant
	if err := s.Update(ctx, func(tx ledger.Tx) error {
		if err := tx.PutCustomers(ctx, []ledger.Customer{full, plain}); err != nil {
			return err
		}
		return tx.PutCustomers(ctx, []ledger.Customer{other})
	}); err != nil {
		t.Fatal(err)
	}
	replaced := plain
	replaced.Profile.DisplayName, replaced.State.Count, replaced.Keys.Recovery = "replaced", 7, ptr(-1e6-3.5)
	var got map[string]ledger.Customer
	if err := s.Update(ctx, func(tx ledger.Tx) error {
		if err := tx.PutCustomers(ctx, []ledger.Customer{replaced}); err != nil {
			return err
		}
		var err error
		got, err = tx.CustomersByID(ctx, tenantA, []string{"bulk-full", "bulk-plain", "bulk-missing"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("CustomersByID returned %d customers, want 2: %v", len(got), customerIDs(mapValues(got)))
	}
	equalCustomer(t, "bulk full", got["bulk-full"], full)
	equalCustomer(t, "bulk replaced", got["bulk-plain"], replaced)
	if err := s.Update(ctx, func(tx ledger.Tx) error {
		none, err := tx.CustomersByID(ctx, tenantA, nil)
		if err == nil && len(none) != 0 {
			t.Errorf("CustomersByID(nil) = %d customers", len(none))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// testBulkEvents: AppendEvents inserts every event, EventsByKeys finds the
// holders of keys, and a duplicate key in a bulk insert is ErrDuplicate
// with nothing of that call stored.
func testBulkEvents(t *testing.T, s ledger.Store) {
	ctx := t.Context()
	e1, e2 := fullEvent(tenantA, "bulk-c1", "be-1"), fullEvent(tenantA, "bulk-c2", "be-2")
	e3 := plainEvent(tenantA, "bulk-c1", "be-3", ledger.KindCredit, at(5)) // no key
	if err := s.Update(ctx, func(tx ledger.Tx) error { return tx.AppendEvents(ctx, []ledger.Event{e1, e2, e3}) }); err != nil {
		t.Fatal(err)
	}
	var holders map[ledger.CustomerKey]ledger.Event
	if err := s.View(ctx, func(r ledger.Reader) error {
		hist, err := r.History(ctx, tenantA, "bulk-c1")
		if err == nil && len(hist) != 2 {
			t.Errorf("bulk-c1 history has %d events, want 2", len(hist))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx ledger.Tx) error {
		var err error
		holders, err = tx.EventsByKeys(ctx, tenantA, []ledger.CustomerKey{
			{CustomerID: "bulk-c1", Key: e1.IdempotencyKey},
			{CustomerID: "bulk-c2", Key: e2.IdempotencyKey},
			{CustomerID: "bulk-c1", Key: e2.IdempotencyKey}, // another customer's key
			{CustomerID: "bulk-c9", Key: "nope"},
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(holders) != 2 {
		t.Fatalf("EventsByKeys found %d holders, want 2", len(holders))
	}
	equalEvent(t, "holder of e1's key", holders[ledger.CustomerKey{CustomerID: "bulk-c1", Key: e1.IdempotencyKey}], e1)
	equalEvent(t, "holder of e2's key", holders[ledger.CustomerKey{CustomerID: "bulk-c2", Key: e2.IdempotencyKey}], e2)

	dup := fullEvent(tenantA, "bulk-c1", "be-4")
	dup.IdempotencyKey = e1.IdempotencyKey
	fresh := plainEvent(tenantA, "bulk-c3", "be-5", ledger.KindCredit, at(6))
	err := s.Update(ctx, func(tx ledger.Tx) error { return tx.AppendEvents(ctx, []ledger.Event{fresh, dup}) })
	if !errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("AppendEvents with a taken key = %v, want ErrDuplicate", err)
	}
	if err := s.View(ctx, func(r ledger.Reader) error {
		hist, err := r.History(ctx, tenantA, "bulk-c3")
		if err == nil && len(hist) != 0 {
			t.Errorf("a failed AppendEvents left %d events behind", len(hist))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func mapValues(m map[string]ledger.Customer) []ledger.Customer {
	out := make([]ledger.Customer, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	return out
}

// testHistories: several customers' histories in one read, each whole and
// equal to History's, another tenant's events left out, customers
// without events absent.
func testHistories(t *testing.T, s ledger.Store) {
	evs := []ledger.Event{
		plainEvent(tenantA, "hist-c1", "hi-1", ledger.KindCredit, at(1)),
		plainEvent(tenantA, "hist-c1", "hi-2", ledger.KindOutage, at(2)),
		fullEvent(tenantA, "hist-c1", "hi-3"),
		plainEvent(tenantA, "hist-c2", "hi-4", ledger.KindCredit, at(3)),
		plainEvent(tenantB, "hist-c1", "hi-5", ledger.KindCredit, at(4)),
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.AppendEvents(ctx, evs) })
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		got, err := tx.Histories(ctx, tenantA, []string{"hist-c1", "hist-c2", "hist-none"})
		if err != nil {
			return err
		}
		if len(got) != 2 || len(got["hist-c1"]) != 3 || len(got["hist-c2"]) != 1 {
			t.Fatalf("Histories: %d customers, %d and %d events; want 2 customers, 3 and 1 events",
				len(got), len(got["hist-c1"]), len(got["hist-c2"]))
		}
		one, err := tx.History(ctx, tenantA, "hist-c1")
		if err != nil {
			return err
		}
		byID := map[string]ledger.Event{}
		for _, e := range got["hist-c1"] {
			byID[e.ID] = e
		}
		for _, e := range one {
			equalEvent(t, "Histories' "+e.ID, byID[e.ID], e)
		}
		empty, err := tx.Histories(ctx, tenantA, nil)
		if err == nil && len(empty) != 0 {
			t.Errorf("Histories of nobody: %v", empty)
		}
		return err
	})
}
