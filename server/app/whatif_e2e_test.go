package app_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// SimulatePolicy over gRPC and REST: a draft that makes engagement a
// withdrawal moves an engaged advocate off ADVOCACY and onto RECOVERY, and
// the simulation says so (and numbers the draft), while nothing is
// installed or written; bad drafts and unknown simulations are refused.
func TestSimulatePolicy(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	loadDefaultPolicy(t, s)
	ctx := t.Context()
	for i := range 3 {
		record(t, s, pev("wi-engaged", goodwillv1.EventKind_EVENT_KIND_ENGAGEMENT, 2, time.Now().Add(-time.Duration(i+1)*time.Hour)))
	}
	record(t, s, pev("wi-down", goodwillv1.EventKind_EVENT_KIND_OUTAGE, 2, time.Now().Add(-time.Hour)))
	before, err := s.GetBalance(ctx, &goodwillv1.GetBalanceRequest{CustomerId: "wi-engaged"})
	if err != nil {
		t.Fatal(err)
	}

	draft := proto.Clone(defaultPolicy).(*goodwillv1.Policy)
	draft.Weights["EVENT_KIND_ENGAGEMENT"] = -3
	started, err := s.SimulatePolicy(ctx, &goodwillv1.SimulatePolicyRequest{Policy: draft})
	if err != nil {
		t.Fatal(err)
	}
	sim := waitSimulation(t, s, started.GetSimulation().GetSimulationId())
	if sim.GetState() != goodwillv1.JobState_JOB_STATE_SUCCEEDED || sim.GetCustomersDone() != 2 || sim.GetSnapshotTime() == nil {
		t.Fatalf("simulation %v", sim)
	}
	res := sim.GetResult()
	moved := func(ms []*goodwillv1.SimulatedMove) []string {
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.GetCustomerId())
		}
		return ids
	}
	if !slices.Equal(moved(res.GetRecovery().GetEntered()), []string{"wi-engaged"}) || res.GetRecovery().GetBefore() != 1 ||
		res.GetRecovery().GetAfter() != 2 || !slices.Equal(moved(res.GetAdvocacy().GetLeft()), []string{"wi-engaged"}) {
		t.Errorf("list changes: recovery %v, advocacy %v", res.GetRecovery(), res.GetAdvocacy())
	}
	if len(res.GetMovers()) != 1 || res.GetMovers()[0].GetCustomerId() != "wi-engaged" || res.GetMovers()[0].GetDelta() >= 0 ||
		!near(res.GetMovers()[0].GetBefore().GetBalance(), before.GetBalance().GetBalance()) ||
		res.GetMovers()[0].GetAfter().GetPolicyVersion() != res.GetActivePolicyVersion()+1 {
		t.Errorf("movers %v (balance now %v)", res.GetMovers(), before.GetBalance().GetBalance())
	}
	if last := res.GetSummaryAfter()[len(res.GetSummaryAfter())-1]; !last.GetOverall() || last.GetOverdrawn() != 2 {
		t.Errorf("summary under the draft ends with %v, want everyone, both overdrawn", last)
	}
	if sim.GetDraft().GetVersion() != res.GetActivePolicyVersion()+1 || sim.GetDraft().GetWeights()["EVENT_KIND_ENGAGEMENT"] != -3 {
		t.Errorf("draft %v under active version %d", sim.GetDraft(), res.GetActivePolicyVersion())
	}
	// Nothing was installed or changed.
	pol, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
	if err != nil || pol.GetActiveVersion() != res.GetActivePolicyVersion() {
		t.Errorf("active version %d after a simulation, want %d (%v)", pol.GetActiveVersion(), res.GetActivePolicyVersion(), err)
	}
	after, err := s.GetBalance(ctx, &goodwillv1.GetBalanceRequest{CustomerId: "wi-engaged"})
	if err != nil || after.GetBalance().GetEventCount() != 3 || !near(after.GetBalance().GetBalance(), before.GetBalance().GetBalance()) {
		t.Errorf("balance %v after a simulation, was %v", after.GetBalance().GetBalance(), before.GetBalance().GetBalance())
	}

	// REST: the policy as GET /v1/policy gives it, one weight changed.
	cur := s.rest(t, "GET", "/v1/policy", nil)
	body := cur.Body["policy"].(map[string]any)
	body["weights"].(map[string]any)["EVENT_KIND_ENGAGEMENT"] = -3
	r := s.rest(t, "POST", "/v1/policy:simulate", map[string]any{"policy": body})
	id, _ := get(r.Body, "simulation", "simulationId").(string)
	if r.Status != 200 || id == "" {
		t.Fatalf("REST simulate: %d %s", r.Status, r.Raw)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r = s.rest(t, "GET", "/v1/policy/simulations/"+id, nil)
		if r.Status != 200 || get(r.Body, "simulation", "state") != "JOB_STATE_RUNNING" || time.Now().After(deadline) {
			break
		}
	}
	if r.Status != 200 || get(r.Body, "simulation", "state") != "JOB_STATE_SUCCEEDED" ||
		get(r.Body, "simulation", "result", "recovery", "enteredCount") != "1" {
		t.Fatalf("REST simulation: %d %s", r.Status, r.Raw)
	}

	bad := proto.Clone(defaultPolicy).(*goodwillv1.Policy)
	bad.Weights["EVENT_KIND_CREDIT"] = 1e9
	if _, err := s.SimulatePolicy(ctx, &goodwillv1.SimulatePolicyRequest{Policy: bad}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "weights") {
		t.Errorf("a weight of 1e9: %v, want INVALID_ARGUMENT naming the weights", err)
	}
	if r := s.rest(t, "POST", "/v1/policy:simulate", `{}`); r.Status != 400 || !strings.Contains(string(r.Raw), "policy") {
		t.Errorf("REST without a policy: %d %s", r.Status, r.Raw)
	}
	if r := s.rest(t, "GET", "/v1/policy/simulations/no-such-simulation", nil); r.Status != 404 {
		t.Errorf("REST unknown simulation: %d %s", r.Status, r.Raw)
	}
	if _, err := s.GetSimulation(ctx, &goodwillv1.GetSimulationRequest{SimulationId: "two words"}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "simulation_id") {
		t.Errorf("a simulation id with a space: %v", err)
	}
	if _, err := s.GetSimulation(ctx, &goodwillv1.GetSimulationRequest{}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "simulation_id") {
		t.Errorf("no simulation id: %v", err)
	}
}

