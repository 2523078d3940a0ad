package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/sqlite"
)

// openStore opens a fresh SQLite store, closed at the end of the test.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{Migrate: true, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newService runs the Service over a real SQLite file, without the
// recompute worker, so tests can look at the moment between installing a
// policy and the job reaching a customer.
func newService(t *testing.T) *ledger.Service {
	t.Helper()
	st := openStore(t)
	return ledger.NewService(st, ledger.Options{})
}

func mag(f float64) *float64 { return &f }

// Before the recompute job reaches a customer, lists must already show the
// balance under the new version, and outreach must not list a customer the
// new version no longer puts there.
func TestListsUseTheActivePolicyBeforeTheJobRuns(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	ctx := t.Context()
	for _, id := range []string{"c1", "c2"} {
		if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: id, Kind: ledger.KindOutage}); err != nil {
			t.Fatal(err)
		}
	}
	p, _, err := svc.GetPolicy(ctx, ledger.DefaultTenant, 0)
	if err != nil {
		t.Fatal(err)
	}
	next := *p
	next.Weights = map[ledger.Kind]float64{}
	for k, w := range p.Weights {
		next.Weights[k] = w
	}
	next.Weights[ledger.KindOutage] = 3 // an outage now earns goodwill
	if _, _, err := svc.SetPolicy(ctx, ledger.DefaultTenant, next); err != nil {
		t.Fatal(err)
	}
	page, err := svc.ListBalances(ctx, ledger.DefaultTenant, ledger.BalanceQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if page.PolicyVersion != 2 || len(page.Entries) != 2 || !page.ApproximateOrder {
		t.Fatalf("version %d, %d entries, approximate order %v; want 2, 2, true", page.PolicyVersion, len(page.Entries), page.ApproximateOrder)
	}
	for _, e := range page.Entries {
		if e.Balance.PolicyVersion != 2 || math.Abs(e.Balance.Value-3) > 1e-6 || e.Balance.Status != ledger.StatusHealthy {
			t.Errorf("%s: %+v, want +3 under version 2", e.Customer.ID, e.Balance)
		}
	}
	// GetBalance too: the stored state is version 1's, so the one-lookup
	// path must step aside and replay under version 2.
	if b, err := svc.GetBalance(ctx, ledger.DefaultTenant, "c1", time.Time{}); err != nil || b.PolicyVersion != 2 || math.Abs(b.Value-3) > 1e-6 {
		t.Errorf("GetBalance = %+v, %v; want +3 under version 2", b, err)
	}
	rec, err := svc.ListOutreach(ctx, ledger.DefaultTenant, ledger.PurposeRecovery, "", 10, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Entries) != 0 {
		t.Errorf("recovery lists %d customers whose balance is now positive", len(rec.Entries))
	}
	stats, _, _, err := svc.SummarizeBalances(ctx, ledger.DefaultTenant, "", false)
	if err != nil {
		t.Fatal(err)
	}
	overall := stats[len(stats)-1]
	if overall.Overdrawn != 0 || math.Abs(overall.Mean-3) > 1e-6 {
		t.Errorf("summary %+v, want none overdrawn and mean 3", overall)
	}
}

// Rounding dust such as 0.1 + 0.3 - 0.4 is zero for status, rank and
// outreach alike (a review found it OVERDRAWN in GetBalance but absent
// from the overdrawn list).
func TestRoundingDustIsZero(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	ctx := t.Context()
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for _, e := range []ledger.NewEvent{
		{CustomerID: "c1", Kind: ledger.KindReliableDelivery, Magnitude: mag(0.1), OccurredAt: at},
		{CustomerID: "c1", Kind: ledger.KindReliableDelivery, Magnitude: mag(0.3), OccurredAt: at},
		{CustomerID: "c1", Kind: ledger.KindComplaint, Magnitude: mag(0.05), OccurredAt: at},
	} {
		if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, e); err != nil {
			t.Fatal(err)
		}
	}
	b, err := svc.GetBalance(ctx, ledger.DefaultTenant, "c1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Value != 0 || b.Status != ledger.StatusHealthy {
		t.Errorf("balance %+v, want exactly 0 and healthy", b)
	}
}

