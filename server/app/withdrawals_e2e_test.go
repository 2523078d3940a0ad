package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// SERVICE_CHANGE and BROKEN_PROMISE through both protocols (and, with
// GOODWILL_TEST_STORE, both stores): recorded by name, softened or not,
// explained, listed for recovery, carried by an incident.
func TestServiceChangeAndBrokenPromiseOverTheWire(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	rfc := func(t time.Time) string { return t.Format(time.RFC3339) }

	// REST: a 10% price rise announced a month ahead, by the enum's name.
	for _, body := range []map[string]any{
		{"kind": "EVENT_KIND_PROACTIVE_NOTICE", "occurredAt": rfc(now.Add(-40 * day)), "idempotencyKey": "n1"},
		{"kind": "EVENT_KIND_SERVICE_CHANGE", "magnitude": 10, "occurredAt": rfc(now.Add(-10 * day)), "idempotencyKey": "c1"},
	} {
		wantREST(t, s.rest(t, http.MethodPost, "/v1/customers/told/events", body), http.StatusOK)
	}
	r := s.rest(t, http.MethodGet, "/v1/customers/told/balance:explain?top=5", nil)
	wantREST(t, r, http.StatusOK)
	var change map[string]any
	for _, ec := range get(r.Body, "topEvents").([]any) {
		if m := ec.(map[string]any); get(m, "event", "kind") == "EVENT_KIND_SERVICE_CHANGE" {
			change = m
		}
	}
	if change == nil || num(t, change, "pointsWhenRecorded") != -5 || str(t, change, "rule") != "notice" ||
		!strings.Contains(str(t, change, "explanation"), "a service change of 10 units 10 days ago: -5.0 points, softened to 0.5x because the change was announced in advance") {
		t.Errorf("the announced change, explained over REST: %v", change)
	}

	// gRPC: the same rise unannounced, then a broken promise.
	record(t, s, pev("untold", goodwillv1.EventKind_EVENT_KIND_SERVICE_CHANGE, 10, now.Add(-10*day)))
	rec := record(t, s, pev("untold", goodwillv1.EventKind_EVENT_KIND_BROKEN_PROMISE, 1, now.Add(-2*day)))
	if rec.GetEvent().GetKind() != goodwillv1.EventKind_EVENT_KIND_BROKEN_PROMISE {
		t.Errorf("recorded %v", rec.GetEvent())
	}
	x, err := s.ExplainBalance(ctx, &goodwillv1.ExplainBalanceRequest{CustomerId: "untold", Top: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, ec := range x.GetTopEvents() {
		switch ec.GetEvent().GetKind() {
		case goodwillv1.EventKind_EVENT_KIND_SERVICE_CHANGE:
			if ec.GetPointsWhenRecorded() != -10 || ec.GetRule() != "" {
				t.Errorf("the unannounced change: %v", ec)
			}
		case goodwillv1.EventKind_EVENT_KIND_BROKEN_PROMISE:
			if ec.GetPointsWhenRecorded() != -20 || !strings.HasPrefix(ec.GetExplanation(), "a broken promise 2 days ago: -20.0 points") {
				t.Errorf("the broken promise: %v", ec)
			}
		}
	}
	out, err := s.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_RECOVERY})
	if err != nil {
		t.Fatal(err)
	}
	// The unanswered promise puts "untold" first; "told", whose rise was
	// announced, follows far behind.
	if e := out.GetEntries(); len(e) != 2 || e[0].GetCustomerId() != "untold" || e[1].GetCustomerId() != "told" ||
		e[0].GetReasons()[0] != "broken promise 2 days ago, no response or credit since" || e[0].GetPriority() < 10*e[1].GetPriority() {
		t.Errorf("recovery list: %v", out.GetEntries())
	}

	// An incident carries a broken promise, by either protocol's name; a
	// promise broken before the incident began is refused, naming it.
	inc := s.rest(t, http.MethodPost, "/v1/incidents", map[string]any{"incidentId": "inc-w", "customerIds": []string{"i1", "i2"},
		"durationHours": 2, "startedAt": rfc(now.Add(-5 * time.Hour)), "brokenPromiseAt": rfc(now.Add(-4 * time.Hour))})
	wantREST(t, inc, http.StatusOK)
	if num(t, inc.Body, "eventsCreated") != 4 {
		t.Errorf("incident: %s", inc.Raw)
	}
	wantRESTError(t, s.rest(t, http.MethodPost, "/v1/incidents", map[string]any{"incidentId": "inc-x", "customerIds": []string{"i1"},
		"durationHours": 2, "startedAt": rfc(now.Add(-5 * time.Hour)), "brokenPromiseAt": rfc(now.Add(-6 * time.Hour))}),
		http.StatusBadRequest, codes.InvalidArgument, "brokenPromiseAt")
	_, err = s.RecordIncident(ctx, &goodwillv1.RecordIncidentRequest{IncidentId: "inc-y", CustomerIds: []string{"i1"}, DurationHours: 1,
		StartedAt: timestamppb.New(now.Add(-time.Hour)), BrokenPromiseAt: timestamppb.New(now.Add(-2 * time.Hour))})
	wantInvalid(t, err, "broken_promise_at")
	events, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "i2",
		Kinds: []goodwillv1.EventKind{goodwillv1.EventKind_EVENT_KIND_BROKEN_PROMISE}})
	if err != nil || len(events.GetEvents()) != 1 || events.GetEvents()[0].GetIncidentId() != "inc-w" {
		t.Errorf("i2's broken promise: %v, %v", events, err)
	}
}
