package ledger_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// A recovery plan's gestures really do what it says, for random histories
// and policies: recording the suggested gesture (one event of the
// magnitude, or that many events of magnitude 1) brings the customer back
// to its limit at the plan's moment (the events one a microsecond after
// the other), and a gesture a millionth smaller, or one event fewer, does
// not. Each check records the history again for a customer of its own and
// reads the balance through the Service, as a client would.
func TestRecoveryPlanGesturesRecover(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := now // moved past the gestures before they are recorded
	svc := ledger.NewService(openStore(t), ledger.Options{Now: func() time.Time { return clock }})
	ctx := t.Context()
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		tenant := fmt.Sprintf("t%d", run)
		p, _, err := svc.GetPolicy(ctx, tenant, 0)
		if err != nil {
			rt.Fatal(err)
		}
		pol := *p
		pol.Weights = map[ledger.Kind]float64{}
		for k, w := range p.Weights {
			pol.Weights[k] = w
		}
		pol.HalfLife = time.Duration(rapid.IntRange(5, 200).Draw(rt, "halfLifeDays")) * 24 * time.Hour
		pol.Weights[ledger.KindCredit] = rapid.Float64Range(0.5, 6).Draw(rt, "creditWeight")
		pol.Weights[ledger.KindResponse] = rapid.Float64Range(1, 10).Draw(rt, "responseWeight")
		pol.Relationship.MinFactor = rapid.Float64Range(0.1, 1).Draw(rt, "minFactor")
		pol.DefaultOverdraftLimit = -rapid.Float64Range(0, 15).Draw(rt, "limit")
		if _, _, err := svc.SetPolicy(ctx, tenant, pol); err != nil {
			rt.Fatal(err)
		}
		kinds := ledger.RecordableKinds()
		var history []ledger.NewEvent
		for i := range rapid.IntRange(1, 12).Draw(rt, "events") {
			m := rapid.Float64Range(0.1, 8).Draw(rt, fmt.Sprint("magnitude", i))
			history = append(history, ledger.NewEvent{
				Kind:       kinds[rapid.IntRange(0, len(kinds)-1).Draw(rt, fmt.Sprint("kind", i))],
				Magnitude:  &m,
				OccurredAt: now.Add(-time.Duration(rapid.IntRange(1, 120*24).Draw(rt, fmt.Sprint("hoursAgo", i))) * time.Hour),
			})
		}
		record := func(id string, extra ...ledger.NewEvent) {
			var evs []ledger.NewEvent
			for _, e := range append(append([]ledger.NewEvent{}, history...), extra...) {
				e.CustomerID = id
				evs = append(evs, e)
			}
			for len(evs) > 0 { // a batch holds at most 1,000
				n := min(len(evs), 1000)
				if _, err := svc.RecordEvents(ctx, tenant, evs[:n]); err != nil {
					rt.Fatal(err)
				}
				evs = evs[n:]
			}
		}
		var at time.Time // the plan's moment
		status := func(id string, after time.Time) ledger.Status {
			b, err := svc.GetBalance(ctx, tenant, id, after)
			if err != nil {
				rt.Fatal(err)
			}
			return b.Status
		}
		clock = now
		record("p")
		plan, err := svc.PlanRecovery(ctx, tenant, "p", nil)
		if err != nil {
			rt.Fatal(err)
		}
		at = plan.Balance.AsOf
		clock = at.Add(time.Second) // the gestures are recorded later than the plan, dated from it
		if plan.Balance.Status != ledger.StatusOverdrawn {
			if len(plan.Options) != 0 || plan.Needed != 0 {
				rt.Fatalf("a healthy customer's plan has options: %+v", plan)
			}
			return
		}
		if plan.Needed <= 0 || len(plan.Options) == 0 {
			rt.Fatalf("an overdrawn customer's plan: %+v", plan)
		}
		for _, o := range plan.Options {
			if o.Magnitude > 0 {
				id := "m-" + o.Kind.String()
				record(id, ledger.NewEvent{Kind: o.Kind, Magnitude: &o.Magnitude, OccurredAt: at})
				if status(id, at) != ledger.StatusHealthy {
					rt.Fatalf("%s of %v does not recover the customer (plan %+v)", o.Kind, o.Magnitude, plan)
				}
				less := o.Magnitude * (1 - 1e-6)
				record(id+"-less", ledger.NewEvent{Kind: o.Kind, Magnitude: &less, OccurredAt: at})
				if status(id+"-less", at) != ledger.StatusOverdrawn {
					rt.Fatalf("%s of %v already recovers: %v is not the smallest", o.Kind, less, o.Magnitude)
				}
			}
			if o.Events > 0 {
				one := 1.0
				var evs []ledger.NewEvent
				for i := range o.Events {
					evs = append(evs, ledger.NewEvent{Kind: o.Kind, Magnitude: &one, OccurredAt: at.Add(time.Duration(i) * time.Microsecond)})
				}
				last := evs[len(evs)-1].OccurredAt
				id := "n-" + o.Kind.String()
				record(id, evs...)
				if status(id, last) != ledger.StatusHealthy {
					rt.Fatalf("%d events of %s do not recover the customer", o.Events, o.Kind)
				}
				record(id+"-less", evs[:len(evs)-1]...)
				if status(id+"-less", last) != ledger.StatusOverdrawn {
					rt.Fatalf("%d events of %s already recover the customer", o.Events-1, o.Kind)
				}
			}
		}
		// Time alone: healthy at RecoversAt, not a second before.
		if !plan.RecoversAt.IsZero() {
			at, err := svc.GetBalance(ctx, tenant, "p", plan.RecoversAt)
			if err != nil {
				rt.Fatal(err)
			}
			before, err := svc.GetBalance(ctx, tenant, "p", plan.RecoversAt.Add(-time.Second))
			if err != nil {
				rt.Fatal(err)
			}
			if at.Status != ledger.StatusHealthy || before.Status != ledger.StatusOverdrawn {
				rt.Fatalf("recovers at %v: %v then, %v a second before", plan.RecoversAt, at.Status, before.Status)
			}
		}
	})
}