// countingStore counts store calls.
type countingStore struct {
	ledger.Store
	updates, views, lookups atomic.Int64
}

func (c *countingStore) View(ctx context.Context, fn func(ledger.Reader) error) error {
	c.views.Add(1)
	return c.Store.View(ctx, fn)
}

func (c *countingStore) Lookup(ctx context.Context, tenant, id string) (ledger.Customer, int64, error) {
	c.lookups.Add(1)
	return c.Store.Lookup(ctx, tenant, id)
}

// A current balance costs one Lookup and no transaction: the issue asks
// for GetBalance to be a single indexed read.
func TestGetBalanceIsOneLookup(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	cs := &countingStore{Store: st}
	svc := ledger.NewService(cs, ledger.Options{GroupCommit: ledger.GroupCommit{Disabled: true}})
	ctx := t.Context()
	rec, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: "c1", Kind: ledger.KindCredit})
	if err != nil {
		t.Fatal(err)
	}
	views := cs.views.Load()
	b, err := svc.GetBalance(ctx, ledger.DefaultTenant, "c1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if cs.lookups.Load() != 1 || cs.views.Load() != views {
		t.Errorf("GetBalance made %d lookups and %d views, want 1 and 0", cs.lookups.Load(), cs.views.Load()-views)
	}
	if b.EventCount != 1 || math.Abs(b.Value-rec.Balance.Value) > 1e-6 {
		t.Errorf("GetBalance = %+v, want the recorded %+v", b, rec.Balance)
	}
	if _, err := svc.GetBalance(ctx, ledger.DefaultTenant, "nobody", time.Time{}); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("unknown customer: %v, want ErrNotFound", err)
	}
}

// Update counts the write transactions that record events: the Service's
// background work (numbering notifications, the scheduler) writes too, and
// is not what these tests count.
func (c *countingStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return c.count(ctx, c.Store.Update, fn)
}

func (c *countingStore) UpdateCustomers(ctx context.Context, fn func(ledger.Tx) error) error {
	return c.count(ctx, c.Store.UpdateCustomers, fn)
}

func (c *countingStore) count(ctx context.Context, through func(context.Context, func(ledger.Tx) error) error, fn func(ledger.Tx) error) error {
	var wrote bool
	err := through(ctx, func(tx ledger.Tx) error { return fn(eventSpy{tx, &wrote}) })
	if wrote {
		c.updates.Add(1)
	}
	return err
}

// eventSpy notes whether a transaction appended events.
type eventSpy struct {
	ledger.Tx
	wrote *bool
}

func (s eventSpy) AppendEvents(ctx context.Context, es []ledger.Event) error {
	*s.wrote = true
	return s.Tx.AppendEvents(ctx, es)
}

func (s eventSpy) AppendEvent(ctx context.Context, e ledger.Event) error {
	*s.wrote = true
	return s.Tx.AppendEvent(ctx, e)
}

