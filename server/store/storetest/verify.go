package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// The reads Service.Verify walks the store with.

func testTenants(t *testing.T, s ledger.Store) {
	tenants := func() []string {
		t.Helper()
		var got []string
		mustView(t, s, func(ctx context.Context, r ledger.Reader) (err error) {
			got, err = r.Tenants(ctx)
			return err
		})
		return got
	}
	if got := tenants(); len(got) != 0 {
		t.Errorf("Tenants of an empty store = %q, want none", got)
	}
	mustRecord(t, s,
		plainEvent(tenantB, "c1", "ev-b1", ledger.KindCredit, at(0)),
		plainEvent(tenantA, "c1", "ev-a1", ledger.KindCredit, at(0)),
		plainEvent(tenantA, "c2", "ev-a2", ledger.KindCredit, at(0)),
	)
	// A tenant with a customer row and no event is listed too.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		return tx.PutCustomer(ctx, newCustomer("tenant-c", "c1"))
	})
	want := []string{tenantA, tenantB, "tenant-c"}
	if got := tenants(); !slices.Equal(got, want) {
		t.Errorf("Tenants = %q, want %q (each once, in order)", got, want)
	}
	t.Run("inside Update", func(t *testing.T) {
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			if err := tx.PutCustomer(ctx, newCustomer("tenant-d", "c1")); err != nil {
				return err
			}
			got, err := tx.Tenants(ctx)
			if err != nil {
				return err
			}
			if want := append(want, "tenant-d"); !slices.Equal(got, want) {
				t.Errorf("Tenants inside Update = %q, want %q (reads its own writes)", got, want)
			}
			return nil
		})
	})
}

func testCountEvents(t *testing.T, s ledger.Store) {
	// Customers a, b, c of tenant A with 1, 2 and 3 events (one of c's is
	// a reversal), and noise in tenant B.
	var events []ledger.Event
	for i, c := range []string{"a", "b", "c"} {
		for j := range i + 1 {
			events = append(events, plainEvent(tenantA, c, fmt.Sprintf("ev-%s-%d", c, j), ledger.KindCredit, at(j)))
		}
	}
	events[5] = reversalOf(events[4], "ev-c-rev", at(9))
	events = append(events, plainEvent(tenantB, "b", "ev-tb", ledger.KindCredit, at(0)))
	mustRecord(t, s, events...)

	tests := []struct {
		name           string
		tenant         string
		after, through string
		want           int64
	}{
		{name: "whole tenant", tenant: tenantA, want: 6},
		{name: "through the first", tenant: tenantA, through: "a", want: 1},
		{name: "one customer", tenant: tenantA, after: "a", through: "b", want: 2},
		{name: "after the middle, no upper bound", tenant: tenantA, after: "b", want: 3},
		{name: "after the last", tenant: tenantA, after: "c", want: 0},
		{name: "range between customers", tenant: tenantA, after: "a", through: "az", want: 0},
		{name: "other tenant", tenant: tenantB, want: 1},
		{name: "unknown tenant", tenant: "tenant-c", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got int64
			mustView(t, s, func(ctx context.Context, r ledger.Reader) (err error) {
				got, err = r.CountEvents(ctx, tt.tenant, tt.after, tt.through)
				return err
			})
			if got != tt.want {
				t.Errorf("CountEvents(%s, after %q, through %q) = %d, want %d", tt.tenant, tt.after, tt.through, got, tt.want)
			}
		})
	}
}
