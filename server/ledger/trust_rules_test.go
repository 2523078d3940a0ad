package ledger_test

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// The six rules of the default policy, as the Service applies them to
// events it stores: asymmetry, overdraft protection, context, warning
// before failing, fading and reversal.

const (
	day = 24 * time.Hour
	// halfLife is the default policy's.
	halfLife = 90 * day
	// relTol is the relative tolerance for balances computed two ways.
	relTol = 1e-9
)

// fade is the default policy's decay over d, computed here rather than
// asked of the policy, so a wrong half-life in the code cannot agree with
// itself.
func fade(d time.Duration) float64 { return math.Exp2(-d.Seconds() / halfLife.Seconds()) }

// relEq reports whether a and b agree within a relative tolerance (with a
// tiny absolute floor for values at zero).
func relEq(a, b, tol float64) bool {
	d := math.Abs(a - b)
	return d <= tol*math.Max(math.Abs(a), math.Abs(b)) || d <= 1e-12
}

// nev is an event of customer id.
func nev(id string, kind ledger.Kind, magnitude float64, at time.Time) ledger.NewEvent {
	return ledger.NewEvent{CustomerID: id, Kind: kind, Magnitude: &magnitude, OccurredAt: at}
}

// record appends one event and fails the test on error.
func record(t *testing.T, svc *ledger.Service, e ledger.NewEvent) ledger.Recorded {
	t.Helper()
	rec, err := svc.RecordEvent(t.Context(), ledger.DefaultTenant, e)
	if err != nil {
		t.Fatalf("record %v for %s: %v", e.Kind, e.CustomerID, err)
	}
	return rec
}

// recordAll appends events in one RecordEvents call; each must be created.
func recordAll(t *testing.T, svc *ledger.Service, events ...ledger.NewEvent) {
	t.Helper()
	res, err := svc.RecordEvents(t.Context(), ledger.DefaultTenant, events)
	if err != nil {
		t.Fatalf("record batch: %v", err)
	}
	for i, r := range res {
		if r.Outcome != ledger.OutcomeCreated {
			t.Fatalf("batch item %d: outcome %v, %v", i, r.Outcome, r.Err)
		}
	}
}

// upsert creates or replaces a customer profile.
func upsert(t *testing.T, svc *ledger.Service, id string, p ledger.Profile) {
	t.Helper()
	if _, _, err := svc.UpsertCustomer(t.Context(), ledger.DefaultTenant, id, p); err != nil {
		t.Fatalf("upsert %s: %v", id, err)
	}
}

// balanceAt returns a customer's balance as of at (now when zero).
func balanceAt(t *testing.T, svc *ledger.Service, id string, at time.Time) ledger.Balance {
	t.Helper()
	b, err := svc.GetBalance(t.Context(), ledger.DefaultTenant, id, at)
	if err != nil {
		t.Fatalf("balance of %s as of %v: %v", id, at, err)
	}
	return b
}

// explainAt explains a customer's balance as of at (now when zero).
func explainAt(t *testing.T, svc *ledger.Service, id string, at time.Time, top int) ledger.Explanation {
	t.Helper()
	x, err := svc.ExplainBalance(t.Context(), ledger.DefaultTenant, id, at, top)
	if err != nil {
		t.Fatalf("explain %s: %v", id, err)
	}
	return x
}

// topOf returns the first top event of a kind (at occurred, when not zero).
func topOf(t *testing.T, x ledger.Explanation, kind ledger.Kind, occurred time.Time) ledger.EventContribution {
	t.Helper()
	for _, ec := range x.Top {
		if ec.Event.Kind == kind && (occurred.IsZero() || ec.Event.OccurredAt.Equal(occurred)) {
			return ec
		}
	}
	t.Fatalf("no %v in the top events of %s", kind, x.Balance.CustomerID)
	return ledger.EventContribution{}
}