// Concurrent single writes share transactions, each caller gets its own
// result, and an idempotency conflict fails only its caller.
func TestGroupCommitCoalescesAndIsolates(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	cs := &countingStore{Store: st}
	svc := ledger.NewService(cs, ledger.Options{GroupCommit: ledger.GroupCommit{Window: 5 * time.Millisecond}})
	runService(t, svc)
	ctx := t.Context()
	if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: "c0", Kind: ledger.KindCredit, IdempotencyKey: "taken"}); err != nil {
		t.Fatal(err)
	}
	const writers, each = 32, 10
	var wg sync.WaitGroup
	var conflicts, failures atomic.Int64
	ids := sync.Map{}
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				rec, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{
					CustomerID: fmt.Sprintf("c%d", w%4), Kind: ledger.KindReliableDelivery,
					IdempotencyKey: fmt.Sprintf("w%d-%d", w, i),
				})
				if err != nil {
					failures.Add(1)
					continue
				}
				ids.Store(rec.Event.ID, true)
			}
			// One conflicting write per writer: the key holds a CREDIT.
			if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{
				CustomerID: "c0", Kind: ledger.KindOutage, IdempotencyKey: "taken",
			}); errors.Is(err, ledger.ErrConflict) {
				conflicts.Add(1)
			}
		})
	}
	wg.Wait()
	if failures.Load() != 0 || conflicts.Load() != writers {
		t.Fatalf("%d failures, %d conflicts (want 0 and %d)", failures.Load(), conflicts.Load(), writers)
	}
	n := 0
	ids.Range(func(any, any) bool { n++; return true })
	if n != writers*each {
		t.Errorf("%d distinct events acknowledged, want %d", n, writers*each)
	}
	var total int64
	for c := range 4 {
		b, err := svc.GetBalance(ctx, ledger.DefaultTenant, fmt.Sprintf("c%d", c), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		total += b.EventCount
	}
	if total != writers*each+1 { // +1: c0's credit
		t.Errorf("%d events stored, want %d", total, writers*each+1)
	}
	// 353 writes; with coalescing far fewer transactions.
	if u := cs.updates.Load(); u > int64(writers*each)/4 {
		t.Errorf("%d transactions for %d writes: group commit did not coalesce", u, writers*(each+1)+1)
	}
}

