package ledger_test

import (
	"strings"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// A SERVICE_CHANGE announced within the change-notice window (30 days by
// default, edges included) withdraws half; one announced earlier, after
// the change, or not at all withdraws in full. The outage notice's
// 72-hour window plays no part.
func TestAnnouncedServiceChangeIsSoftened(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		changeAt := t0.Add(-60 * day)
		for _, tc := range []struct {
			name      string
			hasNotice bool
			before    time.Duration // how long before the change the notice came; negative: after
			softened  bool
		}{
			{name: "not announced"},
			{name: "announced the same instant", hasNotice: true, softened: true},
			{name: "announced 5 days before", hasNotice: true, before: 5 * day, softened: true},
			{name: "announced exactly 30 days before", hasNotice: true, before: 30 * day, softened: true},
			{name: "announced 30 days and a microsecond before", hasNotice: true, before: 30*day + time.Microsecond},
			{name: "announced 45 days before", hasNotice: true, before: 45 * day},
			{name: "announced a day after", hasNotice: true, before: -day},
		} {
			id := "change-" + strings.ReplaceAll(tc.name, " ", "-")
			// The change arrives first: the notice is applied by replay.
			evs := []ledger.NewEvent{nev(id, ledger.KindServiceChange, 10, changeAt)}
			if tc.hasNotice {
				evs = append(evs, nev(id, ledger.KindProactiveNotice, 1, changeAt.Add(-tc.before)))
			}
			recordAll(t, svc, evs...)
			want, wantRule, wantFactor := -10.0, "", 1.0
			if tc.softened {
				want, wantRule, wantFactor = -5, "notice", 0.5
			}
			ec := topOf(t, explainAt(t, svc, id, changeAt, 100), ledger.KindServiceChange, changeAt)
			if ec.Effect.Points != want || ec.Effect.Rule != wantRule || ec.Effect.Factor != wantFactor {
				t.Errorf("%s: points %v rule %q factor %v, want %v %q %v",
					tc.name, ec.Effect.Points, ec.Effect.Rule, ec.Effect.Factor, want, wantRule, wantFactor)
			}
			if tc.softened && !strings.Contains(ec.Explanation, "softened to 0.5x because the change was announced in advance") {
				t.Errorf("%s: explanation %q does not say the change was announced", tc.name, ec.Explanation)
			}
		}
	})
}

// The change notice is the policy's own: its window and factor apply to
// changes, and outages keep theirs.
func TestChangeNoticeIsAPolicyParameter(t *testing.T) {
	t.Parallel()
	p := ledger.DefaultPolicy()
	p.ChangeNotice = ledger.NoticeEffect{Window: 7 * day, Factor: 0.2}
	notice := ledger.Event{Kind: ledger.KindProactiveNotice, Magnitude: 1, OccurredAt: t0, Fingerprint: "n"}
	for _, tc := range []struct {
		kind  ledger.Kind
		after time.Duration
		want  float64
	}{
		{ledger.KindServiceChange, 7 * day, -10 * 0.2},
		{ledger.KindServiceChange, 8 * day, -10},
		{ledger.KindOutage, 72 * time.Hour, -12 * 10 * 0.5}, // the outage notice: 72h, 0.5
		{ledger.KindOutage, 4 * day, -12 * 10},
	} {
		st, _ := p.Apply(ledger.State{}, notice)
		_, eff := p.Apply(st, ledger.Event{Kind: tc.kind, Magnitude: 10, OccurredAt: t0.Add(tc.after), Fingerprint: "x"})
		if eff.Points != tc.want {
			t.Errorf("%v %v after a notice: %v points, want %v", tc.kind, tc.after, eff.Points, tc.want)
		}
	}
}

// A BROKEN_PROMISE withdraws more than the failures it is about, notice or
// not, and stays an unanswered grievance until a RESPONSE or CREDIT: the
// customer counts double on the recovery list meanwhile, and the reason
// says so.
func TestBrokenPromiseIsAGrievanceNoNoticeSoftens(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		clk := newClock(t0)
		svc := ledger.NewService(st, ledger.Options{Now: clk.Now})
		p := ledger.DefaultPolicy()
		if -p.Weights[ledger.KindBrokenPromise] <= -p.Weights[ledger.KindOutage] || -p.Weights[ledger.KindBrokenPromise] <= -p.Weights[ledger.KindComplaint] {
			t.Errorf("a broken promise (%v) must withdraw more than an hour of outage (%v) and a complaint (%v)",
				p.Weights[ledger.KindBrokenPromise], p.Weights[ledger.KindOutage], p.Weights[ledger.KindComplaint])
		}
		brokenAt := t0.Add(-2 * day)
		recordAll(t, svc,
			nev("promise", ledger.KindProactiveNotice, 1, brokenAt.Add(-time.Hour)),
			nev("promise", ledger.KindBrokenPromise, 1, brokenAt),
			nev("same", ledger.KindBrokenPromise, 1, brokenAt))
		ec := topOf(t, explainAt(t, svc, "promise", time.Time{}, 10), ledger.KindBrokenPromise, brokenAt)
		if ec.Effect.Points != -20 || ec.Effect.Rule != "" || !strings.HasPrefix(ec.Explanation, "a broken promise 2 days ago: -20.0 points") {
			t.Errorf("the broken promise after a notice: %+v; want the full -20, no rule", ec)
		}

		page, err := svc.ListOutreach(t.Context(), ledger.DefaultTenant, ledger.PurposeRecovery, "", 10, "", false)
		if err != nil {
			t.Fatal(err)
		}
		var promise, same *ledger.OutreachEntry
		for i := range page.Entries {
			switch page.Entries[i].Customer.ID {
			case "promise":
				promise = &page.Entries[i]
			case "same":
				same = &page.Entries[i]
			}
		}
		if promise == nil || same == nil {
			t.Fatalf("recovery list %+v: want both customers", page.Entries)
		}
		if promise.Reasons[0] != "broken promise 2 days ago, no response or credit since" {
			t.Errorf("reason %q", promise.Reasons[0])
		}
		// Unanswered: priority is twice the balance's weight.
		if want := -2 * promise.Balance.Value; promise.Priority != want {
			t.Errorf("priority %v, want %v (doubled while unanswered)", promise.Priority, want)
		}

		// A response answers it; at the same instant too, whatever the
		// arrival order (the promise sorts before the remedy).
		record(t, svc, nev("promise", ledger.KindResponse, 1, t0.Add(-day)))
		recordAll(t, svc, nev("answered-at-once", ledger.KindResponse, 1, brokenAt), nev("answered-at-once", ledger.KindBrokenPromise, 1, brokenAt))
		page, err = svc.ListOutreach(t.Context(), ledger.DefaultTenant, ledger.PurposeRecovery, "", 10, "", false)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			switch e.Customer.ID {
			case "promise":
				if e.Reasons[0] != "broken promise 2 days ago, answered 24 hours ago" || e.Priority != -e.Balance.Value {
					t.Errorf("after the response: %+v", e)
				}
			case "answered-at-once":
				if !strings.Contains(e.Reasons[0], "answered") {
					t.Errorf("a response at the instant of the promise does not answer it: %+v", e)
				}
			}
		}
	})
}

