package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.opentelemetry.io/otel"
)

// shutdownSignals returns a context that ends at the first SIGTERM or
// interrupt, and a channel closed at the second: the first starts the
// shutdown (drain delay, then the graceful stop), a second ends the drain
// delay early, for an operator who does not want to wait for it. Later
// signals are ignored while the graceful stop runs. stop releases the
// signals.
func shutdownSignals(parent context.Context) (ctx context.Context, again <-chan struct{}, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	second := make(chan struct{})
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			close(second)
		case <-done:
		}
	}()
	return ctx, second, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// logOTelErrors sends OpenTelemetry's own errors (an exporter that cannot
// reach the collector, spans dropped from a full queue) to the log, rather
// than to the standard logger on stderr.
func logOTelErrors(log *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing", "err", err)
	}))
}
