package ledger_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// A simulation must say exactly what installing the draft and waiting for
// its recompute job gives: the summary table, who is on each outreach
// list, and each named customer's balance. The ledger is big enough to
// cross the simulation's pages of customers and of events, and holds
// reversals, segments and customers without events.
func TestSimulationEqualsInstallingThePolicy(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		clk := newClock(t0)
		svc := ledger.NewService(st, ledger.Options{RecomputePoll: 10 * time.Millisecond, Logger: quietLog(), Now: clk.Now})
		ctx := t.Context()
		rng := rand.New(rand.NewPCG(7, 17))
		kinds := []ledger.Kind{ledger.KindCredit, ledger.KindReliableDelivery, ledger.KindOutage, ledger.KindResponse,
			ledger.KindProactiveNotice, ledger.KindComplaint, ledger.KindSuggestionAdopted, ledger.KindEngagement}
		segments := []string{"gold", "silver", ""}
		const customers = 2300
		for i := range customers {
			id := fmt.Sprintf("c%05d", i)
			if _, _, err := svc.UpsertCustomer(ctx, ledger.DefaultTenant, id, ledger.Profile{
				Segment: segments[i%3], Value: float64(1 + i%5), DisplayName: "Customer " + id}); err != nil {
				t.Fatal(err)
			}
		}
		var batch []ledger.NewEvent
		flush := func() {
			res, err := svc.RecordEvents(ctx, ledger.DefaultTenant, batch)
			if err != nil {
				t.Fatal(err)
			}
			// Reverse one event in fifty.
			for j, r := range res {
				if j%50 == 0 {
					if _, err := svc.ReverseEvent(ctx, ledger.DefaultTenant, ledger.ReverseRequest{CustomerID: r.Event.CustomerID, EventID: r.Event.ID}); err != nil {
						t.Fatal(err)
					}
				}
			}
			batch = batch[:0]
		}
		for i := range customers {
			if i%10 == 9 {
				continue // no events: a profile only
			}
			for range 1 + rng.IntN(4) {
				m := float64(1 + rng.IntN(5))
				batch = append(batch, ledger.NewEvent{CustomerID: fmt.Sprintf("c%05d", i), Kind: kinds[rng.IntN(len(kinds))],
					Magnitude: &m, OccurredAt: t0.Add(-time.Duration(rng.IntN(90*24)) * time.Hour)})
				if len(batch) == 1000 {
					flush()
				}
			}
		}
		flush()

		draftOf := func() ledger.Policy {
			cur, _, err := svc.GetPolicy(ctx, ledger.DefaultTenant, 0)
			if err != nil {
				t.Fatal(err)
			}
			d := *cur
			d.Weights = maps(cur.Weights)
			d.Weights[ledger.KindEngagement] = -1.5
			d.Weights[ledger.KindOutage] = cur.Weights[ledger.KindOutage] * 2
			d.HalfLife = cur.HalfLife / 2
			return d
		}
		beforeSummary, _, _, err := svc.SummarizeBalances(ctx, ledger.DefaultTenant, "", false)
		if err != nil {
			t.Fatal(err)
		}
		beforeLists := map[ledger.Purpose][]string{
			ledger.PurposeRecovery: wholeOutreachList(t, svc, ledger.PurposeRecovery),
			ledger.PurposeAdvocacy: wholeOutreachList(t, svc, ledger.PurposeAdvocacy),
		}

		sim, err := svc.SimulatePolicy(ctx, ledger.DefaultTenant, draftOf(), false)
		if err != nil {
			t.Fatal(err)
		}
		if sim.State != ledger.JobRunning {
			t.Fatalf("a new simulation is %v, want running", sim.State)
		}
		sim = waitSimulation(t, svc, sim.ID)
		if sim.State != ledger.JobSucceeded || sim.Done != customers || sim.Total != customers {
			t.Fatalf("simulation ended %v (%s), done %d of %d, want succeeded with %d", sim.State, sim.Error, sim.Done, sim.Total, customers)
		}
		res := sim.Result
		if !sim.SnapshotAt.Equal(t0) || res.ActiveVersion != 1 || sim.Draft.Version != 2 {
			t.Errorf("snapshot at %v under version %d, draft numbered %d; want %v, 1, 2", sim.SnapshotAt, res.ActiveVersion, sim.Draft.Version, t0)
		}
		sameStats(t, "before", res.Before, beforeSummary)

		// Now install it for real and let the recompute job finish.
		_, job, err := svc.SetPolicy(ctx, ledger.DefaultTenant, draftOf())
		if err != nil {
			t.Fatal(err)
		}
		if j := runJob(t, svc, job, ledger.JobSucceeded); j.State != ledger.JobSucceeded {
			t.Fatalf("recompute job: %+v", j)
		}
		afterSummary, _, _, err := svc.SummarizeBalances(ctx, ledger.DefaultTenant, "", false)
		if err != nil {
			t.Fatal(err)
		}
		sameStats(t, "after", res.After, afterSummary)

		changes := map[ledger.Purpose]ledger.ListChange{ledger.PurposeRecovery: res.Recovery, ledger.PurposeAdvocacy: res.Advocacy}
		for purpose, change := range changes {
			was, is := beforeLists[purpose], wholeOutreachList(t, svc, purpose)
			entered, left := minus(is, was), minus(was, is)
			if change.Before != int64(len(was)) || change.After != int64(len(is)) ||
				change.EnteredCount != int64(len(entered)) || change.LeftCount != int64(len(left)) {
				t.Errorf("purpose %v: simulated %d→%d (+%d −%d), installed %d→%d (+%d −%d)", purpose,
					change.Before, change.After, change.EnteredCount, change.LeftCount, len(was), len(is), len(entered), len(left))
			}
			if change.EnteredCount+change.LeftCount == 0 {
				t.Errorf("purpose %v: the draft moved nobody on or off the list; the test proves little", purpose)
			}
			for _, named := range []struct {
				got  []ledger.Move
				want []string
			}{{change.Entered, entered}, {change.Left, left}} {
				if len(named.got) != min(len(named.want), ledger.MaxSimulationListed) {
					t.Errorf("purpose %v: %d named, want %d", purpose, len(named.got), min(len(named.want), ledger.MaxSimulationListed))
				}
				for _, m := range named.got {
					if !slices.Contains(named.want, m.CustomerID) {
						t.Errorf("purpose %v: %s named, but installing did not move it", purpose, m.CustomerID)
					}
				}
			}
		}
		if len(res.Movers) != ledger.MaxSimulationListed {
			t.Fatalf("%d movers, want %d", len(res.Movers), ledger.MaxSimulationListed)
		}
		for i, m := range res.Movers {
			if i > 0 && math.Abs(m.Delta()) > math.Abs(res.Movers[i-1].Delta()) {
				t.Errorf("movers out of order at %d: %v after %v", i, m.Delta(), res.Movers[i-1].Delta())
			}
			b, err := svc.GetBalance(ctx, ledger.DefaultTenant, m.CustomerID, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(b.Value-m.After.Value) > 1e-9 || b.Status != m.After.Status {
				t.Errorf("%s: simulated %v (%v), installed %v (%v)", m.CustomerID, m.After.Value, m.After.Status, b.Value, b.Status)
			}
		}
	})
}

