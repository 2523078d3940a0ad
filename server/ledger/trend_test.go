package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// A day's trend snapshot is the summary the ledger gave at the day's last
// moment: for every day of a backfill, the points equal SummarizeBalances
// run with the clock stopped there. Customers join over the days, events
// are spread over them, and some are reversed later.
func TestTrendSnapshotsEqualTheSummaryOfTheirDay(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		clk := newClock(start.Add(time.Hour))
		svc := ledger.NewService(st, ledger.Options{Logger: quietLog(), Now: clk.Now, TrendEvery: -1})
		ctx := t.Context()
		rng := rand.New(rand.NewPCG(3, 5))
		kinds := []ledger.Kind{ledger.KindCredit, ledger.KindReliableDelivery, ledger.KindOutage, ledger.KindResponse, ledger.KindComplaint}
		const days = 12
		// Every profile exists from the first hour (the summary counts
		// every row; a later row is left out of earlier days, which the
		// next test shows); their events come day by day.
		for i := range 240 {
			if _, _, err := svc.UpsertCustomer(ctx, ledger.DefaultTenant, fmt.Sprintf("c%03d", i),
				ledger.Profile{Segment: []string{"gold", "silver", ""}[i%3], Value: float64(1 + i%4)}); err != nil {
				t.Fatal(err)
			}
		}
		for d := range days {
			day := start.AddDate(0, 0, d)
			clk.Set(day.Add(23 * time.Hour))
			var batch []ledger.NewEvent
			for range 150 {
				m := float64(1 + rng.IntN(4))
				// Customers join over the days: day d reaches 20(d+1) of them.
				batch = append(batch, ledger.NewEvent{CustomerID: fmt.Sprintf("c%03d", rng.IntN(20*(d+1))),
					Kind: kinds[rng.IntN(len(kinds))], Magnitude: &m, OccurredAt: day.Add(time.Duration(rng.IntN(23*60)) * time.Minute)})
			}
			res, err := svc.RecordEvents(ctx, ledger.DefaultTenant, batch)
			if err != nil {
				t.Fatal(err)
			}
			if d%3 == 0 { // reverse one of the day's events: it leaves every day
				if _, err := svc.ReverseEvent(ctx, ledger.DefaultTenant, ledger.ReverseRequest{CustomerID: res[0].Event.CustomerID, EventID: res[0].Event.ID}); err != nil {
					t.Fatal(err)
				}
			}
		}
		clk.Set(start.AddDate(0, 0, days).Add(time.Hour))

		first, last := start, start.AddDate(0, 0, days-1)
		if n, err := svc.SnapshotTrends(ctx, ledger.DefaultTenant, first, last); err != nil || n != days {
			t.Fatalf("backfill of %d days: %d, %v", days, n, err)
		}
		// Again: replaces, does not add.
		if _, err := svc.SnapshotTrends(ctx, ledger.DefaultTenant, first, last); err != nil {
			t.Fatal(err)
		}
		series := map[string][]ledger.TrendPoint{}
		for _, seg := range []string{"", "gold", "silver"} {
			pts, err := svc.BalanceTrend(ctx, ledger.DefaultTenant, seg, first, last, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(pts) != days {
				t.Fatalf("segment %q: %d points, want %d", seg, len(pts), days)
			}
			series[seg] = pts
		}
		if series[""][0].Overdrawn == series[""][days-1].Overdrawn && series[""][0].Mean == series[""][days-1].Mean {
			t.Errorf("the first and last days look the same: %+v", series[""][0])
		}

		// The summary as it was at each day's end: a Service on the same
		// store whose clock stands there.
		for d := range days {
			end := start.AddDate(0, 0, d+1).Add(-time.Microsecond)
			then := ledger.NewService(st, ledger.Options{Logger: quietLog(), Now: func() time.Time { return end }, TrendEvery: -1})
			sum, _, _, err := then.SummarizeBalances(ctx, ledger.DefaultTenant, "", false)
			if err != nil {
				t.Fatal(err)
			}
			var want []ledger.SegmentStats
			for _, row := range sum {
				// BalanceTrend reads a named segment or everyone; the
				// row of customers without a segment is stored but not
				// asked for here.
				if row.Customers > 0 && (row.Segment != "" || row.Overall) {
					want = append(want, row)
				}
			}
			var got []ledger.SegmentStats
			for _, seg := range []string{"gold", "silver", ""} {
				if p := series[seg][d]; p.Customers > 0 || seg == "" {
					if !p.Day.Equal(start.AddDate(0, 0, d)) || p.PolicyVersion != 1 {
						t.Errorf("segment %q, day %d: day %v, version %d", seg, d, p.Day, p.PolicyVersion)
					}
					got = append(got, p.SegmentStats)
				}
			}
			sameStats(t, fmt.Sprintf("day %d", d), got, want)
		}
	})
}

