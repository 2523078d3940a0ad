package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

var errBoom = errors.New("boom")

func testUpdateRollback(t *testing.T, s ledger.Store) {
	v1 := fullCustomer(tenantA, "existing")
	kept := plainEvent(tenantA, "existing", "ev-kept", ledger.KindCredit, at(0))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.AppendEvent(ctx, kept); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, v1)
	})

	v2 := v1
	v2.Profile.DisplayName = "changed"
	v2.State.Count++
	lost := fullEvent(tenantA, "existing", "ev-lost")
	lostNew := fullEvent(tenantA, "new", "ev-lost-new")
	runs := 0
	err := s.Update(t.Context(), func(tx ledger.Tx) error {
		ctx := t.Context()
		runs++
		if err := tx.AppendEvent(ctx, lost); err != nil {
			return err
		}
		if err := tx.PutCustomer(ctx, v2); err != nil {
			return err
		}
		if err := record(ctx, tx, lostNew); err != nil {
			return err
		}
		return fmt.Errorf("closure failed: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update error = %v, want one wrapping the closure's error", err)
	}
	if runs != 1 {
		t.Errorf("closure ran %d times; an error from it must not be retried", runs)
	}

	got, err := getCustomer(t, s, tenantA, "existing")
	if err != nil {
		t.Fatalf("Customer: %v", err)
	}
	equalCustomer(t, "customer after rollback", got, v1)
	if _, err := getCustomer(t, s, tenantA, "new"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("customer created in the rolled back Update: error = %v, want ErrNotFound", err)
	}
	for _, e := range []ledger.Event{lost, lostNew} {
		if _, err := getEvent(t, s, tenantA, e.CustomerID, e.ID); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Event(%s) from the rolled back Update: error = %v, want ErrNotFound", e.ID, err)
		}
		if _, err := getEventByKey(t, s, tenantA, e.CustomerID, e.IdempotencyKey); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("EventByKey(%s) from the rolled back Update: error = %v, want ErrNotFound", e.IdempotencyKey, err)
		}
	}
	equalEventSets(t, "History after rollback", history(t, s, tenantA, "existing"), []ledger.Event{kept})

	// The store still takes writes, and the key of the lost event is free.
	mustRecord(t, s, lost)
	if _, err := getEventByKey(t, s, tenantA, "existing", lost.IdempotencyKey); err != nil {
		t.Fatalf("EventByKey after rewriting the lost event: %v", err)
	}
}

func testUpdateCanceledContext(t *testing.T, s ledger.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e := plainEvent(tenantA, "c1", "ev-1", ledger.KindCredit, at(0))
	err := s.Update(ctx, func(tx ledger.Tx) error { return record(ctx, tx, e) })
	if err == nil {
		t.Fatal("Update with a canceled context succeeded")
	}
	if _, err := getEvent(t, s, tenantA, "c1", e.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Event after an Update with a canceled context: error = %v, want ErrNotFound", err)
	}
	mustRecord(t, s, e) // the store is still usable
}

