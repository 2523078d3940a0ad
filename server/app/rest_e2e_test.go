package app_test

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// wantREST fails the test unless the reply has the HTTP status want.
func wantREST(t *testing.T, r restResponse, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("HTTP %d, want %d: %s", r.Status, want, r.Raw)
	}
}

// wantRESTError checks a REST error reply: the HTTP status, a JSON body whose
// "code" is the gRPC code and whose "message" contains every one of parts.
func wantRESTError(t *testing.T, r restResponse, httpStatus int, code codes.Code, parts ...string) {
	t.Helper()
	wantREST(t, r, httpStatus)
	if got, ok := r.Body["code"].(float64); !ok || codes.Code(got) != code {
		t.Errorf("error body code = %v, want %d (%v): %s", r.Body["code"], code, code, r.Raw)
	}
	msg, ok := r.Body["message"].(string)
	if !ok || msg == "" {
		t.Fatalf("error body has no message: %s", r.Raw)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error message %q does not contain %q", msg, p)
		}
	}
}

// str, num and list read typed values out of a decoded JSON object.
func str(t *testing.T, m map[string]any, keys ...string) string {
	t.Helper()
	s, ok := get(m, keys...).(string)
	if !ok {
		t.Fatalf("%s is %T (%v), want a string", strings.Join(keys, "."), get(m, keys...), get(m, keys...))
	}
	return s
}

func num(t *testing.T, m map[string]any, keys ...string) float64 {
	t.Helper()
	f, ok := get(m, keys...).(float64)
	if !ok {
		t.Fatalf("%s is %T (%v), want a number", strings.Join(keys, "."), get(m, keys...), get(m, keys...))
	}
	return f
}

