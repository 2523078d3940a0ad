package app

import (
	"net/http"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are what goodwilld exports to Prometheus. No label carries a
// tenant, customer or key: /metrics has no authentication.
type metrics struct {
	reg   *prometheus.Registry
	grpc  *grpcprom.ServerMetrics
	batch prometheus.Histogram
}

// retryCounter is implemented by stores that retry transactions, and
// staleCounter by stores whose stale reads can fall back to fresh ones.
type (
	retryCounter interface{ Retries() int64 }
	staleCounter interface{ StaleFallbacks() int64 }
)

func newMetrics(st any) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		// Every RPC, gRPC and REST alike (the gateway calls the gRPC
		// service): counts by method and code (Unauthenticated,
		// ResourceExhausted... included) and handling time.
		grpc: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets([]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}))),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "goodwill_group_commit_batch_events",
			Help:    "Events committed together by one group-commit transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 .. 512
		}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.grpc, m.batch)
	if rc, ok := st.(retryCounter); ok {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "goodwill_store_transaction_retries_total",
			Help: "Transactions (writes and reads) the store re-ran after a serialization failure or deadlock.",
		}, func() float64 { return float64(rc.Retries()) }))
	}
	if sc, ok := st.(staleCounter); ok {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "goodwill_store_stale_read_fallbacks_total",
			Help: "Stale (follower) reads the server refused, answered by an exact read instead: expected for a few seconds after a migration.",
		}, func() float64 { return float64(sc.StaleFallbacks()) }))
	}
	return m
}

// server serves /metrics, for MetricsAddr.
func (m *metrics) server() *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}
