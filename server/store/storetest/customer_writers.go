package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// testConcurrentCustomerWriters: UpdateCustomers and Update transactions
// writing the same customers at once, one customer that exists and some
// that the first writer creates, lose and double nothing: every count and
// every event lands exactly once. UpdateCustomers may run at a weaker
// isolation than Update (PostgreSQL: READ COMMITTED), so this is what
// proves its guards keep the guarantees: a writer that read a customer
// before another committed it must not overwrite that write.
func testConcurrentCustomerWriters(t *testing.T, s ledger.Store) {
	const workers, perWorker, fresh = 12, 8, 3
	ctx := t.Context()
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		return tx.PutCustomer(ctx, newCustomer(tenantA, "hot"))
	})
	together(workers, func(w int) {
		for i := range perWorker {
			ids := []string{"hot", fmt.Sprintf("fresh-%d", (w+i)%fresh)}
			write := func(tx ledger.Tx) error {
				if w%4 == 0 { // as the ledger's write batches read
					if err := readAhead(ctx, tx, tenantA, ids, nil); err != nil {
						return err
					}
				}
				if _, err := tx.ActivePolicy(ctx, tenantA); err != nil && !errors.Is(err, ledger.ErrNotFound) {
					return err
				}
				var cs map[string]ledger.Customer
				if w%2 == 0 {
					var err error
					if cs, err = tx.CustomersByID(ctx, tenantA, ids); err != nil {
						return err
					}
				} else { // one at a time, as ReverseEvent and PutCustomer read
					cs = map[string]ledger.Customer{}
					for _, id := range ids {
						c, err := tx.Customer(ctx, tenantA, id)
						if errors.Is(err, ledger.ErrNotFound) {
							continue
						}
						if err != nil {
							return err
						}
						cs[id] = c
					}
				}
				var out []ledger.Customer
				for _, id := range ids {
					c, ok := cs[id]
					if !ok {
						c = newCustomer(tenantA, id)
					}
					e := plainEvent(tenantA, id, fmt.Sprintf("ev-%d-%d-%s", w, i, id), ledger.KindCredit, at(i))
					e.IdempotencyKey = e.ID
					if err := tx.AppendEvent(ctx, e); err != nil {
						return err
					}
					c.State.Count++
					c.State.Value += 0.5
					out = append(out, c)
				}
				return tx.PutCustomers(ctx, out)
			}
			var err error
			if w%4 < 2 { // half through each kind of transaction
				err = s.UpdateCustomers(ctx, write)
			} else {
				err = s.Update(ctx, write)
			}
			if err != nil {
				t.Errorf("worker %d, write %d: %v", w, i, err)
				return
			}
		}
	})
	want := map[string]int{"hot": workers * perWorker}
	for w := range workers {
		for i := range perWorker {
			want[fmt.Sprintf("fresh-%d", (w+i)%fresh)]++
		}
	}
	for id, n := range want {
		c, err := getCustomer(t, s, tenantA, id)
		if err != nil {
			t.Fatalf("Customer(%s): %v", id, err)
		}
		if c.State.Count != int64(n) || c.State.Value != float64(n)/2 {
			t.Errorf("%s: count %d, value %v; want %d and %v: a write was lost or doubled", id, c.State.Count, c.State.Value, n, float64(n)/2)
		}
		if got := len(history(t, s, tenantA, id)); got != n {
			t.Errorf("%s: %d events, want %d", id, got, n)
		}
	}
}

// testPolicyWaitsForWriters: a policy is installed between the
// transactions that write under the active policy, never beneath one. An
// UpdateCustomers transaction that has read the active policy holds off a
// PutPolicy until it commits; otherwise the recompute job that follows an
// install could pass a customer before that transaction writes it under
// the old policy, and leave it there.
func testPolicyWaitsForWriters(t *testing.T, s ledger.Store) {
	ctx := t.Context()
	const hold = 300 * time.Millisecond
	read := make(chan struct{})
	var once sync.Once
	var writerDone time.Time
	writer := make(chan error, 1)
	go func() {
		writer <- s.UpdateCustomers(ctx, func(tx ledger.Tx) error {
			// Read as the ledger's write batches do: the policy lock and
			// the policy travel with the customers' read.
			if err := readAhead(ctx, tx, tenantA, []string{"under-old"}, nil); err != nil {
				return err
			}
			if _, err := tx.ActivePolicy(ctx, tenantA); err != nil && !errors.Is(err, ledger.ErrNotFound) {
				return err
			}
			if _, err := tx.CustomersByID(ctx, tenantA, []string{"under-old"}); err != nil {
				return err
			}
			once.Do(func() { close(read) })
			time.Sleep(hold)
			c := newCustomer(tenantA, "under-old")
			c.PolicyVersion = 0
			writerDone = time.Now()
			return tx.PutCustomers(ctx, []ledger.Customer{c})
		})
	}()
	select {
	case <-read:
	case <-time.After(waitLimit):
		t.Fatal("the writer never read the policy")
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, policyV1) })
	installed := time.Now()
	if err := <-writer; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if installed.Before(writerDone) {
		t.Errorf("PutPolicy committed %v before the writer under the old policy finished its closure", writerDone.Sub(installed))
	}
	wantActive(t, s, tenantA, policyV1)
}
