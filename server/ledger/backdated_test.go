package ledger_test

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// historyCounter counts the history reads of the event writes: the
// statements, and the customers they cover.
type historyCounter struct {
	ledger.Store
	reads, customers atomic.Int64
}

func (h *historyCounter) UpdateCustomers(ctx context.Context, fn func(ledger.Tx) error) error {
	return h.Store.UpdateCustomers(ctx, func(tx ledger.Tx) error { return fn(historySpy{tx, h}) })
}

type historySpy struct {
	ledger.Tx
	h *historyCounter
}

func (s historySpy) History(ctx context.Context, tenant, customerID string) ([]ledger.Event, error) {
	s.h.reads.Add(1)
	s.h.customers.Add(1)
	return s.Tx.History(ctx, tenant, customerID)
}

func (s historySpy) Histories(ctx context.Context, tenant string, ids []string) (map[string][]ledger.Event, error) {
	if len(ids) > 0 {
		s.h.reads.Add(1)
		s.h.customers.Add(int64(len(ids)))
	}
	return s.Tx.Histories(ctx, tenant, ids)
}

// A batch of old events (each older than its customer's last, as when
// history is imported into a ledger already in use) reads the histories
// its replays need in one read, not one an event or a customer, and
// leaves the balances a replay of everything gives.
func TestBackdatedBatchReadsEachHistoryOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := &historyCounter{Store: openStore(t)}
	svc := ledger.NewService(st, ledger.Options{})
	now := time.Now().UTC().Truncate(time.Second)
	for _, id := range []string{"c1", "c2"} {
		if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: id, Kind: ledger.KindOutage, OccurredAt: now.Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	var old []ledger.NewEvent
	kinds := []ledger.Kind{ledger.KindReliableDelivery, ledger.KindComplaint, ledger.KindCredit, ledger.KindResponse}
	for i := range 60 {
		old = append(old, ledger.NewEvent{CustomerID: []string{"c1", "c2"}[i%2], Kind: kinds[i%len(kinds)],
			OccurredAt: now.Add(-time.Duration(100-i) * time.Hour), IdempotencyKey: fmt.Sprintf("old-%d", i)})
	}
	reads, customers := st.reads.Load(), st.customers.Load()
	if _, err := svc.RecordEvents(ctx, ledger.DefaultTenant, old); err != nil {
		t.Fatal(err)
	}
	if n, m := st.reads.Load()-reads, st.customers.Load()-customers; n != 1 || m != 2 {
		t.Errorf("the batch made %d history reads covering %d customers, want 1 covering 2", n, m)
	}

	// The same events, in time order, into a fresh ledger: the same balances.
	ref := ledger.NewService(openStore(t), ledger.Options{})
	if _, err := ref.RecordEvents(ctx, ledger.DefaultTenant, old); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c1", "c2"} {
		if _, err := ref.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: id, Kind: ledger.KindOutage, OccurredAt: now.Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
		sameBalance(t, svc, ref, id, now, 31) // 30 old events each, and the outage
	}
}

// Past historyChunk customers the histories come in chunks, each read
// after the batch's earlier events are in the store, and the balances
// still equal a replay of everything.
func TestBackdatedBatchInChunks(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := &historyCounter{Store: openStore(t)}
	svc := ledger.NewService(st, ledger.Options{})
	ref := ledger.NewService(openStore(t), ledger.Options{})
	now := time.Now().UTC().Truncate(time.Second)
	const n = 300
	var recent, old []ledger.NewEvent
	for i := range n {
		id := fmt.Sprintf("k%03d", i)
		recent = append(recent, ledger.NewEvent{CustomerID: id, Kind: ledger.KindOutage, OccurredAt: now.Add(-time.Minute)})
		// Each customer twice in the batch, the second time after others:
		// in order with its first, both older than its last.
		old = append(old, ledger.NewEvent{CustomerID: id, Kind: ledger.KindCredit, OccurredAt: now.Add(-48 * time.Hour)})
	}
	for i := range n {
		old = append(old, ledger.NewEvent{CustomerID: fmt.Sprintf("k%03d", (i*7)%n), Kind: ledger.KindComplaint,
			OccurredAt: now.Add(-24 * time.Hour)})
	}
	if _, err := svc.RecordEvents(ctx, ledger.DefaultTenant, recent); err != nil {
		t.Fatal(err)
	}
	reads, customers := st.reads.Load(), st.customers.Load()
	if _, err := svc.RecordEvents(ctx, ledger.DefaultTenant, old); err != nil {
		t.Fatal(err)
	}
	if r, c := st.reads.Load()-reads, st.customers.Load()-customers; r != 3 || c != n {
		t.Errorf("%d history reads covering %d customers, want 3 covering %d", r, c, n)
	}
	if _, err := ref.RecordEvents(ctx, ledger.DefaultTenant, old); err != nil {
		t.Fatal(err)
	}
	if _, err := ref.RecordEvents(ctx, ledger.DefaultTenant, recent); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		sameBalance(t, svc, ref, fmt.Sprintf("k%03d", i), now, 3)
	}
}

// sameBalance fails unless the customer's balance at `at` is the same in
// got's ledger as in want's, over `events` events.
func sameBalance(t *testing.T, got, want *ledger.Service, id string, at time.Time, events int64) {
	t.Helper()
	g, err := got.GetBalance(t.Context(), ledger.DefaultTenant, id, at)
	if err != nil {
		t.Fatal(err)
	}
	w, err := want.GetBalance(t.Context(), ledger.DefaultTenant, id, at)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(g.Value-w.Value) > 1e-9 || g.EventCount != w.EventCount || g.EventCount != events {
		t.Fatalf("%s: %+v, want %+v with %d events", id, g, w, events)
	}
}
