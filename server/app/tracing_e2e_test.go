package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
)

// tracedServer starts goodwilld with its spans going to an in-memory
// exporter (as they are ended) and its log to logs, as JSON.
func tracedServer(t *testing.T, logs *syncBuffer, configure ...func(*app.Config)) (*testServer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	s := startServer(t, "", append([]func(*app.Config){func(c *app.Config) {
		c.TracerProvider = tp
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	}}, configure...)...)
	return s, exp
}

// callerTrace makes the trace context a caller sends: a new trace id and
// span id, sampled.
func callerTrace(n byte) (trace.TraceID, trace.SpanID, string) {
	tid := trace.TraceID{0x4b, 0x1d, 0xe5, n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, n}
	sid := trace.SpanID{0xca, 0x11, 0xe4, n, 1, 2, 3, n}
	return tid, sid, fmt.Sprintf("00-%s-%s-01", tid, sid)
}

// waitSpan waits until the exporter holds a span that match accepts (the
// server ends a call's span after it has answered).
func waitSpan(t *testing.T, exp *tracetest.InMemoryExporter, what string, match func(tracetest.SpanStub) bool) tracetest.SpanStub {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, s := range exp.GetSpans() {
			if match(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span %s among:\n%s", what, describeSpans(exp.GetSpans()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func describeSpans(spans tracetest.SpanStubs) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %s %s trace %s span %s parent %s %v\n", s.SpanKind, s.Name, s.SpanContext.TraceID(),
			s.SpanContext.SpanID(), s.Parent.SpanID(), s.Attributes)
	}
	return b.String()
}

// named matches a span by name, in a trace and under a parent span.
func named(name string, tid trace.TraceID, parent trace.SpanID) func(tracetest.SpanStub) bool {
	return func(s tracetest.SpanStub) bool {
		return s.Name == name && s.SpanContext.TraceID() == tid && s.Parent.SpanID() == parent
	}
}

