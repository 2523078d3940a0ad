// Package app assembles goodwilld: Config, then Complete (defaults, the
// store, every part and listener), then Run (serve until the context ends,
// then stop gracefully).
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"

	"github.com/goodwill-ledger/goodwill/client/web"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/api"
	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/gateway"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/notify"
	"github.com/goodwill-ledger/goodwill/server/store"
)

// Config is what an operator sets. Zero fields take the defaults in Complete.
type Config struct {
	// GRPCAddr is the gRPC listen address (default 127.0.0.1:50051).
	GRPCAddr string
	// HTTPAddr is the REST gateway's listen address (default 127.0.0.1:8080).
	HTTPAddr string
	// DB names the store (default sqlite:data/goodwill.db).
	DB string
	// NoAutoMigrate leaves migrations to `goodwilld migrate`.
	NoAutoMigrate bool
	// ShutdownTimeout bounds the wait for in-flight requests (default 15s).
	ShutdownTimeout time.Duration
	// DrainDelay is how long, once Run's context ends, health reports
	// NOT_SERVING while the servers go on serving, before the shutdown
	// proper: the time a load balancer needs to notice (see drain). Zero,
	// the default, waits for nothing.
	DrainDelay time.Duration
	// MaxRequestBytes caps one request, gRPC or REST (default 4 MiB).
	MaxRequestBytes int
	// FollowerReads lets every analyst read (balance lists, summaries,
	// outreach) use a snapshot a few seconds old; on CockroachDB these are
	// follower reads. Requests can ask for it one by one (allow_stale).
	FollowerReads bool
	// NotificationRetention is how long notifications are kept for
	// consumers that fell behind (default 7 days).
	NotificationRetention time.Duration
	// WebhookAllowPrivate lets webhooks use http and private, loopback
	// and link-local addresses (tests, deployments inside one network).
	WebhookAllowPrivate bool
	// WebhookRetryFor is how long a notification a webhook did not take
	// is retried before it is marked failed (default 24h).
	WebhookRetryFor time.Duration
	// NATSURL, when set, publishes every notification to NATS JetStream
	// (subject goodwill.<tenant>.<type>, Nats-Msg-Id the notification id).
	NATSURL string
	// NATSStream and NATSSubjectPrefix name the JetStream stream (default
	// GOODWILL) and the subjects' first token (default goodwill), for
	// brokers shared between ledgers.
	NATSStream, NATSSubjectPrefix string
	// GroupCommit coalesces concurrent RecordEvent calls into shared
	// transactions (on unless Disabled).
	GroupCommit ledger.GroupCommit
	Limits      ledger.Limits
	// RateLimit is every API key's token bucket (PerSecond 0: no limit).
	RateLimit auth.RateLimits
	// BootstrapKeyFile, when set and the store holds no API key at all,
	// receives a new admin key for the default tenant (mode 0600), so a
	// fresh install can be used at once and is never open without a key.
	// Empty: no bootstrap (goodwilld's flag defaults to data/admin.key).
	BootstrapKeyFile string
	// MetricsAddr, when set, serves Prometheus metrics at /metrics there
	// (no authentication; no label names a tenant, customer or key). Any
	// address is accepted; one off loopback is warned about at start.
	MetricsAddr string
	// DebugAddr, when set, serves Go's profiler (net/http/pprof) there.
	// It has no authentication, so it must be a loopback address.
	DebugAddr string

	// TLSCert and TLSKey are PEM files holding the server's certificate
	// (chain) and private key. With both, gRPC serves TLS and the gateway
	// HTTPS; with neither, both serve plaintext.
	TLSCert string
	TLSKey  string
	// TLSClientCA is a PEM file of CA certificates. With it (TLS required),
	// gRPC and HTTPS demand a client certificate signed by one of them
	// (mutual TLS).
	TLSClientCA string
	// CORSOrigins are the browser origins (https://app.example.com) the
	// REST gateway answers CORS requests from. Empty (the default) means no
	// CORS headers at all.
	CORSOrigins []string
	// NoConsole turns off the web console at /console/ (on by default).
	NoConsole bool

	// OTLPEndpoint, when set, turns tracing on (see tracing) and exports
	// spans to this OTLP/gRPC collector: host:port (TLS) or
	// http://host:port (plaintext) or https://host:port.
	OTLPEndpoint string
	// OTLPInsecure exports to a host:port OTLPEndpoint in plaintext.
	OTLPInsecure bool
	// TraceSampleRatio is the share of traces started here that are
	// recorded, 0 to 1; a caller's sampled flag always wins. The zero
	// value records only traces a caller sampled (goodwilld's flag
	// defaults to 1: every one).
	TraceSampleRatio float64
	// TracerProvider, when set, receives the spans instead of an OTLP
	// exporter (tests), turning tracing on; its owner shuts it down.
	TracerProvider trace.TracerProvider

	Logger *slog.Logger
	// Now replaces the clock (tests only).
	Now func() time.Time
}

