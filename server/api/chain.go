package api

import (
	"context"
	"log/slog"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Counter is the pair of interceptors that count every call (Prometheus'
// gRPC metrics in goodwilld). It is a pair of funcs rather than an interface
// so this package does not import the metrics library.
type Counter struct {
	Unary  grpc.UnaryServerInterceptor
	Stream grpc.StreamServerInterceptor
}

// Chain is the interceptor chain of every gRPC server goodwilld runs (the
// public port, and the in-process server behind the REST gateway), so both
// protocols pass the same checks in the same order:
//
//  1. count the call (first, so refused calls are counted too);
//  2. recover a panic (before access, so a panic checking a key is caught);
//  3. check the key, its role and its rate (Access), before anything else
//     costs work;
//  4. log the call (logCalls), with the caller's key id and tenant from
//     the principal Access put in the context;
//  5. recover a panic again, inside logging, so it is logged as the
//     INTERNAL call it becomes;
//  6. validate the request against the proto's rules (protovalidate).
//
// Streams pass 1, 3 and 6.
//
// callAttrs, if set, appends to the per-call log line's attributes those
// that name the call (goodwilld: its request id and trace), read from the
// call's context. A handler could add them to the record afterwards, but
// the record has then no room left for them: one more allocation and copy
// on a line every call writes.
func Chain(log *slog.Logger, counter Counter, access *Access, callAttrs func(context.Context, []any) []any) ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	recoverPanics := recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", "panic", p)
		return status.Error(codes.Internal, "internal error")
	}))
	unary := []grpc.UnaryServerInterceptor{counter.Unary, recoverPanics}
	unary = append(unary, access.UnaryInterceptors()...)
	unary = append(unary,
		logCalls(log, callAttrs),
		recoverPanics,
		validateRequests(log))
	stream := append([]grpc.StreamServerInterceptor{counter.Stream}, access.StreamInterceptors()...)
	stream = append(stream, validateStreams(log))
	return unary, stream
}

// One joins unary interceptors into one, first outermost, as
// grpc.ChainUnaryInterceptor does inside a server: for calls that reach a
// handler without a gRPC server (the REST gateway's in-process path).
func One(interceptors []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var next func(i int) grpc.UnaryHandler
		next = func(i int) grpc.UnaryHandler {
			if i == len(interceptors) {
				return handler
			}
			return func(ctx context.Context, req any) (any, error) {
				return interceptors[i](ctx, req, info, next(i+1))
			}
		}
		return next(0)(ctx, req)
	}
}