func list(t *testing.T, m map[string]any, keys ...string) []map[string]any {
	t.Helper()
	raw, ok := get(m, keys...).([]any)
	if !ok {
		t.Fatalf("%s is %T (%v), want an array", strings.Join(keys, "."), get(m, keys...), get(m, keys...))
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		if out[i], ok = v.(map[string]any); !ok {
			t.Fatalf("%s[%d] is %T, want an object", strings.Join(keys, "."), i, v)
		}
	}
	return out
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func TestRESTCustomerUpsertAndGet(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")

	put := s.rest(t, http.MethodPut, "/v1/customers/c1", `{"displayName":"Ann","segment":"gold","value":2,"attributes":{"plan":"premium"}}`)
	wantREST(t, put, http.StatusOK)
	if get(put.Body, "created") != true {
		t.Errorf("first PUT: created = %v, want true: %s", get(put.Body, "created"), put.Raw)
	}
	if str(t, put.Body, "customer", "customerId") != "c1" || num(t, put.Body, "customer", "value") != 2 {
		t.Errorf("first PUT: %s", put.Raw)
	}

	got := s.rest(t, http.MethodGet, "/v1/customers/c1", nil)
	wantREST(t, got, http.StatusOK)
	c := get(got.Body, "customer").(map[string]any)
	if str(t, c, "customerId") != "c1" || str(t, c, "displayName") != "Ann" || str(t, c, "segment") != "gold" ||
		num(t, c, "value") != 2 || str(t, c, "attributes", "plan") != "premium" {
		t.Errorf("GET: %s", got.Raw)
	}
	created, err := time.Parse(time.RFC3339Nano, str(t, c, "createdAt"))
	if err != nil || time.Since(created) > time.Minute || time.Since(created) < -time.Minute {
		t.Errorf("createdAt %q: %v", str(t, c, "createdAt"), err)
	}
	// An unset optional field is absent (protojson's EmitUnpopulated skips
	// fields with presence), while unset plain fields appear as zero values.
	if v, ok := c["overdraftLimit"]; ok {
		t.Errorf("overdraftLimit = %v, want it absent", v)
	}

	// A second PUT replaces the profile and does not create.
	again := s.rest(t, http.MethodPut, "/v1/customers/c1", map[string]any{"displayName": "Ann B", "overdraftLimit": -5})
	wantREST(t, again, http.StatusOK)
	if get(again.Body, "created") != false {
		t.Errorf("second PUT: created = %v, want false", get(again.Body, "created"))
	}
	got = s.rest(t, http.MethodGet, "/v1/customers/c1", nil)
	wantREST(t, got, http.StatusOK)
	if str(t, got.Body, "customer", "displayName") != "Ann B" || str(t, got.Body, "customer", "segment") != "" ||
		num(t, got.Body, "customer", "value") != 1 || num(t, got.Body, "customer", "overdraftLimit") != -5 {
		t.Errorf("after replace: %s", got.Raw)
	}
	if m, ok := get(got.Body, "customer", "attributes").(map[string]any); !ok || len(m) != 0 {
		t.Errorf("attributes after replace = %v, want {} (present though empty)", get(got.Body, "customer", "attributes"))
	}
	if str(t, got.Body, "customer", "createdAt") != str(t, c, "createdAt") {
		t.Errorf("createdAt changed on replace: %s", got.Raw)
	}

	// The profile written over REST reads back identically over gRPC.
	gc, err := s.GetCustomer(t.Context(), &goodwillv1.GetCustomerRequest{CustomerId: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if gc.GetCustomer().GetDisplayName() != "Ann B" || gc.GetCustomer().GetOverdraftLimit() != -5 {
		t.Errorf("over gRPC: %v", gc.GetCustomer())
	}

	missing := s.rest(t, http.MethodGet, "/v1/customers/nobody", nil)
	wantRESTError(t, missing, http.StatusNotFound, codes.NotFound, "nobody")
}

func TestRESTRecordEventIdempotencyAndCrossProtocol(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	body := `{"kind":"EVENT_KIND_CREDIT","magnitude":5,"idempotencyKey":"k1"}`

	first := s.rest(t, http.MethodPost, "/v1/customers/c1/events", body)
	wantREST(t, first, http.StatusOK)
	id := str(t, first.Body, "event", "eventId")
	if id == "" {
		t.Fatalf("no eventId: %s", first.Raw)
	}
	if str(t, first.Body, "event", "kind") != "EVENT_KIND_CREDIT" || num(t, first.Body, "event", "magnitude") != 5 ||
		str(t, first.Body, "event", "customerId") != "c1" || str(t, first.Body, "event", "idempotencyKey") != "k1" {
		t.Errorf("event: %s", first.Raw)
	}
	if b := num(t, first.Body, "balance", "balance"); !near(b, 10) {
		t.Errorf("balance.balance = %v, want 10", b)
	}
	// int64 fields are JSON strings in protojson.
	if str(t, first.Body, "balance", "eventCount") != "1" || str(t, first.Body, "balance", "status") != "BALANCE_STATUS_HEALTHY" {
		t.Errorf("balance: %s", first.Raw)
	}
	if v, ok := first.Body["replayed"]; !ok || v != false {
		t.Errorf("replayed = %v (present %v), want false", v, ok)
	}

	again := s.rest(t, http.MethodPost, "/v1/customers/c1/events", body)
	wantREST(t, again, http.StatusOK)
	if get(again.Body, "replayed") != true || str(t, again.Body, "event", "eventId") != id {
		t.Errorf("replay: %s", again.Raw)
	}
	if str(t, again.Body, "balance", "eventCount") != "1" {
		t.Errorf("replay changed the ledger: %s", again.Raw)
	}

	conflict := s.rest(t, http.MethodPost, "/v1/customers/c1/events", `{"kind":"EVENT_KIND_CREDIT","magnitude":6,"idempotencyKey":"k1"}`)
	wantRESTError(t, conflict, http.StatusConflict, codes.AlreadyExists, "k1")

	// Cross-protocol: the REST event is visible over gRPC, and a gRPC
	// retry of the same payload with the same key replays it.
	glist, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(glist.GetEvents()) != 1 {
		t.Fatalf("gRPC sees %d events, want 1: %v", len(glist.GetEvents()), glist.GetEvents())
	}
	ev := glist.GetEvents()[0]
	if ev.GetEventId() != id || ev.GetKind() != credit || ev.GetMagnitude() != 5 || ev.GetIdempotencyKey() != "k1" {
		t.Errorf("gRPC view of the REST event: %v", ev)
	}
	rec, err := s.Record(ctx, "c1", client.Event{Kind: credit, Magnitude: 5, IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if !rec.GetReplayed() || rec.GetEvent().GetEventId() != id {
		t.Errorf("gRPC retry of a REST event: %v", rec)
	}
	b, err := s.Balance(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if b.GetEventCount() != 1 || !near(b.GetBalance(), 10) {
		t.Errorf("gRPC balance: %v", b)
	}

	// And the other way: a gRPC event is visible over REST.
	grec, err := s.Record(ctx, "c1", client.Event{Kind: outage, Magnitude: 2, Source: "grpc"})
	if err != nil {
		t.Fatal(err)
	}
	got := s.rest(t, http.MethodGet, "/v1/customers/c1/events", nil)
	wantREST(t, got, http.StatusOK)
	events := list(t, got.Body, "events")
	if len(events) != 2 || str(t, events[0], "eventId") != grec.GetEvent().GetEventId() ||
		str(t, events[0], "kind") != "EVENT_KIND_OUTAGE" || str(t, events[0], "source") != "grpc" {
		t.Errorf("REST view of the gRPC event: %s", got.Raw)
	}
}

func TestRESTRecordEventsBatch(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	if _, err := s.Record(ctx, "c1", client.Event{Kind: delivery, IdempotencyKey: "taken"}); err != nil {
		t.Fatal(err)
	}
	resp := s.rest(t, http.MethodPost, "/v1/events:batchRecord", `{"events":[
		{"customerId":"c1","kind":"EVENT_KIND_RELIABLE_DELIVERY","magnitude":1,"idempotencyKey":"b1"},
		{"customerId":"c2","kind":"EVENT_KIND_CREDIT","magnitude":3,"idempotencyKey":"b1"},
		{"customerId":"c1","kind":"EVENT_KIND_RELIABLE_DELIVERY","idempotencyKey":"taken"},
		{"customerId":"c1","kind":"EVENT_KIND_OUTAGE","idempotencyKey":"taken"}
	]}`)
	wantREST(t, resp, http.StatusOK)
	want := []string{"RECORD_OUTCOME_CREATED", "RECORD_OUTCOME_CREATED", "RECORD_OUTCOME_REPLAYED", "RECORD_OUTCOME_CONFLICT"}
	results := list(t, resp.Body, "results")
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d: %s", len(results), len(want), resp.Raw)
	}
	for i, r := range results {
		if str(t, r, "outcome") != want[i] || num(t, r, "index") != float64(i) {
			t.Errorf("item %d: outcome %v index %v, want %s", i, r["outcome"], r["index"], want[i])
		}
		if (str(t, r, "error") != "") != (want[i] == "RECORD_OUTCOME_CONFLICT") {
			t.Errorf("item %d: error %q", i, r["error"])
		}
		if str(t, r, "event", "eventId") == "" {
			t.Errorf("item %d has no event: %v", i, r)
		}
	}
	if !strings.Contains(str(t, results[3], "error"), "taken") {
		t.Errorf("conflict error does not name the key: %q", results[3]["error"])
	}
	for id, n := range map[string]int64{"c1": 2, "c2": 1} {
		b, err := s.Balance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if b.GetEventCount() != n {
			t.Errorf("%s has %d events, want %d", id, b.GetEventCount(), n)
		}
	}
}

func TestRESTListEventsPagesAndFilters(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	base := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	kinds := []string{"EVENT_KIND_RELIABLE_DELIVERY", "EVENT_KIND_OUTAGE", "EVENT_KIND_RESPONSE"}
	ids := make([]string, 7)
	for i := range ids {
		r := s.rest(t, http.MethodPost, "/v1/customers/c1/events", map[string]any{
			"kind": kinds[i%3], "occurredAt": rfc3339(base.Add(time.Duration(i) * time.Hour)),
		})
		wantREST(t, r, http.StatusOK)
		ids[i] = str(t, r.Body, "event", "eventId")
	}

	// Walk pages of 2 by following nextPageToken: newest first, each once.
	var seen []string
	token := ""
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("paging does not end")
		}
		q := url.Values{"pageSize": {"2"}}
		if token != "" {
			q.Set("pageToken", token)
		}
		r := s.rest(t, http.MethodGet, "/v1/customers/c1/events?"+q.Encode(), nil)
		wantREST(t, r, http.StatusOK)
		events := list(t, r.Body, "events")
		if len(events) > 2 {
			t.Fatalf("page %d has %d events", page, len(events))
		}
		for _, e := range events {
			seen = append(seen, str(t, e, "eventId"))
		}
		// EmitUnpopulated: the last page has nextPageToken "".
		token = str(t, r.Body, "nextPageToken")
		if token == "" {
			break
		}
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	if !slices.Equal(seen, want) {
		t.Errorf("walked %v, want %v", seen, want)
	}

	// Kinds filter: outages are events 1 and 4.
	r := s.rest(t, http.MethodGet, "/v1/customers/c1/events?kinds=EVENT_KIND_OUTAGE", nil)
	wantREST(t, r, http.StatusOK)
	got := list(t, r.Body, "events")
	if len(got) != 2 || str(t, got[0], "eventId") != ids[4] || str(t, got[1], "eventId") != ids[1] {
		t.Errorf("kinds=OUTAGE: %s", r.Raw)
	}
	// Repeated kinds: outages and responses (1, 2, 4, 5).
	r = s.rest(t, http.MethodGet, "/v1/customers/c1/events?kinds=EVENT_KIND_OUTAGE&kinds=EVENT_KIND_RESPONSE", nil)
	wantREST(t, r, http.StatusOK)
	if got := list(t, r.Body, "events"); len(got) != 4 {
		t.Errorf("two kinds: %d events, want 4: %s", len(got), r.Raw)
	}

	// Time range [2h, 5h): events 2, 3, 4. The same range with a +02:00
	// offset (properly escaped) is the same instants.
	for _, loc := range []*time.Location{time.UTC, time.FixedZone("CEST", 2*3600)} {
		q := url.Values{
			"startTime": {base.Add(2 * time.Hour).In(loc).Format(time.RFC3339)},
			"endTime":   {base.Add(5 * time.Hour).In(loc).Format(time.RFC3339)},
		}
		r = s.rest(t, http.MethodGet, "/v1/customers/c1/events?"+q.Encode(), nil)
		wantREST(t, r, http.StatusOK)
		got = list(t, r.Body, "events")
		var gotIDs []string
		for _, e := range got {
			gotIDs = append(gotIDs, str(t, e, "eventId"))
		}
		if want := []string{ids[4], ids[3], ids[2]}; !slices.Equal(gotIDs, want) {
			t.Errorf("range in %v: got %v, want %v", loc, gotIDs, want)
		}
	}
	// Kinds and range combine: the outage at 4h only.
	q := url.Values{"kinds": {"EVENT_KIND_OUTAGE"}, "startTime": {rfc3339(base.Add(2 * time.Hour))}, "endTime": {rfc3339(base.Add(5 * time.Hour))}}
	r = s.rest(t, http.MethodGet, "/v1/customers/c1/events?"+q.Encode(), nil)
	wantREST(t, r, http.StatusOK)
	if got := list(t, r.Body, "events"); len(got) != 1 || str(t, got[0], "eventId") != ids[4] {
		t.Errorf("kinds and range: %s", r.Raw)
	}
}

func TestRESTReverseEvent(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	rec := s.rest(t, http.MethodPost, "/v1/customers/c1/events", `{"kind":"EVENT_KIND_OUTAGE","magnitude":2}`)
	wantREST(t, rec, http.StatusOK)
	id := str(t, rec.Body, "event", "eventId")

	rev := s.rest(t, http.MethodPost, "/v1/customers/c1/events/"+id+":reverse", `{}`)
	wantREST(t, rev, http.StatusOK)
	if str(t, rev.Body, "reversal", "kind") != "EVENT_KIND_REVERSAL" || str(t, rev.Body, "reversal", "reversesEventId") != id {
		t.Errorf("reversal: %s", rev.Raw)
	}
	if str(t, rev.Body, "balance", "eventCount") != "0" || num(t, rev.Body, "balance", "balance") != 0 {
		t.Errorf("balance after reversal: %s", rev.Raw)
	}

	again := s.rest(t, http.MethodPost, "/v1/customers/c1/events/"+id+":reverse", `{}`)
	wantRESTError(t, again, http.StatusBadRequest, codes.FailedPrecondition, id)

	// Reversing the reversal is refused too; an unknown event is 404.
	revID := str(t, rev.Body, "reversal", "eventId")
	wantRESTError(t, s.rest(t, http.MethodPost, "/v1/customers/c1/events/"+revID+":reverse", `{}`),
		http.StatusBadRequest, codes.FailedPrecondition, revID)
	wantRESTError(t, s.rest(t, http.MethodPost, "/v1/customers/c1/events/no-such-event:reverse", `{}`),
		http.StatusNotFound, codes.NotFound, "no-such-event")

	// The reversed event shows who reversed it, over REST and gRPC.
	r := s.rest(t, http.MethodGet, "/v1/customers/c1/events?kinds=EVENT_KIND_OUTAGE", nil)
	wantREST(t, r, http.StatusOK)
	if got := list(t, r.Body, "events"); len(got) != 1 || str(t, got[0], "reversedByEventId") != revID {
		t.Errorf("reversedByEventId: %s", r.Raw)
	}
}

func TestRESTRecordIncident(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	body := map[string]any{
		"incidentId": "i1", "customerIds": []string{"c1", "c2"}, "durationHours": 3,
		"startedAt": rfc3339(start), "noticeAt": rfc3339(start.Add(-2 * time.Hour)), "credit": 4, "source": "statuspage",
	}
	first := s.rest(t, http.MethodPost, "/v1/incidents", body)
	wantREST(t, first, http.StatusOK)
	if str(t, first.Body, "incidentId") != "i1" || num(t, first.Body, "customers") != 2 ||
		num(t, first.Body, "eventsCreated") != 6 || num(t, first.Body, "eventsReplayed") != 0 ||
		len(list(t, first.Body, "conflicts")) != 0 {
		t.Errorf("first call: %s", first.Raw)
	}
	again := s.rest(t, http.MethodPost, "/v1/incidents", body)
	wantREST(t, again, http.StatusOK)
	if num(t, again.Body, "eventsCreated") != 0 || num(t, again.Body, "eventsReplayed") != 6 || len(list(t, again.Body, "conflicts")) != 0 {
		t.Errorf("repeat: %s", again.Raw)
	}

	// Without notice and credit: one OUTAGE per customer.
	plain := s.rest(t, http.MethodPost, "/v1/incidents", `{"incidentId":"i2","customerIds":["c1","c3"],"durationHours":1}`)
	wantREST(t, plain, http.StatusOK)
	if num(t, plain.Body, "customers") != 2 || num(t, plain.Body, "eventsCreated") != 2 {
		t.Errorf("plain incident: %s", plain.Raw)
	}

	// The incident's events are visible over gRPC.
	glist, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "c2"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []goodwillv1.EventKind
	for _, e := range glist.GetEvents() {
		kinds = append(kinds, e.GetKind())
		if e.GetIncidentId() != "i1" || e.GetSource() != "statuspage" {
			t.Errorf("incident event: %v", e)
		}
	}
	// Newest first: the credit (at start+3h), the outage, the notice.
	if want := []goodwillv1.EventKind{credit, outage, goodwillv1.EventKind_EVENT_KIND_PROACTIVE_NOTICE}; !slices.Equal(kinds, want) {
		t.Errorf("c2 kinds %v, want %v", kinds, want)
	}
	for id, n := range map[string]int64{"c1": 4, "c2": 3, "c3": 1} {
		b, err := s.Balance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if b.GetEventCount() != n {
			t.Errorf("%s has %d events, want %d", id, b.GetEventCount(), n)
		}
	}
}

func TestRESTBalanceHealthAndOpenAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	at := time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Second)
	rec := s.rest(t, http.MethodPost, "/v1/customers/c1/events", map[string]any{"kind": "EVENT_KIND_CREDIT", "magnitude": 5, "occurredAt": rfc3339(at)})
	wantREST(t, rec, http.StatusOK)

	b := s.rest(t, http.MethodGet, "/v1/customers/c1/balance", nil)
	wantREST(t, b, http.StatusOK)
	if str(t, b.Body, "balance", "customerId") != "c1" || str(t, b.Body, "balance", "eventCount") != "1" ||
		str(t, b.Body, "balance", "status") != "BALANCE_STATUS_HEALTHY" || str(t, b.Body, "balance", "policyVersion") != "1" {
		t.Errorf("balance: %s", b.Raw)
	}
	if v := num(t, b.Body, "balance", "balance"); v <= 0 || v > 10 {
		t.Errorf("balance.balance = %v, want in (0, 10]", v)
	}
	if _, err := time.Parse(time.RFC3339Nano, str(t, b.Body, "balance", "asOf")); err != nil {
		t.Errorf("asOf: %v", err)
	}
	// The REST balance agrees with gRPC's.
	gb, err := s.BalanceAsOf(t.Context(), "c1", at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	// asOf before the event: nothing; at the event: the full 10 points.
	before := s.rest(t, http.MethodGet, "/v1/customers/c1/balance?"+url.Values{"asOf": {rfc3339(at.Add(-time.Hour))}}.Encode(), nil)
	wantREST(t, before, http.StatusOK)
	if num(t, before.Body, "balance", "balance") != 0 || str(t, before.Body, "balance", "eventCount") != "0" {
		t.Errorf("asOf before the event: %s", before.Raw)
	}
	after := s.rest(t, http.MethodGet, "/v1/customers/c1/balance?"+url.Values{"asOf": {rfc3339(at.Add(time.Hour))}}.Encode(), nil)
	wantREST(t, after, http.StatusOK)
	if v := num(t, after.Body, "balance", "balance"); !near(v, gb.GetBalance()) || !near(v, 10*math.Exp2(-1.0/(90*24))) {
		t.Errorf("asOf after the event: %v, gRPC says %v", v, gb.GetBalance())
	}
	if str(t, after.Body, "balance", "asOf") != rfc3339(at.Add(time.Hour)) {
		t.Errorf("asOf echoed as %q", str(t, after.Body, "balance", "asOf"))
	}
	// The snake_case query name works too.
	snake := s.rest(t, http.MethodGet, "/v1/customers/c1/balance?as_of="+url.QueryEscape(rfc3339(at.Add(-time.Hour))), nil)
	wantREST(t, snake, http.StatusOK)
	if str(t, snake.Body, "balance", "eventCount") != "0" {
		t.Errorf("as_of: %s", snake.Raw)
	}
	wantRESTError(t, s.rest(t, http.MethodGet, "/v1/customers/nobody/balance", nil), http.StatusNotFound, codes.NotFound, "nobody")

	h := s.rest(t, http.MethodGet, "/healthz", nil)
	wantREST(t, h, http.StatusOK)
	if len(h.Body) != 1 || h.Body["status"] != "SERVING" {
		t.Errorf("healthz: %s", h.Raw)
	}

	doc := s.rest(t, http.MethodGet, "/openapi.json", nil)
	wantREST(t, doc, http.StatusOK)
	if !json.Valid(doc.Raw) || doc.Body["swagger"] != "2.0" {
		t.Fatalf("openapi.json: %.200s", doc.Raw)
	}
	paths, ok := doc.Body["paths"].(map[string]any)
	if !ok {
		t.Fatalf("openapi.json has no paths object")
	}
	// protoc-gen-openapiv2 names path parameters by their JSON names.
	wantPaths := []string{
		"/v1/balances",
		"/v1/balances:snapshotTrend",
		"/v1/balances:summarize",
		"/v1/balances:trend",
		"/v1/caller",
		"/v1/customers",
		"/v1/customers/{customerId}",
		"/v1/customers/{customerId}/balance",
		"/v1/customers/{customerId}/balance/history",
		"/v1/customers/{customerId}/balance:explain",
		"/v1/customers/{customerId}/balance:recoveryPlan",
		"/v1/customers/{customerId}/events",
		"/v1/customers/{customerId}/events/{eventId}:reverse",
		"/v1/events:batchRecord",
		"/v1/events:export",
		"/v1/incidents",
		"/v1/notifications",
		"/v1/notifications:watch",
		"/v1/outreach",
		"/v1/policy",
		"/v1/policy/jobs/{jobId}",
		"/v1/policy/jobs/{jobId}:resume",
		"/v1/policy/simulations/{simulationId}",
		"/v1/policy:simulate",
		"/v1/webhooks",
		"/v1/webhooks/{webhookId}",
		"/v1/webhooks/{webhookId}/deliveries",
		"/v1/webhooks/{webhookId}:rotateSecret",
	}
	var gotPaths []string
	for p := range paths {
		gotPaths = append(gotPaths, p)
	}
	slices.Sort(gotPaths)
	if !slices.Equal(gotPaths, wantPaths) {
		t.Errorf("openapi paths %v, want %v", gotPaths, wantPaths)
	}
	events, _ := paths["/v1/customers/{customerId}/events"].(map[string]any)
	if events["get"] == nil || events["post"] == nil {
		t.Errorf("events path lacks get or post: %v", events)
	}
	params, _ := get(events, "get", "parameters").([]any)
	var names []string
	for _, p := range params {
		if m, ok := p.(map[string]any); ok {
			names = append(names, m["name"].(string))
		}
	}
	for _, n := range []string{"customerId", "pageSize", "pageToken", "kinds", "startTime", "endTime"} {
		if !slices.Contains(names, n) {
			t.Errorf("ListEvents parameters %v lack %q", names, n)
		}
	}

	// The contract as clients read it: bearer keys, the errors each route
	// really answers with their schema, the parameters it requires.
	if get(doc.Body, "securityDefinitions", "bearer", "name") != "Authorization" ||
		len(doc.Body["security"].([]any)) != 1 {
		t.Errorf("no bearer security: %v %v", doc.Body["securityDefinitions"], doc.Body["security"])
	}
	notFound := []string{"GET /v1/customers/{customerId}", "GET /v1/customers/{customerId}/events",
		"POST /v1/customers/{customerId}/events/{eventId}:reverse", "GET /v1/customers/{customerId}/balance",
		"GET /v1/customers/{customerId}/balance:explain", "GET /v1/customers/{customerId}/balance/history",
		"GET /v1/policy", "GET /v1/policy/jobs/{jobId}", "POST /v1/policy/jobs/{jobId}:resume",
		"GET /v1/webhooks/{webhookId}", "DELETE /v1/webhooks/{webhookId}", "GET /v1/webhooks/{webhookId}/deliveries",
		"POST /v1/webhooks/{webhookId}:rotateSecret"}
	conflict := []string{"PUT /v1/customers/{customerId}", "POST /v1/customers/{customerId}/events", "POST /v1/events:batchRecord",
		"POST /v1/customers/{customerId}/events/{eventId}:reverse", "POST /v1/incidents", "PUT /v1/policy",
		"POST /v1/policy/jobs/{jobId}:resume", "POST /v1/webhooks"}
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			route := strings.ToUpper(method) + " " + path
			responses, _ := op.(map[string]any)["responses"].(map[string]any)
			want := []string{"200", "400", "401", "403", "429", "503", "default"}
			if slices.Contains(notFound, route) {
				want = append(want, "404")
			}
			if slices.Contains(conflict, route) {
				want = append(want, "409")
			}
			var got []string
			for code, r := range responses {
				got = append(got, code)
				if code != "200" && get(r.(map[string]any), "schema", "$ref") != "#/definitions/rpcStatus" {
					t.Errorf("%s %s: schema %v, want the error schema", route, code, get(r.(map[string]any), "schema"))
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s responses %v, want %v", route, got, want)
			}
		}
	}
	required := func(path, name string) map[string]any {
		for _, p := range get(paths, path, "get", "parameters").([]any) {
			if m := p.(map[string]any); m["name"] == name {
				return m
			}
		}
		t.Fatalf("%s has no parameter %s", path, name)
		return nil
	}
	for _, rp := range [][2]string{{"/v1/outreach", "purpose"}, {"/v1/customers/{customerId}/balance/history", "start"},
		{"/v1/customers/{customerId}/balance/history", "end"}} {
		if required(rp[0], rp[1])["required"] != true {
			t.Errorf("%s: %s is not marked required", rp[0], rp[1])
		}
	}
	if step := required("/v1/customers/{customerId}/balance/history", "step"); step["pattern"] == nil || step["x-example"] != "86400s" {
		t.Errorf("step parameter %v: want its format (pattern, example)", step)
	}
}

// rawREST sends a request without following redirects and returns the
// status, the Location header and the body.
func (s *testServer) rawREST(t *testing.T, method, path, body string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.baseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), raw
}

// TestRESTReachesEveryValidCustomerID checks that ids the API accepts
// ([A-Za-z0-9._:@-], "so ids are safe in URL paths") can be used in REST
// paths: either an id is rejected everywhere, or REST can address it.
func TestRESTReachesEveryValidCustomerID(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	for _, id := range []string{"a:b", "x:reverse", "a@b.c", "-", "_", "a..b", ".", ".."} {
		t.Run(id, func(t *testing.T) {
			_, err := s.Record(ctx, id, client.Event{Kind: credit})
			if err != nil {
				// Rejecting the id outright is a consistent answer.
				if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "customer_id") {
					t.Fatalf("record for %q: %v", id, err)
				}
				return
			}
			// Regression: "." and ".." were valid ids that no REST path could
			// reach (ServeMux cleans them away); ids now start with a letter or digit.
			for _, p := range []string{"/v1/customers/" + id, "/v1/customers/" + id + "/balance", "/v1/customers/" + id + "/events"} {
				code, loc, raw := s.rawREST(t, http.MethodGet, p, "")
				var body map[string]any
				if code != http.StatusOK || json.Unmarshal(raw, &body) != nil || !mentionsCustomer(body, id) {
					t.Errorf("GET %s: HTTP %d (Location %q): %.200s", p, code, loc, raw)
				}
			}
			code, loc, raw := s.rawREST(t, http.MethodPost, "/v1/customers/"+id+"/events", `{"kind":"EVENT_KIND_CREDIT"}`)
			if code != http.StatusOK {
				t.Errorf("POST /v1/customers/%s/events: HTTP %d (Location %q): %.200s", id, code, loc, raw)
			}
		})
	}
}