// An outage withdraws twelve times what a delivery deposits.
func TestAnOutageOutweighsTenDeliveries(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		base := t0.Add(-100 * day)
		record(t, svc, nev("outage", ledger.KindOutage, 1, base))
		record(t, svc, nev("delivery", ledger.KindReliableDelivery, 1, base))
		o, d := balanceAt(t, svc, "outage", base).Value, balanceAt(t, svc, "delivery", base).Value
		if d != 1 || o != -12 {
			t.Errorf("delivery %v, outage %v: want +1 and -12", d, o)
		}
		if -o < 10*d {
			t.Errorf("one outage withdraws %v, one delivery deposits %v: want at least 10x", -o, d)
		}
	})
}

// Sixty days of deliveries absorb a three-hour outage; the same outage
// overdraws a new customer. Either way it withdraws exactly -36.
func TestDeliveriesAbsorbAnOutage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		base := t0.Add(-100 * day)
		outageAt := base.Add(60 * day)
		for _, tc := range []struct {
			deliveries int
			want       ledger.Status
		}{{60, ledger.StatusHealthy}, {0, ledger.StatusOverdrawn}} {
			id := fmt.Sprintf("overdraft-%d", tc.deliveries)
			var evs []ledger.NewEvent
			wantBefore := 0.0
			for i := range tc.deliveries {
				evs = append(evs, nev(id, ledger.KindReliableDelivery, 1, base.Add(time.Duration(i)*day)))
				wantBefore += fade(time.Duration(60-i) * day)
			}
			evs = append(evs, nev(id, ledger.KindOutage, 3, outageAt))
			recordAll(t, svc, evs...)
			before := balanceAt(t, svc, id, outageAt.Add(-time.Microsecond)).Value
			after := balanceAt(t, svc, id, outageAt)
			if !relEq(before, wantBefore, 1e-6) {
				t.Errorf("%s: %v before the outage, want %v", id, before, wantBefore)
			}
			if after.Status != tc.want {
				t.Errorf("%s after the outage: %v (balance %.3f), want %v", id, after.Status, after.Value, tc.want)
			}
			if got := after.Value - before; !relEq(got, -36, 1e-6) {
				t.Errorf("%s: the outage withdrew %v, want -36", id, got)
			}
			if after.EventCount != int64(tc.deliveries+1) {
				t.Errorf("%s: event count %d, want %d", id, after.EventCount, tc.deliveries+1)
			}
		}
	})
}

