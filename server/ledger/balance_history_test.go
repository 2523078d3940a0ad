package ledger_test

import (
	"errors"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// A history samples from start every step up to end, and each point is
// what GetBalance says at that moment: events on a point count at it, the
// ones between two points from the next.
func TestBalanceHistoryIsGetBalanceAtEachPoint(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		base := t0.Add(-40 * day)
		recordAll(t, svc,
			nev("h", ledger.KindReliableDelivery, 10, base),                              // exactly on a daily point
			nev("h", ledger.KindProactiveNotice, 1, base.Add(3*day+5*time.Hour)),         // between points
			nev("h", ledger.KindOutage, 2, base.Add(4*day)),                              // softened, on a point
			nev("h", ledger.KindResponse, 1, base.Add(4*day+time.Minute)),                // within the same hour
			nev("h", ledger.KindComplaint, 2, base.Add(9*day+12*time.Hour)),              // overdraws
			nev("h", ledger.KindCredit, 5, base.Add(10*day)),                             // hollow
			nev("h", ledger.KindReliableDelivery, 30, base.Add(20*day+time.Microsecond)), // just after a point
		)
		statuses := map[ledger.Status]int{}
		for _, tc := range []struct {
			name       string
			start, end time.Time
			step       time.Duration
			wantStep   time.Duration
			wantPoints int
		}{
			{name: "daily", start: base.Add(-day), end: base.Add(30 * day), step: day, wantStep: day, wantPoints: 32},
			{name: "end between steps", start: base.Add(-day), end: base.Add(30*day + 5*time.Hour), step: day, wantStep: day, wantPoints: 32},
			{name: "default step is a day", start: base, end: base.Add(12 * day), wantStep: day, wantPoints: 13},
			{name: "hourly", start: base.Add(3 * day), end: base.Add(5 * day), step: time.Hour, wantStep: time.Hour, wantPoints: 49},
			{name: "one minute", start: base.Add(4*day - 2*time.Minute), end: base.Add(4*day + 2*time.Minute), step: time.Minute, wantStep: time.Minute, wantPoints: 5},
			{name: "start equals end", start: base.Add(10 * day), end: base.Add(10 * day), step: day, wantStep: day, wantPoints: 1},
			{name: "up to now and beyond", start: t0.Add(-2 * day), end: t0.Add(2 * day), step: 12 * time.Hour, wantStep: 12 * time.Hour, wantPoints: 9},
		} {
			points, version, err := svc.BalanceHistory(ctx, ledger.DefaultTenant, "h", tc.start, tc.end, tc.step)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if version != 1 {
				t.Errorf("%s: policy version %d, want 1", tc.name, version)
			}
			if len(points) != tc.wantPoints {
				t.Fatalf("%s: %d points, want %d", tc.name, len(points), tc.wantPoints)
			}
			for i, p := range points {
				if want := tc.start.Add(time.Duration(i) * tc.wantStep); !p.At.Equal(want) {
					t.Errorf("%s: point %d at %v, want %v", tc.name, i, p.At, want)
				}
				if p.At.After(tc.end) {
					t.Errorf("%s: point %d at %v is after the end %v", tc.name, i, p.At, tc.end)
				}
				want := balanceAt(t, svc, "h", p.At)
				if !relEq(p.Value, want.Value, relTol) || p.Status != want.Status || p.Count != want.EventCount {
					t.Errorf("%s: point %d at %v: %v %v %d; GetBalance %v %v %d", tc.name, i, p.At, p.Value, p.Status, p.Count,
						want.Value, want.Status, want.EventCount)
				}
				statuses[p.Status]++
			}
		}
		// The history crosses zero, so both statuses were compared.
		if statuses[ledger.StatusHealthy] == 0 || statuses[ledger.StatusOverdrawn] == 0 {
			t.Errorf("setup: points by status %v, want both", statuses)
		}
	})
}

// A history is bounded: a step of at least a minute, start and end given
// in order, and at most 1000 points (also over ranges longer than a
// time.Duration holds).
func TestBalanceHistoryRefusesABadRange(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		base := t0.Add(-40 * day)
		record(t, svc, nev("h", ledger.KindReliableDelivery, 1, base))
		for _, tc := range []struct {
			name       string
			start, end time.Time
			step       time.Duration
			field      string
		}{
			{name: "step under a minute", start: base, end: base.Add(day), step: 59 * time.Second, field: "step"},
			{name: "negative step", start: base, end: base.Add(day), step: -time.Hour, field: "step"},
			{name: "end before start", start: base, end: base.Add(-time.Second), step: day, field: "end"},
			{name: "missing start", end: base, step: day, field: "start"},
			{name: "missing end", start: base, step: day, field: "end"},
			{name: "1001 points", start: base, end: base.Add(1000 * time.Minute), step: time.Minute, field: "step"},
			{name: "1001 daily points by default", start: base.Add(-1000 * day), end: base, field: "step"},
			// Regression: time.Time.Sub saturates at about 292 years; the
			// point count once let 8036 points through.
			{name: "1970 to 9999 yearly", start: time.Unix(0, 0).UTC(), end: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), step: 365 * day, field: "step"},
		} {
			_, _, err := svc.BalanceHistory(ctx, ledger.DefaultTenant, "h", tc.start, tc.end, tc.step)
			if !errors.Is(err, ledger.ErrInvalidArgument) || ledger.FieldOf(err) != tc.field {
				t.Errorf("%s: %v, want INVALID_ARGUMENT on %s", tc.name, err, tc.field)
			}
		}
		// 1000 points is the limit, not over it.
		points, _, err := svc.BalanceHistory(ctx, ledger.DefaultTenant, "h", base, base.Add(999*time.Minute), time.Minute)
		if err != nil || len(points) != 1000 {
			t.Errorf("1000 points: %d, %v", len(points), err)
		}
		if _, _, err := svc.BalanceHistory(ctx, ledger.DefaultTenant, "nobody", base, base, 0); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("unknown customer: %v, want not found", err)
		}
	})
}