// testUpdatePanicRollsBack: a closure that panics (or calls t.FailNow, or
// runtime.Goexit) must not leave its transaction open: the panic reaches the
// caller, nothing is written and the store keeps serving writes while the
// caller's context is still alive (think of a gRPC recovery interceptor
// under a long-lived server context).
func testUpdatePanicRollsBack(t *testing.T, s ledger.Store) {
	e := plainEvent(tenantA, "c1", "ev-panic", ledger.KindCredit, at(0))
	recovered := func() (r any) {
		defer func() { r = recover() }()
		_ = s.Update(t.Context(), func(tx ledger.Tx) error {
			if err := record(t.Context(), tx, e); err != nil {
				return err
			}
			panic(errBoom)
		})
		return nil
	}()
	if recovered != errBoom {
		t.Fatalf("recovered %v, want the closure's panic value", recovered)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	next := plainEvent(tenantA, "c1", "ev-next", ledger.KindCredit, at(1))
	if err := s.Update(ctx, func(tx ledger.Tx) error { return record(ctx, tx, next) }); err != nil {
		t.Fatalf("Update after a panicking Update: %v (its transaction was left open?)", err)
	}
	if _, err := getEvent(t, s, tenantA, "c1", e.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("event written before the panic: error = %v, want ErrNotFound", err)
	}
}

// testViewDuringUpdate: a View that runs while an Update has written but not
// committed sees the state before the Update, never part of it. A backend
// whose readers wait for the writer (CockroachDB waits on write intents) may
// instead see the committed state; either way the View sees all of the
// Update or none of it.
func testViewDuringUpdate(t *testing.T, s ledger.Store) {
	ctx := t.Context()
	v1 := fullCustomer(tenantA, "c1")
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutCustomer(ctx, v1) })
	v2 := v1
	v2.State.Count++
	e := fullEvent(tenantA, "c1", "ev-1")

	written := make(chan struct{})
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	var writtenOnce sync.Once
	updated := make(chan error, 1)
	go func() {
		updated <- s.Update(ctx, func(tx ledger.Tx) error {
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
			if err := tx.PutCustomer(ctx, v2); err != nil {
				return err
			}
			writtenOnce.Do(func() { close(written) })
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	select {
	case <-written:
	case err := <-updated:
		t.Fatalf("Update ended before it wrote: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("Update did not start")
	}

	type seen struct {
		customer ledger.Customer
		eventErr error
		keyErr   error
		history  []ledger.Event
	}
	viewed := make(chan seen, 1)
	viewErr := make(chan error, 1)
	go func() {
		var v seen
		viewErr <- s.View(ctx, func(r ledger.Reader) error {
			var err error
			if v.customer, err = r.Customer(ctx, tenantA, "c1"); err != nil {
				return err
			}
			_, v.eventErr = r.Event(ctx, tenantA, "c1", e.ID)
			_, v.keyErr = r.EventByKey(ctx, tenantA, "c1", e.IdempotencyKey)
			v.history, err = r.History(ctx, tenantA, "c1")
			return err
		})
		viewed <- v
	}()

	var v seen
	committedFirst := false
	select {
	case err := <-viewErr:
		if err != nil {
			t.Fatalf("View during Update: %v", err)
		}
		v = <-viewed
	case <-time.After(2 * time.Second):
		// The View waits for the writer; let it commit.
		committedFirst = true
		t.Log("View waited for the open Update; checking it sees the committed state")
		releaseOnce()
		select {
		case err := <-viewErr:
			if err != nil {
				t.Fatalf("View during Update: %v", err)
			}
			v = <-viewed
		case <-time.After(waitLimit):
			t.Fatal("View did not end after the Update was released")
		}
	}
	releaseOnce()
	select {
	case err := <-updated:
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Update did not commit after release")
	}

	sawUpdate := v.customer.State.Count == v2.State.Count
	switch {
	case sawUpdate && !committedFirst:
		t.Errorf("View that ended before the Update committed saw its write (Count %d)", v.customer.State.Count)
	case sawUpdate:
		if v.eventErr != nil || v.keyErr != nil || len(v.history) != 1 {
			t.Errorf("View saw the Update's customer but not its event: Event %v, EventByKey %v, History %v",
				v.eventErr, v.keyErr, eventIDs(v.history))
		}
	default:
		equalCustomer(t, "customer seen during the Update", v.customer, v1)
		if !errors.Is(v.eventErr, ledger.ErrNotFound) || !errors.Is(v.keyErr, ledger.ErrNotFound) || len(v.history) != 0 {
			t.Errorf("View saw the uncommitted event: Event %v, EventByKey %v, History %v",
				v.eventErr, v.keyErr, eventIDs(v.history))
		}
	}

	got, err := getCustomer(t, s, tenantA, "c1")
	if err != nil {
		t.Fatalf("Customer after commit: %v", err)
	}
	equalCustomer(t, "customer after commit", got, v2)
	if _, err := getEvent(t, s, tenantA, "c1", e.ID); err != nil {
		t.Fatalf("Event after commit: %v", err)
	}
}

// testViewSnapshot: all reads of one View see one state, even when an
// Update commits between them.
func testViewSnapshot(t *testing.T, s ledger.Store) {
	v1 := newCustomer(tenantA, "c1")
	v1.State.Count = 1
	e1 := plainEvent(tenantA, "c1", "ev-1", ledger.KindCredit, at(0))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.AppendEvent(ctx, e1); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, v1)
	})
	v2 := v1
	v2.State.Count = 2
	e2 := plainEvent(tenantA, "c1", "ev-2", ledger.KindCredit, at(1))
	e2.IdempotencyKey = "key-2"

	updated := make(chan error, 1)
	committed := false
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		c, err := r.Customer(ctx, tenantA, "c1")
		if err != nil {
			return err
		}
		if c.State.Count != 1 {
			return fmt.Errorf("first read: Count = %d, want 1", c.State.Count)
		}
		go func() {
			updated <- s.Update(ctx, func(tx ledger.Tx) error {
				if err := tx.AppendEvent(ctx, e2); err != nil {
					return err
				}
				return tx.PutCustomer(ctx, v2)
			})
		}()
		select {
		case err := <-updated:
			if err != nil {
				return fmt.Errorf("concurrent Update: %w", err)
			}
			committed = true
		case <-time.After(2 * time.Second):
			t.Log("Update waits for the open View; checking reads stay consistent anyway")
		}
		if c, err = r.Customer(ctx, tenantA, "c1"); err != nil {
			return err
		}
		if c.State.Count != 1 {
			t.Errorf("second read in one View: Count = %d, want 1 (the snapshot moved)", c.State.Count)
		}
		if _, err := r.Event(ctx, tenantA, "c1", e2.ID); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Event committed after the View's first read: error = %v, want ErrNotFound", err)
		}
		if _, err := r.EventByKey(ctx, tenantA, "c1", e2.IdempotencyKey); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("EventByKey committed after the View's first read: error = %v, want ErrNotFound", err)
		}
		list, err := r.Events(ctx, tenantA, "c1", ledger.EventQuery{Limit: 10})
		if err != nil {
			return err
		}
		equalEventLists(t, "Events in the View", list, []ledger.Event{e1})
		hist, err := r.History(ctx, tenantA, "c1")
		if err != nil {
			return err
		}
		equalEventSets(t, "History in the View", hist, []ledger.Event{e1})
		return nil
	})
	if !committed {
		select {
		case err := <-updated:
			if err != nil {
				t.Fatalf("concurrent Update: %v", err)
			}
		case <-time.After(waitLimit):
			t.Fatal("Update did not commit after the View ended")
		}
	}
	got, err := getCustomer(t, s, tenantA, "c1")
	if err != nil {
		t.Fatalf("Customer: %v", err)
	}
	equalCustomer(t, "customer after the View", got, v2)
}