// Customers created after a day's end are not in its snapshot; with no
// event either, not even as zero balances.
func TestTrendSnapshotsLeaveOutLaterCustomers(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clk := newClock(day.Add(2 * 24 * time.Hour))
	svc := ledger.NewService(openStore(t), ledger.Options{Logger: quietLog(), Now: clk.Now, TrendEvery: -1})
	ctx := t.Context()
	if _, _, err := svc.UpsertCustomer(ctx, ledger.DefaultTenant, "late", ledger.Profile{Value: 1}); err != nil {
		t.Fatal(err)
	}
	m := 1.0
	// A backdated import: the customer row is new, its event is not.
	if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: "imported", Kind: ledger.KindOutage, Magnitude: &m, OccurredAt: day.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SnapshotTrends(ctx, ledger.DefaultTenant, day, day); err != nil {
		t.Fatal(err)
	}
	pts, err := svc.BalanceTrend(ctx, ledger.DefaultTenant, "", day, day, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 1 || pts[0].Customers != 1 || pts[0].Overdrawn != 1 {
		t.Errorf("day 1: %+v, want one customer (the imported one), overdrawn", pts)
	}
}

// Bad ranges name their field; today cannot be snapshotted yet.
func TestTrendRangesAreChecked(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	svc := ledger.NewService(openStore(t), ledger.Options{Logger: quietLog(), Now: func() time.Time { return now }, TrendEvery: -1})
	ctx := t.Context()
	today := ledger.Day(now)
	for _, c := range []struct {
		name       string
		start, end time.Time
		field      string
	}{
		{"today", today, today, "end"},
		{"end before start", today.AddDate(0, 0, -1), today.AddDate(0, 0, -3), "end"},
		{"not a day", today.AddDate(0, 0, -3).Add(time.Hour), today.AddDate(0, 0, -1), "start"},
		{"too long", today.AddDate(-2, 0, 0), today.AddDate(0, 0, -1), "end"},
	} {
		if _, err := svc.SnapshotTrends(ctx, ledger.DefaultTenant, c.start, c.end); ledger.FieldOf(err) != c.field {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.field)
		}
	}
	// A read defaults to the 30 days through yesterday.
	if pts, err := svc.BalanceTrend(ctx, ledger.DefaultTenant, "", time.Time{}, time.Time{}, false); err != nil || len(pts) != 0 {
		t.Errorf("the default range of an empty ledger: %v, %v", pts, err)
	}
}

