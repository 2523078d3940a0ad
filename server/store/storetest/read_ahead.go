package storetest

import (
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// readAhead makes a write batch's first reads at once where the store's
// transaction can (ledger.ReadAheader), as the ledger does.
func readAhead(ctx context.Context, tx ledger.Tx, tenant string, ids []string, keys []ledger.CustomerKey) error {
	if r, ok := tx.(ledger.ReadAheader); ok {
		return r.ReadAhead(ctx, tenant, ids, keys)
	}
	return nil
}

// errRollback ends a transaction that must not commit.
var errRollback = errors.New("rolled back on purpose")

// batchReadsResult is what a write batch reads first: the active policy,
// the customers and the holders of the keys.
type batchReadsResult struct {
	Policy    ledger.StoredPolicy
	PolicyErr error
	Customers map[string]ledger.Customer
	Holders   map[ledger.CustomerKey]ledger.Event
}

// readBatch makes those reads, each with its own call.
func readBatch(ctx context.Context, tx ledger.Tx, tenant string, ids []string, keys []ledger.CustomerKey) (r batchReadsResult, err error) {
	r.Policy, r.PolicyErr = tx.ActivePolicy(ctx, tenant)
	if r.PolicyErr != nil && !errors.Is(r.PolicyErr, ledger.ErrNotFound) {
		return r, r.PolicyErr
	}
	if r.Customers, err = tx.CustomersByID(ctx, tenant, ids); err != nil {
		return r, err
	}
	r.Holders, err = tx.EventsByKeys(ctx, tenant, keys)
	return r, err
}

// testReadAhead: reads made ahead (ledger.ReadAheader) answer exactly as
// the same reads made one by one, in both kinds of write transaction;
// each answer is given once, so a read after the transaction's own writes
// sees them; and a read with other arguments than foreseen goes to the
// store.
func testReadAhead(t *testing.T, s ledger.Store) {
	ctx := t.Context()
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutPolicy(ctx, tenantA, policyV1); err != nil {
			return err
		}
		e := plainEvent(tenantA, "ra-1", "ra-e1", ledger.KindCredit, at(1))
		e.IdempotencyKey = "ra-key"
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
		return tx.PutCustomers(ctx, []ledger.Customer{newCustomer(tenantA, "ra-1"), newCustomer(tenantA, "ra-2")})
	})
	ids := []string{"ra-2", "ra-missing", "ra-1"}
	keys := []ledger.CustomerKey{{CustomerID: "ra-1", Key: "ra-key"}, {CustomerID: "ra-2", Key: "ra-key"}, {CustomerID: "ra-1", Key: "ra-none"}}
	for _, kind := range []string{"UpdateCustomers", "Update"} {
		update := s.UpdateCustomers
		if kind == "Update" {
			update = s.Update
		}
		var plain, ahead batchReadsResult
		if err := update(ctx, func(tx ledger.Tx) (err error) {
			plain, err = readBatch(ctx, tx, tenantA, ids, keys)
			return err
		}); err != nil {
			t.Fatalf("%s, reads one by one: %v", kind, err)
		}
		if len(plain.Customers) != 2 || len(plain.Holders) != 1 || plain.Policy.Version != policyV1.Version {
			t.Fatalf("%s, reads one by one: %d customers, %d holders, policy %d; want 2, 1 and %d",
				kind, len(plain.Customers), len(plain.Holders), plain.Policy.Version, policyV1.Version)
		}
		if err := update(ctx, func(tx ledger.Tx) error {
			if err := readAhead(ctx, tx, tenantA, ids, keys); err != nil {
				return err
			}
			var err error
			if ahead, err = readBatch(ctx, tx, tenantA, ids, keys); err != nil {
				return err
			}
			// Answered once: after a write, the same read sees it.
			c := ahead.Customers["ra-2"]
			c.State.Count = 41
			if err := tx.PutCustomers(ctx, []ledger.Customer{c}); err != nil {
				return err
			}
			again, err := tx.CustomersByID(ctx, tenantA, ids)
			if err != nil {
				return err
			}
			if got := again["ra-2"].State.Count; got != 41 {
				t.Errorf("%s: CustomersByID after PutCustomers reads count %d, want 41: an answer read ahead was given twice", kind, got)
			}
			return errRollback
		}); !errors.Is(err, errRollback) {
			t.Fatalf("%s, reads made ahead: %v", kind, err)
		}
		if !reflect.DeepEqual(plain, ahead) {
			t.Errorf("%s: reads made ahead differ from the same reads one by one:\n ahead %+v\n plain %+v", kind, ahead, plain)
		}
	}
	// Other arguments than foreseen: the store answers them itself.
	if err := s.UpdateCustomers(ctx, func(tx ledger.Tx) error {
		if err := readAhead(ctx, tx, tenantA, []string{"ra-missing"}, nil); err != nil {
			return err
		}
		if _, err := tx.ActivePolicy(ctx, tenantA); err != nil {
			return err
		}
		cs, err := tx.CustomersByID(ctx, tenantA, []string{"ra-1"})
		if err != nil {
			return err
		}
		if _, ok := cs["ra-1"]; !ok || len(cs) != 1 {
			t.Errorf("CustomersByID(ra-1) after reading ahead for ra-missing: %d customers, want ra-1", len(cs))
		}
		hs, err := tx.EventsByKeys(ctx, tenantA, keys[:1])
		if err != nil {
			return err
		}
		if len(hs) != 1 {
			t.Errorf("EventsByKeys after reading ahead for no keys: %d holders, want 1", len(hs))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// testWriteAfterAnotherCommits: a write transaction that read a customer
// before another transaction committed a write of it must not overwrite
// that write, also when its reads were made ahead and its customer write
// travels with its notifications (PostgreSQL pipelines both). Either the
// store serializes the two (SQLite: the other waits for the lock), or the
// first transaction runs again and sees the other's write. Both writes
// land, and so do all the notifications, each once.
func testWriteAfterAnotherCommits(t *testing.T, s ledger.Store) {
	ctx := t.Context()
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		return tx.PutCustomer(ctx, newCustomer(tenantA, "contended"))
	})
	ids := []string{"contended"}
	// write adds one to the customer as read in cs, and a notification.
	write := func(tx ledger.Tx, cs map[string]ledger.Customer, seq int64) error {
		c := cs["contended"]
		c.State.Count++
		if err := tx.PutCustomers(ctx, []ledger.Customer{c}); err != nil {
			return err
		}
		return tx.AppendNotifications(ctx, []ledger.Notification{note(tenantA, "contended", seq, ledger.NotifyRecovered, at(int(seq)))})
	}
	var runs atomic.Int32
	var otherCommitted atomic.Bool
	other := make(chan error, 1)
	err := s.UpdateCustomers(ctx, func(tx ledger.Tx) error {
		if err := readAhead(ctx, tx, tenantA, ids, nil); err != nil {
			return err
		}
		if _, err := tx.ActivePolicy(ctx, tenantA); err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return err
		}
		cs, err := tx.CustomersByID(ctx, tenantA, ids)
		if err != nil {
			return err
		}
		if runs.Add(1) == 1 { // after the read, let the other write commit
			go func() {
				other <- s.UpdateCustomers(ctx, func(tx ledger.Tx) error {
					cs, err := tx.CustomersByID(ctx, tenantA, ids)
					if err != nil {
						return err
					}
					return write(tx, cs, 2)
				})
			}()
			select {
			case err := <-other:
				if err != nil {
					return err
				}
				otherCommitted.Store(true)
			case <-time.After(300 * time.Millisecond): // it waits for this one: a serializing store
			}
		}
		return write(tx, cs, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !otherCommitted.Load() {
		if err := <-other; err != nil {
			t.Fatalf("the other write: %v", err)
		}
	} else if runs.Load() < 2 {
		t.Errorf("the other write committed after this transaction read the customer, yet its first run committed: the other write was overwritten")
	}
	c, err := getCustomer(t, s, tenantA, "contended")
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Count != 2 {
		t.Errorf("count %d after two writes, want 2: a write was lost", c.State.Count)
	}
	if _, err := sequence(ctx, s); err != nil {
		t.Fatal(err)
	}
	var ns []ledger.Notification
	if err := s.View(ctx, func(r ledger.Reader) (err error) {
		ns, err = r.Notifications(ctx, tenantA, 0, nil, 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 || ns[0].Seq != 1 || ns[1].Seq != 2 {
		t.Errorf("%d notifications (%v), want numbers 1 and 2", len(ns), ns)
	}
}