// A response or a credit is worth more the higher the balance just before
// it: a quarter of its weight when the balance is below zero (hollow), then
// 1 + balance/50, capped at twice its weight.
func TestGesturesGrowWithTheBalanceBefore(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		setupAt := t0.Add(-100 * day)
		gestureAt := setupAt.Add(time.Hour)
		// Balances just before the gesture, lowest first; the gesture must
		// add strictly more at each step.
		levels := []struct {
			name     string
			kind     ledger.Kind
			mag      float64
			wantRule string
		}{
			{name: "overdrawn", kind: ledger.KindComplaint, mag: 1, wantRule: "hollow"},
			{name: "new", wantRule: "relationship"},
			{name: "modest", kind: ledger.KindReliableDelivery, mag: 5, wantRule: "relationship"},
			{name: "rich", kind: ledger.KindReliableDelivery, mag: 30, wantRule: "relationship"},
			{name: "capped", kind: ledger.KindReliableDelivery, mag: 100, wantRule: "relationship"},
		}
		for _, g := range []struct {
			name   string
			kind   ledger.Kind
			mag    float64
			weight float64
		}{
			{name: "response", kind: ledger.KindResponse, mag: 1, weight: 5},
			{name: "credit", kind: ledger.KindCredit, mag: 5, weight: 2},
		} {
			prevGain := math.Inf(-1)
			for i, lv := range levels {
				id := "ctx-" + g.name + "-" + lv.name
				if lv.kind != ledger.KindUnspecified {
					record(t, svc, nev(id, lv.kind, lv.mag, setupAt))
				}
				record(t, svc, nev(id, g.kind, g.mag, gestureAt))
				before := balanceAt(t, svc, id, gestureAt.Add(-time.Microsecond)).Value
				gain := balanceAt(t, svc, id, gestureAt).Value - before
				if i == 0 && before >= 0 {
					t.Fatalf("setup: %s balance before the gesture is %v, want negative", id, before)
				}
				wantFactor := 0.25
				if lv.wantRule == "relationship" {
					wantFactor = min(2, 1+before/50)
				}
				if !relEq(gain, g.weight*g.mag*wantFactor, 1e-6) {
					t.Errorf("%s: the gesture added %v with balance %.3f before, want %v (factor %v)",
						id, gain, before, g.weight*g.mag*wantFactor, wantFactor)
				}
				if gain <= prevGain {
					t.Errorf("%s (balance before %.3f): the gesture added %v, not more than %v at the previous, lower balance",
						id, before, gain, prevGain)
				}
				prevGain = gain

				ec := topOf(t, explainAt(t, svc, id, gestureAt, 100), g.kind, gestureAt)
				if ec.Effect.Rule != lv.wantRule || !relEq(ec.Effect.Factor, wantFactor, 1e-6) {
					t.Errorf("%s: explained as rule %q factor %v, want %q factor %v", id, ec.Effect.Rule, ec.Effect.Factor, lv.wantRule, wantFactor)
				}
				if !relEq(ec.Effect.Base, g.weight*g.mag, relTol) || !relEq(ec.Effect.Points, gain, 1e-6) {
					t.Errorf("%s: base %v points %v, want %v and %v", id, ec.Effect.Base, ec.Effect.Points, g.weight*g.mag, gain)
				}
				if lv.wantRule == "hollow" && !strings.Contains(ec.Explanation, "hollow") {
					t.Errorf("%s: explanation %q does not say hollow", id, ec.Explanation)
				}
			}
		}
	})
}

// A notice given up to 72 hours before an outage, or at the same instant,
// halves it, also when the notice arrives after the outage it announced.
func TestNoticeSoftensAnOutageWithinItsWindow(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		outageAt := t0.Add(-90 * day)
		for _, tc := range []struct {
			name      string
			hasNotice bool
			before    time.Duration // how long before the outage the notice came
			softened  bool
		}{
			{name: "no notice"},
			{name: "notice 24h before", hasNotice: true, before: 24 * time.Hour, softened: true},
			{name: "notice at the same instant", hasNotice: true, before: 0, softened: true},
			{name: "notice exactly 72h before", hasNotice: true, before: 72 * time.Hour, softened: true},
			{name: "notice 73h before", hasNotice: true, before: 73 * time.Hour, softened: false},
		} {
			id := "notice-" + strings.ReplaceAll(tc.name, " ", "-")
			// The outage arrives first: the notice is applied by replay.
			evs := []ledger.NewEvent{nev(id, ledger.KindOutage, 2, outageAt)}
			if tc.hasNotice {
				evs = append(evs, nev(id, ledger.KindProactiveNotice, 1, outageAt.Add(-tc.before)))
			}
			recordAll(t, svc, evs...)

			want, wantRule, wantFactor := -24.0, "", 1.0
			if tc.softened {
				want, wantRule, wantFactor = -12, "notice", 0.5
			}
			ec := topOf(t, explainAt(t, svc, id, outageAt, 100), ledger.KindOutage, outageAt)
			if !relEq(ec.Effect.Points, want, relTol) || ec.Effect.Rule != wantRule || ec.Effect.Factor != wantFactor {
				t.Errorf("%s: outage points %v rule %q factor %v, want %v %q %v",
					tc.name, ec.Effect.Points, ec.Effect.Rule, ec.Effect.Factor, want, wantRule, wantFactor)
			}
			if tc.before > 0 || !tc.hasNotice {
				// The withdrawal seen on the balance itself.
				got := balanceAt(t, svc, id, outageAt).Value - balanceAt(t, svc, id, outageAt.Add(-time.Microsecond)).Value
				if !relEq(got, want, 1e-6) {
					t.Errorf("%s: the outage withdrew %v, want %v", tc.name, got, want)
				}
			}
		}
	})
}