// The assumed gestures come first: a plan after a response needs less
// credit than one without, and matches the plan of a customer that had
// the response recorded.
func TestRecoveryPlanAssumes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	svc := ledger.NewService(openStore(t), ledger.Options{Now: func() time.Time { return clock }})
	ctx := t.Context()
	six := 6.0
	for _, id := range []string{"a", "b"} {
		if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: id, Kind: ledger.KindOutage,
			Magnitude: &six, OccurredAt: now.Add(-24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	plain, err := svc.PlanRecovery(ctx, ledger.DefaultTenant, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	assumed, err := svc.PlanRecovery(ctx, ledger.DefaultTenant, "a", []ledger.Gesture{{Kind: ledger.KindResponse, Magnitude: 1}})
	if err != nil {
		t.Fatal(err)
	}
	// b gets the response for real, at the moment the plan assumed it,
	// and is planned from just after it.
	clock = now.Add(time.Second)
	if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: "b", Kind: ledger.KindResponse, OccurredAt: now}); err != nil {
		t.Fatal(err)
	}
	clock = now
	recorded, err := svc.PlanRecovery(ctx, ledger.DefaultTenant, "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	credit := func(p ledger.RecoveryPlan) ledger.RecoveryOption {
		for _, o := range p.Options {
			if o.Kind == ledger.KindCredit {
				return o
			}
		}
		t.Fatalf("no credit option in %+v", p)
		return ledger.RecoveryOption{}
	}
	if credit(assumed).Magnitude >= credit(plain).Magnitude {
		t.Errorf("a credit after a response (%v) is not smaller than without (%v)", credit(assumed).Magnitude, credit(plain).Magnitude)
	}
	if math.Abs(credit(assumed).Magnitude-credit(recorded).Magnitude) > 1e-9 || math.Abs(assumed.Needed-recorded.Needed) > 1e-9 {
		t.Errorf("assumed %+v, recorded %+v", assumed, recorded)
	}
	if sum := plain.Summary(); !strings.Contains(sum, "a credit of") || !strings.Contains(sum, "×0.25") || !strings.Contains(sum, "responses") {
		t.Errorf("summary %q", sum)
	}
	if c := credit(plain); c.Rule != "hollow" || c.Factor != 0.25 {
		t.Errorf("a credit to an overdrawn customer: factor %v by %q, want 0.25 by the hollow rule", c.Factor, c.Rule)
	}
	if _, err := svc.PlanRecovery(ctx, ledger.DefaultTenant, "a", []ledger.Gesture{{Kind: ledger.KindReversal, Magnitude: 1}}); err == nil {
		t.Error("a reversal was accepted as a gesture")
	}
}
