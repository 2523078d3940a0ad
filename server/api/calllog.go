package api

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/goodwill-ledger/goodwill/server/auth"
)

// logCalls writes one line per unary call when it ends ("finished call"),
// at a level its code decides: INFO for OK and the caller's own mistakes,
// WARN for refusals and unavailability, ERROR for faults.
//
// It writes the line go-grpc-middleware's logging interceptor wrote
// (protocol, grpc.service, grpc.method, grpc.code, grpc.time_ms...), with
// the caller's key id and tenant, but builds it only when the level is
// enabled. That interceptor built the line's fields, and a context to
// carry them, on every call before it knew whether anything would be
// written: 13% of the server's allocation under single events at
// --log-level warn (docs/benchmarks.md, issue #15), where nothing is.
func logCalls(log *slog.Logger, callAttrs func(context.Context, []any) []any) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		code := status.Code(err)
		level := codeLevel(code)
		if !log.Enabled(ctx, level) {
			return resp, err
		}
		service, method := splitMethod(info.FullMethod)
		attrs := make([]any, 0, 32)
		attrs = append(attrs, "protocol", "grpc", "grpc.component", "server",
			"grpc.service", service, "grpc.method", method, "grpc.method_type", "unary")
		if p, ok := auth.FromContext(ctx); ok {
			attrs = append(attrs, "key_id", p.KeyID, "tenant", p.Tenant)
		}
		if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
			attrs = append(attrs, "peer.address", p.Addr.String())
		}
		attrs = append(attrs, "grpc.start_time", start.Format(time.RFC3339))
		if d, ok := ctx.Deadline(); ok {
			attrs = append(attrs, "grpc.request.deadline", d.Format(time.RFC3339))
		}
		attrs = append(attrs, "grpc.code", code.String())
		if err != nil {
			attrs = append(attrs, "grpc.error", err.Error())
		}
		attrs = append(attrs, "grpc.time_ms", strconv.FormatFloat(float64(time.Since(start).Microseconds())/1000, 'f', -1, 64))
		if callAttrs != nil {
			attrs = callAttrs(ctx, attrs)
		}
		log.Log(ctx, level, "finished call", attrs...)
		return resp, err
	}
}

// codeLevel is the level of a finished call's line by its code (what
// go-grpc-middleware's DefaultServerCodeToLevel decides).
func codeLevel(code codes.Code) slog.Level {
	switch code {
	case codes.OK, codes.NotFound, codes.Canceled, codes.AlreadyExists, codes.InvalidArgument, codes.Unauthenticated:
		return slog.LevelInfo
	case codes.DeadlineExceeded, codes.PermissionDenied, codes.ResourceExhausted, codes.FailedPrecondition, codes.Aborted,
		codes.OutOfRange, codes.Unavailable:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// splitMethod splits "/goodwill.v1.GoodwillService/RecordEvent" into its
// service and method.
func splitMethod(full string) (service, method string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "unknown", full
}
