package app

import (
	"net/http"
	"time"

	"github.com/goodwill-ledger/goodwill/server/buildinfo"
	"github.com/goodwill-ledger/goodwill/server/ledger"
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
	// commit times each group-commit batch's transaction: the store's
	// side of a write's latency.
	commit prometheus.Histogram
	// webhooks counts delivery attempts by outcome; webhookLatency times
	// them.
	webhooks       *prometheus.CounterVec
	webhookLatency prometheus.Histogram
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
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "goodwill_group_commit_seconds",
			Help:    "Time a group-commit batch spent in the store: from asking for a write transaction to its commit or failure, including waiting for a writer slot, retries and their backoff.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 17), // 0.5 ms .. 33 s: past the batch's 30 s timeout
		}),
	}
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "goodwill_webhook_attempts_total",
		Help: "Webhook delivery attempts, by outcome: delivered, or failed (to be retried).",
	}, []string{"outcome"})
	m.webhookLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "goodwill_webhook_attempt_seconds",
		Help:    "How long a webhook delivery attempt took, answered or not.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12), // 1 ms .. 24 s
	})
	// Both outcomes are exported from the start, at 0: a series that
	// appears only with its first attempt has no rate() for a dashboard or
	// an alert until a second one, and "no data" reads like "no failures".
	m.webhooks.WithLabelValues("delivered")
	m.webhooks.WithLabelValues("failed")
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.grpc, m.batch, m.commit, m.webhooks, m.webhookLatency, buildInfoGauge(buildinfo.Get()))
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

// buildInfoGauge is goodwill_build_info, always 1: the build is in its
// labels, the usual Prometheus idiom, so a query can join it to any other
// series by instance (a rollout's progress, a regression's version).
func buildInfoGauge(i buildinfo.Info) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "goodwill_build_info",
		Help: "The running build: version, commit and Go version as labels; the value is always 1.",
	}, []string{"version", "commit", "go_version"})
	g.WithLabelValues(i.Version, i.Commit, i.GoVersion).Set(1)
	return g
}

// watchNotifications adds the notification pipeline's progress: the latest
// number given and the latest published to the broker. Their difference is
// the broker's lag; a latest number that stops rising while events are
// recorded is a stalled sequencer.
func (m *metrics) watchNotifications(svc *ledger.Service, publishing bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "goodwill_notifications_numbered",
		Help: "The latest notification number given (by any replica), as this process knows it.",
	}, func() float64 { return float64(svc.NotificationProgress().Numbered) }))
	if publishing {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "goodwill_notifications_published",
			Help: "The latest notification number this process published to NATS (--nats-url); behind goodwill_notifications_numbered by the broker's lag.",
		}, func() float64 { return float64(svc.NotificationProgress().Published) }))
	}
}

// server serves /metrics, for MetricsAddr.
func (m *metrics) server() *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

func (m *metrics) webhookAttempt(r ledger.DeliveryResult) {
	outcome := "delivered"
	if r.Err != nil {
		outcome = "failed"
	}
	m.webhooks.WithLabelValues(outcome).Inc()
	m.webhookLatency.Observe(r.Latency.Seconds())
}
