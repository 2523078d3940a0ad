package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// unreachableStore fails every write transaction as an unreachable
// database does, counting them.
type unreachableStore struct {
	ledger.Store
	updates atomic.Int64
}

func (u *unreachableStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	u.updates.Add(1)
	return fmt.Errorf("%w: connection refused (injected)", ledger.ErrUnavailable)
}

func (u *unreachableStore) UpdateCustomers(ctx context.Context, fn func(ledger.Tx) error) error {
	return u.Update(ctx, fn)
}

// When a shared transaction fails because the store is unavailable, every
// caller in the batch gets the error (none is acknowledged), at once: the
// batch is not retried write by write against a store that is down.
func TestGroupCommitFailsEveryWriteOfAnUnavailableBatch(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	us := &unreachableStore{Store: st}
	// A long window gathers all the writers into one batch. The
	// notifications' background work tries the store once each at start
	// (sequencer, scheduler, pruning), then waits an hour: it is let settle
	// first, and only the batch's transactions are counted.
	svc := ledger.NewService(us, ledger.Options{GroupCommit: ledger.GroupCommit{Window: 200 * time.Millisecond},
		Logger: quietLog(), Notify: ledger.NotifyOptions{SequencerPoll: time.Hour, ScheduleEvery: time.Hour}})
	runService(t, svc)
	for deadline := time.Now().Add(5 * time.Second); us.updates.Load() < 3 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	background := us.updates.Load()
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = svc.RecordEvent(t.Context(), ledger.DefaultTenant, ledger.NewEvent{CustomerID: "c1",
				Kind: ledger.KindCredit, IdempotencyKey: fmt.Sprintf("k%d", i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ledger.ErrUnavailable) {
			t.Errorf("writer %d: got %v, want ErrUnavailable (a failed batch must not acknowledge anyone)", i, err)
		}
	}
	if n := us.updates.Load() - background; n > 2 {
		t.Errorf("%d transactions for one failed batch of %d: the writes were retried one by one against a store that is down", n, writers)
	}
}

// commitThenFail commits every write transaction, then reports an error
// the store could not classify, as a CockroachDB RELEASE whose outcome is
// unknown once did (the batch had committed, or may have).
type commitThenFail struct {
	ledger.Store
	armed   atomic.Bool
	updates atomic.Int64
}

func (c *commitThenFail) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return c.update(ctx, c.Store.Update, fn)
}

func (c *commitThenFail) UpdateCustomers(ctx context.Context, fn func(ledger.Tx) error) error {
	return c.update(ctx, c.Store.UpdateCustomers, fn)
}

func (c *commitThenFail) update(ctx context.Context, through func(context.Context, func(ledger.Tx) error) error, fn func(ledger.Tx) error) error {
	var wrote bool
	err := through(ctx, func(tx ledger.Tx) error { return fn(eventSpy{tx, &wrote}) })
	if !wrote {
		return err // not a batch of events: background work, left alone
	}
	c.updates.Add(1)
	if err != nil || !c.armed.Load() {
		return err
	}
	return errors.New("RELEASE SAVEPOINT failed: internal error XX000 (injected)")
}

// A batch whose commit failed may have committed: its writes must not be
// re-run one by one (each re-run would meet its own committed event: at
// best a misleading "duplicate" for every caller, at worst a second copy
// had the event got a new id). Only an error the transaction itself raised
// before committing sends the writes down the one-by-one path.
func TestGroupCommitNeverReRunsABatchThatMayHaveCommitted(t *testing.T) {
	t.Parallel()
	st := &commitThenFail{Store: openStore(t)}
	svc := ledger.NewService(st, ledger.Options{GroupCommit: ledger.GroupCommit{Window: 200 * time.Millisecond}})
	runService(t, svc)
	st.armed.Store(true)
	const writers = 4
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			// No idempotency key: only the store's count tells a doubled event.
			_, errs[i] = svc.RecordEvent(t.Context(), ledger.DefaultTenant, ledger.NewEvent{CustomerID: "c1", Kind: ledger.KindCredit})
		})
	}
	wg.Wait()
	st.armed.Store(false)
	for i, err := range errs {
		if err == nil {
			t.Errorf("writer %d was acknowledged by a batch whose commit failed", i)
		}
	}
	b, err := svc.GetBalance(t.Context(), ledger.DefaultTenant, "c1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if b.EventCount != writers {
		t.Errorf("%d events stored for %d writes in one batch", b.EventCount, writers)
	}
	if n := st.updates.Load(); n != 1 {
		t.Errorf("%d write transactions for one batch whose commit failed, want 1 (no re-run): errors %v", n, errs)
	}
	for i, err := range errs {
		if errors.Is(err, ledger.ErrDuplicate) {
			t.Errorf("writer %d told its write was a duplicate: %v", i, err)
		}
	}
}