func waitSimulation(t *testing.T, s *testServer, id string) *goodwillv1.Simulation {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, err := s.GetSimulation(t.Context(), &goodwillv1.GetSimulationRequest{SimulationId: id})
		if err != nil {
			t.Fatalf("simulation %s: %v", id, err)
		}
		if sim := got.GetSimulation(); sim.GetState() != goodwillv1.JobState_JOB_STATE_RUNNING || time.Now().After(deadline) {
			return sim
		}
	}
}

// Trends over gRPC and REST: a backfill of three past days, then the
// series of everyone and of one segment; bad days are refused by name.
func TestBalanceTrend(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	day := func(n int) string { return today.AddDate(0, 0, n).Format(time.DateOnly) }
	for i, seg := range []string{"gold", "gold", "silver"} {
		id := fmt.Sprintf("tr-%d", i)
		if _, err := s.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: id,
			Customer: &goodwillv1.Customer{Segment: seg}}); err != nil {
			t.Fatal(err)
		}
		// One outage three days ago; gold's first customer gets a credit two
		// days ago.
		record(t, s, pev(id, goodwillv1.EventKind_EVENT_KIND_OUTAGE, 1, today.AddDate(0, 0, -3).Add(12*time.Hour)))
	}
	record(t, s, pev("tr-0", goodwillv1.EventKind_EVENT_KIND_CREDIT, 40, today.AddDate(0, 0, -2).Add(12*time.Hour)))

	snap, err := s.SnapshotTrend(ctx, &goodwillv1.SnapshotTrendRequest{Start: day(-3), End: day(-1)})
	if err != nil || snap.GetDays() != 3 || !snap.GetDone() {
		t.Fatalf("backfill: %v, %v", snap, err)
	}
	all, err := s.GetBalanceTrend(ctx, &goodwillv1.GetBalanceTrendRequest{Start: day(-3), End: day(-1)})
	if err != nil {
		t.Fatal(err)
	}
	pts := all.GetPoints()
	if len(pts) != 3 || pts[0].GetDay() != day(-3) || pts[0].GetCustomers() != 3 || pts[0].GetOverdrawn() != 3 ||
		pts[1].GetOverdrawn() != 2 || pts[1].GetPolicyVersion() != 1 {
		t.Fatalf("everyone's trend: %v", pts)
	}

	r := s.rest(t, "GET", "/v1/balances:trend?segment=gold&start="+day(-3)+"&end="+day(-1), nil)
	gold, _ := r.Body["points"].([]any)
	if r.Status != 200 || len(gold) != 3 || get(gold[1].(map[string]any), "overdrawn") != "1" || get(gold[1].(map[string]any), "customers") != "2" {
		t.Fatalf("REST gold trend: %d %s", r.Status, r.Raw)
	}
	// Defaults: the 30 days through yesterday.
	r = s.rest(t, "GET", "/v1/balances:trend", nil)
	if r.Status != 200 || r.Body["end"] != day(-1) || r.Body["start"] != day(-30) {
		t.Fatalf("REST default range: %d %s", r.Status, r.Raw)
	}

	for _, c := range []struct{ path, field string }{
		{"/v1/balances:trend?start=2026-13-01", "start"},
		{"/v1/balances:trend?start=" + day(-1) + "&end=" + day(-5), "end"},
	} {
		if r := s.rest(t, "GET", c.path, nil); r.Status != 400 || !strings.Contains(string(r.Raw), c.field) {
			t.Errorf("GET %s: %d %s, want 400 naming %s", c.path, r.Status, r.Raw, c.field)
		}
	}
	r = s.rest(t, "POST", "/v1/balances:snapshotTrend", map[string]any{"start": day(-1), "end": day(0)})
	if r.Status != 400 || !strings.Contains(string(r.Raw), "end") {
		t.Errorf("REST snapshot of today: %d %s", r.Status, r.Raw)
	}
	if r := s.rest(t, "POST", "/v1/balances:snapshotTrend", map[string]any{"end": day(-1)}); r.Status != 400 || !strings.Contains(string(r.Raw), "start") {
		t.Errorf("REST snapshot without a start: %d %s", r.Status, r.Raw)
	}
	if r := s.rest(t, "GET", "/v1/balances:trend?segment="+strings.Repeat("g", 65), nil); r.Status != 400 || !strings.Contains(string(r.Raw), "segment") {
		t.Errorf("REST trend of a 65-character segment: %d %s", r.Status, r.Raw)
	}
	if _, err := s.GetBalanceTrend(ctx, &goodwillv1.GetBalanceTrendRequest{Start: "2026-01-01T00:00:00Z"}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "start") {
		t.Errorf("a timestamp for a day: %v", err)
	}
	// Nothing of the refused calls was written: the three days are still
	// the only snapshots.
	if again, err := s.GetBalanceTrend(ctx, &goodwillv1.GetBalanceTrendRequest{Start: day(-30), End: day(-1)}); err != nil || len(again.GetPoints()) != 3 {
		t.Errorf("after the refused calls: %d points, %v; want the 3 backfilled", len(again.GetPoints()), err)
	}
}