// The worker takes yesterday's snapshot by itself.
func TestTrendWorkerTakesYesterday(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 0, 30, 0, 0, time.UTC)
	svc := ledger.NewService(openStore(t), ledger.Options{Logger: quietLog(), Now: func() time.Time { return now }, TrendEvery: 10 * time.Millisecond})
	ctx := t.Context()
	m := 2.0
	if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: "c", Kind: ledger.KindCredit, Magnitude: &m, OccurredAt: now.Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	runService(t, svc)
	yesterday := ledger.Day(now).AddDate(0, 0, -1)
	for deadline := time.Now().Add(10 * time.Second); ; {
		pts, err := svc.BalanceTrend(ctx, ledger.DefaultTenant, "", time.Time{}, time.Time{}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) == 1 && pts[0].Day.Equal(yesterday) && pts[0].Customers == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot of yesterday after 10 s: %+v", pts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// A backfill that outlasts its call goes on in the background: the call
// answers before its deadline, not done; the same range joins the run and
// sees it finish; another range meanwhile is refused.
func TestTrendBackfillOutlastsItsCall(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	svc := ledger.NewService(openStore(t), ledger.Options{Logger: quietLog(), Now: func() time.Time { return now }, TrendEvery: -1})
	ctx := t.Context()
	var batch []ledger.NewEvent
	for i := range 3000 {
		m := 1.0
		batch = append(batch, ledger.NewEvent{CustomerID: fmt.Sprintf("c%04d", i), Kind: ledger.KindOutage, Magnitude: &m, OccurredAt: now.AddDate(0, 0, -300)})
		if len(batch) == 1000 {
			if _, err := svc.RecordEvents(ctx, ledger.DefaultTenant, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	start, end := ledger.Day(now).AddDate(0, 0, -300), ledger.Day(now).AddDate(0, 0, -1)
	short, cancel := context.WithTimeout(ctx, 1100*time.Millisecond)
	defer cancel()
	first, err := svc.BackfillTrends(short, ledger.DefaultTenant, start, end)
	if err != nil || first.Done {
		t.Fatalf("300 days of 3,000 customers within 100 ms: %+v, %v; want an answer before the deadline, not done", first, err)
	}
	if _, err := svc.BackfillTrends(ctx, ledger.DefaultTenant, start, end.AddDate(0, 0, -1)); ledger.FieldOf(err) != "" || err == nil {
		t.Errorf("another range during the run: %v, want FAILED_PRECONDITION", err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		b, err := svc.BackfillTrends(ctx, ledger.DefaultTenant, start, end)
		if err != nil {
			t.Fatal(err)
		}
		if b.Done {
			if b.Days != 300 {
				t.Errorf("done with %d days, want 300", b.Days)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after 2 minutes: %+v", b)
		}
	}
	pts, err := svc.BalanceTrend(ctx, ledger.DefaultTenant, "", start, end, false)
	if err != nil || len(pts) != 300 || pts[299].Overdrawn != 3000 {
		t.Errorf("after the backfill: %d points, %v", len(pts), err)
	}
}

// The worker leaves the snapshots to the replica holding their lease, and
// takes them once that replica lets it go.
func TestTrendWorkerWaitsForTheLeaseHolder(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 0, 30, 0, 0, time.UTC)
	st := openStore(t)
	ctx := t.Context()
	holdBy := func(owner string) {
		t.Helper()
		if err := st.Update(ctx, func(tx ledger.Tx) error {
			ok, err := tx.ClaimLease(ctx, "trend-snapshots", owner, now, now.Add(time.Hour))
			if err == nil && !ok {
				t.Errorf("%s could not claim the free lease", owner)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	holdBy("another-replica")
	svc := ledger.NewService(st, ledger.Options{Logger: quietLog(), Now: func() time.Time { return now }, TrendEvery: 10 * time.Millisecond})
	m := 2.0
	if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: "c", Kind: ledger.KindCredit, Magnitude: &m, OccurredAt: now.Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	runService(t, svc)
	snapshots := func() int {
		pts, err := svc.BalanceTrend(ctx, ledger.DefaultTenant, "", time.Time{}, time.Time{}, false)
		if err != nil {
			t.Fatal(err)
		}
		return len(pts)
	}
	time.Sleep(300 * time.Millisecond) // thirty of the worker's rounds
	if n := snapshots(); n != 0 {
		t.Fatalf("the worker took %d snapshots while another replica held their lease", n)
	}
	if err := st.Update(ctx, func(tx ledger.Tx) error { return tx.ReleaseLease(ctx, "trend-snapshots", "another-replica") }); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); snapshots() != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot of yesterday 10 s after the lease was released")
		}
	}
	// The worker released the lease when it was done: another replica
	// gets it at once.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var ok bool
		if err := st.Update(ctx, func(tx ledger.Tx) error {
			var err error
			ok, err = tx.ClaimLease(ctx, "trend-snapshots", "a-third-replica", now, now.Add(time.Hour))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker kept the lease after taking the snapshots")
		}
	}
}
