package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tracing is goodwilld's OpenTelemetry tracing: a span per RPC (gRPC and
// REST alike, continuing a caller's W3C traceparent), a span per store
// transaction inside them, exported over OTLP/gRPC.
//
// A nil *tracing is tracing off, the default: every method then returns
// what adds nothing to a call (no stats handler, no wrapper, no store
// decorator), so a server without --otlp-endpoint pays nothing for it.
type tracing struct {
	provider   trace.TracerProvider
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	// shutdown flushes and stops the provider goodwilld built; nil for one
	// it was given (Config.TracerProvider), which its owner stops.
	shutdown func(context.Context) error
}

// tracerName is the instrumentation scope of the spans goodwilld itself
// starts (store transactions, REST calls run in-process).
const tracerName = "github.com/goodwill-ledger/goodwill/server/app"

// serviceName is the OTel service.name unless OTEL_SERVICE_NAME (or
// OTEL_RESOURCE_ATTRIBUTES) names another.
const serviceName = "goodwilld"

// checkTracing rejects tracing flags that cannot work, naming the flag.
func checkTracing(c Config) error {
	if r := c.TraceSampleRatio; math.IsNaN(r) || r < 0 || r > 1 {
		return fmt.Errorf("--trace-sample-ratio %v: want a fraction from 0 to 1", r)
	}
	if c.OTLPEndpoint == "" {
		if c.OTLPInsecure {
			return errors.New("--otlp-insecure needs --otlp-endpoint")
		}
		return nil
	}
	_, err := otlpOptions(c.OTLPEndpoint, c.OTLPInsecure)
	return err
}

// otlpOptions reads --otlp-endpoint: host:port (TLS unless --otlp-insecure)
// or a URL, http://host:port (plaintext) or https://host:port. The
// exporter's own parsing keeps its default (localhost:4317) for a URL it
// cannot read, so a typo would send spans nowhere without a word.
func otlpOptions(endpoint string, insecure bool) ([]otlptracegrpc.Option, error) {
	hostPort := endpoint
	if strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("--otlp-endpoint %q: want host:port, http://host:port or https://host:port (OTLP over gRPC, usually port 4317)", endpoint)
		}
		if u.Scheme == "https" && insecure {
			return nil, fmt.Errorf("--otlp-endpoint %q is https but --otlp-insecure asks for plaintext: drop one", endpoint)
		}
		insecure = insecure || u.Scheme == "http"
		hostPort = u.Host
	}
	if host, port, err := net.SplitHostPort(hostPort); err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("--otlp-endpoint %q: want host:port, http://host:port or https://host:port (OTLP over gRPC, usually port 4317)", endpoint)
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(hostPort)}
	if insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	return opts, nil
}

// newTracing builds tracing from the configuration: nil (off) without an
// OTLP endpoint or a provider. The exporter connects lazily, so a
// collector that is down delays nothing at start: its spans are dropped
// (the batch queue is bounded) and the exporter's errors are logged by
// OTel's error handler.
func newTracing(ctx context.Context, c Config) (*tracing, error) {
	if c.TracerProvider == nil && c.OTLPEndpoint == "" {
		return nil, nil
	}
	t := &tracing{
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		provider:   c.TracerProvider,
	}
	if t.provider == nil {
		opts, err := otlpOptions(c.OTLPEndpoint, c.OTLPInsecure)
		if err != nil {
			return nil, err
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("--otlp-endpoint %s: %w", c.OTLPEndpoint, err)
		}
		// Later detectors win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
		// override the default name. A detector's error leaves a partial
		// resource, still worth exporting with.
		res, _ := resource.New(ctx,
			resource.WithAttributes(attribute.String("service.name", serviceName)),
			resource.WithTelemetrySDK(), resource.WithHost(), resource.WithFromEnv())
		sdk := sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(exp),
			sdktrace.WithResource(res),
			// A caller's decision (the sampled flag of its traceparent)
			// wins, so a trace is never cut in half; the ratio decides for
			// calls that start a trace here.
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.TraceSampleRatio))))
		t.provider, t.shutdown = sdk, sdk.Shutdown
	}
	t.tracer = t.provider.Tracer(tracerName)
	return t, nil
}

// close flushes the spans still queued and stops the exporter.
func (t *tracing) close(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	if err := t.shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: flush at shutdown: %w", err)
	}
	return nil
}

// serverOptions give a gRPC server its span per call, continuing the
// caller's trace. Health checks (a load balancer's, every few seconds)
// are not traced. Metrics stay with Prometheus (--metrics-addr): the
// handler's own go to a no-op meter.
func (t *tracing) serverOptions() []grpc.ServerOption {
	if t == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.provider),
		otelgrpc.WithPropagators(t.propagator),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelgrpc.WithFilter(filters.Not(filters.HealthCheck())),
	))}
}

// httpMethodKey carries a REST request's method to where its route is
// known (restSpanName).
type httpMethodKey struct{}

// httpHandler gives each REST API request (/v1/...) a server span,
// continuing the traceparent of the HTTP request. /healthz, /openapi.json
// and the console's files are not traced.
func (t *tracing) httpHandler(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), httpMethodKey{}, r.Method)))
	})
	return otelhttp.NewHandler(inner, "rest",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v1/") }),
		// Named by its method until the gateway has matched the route
		// (restSpanName): a path holds ids, too many names for a backend.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
}

// restSpanName names a REST request's span after its route, "POST
// /v1/customers/{customer_id}/events", once the gateway has matched it
// (ctx is the gateway's, on its way to the gRPC method).
func restSpanName(ctx context.Context) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	method, _ := ctx.Value(httpMethodKey{}).(string)
	if route, ok := runtime.HTTPPathPattern(ctx); ok && method != "" {
		span.SetName(method + " " + route)
		span.SetAttributes(attribute.String("http.route", route))
	}
}

// localUnary is the span of a REST call the gateway runs in-process
// (gateway.Local): no gRPC server, so no stats handler, sees it. It is the
// HTTP span's child, named and tagged as the stats handler names a gRPC
// server span, so a method reads the same in traces whichever protocol
// called it.
func (t *tracing) localUnary() grpc.UnaryServerInterceptor {
	if t == nil {
		return nil
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		restSpanName(ctx)
		name := strings.TrimPrefix(info.FullMethod, "/")
		ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(attribute.String("rpc.system.name", "grpc"), attribute.String("rpc.method", name)))
		defer span.End()
		resp, err := handler(ctx, req)
		if span.IsRecording() {
			code := status.Code(err)
			span.SetAttributes(attribute.String("rpc.response.status_code", canonicalCode(code)))
			if serverFault(code) {
				span.SetStatus(otelcodes.Error, status.Convert(err).Message())
			}
		}
		return resp, err
	}
}

// canonicalCodes spell gRPC codes as OTel's semantic conventions do
// (NOT_FOUND, not NotFound), like the stats handler.
var canonicalCodes = [...]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

func canonicalCode(c codes.Code) string {
	if int(c) < len(canonicalCodes) {
		return canonicalCodes[c]
	}
	return c.String()
}

// serverFault reports whether a code is the server's failure rather than
// the caller's, as the stats handler marks server spans.
func serverFault(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented, codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}