// A simulation names its field on a bad draft, and one tenant runs one at a
// time.
func TestSimulationRefusals(t *testing.T) {
	t.Parallel()
	svc := ledger.NewService(openStore(t), ledger.Options{Logger: quietLog()})
	ctx := t.Context()
	cur, _, err := svc.GetPolicy(ctx, ledger.DefaultTenant, 0)
	if err != nil {
		t.Fatal(err)
	}
	bad := *cur
	bad.HalfLife = -time.Hour
	if _, err := svc.SimulatePolicy(ctx, ledger.DefaultTenant, bad, false); ledger.FieldOf(err) == "" {
		t.Errorf("a negative half-life: %v, want an error naming its field", err)
	}
	if _, err := svc.GetSimulation(ctx, ledger.DefaultTenant, "nope"); err == nil {
		t.Error("an unknown simulation was found")
	}
	sim, err := svc.SimulatePolicy(ctx, ledger.DefaultTenant, *cur, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := waitSimulation(t, svc, sim.ID); got.State != ledger.JobSucceeded || got.Result.Recovery.EnteredCount != 0 {
		t.Errorf("the active policy simulated on an empty ledger: %+v", got)
	}
	if _, err := svc.GetSimulation(ctx, "another-tenant", sim.ID); err == nil {
		t.Error("another tenant read the simulation")
	}
}

func waitSimulation(t *testing.T, svc *ledger.Service, id string) ledger.Simulation {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; {
		sim, err := svc.GetSimulation(t.Context(), ledger.DefaultTenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if sim.State != ledger.JobRunning || time.Now().After(deadline) {
			return sim
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// outreachIDs reads a whole outreach list, every page.
func wholeOutreachList(t *testing.T, svc *ledger.Service, purpose ledger.Purpose) []string {
	t.Helper()
	var ids []string
	token := ""
	for {
		page, err := svc.ListOutreach(t.Context(), ledger.DefaultTenant, purpose, "", 500, token, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			ids = append(ids, e.Customer.ID)
		}
		if token = page.NextPageToken; token == "" {
			return ids
		}
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func sameStats(t *testing.T, label string, got, want []ledger.SegmentStats) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", label, len(got), len(want))
	}
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }
	for i := range got {
		g, w := got[i], want[i]
		if g.Segment != w.Segment || g.Overall != w.Overall || g.Customers != w.Customers || g.Overdrawn != w.Overdrawn ||
			!close(g.Mean, w.Mean) || !close(g.P10, w.P10) || !close(g.P50, w.P50) || !close(g.P90, w.P90) || !close(g.ValueAtRisk, w.ValueAtRisk) {
			t.Errorf("%s, row %d: simulated %+v, installed %+v", label, i, g, w)
		}
	}
}
