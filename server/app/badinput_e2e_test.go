package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// grpcCall makes one gRPC call and returns its error.
type grpcCall func(ctx context.Context, c *client.Client) error

// restCall is one REST request. body is as for testServer.rest.
type restCall struct {
	method, path string
	body         any
	// chunked sends the body without a Content-Length.
	chunked bool
}

// badInput is one row of the bad-input matrix. Each row runs over gRPC
// (when grpc is set) and over REST (when rest is set).
type badInput struct {
	name string
	grpc grpcCall
	rest *restCall
	// code is the expected gRPC code (InvalidArgument when zero); REST
	// expects its HTTP mapping and the same code in the JSON body.
	code codes.Code
	// field must appear in the status message and, for InvalidArgument,
	// in a google.rpc.BadRequest field violation.
	field string
	// restField, when set, replaces field for the REST message.
	restField string
	// decode marks REST rows the gateway rejects while decoding the
	// request, before the server sees it: no field violation detail.
	decode bool
}

func (b badInput) wantCode() codes.Code {
	if b.code == codes.OK {
		return codes.InvalidArgument
	}
	return b.code
}

var httpStatusOf = map[codes.Code]int{
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.FailedPrecondition: http.StatusBadRequest,
	codes.NotFound:           http.StatusNotFound,
	codes.AlreadyExists:      http.StatusConflict,
}

// checkGRPC asserts err is a status with the row's code naming its field.
func (b badInput) checkGRPC(t *testing.T, err error) {
	t.Helper()
	st, ok := status.FromError(err)
	if err == nil || !ok {
		t.Fatalf("got %v, want a %v status", err, b.wantCode())
	}
	t.Logf("%v: %s", st.Code(), st.Message())
	if st.Code() != b.wantCode() {
		t.Fatalf("got code %v (%q), want %v", st.Code(), st.Message(), b.wantCode())
	}
	if !strings.Contains(st.Message(), b.field) {
		t.Errorf("message %q does not name %q", st.Message(), b.field)
	}
	if st.Code() != codes.InvalidArgument || b.field == "" {
		return
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	// Each row has one bad field, which may break several rules.
	if len(fields) == 0 || slices.ContainsFunc(fields, func(f string) bool { return !strings.Contains(f, b.field) }) {
		t.Errorf("BadRequest field violations %q, want only ones naming %q", fields, b.field)
	}
}

// checkREST asserts a REST reply is the row's HTTP status with a JSON error
// body carrying the code and naming the field.
func (b badInput) checkREST(t *testing.T, rc *restCall, r restResponse) {
	t.Helper()
	field := restSpelling(b.field, rc)
	if b.restField != "" {
		field = b.restField
	}
	t.Logf("HTTP %d: %.300s", r.Status, r.Raw)
	wantRESTError(t, r, httpStatusOf[b.wantCode()], b.wantCode(), field)
	if b.decode || b.wantCode() != codes.InvalidArgument || field == "" {
		return
	}
	details, _ := r.Body["details"].([]any)
	for _, d := range details {
		dm, _ := d.(map[string]any)
		vs, _ := dm["fieldViolations"].([]any)
		for _, v := range vs {
			if f, _ := v.(map[string]any)["field"].(string); strings.Contains(f, field) {
				return
			}
		}
	}
	t.Errorf("REST error details carry no field violation naming %q: %s", field, r.Raw)
}

// restSpelling is a proto field path as a REST client spells it: JSON names,
// relative to the body it sends (RecordEvent's body is the event itself,
// UpsertCustomer's the customer, SetPolicy's the policy).
func restSpelling(field string, rc *restCall) string {
	switch {
	case rc.method == http.MethodPost && strings.HasSuffix(rc.path, "/events"):
		field = strings.TrimPrefix(field, "event.")
	case rc.method == http.MethodPut && strings.HasPrefix(rc.path, "/v1/customers/"):
		field = strings.TrimPrefix(field, "customer.")
	case rc.method == http.MethodPut && rc.path == "/v1/policy":
		field = strings.TrimPrefix(field, "policy.")
	}
	var b strings.Builder
	upper, depth := false, 0
	for _, c := range field {
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == '_' && depth == 0:
			upper = true
			continue
		case upper && depth == 0:
			c = unicode.ToUpper(c)
		}
		upper = false
		b.WriteRune(c)
	}
	return b.String()
}

// restChunked sends body with chunked transfer encoding (no Content-Length).
func (s *testServer) restChunked(t *testing.T, method, path, body string) restResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.baseURL+path, io.NopCloser(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := restResponse{Status: resp.StatusCode, Raw: raw}
	if err := jsonObject(raw, &out.Body); err != nil {
		t.Fatalf("%s %s: response is not a JSON object: %v: %s", method, path, err, raw)
	}
	return out
}

