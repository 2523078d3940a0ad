package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// A ledger written only through the Service verifies clean, whatever paths
// wrote it: in-order and backdated events, batches, reversals, incidents,
// profile changes, two tenants, and rows left under an older policy version
// by a recompute job that has not reached them.
func TestVerifyCleanLedger(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(7, 7))
	kinds := []ledger.Kind{ledger.KindCredit, ledger.KindReliableDelivery, ledger.KindOutage, ledger.KindResponse,
		ledger.KindProactiveNotice, ledger.KindComplaint, ledger.KindSuggestionAdopted, ledger.KindEngagement}
	now := time.Now().UTC()
	var recorded []ledger.Event
	for _, tenant := range []string{ledger.DefaultTenant, "acme"} {
		for i := range 120 {
			ne := ledger.NewEvent{
				CustomerID:     fmt.Sprintf("c%02d", rng.IntN(25)),
				Kind:           kinds[rng.IntN(len(kinds))],
				Magnitude:      mag(0.5 + 4*rng.Float64()),
				IdempotencyKey: fmt.Sprintf("k%d", i),
				// Some backdated, so the history replays.
				OccurredAt: now.Add(-time.Duration(rng.IntN(90*24)) * time.Hour),
			}
			r, err := svc.RecordEvent(ctx, tenant, ne)
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			recorded = append(recorded, r.Event)
		}
		items := []ledger.NewEvent{
			{CustomerID: "c01", Kind: ledger.KindOutage, IdempotencyKey: "b1"},
			{CustomerID: "c30", Kind: ledger.KindCredit, IdempotencyKey: "b2"},
		}
		if _, err := svc.RecordEvents(ctx, tenant, items); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RecordIncident(ctx, tenant, ledger.Incident{ID: "inc-1", CustomerIDs: []string{"c02", "c03", "c40"},
			DurationHours: 3, StartedAt: now.Add(-48 * time.Hour), NoticeAt: now.Add(-50 * time.Hour), Credit: mag(5)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.UpsertCustomer(ctx, tenant, "c04", ledger.Profile{Value: 3, Segment: "gold"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.UpsertCustomer(ctx, tenant, "no-events", ledger.Profile{Value: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range recorded[:10] {
		if _, err := svc.ReverseEvent(ctx, e.TenantID, ledger.ReverseRequest{CustomerID: e.CustomerID, EventID: e.ID}); err != nil {
			t.Fatalf("reverse %s: %v", e.ID, err)
		}
	}
	// A new policy in one tenant; no recompute worker runs, so every row
	// stays under version 1 and is verified under it.
	p, _, err := svc.GetPolicy(ctx, "acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	next := *p
	next.HalfLife *= 2
	if _, _, err := svc.SetPolicy(ctx, "acme", next); err != nil {
		t.Fatal(err)
	}
	// A write after it computes that customer under version 2.
	if _, err := svc.RecordEvent(ctx, "acme", ledger.NewEvent{CustomerID: "c05", Kind: ledger.KindCredit}); err != nil {
		t.Fatal(err)
	}

	var found []ledger.Mismatch
	sum, err := svc.Verify(ctx, func(m ledger.Mismatch) { found = append(found, m) })
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range found {
		t.Errorf("mismatch on a clean ledger: %s", m)
	}
	if sum.Tenants != 2 || sum.Mismatches != 0 {
		t.Errorf("summary %+v, want 2 tenants and no mismatch", sum)
	}
	// 240 recorded, 4 in batches, 3 incident customers x 3 events, 10
	// reversals, 1 after the policy change, in the two tenants.
	if want := int64(240 + 4 + 18 + 10 + 1); sum.Events != want {
		t.Errorf("summary counts %d events, want %d", sum.Events, want)
	}
	if sum.Customers < 50 {
		t.Errorf("summary counts %d customers, want every customer of both tenants", sum.Customers)
	}
}

// More customers than one Verify page: every page is checked, and the
// events-without-a-row count covers every range.
func TestVerifyWalksEveryPage(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	ctx := context.Background()
	const n = 450
	items := make([]ledger.NewEvent, n)
	for i := range items {
		items[i] = ledger.NewEvent{CustomerID: fmt.Sprintf("p%04d", i), Kind: ledger.KindCredit}
	}
	if _, err := svc.RecordEvents(ctx, ledger.DefaultTenant, items); err != nil {
		t.Fatal(err)
	}
	sum, err := svc.Verify(ctx, func(m ledger.Mismatch) { t.Errorf("mismatch: %s", m) })
	if err != nil {
		t.Fatal(err)
	}
	if sum.Customers != n || sum.Events != n {
		t.Errorf("checked %d customers and %d events, want %d of each", sum.Customers, sum.Events, n)
	}
}
