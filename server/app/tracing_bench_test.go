package app_test

import (
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/goodwill-ledger/goodwill/server/app"
)

// BenchmarkCallCost with tracing on: every call recorded, its spans
// batched to an exporter that drops them (the cost of the spans, not of a
// network); and a provider that samples nothing (what a call that starts
// no trace costs at --trace-sample-ratio 0).
func init() {
	callCostConfigs = append(callCostConfigs,
		callCostConfig{"tracing=all", func(c *app.Config) {
			c.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		}},
		callCostConfig{"tracing=none-sampled", func(c *app.Config) {
			c.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
		}},
	)
}
