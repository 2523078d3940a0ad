package ledger_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// One history reaches the same balances and the same explanations whatever
// order its events arrive in: one by one in order, shuffled, as one
// shuffled batch, or in order with a backdated notice held back to the
// end. Retries of the same keys change nothing.
func TestArrivalOrderDoesNotMatter(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now, Logger: quietLog()})
		// The writers a server runs: single writes go through group commit.
		runService(t, svc)
		ctx := t.Context()
		base := t0.Add(-60 * day)
		at := func(d time.Duration) time.Time { return base.Add(d) }
		specs := []ledger.NewEvent{
			nev("", ledger.KindReliableDelivery, 3, at(0)),
			nev("", ledger.KindReliableDelivery, 2, at(day)),
			nev("", ledger.KindEngagement, 1, at(day)),
			nev("", ledger.KindProactiveNotice, 1, at(2*day)), // same instant as the outage it softens
			nev("", ledger.KindOutage, 2, at(2*day)),
			nev("", ledger.KindResponse, 1, at(2*day)), // same instant: answers the outage
			nev("", ledger.KindCredit, 5, at(3*day)),
			nev("", ledger.KindComplaint, 1, at(5*day)),
			nev("", ledger.KindResponse, 1, at(5*day)),
			nev("", ledger.KindReliableDelivery, 1, at(6*day)),
			nev("", ledger.KindReliableDelivery, 1, at(6*day)), // identical payload, another key
			nev("", ledger.KindSuggestionAdopted, 1, at(8*day)),
			nev("", ledger.KindProactiveNotice, 1, at(10*day)),
			nev("", ledger.KindOutage, 1, at(11*day)),
			nev("", ledger.KindCredit, 3, at(11*day)),
			nev("", ledger.KindReliableDelivery, 4, at(12*day)),
			nev("", ledger.KindEngagement, 2, at(12*day)),
			nev("", ledger.KindComplaint, 2, at(15*day)),
			nev("", ledger.KindResponse, 1, at(15*day+time.Hour)),
			nev("", ledger.KindReliableDelivery, 5, at(20*day)),
		}
		for i := range specs {
			specs[i].IdempotencyKey = fmt.Sprintf("ev-%02d", i)
		}
		forCustomer := func(id string, idx []int) []ledger.NewEvent {
			out := make([]ledger.NewEvent, len(idx))
			for i, j := range idx {
				out[i] = specs[j]
				out[i].CustomerID = id
			}
			return out
		}
		inOrder := make([]int, len(specs))
		for i := range inOrder {
			inOrder[i] = i
		}
		shuffled := slices.Clone(inOrder)
		rand.New(rand.NewPCG(20260101, 7)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		batched := slices.Clone(inOrder)
		rand.New(rand.NewPCG(99, 1)).Shuffle(len(batched), func(i, j int) { batched[i], batched[j] = batched[j], batched[i] })
		// In order, but the notice that softens the first outage arrives
		// last, backdated.
		heldBack := append(slices.Delete(slices.Clone(inOrder), 3, 4), 3)

		for _, e := range forCustomer("in-order", inOrder) {
			record(t, svc, e)
		}
		for _, e := range forCustomer("shuffled", shuffled) {
			record(t, svc, e)
		}
		recordAll(t, svc, forCustomer("batched", batched)...)
		var last ledger.Recorded
		for _, e := range forCustomer("held-back", heldBack) {
			last = record(t, svc, e)
		}

		ref := func(at time.Time) ledger.Balance { return balanceAt(t, svc, "in-order", at) }
		if got := ref(time.Time{}).EventCount; got != int64(len(specs)) {
			t.Fatalf("in-order has %d events, want %d", got, len(specs))
		}
		if want := ref(last.Balance.AsOf).Value; !relEq(last.Balance.Value, want, relTol) {
			t.Errorf("the backdated notice returned balance %v, want the in-order %v", last.Balance.Value, want)
		}
		// The backdated notice mattered: without it the outage is not softened.
		if ec := topOf(t, explainAt(t, svc, "held-back", time.Time{}, 100), ledger.KindOutage, at(2*day)); ec.Effect.Rule != "notice" {
			t.Errorf("after the backdated notice the first outage's rule is %q, want notice", ec.Effect.Rule)
		}

		moments := []time.Time{at(2 * day), at(5 * day), at(6 * day), at(11 * day), at(15*day + 30*time.Minute), t0}
		type contrib struct {
			kind                 ledger.Kind
			at                   time.Time
			rule                 string
			factor, points, base float64
		}
		contribs := func(id string) []contrib {
			var out []contrib
			for _, ec := range explainAt(t, svc, id, moments[len(moments)-1], 100).Top {
				out = append(out, contrib{ec.Event.Kind, ec.Event.OccurredAt, ec.Effect.Rule, ec.Effect.Factor, ec.Effect.Points, ec.Effect.Base})
			}
			return out
		}
		refContribs := contribs("in-order")
		if len(refContribs) != len(specs) {
			t.Fatalf("in-order explains %d events, want %d", len(refContribs), len(specs))
		}
		for _, id := range []string{"shuffled", "batched", "held-back"} {
			for _, m := range moments {
				got, want := balanceAt(t, svc, id, m), ref(m)
				if !relEq(got.Value, want.Value, relTol) || got.EventCount != want.EventCount {
					t.Errorf("%s as of %v: %v (%d events), in order %v (%d events)", id, m, got.Value, got.EventCount, want.Value, want.EventCount)
				}
			}
			got := contribs(id)
			if len(got) != len(refContribs) {
				t.Fatalf("%s: %d contributions, want %d", id, len(got), len(refContribs))
			}
			for i := range got {
				g, w := got[i], refContribs[i]
				if g.kind != w.kind || !g.at.Equal(w.at) || g.rule != w.rule || !relEq(g.factor, w.factor, relTol) ||
					!relEq(g.points, w.points, relTol) || !relEq(g.base, w.base, relTol) {
					t.Errorf("%s: top event %d: %+v, in order %+v", id, i, g, w)
				}
			}
		}

		// Retrying the shuffled arrivals with the same keys changes nothing.
		before := balanceAt(t, svc, "shuffled", time.Time{})
		for _, e := range forCustomer("shuffled", shuffled) {
			if r := record(t, svc, e); !r.Replayed {
				t.Errorf("retry of %s was not replayed", e.IdempotencyKey)
			}
		}
		after := balanceAt(t, svc, "shuffled", time.Time{})
		if after.Value != before.Value || after.EventCount != int64(len(specs)) {
			t.Errorf("after retries: %+v, before %+v", after, before)
		}
		events, _, err := svc.ListEvents(ctx, ledger.DefaultTenant, ledger.ListQuery{CustomerID: "shuffled", PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != len(specs) {
			t.Errorf("shuffled holds %d events, want %d", len(events), len(specs))
		}
	})
}
