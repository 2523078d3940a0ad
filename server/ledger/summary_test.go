package ledger_test

import (
	"math"
	"slices"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// percentileOf is the nearest-rank percentile: sorted[ceil(p*n)-1].
func percentileOf(sorted []float64, p float64) float64 {
	return sorted[int(math.Ceil(p*float64(len(sorted))))-1]
}

// A summary has a row per segment, in segment order, then one for
// everyone: counts, the mean and nearest-rank percentiles of the balances,
// and the value weight of the overdrawn customers.
func TestSummarizeBalancesPerSegment(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := ledger.NewService(st, ledger.Options{Now: newClock(t0).Now})
		ctx := t.Context()
		pop := seedPopulation(t, svc, t0)
		bals := balancesNow(t, svc, pop)

		expected := func(keep func(seeded) bool) ledger.SegmentStats {
			var vals []float64
			var st ledger.SegmentStats
			for _, c := range pop {
				if !keep(c) {
					continue
				}
				b := bals[c.id]
				vals = append(vals, b.Value)
				st.Customers++
				st.Mean += b.Value
				if b.Status == ledger.StatusOverdrawn {
					st.Overdrawn++
					st.ValueAtRisk += c.value
				}
			}
			if len(vals) == 0 {
				return st
			}
			slices.Sort(vals)
			st.Mean /= float64(len(vals))
			st.P10, st.P50, st.P90 = percentileOf(vals, 0.1), percentileOf(vals, 0.5), percentileOf(vals, 0.9)
			return st
		}
		check := func(name string, got, want ledger.SegmentStats) {
			t.Helper()
			if got.Customers != want.Customers || got.Overdrawn != want.Overdrawn || !relEq(got.Mean, want.Mean, 1e-9) ||
				!relEq(got.P10, want.P10, 1e-9) || !relEq(got.P50, want.P50, 1e-9) || !relEq(got.P90, want.P90, 1e-9) ||
				!relEq(got.ValueAtRisk, want.ValueAtRisk, 1e-12) {
				t.Errorf("%s:\ngot  %+v\nwant %+v", name, got, want)
			}
		}
		seg := func(name string) func(seeded) bool { return func(c seeded) bool { return c.segment == name } }

		rows, at, version, err := svc.SummarizeBalances(ctx, ledger.DefaultTenant, "", false)
		if err != nil {
			t.Fatal(err)
		}
		if version != 1 || !at.Equal(t0) {
			t.Errorf("summary at %v under version %d, want %v and 1", at, version, t0)
		}
		if len(rows) != 4 || rows[0].Segment != "" || rows[1].Segment != "gold" || rows[2].Segment != "silver" ||
			rows[0].Overall || rows[1].Overall || rows[2].Overall || !rows[3].Overall || rows[3].Segment != "" {
			t.Fatalf("rows %+v, want the segments \"\", gold, silver and an overall row", rows)
		}
		for _, tc := range []struct {
			name string
			row  ledger.SegmentStats
			keep func(seeded) bool
			// Sanity of the population, so the test cannot pass vacuously.
			wantCustomers, wantOverdrawn int64
		}{
			{name: "no segment", row: rows[0], keep: seg(""), wantCustomers: 11, wantOverdrawn: 4},
			{name: "gold", row: rows[1], keep: seg("gold"), wantCustomers: 11, wantOverdrawn: 6},
			{name: "silver", row: rows[2], keep: seg("silver"), wantCustomers: 11, wantOverdrawn: 4},
			{name: "overall", row: rows[3], keep: func(seeded) bool { return true }, wantCustomers: 33, wantOverdrawn: 14},
		} {
			want := expected(tc.keep)
			if want.Customers != tc.wantCustomers || want.Overdrawn != tc.wantOverdrawn {
				t.Fatalf("%s: setup: %d customers, %d overdrawn; meant %d and %d", tc.name, want.Customers, want.Overdrawn,
					tc.wantCustomers, tc.wantOverdrawn)
			}
			check(tc.name, tc.row, want)
		}

		// One segment: its row alone, no overall row.
		gold, _, _, err := svc.SummarizeBalances(ctx, ledger.DefaultTenant, "gold", false)
		if err != nil {
			t.Fatal(err)
		}
		if len(gold) != 1 || gold[0].Segment != "gold" || gold[0].Overall {
			t.Fatalf("gold only: %+v", gold)
		}
		check("gold alone", gold[0], expected(seg("gold")))
		none, _, _, err := svc.SummarizeBalances(ctx, ledger.DefaultTenant, "platinum", false)
		if err != nil {
			t.Fatal(err)
		}
		if len(none) != 1 || none[0].Segment != "platinum" || none[0].Customers != 0 || none[0].Overall {
			t.Errorf("unknown segment: %+v, want one empty row named platinum", none)
		}
	})
}
