package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// Lines logged with a call's context name it, through loggers derived with
// With too; lines logged without one are left as they were.
func TestCallHandler(t *testing.T) {
	var buf bytes.Buffer
	log := withCallAttrs(slog.New(slog.NewTextHandler(&buf, nil)))
	if withCallAttrs(log) != log {
		t.Error("wrapped twice")
	}
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	call := trace.ContextWithSpanContext(withRequestID(context.Background(), "r-1"),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))

	log.With("part", "api").InfoContext(call, "in a call")
	log.Info("at start")
	log.InfoContext(withRequestID(context.Background(), "r-2"), "no trace")
	// The per-call line brings its own (appendCallAttrs): none twice.
	log.InfoContext(call, "finished call", appendCallAttrs(call, []any{"grpc.code", "OK"})...)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{
		"part=api request_id=r-1 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
		`msg="at start"`,
		`msg="no trace" request_id=r-2`,
		`msg="finished call" grpc.code=OK request_id=r-1 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7`,
	} {
		if !strings.HasSuffix(lines[i], want) {
			t.Errorf("line %d: %s\nwant it to end with %s", i, lines[i], want)
		}
	}
}