// With several group-commit writers every write lands once, in the order
// each customer's writer sent it, and each stored balance counts them all.
// (How the committer holds a customer's writes while one of its batches
// is in flight is pinned by the TestScheduler tests.)
func TestGroupCommitWritersKeepCustomerOrder(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	svc := ledger.NewService(st, ledger.Options{GroupCommit: ledger.GroupCommit{Writers: 3, Window: 2 * time.Millisecond}})
	runService(t, svc)
	ctx := t.Context()
	const customers, each = 8, 25
	var wg sync.WaitGroup
	var failures atomic.Int64
	for c := range customers {
		wg.Go(func() {
			for i := range each {
				// Outages and responses alternate: a response answers the
				// outage before it, so order changes the balance.
				kind := ledger.KindOutage
				if i%2 == 1 {
					kind = ledger.KindResponse
				}
				if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{
					CustomerID: fmt.Sprintf("c%d", c), Kind: kind, IdempotencyKey: fmt.Sprintf("k%d", i),
				}); err != nil {
					failures.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d writes failed", failures.Load())
	}
	for c := range customers {
		id := fmt.Sprintf("c%d", c)
		events, _, err := svc.ListEvents(ctx, ledger.DefaultTenant, ledger.ListQuery{CustomerID: id, PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != each {
			t.Fatalf("%s has %d events, want %d", id, len(events), each)
		}
		if b, err := svc.GetBalance(ctx, ledger.DefaultTenant, id, time.Time{}); err != nil || b.EventCount != each {
			t.Fatalf("%s balance counts %d events (%v), want %d", id, b.EventCount, err, each)
		}
		// ListEvents is newest first: keys must run k24 ... k0.
		for i, e := range events {
			if want := fmt.Sprintf("k%d", each-1-i); e.IdempotencyKey != want {
				t.Fatalf("%s: event %d has key %s, want %s (arrival order lost)", id, i, e.IdempotencyKey, want)
			}
		}
	}
}

// Many callers writing the same few customers at once, through four
// group-commit writers: a customer's writes arrive while its batch is being
// committed and are held for the next one. Every write lands once, and
// every stored balance equals a replay of the customer's log, on stores
// that run four write transactions at once, as goodwilld opens them for
// --group-commit-writers 4.
func TestGroupCommitWritersHoldACustomerInFlight(t *testing.T) {
	t.Parallel()
	eachStoreWriters(t, 4, func(t *testing.T, st ledger.Store) {
		var sizes []int
		var mu sync.Mutex
		svc := ledger.NewService(st, ledger.Options{Logger: quietLog(),
			GroupCommit: ledger.GroupCommit{Writers: 4, Window: 3 * time.Millisecond},
			OnBatch:     func(n int, _ time.Duration) { mu.Lock(); sizes = append(sizes, n); mu.Unlock() }})
		runService(t, svc)
		// A write lost while held would leave its caller waiting.
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		const callers, each, customers = 24, 20, 3
		var wg sync.WaitGroup
		var failures atomic.Int64
		for c := range callers {
			wg.Go(func() {
				for i := range each {
					kind := ledger.KindOutage
					if (c+i)%3 == 0 {
						kind = ledger.KindResponse
					}
					if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{
						CustomerID: fmt.Sprintf("c%d", (c+i)%customers), Kind: kind, IdempotencyKey: fmt.Sprintf("k%d-%d", c, i),
					}); err != nil {
						t.Error(err)
						failures.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if failures.Load() != 0 {
			t.Fatalf("%d writes failed", failures.Load())
		}
		total := int64(0)
		for c := range customers {
			b, err := svc.GetBalance(ctx, ledger.DefaultTenant, fmt.Sprintf("c%d", c), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			total += int64(b.EventCount)
		}
		if total != callers*each {
			t.Fatalf("the balances count %d events, want %d", total, callers*each)
		}
		var mismatches []ledger.Mismatch
		if _, err := svc.Verify(ctx, func(m ledger.Mismatch) { mismatches = append(mismatches, m) }); err != nil {
			t.Fatal(err)
		}
		if len(mismatches) > 0 {
			t.Fatalf("balances differ from a replay: %+v", mismatches)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(sizes) >= callers*each {
			t.Errorf("%d batches for %d writes: nothing was coalesced", len(sizes), callers*each)
		}
	})
}

// Stopping the service while four writers are busy and writes are held
// behind their customers' batches: every caller gets an answer, and every
// acknowledged write is stored, once.
func TestGroupCommitWritersCommitWhatTheyHoldAtStop(t *testing.T) {
	t.Parallel()
	eachStoreWriters(t, 4, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Logger: quietLog(),
			GroupCommit: ledger.GroupCommit{Writers: 4, Window: 2 * time.Millisecond}})
		runCtx, stop := context.WithCancel(context.Background())
		ran := make(chan struct{})
		go func() { defer close(ran); _ = svc.Run(runCtx) }()
		waitStarted(t, svc)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		const callers, each = 24, 15
		var mu sync.Mutex
		acked := map[string]string{} // idempotency key -> customer
		var wg sync.WaitGroup
		for c := range callers {
			wg.Go(func() {
				for i := range each {
					key, cust := fmt.Sprintf("k%d-%d", c, i), fmt.Sprintf("c%d", (c+i)%2)
					if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: cust,
						Kind: ledger.KindReliableDelivery, IdempotencyKey: key}); err == nil {
						mu.Lock()
						acked[key] = cust
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(20 * time.Millisecond) // writers busy, writes held
		stop()
		<-ran
		wg.Wait()
		if ctx.Err() != nil {
			t.Fatal("a caller waited past the test's deadline: a held write was never answered")
		}
		if len(acked) == 0 {
			t.Fatal("no write was acknowledged")
		}
		stored := 0
		for c := range 2 {
			events, _, err := svc.ListEvents(ctx, ledger.DefaultTenant, ledger.ListQuery{CustomerID: fmt.Sprintf("c%d", c), PageSize: 1000})
			if err != nil {
				t.Fatal(err)
			}
			stored += len(events)
			seen := map[string]bool{}
			for _, e := range events {
				if seen[e.IdempotencyKey] {
					t.Fatalf("key %s stored twice", e.IdempotencyKey)
				}
				seen[e.IdempotencyKey] = true
			}
			for key, cust := range acked {
				if cust == fmt.Sprintf("c%d", c) && !seen[key] {
					t.Fatalf("acknowledged write %s (%s) is not stored", key, cust)
				}
			}
		}
		var mismatches []ledger.Mismatch
		if _, err := svc.Verify(ctx, func(m ledger.Mismatch) { mismatches = append(mismatches, m) }); err != nil {
			t.Fatal(err)
		}
		if len(mismatches) > 0 {
			t.Fatalf("balances differ from a replay: %+v", mismatches)
		}
		t.Logf("%d writes acknowledged, %d stored", len(acked), stored)
	})
}
