package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"google.golang.org/protobuf/proto"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// trendDays is how many days the insight scenario snapshots and reads.
const trendDays = 7

// insightScenarios (issue #17) time a policy simulation over every loaded
// customer and a backfill of a week of trend snapshots, with the server's
// resident high-water mark after each (which includes all that ran
// before), and GetBalanceTrend's latency. They run after the peak RSS of
// the ingest and read scenarios is taken, so that target is not theirs.
func insightScenarios(ctx context.Context, store string, srv *server) ([]result, error) {
	c := srv.client
	draft, err := outageDoubled(ctx, srv)
	if err != nil {
		return nil, err
	}
	cpu0, start := srv.cpuSeconds(), time.Now()
	started, err := c.SimulatePolicy(ctx, &goodwillv1.SimulatePolicyRequest{Policy: draft})
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	sim := started.GetSimulation()
	for sim.GetState() == goodwillv1.JobState_JOB_STATE_RUNNING {
		time.Sleep(100 * time.Millisecond)
		got, err := c.GetSimulation(ctx, &goodwillv1.GetSimulationRequest{SimulationId: sim.GetSimulationId()})
		if err != nil {
			return nil, fmt.Errorf("simulation: %w", err)
		}
		sim = got.GetSimulation()
	}
	if sim.GetState() != goodwillv1.JobState_JOB_STATE_SUCCEEDED {
		return nil, fmt.Errorf("simulation %s: %s", sim.GetState(), sim.GetError())
	}
	simSecs, simCPU := time.Since(start).Seconds(), srv.cpuSeconds()-cpu0
	out := []result{{Store: store, Scenario: "SimulatePolicy, every customer", Seconds: simSecs, RSSMB: srv.peakRSSMB(),
		Note: fmt.Sprintf("%d customers, %.1f s server CPU; %d would enter RECOVERY", sim.GetCustomersDone(), simCPU,
			sim.GetResult().GetRecovery().GetEnteredCount())}}

	yesterday := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	first := yesterday.AddDate(0, 0, 1-trendDays)
	cpu0, start = srv.cpuSeconds(), time.Now()
	// A call answers before its deadline; the same call again follows the
	// backfill until it is done.
	for done := false; !done; {
		resp, err := c.SnapshotTrend(ctx, &goodwillv1.SnapshotTrendRequest{Start: first.Format(time.DateOnly), End: yesterday.Format(time.DateOnly)})
		if err != nil {
			return nil, fmt.Errorf("snapshot trend: %w", err)
		}
		done = resp.GetDone()
	}
	out = append(out, result{Store: store, Scenario: fmt.Sprintf("SnapshotTrend, %d days", trendDays), Seconds: time.Since(start).Seconds(),
		RSSMB: srv.peakRSSMB(), Note: fmt.Sprintf("%.1f s server CPU", srv.cpuSeconds()-cpu0)})

	trend := drive(ctx, 4, 3*time.Second, func(ctx context.Context, cl, n int) (int, error) {
		_, err := c.GetBalanceTrend(ctx, &goodwillv1.GetBalanceTrendRequest{Start: first.Format(time.DateOnly), End: yesterday.Format(time.DateOnly)})
		return 1, err
	})
	out = append(out, result{Store: store, Scenario: "GetBalanceTrend", Rate: trend.rate(), P50ms: trend.pct(0.5), P99ms: trend.pct(0.99),
		Note: "4 clients, " + trend.note()})
	for _, r := range out {
		log.Printf("%-8s %-32s %.2f s  p99 %s ms  RSS %.0f MB  %s", store, r.Scenario, r.Seconds, fmtMs(r.P99ms), r.RSSMB, r.Note)
	}
	return out, nil
}

// insightOnly loads the read scenarios' customers in-process, starts
// goodwilld on them, runs insightScenarios, then installs the simulated
// draft and times its recompute job: the simulation's cost next to the
// recompute it predicts (`-only-insight -customers 1000000 -events
// 10000000` is the issue's 1M check).
func insightOnly(ctx context.Context, o options, bin, store, db, keyFile string) ([]result, error) {
	srv, out, err := loadThenServe(ctx, o, bin, store, db, keyFile)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	insight, err := insightScenarios(ctx, store, srv)
	if err != nil {
		return nil, err
	}
	out = append(out, insight...)

	c := srv.client
	draft, err := outageDoubled(ctx, srv)
	if err != nil {
		return nil, err
	}
	cpu0, t0 := srv.cpuSeconds(), time.Now()
	set, err := c.SetPolicy(ctx, &goodwillv1.SetPolicyRequest{Policy: draft})
	if err != nil {
		return nil, err
	}
	job := set.GetJob()
	for job.GetState() == goodwillv1.JobState_JOB_STATE_RUNNING {
		time.Sleep(200 * time.Millisecond)
		got, err := c.GetRecomputeJob(ctx, &goodwillv1.GetRecomputeJobRequest{JobId: job.GetJobId()})
		if err != nil {
			return nil, err
		}
		job = got.GetJob()
	}
	r := result{Store: store, Scenario: "recompute job of the same draft", Seconds: time.Since(t0).Seconds(), RSSMB: srv.peakRSSMB(),
		Note: fmt.Sprintf("%s, %d customers, %.1f s server CPU", job.GetState(), job.GetCustomersDone(), srv.cpuSeconds()-cpu0)}
	log.Printf("%-8s %-32s %.2f s  RSS %.0f MB  %s", store, r.Scenario, r.Seconds, r.RSSMB, r.Note)
	return append(out, r), nil
}

// outageDoubled is the draft both the simulation and the install use: the
// active policy with outages weighing twice as much.
func outageDoubled(ctx context.Context, srv *server) (*goodwillv1.Policy, error) {
	pol, err := srv.client.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
	if err != nil {
		return nil, err
	}
	draft := proto.Clone(pol.GetPolicy()).(*goodwillv1.Policy)
	draft.Weights["EVENT_KIND_OUTAGE"] *= 2
	return draft, nil
}