// jsonObject decodes a reply that must be a JSON object.
func jsonObject(raw []byte, out *map[string]any) error {
	if len(raw) == 0 {
		return errors.New("empty body")
	}
	return json.Unmarshal(raw, out)
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func TestBadInputIsRejectedAndStoresNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()

	// The known state every rejected request must leave alone: c1 with a
	// profile and one event.
	if _, err := s.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: "c1",
		Customer: &goodwillv1.Customer{DisplayName: "Keep", Segment: "gold", Value: proto.Float64(3)}}); err != nil {
		t.Fatal(err)
	}
	seed, err := s.Record(ctx, "c1", client.Event{Kind: credit, Magnitude: 5, IdempotencyKey: "seed", OccurredAt: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	seedID := seed.GetEvent().GetEventId()
	wantBalance := seed.GetBalance().GetBalance()

	// Customers named only in rejected requests; none may exist afterwards.
	ghosts := []string{"ghost-ev", "ghost-batch", "ghost-batch2", "ghost-inc", "ghost-up", "ghost-read",
		"ghost-y1", "ghost-y1-inc", "ghost-trailing"}

	now := time.Now()
	future := now.Add(time.Hour)
	pre1970 := time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC)
	// 0001-01-01T00:00:00Z is a valid Timestamp (its smallest value), and
	// long before 1970.
	year1 := time.Time{}
	long129 := strings.Repeat("a", 129)
	badTS := &timestamppb.Timestamp{Seconds: math.MaxInt64}
	nan, inf := math.NaN(), math.Inf(1)

	// Builders for the common calls.
	record := func(id string, e *goodwillv1.Event) grpcCall {
		return func(ctx context.Context, c *client.Client) error {
			_, err := c.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: id, Event: e})
			return err
		}
	}
	postEvent := func(id string, body any) *restCall {
		return &restCall{method: http.MethodPost, path: "/v1/customers/" + id + "/events", body: body}
	}
	batch := func(events ...*goodwillv1.Event) grpcCall {
		return func(ctx context.Context, c *client.Client) error {
			_, err := c.RecordEvents(ctx, &goodwillv1.RecordEventsRequest{Events: events})
			return err
		}
	}
	postBatch := func(body any) *restCall {
		return &restCall{method: http.MethodPost, path: "/v1/events:batchRecord", body: body}
	}
	incident := func(in *goodwillv1.RecordIncidentRequest) grpcCall {
		return func(ctx context.Context, c *client.Client) error {
			_, err := c.RecordIncident(ctx, in)
			return err
		}
	}
	postIncident := func(body any) *restCall {
		return &restCall{method: http.MethodPost, path: "/v1/incidents", body: body}
	}
	listEv := func(q *goodwillv1.ListEventsRequest) grpcCall {
		return func(ctx context.Context, c *client.Client) error {
			_, err := c.ListEvents(ctx, q)
			return err
		}
	}
	getList := func(id string, q url.Values) *restCall {
		return &restCall{method: http.MethodGet, path: "/v1/customers/" + id + "/events?" + q.Encode()}
	}
	balance := func(id string, asOf *timestamppb.Timestamp) grpcCall {
		return func(ctx context.Context, c *client.Client) error {
			_, err := c.GetBalance(ctx, &goodwillv1.GetBalanceRequest{CustomerId: id, AsOf: asOf})
			return err
		}
	}
	getCustomer := func(id string) grpcCall {
		return func(ctx context.Context, c *client.Client) error {
			_, err := c.GetCustomer(ctx, &goodwillv1.GetCustomerRequest{CustomerId: id})
			return err
		}
	}
	upsert := func(id string, cu *goodwillv1.Customer) grpcCall {
		return func(ctx context.Context, c *client.Client) error {
			_, err := c.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: id, Customer: cu})
			return err
		}
	}
	put := func(id string, body any) *restCall {
		return &restCall{method: http.MethodPut, path: "/v1/customers/" + id, body: body}
	}
	reverse := func(rq *goodwillv1.ReverseEventRequest) grpcCall {
		return func(ctx context.Context, c *client.Client) error {
			_, err := c.ReverseEvent(ctx, rq)
			return err
		}
	}
	postReverse := func(id, eventID string, body any) *restCall {
		return &restCall{method: http.MethodPost, path: "/v1/customers/" + id + "/events/" + eventID + ":reverse", body: body}
	}

	attrs := func(n int) map[string]string {
		m := make(map[string]string, n)
		for i := range n {
			m[fmt.Sprintf("k%02d", i)] = "v"
		}
		return m
	}
	manyEvents := make([]*goodwillv1.Event, 1001)
	manyEventsJSON := make([]map[string]any, 1001)
	for i := range manyEvents {
		manyEvents[i] = &goodwillv1.Event{CustomerId: "ghost-batch", Kind: delivery}
		manyEventsJSON[i] = map[string]any{"customerId": "ghost-batch", "kind": "EVENT_KIND_RELIABLE_DELIVERY"}
	}
	manyCustomers := make([]string, 10001)
	for i := range manyCustomers {
		manyCustomers[i] = fmt.Sprintf("ghost-inc-%05d", i)
	}
	ghosts = append(ghosts, manyCustomers[0], manyCustomers[10000])
	tok := func(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
	fiveMiB := strings.Repeat("x", 5<<20)

	cases := []badInput{
		// RecordEvent: kind.
		{name: "event kind unknown number", field: "event.kind",
			grpc: record("c1", &goodwillv1.Event{Kind: 99}),
			rest: postEvent("c1", `{"kind":99}`)},
		{name: "event kind unknown name", decode: true, restField: "EVENT_KIND_BOGUS",
			rest: postEvent("c1", `{"kind":"EVENT_KIND_BOGUS"}`)},
		{name: "event kind missing", field: "event.kind",
			grpc: record("c1", &goodwillv1.Event{Magnitude: proto.Float64(1)}),
			rest: postEvent("c1", `{"magnitude":1}`)},
		{name: "event kind unspecified", field: "event.kind",
			grpc: record("c1", &goodwillv1.Event{Kind: goodwillv1.EventKind_EVENT_KIND_UNSPECIFIED}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_UNSPECIFIED"}`)},
		// The event is required by its protovalidate annotation, which
		// names the missing message itself.
		{name: "event absent", field: "event",
			grpc: record("c1", nil),
			rest: postEvent("c1", "")},
		{name: "event kind reversal", field: "event.kind",
			grpc: record("c1", &goodwillv1.Event{Kind: goodwillv1.EventKind_EVENT_KIND_REVERSAL}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_REVERSAL"}`)},

		// RecordEvent: magnitude.
		{name: "event magnitude zero", field: "event.magnitude",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Magnitude: proto.Float64(0)}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","magnitude":0}`)},
		{name: "event magnitude negative", field: "event.magnitude",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Magnitude: proto.Float64(-1)}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","magnitude":-1}`)},
		{name: "event magnitude NaN", field: "event.magnitude",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Magnitude: proto.Float64(nan)}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","magnitude":"NaN"}`)},
		{name: "event magnitude +Inf", field: "event.magnitude",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Magnitude: proto.Float64(inf)}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","magnitude":"Infinity"}`)},
		{name: "event magnitude -Inf", field: "event.magnitude",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Magnitude: proto.Float64(math.Inf(-1))}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","magnitude":"-Infinity"}`)},
		{name: "event magnitude above 1e6", field: "event.magnitude",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Magnitude: proto.Float64(1e6 + 1)}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","magnitude":1000001}`)},

		// RecordEvent: occurred_at.
		{name: "event occurred_at an hour ahead", field: "event.occurred_at",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, OccurredAt: ts(future)}),
			rest: postEvent("c1", map[string]any{"kind": "EVENT_KIND_CREDIT", "occurredAt": rfc3339(future)})},
		{name: "event occurred_at before 1970", field: "event.occurred_at",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, OccurredAt: ts(pre1970)}),
			rest: postEvent("c1", map[string]any{"kind": "EVENT_KIND_CREDIT", "occurredAt": rfc3339(pre1970)})},
		// Regression: 0001-01-01 is Go's zero time and was read as "absent".
		{name: "event occurred_at year 1", field: "event.occurred_at",
			grpc: record("ghost-y1", &goodwillv1.Event{Kind: credit, OccurredAt: ts(year1)}),
			rest: postEvent("ghost-y1", `{"kind":"EVENT_KIND_CREDIT","occurredAt":"0001-01-01T00:00:00Z"}`)},
		{name: "event occurred_at out of range", field: "event.occurred_at",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, OccurredAt: badTS})},
		{name: "event occurred_at unparsable", decode: true, restField: "10000-01-01",
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","occurredAt":"10000-01-01T00:00:00Z"}`)},

		// RecordEvent: the customer id.
		{name: "event customer_id empty", field: "customer_id",
			grpc: record("", &goodwillv1.Event{Kind: credit})},
		{name: "event customer_id too long", field: "customer_id",
			grpc: record(long129, &goodwillv1.Event{Kind: credit}),
			rest: postEvent(long129, `{"kind":"EVENT_KIND_CREDIT"}`)},
		{name: "event customer_id with space", field: "customer_id",
			grpc: record("a b", &goodwillv1.Event{Kind: credit}),
			rest: postEvent("a%20b", `{"kind":"EVENT_KIND_CREDIT"}`)},
		{name: "event customer_id with slash", field: "customer_id",
			grpc: record("a/b", &goodwillv1.Event{Kind: credit})},
		// An escaped slash splits the path segment: no route matches.
		{name: "event customer_id with escaped slash", code: codes.NotFound, decode: true, restField: "no route for",
			rest: postEvent("a%2Fb", `{"kind":"EVENT_KIND_CREDIT"}`)},
		{name: "event customer_id differs from path", field: "event.customer_id",
			grpc: record("c1", &goodwillv1.Event{CustomerId: "ghost-ev", Kind: credit}),
			rest: postEvent("c1", `{"customerId":"ghost-ev","kind":"EVENT_KIND_CREDIT"}`)},
		{name: "event for new customer invalid", field: "event.magnitude",
			grpc: record("ghost-ev", &goodwillv1.Event{Kind: credit, Magnitude: proto.Float64(-1)}),
			rest: postEvent("ghost-ev", `{"kind":"EVENT_KIND_CREDIT","magnitude":-1}`)},

		// RecordEvent: idempotency key and text fields. The key "rej-key"
		// must not be burned by a rejected request (checked at the end).
		{name: "event key too long", field: "event.idempotency_key",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, IdempotencyKey: long129}),
			rest: postEvent("c1", map[string]any{"kind": "EVENT_KIND_CREDIT", "idempotencyKey": long129})},
		{name: "event key with space", field: "event.idempotency_key",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, IdempotencyKey: "a b"}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","idempotencyKey":"a b"}`)},
		{name: "event key not ASCII", field: "event.idempotency_key",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, IdempotencyKey: "clé"}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","idempotencyKey":"clé"}`)},
		{name: "event key reserved prefix", field: "event.idempotency_key",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, IdempotencyKey: "incident:i1:outage"}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","idempotencyKey":"incident:i1:outage"}`)},
		{name: "event valid key other field invalid", field: "event.magnitude",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Magnitude: proto.Float64(-2), IdempotencyKey: "rej-key"}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","magnitude":-2,"idempotencyKey":"rej-key"}`)},
		{name: "event note too long", field: "event.note",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Note: strings.Repeat("é", 1025)}),
			rest: postEvent("c1", map[string]any{"kind": "EVENT_KIND_CREDIT", "note": strings.Repeat("é", 1025)})},
		{name: "event note with NUL", field: "event.note",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Note: "a\x00b"}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","note":"a\u0000b"}`)},
		{name: "event source too long", field: "event.source",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Source: strings.Repeat("s", 65)}),
			rest: postEvent("c1", map[string]any{"kind": "EVENT_KIND_CREDIT", "source": strings.Repeat("s", 65)})},
		{name: "event 33 attributes", field: "event.attributes",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Attributes: attrs(33)}),
			rest: postEvent("c1", map[string]any{"kind": "EVENT_KIND_CREDIT", "attributes": attrs(33)})},
		{name: "event attribute empty key", field: "event.attributes",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Attributes: map[string]string{"": "v"}}),
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","attributes":{"":"v"}}`)},
		{name: "event attribute key too long", field: "event.attributes",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Attributes: map[string]string{strings.Repeat("k", 65): "v"}}),
			rest: postEvent("c1", map[string]any{"kind": "EVENT_KIND_CREDIT", "attributes": map[string]string{strings.Repeat("k", 65): "v"}})},
		{name: "event attribute value too long", field: "event.attributes",
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Attributes: map[string]string{"k": strings.Repeat("v", 257)}}),
			rest: postEvent("c1", map[string]any{"kind": "EVENT_KIND_CREDIT", "attributes": map[string]string{"k": strings.Repeat("v", 257)}})},

		// RecordEvents.
		{name: "batch empty", field: "events",
			grpc: batch(),
			rest: postBatch(`{"events":[]}`)},
		{name: "batch absent", field: "events",
			rest: postBatch(`{}`)},
		{name: "batch of 1001", field: "events",
			grpc: batch(manyEvents...),
			rest: postBatch(map[string]any{"events": manyEventsJSON})},
		{name: "batch item kind missing", field: "events[1].kind",
			grpc: batch(&goodwillv1.Event{CustomerId: "ghost-batch", Kind: credit}, &goodwillv1.Event{CustomerId: "c1"}),
			rest: postBatch(`{"events":[{"customerId":"ghost-batch","kind":"EVENT_KIND_CREDIT"},{"customerId":"c1"}]}`)},
		{name: "batch item customer_id missing", field: "events[1].customer_id",
			grpc: batch(&goodwillv1.Event{CustomerId: "c1", Kind: credit}, &goodwillv1.Event{Kind: credit}),
			rest: postBatch(`{"events":[{"customerId":"c1","kind":"EVENT_KIND_CREDIT"},{"kind":"EVENT_KIND_CREDIT"}]}`)},
		{name: "batch item customer_id bad", field: "events[0].customer_id",
			grpc: batch(&goodwillv1.Event{CustomerId: "a b", Kind: credit}),
			rest: postBatch(`{"events":[{"customerId":"a b","kind":"EVENT_KIND_CREDIT"}]}`)},
		{name: "batch item magnitude", field: "events[2].magnitude",
			grpc: batch(&goodwillv1.Event{CustomerId: "c1", Kind: credit}, &goodwillv1.Event{CustomerId: "ghost-batch2", Kind: credit},
				&goodwillv1.Event{CustomerId: "c1", Kind: credit, Magnitude: proto.Float64(nan)}),
			rest: postBatch(`{"events":[{"customerId":"c1","kind":"EVENT_KIND_CREDIT"},{"customerId":"ghost-batch2","kind":"EVENT_KIND_CREDIT"},{"customerId":"c1","kind":"EVENT_KIND_CREDIT","magnitude":"NaN"}]}`)},
		{name: "batch item reversal", field: "events[0].kind",
			grpc: batch(&goodwillv1.Event{CustomerId: "c1", Kind: goodwillv1.EventKind_EVENT_KIND_REVERSAL}),
			rest: postBatch(`{"events":[{"customerId":"c1","kind":"EVENT_KIND_REVERSAL"}]}`)},
		{name: "batch item future", field: "events[1].occurred_at",
			grpc: batch(&goodwillv1.Event{CustomerId: "ghost-batch", Kind: credit}, &goodwillv1.Event{CustomerId: "c1", Kind: credit, OccurredAt: ts(future)}),
			rest: postBatch(map[string]any{"events": []map[string]any{{"customerId": "ghost-batch", "kind": "EVENT_KIND_CREDIT"},
				{"customerId": "c1", "kind": "EVENT_KIND_CREDIT", "occurredAt": rfc3339(future)}}})},
		{name: "batch item timestamp out of range", field: "events[1].occurred_at",
			grpc: batch(&goodwillv1.Event{CustomerId: "ghost-batch", Kind: credit}, &goodwillv1.Event{CustomerId: "c1", Kind: credit, OccurredAt: badTS})},
		{name: "batch item reserved key", field: "events[1].idempotency_key",
			grpc: batch(&goodwillv1.Event{CustomerId: "ghost-batch", Kind: credit}, &goodwillv1.Event{CustomerId: "c1", Kind: credit, IdempotencyKey: "incident:x"}),
			rest: postBatch(`{"events":[{"customerId":"ghost-batch","kind":"EVENT_KIND_CREDIT"},{"customerId":"c1","kind":"EVENT_KIND_CREDIT","idempotencyKey":"incident:x"}]}`)},
		{name: "batch item unknown kind name", decode: true, restField: "EVENT_KIND_BOGUS",
			rest: postBatch(`{"events":[{"customerId":"ghost-batch","kind":"EVENT_KIND_BOGUS"}]}`)},

		// RecordIncident.
		{name: "incident without customers", field: "customer_ids",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", DurationHours: 1}),
			rest: postIncident(`{"incidentId":"bad","customerIds":[],"durationHours":1}`)},
		{name: "incident duplicate customers", field: "customer_ids[2]",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc", "c1"}, DurationHours: 1}),
			rest: postIncident(`{"incidentId":"bad","customerIds":["c1","ghost-inc","c1"],"durationHours":1}`)},
		{name: "incident 10001 customers", field: "customer_ids",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: manyCustomers, DurationHours: 1}),
			rest: postIncident(map[string]any{"incidentId": "bad", "customerIds": manyCustomers, "durationHours": 1})},
		{name: "incident bad customer id", field: "customer_ids[1]",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "a b"}, DurationHours: 1}),
			rest: postIncident(`{"incidentId":"bad","customerIds":["c1","a b"],"durationHours":1}`)},
		{name: "incident id missing", field: "incident_id",
			grpc: incident(&goodwillv1.RecordIncidentRequest{CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1}),
			rest: postIncident(`{"customerIds":["c1","ghost-inc"],"durationHours":1}`)},
		{name: "incident id bad", field: "incident_id",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "i 1", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1}),
			rest: postIncident(`{"incidentId":"i 1","customerIds":["c1","ghost-inc"],"durationHours":1}`)},
		{name: "incident duration zero", field: "duration_hours",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}}),
			rest: postIncident(`{"incidentId":"bad","customerIds":["c1","ghost-inc"],"durationHours":0}`)},
		{name: "incident duration NaN", field: "duration_hours",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: nan}),
			rest: postIncident(`{"incidentId":"bad","customerIds":["c1","ghost-inc"],"durationHours":"NaN"}`)},
		{name: "incident duration above 1e4", field: "duration_hours",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1e4 + 1}),
			rest: postIncident(`{"incidentId":"bad","customerIds":["c1","ghost-inc"],"durationHours":10001}`)},
		{name: "incident notice after start", field: "notice_at",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1,
				StartedAt: ts(now.Add(-2 * time.Hour)), NoticeAt: ts(now.Add(-time.Hour))}),
			rest: postIncident(map[string]any{"incidentId": "bad", "customerIds": []string{"c1", "ghost-inc"}, "durationHours": 1,
				"startedAt": rfc3339(now.Add(-2 * time.Hour)), "noticeAt": rfc3339(now.Add(-time.Hour))})},
		{name: "incident notice after now without start", field: "notice_at",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1,
				NoticeAt: ts(now.Add(3 * time.Minute))}),
			rest: postIncident(map[string]any{"incidentId": "bad", "customerIds": []string{"c1", "ghost-inc"}, "durationHours": 1,
				"noticeAt": rfc3339(now.Add(3 * time.Minute))})},
		{name: "incident started in the future", field: "started_at",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1, StartedAt: ts(future)}),
			rest: postIncident(map[string]any{"incidentId": "bad", "customerIds": []string{"c1", "ghost-inc"}, "durationHours": 1, "startedAt": rfc3339(future)})},
		{name: "incident started before 1970", field: "started_at",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1, StartedAt: ts(pre1970)}),
			rest: postIncident(map[string]any{"incidentId": "bad", "customerIds": []string{"c1", "ghost-inc"}, "durationHours": 1, "startedAt": rfc3339(pre1970)})},
		// Regression: year 1 once meant "start now".
		{name: "incident started_at year 1", field: "started_at",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad-y1", CustomerIds: []string{"ghost-y1-inc"}, DurationHours: 1, StartedAt: ts(year1)}),
			rest: postIncident(`{"incidentId":"bad-y1","customerIds":["ghost-y1-inc"],"durationHours":1,"startedAt":"0001-01-01T00:00:00Z"}`)},
		// Regression: year 1 once dropped the notice silently.
		{name: "incident notice_at year 1", field: "notice_at",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad-y1", CustomerIds: []string{"ghost-y1-inc"}, DurationHours: 1, NoticeAt: ts(year1)}),
			rest: postIncident(`{"incidentId":"bad-y1","customerIds":["ghost-y1-inc"],"durationHours":1,"noticeAt":"0001-01-01T00:00:00Z"}`)},
		{name: "incident started_at out of range", field: "started_at",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1, StartedAt: badTS})},
		{name: "incident severity zero", field: "severity",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1, Severity: proto.Float64(0)}),
			rest: postIncident(`{"incidentId":"bad","customerIds":["c1","ghost-inc"],"durationHours":1,"severity":0}`)},
		{name: "incident severity above 100", field: "severity",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1, Severity: proto.Float64(101)}),
			rest: postIncident(`{"incidentId":"bad","customerIds":["c1","ghost-inc"],"durationHours":1,"severity":101}`)},
		{name: "incident credit negative", field: "credit",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1, Credit: proto.Float64(-4)}),
			rest: postIncident(`{"incidentId":"bad","customerIds":["c1","ghost-inc"],"durationHours":1,"credit":-4}`)},
		{name: "incident credit Inf", field: "credit",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1, Credit: proto.Float64(inf)}),
			rest: postIncident(`{"incidentId":"bad","customerIds":["c1","ghost-inc"],"durationHours":1,"credit":"Infinity"}`)},
		{name: "incident note too long", field: "note",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1, Note: strings.Repeat("n", 1025)}),
			rest: postIncident(map[string]any{"incidentId": "bad", "customerIds": []string{"c1", "ghost-inc"}, "durationHours": 1, "note": strings.Repeat("n", 1025)})},
		{name: "incident source too long", field: "source",
			grpc: incident(&goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c1", "ghost-inc"}, DurationHours: 1, Source: strings.Repeat("s", 65)}),
			rest: postIncident(map[string]any{"incidentId": "bad", "customerIds": []string{"c1", "ghost-inc"}, "durationHours": 1, "source": strings.Repeat("s", 65)})},

		// ListEvents.
		{name: "list page_size negative", field: "page_size",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", PageSize: -1}),
			rest: getList("c1", url.Values{"pageSize": {"-1"}})},
		{name: "list page_size 1001", field: "page_size",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", PageSize: 1001}),
			rest: getList("c1", url.Values{"pageSize": {"1001"}})},
		{name: "list page_size not a number", decode: true, restField: "abc",
			rest: getList("c1", url.Values{"pageSize": {"abc"}})},
		{name: "list page_token garbage", field: "page_token",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", PageToken: "!!not a token!!"}),
			rest: getList("c1", url.Values{"pageToken": {"!!not a token!!"}})},
		{name: "list page_token without separator", field: "page_token",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", PageToken: tok("12345")}),
			rest: getList("c1", url.Values{"pageToken": {tok("12345")}})},
		{name: "list page_token bad time", field: "page_token",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", PageToken: tok("soon." + seedID)}),
			rest: getList("c1", url.Values{"pageToken": {tok("soon." + seedID)}})},
		{name: "list page_token bad id", field: "page_token",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", PageToken: tok("1.a b")}),
			rest: getList("c1", url.Values{"pageToken": {tok("1.a b")}})},
		// Forged cursors: times no event can have. PostgreSQL answered
		// INTERNAL (SQLSTATE 22008), and math.MinInt64 wrapped to page one.
		{name: "list page_token before 1970", field: "page_token",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", PageToken: tok("-1." + seedID)}),
			rest: getList("c1", url.Values{"pageToken": {tok("-1." + seedID)}})},
		{name: "list page_token minimum time", field: "page_token",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", PageToken: tok("-9223372036854775808." + seedID)}),
			rest: getList("c1", url.Values{"pageToken": {tok("-9223372036854775808." + seedID)}})},
		{name: "list page_token maximum time", field: "page_token",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", PageToken: tok("9223372036854775807." + seedID)}),
			rest: getList("c1", url.Values{"pageToken": {tok("9223372036854775807." + seedID)}})},
		{name: "balances page_token huge key", field: "page_token",
			grpc: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListBalances(ctx, &goodwillv1.ListBalancesRequest{PageToken: tok("7fefffffffffffff.c1")})
				return err
			},
			rest: &restCall{method: http.MethodGet, path: "/v1/balances?pageToken=" + tok("7fefffffffffffff.c1")}},
		{name: "balances page_token of an outreach list", field: "page_token",
			rest: &restCall{method: http.MethodGet, path: "/v1/balances?pageToken=" + tok("~c12e000000000000.c1")}},
		{name: "outreach segment too long", field: "segment",
			grpc: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_RECOVERY, Segment: strings.Repeat("s", 65)})
				return err
			},
			rest: &restCall{method: http.MethodGet, path: "/v1/outreach?purpose=OUTREACH_PURPOSE_RECOVERY&segment=" + strings.Repeat("s", 65)}},
		{name: "outreach segment with a NUL", field: "segment",
			grpc: func(ctx context.Context, c *client.Client) error {
				_, err := c.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_RECOVERY, Segment: "a\x00b"})
				return err
			}},
		{name: "policy idempotency key with a space", field: "idempotency_key",
			grpc: func(ctx context.Context, c *client.Client) error {
				g, err := c.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
				if err != nil {
					return err
				}
				p := g.GetPolicy()
				p.Version, p.CreatedAt = 0, nil
				_, err = c.SetPolicy(ctx, &goodwillv1.SetPolicyRequest{Policy: p, IdempotencyKey: "has space"})
				return err
			}},
		{name: "list end before start", field: "end_time",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", StartTime: ts(now), EndTime: ts(now.Add(-time.Hour))}),
			rest: getList("c1", url.Values{"startTime": {rfc3339(now)}, "endTime": {rfc3339(now.Add(-time.Hour))}})},
		{name: "list end equal to start", field: "end_time",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", StartTime: ts(now), EndTime: ts(now)}),
			rest: getList("c1", url.Values{"startTime": {rfc3339(now)}, "endTime": {rfc3339(now)}})},
		{name: "list start_time out of range", field: "start_time",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", StartTime: badTS})},
		{name: "list end_time out of range", field: "end_time",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", EndTime: badTS})},
		{name: "list start_time unparsable", decode: true, restField: "yesterday",
			rest: getList("c1", url.Values{"startTime": {"yesterday"}})},
		{name: "list kinds unknown number", field: "kinds[1]",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", Kinds: []goodwillv1.EventKind{outage, 99}})},
		// Unbounded kinds were an INTERNAL on SQLite ("too many SQL
		// variables").
		{name: "list kinds 40,000", field: "kinds",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", Kinds: slices.Repeat([]goodwillv1.EventKind{outage}, 40000)})},
		{name: "list kinds repeated", field: "kinds",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", Kinds: []goodwillv1.EventKind{outage, credit, outage}}),
			rest: getList("c1", url.Values{"kinds": {"EVENT_KIND_OUTAGE", "EVENT_KIND_OUTAGE"}})},
		{name: "list kinds unspecified", field: "kinds[0]",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "c1", Kinds: []goodwillv1.EventKind{goodwillv1.EventKind_EVENT_KIND_UNSPECIFIED}}),
			rest: getList("c1", url.Values{"kinds": {"EVENT_KIND_UNSPECIFIED"}})},
		{name: "list kinds unknown name", decode: true, restField: "EVENT_KIND_BOGUS",
			rest: getList("c1", url.Values{"kinds": {"EVENT_KIND_BOGUS"}})},
		{name: "list customer_id empty", field: "customer_id",
			grpc: listEv(&goodwillv1.ListEventsRequest{})},
		{name: "list customer_id bad", field: "customer_id",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "a b"}),
			rest: getList("a%20b", nil)},

		// GetBalance and GetCustomer.
		{name: "balance as_of before 1970", field: "as_of",
			grpc: balance("c1", ts(pre1970)),
			rest: &restCall{method: http.MethodGet, path: "/v1/customers/c1/balance?" + url.Values{"asOf": {rfc3339(pre1970)}}.Encode()}},
		// Regression: as_of year 1 once returned today's balance.
		{name: "balance as_of year 1", field: "as_of",
			grpc: balance("c1", ts(year1)),
			rest: &restCall{method: http.MethodGet, path: "/v1/customers/c1/balance?asOf=0001-01-01T00:00:00Z"}},
		{name: "balance as_of out of range", field: "as_of",
			grpc: balance("c1", badTS)},
		{name: "balance as_of unparsable", decode: true, restField: "yesterday",
			rest: &restCall{method: http.MethodGet, path: "/v1/customers/c1/balance?asOf=yesterday"}},
		{name: "balance customer_id empty", field: "customer_id",
			grpc: balance("", nil)},
		{name: "balance customer_id too long", field: "customer_id",
			grpc: balance(long129, nil),
			rest: &restCall{method: http.MethodGet, path: "/v1/customers/" + long129 + "/balance"}},
		{name: "get customer_id empty", field: "customer_id",
			grpc: getCustomer("")},
		{name: "get customer_id too long", field: "customer_id",
			grpc: getCustomer(long129),
			rest: &restCall{method: http.MethodGet, path: "/v1/customers/" + long129}},
		{name: "get customer_id bad", field: "customer_id",
			grpc: getCustomer("a b"),
			rest: &restCall{method: http.MethodGet, path: "/v1/customers/a%20b"}},

		// UpsertCustomer: on c1, whose profile must stay as set up, and on
		// a customer that must not be created.
		{name: "upsert value negative", field: "customer.value",
			grpc: upsert("c1", &goodwillv1.Customer{Value: proto.Float64(-1)}),
			rest: put("c1", `{"value":-1}`)},
		{name: "upsert value NaN", field: "customer.value",
			grpc: upsert("ghost-up", &goodwillv1.Customer{Value: proto.Float64(nan)}),
			rest: put("ghost-up", `{"value":"NaN"}`)},
		{name: "upsert value above 1e6", field: "customer.value",
			grpc: upsert("c1", &goodwillv1.Customer{Value: proto.Float64(1e6 + 1)}),
			rest: put("c1", `{"value":1000001}`)},
		{name: "upsert overdraft_limit Inf", field: "customer.overdraft_limit",
			grpc: upsert("c1", &goodwillv1.Customer{OverdraftLimit: proto.Float64(inf)}),
			rest: put("c1", `{"overdraftLimit":"Infinity"}`)},
		{name: "upsert overdraft_limit positive", field: "customer.overdraft_limit",
			grpc: upsert("ghost-up", &goodwillv1.Customer{OverdraftLimit: proto.Float64(5)}),
			rest: put("ghost-up", `{"overdraftLimit":5}`)},
		{name: "upsert overdraft_limit -2e9", field: "customer.overdraft_limit",
			grpc: upsert("ghost-up", &goodwillv1.Customer{OverdraftLimit: proto.Float64(-2e9)}),
			rest: put("ghost-up", `{"overdraftLimit":-2e9}`)},
		{name: "upsert display name too long", field: "customer.display_name",
			grpc: upsert("c1", &goodwillv1.Customer{DisplayName: strings.Repeat("d", 257)}),
			rest: put("c1", map[string]any{"displayName": strings.Repeat("d", 257)})},
		{name: "upsert segment too long", field: "customer.segment",
			grpc: upsert("c1", &goodwillv1.Customer{Segment: strings.Repeat("g", 65)}),
			rest: put("c1", map[string]any{"segment": strings.Repeat("g", 65)})},
		{name: "upsert 33 attributes", field: "customer.attributes",
			grpc: upsert("ghost-up", &goodwillv1.Customer{Attributes: attrs(33)}),
			rest: put("ghost-up", map[string]any{"attributes": attrs(33)})},
		{name: "upsert body customer_id differs", field: "customer.customer_id",
			grpc: upsert("c1", &goodwillv1.Customer{CustomerId: "ghost-up", DisplayName: "x"}),
			rest: put("c1", `{"customerId":"ghost-up","displayName":"x"}`)},
		{name: "upsert customer_id empty", field: "customer_id",
			grpc: upsert("", &goodwillv1.Customer{DisplayName: "x"})},
		{name: "upsert customer_id bad", field: "customer_id",
			grpc: upsert("a b", &goodwillv1.Customer{DisplayName: "x"}),
			rest: put("a%20b", `{"displayName":"x"}`)},

		// ReverseEvent: the seed event must stay unreversed.
		{name: "reverse event_id empty", field: "event_id",
			grpc: reverse(&goodwillv1.ReverseEventRequest{CustomerId: "c1"})},
		{name: "reverse event_id bad", field: "event_id",
			grpc: reverse(&goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: "a b"}),
			rest: postReverse("c1", "a%20b", `{}`)},
		{name: "reverse customer_id empty", field: "customer_id",
			grpc: reverse(&goodwillv1.ReverseEventRequest{EventId: seedID})},
		{name: "reverse key with space", field: "idempotency_key",
			grpc: reverse(&goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: seedID, IdempotencyKey: "a b"}),
			rest: postReverse("c1", seedID, `{"idempotencyKey":"a b"}`)},
		{name: "reverse key reserved prefix", field: "idempotency_key",
			grpc: reverse(&goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: seedID, IdempotencyKey: "incident:x"}),
			rest: postReverse("c1", seedID, `{"idempotencyKey":"incident:x"}`)},
		{name: "reverse note too long", field: "note",
			grpc: reverse(&goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: seedID, Note: strings.Repeat("n", 1025)}),
			rest: postReverse("c1", seedID, map[string]any{"note": strings.Repeat("n", 1025)})},
		{name: "reverse source too long", field: "source",
			grpc: reverse(&goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: seedID, Source: strings.Repeat("s", 65)}),
			rest: postReverse("c1", seedID, map[string]any{"source": strings.Repeat("s", 65)})},
		{name: "reverse unknown event", code: codes.NotFound, field: "no-such-event",
			grpc: reverse(&goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: "no-such-event"}),
			rest: postReverse("c1", "no-such-event", `{}`)},
		{name: "reverse unknown customer", code: codes.NotFound, field: "ghost-read",
			grpc: reverse(&goodwillv1.ReverseEventRequest{CustomerId: "ghost-read", EventId: seedID}),
			rest: postReverse("ghost-read", seedID, `{}`)},

		// Unknown customers on reads.
		{name: "get unknown customer", code: codes.NotFound, field: "ghost-read",
			grpc: getCustomer("ghost-read"),
			rest: &restCall{method: http.MethodGet, path: "/v1/customers/ghost-read"}},
		{name: "balance unknown customer", code: codes.NotFound, field: "ghost-read",
			grpc: balance("ghost-read", nil),
			rest: &restCall{method: http.MethodGet, path: "/v1/customers/ghost-read/balance"}},
		{name: "balance as_of unknown customer", code: codes.NotFound, field: "ghost-read",
			grpc: balance("ghost-read", ts(now.Add(-time.Hour))),
			rest: &restCall{method: http.MethodGet, path: "/v1/customers/ghost-read/balance?" + url.Values{"asOf": {rfc3339(now.Add(-time.Hour))}}.Encode()}},
		{name: "list unknown customer", code: codes.NotFound, field: "ghost-read",
			grpc: listEv(&goodwillv1.ListEventsRequest{CustomerId: "ghost-read"}),
			rest: getList("ghost-read", url.Values{"pageSize": {"10"}})},

		// REST bodies the gateway cannot decode.
		{name: "json truncated", decode: true,
			rest: postEvent("c1", `{`)},
		{name: "json array for an object", decode: true,
			rest: postEvent("c1", `[]`)},
		{name: "json not JSON", decode: true,
			rest: postEvent("c1", `kind=EVENT_KIND_CREDIT`)},
		{name: "json number for a string", decode: true, restField: "idempotencyKey",
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","idempotencyKey":5}`)},
		{name: "json string for a number", decode: true, restField: "magnitude",
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","magnitude":"five"}`)},
		{name: "json unknown field", decode: true, restField: "magnitdue",
			rest: postEvent("c1", `{"kind":"EVENT_KIND_CREDIT","magnitdue":2}`)},
		{name: "json unknown field in batch item", decode: true, restField: "customer",
			rest: postBatch(`{"events":[{"customer":"ghost-batch","kind":"EVENT_KIND_CREDIT"}]}`)},
		{name: "json unknown field in upsert", decode: true, restField: "name",
			rest: put("ghost-up", `{"name":"x"}`)},
		{name: "json truncated batch", decode: true,
			rest: postBatch(`{"events":[`)},
		{name: "json array incident", decode: true,
			rest: postIncident(`[]`)},
		{name: "json truncated upsert", decode: true,
			rest: put("ghost-up", `{`)},
		{name: "json truncated reverse", decode: true,
			rest: postReverse("c1", seedID, `{`)},
		{name: "json null body", decode: true,
			rest: postEvent("c1", `null`)},
		{name: "json invalid UTF-8", decode: true, restField: "UTF-8",
			rest: postEvent("c1", "{\"kind\":\"EVENT_KIND_CREDIT\",\"note\":\"\xff\"}")},
		// Regression: the stock decoder ignored a second JSON value.
		{name: "json trailing value", decode: true,
			rest: postEvent("ghost-trailing", `{"kind":"EVENT_KIND_CREDIT"}{"kind":"EVENT_KIND_OUTAGE"}`)},
		// Regression (found by FuzzRESTDecoding): bytes that are not UTF-8
		// in the path or query were a 500.
		{name: "rest path not UTF-8", decode: true, restField: "UTF-8",
			rest: postEvent("%80", `{"kind":"EVENT_KIND_CREDIT"}`)},
		{name: "rest query not UTF-8", decode: true, restField: "segment",
			rest: &restCall{method: http.MethodGet, path: "/v1/balances?segment=%C3%28"}},
		{name: "json null for a repeated field", field: "events",
			rest: postBatch(`{"events":null}`)},

		// Oversized requests.
		{name: "rest body over 4 MiB", decode: true, restField: "limit",
			rest: postEvent("c1", map[string]any{"kind": "EVENT_KIND_CREDIT", "note": fiveMiB})},
		{name: "rest chunked body over 4 MiB", decode: true, restField: "larger than the limit of 4194304 bytes",
			rest: &restCall{method: http.MethodPost, path: "/v1/customers/c1/events", chunked: true,
				body: `{"kind":"EVENT_KIND_CREDIT","note":"` + fiveMiB + `"}`}},
		{name: "grpc message over 4 MiB", code: codes.ResourceExhausted,
			grpc: record("c1", &goodwillv1.Event{Kind: credit, Note: fiveMiB})},
	}

	t.Run("matrix", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				if tc.grpc == nil && tc.rest == nil {
					t.Fatal("row has neither a gRPC nor a REST call")
				}
				if tc.grpc != nil {
					t.Run("grpc", func(t *testing.T) {
						tc.checkGRPC(t, tc.grpc(t.Context(), s.Client))
					})
				}
				if tc.rest != nil {
					t.Run("rest", func(t *testing.T) {
						var r restResponse
						if tc.rest.chunked {
							r = s.restChunked(t, tc.rest.method, tc.rest.path, tc.rest.body.(string))
						} else {
							r = s.rest(t, tc.rest.method, tc.rest.path, tc.rest.body)
						}
						tc.checkREST(t, tc.rest, r)
					})
				}
			})
		}
	})

	// Nothing any rejected request named was stored. Compare at the seed's
	// moment: the balance fades while the matrix runs.
	b, err := s.BalanceAsOf(ctx, "c1", seed.GetBalance().GetAsOf().AsTime())
	if err != nil {
		t.Fatal(err)
	}
	if b.GetEventCount() != 1 || !near(b.GetBalance(), wantBalance) {
		t.Errorf("c1 after the matrix: %v, want 1 event and balance %v", b, wantBalance)
	}
	evs, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.GetEvents()) != 1 || evs.GetEvents()[0].GetEventId() != seedID || evs.GetEvents()[0].GetReversedByEventId() != "" {
		t.Errorf("c1 events after the matrix: %v", evs.GetEvents())
	}
	c1, err := s.GetCustomer(ctx, &goodwillv1.GetCustomerRequest{CustomerId: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if c := c1.GetCustomer(); c.GetDisplayName() != "Keep" || c.GetSegment() != "gold" || c.GetValue() != 3 ||
		c.OverdraftLimit != nil || len(c.GetAttributes()) != 0 {
		t.Errorf("c1 profile after the matrix: %v", c)
	}
	for _, id := range ghosts {
		_, err := s.GetCustomer(ctx, &goodwillv1.GetCustomerRequest{CustomerId: id})
		if status.Code(err) != codes.NotFound {
			t.Errorf("customer %q named only in rejected requests: GetCustomer = %v, want NotFound", id, err)
		}
	}
	// The incident id "bad" was never recorded: recording it now creates.
	inc, err := s.RecordIncident(ctx, &goodwillv1.RecordIncidentRequest{IncidentId: "bad", CustomerIds: []string{"c2"}, DurationHours: 1})
	if err != nil {
		t.Fatal(err)
	}
	if inc.GetEventsCreated() != 1 || inc.GetEventsReplayed() != 0 {
		t.Errorf("incident after rejections: %v", inc)
	}
	// A rejected request does not burn its idempotency key.
	rec, err := s.Record(ctx, "c1", client.Event{Kind: credit, Magnitude: 2, IdempotencyKey: "rej-key"})
	if err != nil {
		t.Fatalf("key of a rejected request: %v", err)
	}
	if rec.GetReplayed() || rec.GetBalance().GetEventCount() != 2 {
		t.Errorf("key of a rejected request: %v", rec)
	}
}

// TestValuesAtTheLimitsAreAccepted pins the other side of every edge the
// matrix rejects: each value exactly at its limit is accepted, over gRPC
// and REST.
func TestValuesAtTheLimitsAreAccepted(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	epoch := time.Unix(0, 0).UTC()
	id128 := strings.Repeat("b", 127) + "."
	key128 := strings.Repeat("!~", 64)
	attrs := make(map[string]string, 32)
	for i := range 32 {
		attrs[fmt.Sprintf("%064d", i)] = strings.Repeat("v", 256)
	}
	full := &goodwillv1.Event{
		Kind: credit, Magnitude: proto.Float64(1e6), OccurredAt: ts(epoch), IdempotencyKey: key128,
		Source: strings.Repeat("s", 64), Note: strings.Repeat("é", 1024), Attributes: attrs,
	}
	rec, err := s.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: id128, Event: full})
	if err != nil {
		t.Fatalf("event at every limit over gRPC: %v", err)
	}
	if got := rec.GetEvent(); !got.GetOccurredAt().AsTime().Equal(epoch) || got.GetNote() != full.GetNote() || len(got.GetAttributes()) != 32 {
		t.Errorf("stored event differs: occurred_at %v, %d attributes", got.GetOccurredAt().AsTime(), len(got.GetAttributes()))
	}
	r := s.rest(t, http.MethodPost, "/v1/customers/"+id128+"/events", map[string]any{
		"kind": "EVENT_KIND_CREDIT", "magnitude": 1e6, "occurredAt": rfc3339(epoch), "idempotencyKey": key128,
		"source": strings.Repeat("s", 64), "note": strings.Repeat("é", 1024), "attributes": attrs,
	})
	wantREST(t, r, http.StatusOK)
	if get(r.Body, "replayed") != true || str(t, r.Body, "event", "eventId") != rec.GetEvent().GetEventId() {
		t.Errorf("the same event over REST should replay the gRPC one: %.300s", r.Raw)
	}
	// occurred_at up to the allowed skew ahead.
	if _, err := s.Record(ctx, "c1", client.Event{Kind: delivery, OccurredAt: time.Now().Add(4 * time.Minute)}); err != nil {
		t.Errorf("occurred_at 4 minutes ahead: %v", err)
	}

	// A batch of exactly 1000.
	events := make([]*goodwillv1.Event, 1000)
	for i := range events {
		events[i] = &goodwillv1.Event{CustomerId: fmt.Sprintf("b%d", i%10), Kind: delivery}
	}
	br, err := s.RecordEvents(ctx, &goodwillv1.RecordEventsRequest{Events: events})
	if err != nil {
		t.Fatalf("batch of 1000: %v", err)
	}
	if len(br.GetResults()) != 1000 {
		t.Errorf("batch of 1000: %d results", len(br.GetResults()))
	}

	// Page size 1000; as_of and start_time at 1970-01-01.
	if _, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "b0", PageSize: 1000, StartTime: ts(epoch)}); err != nil {
		t.Errorf("page_size 1000: %v", err)
	}
	wantREST(t, s.rest(t, http.MethodGet, "/v1/customers/b0/events?pageSize=1000", nil), http.StatusOK)
	b, err := s.BalanceAsOf(ctx, id128, epoch)
	if err != nil {
		t.Errorf("as_of 1970-01-01: %v", err)
	} else if b.GetEventCount() != 1 || !near(b.GetBalance(), 2e6) {
		t.Errorf("as_of 1970-01-01: %v", b)
	}

	// Profiles at the limits.
	for _, cu := range []*goodwillv1.Customer{
		{Value: proto.Float64(0), OverdraftLimit: proto.Float64(-1e9)},
		{Value: proto.Float64(1e6), OverdraftLimit: proto.Float64(0), DisplayName: strings.Repeat("é", 256),
			Segment: strings.Repeat("g", 64), Attributes: attrs},
	} {
		if _, err := s.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: "p1", Customer: cu}); err != nil {
			t.Errorf("profile at the limits %v: %v", cu, err)
		}
	}
	wantREST(t, s.rest(t, http.MethodPut, "/v1/customers/p1", map[string]any{"value": 0, "overdraftLimit": -1e9,
		"displayName": strings.Repeat("é", 256), "segment": strings.Repeat("g", 64)}), http.StatusOK)

	// An incident at every limit, and one naming 10000 customers.
	inc, err := s.RecordIncident(ctx, &goodwillv1.RecordIncidentRequest{IncidentId: id128, CustomerIds: []string{"i1"},
		DurationHours: 1e4, Severity: proto.Float64(100), Credit: proto.Float64(1e6),
		StartedAt: ts(epoch), NoticeAt: ts(epoch), Note: strings.Repeat("n", 1024), Source: strings.Repeat("s", 64)})
	if err != nil {
		t.Fatalf("incident at the limits: %v", err)
	}
	if inc.GetEventsCreated() != 3 {
		t.Errorf("incident at the limits: %v", inc)
	}
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprintf("m%05d", i)
	}
	inc, err = s.RecordIncident(ctx, &goodwillv1.RecordIncidentRequest{IncidentId: "big", CustomerIds: ids, DurationHours: 1})
	if err != nil {
		t.Fatalf("incident with 10000 customers: %v", err)
	}
	if inc.GetCustomers() != 10000 || inc.GetEventsCreated() != 10000 {
		t.Errorf("incident with 10000 customers: customers %d, created %d", inc.GetCustomers(), inc.GetEventsCreated())
	}
}

