package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/store"
)

// Run serves gRPC and REST until ctx ends, then shuts down: health goes
// NOT_SERVING, the servers go on serving for DrainDelay (drain), the
// listeners stop accepting, in-flight requests get ShutdownTimeout to
// finish, the Service commits what its writers hold, the store is closed,
// and the last spans are flushed to the collector.
func (c *Completed) Run(ctx context.Context) error {
	if c.ranOnce {
		return errRunTwice
	}
	c.ranOnce = true
	log := c.log
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range []struct {
		srv *grpc.Server
		lis net.Listener
	}{{c.grpcSrv, c.grpcLis}, {c.internalSrv, c.internalLis}} {
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
			err = c.httpSrv.ServeTLS(c.httpLis, "", "") // certificates are in TLSConfig
		} else {
			err = c.httpSrv.Serve(c.httpLis)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	if c.debugSrv != nil {
		g.Go(func() error { return serveUntilShutdown(c.debugSrv, c.debugLis) })
		log.Warn("profiler serving without authentication", "addr", c.debugLis.Addr().String())
	}
	if c.metricsSrv != nil {
		g.Go(func() error { return serveUntilShutdown(c.metricsSrv, c.metricsLis) })
		addr := c.metricsLis.Addr().String()
		log.Info("metrics serving", "addr", addr)
		if !isLoopback(addr) {
			log.Warn("metrics serving without authentication on a non-loopback address", "flag", "--metrics-addr", "addr", addr)
		}
	}
	// The Service's background work outlives the servers: its writers must
	// take the last requests' writes, so it stops only once they have.
	svcCtx, stopService := context.WithCancel(context.WithoutCancel(ctx))
	defer stopService()
	g.Go(func() error { return c.svc.Run(svcCtx) })
	// Ready only once the group-commit writers run: a call that came
	// earlier would commit alone.
	select {
	case <-c.svc.Started():
	case <-gctx.Done():
	}

	c.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	c.health.SetServingStatus(goodwillv1.GoodwillService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	log.Info("goodwilld serving", "grpc", c.GRPCAddr(), "http", c.HTTPAddr(), "db", store.Redact(c.cfg.DB),
		"tls", c.tls != nil, "client_certificates", c.cfg.TLSClientCA != "", "cors_origins", c.cfg.CORSOrigins)
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

	g.Go(func() error {
		<-gctx.Done()
		defer stopService()
		// Drain only when asked to stop: a server that failed (gctx ended
		// with its error) is not serving well enough to wait for.
		if ctx.Err() != nil {
			c.drain()
		}
		return c.shutdown()
	})
	err := g.Wait()
	if c.nats != nil {
		err = errors.Join(err, c.nats.Close())
	}
	if cerr := c.store.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	// Bounded: a collector that is down must not hold the exit.
	fctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
	defer cancel()
	if terr := c.tracing.close(fctx); terr != nil {
		log.Warn("tracing: spans lost at shutdown", "err", terr)
	}
	log.Info("goodwilld stopped")
	return err
}

// tracingFlushTimeout bounds the export of the last spans at shutdown.
const tracingFlushTimeout = 5 * time.Second

// shutdown stops the servers: REST first (its requests travel over the
// internal gRPC server and need it), then both gRPC servers together,
// waiting ShutdownTimeout at most for in-flight requests.
func (c *Completed) shutdown() error {
	c.log.Info("shutting down", "timeout", c.cfg.ShutdownTimeout)
	c.health.Shutdown() // every service reports NOT_SERVING from here on (drain may have said so already)
	sctx, cancel := context.WithTimeout(context.Background(), c.cfg.ShutdownTimeout)
	defer cancel()
	err := c.httpSrv.Shutdown(sctx)
	for _, srv := range []*http.Server{c.debugSrv, c.metricsSrv} {
		if srv != nil {
			err = errors.Join(err, srv.Shutdown(sctx))
		}
	}
	stopped := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		wg.Go(c.grpcSrv.GracefulStop)
		wg.Go(c.internalSrv.GracefulStop)
		wg.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-sctx.Done():
		c.log.Warn("shutdown deadline passed; cancelling in-flight gRPC calls")
		c.grpcSrv.Stop()
		c.internalSrv.Stop()
		<-stopped
	}
	return errors.Join(err, c.gateway.Close())
}
