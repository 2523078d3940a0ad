package app_test

import (
	"context"
	"encoding/hex"
	"net"
	"net/http"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
)

// collector is an OTLP/gRPC trace receiver on loopback: what goodwilld
// exports, as a real collector would receive it.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	addr string

	mu       sync.Mutex
	spans    []*tracepb.Span
	services map[string]bool // service.name of every resource
}

func startCollector(t *testing.T) *collector {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{addr: lis.Addr().String(), services: map[string]bool{}}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, c)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return c
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				c.services[kv.GetValue().GetStringValue()] = true
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			c.spans = append(c.spans, ss.GetSpans()...)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// inTrace returns the names of the received spans of a trace (hex id),
// with their parent's span id.
func (c *collector) inTrace(tid string) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for _, s := range c.spans {
		if hex.EncodeToString(s.GetTraceId()) == tid {
			out[s.GetName()] = hex.EncodeToString(s.GetParentSpanId())
		}
	}
	return out
}

// The real exporter: goodwilld started with an OTLP endpoint sends its
// spans to the collector there, in the traces its callers started, and
// flushes the last ones at shutdown.
func TestOTLPExportToACollector(t *testing.T) {
	t.Parallel()
	col := startCollector(t)
	s := startServer(t, "", func(c *app.Config) {
		c.OTLPEndpoint = col.addr
		c.OTLPInsecure = true
		c.TraceSampleRatio = 1
	})
	grpcTrace, grpcSpan, grpcParent := callerTrace(40)
	if _, err := s.RecordEvent(metadata.AppendToOutgoingContext(t.Context(), "traceparent", grpcParent),
		&goodwillv1.RecordEventRequest{CustomerId: "o1", Event: &goodwillv1.Event{Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT}}); err != nil {
		t.Fatal(err)
	}
	restTrace, restSpan, restParent := callerTrace(41)
	if r := s.restWith(t, http.MethodGet, "/v1/customers/o1", nil, http.Header{"Traceparent": {restParent}}); r.Status != http.StatusOK {
		t.Fatalf("HTTP %d %s", r.Status, r.Raw)
	}
	// The batch processor holds spans for seconds; stopping flushes them.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	got := col.inTrace(grpcTrace.String())
	if got["goodwill.v1.GoodwillService/RecordEvent"] != grpcSpan.String() || got["store.UpdateCustomers"] == "" {
		t.Errorf("gRPC call's trace: spans (name: parent) %v; want RecordEvent under %s, and its transaction", got, grpcSpan)
	}
	got = col.inTrace(restTrace.String())
	if got["GET /v1/customers/{customer_id}"] != restSpan.String() || got["goodwill.v1.GoodwillService/GetCustomer"] == "" {
		t.Errorf("REST call's trace: spans (name: parent) %v; want the request under %s, and GetCustomer", got, restSpan)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if !col.services["goodwilld"] {
		t.Errorf("service.name of the resources: %v, want goodwilld", col.services)
	}
}
