package storetest

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// Daily snapshots round-trip exactly, a day's snapshot replaces the one
// before it (a backfill rerun), and reads select by tenant, segment or
// overall, and an inclusive range of days, in day order.
func testTrendPoints(t *testing.T, s ledger.Store) {
	day := func(n int) time.Time { return time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n) }
	point := func(n int, segment string, overall bool, mean float64) ledger.TrendPoint {
		return ledger.TrendPoint{Day: day(n), PolicyVersion: 1<<40 + 1, TakenAt: at(n).Add(3 * time.Microsecond),
			SegmentStats: ledger.SegmentStats{Segment: segment, Overall: overall, Customers: 1<<40 + 7, Overdrawn: 5,
				Mean: mean, P10: -math.Pi, P50: 0.1, P90: 1e300, ValueAtRisk: 12.25}}
	}
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		if _, err := r.LatestTrendDay(ctx, tenantA); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("latest day of a tenant without snapshots: %v, want ErrNotFound", err)
		}
		return nil
	})
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		var ps []ledger.TrendPoint
		for n := range 4 { // days 0..3; day 1 of gold comes again below
			ps = append(ps, point(n, "gold", false, float64(n)), point(n, "", false, -1), point(n, "", true, 7))
		}
		if err := tx.PutTrendPoints(ctx, tenantA, ps); err != nil {
			return err
		}
		return tx.PutTrendPoints(ctx, tenantB, []ledger.TrendPoint{point(9, "gold", false, 99), point(9, "", true, 99)})
	})
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		return tx.PutTrendPoints(ctx, tenantA, []ledger.TrendPoint{point(1, "gold", false, 42.5)})
	})
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		got, err := r.TrendPoints(ctx, tenantA, ledger.TrendQuery{Segment: "gold", Start: day(1), End: day(2)})
		if err != nil {
			return err
		}
		want := []ledger.TrendPoint{point(1, "gold", false, 42.5), point(2, "gold", false, 2)}
		if len(got) != len(want) {
			t.Fatalf("gold, days 1-2: %d points, want %d: %+v", len(got), len(want), got)
		}
		for i := range want {
			g, w := got[i], want[i]
			if !g.Day.Equal(w.Day) || !g.TakenAt.Equal(w.TakenAt) || g.SegmentStats != w.SegmentStats || g.PolicyVersion != w.PolicyVersion {
				t.Errorf("gold, point %d: got %+v, want %+v", i, g, w)
			}
		}
		all, err := r.TrendPoints(ctx, tenantA, ledger.TrendQuery{Overall: true, Start: day(-5), End: day(10)})
		if err != nil {
			return err
		}
		if len(all) != 4 || !all[0].Day.Equal(day(0)) || !all[3].Day.Equal(day(3)) || !all[0].Overall || all[0].Mean != 7 {
			t.Errorf("overall, every day: %+v, want days 0 to 3 in order", all)
		}
		none, err := r.TrendPoints(ctx, tenantA, ledger.TrendQuery{Segment: "silver", Start: day(0), End: day(3)})
		if err != nil || len(none) != 0 {
			t.Errorf("a segment without snapshots: %+v, %v", none, err)
		}
		noSegment, err := r.TrendPoints(ctx, tenantA, ledger.TrendQuery{Start: day(3), End: day(3)})
		if err != nil || len(noSegment) != 1 || noSegment[0].Overall || noSegment[0].Mean != -1 {
			t.Errorf("customers without a segment, day 3: %+v, %v", noSegment, err)
		}
		if latest, err := r.LatestTrendDay(ctx, tenantA); err != nil || !latest.Equal(day(3)) {
			t.Errorf("latest day of A: %v, %v; want %v", latest, err, day(3))
		}
		if latest, err := r.LatestTrendDay(ctx, tenantB); err != nil || !latest.Equal(day(9)) {
			t.Errorf("latest day of B: %v, %v; want %v", latest, err, day(9))
		}
		return nil
	})
}