// Defaults.
const (
	DefaultGRPCAddr = "127.0.0.1:50051"
	DefaultHTTPAddr = "127.0.0.1:8080"
	DefaultDB       = "sqlite:data/goodwill.db"
)

// Completed is goodwilld built and ready to Run: defaults filled in, the
// store open, the Service, both gRPC servers, the gateway and the HTTP
// servers constructed, every listener bound. Complete is the one place the
// parts are assembled; Run only runs them and shuts them down.
type Completed struct {
	cfg   Config
	log   *slog.Logger
	store store.Backend
	svc   *ledger.Service

	health *health.Server
	// grpcSrv serves the gRPC port; internalSrv, the same API with the
	// same interceptors, serves the gateway over an in-memory listener
	// that nothing outside the process can reach.
	grpcSrv, internalSrv *grpc.Server
	internalLis          *bufconn.Listener
	gateway              *gateway.Gateway
	httpSrv              *http.Server
	// debugSrv and metricsSrv are nil unless their address is set.
	debugSrv, metricsSrv *http.Server

	grpcLis, httpLis     net.Listener
	debugLis, metricsLis net.Listener
	tls                  *tls.Config // nil: plaintext
	metrics              *metrics
	// nats publishes notifications when --nats-url is set; closed after
	// the Service stops, before the store.
	nats *notify.NATS
	// tracing is nil when tracing is off; flushed once everything else
	// has stopped.
	tracing *tracing
	// skipDrain, closed by SkipDrain, ends the drain delay early.
	skipDrain     chan struct{}
	skipDrainOnce sync.Once
	ranOnce       bool
}

