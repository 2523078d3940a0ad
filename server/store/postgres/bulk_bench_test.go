package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
)

type timedStore struct {
	ledger.Store
	spent map[string]time.Duration
}

type timedTx struct {
	ledger.Tx
	spent map[string]time.Duration
}

func (s *timedStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return s.Store.Update(ctx, func(tx ledger.Tx) error { return fn(&timedTx{tx, s.spent}) })
}

func (s *timedStore) UpdateCustomers(ctx context.Context, fn func(ledger.Tx) error) error {
	return s.Store.UpdateCustomers(ctx, func(tx ledger.Tx) error { return fn(&timedTx{tx, s.spent}) })
}

func (t *timedTx) CustomersByID(ctx context.Context, tenant string, ids []string) (map[string]ledger.Customer, error) {
	defer func(t0 time.Time) { t.spent["CustomersByID"] += time.Since(t0) }(time.Now())
	return t.Tx.CustomersByID(ctx, tenant, ids)
}
func (t *timedTx) EventsByKeys(ctx context.Context, tenant string, k []ledger.CustomerKey) (map[ledger.CustomerKey]ledger.Event, error) {
	defer func(t0 time.Time) { t.spent["EventsByKeys"] += time.Since(t0) }(time.Now())
	return t.Tx.EventsByKeys(ctx, tenant, k)
}
func (t *timedTx) AppendEvents(ctx context.Context, e []ledger.Event) error {
	defer func(t0 time.Time) { t.spent["AppendEvents"] += time.Since(t0) }(time.Now())
	return t.Tx.AppendEvents(ctx, e)
}
func (t *timedTx) PutCustomers(ctx context.Context, c []ledger.Customer) error {
	defer func(t0 time.Time) { t.spent["PutCustomers"] += time.Since(t0) }(time.Now())
	return t.Tx.PutCustomers(ctx, c)
}
func (t *timedTx) History(ctx context.Context, tenant, id string) ([]ledger.Event, error) {
	defer func(t0 time.Time) { t.spent["History"] += time.Since(t0) }(time.Now())
	return t.Tx.History(ctx, tenant, id)
}

// BenchmarkRecordEvents1000 is for profiling the PostgreSQL batch path;
// throughput targets are measured by goodwillbench.
func BenchmarkRecordEvents1000(b *testing.B) {
	s, _ := openB(b)
	ts := &timedStore{Store: s, spent: map[string]time.Duration{}}
	svc := ledger.NewService(ts, ledger.Options{GroupCommit: ledger.GroupCommit{Disabled: true}})
	n := 0
	for b.Loop() {
		items := make([]ledger.NewEvent, 1000)
		for i := range items {
			items[i] = ledger.NewEvent{CustomerID: fmt.Sprintf("u%d", (n*1000+i)%10000), Kind: ledger.KindReliableDelivery,
				IdempotencyKey: fmt.Sprintf("k-%d-%d", n, i)}
		}
		n++
		if _, err := svc.RecordEvents(b.Context(), ledger.DefaultTenant, items); err != nil {
			b.Fatal(err)
		}
	}
	for k, v := range ts.spent {
		b.Logf("%s: %v per batch", k, v/time.Duration(n))
	}
}

func openB(b *testing.B) (ledger.Store, string) {
	url := pgtest.FreshDB(b, pgtest.Servers()[0])
	s, err := postgresOpen(b, url)
	if err != nil {
		b.Fatal(err)
	}
	return s, url
}