// A change lands on the relationship like any withdrawal, with no rule of
// its own: a healthy balance absorbs it, an overdrawn one falls further,
// by the same points.
func TestServiceChangeLandsOnTheRelationship(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		at := t0.Add(-time.Hour)
		recordAll(t, svc,
			nev("loyal", ledger.KindReliableDelivery, 30, at.Add(-time.Minute)),
			nev("loyal", ledger.KindServiceChange, 10, at),
			nev("hurt", ledger.KindComplaint, 1, at.Add(-time.Minute)),
			nev("hurt", ledger.KindServiceChange, 10, at))
		for _, tc := range []struct {
			id     string
			before float64
			status ledger.Status
		}{{"loyal", 30, ledger.StatusHealthy}, {"hurt", -8, ledger.StatusOverdrawn}} {
			b := balanceAt(t, svc, tc.id, at)
			prev := balanceAt(t, svc, tc.id, at.Add(-time.Microsecond)).Value
			// (The earlier event has faded for a minute.)
			if !relEq(prev, tc.before, 1e-4) || !relEq(b.Value-prev, -10, 1e-9) || b.Status != tc.status {
				t.Errorf("%s: %v -> %v (%v); want %v -> %v, %v", tc.id, prev, b.Value, b.Status, tc.before, tc.before-10, tc.status)
			}
		}
	})
}

// An incident can carry a broken promise for all its customers (a restore
// time that passed). Repeating the call with broken_promise_at, once the
// promise is broken, adds only that; another time is a conflict; a time
// before the start is refused.
func TestIncidentCarriesABrokenPromise(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		start := t0.Add(-6 * time.Hour)
		in := ledger.Incident{ID: "inc-promise", CustomerIDs: []string{"p1", "p2"}, DurationHours: 4, StartedAt: start}
		res, err := svc.RecordIncident(ctx, ledger.DefaultTenant, in)
		if err != nil || res.Created != 2 {
			t.Fatalf("the incident: %+v, %v", res, err)
		}
		in.BrokenPromiseAt = start.Add(2 * time.Hour) // "back in two hours"
		res, err = svc.RecordIncident(ctx, ledger.DefaultTenant, in)
		if err != nil || res.Created != 2 || res.Replayed != 2 || len(res.Conflicts) != 0 {
			t.Fatalf("adding the broken promise: %+v, %v; want 2 new promises and the 2 outages replayed", res, err)
		}
		for _, id := range in.CustomerIDs {
			events, _, err := svc.ListEvents(ctx, ledger.DefaultTenant, ledger.ListQuery{CustomerID: id})
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, e := range events {
				kinds = append(kinds, e.Kind.String())
				if e.Kind == ledger.KindBrokenPromise && (!e.OccurredAt.Equal(in.BrokenPromiseAt) || e.IncidentID != in.ID) {
					t.Errorf("%s: the promise %+v", id, e)
				}
			}
			if strings.Join(kinds, ",") != "broken_promise,outage" {
				t.Errorf("%s has %v, want the outage and the broken promise", id, kinds)
			}
		}
		// Both withdrawals count: 4 hours of outage (-48) and the promise.
		if b := balanceAt(t, svc, "p1", time.Time{}); !relEq(b.Value, -48*fade(6*time.Hour)-20*fade(4*time.Hour), 1e-9) {
			t.Errorf("p1's balance %v, want the outage and the promise, faded", b.Value)
		}
		again := in
		again.BrokenPromiseAt = start.Add(3 * time.Hour)
		res, err = svc.RecordIncident(ctx, ledger.DefaultTenant, again)
		if err != nil || len(res.Conflicts) != 2 || res.Created != 0 {
			t.Errorf("another promise time: %+v, %v; want a conflict for both customers", res, err)
		}
		early := in
		early.ID, early.BrokenPromiseAt = "inc-early", start.Add(-time.Minute)
		if _, err := svc.RecordIncident(ctx, ledger.DefaultTenant, early); ledger.FieldOf(err) != "broken_promise_at" {
			t.Errorf("a promise broken before the start: %v, want broken_promise_at refused", err)
		}
	})
}
