package app_test

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

const (
	credit   = goodwillv1.EventKind_EVENT_KIND_CREDIT
	delivery = goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY
	outage   = goodwillv1.EventKind_EVENT_KIND_OUTAGE
	response = goodwillv1.EventKind_EVENT_KIND_RESPONSE
)

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("got code %v (%v), want %v", got, err, want)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func TestCustomerUpsertAndGet(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()

	_, err := s.GetCustomer(ctx, &goodwillv1.GetCustomerRequest{CustomerId: "ann"})
	wantCode(t, err, codes.NotFound)

	limit := -5.0
	resp, err := s.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: "ann", Customer: &goodwillv1.Customer{
		DisplayName: "Ann", Segment: "gold", Value: proto.Float64(2), OverdraftLimit: &limit,
		Attributes: map[string]string{"plan": "premium"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetCreated() || resp.GetCustomer().GetValue() != 2 || resp.GetCustomer().GetSegment() != "gold" {
		t.Fatalf("upsert: %v", resp)
	}
	again, err := s.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: "ann", Customer: &goodwillv1.Customer{DisplayName: "Ann B"}})
	if err != nil {
		t.Fatal(err)
	}
	if again.GetCreated() {
		t.Error("second upsert says created")
	}
	got, err := s.GetCustomer(ctx, &goodwillv1.GetCustomerRequest{CustomerId: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	c := got.GetCustomer()
	// PUT replaces the profile: omitted fields return to their defaults.
	if c.GetDisplayName() != "Ann B" || c.GetSegment() != "" || c.GetValue() != 1 || c.OverdraftLimit != nil || len(c.GetAttributes()) != 0 {
		t.Errorf("after replace: %v", c)
	}
	if !c.GetCreatedAt().AsTime().Equal(resp.GetCustomer().GetCreatedAt().AsTime()) {
		t.Error("created_at changed on replace")
	}

	// Recording for an unknown customer creates it with defaults.
	if _, err := s.Record(ctx, "bob", client.Event{Kind: delivery}); err != nil {
		t.Fatal(err)
	}
	bob, err := s.GetCustomer(ctx, &goodwillv1.GetCustomerRequest{CustomerId: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if bob.GetCustomer().GetValue() != 1 || bob.GetCustomer().OverdraftLimit != nil {
		t.Errorf("auto-created customer: %v", bob.GetCustomer())
	}
}

func TestRecordEventAndBalance(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()

	rec, err := s.Record(ctx, "c1", client.Event{Kind: credit, Magnitude: 5, IdempotencyKey: "k1", Source: "billing", Note: "sorry",
		Attributes: map[string]string{"ticket": "T-1"}})
	if err != nil {
		t.Fatal(err)
	}
	ev := rec.GetEvent()
	if ev.GetEventId() == "" || ev.GetRecordedAt() == nil || ev.GetOccurredAt() == nil || ev.GetKind() != credit ||
		ev.GetMagnitude() != 5 || ev.GetSource() != "billing" || ev.GetAttributes()["ticket"] != "T-1" {
		t.Fatalf("stored event: %v", ev)
	}
	// A first credit to a customer at zero: weight 2 x 5, relationship factor 1.
	if b := rec.GetBalance(); !near(b.GetBalance(), 10) || b.GetStatus() != goodwillv1.BalanceStatus_BALANCE_STATUS_HEALTHY ||
		b.GetEventCount() != 1 || b.GetPolicyVersion() != 1 {
		t.Fatalf("balance after: %v", b)
	}

	// Magnitude defaults to 1.
	rec2, err := s.Record(ctx, "c1", client.Event{Kind: outage})
	if err != nil {
		t.Fatal(err)
	}
	if rec2.GetEvent().GetMagnitude() != 1 {
		t.Errorf("default magnitude: %v", rec2.GetEvent().GetMagnitude())
	}
	b, err := s.Balance(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !near(b.GetBalance(), 10-12) || b.GetStatus() != goodwillv1.BalanceStatus_BALANCE_STATUS_OVERDRAWN || b.GetEventCount() != 2 {
		t.Errorf("balance: %v", b)
	}

	_, err = s.Balance(ctx, "nobody")
	wantCode(t, err, codes.NotFound)
}

func TestBalanceAsOfReplaysHistory(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	base := time.Now().Add(-200 * 24 * time.Hour).UTC()
	for i := range 3 {
		if _, err := s.Record(ctx, "c1", client.Event{Kind: delivery, Magnitude: 10, OccurredAt: base.Add(time.Duration(i) * 90 * 24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	// Just after the first event only it counts: 10 points, undecayed.
	b, err := s.BalanceAsOf(ctx, "c1", base)
	if err != nil {
		t.Fatal(err)
	}
	if !near(b.GetBalance(), 10) || b.GetEventCount() != 1 {
		t.Errorf("as of first event: %v", b)
	}
	// One half-life later the first has halved and the second counts fully.
	b, err = s.BalanceAsOf(ctx, "c1", base.Add(90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !near(b.GetBalance(), 15) || b.GetEventCount() != 2 {
		t.Errorf("as of second event: %v", b)
	}
	// Before any event the balance is zero.
	b, err = s.BalanceAsOf(ctx, "c1", base.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if b.GetBalance() != 0 || b.GetEventCount() != 0 {
		t.Errorf("before history: %v", b)
	}
}

func TestIdempotentReplayAndConflict(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	first, err := s.Record(ctx, "c1", client.Event{Kind: response, IdempotencyKey: "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Record(ctx, "c1", client.Event{Kind: response, IdempotencyKey: "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.GetReplayed() || again.GetEvent().GetEventId() != first.GetEvent().GetEventId() {
		t.Fatalf("replay: %v", again)
	}
	if again.GetBalance().GetEventCount() != 1 {
		t.Errorf("replay changed the ledger: %v", again.GetBalance())
	}
	_, err = s.Record(ctx, "c1", client.Event{Kind: response, Magnitude: 2, IdempotencyKey: "r-1"})
	wantCode(t, err, codes.AlreadyExists)
	if st, _ := status.FromError(err); st != nil && !strings.Contains(st.Message(), "r-1") {
		t.Errorf("conflict message does not name the key: %q", st.Message())
	}
	// The key is scoped to the customer.
	other, err := s.Record(ctx, "c2", client.Event{Kind: response, Magnitude: 2, IdempotencyKey: "r-1"})
	if err != nil || other.GetReplayed() {
		t.Fatalf("same key, other customer: %v %v", other, err)
	}
	b, _ := s.Balance(ctx, "c1")
	if b.GetEventCount() != 1 {
		t.Errorf("c1 has %d events, want 1", b.GetEventCount())
	}
}

func TestConcurrentDuplicateKeysMakeOneEvent(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	const n = 32
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			rec, err := s.Record(ctx, "hot", client.Event{Kind: delivery, IdempotencyKey: "same"})
			if err != nil {
				errs <- err
				return
			}
			ids[i] = rec.GetEvent().GetEventId()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent duplicate failed: %v", err)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("duplicates resolved to different events: %v", ids)
		}
	}
	list, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "hot"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetEvents()) != 1 {
		t.Errorf("%d events stored, want 1", len(list.GetEvents()))
	}
}

func TestListEventsPagesAndFilters(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	base := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	kinds := []goodwillv1.EventKind{delivery, outage, response}
	for i := range 9 {
		if _, err := s.Record(ctx, "c1", client.Event{Kind: kinds[i%3], OccurredAt: base.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []time.Time
	token := ""
	for page := 0; ; page++ {
		resp, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "c1", PageSize: 4, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetEvents() {
			seen = append(seen, e.GetOccurredAt().AsTime())
		}
		// A write between pages must not shift the walk.
		if page == 0 {
			if _, err := s.Record(ctx, "c1", client.Event{Kind: delivery}); err != nil {
				t.Fatal(err)
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != 9 {
		t.Fatalf("walked %d events, want 9", len(seen))
	}
	for i, at := range seen {
		if want := base.Add(time.Duration(8-i) * time.Hour); !at.Equal(want) {
			t.Errorf("event %d at %v, want %v (newest first)", i, at, want)
		}
	}

	resp, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "c1",
		Kinds:     []goodwillv1.EventKind{outage},
		StartTime: timestamppb.New(base.Add(2 * time.Hour)), EndTime: timestamppb.New(base.Add(7 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	// Outages are at hours 1, 4, 7: only hour 4 is in [2h, 7h).
	if len(resp.GetEvents()) != 1 || !resp.GetEvents()[0].GetOccurredAt().AsTime().Equal(base.Add(4*time.Hour)) {
		t.Errorf("filtered: %v", resp.GetEvents())
	}

	_, err = s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "nobody"})
	wantCode(t, err, codes.NotFound)
}

func TestReverseEvent(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	base := time.Now().Add(-10 * 24 * time.Hour).UTC()
	// An outage, then a response whose worth depends on the balance before
	// it: reversing the outage must also restore the response's full worth.
	if _, err := s.Record(ctx, "c1", client.Event{Kind: delivery, Magnitude: 20, OccurredAt: base}); err != nil {
		t.Fatal(err)
	}
	bad, err := s.Record(ctx, "c1", client.Event{Kind: outage, Magnitude: 3, OccurredAt: base.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(ctx, "c1", client.Event{Kind: response, OccurredAt: base.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// The same history without the outage, on another customer.
	if _, err := s.Record(ctx, "c2", client.Event{Kind: delivery, Magnitude: 20, OccurredAt: base}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(ctx, "c2", client.Event{Kind: response, OccurredAt: base.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	rev, err := s.ReverseEvent(ctx, &goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: bad.GetEvent().GetEventId(), Note: "recorded in error"})
	if err != nil {
		t.Fatal(err)
	}
	if rev.GetReversal().GetKind() != goodwillv1.EventKind_EVENT_KIND_REVERSAL || rev.GetReversal().GetReversesEventId() != bad.GetEvent().GetEventId() {
		t.Errorf("reversal: %v", rev.GetReversal())
	}
	at := time.Now()
	b1, err := s.BalanceAsOf(ctx, "c1", at)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := s.BalanceAsOf(ctx, "c2", at)
	if err != nil {
		t.Fatal(err)
	}
	if !near(b1.GetBalance(), b2.GetBalance()) || b1.GetEventCount() != b2.GetEventCount() {
		t.Errorf("after reversal %v, without the event %v", b1, b2)
	}

	_, err = s.ReverseEvent(ctx, &goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: bad.GetEvent().GetEventId()})
	wantCode(t, err, codes.FailedPrecondition)
	_, err = s.ReverseEvent(ctx, &goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: rev.GetReversal().GetEventId()})
	wantCode(t, err, codes.FailedPrecondition)
	_, err = s.ReverseEvent(ctx, &goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: "no-such-event"})
	wantCode(t, err, codes.NotFound)

	list, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "c1", Kinds: []goodwillv1.EventKind{outage}})
	if err != nil {
		t.Fatal(err)
	}
	if got := list.GetEvents()[0].GetReversedByEventId(); got != rev.GetReversal().GetEventId() {
		t.Errorf("reversed_by_event_id = %q", got)
	}
}

func TestReverseWithKeyIsRetrySafe(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	ev, err := s.Record(ctx, "c1", client.Event{Kind: outage})
	if err != nil {
		t.Fatal(err)
	}
	req := &goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: ev.GetEvent().GetEventId(), IdempotencyKey: "rev-1"}
	first, err := s.ReverseEvent(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.ReverseEvent(ctx, req)
	if err != nil {
		t.Fatalf("retry of a reversal with its key: %v", err)
	}
	if !second.GetReplayed() || second.GetReversal().GetEventId() != first.GetReversal().GetEventId() {
		t.Errorf("retry: %v", second)
	}
}

func TestRecordEventsBatch(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	if _, err := s.Record(ctx, "c1", client.Event{Kind: delivery, IdempotencyKey: "taken"}); err != nil {
		t.Fatal(err)
	}
	resp, err := s.RecordEvents(ctx, &goodwillv1.RecordEventsRequest{Events: []*goodwillv1.Event{
		{CustomerId: "c1", Kind: delivery, IdempotencyKey: "b1"},
		{CustomerId: "c2", Kind: credit, Magnitude: proto.Float64(3), IdempotencyKey: "b1"},
		{CustomerId: "c1", Kind: delivery, IdempotencyKey: "taken"},                                  // replay
		{CustomerId: "c1", Kind: outage, IdempotencyKey: "taken"},                                    // conflict
		{CustomerId: "c1", Kind: delivery, IdempotencyKey: "b1"},                                     // replay within the batch
		{CustomerId: "c3", Kind: goodwillv1.EventKind_EVENT_KIND_ENGAGEMENT, IdempotencyKey: "b-e3"}, // new customer
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []goodwillv1.RecordOutcome{
		goodwillv1.RecordOutcome_RECORD_OUTCOME_CREATED,
		goodwillv1.RecordOutcome_RECORD_OUTCOME_CREATED,
		goodwillv1.RecordOutcome_RECORD_OUTCOME_REPLAYED,
		goodwillv1.RecordOutcome_RECORD_OUTCOME_CONFLICT,
		goodwillv1.RecordOutcome_RECORD_OUTCOME_REPLAYED,
		goodwillv1.RecordOutcome_RECORD_OUTCOME_CREATED,
	}
	if len(resp.GetResults()) != len(want) {
		t.Fatalf("%d results", len(resp.GetResults()))
	}
	for i, r := range resp.GetResults() {
		if r.GetOutcome() != want[i] || r.GetIndex() != int32(i) {
			t.Errorf("item %d: %v, want %v", i, r, want[i])
		}
		if (r.GetError() != "") != (want[i] == goodwillv1.RecordOutcome_RECORD_OUTCOME_CONFLICT) {
			t.Errorf("item %d error %q", i, r.GetError())
		}
	}
	for id, n := range map[string]int64{"c1": 2, "c2": 1, "c3": 1} {
		b, err := s.Balance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if b.GetEventCount() != n {
			t.Errorf("%s has %d events, want %d", id, b.GetEventCount(), n)
		}
	}

	// One invalid item rejects the whole batch and stores nothing.
	_, err = s.RecordEvents(ctx, &goodwillv1.RecordEventsRequest{Events: []*goodwillv1.Event{
		{CustomerId: "c9", Kind: delivery},
		{CustomerId: "c9", Kind: delivery, Magnitude: proto.Float64(-1)},
	}})
	wantCode(t, err, codes.InvalidArgument)
	if !strings.Contains(err.Error(), "events[1].magnitude") {
		t.Errorf("error does not name the item: %v", err)
	}
	_, err = s.Balance(ctx, "c9")
	wantCode(t, err, codes.NotFound)
}

func TestRecordIncidentFansOutIdempotently(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	const n = 2500 // more than one chunk of 500
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("cust-%04d", i)
	}
	start := time.Now().Add(-4 * time.Hour).UTC()
	req := &goodwillv1.RecordIncidentRequest{
		IncidentId: "inc-42", CustomerIds: ids, DurationHours: 3, StartedAt: timestamppb.New(start),
		NoticeAt: timestamppb.New(start.Add(-2 * time.Hour)), Credit: proto.Float64(4), Source: "statuspage",
	}
	resp, err := s.RecordIncident(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetCustomers() != n || resp.GetEventsCreated() != 3*n || resp.GetEventsReplayed() != 0 || len(resp.GetConflicts()) != 0 {
		t.Fatalf("first call: %v", resp)
	}
	again, err := s.RecordIncident(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.GetEventsCreated() != 0 || again.GetEventsReplayed() != 3*n {
		t.Fatalf("second call changed something: %v", again)
	}
	// More customers later: only the new one gets events.
	req.CustomerIds = append(req.CustomerIds, "late")
	more, err := s.RecordIncident(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if more.GetEventsCreated() != 3 || more.GetEventsReplayed() != 3*n {
		t.Fatalf("extended call: %v", more)
	}
	// The same incident id with a different payload conflicts per customer.
	req.DurationHours = 5
	req.CustomerIds = []string{"cust-0000", "fresh"}
	diff, err := s.RecordIncident(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff.GetConflicts()) != 1 || diff.GetConflicts()[0].GetCustomerId() != "cust-0000" || diff.GetEventsCreated() != 3 {
		t.Fatalf("different payload: %v", diff)
	}

	// Each customer: notice (+1), outage softened by the notice (3h x -12 x 0.5),
	// then a credit to an overdrawn customer (4 x 2 x 0.25, the hollow gesture).
	b, err := s.BalanceAsOf(ctx, "cust-1234", start.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := (1*math.Exp2(-5.0/(90*24)) - 18*math.Exp2(-3.0/(90*24)) + 2)
	if !near(b.GetBalance(), want) || b.GetEventCount() != 3 || b.GetStatus() != goodwillv1.BalanceStatus_BALANCE_STATUS_OVERDRAWN {
		t.Errorf("incident balance %v, want %v", b, want)
	}
	list, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "cust-1234"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list.GetEvents() {
		if e.GetIncidentId() != "inc-42" || e.GetSource() != "statuspage" {
			t.Errorf("incident event: %v", e)
		}
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	rec, err := s.Record(ctx, "c1", client.Event{Kind: credit, Magnitude: 7, IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, s.db)
	again, err := s2.Record(ctx, "c1", client.Event{Kind: credit, Magnitude: 7, IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.GetReplayed() || again.GetEvent().GetEventId() != rec.GetEvent().GetEventId() {
		t.Errorf("after restart the key was forgotten: %v", again)
	}
	b, err := s2.Balance(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if b.GetEventCount() != 1 || !near(b.GetBalance(), 14) {
		t.Errorf("after restart: %v", b)
	}
}

// An outage still going on: its credit is recorded now, not when the outage
// will end, so "now" balances never include the future (a review found a
// customer reported HEALTHY now and OVERDRAWN as of now).
func TestOngoingIncidentCreditIsNotInTheFuture(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	before := time.Now()
	if _, err := s.RecordIncident(ctx, &goodwillv1.RecordIncidentRequest{
		IncidentId: "ongoing", CustomerIds: []string{"c1"}, DurationHours: 3,
		StartedAt: timestamppb.New(before.Add(-time.Hour)), Credit: proto.Float64(50),
	}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "c1", Kinds: []goodwillv1.EventKind{credit}})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetEvents()) != 1 || list.GetEvents()[0].GetOccurredAt().AsTime().After(time.Now()) {
		t.Fatalf("credit: %v", list.GetEvents())
	}
	now := time.Now()
	current, err := s.Balance(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	asOf, err := s.BalanceAsOf(ctx, "c1", now)
	if err != nil {
		t.Fatal(err)
	}
	if current.GetStatus() != asOf.GetStatus() || math.Abs(current.GetBalance()-asOf.GetBalance()) > 1e-3 {
		t.Errorf("now %v, as of now %v", current, asOf)
	}
}