// testConcurrentCounter: read-modify-write Updates from many goroutines are
// serializable; none is lost.
func testConcurrentCounter(t *testing.T, s ledger.Store) {
	const workers, perWorker = 16, 20
	ctx := t.Context()
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		return tx.PutCustomer(ctx, newCustomer(tenantA, "hot"))
	})
	together(workers, func(w int) {
		for i := range perWorker {
			err := s.Update(ctx, func(tx ledger.Tx) error {
				c, err := tx.Customer(ctx, tenantA, "hot")
				if err != nil {
					return err
				}
				c.State.Count++
				c.State.Value += 0.5
				c.UpdatedAt = at(w*perWorker + i)
				return tx.PutCustomer(ctx, c)
			})
			if err != nil {
				t.Errorf("worker %d, Update %d: %v", w, i, err)
				return
			}
		}
	})
	got, err := getCustomer(t, s, tenantA, "hot")
	if err != nil {
		t.Fatalf("Customer: %v", err)
	}
	if got.State.Count != workers*perWorker {
		t.Errorf("Count = %d, want %d: read-modify-write Updates were lost", got.State.Count, workers*perWorker)
	}
	if want := float64(workers*perWorker) / 2; got.State.Value != want {
		t.Errorf("Value = %v, want %v", got.State.Value, want)
	}
}