// maxEvent is an event with every field at its size limit (about 11.5 KB).
func maxEvent(customerID string) *goodwillv1.Event {
	attrs := make(map[string]string, 32)
	for i := range 32 {
		attrs[fmt.Sprintf("%064d", i)] = strings.Repeat("v", 256)
	}
	return &goodwillv1.Event{CustomerId: customerID, Kind: credit, Source: strings.Repeat("s", 64),
		Note: strings.Repeat("n", 1024), Attributes: attrs}
}

// TestLargeValidRequestsGetTheirResponses sends requests that are within
// every documented limit and whose replies are larger than 4 MiB.
func TestLargeValidRequestsGetTheirResponses(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()

	t.Run("batch just under the request limit", func(t *testing.T) {
		// As many max-size events as fit in a 4 MiB request (363).
		req := &goodwillv1.RecordEventsRequest{}
		for proto.Size(req) < 4<<20-20_000 {
			req.Events = append(req.Events, maxEvent("big-batch"))
		}
		resp, err := s.RecordEvents(ctx, req)
		// Regression: the reply (every event echoed) once exceeded the client's
		// default 4 MiB receive limit after the batch had committed.
		if err != nil {
			b, berr := s.Balance(ctx, "big-batch")
			t.Fatalf("batch of %d events (%d bytes): %v; events stored anyway: %d (%v)",
				len(req.Events), proto.Size(req), err, b.GetEventCount(), berr)
		}
		if len(resp.GetResults()) != len(req.Events) {
			t.Errorf("%d results for %d events", len(resp.GetResults()), len(req.Events))
		}
	})

	t.Run("list page of 1000 max-size events", func(t *testing.T) {
		for range 4 {
			evs := make([]*goodwillv1.Event, 100)
			for i := range evs {
				evs[i] = maxEvent("big-list")
			}
			if _, err := s.RecordEvents(ctx, &goodwillv1.RecordEventsRequest{Events: evs}); err != nil {
				t.Fatal(err)
			}
		}
		// Regression: a full page of max-size events once exceeded the 4 MiB
		// receive limit (gRPC ResourceExhausted, REST 429).
		resp, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "big-list", PageSize: 1000})
		if err != nil {
			t.Errorf("gRPC ListEvents page_size 1000: %v", err)
		} else if len(resp.GetEvents()) != 400 {
			t.Errorf("gRPC ListEvents: %d events, want 400", len(resp.GetEvents()))
		}
		r := s.rest(t, http.MethodGet, "/v1/customers/big-list/events?pageSize=1000", nil)
		if r.Status != http.StatusOK {
			t.Errorf("REST ListEvents pageSize=1000: HTTP %d: %.300s", r.Status, r.Raw)
		} else if n := len(list(t, r.Body, "events")); n != 400 {
			t.Errorf("REST ListEvents: %d events, want 400", n)
		}
	})
}

// TestUpsertWithoutProfile sends UpsertCustomer with no customer message.
// REST (an empty PUT body) creates the customer with default values.
func TestUpsertWithoutProfile(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()

	r := s.rest(t, http.MethodPut, "/v1/customers/rest-empty", "")
	wantREST(t, r, http.StatusOK)
	if get(r.Body, "created") != true || num(t, r.Body, "customer", "value") != 1 {
		t.Errorf("empty PUT: %s", r.Raw)
	}

	// Regression: an unset customer once panicked (nil dereference) and
	// came back as Internal.
	resp, err := s.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: "grpc-empty"})
	if err != nil || !resp.GetCreated() || resp.GetCustomer().GetValue() != 1 {
		t.Errorf("upsert without profile: %v %v, want created with defaults, as over REST", resp, err)
	}
}
