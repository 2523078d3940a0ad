package app

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// callHandler adds to every log record what identifies the call it was
// written in: request_id, and trace_id and span_id when the call is in a
// trace. It reads them from the context the record was logged with, so
// every part of the server that logs with the call's context (InfoContext
// and friends, or Log(ctx, ...)) tags its lines without being told; lines
// logged without one (start, shutdown, background work) carry nothing.
type callHandler struct{ next slog.Handler }

// withCallAttrs wraps a logger's handler in callHandler, once.
func withCallAttrs(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(callHandler); ok {
		return l
	}
	return slog.New(callHandler{l.Handler()})
}

func (h callHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h callHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return h.next.Handle(ctx, r)
	}
	id := requestID(ctx)
	sc := trace.SpanContextFromContext(ctx)
	if id == "" && !sc.IsValid() || hasCallAttrs(r) {
		return h.next.Handle(ctx, r)
	}
	// r is this handler's own copy of a record the Logger made for this
	// one call and drops after it, so adding to it needs no Clone (an
	// allocation and a copy per line); slog itself catches the one misuse
	// that could follow, two copies of a record both added to.
	if id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.next.Handle(ctx, r)
}

// hasCallAttrs reports whether the record names its call already: the
// per-call line does (appendCallAttrs), at no extra cost.
func hasCallAttrs(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == "request_id"
		return !found
	})
	return found
}

// appendCallAttrs appends to a line's key-value arguments what callHandler
// would add, for the per-call line (api.Chain's callAttrs).
func appendCallAttrs(ctx context.Context, args []any) []any {
	if id := requestID(ctx); id != "" {
		args = append(args, "request_id", id)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		args = append(args, "trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
	}
	return args
}

func (h callHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return callHandler{h.next.WithAttrs(attrs)}
}

func (h callHandler) WithGroup(name string) slog.Handler {
	return callHandler{h.next.WithGroup(name)}
}