func attr(s tracetest.SpanStub, key string) attribute.Value {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// storeSystem is the db.system.name the test store reports (freshDB).
func storeSystem(s *testServer) string {
	switch {
	case strings.HasPrefix(s.db, "sqlite:"):
		return "sqlite"
	case os.Getenv("GOODWILL_TEST_STORE") == "cockroachdb":
		return "cockroachdb"
	}
	return "postgresql"
}

func checkStoreSpan(t *testing.T, s *testServer, span tracetest.SpanStub, batch int64) {
	t.Helper()
	if span.SpanKind != trace.SpanKindClient {
		t.Errorf("%s: kind %s, want client", span.Name, span.SpanKind)
	}
	if got, want := attr(span, "db.system.name").AsString(), storeSystem(s); got != want {
		t.Errorf("%s: db.system.name %q, want %q", span.Name, got, want)
	}
	if got := attr(span, "goodwill.store.attempts").AsInt64(); got != 1 {
		t.Errorf("%s: goodwill.store.attempts %d, want 1", span.Name, got)
	}
	if got := attr(span, "goodwill.group_commit.batch_size").AsInt64(); got != batch {
		t.Errorf("%s: goodwill.group_commit.batch_size %d, want %d", span.Name, got, batch)
	}
}

// A call gets a span named for its method, continuing the caller's trace
// (gRPC metadata or HTTP header), and each store transaction it runs gets
// a span under it; REST calls make one trace from the HTTP request down to
// the store, the in-process path and the stream path alike. Log lines name
// the trace and span.
func TestTracingSpansPerCallAndTransaction(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s, exp := tracedServer(t, &logs)
	ctx := t.Context()
	const recordEvent = "goodwill.v1.GoodwillService/RecordEvent"

	t.Run("gRPC", func(t *testing.T) {
		tid, sid, tp := callerTrace(1)
		_, err := s.RecordEvent(metadata.AppendToOutgoingContext(ctx, "traceparent", tp),
			&goodwillv1.RecordEventRequest{CustomerId: "g1", Event: &goodwillv1.Event{Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT}})
		if err != nil {
			t.Fatal(err)
		}
		rpc := waitSpan(t, exp, "RecordEvent under the caller's span", named(recordEvent, tid, sid))
		if rpc.SpanKind != trace.SpanKindServer || attr(rpc, "rpc.response.status_code").AsString() != "OK" {
			t.Errorf("RecordEvent span: kind %s, attributes %v", rpc.SpanKind, rpc.Attributes)
		}
		// Group commit runs the write in its writer's batch: the batch's
		// transaction is still the call's child.
		tx := waitSpan(t, exp, "store.UpdateCustomers under RecordEvent", named("store.UpdateCustomers", tid, rpc.SpanContext.SpanID()))
		checkStoreSpan(t, s, tx, 1)

		line := finishedCall(t, &logs, "RecordEvent", tid.String())
		if line["span_id"] != rpc.SpanContext.SpanID().String() || line["request_id"] == nil {
			t.Errorf("log line of the call: span_id %v (want %s), request_id %v", line["span_id"], rpc.SpanContext.SpanID(), line["request_id"])
		}
	})

	t.Run("gRPC, a new trace", func(t *testing.T) {
		if _, err := s.GetCustomer(ctx, &goodwillv1.GetCustomerRequest{CustomerId: "g1"}); err != nil {
			t.Fatal(err)
		}
		rpc := waitSpan(t, exp, "GetCustomer as a root", func(s tracetest.SpanStub) bool {
			return s.Name == "goodwill.v1.GoodwillService/GetCustomer" && !s.Parent.IsValid()
		})
		tx := waitSpan(t, exp, "a store span under GetCustomer", func(sp tracetest.SpanStub) bool {
			return strings.HasPrefix(sp.Name, "store.") && sp.Parent.SpanID() == rpc.SpanContext.SpanID()
		})
		checkStoreSpan(t, s, tx, 0)
	})

	t.Run("REST", func(t *testing.T) {
		tid, sid, tp := callerTrace(2)
		r := s.restWith(t, http.MethodPost, "/v1/customers/r1/events", map[string]any{"kind": "EVENT_KIND_CREDIT"},
			http.Header{"Traceparent": {tp}})
		if r.Status != http.StatusOK {
			t.Fatalf("HTTP %d %s", r.Status, r.Raw)
		}
		web := waitSpan(t, exp, "the HTTP request under the caller's span", named("POST /v1/customers/{customer_id}/events", tid, sid))
		if web.SpanKind != trace.SpanKindServer || attr(web, "http.route").AsString() != "/v1/customers/{customer_id}/events" {
			t.Errorf("HTTP span: kind %s, attributes %v", web.SpanKind, web.Attributes)
		}
		if got, want := attr(web, "goodwill.request_id").AsString(), r.Header.Get("X-Request-Id"); got != want {
			t.Errorf("HTTP span's request id %q, response's %q", got, want)
		}
		rpc := waitSpan(t, exp, "RecordEvent under the HTTP request", named(recordEvent, tid, web.SpanContext.SpanID()))
		if attr(rpc, "rpc.response.status_code").AsString() != "OK" {
			t.Errorf("RecordEvent span: %v", rpc.Attributes)
		}
		tx := waitSpan(t, exp, "store.UpdateCustomers under RecordEvent", named("store.UpdateCustomers", tid, rpc.SpanContext.SpanID()))
		checkStoreSpan(t, s, tx, 1)

		line := finishedCall(t, &logs, "RecordEvent", tid.String())
		if line["request_id"] != r.Header.Get("X-Request-Id") || line["span_id"] != rpc.SpanContext.SpanID().String() {
			t.Errorf("log line of the REST call: request_id %v span_id %v; want %s %s", line["request_id"], line["span_id"],
				r.Header.Get("X-Request-Id"), rpc.SpanContext.SpanID())
		}
	})

	t.Run("REST stream", func(t *testing.T) {
		tid, sid, tp := callerTrace(3)
		r := s.restWith(t, http.MethodGet, "/v1/events:export", nil, http.Header{"Traceparent": {tp}})
		if r.Status != http.StatusOK {
			t.Fatalf("HTTP %d %s", r.Status, r.Raw)
		}
		web := waitSpan(t, exp, "the HTTP request under the caller's span", named("GET /v1/events:export", tid, sid))
		// Streams cross the gateway's connection to the internal gRPC
		// server: the trace goes with them.
		rpc := waitSpan(t, exp, "ExportEvents under the HTTP request",
			named("goodwill.v1.GoodwillService/ExportEvents", tid, web.SpanContext.SpanID()))
		if rpc.SpanKind != trace.SpanKindServer {
			t.Errorf("ExportEvents span: kind %s", rpc.SpanKind)
		}
		waitSpan(t, exp, "a store span under ExportEvents", func(sp tracetest.SpanStub) bool {
			return strings.HasPrefix(sp.Name, "store.") && sp.SpanContext.TraceID() == tid && sp.Parent.SpanID() == rpc.SpanContext.SpanID()
		})
	})

	t.Run("health is not traced", func(t *testing.T) {
		if r := s.rest(t, http.MethodGet, "/healthz", nil); r.Status != http.StatusOK {
			t.Fatalf("/healthz: %d", r.Status)
		}
		if _, err := s.Health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		// A marker call, traced, ends after the health checks did.
		if _, err := s.GetCaller(ctx, &goodwillv1.GetCallerRequest{}); err != nil {
			t.Fatal(err)
		}
		waitSpan(t, exp, "GetCaller", func(s tracetest.SpanStub) bool { return s.Name == "goodwill.v1.GoodwillService/GetCaller" })
		for _, sp := range exp.GetSpans() {
			if strings.Contains(sp.Name, "Health") || sp.Name == "GET" || strings.Contains(sp.Name, "healthz") {
				t.Errorf("health check traced: %s", sp.Name)
			}
		}
	})
}

// finishedCall returns the per-call log line of method in trace tid.
func finishedCall(t *testing.T, logs *syncBuffer, method, tid string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range logLines(t, logs) {
			if l["msg"] == "finished call" && l["grpc.method"] == method && l["trace_id"] == tid {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line for %s in trace %s:\n%s", method, tid, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Concurrent writes share a group-commit transaction: its span has one
// caller as parent and links to every other, so each caller's trace leads
// to the transaction that wrote its event.
func TestTracingGroupCommitBatchLinksItsCallers(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s, exp := tracedServer(t, &logs, func(c *app.Config) {
		// A long window, so the calls below land in one batch.
		c.GroupCommit.Window = 300 * time.Millisecond
	})
	const callers = 6
	type caller struct {
		tid trace.TraceID
		sid trace.SpanID
	}
	calls := make([]caller, callers)
	var wg sync.WaitGroup
	for i := range callers {
		tid, sid, tp := callerTrace(byte(10 + i))
		calls[i] = caller{tid, sid}
		wg.Go(func() {
			_, err := s.RecordEvent(metadata.AppendToOutgoingContext(t.Context(), "traceparent", tp),
				&goodwillv1.RecordEventRequest{CustomerId: fmt.Sprintf("b%d", i), Event: &goodwillv1.Event{Kind: goodwillv1.EventKind_EVENT_KIND_RESPONSE}})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// Each caller's server span, by trace.
	rpcs := map[trace.TraceID]trace.SpanContext{}
	for _, c := range calls {
		rpcs[c.tid] = waitSpan(t, exp, "RecordEvent", named("goodwill.v1.GoodwillService/RecordEvent", c.tid, c.sid)).SpanContext
	}
	found := map[trace.TraceID]bool{}
	var sizes []int64
	for _, sp := range exp.GetSpans() {
		if sp.Name != "store.UpdateCustomers" {
			continue
		}
		size := attr(sp, "goodwill.group_commit.batch_size").AsInt64()
		sizes = append(sizes, size)
		if rpc, ok := rpcs[sp.SpanContext.TraceID()]; ok && sp.Parent.SpanID() == rpc.SpanID() {
			found[sp.SpanContext.TraceID()] = true
		}
		for _, l := range sp.Links {
			if rpc, ok := rpcs[l.SpanContext.TraceID()]; ok && l.SpanContext.SpanID() == rpc.SpanID() {
				found[l.SpanContext.TraceID()] = true
			}
		}
		if got := int64(len(sp.Links)) + 1; got != size {
			t.Errorf("a batch of %d calls has %d links, want one fewer than its calls", size, len(sp.Links))
		}
	}
	if len(found) != callers {
		t.Errorf("%d of %d callers lead to their transaction (batch sizes %v):\n%s", len(found), callers, sizes, describeSpans(exp.GetSpans()))
	}
	if len(sizes) >= callers {
		t.Errorf("no batch held more than one call (batch sizes %v): the links went untested", sizes)
	}
}
