package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/api"
	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/gateway"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store"
)

// Run serves gRPC and REST until ctx ends, then shuts down: health goes
// NOT_SERVING, the listeners stop accepting, in-flight requests get
// ShutdownTimeout to finish, and the store is closed last.
func (c *Completed) Run(ctx context.Context) error {
	if c.ranOnce {
		return errRunTwice
	}
	c.ranOnce = true
	log := c.log
	svc := ledger.NewService(c.store, ledger.Options{Policy: c.policy, Limits: c.limits, Now: c.cfg.Now,
		FollowerReads: c.cfg.FollowerReads, GroupCommit: c.cfg.GroupCommit,
		OnBatch: func(n int) { c.metrics.batch.Observe(float64(n)) }})

	c.access = api.NewAccess(auth.NewAuthenticator(c.store), c.cfg.RateLimit, log)
	healthSrv := health.NewServer()
	// NOT_SERVING until every server is up; load balancers wait for it.
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthSrv.SetServingStatus(goodwillv1.GoodwillService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)

	handler := api.New(svc, log)
	// The public server: the gRPC port, with TLS when configured.
	publicOpts := c.grpcServerOptions()
	if c.tls != nil {
		publicOpts = append(publicOpts, grpc.Creds(credentials.NewTLS(c.tls)))
	}
	grpcSrv := grpc.NewServer(publicOpts...)
	goodwillv1.RegisterGoodwillServiceServer(grpcSrv, handler)
	healthpb.RegisterHealthServer(grpcSrv, healthSrv)
	reflection.Register(grpcSrv)
	// The gateway's server: the same options (so the same interceptors) on
	// an in-memory listener, which nothing outside this process can reach,
	// so it needs no TLS.
	internalLis := bufconn.Listen(internalBufferBytes)
	internalSrv := grpc.NewServer(c.grpcServerOptions()...)
	goodwillv1.RegisterGoodwillServiceServer(internalSrv, handler)
	healthpb.RegisterHealthServer(internalSrv, healthSrv)

	gw, err := gateway.New(ctx, gateway.Config{Dial: internalLis.DialContext,
		MaxBodyBytes: int64(c.cfg.MaxRequestBytes), CORSOrigins: c.cfg.CORSOrigins})
	if err != nil {
		svc.Close()
		return errors.Join(err, c.grpcLis.Close(), c.httpLis.Close(), internalLis.Close(), c.store.Close())
	}
	httpSrv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, TLSConfig: c.tls,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelInfo)}

	g, gctx := errgroup.WithContext(ctx)
	for _, s := range []struct {
		srv *grpc.Server
		lis net.Listener
	}{{grpcSrv, c.grpcLis}, {internalSrv, internalLis}} {
		g.Go(func() error {
			if err := s.srv.Serve(s.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				return err
			}
			return nil
		})
	}
	g.Go(func() error {
		var err error
		if c.tls != nil {
			err = httpSrv.ServeTLS(c.httpLis, "", "") // certificates are in TLSConfig
		} else {
			err = httpSrv.Serve(c.httpLis)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthSrv.SetServingStatus(goodwillv1.GoodwillService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	log.Info("goodwilld serving", "grpc", c.GRPCAddr(), "http", c.HTTPAddr(), "db", store.Redact(c.cfg.DB),
		"policy_version", c.policy.Version, "tls", c.tls != nil, "client_certificates", c.cfg.TLSClientCA != "",
		"cors_origins", c.cfg.CORSOrigins)
	if c.tls == nil {
		for _, l := range []struct {
			flag string
			lis  net.Listener
		}{{"--grpc-addr", c.grpcLis}, {"--http-addr", c.httpLis}} {
			if addr := l.lis.Addr().String(); !isLoopback(addr) {
				log.Warn("plaintext on a non-loopback address: API keys will cross the network readable; "+
					"use --tls-cert and --tls-key, or a TLS-terminating proxy in front", "flag", l.flag, "addr", addr)
			}
		}
	}

	c.metrics.grpc.InitializeMetrics(grpcSrv)
	var debugSrv, metricsSrv *http.Server
	if c.debugLis != nil {
		debugSrv = c.debugServer()
		g.Go(func() error { return serveUntilShutdown(debugSrv, c.debugLis) })
		log.Warn("profiler serving without authentication", "addr", c.debugLis.Addr().String())
	}
	if c.metricsLis != nil {
		metricsSrv = c.metrics.server()
		g.Go(func() error { return serveUntilShutdown(metricsSrv, c.metricsLis) })
		addr := c.metricsLis.Addr().String()
		log.Info("metrics serving", "addr", addr)
		if !isLoopback(addr) {
			log.Warn("metrics serving without authentication on a non-loopback address", "flag", "--metrics-addr", "addr", addr)
		}
	}
	g.Go(func() error {
		svc.RunRecompute(gctx, log, recomputePoll)
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down", "timeout", c.cfg.ShutdownTimeout)
		healthSrv.Shutdown() // every service reports NOT_SERVING from here on
		sctx, cancel := context.WithTimeout(context.Background(), c.cfg.ShutdownTimeout)
		defer cancel()
		// REST first: its requests travel over the internal gRPC server and
		// need it to finish. Then both gRPC servers together.
		herr := httpSrv.Shutdown(sctx)
		for _, srv := range []*http.Server{debugSrv, metricsSrv} {
			if srv != nil {
				herr = errors.Join(herr, srv.Shutdown(sctx))
			}
		}
		stopped := make(chan struct{})
		go func() {
			var wg sync.WaitGroup
			wg.Go(grpcSrv.GracefulStop)
			wg.Go(internalSrv.GracefulStop)
			wg.Wait()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-sctx.Done():
			log.Warn("shutdown deadline passed; cancelling in-flight gRPC calls")
			grpcSrv.Stop()
			internalSrv.Stop()
		}
		return errors.Join(herr, gw.Close())
	})
	err = g.Wait()
	svc.Close() // no handler runs any more: commit what is queued, stop the writer
	if cerr := c.store.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	log.Info("goodwilld stopped")
	return err
}

// grpcServerOptions are the options of every gRPC server goodwilld runs:
// limits, shutdown behaviour and the interceptor chain.
func (c *Completed) grpcServerOptions() []grpc.ServerOption {
	log := c.log
	recoverPanics := recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", "panic", p)
		return status.Error(codes.Internal, "internal error")
	}))
	unary := []grpc.UnaryServerInterceptor{
		// First, so every call is counted, refused ones included.
		c.metrics.grpc.UnaryServerInterceptor(),
		// Before access, so a panic while checking a key is still caught.
		recoverPanics,
	}
	// Before validation, so nobody without a key gets the server to work.
	// Access logs the calls it refuses itself.
	unary = append(unary, c.access.UnaryInterceptors()...)
	unary = append(unary,
		// After access: the logging interceptor reads its fields from the
		// context at call start, and Access has put the caller's key id and
		// tenant there.
		logging.UnaryServerInterceptor(slogAdapter(log), logging.WithLogOnEvents(logging.FinishCall)),
		// Again inside logging, so a handler's panic is logged as the
		// INTERNAL call it becomes.
		recoverPanics,
		validateRequests(log))
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(c.cfg.MaxRequestBytes),
		// Stop (after the shutdown deadline) still waits for running
		// handlers, so the store is never closed under a transaction.
		grpc.WaitForHandlers(true),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(append([]grpc.StreamServerInterceptor{c.metrics.grpc.StreamServerInterceptor()},
			c.access.StreamInterceptors()...)...),
	}
}

// internalBufferBytes is the in-memory buffer, per direction, of the
// gateway's connection to its gRPC server.
const internalBufferBytes = 1 << 20

// recomputePoll is how often the recompute worker looks for jobs installed
// through another replica (installs on this one wake it at once).
const recomputePoll = 5 * time.Second

// slogAdapter lets go-grpc-middleware's logging interceptor write to slog.
func slogAdapter(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}