// Complete fills defaults, opens (and by default migrates) the store, binds
// every listener and builds every part, so a failure to start is reported
// before anything serves.
func (c Config) Complete(ctx context.Context) (_ *Completed, err error) {
	if c.GRPCAddr == "" {
		c.GRPCAddr = DefaultGRPCAddr
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.DB == "" {
		c.DB = DefaultDB
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 15 * time.Second
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 4 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	// Every part gets this logger, so every line logged with a call's
	// context names the call's request id (and trace).
	c.Logger = withCallAttrs(c.Logger)
	c.Limits = c.Limits.WithDefaults()
	// Configuration mistakes first: nothing is opened or bound yet.
	switch {
	case c.RateLimit.PerSecond < 0 || math.IsNaN(c.RateLimit.PerSecond) || math.IsInf(c.RateLimit.PerSecond, 0):
		return nil, fmt.Errorf("--rate-limit %v: want a finite number of requests per second, or 0 for no limit", c.RateLimit.PerSecond)
	case c.RateLimit.Burst < 0:
		return nil, fmt.Errorf("--rate-burst %d: must not be negative", c.RateLimit.Burst)
	case c.WebhookRetryFor < 0:
		return nil, fmt.Errorf("--webhook-retry-for %v: must not be negative", c.WebhookRetryFor)
	case c.NotificationRetention < 0:
		return nil, fmt.Errorf("--notification-retention %v: must not be negative", c.NotificationRetention)
	case c.GroupCommit.Writers < 0:
		return nil, fmt.Errorf("--group-commit-writers %d: must not be negative", c.GroupCommit.Writers)
	case c.GroupCommit.Window < 0:
		return nil, fmt.Errorf("--group-commit-window %v: must not be negative", c.GroupCommit.Window)
	case c.GroupCommit.MaxBatch < 0:
		return nil, fmt.Errorf("--group-commit-max %d: must not be negative", c.GroupCommit.MaxBatch)
	case c.DrainDelay < 0:
		return nil, fmt.Errorf("--drain-delay %v: must not be negative", c.DrainDelay)
	}
	if err := checkTracing(c); err != nil {
		return nil, err
	}
	tlsCfg, err := loadTLS(c.TLSCert, c.TLSKey, c.TLSClientCA, c.Logger)
	if err != nil {
		return nil, err
	}
	c.CORSOrigins = trimOrigins(c.CORSOrigins)
	if err := checkCORSOrigins(c.CORSOrigins); err != nil {
		return nil, err
	}
	if c.DebugAddr != "" && !isLoopback(c.DebugAddr) {
		return nil, fmt.Errorf("--debug-addr %q: the profiler has no authentication, so it may listen on loopback only (127.0.0.0/8, ::1 or localhost, such as 127.0.0.1:6060)", c.DebugAddr)
	}
	if c.GroupCommit.Writers <= 0 {
		// One: SQLite has one write lock, and on PostgreSQL several writers
		// measured slower where every process shares two cores: batches in
		// flight at once are smaller, and each pays a transaction's fixed
		// cost (docs/benchmarks.md, round 2).
		c.GroupCommit.Writers = 1
	}

	// What is opened or bound from here is closed again if a later step
	// fails.
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()
	st, err := store.Open(ctx, c.DB, store.Options{Migrate: !c.NoAutoMigrate, Logger: c.Logger,
		Writers: c.GroupCommit.Writers})
	if err != nil {
		return nil, err
	}
	closers = append(closers, st.Close)
	if err := bootstrapKey(ctx, st, c.BootstrapKeyFile, c.Logger); err != nil {
		return nil, err
	}
	tr, err := newTracing(ctx, c)
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
		defer cancel()
		return tr.close(ctx)
	})
	listen := func(flag, addr string) (net.Listener, error) {
		if addr == "" {
			return nil, nil
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", flag, addr, err)
		}
		closers = append(closers, l.Close)
		return l, nil
	}
	out := &Completed{cfg: c, log: c.Logger, store: st, tls: tlsCfg, metrics: newMetrics(st), tracing: tr,
		skipDrain: make(chan struct{})}
	if out.grpcLis, err = listen("--grpc-addr", c.GRPCAddr); err != nil {
		return nil, err
	}
	if out.httpLis, err = listen("--http-addr", c.HTTPAddr); err != nil {
		return nil, err
	}
	if out.debugLis, err = listen("--debug-addr", c.DebugAddr); err != nil {
		return nil, err
	}
	if out.metricsLis, err = listen("--metrics-addr", c.MetricsAddr); err != nil {
		return nil, err
	}

	var publish ledger.Publisher
	if c.NATSURL != "" {
		if out.nats, err = notify.DialNATS(ctx, notify.NATSConfig{URL: c.NATSURL, Stream: c.NATSStream,
			SubjectPrefix: c.NATSSubjectPrefix}, c.Logger); err != nil {
			return nil, fmt.Errorf("--nats-url: %w", err)
		}
		closers = append(closers, out.nats.Close)
		publish = natsPublisher(out.nats)
	}
	out.svc = ledger.NewService(tr.store(st), ledger.Options{Policy: ledger.DefaultPolicy(), Limits: c.Limits, Now: c.Now,
		FollowerReads: c.FollowerReads, GroupCommit: c.GroupCommit, Logger: c.Logger,
		Notify:   ledger.NotifyOptions{Retention: c.NotificationRetention},
		Webhooks: webhookOptions(c, out.metrics),
		Publish:  publish,
		OnBatch: func(n int, took time.Duration) {
			out.metrics.batch.Observe(float64(n))
			out.metrics.commit.Observe(took.Seconds())
		},
		BatchContext: tr.batchContext()})
	out.metrics.watchNotifications(out.svc, publish != nil)
	access := api.NewAccess(auth.NewAuthenticator(st), c.RateLimit, c.Logger)
	unary, stream := api.Chain(c.Logger, api.Counter{
		Unary:  out.metrics.grpc.UnaryServerInterceptor(),
		Stream: out.metrics.grpc.StreamServerInterceptor(),
	}, access, appendCallAttrs)
	// The request id comes first, so every line of the call, a refusal's
	// included, names it.
	traced := tr != nil
	unary = append([]grpc.UnaryServerInterceptor{unaryRequestID(traced)}, unary...)
	stream = append([]grpc.StreamServerInterceptor{streamRequestID(traced)}, stream...)
	// REST's in-process calls have no gRPC server, whose stats handler
	// gives the other calls their span: a span of their own comes next.
	local := unary
	if span := tr.localUnary(); span != nil {
		local = append([]grpc.UnaryServerInterceptor{unary[0], span}, unary[1:]...)
	}
	const streamWorkers = 256
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(c.MaxRequestBytes),
		// Stop (after the shutdown deadline) still waits for running
		// handlers, so the store is never closed under a transaction.
		grpc.WaitForHandlers(true),
		// Calls run on long-lived workers rather than a new goroutine
		// each: a worker's stack has already grown to what the
		// interceptors and the validator need, where a new goroutine grew
		// (copied) its stack on every call (16% of the server's CPU in a
		// profile of single events; 1.3% with workers). Past this many
		// calls at once, a call gets its own goroutine as before.
		grpc.NumStreamWorkers(streamWorkers),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}
	opts = append(opts, tr.serverOptions()...)
	out.health = health.NewServer()
	// NOT_SERVING until every server is up; load balancers wait for it.
	out.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	out.health.SetServingStatus(goodwillv1.GoodwillService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	handler := api.New(out.svc, c.Logger)
	publicOpts := opts
	if tlsCfg != nil {
		publicOpts = append(publicOpts[:len(publicOpts):len(publicOpts)], grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	out.grpcSrv = grpc.NewServer(publicOpts...)
	goodwillv1.RegisterGoodwillServiceServer(out.grpcSrv, handler)
	healthpb.RegisterHealthServer(out.grpcSrv, out.health)
	reflection.Register(out.grpcSrv)
	out.internalLis = bufconn.Listen(internalBufferBytes)
	closers = append(closers, out.internalLis.Close)
	out.internalSrv = grpc.NewServer(opts...)
	goodwillv1.RegisterGoodwillServiceServer(out.internalSrv, handler)
	healthpb.RegisterHealthServer(out.internalSrv, out.health)
	out.metrics.grpc.InitializeMetrics(out.grpcSrv)

	gw := gateway.Config{Dial: out.internalLis.DialContext, MaxBodyBytes: int64(c.MaxRequestBytes), CORSOrigins: c.CORSOrigins,
		// Unary REST calls run the same chain as the gRPC servers, in-process.
		Local:       gateway.Local{Impl: handler, Interceptor: api.One(local)},
		DialOptions: gatewayDialOptions(tr)}
	if !c.NoConsole {
		gw.Console = web.Files()
	}
	if out.gateway, err = gateway.New(ctx, gw); err != nil {
		return nil, err
	}
	// The span (with tracing on) is outermost, so the request id can tag
	// it.
	out.httpSrv = &http.Server{Handler: tr.httpHandler(requestIDs(out.gateway, traced)), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, TLSConfig: tlsCfg,
		ErrorLog: slog.NewLogLogger(c.Logger.Handler(), slog.LevelInfo)}
	if out.debugLis != nil {
		out.debugSrv = debugServer()
	}
	if out.metricsLis != nil {
		out.metricsSrv = out.metrics.server()
	}
	return out, nil
}

// internalBufferBytes is the in-memory buffer, per direction, of the
// gateway's connection to its gRPC server.
const internalBufferBytes = 1 << 20

// GRPCAddr is the address the gRPC server listens on (useful with port 0).
func (c *Completed) GRPCAddr() string { return c.grpcLis.Addr().String() }

// HTTPAddr is the address the REST gateway listens on.
func (c *Completed) HTTPAddr() string { return c.httpLis.Addr().String() }

var errRunTwice = errors.New("app: Run called twice")
