package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
	"github.com/goodwill-ledger/goodwill/server/store/postgres"
)

// Two replicas writing the same few customers in batches of their own
// order never deadlock: the store writes a batch's customer rows in one
// order (tenant, id), so their row locks are taken in the same order.
// Regression: with 10 hot customers and two replicas, PostgreSQL found a
// deadlock every second or so, and each cost the deadlock_timeout (1 s)
// before one batch was aborted and run again (p99 1.1 s in make bench).
func TestBatchesTakeRowLocksInOneOrder(t *testing.T) {
	srv := pgtest.Servers()[0]
	url := pgtest.FreshDB(t, srv)
	var replicas []*postgres.Store
	for range 2 {
		s, err := postgres.Open(t.Context(), url, postgres.Options{Migrate: true, Logger: quiet(), MaxWriters: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		replicas = append(replicas, s)
	}
	ctx := t.Context()
	const hot = 10
	ids := make([]string, hot)
	for i := range ids {
		ids[i] = fmt.Sprintf("hot-%d", i)
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := replicas[0].Update(ctx, func(tx ledger.Tx) error {
		cs := make([]ledger.Customer, hot)
		for i, id := range ids {
			cs[i] = ledger.Customer{TenantID: ledger.DefaultTenant, ID: id, CreatedAt: t0, UpdatedAt: t0, PolicyVersion: 1}
		}
		return tx.PutCustomers(ctx, cs)
	}); err != nil {
		t.Fatal(err)
	}
	deadlocks := func() int64 {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var n int64
		if err := conn.QueryRow(ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := deadlocks()
	var wg sync.WaitGroup
	for w := range 4 {
		s := replicas[w%2]
		wg.Go(func() {
			for i := range 40 {
				order := rand.Perm(hot)
				err := s.UpdateCustomers(ctx, func(tx ledger.Tx) error {
					batch := make([]string, hot)
					for j, k := range order {
						batch[j] = ids[k]
					}
					got, err := tx.CustomersByID(ctx, ledger.DefaultTenant, batch)
					if err != nil {
						return err
					}
					cs := make([]ledger.Customer, 0, hot)
					for _, id := range batch {
						c := got[id]
						c.UpdatedAt = t0.Add(time.Duration(w*1000+i) * time.Second)
						cs = append(cs, c)
					}
					return tx.PutCustomers(ctx, cs)
				})
				if err != nil {
					t.Errorf("writer %d, batch %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	// A backend reports its statistics when it next goes idle, within a
	// second.
	time.Sleep(1500 * time.Millisecond)
	if n := deadlocks() - before; n != 0 {
		t.Errorf("%d deadlocks among 160 batches of the same %d customers, want 0", n, hot)
	}
}