// mentionsCustomer reports whether a decoded reply holds "customerId": id
// at any depth.
func mentionsCustomer(v any, id string) bool {
	switch v := v.(type) {
	case map[string]any:
		if v["customerId"] == id {
			return true
		}
		for _, x := range v {
			if mentionsCustomer(x, id) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if mentionsCustomer(x, id) {
				return true
			}
		}
	}
	return false
}

func TestRESTRoutingErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	wantRESTError(t, s.rest(t, http.MethodGet, "/v1/nothing", nil), http.StatusNotFound, codes.NotFound)
	wantRESTError(t, s.rest(t, http.MethodGet, "/v1/customers/c1/events/e1:explode", nil), http.StatusNotFound, codes.NotFound)

	// Regression: an unsupported method once answered 501, a 5xx for a
	// client's mistake.
	for _, m := range []struct{ method, path string }{
		{http.MethodDelete, "/v1/customers/c1"},
		{http.MethodPost, "/v1/customers/c1/balance"},
		{http.MethodPatch, "/v1/customers/c1/events"},
	} {
		r := s.rest(t, m.method, m.path, `{}`)
		if r.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: HTTP %d, want 405: %s", m.method, m.path, r.Status, r.Raw)
		}
		if msg, _ := r.Body["message"].(string); msg == "" {
			t.Errorf("%s %s: no JSON error message: %s", m.method, m.path, r.Raw)
		}
	}
}
