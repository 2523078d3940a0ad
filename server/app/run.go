package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/api"
	"github.com/goodwill-ledger/goodwill/server/gateway"
	"github.com/goodwill-ledger/goodwill/server/ledger"
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
		FollowerReads: c.cfg.FollowerReads, GroupCommit: c.cfg.GroupCommit})

	healthSrv := health.NewServer()
	// NOT_SERVING until every server is up; load balancers wait for it.
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthSrv.SetServingStatus(goodwillv1.GoodwillService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)

	grpcSrv := grpc.NewServer(c.grpcServerOptions()...)
	goodwillv1.RegisterGoodwillServiceServer(grpcSrv, api.New(svc, log))
	healthpb.RegisterHealthServer(grpcSrv, healthSrv)
	reflection.Register(grpcSrv)

	gw, err := gateway.New(ctx, gateway.Config{GRPCAddr: c.GRPCAddr(), MaxBodyBytes: int64(c.cfg.MaxRequestBytes)})
	if err != nil {
		svc.Close()
		return errors.Join(err, c.grpcLis.Close(), c.httpLis.Close(), c.store.Close())
	}
	httpSrv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := grpcSrv.Serve(c.grpcLis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		if err := httpSrv.Serve(c.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthSrv.SetServingStatus(goodwillv1.GoodwillService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	log.Info("goodwilld serving", "grpc", c.GRPCAddr(), "http", c.HTTPAddr(), "db", c.cfg.DB,
		"policy_version", c.policy.Version)

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
		// REST first: its requests travel over gRPC and need it to finish.
		herr := httpSrv.Shutdown(sctx)
		stopped := make(chan struct{})
		go func() { grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-sctx.Done():
			log.Warn("shutdown deadline passed; cancelling in-flight gRPC calls")
			grpcSrv.Stop()
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
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(c.cfg.MaxRequestBytes),
		// Stop (after the shutdown deadline) still waits for running
		// handlers, so the store is never closed under a transaction.
		grpc.WaitForHandlers(true),
		grpc.ChainUnaryInterceptor(
			logging.UnaryServerInterceptor(slogAdapter(log), logging.WithLogOnEvents(logging.FinishCall)),
			recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
				log.ErrorContext(ctx, "panic in handler", "panic", p)
				return status.Error(codes.Internal, "internal error")
			})),
			validateRequests(log),
		),
	}
}

// recomputePoll is how often the recompute worker looks for jobs installed
// through another replica (installs on this one wake it at once).
const recomputePoll = 5 * time.Second

// slogAdapter lets go-grpc-middleware's logging interceptor write to slog.
func slogAdapter(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}