// Balances halve every half-life, and all by the same factor, so the order
// of customers by balance never changes with time alone, and the balance
// list shows it.
func TestBalancesFadeWithoutReordering(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		base := t0.Add(-100 * day)
		record(t, svc, nev("fade-single", ledger.KindReliableDelivery, 10, base))
		for _, tc := range []struct {
			after time.Duration
			want  float64
		}{{0, 10}, {45 * day, 10 / math.Sqrt2}, {90 * day, 5}, {180 * day, 2.5}} {
			if got := balanceAt(t, svc, "fade-single", base.Add(tc.after)).Value; !relEq(got, tc.want, relTol) {
				t.Errorf("%v after the delivery: balance %v, want %v", tc.after, got, tc.want)
			}
		}

		ids := []string{"fade-a", "fade-b", "fade-c", "fade-d", "fade-e", "fade-f", "fade-g"}
		for _, id := range ids {
			upsert(t, svc, id, ledger.Profile{Segment: "fade", Value: 1})
		}
		recordAll(t, svc,
			nev("fade-a", ledger.KindReliableDelivery, 20, base.Add(10*day)), // 10.0 now
			nev("fade-b", ledger.KindReliableDelivery, 5, base.Add(80*day)),  // 4.3
			nev("fade-c", ledger.KindOutage, 1, base.Add(50*day)),            // -8.2
			nev("fade-d", ledger.KindComplaint, 1, base.Add(95*day)),         // -7.7
			nev("fade-e", ledger.KindReliableDelivery, 30, base),             // 13.9
			nev("fade-f", ledger.KindReliableDelivery, 40, base),             // 20 - 12 at +90d: 7.4
			nev("fade-f", ledger.KindOutage, 1, base.Add(90*day)),
			// fade-g has no events: balance 0.
		)
		orderAt := func(at time.Time) []string {
			vals := map[string]float64{}
			for _, id := range ids {
				vals[id] = balanceAt(t, svc, id, at).Value
			}
			out := slices.Clone(ids)
			slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(vals[a], vals[b]), cmp.Compare(a, b)) })
			return out
		}
		want := []string{"fade-c", "fade-d", "fade-g", "fade-b", "fade-f", "fade-a", "fade-e"}
		if o1, o2 := orderAt(t0), orderAt(t0.Add(200*day)); !slices.Equal(o1, want) || !slices.Equal(o2, want) {
			t.Errorf("order now %v, 200 days later %v; want %v at both", o1, o2, want)
		}
		for _, desc := range []bool{false, true} {
			page, err := svc.ListBalances(t.Context(), ledger.DefaultTenant, ledger.BalanceQuery{Segment: "fade", Desc: desc})
			if err != nil {
				t.Fatal(err)
			}
			w := slices.Clone(want)
			if desc {
				slices.Reverse(w)
			}
			if got := balanceIDs(page.Entries); !slices.Equal(got, w) {
				t.Errorf("ListBalances (descending %v): %v, want %v", desc, got, w)
			}
		}
	})
}