// testConcurrentAppends: many writers append to one customer (and update its
// row, as the Service does); every event lands.
func testConcurrentAppends(t *testing.T, s ledger.Store) {
	const workers, perWorker = 8, 10
	ctx := t.Context()
	var wg sync.WaitGroup
	start := make(chan struct{})
	want := map[string]bool{}
	for w := range workers {
		for i := range perWorker {
			want[fmt.Sprintf("ev-%d-%02d", w, i)] = true
		}
		wg.Go(func() {
			<-start
			for i := range perWorker {
				e := plainEvent(tenantA, "hot", fmt.Sprintf("ev-%d-%02d", w, i), ledger.KindCredit, at(i))
				e.IdempotencyKey = fmt.Sprintf("key-%d-%02d", w, i)
				err := s.Update(ctx, func(tx ledger.Tx) error {
					if err := tx.AppendEvent(ctx, e); err != nil {
						return err
					}
					c, err := tx.Customer(ctx, tenantA, "hot")
					if errors.Is(err, ledger.ErrNotFound) {
						c = newCustomer(tenantA, "hot")
					} else if err != nil {
						return err
					}
					c.State.Count++
					return tx.PutCustomer(ctx, c)
				})
				if err != nil {
					t.Errorf("worker %d, event %d: %v", w, i, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	hist := history(t, s, tenantA, "hot")
	got := map[string]bool{}
	for _, e := range hist {
		if got[e.ID] {
			t.Errorf("History holds %s twice", e.ID)
		}
		got[e.ID] = true
	}
	if !maps.Equal(got, want) {
		t.Errorf("History holds %d events, want %d", len(got), len(want))
	}
	c, err := getCustomer(t, s, tenantA, "hot")
	if err != nil {
		t.Fatalf("Customer: %v", err)
	}
	if c.State.Count != workers*perWorker {
		t.Errorf("Count = %d, want %d", c.State.Count, workers*perWorker)
	}
}

// testConcurrentDuplicateKey: racing "look up the key, append if absent"
// transactions leave exactly one event under the key. Losers either see the
// winner's event (nil) or hit the unique constraint (ErrDuplicate).
func testConcurrentDuplicateKey(t *testing.T, s ledger.Store) {
	const workers = 8
	const key = "race-key"
	ctx := t.Context()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, workers)
	attempted := map[string]bool{}
	for w := range workers {
		id := fmt.Sprintf("ev-racer-%d", w)
		attempted[id] = true
		wg.Go(func() {
			<-start
			e := plainEvent(tenantA, "c1", id, ledger.KindCredit, at(w))
			e.IdempotencyKey = key
			errs[w] = s.Update(ctx, func(tx ledger.Tx) error {
				_, err := tx.EventByKey(ctx, tenantA, "c1", key)
				switch {
				case err == nil:
					return nil // someone else won; replay
				case !errors.Is(err, ledger.ErrNotFound):
					return err
				}
				return record(ctx, tx, e)
			})
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for w, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ledger.ErrDuplicate):
		default:
			t.Errorf("worker %d: Update error = %v, want nil or ErrDuplicate", w, err)
		}
	}
	if ok == 0 {
		t.Error("no Update succeeded")
	}
	var holders []string
	for _, e := range history(t, s, tenantA, "c1") {
		if e.IdempotencyKey == key {
			holders = append(holders, e.ID)
		}
	}
	if len(holders) != 1 {
		t.Fatalf("events holding the key: %v, want exactly one", holders)
	}
	got, err := getEventByKey(t, s, tenantA, "c1", key)
	if err != nil {
		t.Fatalf("EventByKey: %v", err)
	}
	if got.ID != holders[0] || !attempted[got.ID] {
		t.Errorf("EventByKey = %s, want %s (one of the racers)", got.ID, holders[0])
	}
}

// testViewStale checks that ViewStale reads and passes the closure's error
// back. How stale it may be is the backend's to say (CockroachDB's follower
// reads lag by seconds), so freshness is not asserted: only that data
// committed long enough ago, or always on backends without stale reads, is
// readable through it without error.
func testViewStale(t *testing.T, s ledger.Store) {
	ctx := t.Context()
	c := newCustomer(tenantA, "stale-1")
	if err := s.Update(ctx, func(tx ledger.Tx) error { return tx.PutCustomer(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := s.ViewStale(ctx, func(r ledger.Reader) error {
		var err error
		n, err = r.CountCustomers(ctx, tenantA)
		return err
	}); err != nil {
		t.Fatalf("ViewStale: %v", err)
	}
	if n != 0 && n != 1 {
		t.Errorf("CountCustomers through ViewStale = %d, want 0 (stale) or 1", n)
	}
	sentinel := errors.New("closure failed")
	if err := s.ViewStale(ctx, func(ledger.Reader) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("ViewStale returned %v, want the closure's error", err)
	}
}

// A batch's writes commit whatever comes after them: the last statements
// of a transaction (a backend may hold batched inserts back to send with
// the customer upsert), the upsert carrying them, and a duplicate among
// them failing the whole transaction, not vanishing.
func testBatchedWritesCommit(t *testing.T, s ledger.Store) {
	last := []ledger.Event{plainEvent(tenantA, "tail", "ev-tail-1", ledger.KindCredit, at(1)),
		plainEvent(tenantA, "tail", "ev-tail-2", ledger.KindOutage, at(2))}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.AppendEvents(ctx, last) })
	equalEventSets(t, "events appended last in their transaction", history(t, s, tenantA, "tail"), last)

	// A recording batch's shape: events, their notifications, the customer.
	carried := plainEvent(tenantA, "carried", "ev-carried", ledger.KindCredit, at(3))
	n := note(tenantA, "carried", 1, ledger.NotifyAdvocate, at(3))
	c := fullCustomer(tenantA, "carried")
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.AppendEvents(ctx, []ledger.Event{carried}); err != nil {
			return err
		}
		if err := tx.AppendNotifications(ctx, []ledger.Notification{n}); err != nil {
			return err
		}
		return tx.PutCustomers(ctx, []ledger.Customer{c})
	})
	equalEventSets(t, "an event appended before the customer upsert", history(t, s, tenantA, "carried"), []ledger.Event{carried})
	sequenceAll(t, s) // a backend that numbers later: number it, to read it
	if got := readNotifications(t, s, tenantA, 0, nil, 10); len(got) != 1 || got[0].ID != n.ID {
		t.Errorf("the notification written with the event and the customer: got %d, want %s", len(got), n.ID)
	}
	got, err := getCustomer(t, s, tenantA, "carried")
	if err != nil {
		t.Fatal(err)
	}
	equalCustomer(t, "the customer written with the event", got, c)

	// The same event id again, or the same notification id, with another
	// customer change: the duplicate fails the transaction, and the change
	// does not land.
	c2 := c
	c2.Profile.DisplayName = "must not land"
	fresh := plainEvent(tenantA, "carried", "ev-carried-2", ledger.KindCredit, at(4))
	for _, dup := range []struct {
		what  string
		event ledger.Event
		note  ledger.Notification
	}{{"event", carried, note(tenantA, "carried", 2, ledger.NotifyAdvocate, at(4))}, {"notification", fresh, n}} {
		err = s.Update(t.Context(), func(tx ledger.Tx) error {
			ctx := t.Context()
			if err := tx.AppendEvents(ctx, []ledger.Event{dup.event}); err != nil {
				return err
			}
			if err := tx.AppendNotifications(ctx, []ledger.Notification{dup.note}); err != nil {
				return err
			}
			return tx.PutCustomers(ctx, []ledger.Customer{c2})
		})
		if err == nil {
			t.Fatalf("a duplicate %s id: no error", dup.what)
		}
		if got, _ := getCustomer(t, s, tenantA, "carried"); got.Profile.DisplayName == "must not land" {
			t.Errorf("a duplicate %s id: the customer change of the failed transaction landed", dup.what)
		}
	}
}
