// Package app assembles goodwilld: Config, then Complete (defaults, store,
// listeners), then Run (serve until the context ends, then stop gracefully).
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"time"

	"github.com/goodwill-ledger/goodwill/server/api"
	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
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
	// MaxRequestBytes caps one request, gRPC or REST (default 4 MiB).
	MaxRequestBytes int
	// FollowerReads lets every analyst read (balance lists, summaries,
	// outreach) use a snapshot a few seconds old; on CockroachDB these are
	// follower reads. Requests can ask for it one by one (allow_stale).
	FollowerReads bool
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

// Completed is a Config with defaults filled in, its store open and its
// listeners bound: ready to Run.
type Completed struct {
	cfg     Config
	tls     *tls.Config // nil: plaintext
	store   store.Backend
	grpcLis net.Listener
	httpLis net.Listener
	// debugLis and metricsLis are nil unless their address is set.
	debugLis   net.Listener
	metricsLis net.Listener
	metrics    *metrics
	log        *slog.Logger
	policy     *ledger.Policy
	limits     ledger.Limits
	ranOnce    bool
	access     *api.Access
}

// Complete fills defaults, opens (and by default migrates) the store and
// binds both listeners, so a failure to start is reported before serving.
func (c Config) Complete(ctx context.Context) (*Completed, error) {
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
	c.Limits = c.Limits.WithDefaults()
	// Configuration mistakes first: nothing is opened or bound yet.
	switch {
	case c.RateLimit.PerSecond < 0 || math.IsNaN(c.RateLimit.PerSecond) || math.IsInf(c.RateLimit.PerSecond, 0):
		return nil, fmt.Errorf("--rate-limit %v: want a finite number of requests per second, or 0 for no limit", c.RateLimit.PerSecond)
	case c.RateLimit.Burst < 0:
		return nil, fmt.Errorf("--rate-burst %d: must not be negative", c.RateLimit.Burst)
	case c.GroupCommit.Writers < 0:
		return nil, fmt.Errorf("--group-commit-writers %d: must not be negative", c.GroupCommit.Writers)
	case c.GroupCommit.Window < 0:
		return nil, fmt.Errorf("--group-commit-window %v: must not be negative", c.GroupCommit.Window)
	case c.GroupCommit.MaxBatch < 0:
		return nil, fmt.Errorf("--group-commit-max %d: must not be negative", c.GroupCommit.MaxBatch)
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
		// measured slower (serialization retries; docs/benchmarks.md).
		c.GroupCommit.Writers = 1
	}
	st, err := store.Open(ctx, c.DB, store.Options{Migrate: !c.NoAutoMigrate, Logger: c.Logger,
		Writers: c.GroupCommit.Writers})
	if err != nil {
		return nil, err
	}
	if err := bootstrapKey(ctx, st, c.BootstrapKeyFile, c.Logger); err != nil {
		st.Close()
		return nil, err
	}
	grpcLis, err := net.Listen("tcp", c.GRPCAddr)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen for gRPC on %s: %w", c.GRPCAddr, err)
	}
	httpLis, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		st.Close()
		grpcLis.Close()
		return nil, fmt.Errorf("listen for HTTP on %s: %w", c.HTTPAddr, err)
	}
	var debugLis, metricsLis net.Listener
	for _, l := range []struct {
		addr, flag string
		lis        *net.Listener
	}{{c.DebugAddr, "--debug-addr", &debugLis}, {c.MetricsAddr, "--metrics-addr", &metricsLis}} {
		if l.addr == "" {
			continue
		}
		if *l.lis, err = net.Listen("tcp", l.addr); err != nil {
			st.Close()
			for _, open := range []net.Listener{grpcLis, httpLis, debugLis} {
				if open != nil {
					open.Close()
				}
			}
			return nil, fmt.Errorf("%s %s: %w", l.flag, l.addr, err)
		}
	}
	return &Completed{cfg: c, tls: tlsCfg, store: st, grpcLis: grpcLis, httpLis: httpLis, debugLis: debugLis,
		metricsLis: metricsLis, metrics: newMetrics(st), log: c.Logger, policy: ledger.DefaultPolicy(), limits: c.Limits}, nil
}

// GRPCAddr is the address the gRPC server listens on (useful with port 0).
func (c *Completed) GRPCAddr() string { return c.grpcLis.Addr().String() }

// HTTPAddr is the address the REST gateway listens on.
func (c *Completed) HTTPAddr() string { return c.httpLis.Addr().String() }

var errRunTwice = errors.New("app: Run called twice")
