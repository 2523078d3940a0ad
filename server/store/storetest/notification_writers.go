package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// testNotificationsWithoutHoles: while transactions of both kinds append
// notifications at once (and, where a store leaves them unnumbered, a
// sequencer numbers them), every read of the stream is gap-free: a reader
// that sees number n sees every number below it, so a cursor never skips
// one that commits later. A store that numbered at insert without ordering
// the commits fails here: a transaction holding 7 commits after one
// holding 8, and a read between them sees 8 without 7.
func testNotificationsWithoutHoles(t *testing.T, s ledger.Store) {
	const writers, perWriter = 8, 12
	ctx := t.Context()
	var writing atomic.Int32
	writing.Store(writers)
	reads := make(chan error, 1)
	go func() { // the reader, and the sequencer where there is one to run
		defer close(reads)
		for {
			finished := writing.Load() == 0
			if _, err := sequence(ctx, s); err != nil {
				reads <- err
				return
			}
			var ns []ledger.Notification
			err := s.View(ctx, func(r ledger.Reader) error {
				var err error
				ns, err = r.Notifications(ctx, tenantA, 0, nil, writers*perWriter*2+1)
				return err
			})
			if err != nil {
				reads <- err
				return
			}
			for i, n := range ns {
				if n.Seq != int64(i+1) {
					reads <- fmt.Errorf("a read of %d notifications holds number %d at place %d: a hole below it", len(ns), n.Seq, i+1)
					return
				}
			}
			if finished {
				if len(ns) != writers*perWriter*2 {
					reads <- fmt.Errorf("read %d notifications after the writers ended, want %d", len(ns), writers*perWriter*2)
				}
				return
			}
		}
	}()
	together(writers, func(w int) {
		defer writing.Add(-1)
		for i := range perWriter {
			id := fmt.Sprintf("w%d", w) // each writer its own customer, as group-commit writers are
			write := func(tx ledger.Tx) error {
				if _, err := tx.CustomersByID(ctx, tenantA, []string{id}); err != nil {
					return err
				}
				c := newCustomer(tenantA, id)
				c.UpdatedAt = at(i)
				if err := tx.PutCustomers(ctx, []ledger.Customer{c}); err != nil {
					return err
				}
				time.Sleep(time.Millisecond) // a window for another writer to commit first
				return tx.AppendNotifications(ctx, []ledger.Notification{
					note(tenantA, id, int64(2*i+1), ledger.NotifyRecovered, at(i)),
					note(tenantA, id, int64(2*i+2), ledger.NotifyOverdrawn, at(i)),
				})
			}
			var err error
			if w%2 == 0 {
				err = s.UpdateCustomers(ctx, write)
			} else {
				err = s.Update(ctx, write)
			}
			if err != nil {
				t.Errorf("writer %d, transaction %d: %v", w, i, err)
				return
			}
		}
	})
	if err := <-reads; err != nil {
		t.Fatal(err)
	}
	// A store that numbers as it writes knows the last number it gave,
	// and the ledger wakes readers with it: it must be the stream's end.
	if n, ok := s.(ledger.WriteNumberer); ok {
		if last, numbers := n.NumberedAtWrite(); numbers && last != writers*perWriter*2 {
			t.Errorf("NumberedAtWrite says %d after %d notifications were written", last, writers*perWriter*2)
		}
	}
}

// sequence numbers what waits, as the sequencer does, and says how many
// it numbered.
func sequence(ctx context.Context, s ledger.Store) (int, error) {
	var n int
	err := s.Update(ctx, func(tx ledger.Tx) error {
		var err error
		n, _, err = ledger.NumberWaiting(ctx, tx, 1000)
		return err
	})
	return n, err
}