// gatedStore holds the first batch of events that reaches it until open is
// closed, so that writes queue behind it.
type gatedStore struct {
	ledger.Store
	entered, open chan struct{}
	once          sync.Once
}

func (g *gatedStore) UpdateCustomers(ctx context.Context, fn func(ledger.Tx) error) error {
	g.once.Do(func() {
		close(g.entered)
		<-g.open
	})
	return g.Store.UpdateCustomers(ctx, fn)
}

// A write whose caller gave up while it waited in the queue is dropped from
// its batch; its customer must still be free for the next write. (The
// batch was once compacted in place, and the collector then released the
// customers of the compacted slice: the dropped write's customer stayed
// "in flight" for ever and every later write of it was held until its
// caller's deadline. Seen as writes that did not recover after a database
// fault, TestPostgresNetworkFaults.)
func TestGroupCommitFreesTheCustomerOfAnAbandonedWrite(t *testing.T) {
	t.Parallel()
	st := &gatedStore{Store: openStore(t), entered: make(chan struct{}), open: make(chan struct{})}
	svc := ledger.NewService(st, ledger.Options{GroupCommit: ledger.GroupCommit{Window: 20 * time.Millisecond}, Logger: quietLog(),
		Notify: ledger.NotifyOptions{SequencerPoll: time.Hour, ScheduleEvery: time.Hour}})
	runService(t, svc)
	record := func(ctx context.Context, customer, key string) error {
		_, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: customer, Kind: ledger.KindCredit, IdempotencyKey: key})
		return err
	}
	// The first batch holds the only writer.
	first := make(chan error, 1)
	go func() { first <- record(t.Context(), "w", "w1") }()
	<-st.entered
	// x's caller gives up while queued; y's, queued after it, waits.
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	abandoned := make(chan error, 1)
	go func() { abandoned <- record(short, "x", "x1") }()
	time.Sleep(20 * time.Millisecond)
	second := make(chan error, 1)
	go func() { second <- record(t.Context(), "y", "y1") }()
	if err := <-abandoned; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the abandoned write: %v, want its deadline", err)
	}
	close(st.open)
	for name, ch := range map[string]chan error{"the first write": first, "y's write": second} {
		if err := <-ch; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	ctx, cancel2 := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel2()
	if err := record(ctx, "x", "x1"); err != nil {
		t.Fatalf("x's write after its abandoned one: %v (its customer is still held)", err)
	}
}

// A batch's window runs from its oldest write's arrival: writes that
// queued while the writer was busy have waited it already, so their batch
// goes as soon as the writer is free. (It once waited a whole window more,
// leaving the only writer idle after every batch under load.)
func TestGroupCommitBatchOfQueuedWritesDoesNotWaitAgain(t *testing.T) {
	t.Parallel()
	const window = time.Second
	st := &gatedStore{Store: openStore(t), entered: make(chan struct{}), open: make(chan struct{})}
	svc := ledger.NewService(st, ledger.Options{GroupCommit: ledger.GroupCommit{Window: window}, Logger: quietLog(),
		Notify: ledger.NotifyOptions{SequencerPoll: time.Hour, ScheduleEvery: time.Hour}})
	runService(t, svc)
	record := func(customer string) error {
		_, err := svc.RecordEvent(t.Context(), ledger.DefaultTenant, ledger.NewEvent{CustomerID: customer, Kind: ledger.KindCredit})
		return err
	}
	first := make(chan error, 1)
	go func() { first <- record("w") }()
	<-st.entered // the only writer is busy with w's batch
	queued := make(chan error, 1)
	go func() { queued <- record("y") }()
	time.Sleep(window + 100*time.Millisecond) // y has waited its window
	opened := time.Now()
	close(st.open)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-queued; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(opened); took > window/2 {
		t.Errorf("the queued write took %v after the writer was free, want well under the %v window it had already waited", took, window)
	}
}
