package ledger_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// An explanation accounts for the whole balance GetBalance reports: its
// kinds sum to it, its top events are the heaviest, each with the rule
// that shaped it and its points faded to the moment explained.
func TestExplainBalanceAccountsForTheBalance(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		base := t0.Add(-50 * day)
		recordAll(t, svc,
			nev("mixed", ledger.KindReliableDelivery, 10, base),
			nev("mixed", ledger.KindReliableDelivery, 2, base.Add(day)),
			nev("mixed", ledger.KindReliableDelivery, 3, base.Add(2*day)),
			nev("mixed", ledger.KindProactiveNotice, 1, base.Add(5*day)),
			nev("mixed", ledger.KindOutage, 1, base.Add(6*day)),
			nev("mixed", ledger.KindResponse, 1, base.Add(6*day+time.Hour)),
			nev("mixed", ledger.KindCredit, 4, base.Add(7*day)),
			nev("mixed", ledger.KindComplaint, 1, base.Add(20*day)),
			nev("mixed", ledger.KindEngagement, 1, base.Add(25*day)),
			nev("mixed", ledger.KindSuggestionAdopted, 1, base.Add(30*day)),
			nev("mixed", ledger.KindReliableDelivery, 1, base.Add(40*day)),
			nev("mixed", ledger.KindReliableDelivery, 1, base.Add(41*day)),
			nev("sunk", ledger.KindReliableDelivery, 2, base),
			nev("sunk", ledger.KindOutage, 3, base.Add(10*day)),
			nev("sunk", ledger.KindResponse, 1, base.Add(11*day)),
		)
		upsert(t, svc, "quiet", ledger.Profile{DisplayName: "No events", Value: 1})

		for _, tc := range []struct {
			name          string
			id            string
			asOf          time.Time
			top           int
			wantTop       int
			wantEvents    int64
			wantOverdrawn bool
		}{
			{name: "default top is 5", id: "mixed", wantTop: 5, wantEvents: 12},
			{name: "top 3", id: "mixed", top: 3, wantTop: 3, wantEvents: 12},
			{name: "top 100 lists every event", id: "mixed", top: 100, wantTop: 12, wantEvents: 12},
			{name: "as of the past", id: "mixed", asOf: base.Add(6*day + 2*time.Hour), top: 100, wantTop: 6, wantEvents: 6},
			{name: "overdrawn", id: "sunk", top: 2, wantTop: 2, wantEvents: 3, wantOverdrawn: true},
			{name: "no events", id: "quiet", top: 5, wantTop: 0, wantEvents: 0},
		} {
			x, err := svc.ExplainBalance(ctx, ledger.DefaultTenant, tc.id, tc.asOf, tc.top)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			b := x.Balance
			wantAt := tc.asOf
			if wantAt.IsZero() {
				wantAt = t0
			}
			if !b.AsOf.Equal(wantAt) {
				t.Errorf("%s: explained as of %v, want %v", tc.name, b.AsOf, wantAt)
			}
			if want := balanceAt(t, svc, tc.id, tc.asOf); !relEq(b.Value, want.Value, relTol) || b.EventCount != want.EventCount || b.Status != want.Status {
				t.Errorf("%s: explained balance %+v, GetBalance %+v", tc.name, b, want)
			}
			if b.EventCount != tc.wantEvents {
				t.Errorf("%s: %d events, want %d", tc.name, b.EventCount, tc.wantEvents)
			}
			// Contributions: one per kind, heaviest first, summing to the
			// balance and its event count.
			sum, events := 0.0, int64(0)
			seen := map[ledger.Kind]bool{}
			for i, kc := range x.ByKind {
				if seen[kc.Kind] {
					t.Errorf("%s: kind %v listed twice", tc.name, kc.Kind)
				}
				seen[kc.Kind] = true
				sum += kc.Points
				events += kc.Events
				if i > 0 && math.Abs(kc.Points) > math.Abs(x.ByKind[i-1].Points) {
					t.Errorf("%s: contributions not by |points| descending at %d: %+v", tc.name, i, x.ByKind)
				}
			}
			if !relEq(sum, b.Value, 1e-9) {
				t.Errorf("%s: contributions sum to %v, balance is %v", tc.name, sum, b.Value)
			}
			if events != b.EventCount {
				t.Errorf("%s: contributions count %d events, balance %d", tc.name, events, b.EventCount)
			}
			// Top events: heaviest first, limited, each explained.
			if len(x.Top) != tc.wantTop {
				t.Errorf("%s: %d top events, want %d", tc.name, len(x.Top), tc.wantTop)
			}
			total := 0.0
			for i, ec := range x.Top {
				if i > 0 && math.Abs(ec.PointsNow) > math.Abs(x.Top[i-1].PointsNow) {
					t.Errorf("%s: top event %d |%v| above %d |%v|", tc.name, i, ec.PointsNow, i-1, x.Top[i-1].PointsNow)
				}
				if ec.Explanation == "" {
					t.Errorf("%s: top event %d has no explanation", tc.name, i)
				}
				if !relEq(ec.Effect.Points, ec.Effect.Base*ec.Effect.Factor, relTol) {
					t.Errorf("%s: top event %d: %v x %v != %v", tc.name, i, ec.Effect.Base, ec.Effect.Factor, ec.Effect.Points)
				}
				if want := ec.Effect.Points * fade(wantAt.Sub(ec.Event.OccurredAt)); !relEq(ec.PointsNow, want, 1e-9) {
					t.Errorf("%s: top event %d: points now %v, want %v", tc.name, i, ec.PointsNow, want)
				}
				total += ec.PointsNow
			}
			// With every event listed, the top events sum to the balance too.
			if int64(len(x.Top)) == b.EventCount && !relEq(total, b.Value, 1e-9) {
				t.Errorf("%s: all top events sum to %v, balance %v", tc.name, total, b.Value)
			}
			if x.Summary == "" {
				t.Fatalf("%s: empty summary", tc.name)
			}
			if got := strings.Contains(x.Summary, "overdrawn"); got != tc.wantOverdrawn || (b.Status == ledger.StatusOverdrawn) != tc.wantOverdrawn {
				t.Errorf("%s: status %v, summary %q: want overdrawn=%v", tc.name, b.Status, x.Summary, tc.wantOverdrawn)
			}
		}

		// The rules that shaped the mixed history.
		x := explainAt(t, svc, "mixed", time.Time{}, 100)
		for _, w := range []struct {
			kind ledger.Kind
			rule string
		}{{ledger.KindOutage, "notice"}, {ledger.KindResponse, "relationship"}, {ledger.KindCredit, "relationship"}, {ledger.KindComplaint, ""}} {
			if got := topOf(t, x, w.kind, time.Time{}).Effect.Rule; got != w.rule {
				t.Errorf("mixed %v: rule %q, want %q", w.kind, got, w.rule)
			}
		}
		if got := topOf(t, explainAt(t, svc, "sunk", time.Time{}, 5), ledger.KindResponse, time.Time{}).Effect; got.Rule != "hollow" || got.Factor != 0.25 {
			t.Errorf("response to the overdrawn customer: %q x%v, want hollow x0.25", got.Rule, got.Factor)
		}
	})
}

func TestExplainBalanceRefusesABadRequest(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		record(t, svc, nev("c", ledger.KindReliableDelivery, 1, t0))
		if _, err := svc.ExplainBalance(ctx, ledger.DefaultTenant, "nobody", time.Time{}, 0); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("unknown customer: %v, want not found", err)
		}
		for _, top := range []int{101, -1} {
			_, err := svc.ExplainBalance(ctx, ledger.DefaultTenant, "c", time.Time{}, top)
			if !errors.Is(err, ledger.ErrInvalidArgument) || ledger.FieldOf(err) != "top" {
				t.Errorf("top %d: %v, want INVALID_ARGUMENT on top", top, err)
			}
		}
		if x, err := svc.ExplainBalance(ctx, ledger.DefaultTenant, "c", time.Time{}, 100); err != nil || len(x.Top) != 1 {
			t.Errorf("top 100, the limit: %+v, %v", x, err)
		}
	})
}
