package app_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// PlanRecovery over gRPC and REST (GET, and POST with assumed gestures):
// an overdrawn customer gets an option per kind that earns goodwill, the
// hollow rule on credits, a time alone, and a summary; a healthy one gets
// none; bad gestures name their field; the plan writes nothing.
func TestPlanRecovery(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	loadDefaultPolicy(t, s)
	ctx := t.Context()
	record(t, s, pev("pr-down", goodwillv1.EventKind_EVENT_KIND_OUTAGE, 3, time.Now().Add(-2*time.Hour)))
	record(t, s, pev("pr-fine", goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY, 2, time.Now().Add(-time.Hour)))

	plan, err := s.PlanRecovery(ctx, &goodwillv1.PlanRecoveryRequest{CustomerId: "pr-down"})
	if err != nil {
		t.Fatal(err)
	}
	if plan.GetBalance().GetStatus() != goodwillv1.BalanceStatus_BALANCE_STATUS_OVERDRAWN || plan.GetNeeded() <= 0 ||
		plan.GetRecoversAt() == nil || !strings.Contains(plan.GetSummary(), "overdrawn by") {
		t.Fatalf("plan %v", plan)
	}
	var credit *goodwillv1.RecoveryOption
	for _, o := range plan.GetOptions() {
		if o.GetKind() == goodwillv1.EventKind_EVENT_KIND_CREDIT {
			credit = o
		}
		if o.GetKind() == goodwillv1.EventKind_EVENT_KIND_OUTAGE {
			t.Errorf("an outage offered as a way back: %v", o)
		}
	}
	if credit == nil || credit.GetRule() != "hollow" || credit.GetFactor() != 0.25 || credit.GetMagnitude() <= 0 {
		t.Fatalf("credit option %v", credit)
	}

	// Assuming a response first, a smaller credit is enough.
	after, err := s.PlanRecovery(ctx, &goodwillv1.PlanRecoveryRequest{CustomerId: "pr-down",
		Assume: []*goodwillv1.Gesture{{Kind: goodwillv1.EventKind_EVENT_KIND_RESPONSE, Magnitude: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if after.GetNeeded() >= plan.GetNeeded() {
		t.Errorf("a response changed nothing: needed %v, then %v", plan.GetNeeded(), after.GetNeeded())
	}

	fine, err := s.PlanRecovery(ctx, &goodwillv1.PlanRecoveryRequest{CustomerId: "pr-fine"})
	if err != nil || len(fine.GetOptions()) != 0 || fine.GetNeeded() != 0 || fine.GetRecoversAt() != nil {
		t.Fatalf("healthy customer's plan %v, %v", fine, err)
	}
	if _, err := s.PlanRecovery(ctx, &goodwillv1.PlanRecoveryRequest{CustomerId: "pr-nobody"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown customer: %v", err)
	}
	_, err = s.PlanRecovery(ctx, &goodwillv1.PlanRecoveryRequest{CustomerId: "pr-down",
		Assume: []*goodwillv1.Gesture{{Kind: goodwillv1.EventKind_EVENT_KIND_REVERSAL, Magnitude: 1}}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "assume[0].kind") {
		t.Errorf("a reversal as a gesture: %v", err)
	}

	r := s.rest(t, "GET", "/v1/customers/pr-down/balance:recoveryPlan", nil)
	if r.Status != 200 || get(r.Body, "balance", "customerId") != "pr-down" || r.Body["summary"] == "" {
		t.Fatalf("REST GET: %d %s", r.Status, r.Raw)
	}
	r = s.rest(t, "POST", "/v1/customers/pr-down/balance:recoveryPlan", `{"assume":[{"kind":"EVENT_KIND_RESPONSE","magnitude":1}]}`)
	if n, _ := r.Body["needed"].(float64); r.Status != 200 || n <= 0 || n > after.GetNeeded()*1.001 || n < after.GetNeeded()*0.999 {
		t.Fatalf("REST POST: %d %s (gRPC needed %v)", r.Status, r.Raw, after.GetNeeded())
	}
	r = s.rest(t, "POST", "/v1/customers/pr-down/balance:recoveryPlan", `{"assume":[{"kind":"EVENT_KIND_CREDIT","magnitude":-2}]}`)
	if r.Status != 400 || !strings.Contains(string(r.Raw), "magnitude") {
		t.Fatalf("REST bad magnitude: %d %s", r.Status, r.Raw)
	}

	// The RECOVERY list says the way back.
	out, err := s.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_RECOVERY})
	if err != nil {
		t.Fatal(err)
	}
	var way string
	for _, e := range out.GetEntries() {
		if e.GetCustomerId() == "pr-down" {
			for _, r := range e.GetReasons() {
				if strings.HasPrefix(r, "a way back now: a credit of") && strings.Contains(r, "responses") &&
					strings.Contains(r, "×0.25") && strings.Contains(r, "by time alone in") {
					way = r
				}
			}
		}
	}
	if way == "" {
		t.Errorf("no way back among the reasons: %v", out.GetEntries())
	}

	// Nothing was written: the balance and its event count are as before.
	b, err := s.GetBalance(ctx, &goodwillv1.GetBalanceRequest{CustomerId: "pr-down"})
	if err != nil || b.GetBalance().GetEventCount() != 1 {
		t.Fatalf("after planning: %v, %v", b, err)
	}
}