// A reversed event counts as if it had never been recorded: at every
// moment, and in the rules it shaped for the events after it.
func TestReversedEqualsNeverRecorded(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		base := t0.Add(-100 * day)
		type step struct {
			kind ledger.Kind
			mag  float64
			at   time.Duration // after base
		}
		for _, tc := range []struct {
			name    string
			history []step
			reverse int // index into history
			// The rule of the later RESPONSE before and after the reversal.
			ruleBefore, ruleAfter string
		}{
			{
				name:       "outage before a response",
				history:    []step{{ledger.KindOutage, 1, 0}, {ledger.KindReliableDelivery, 1, day}, {ledger.KindResponse, 1, 2 * day}},
				reverse:    0,
				ruleBefore: "hollow", ruleAfter: "relationship",
			},
			{
				name:       "deliveries before a response",
				history:    []step{{ledger.KindReliableDelivery, 40, 0}, {ledger.KindResponse, 1, day}, {ledger.KindReliableDelivery, 2, 3 * day}},
				reverse:    0,
				ruleBefore: "relationship", ruleAfter: "relationship",
			},
			{
				name: "a complaint answered late",
				history: []step{{ledger.KindReliableDelivery, 3, 0}, {ledger.KindComplaint, 1, day}, {ledger.KindResponse, 1, 2 * day},
					{ledger.KindReliableDelivery, 1, 4 * day}},
				reverse:    1,
				ruleBefore: "hollow", ruleAfter: "relationship",
			},
		} {
			a := "rev-" + strings.ReplaceAll(tc.name, " ", "-")
			b := a + "-without"
			var reverseID string
			var respAt time.Time
			for i, s := range tc.history {
				r := record(t, svc, nev(a, s.kind, s.mag, base.Add(s.at)))
				if s.kind == ledger.KindResponse {
					respAt = base.Add(s.at)
				}
				if i == tc.reverse {
					reverseID = r.Event.ID
					continue
				}
				record(t, svc, nev(b, s.kind, s.mag, base.Add(s.at)))
			}
			if got := topOf(t, explainAt(t, svc, a, time.Time{}, 100), ledger.KindResponse, respAt).Effect.Rule; got != tc.ruleBefore {
				t.Errorf("%s: before the reversal the response's rule is %q, want %q", tc.name, got, tc.ruleBefore)
			}
			rev, err := svc.ReverseEvent(ctx, ledger.DefaultTenant, ledger.ReverseRequest{CustomerID: a, EventID: reverseID})
			if err != nil {
				t.Fatal(err)
			}
			if rev.Event.Kind != ledger.KindReversal || rev.Event.ReversesEventID != reverseID {
				t.Errorf("%s: reversal %+v", tc.name, rev.Event)
			}
			check := func(at time.Time) {
				t.Helper()
				ba, bb := balanceAt(t, svc, a, at), balanceAt(t, svc, b, at)
				if !relEq(ba.Value, bb.Value, relTol) || ba.EventCount != bb.EventCount || ba.Status != bb.Status {
					t.Errorf("%s as of %v: reversed %v/%d/%v, never recorded %v/%d/%v", tc.name, at,
						ba.Value, ba.EventCount, ba.Status, bb.Value, bb.EventCount, bb.Status)
				}
			}
			for _, s := range tc.history {
				check(base.Add(s.at))
			}
			check(t0.Add(time.Minute))
			if want := balanceAt(t, svc, b, rev.Balance.AsOf); !relEq(rev.Balance.Value, want.Value, relTol) || rev.Balance.EventCount != want.EventCount {
				t.Errorf("%s: ReverseEvent returned %+v, want %+v", tc.name, rev.Balance, want)
			}
			ra := topOf(t, explainAt(t, svc, a, t0, 100), ledger.KindResponse, respAt).Effect
			rb := topOf(t, explainAt(t, svc, b, t0, 100), ledger.KindResponse, respAt).Effect
			if ra.Rule != tc.ruleAfter || ra.Rule != rb.Rule || !relEq(ra.Factor, rb.Factor, relTol) || !relEq(ra.Points, rb.Points, relTol) {
				t.Errorf("%s: the later response after the reversal: %q x%v = %v; never recorded: %q x%v = %v (want rule %q)",
					tc.name, ra.Rule, ra.Factor, ra.Points, rb.Rule, rb.Factor, rb.Points, tc.ruleAfter)
			}
		}
	})
}
