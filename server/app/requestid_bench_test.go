package app

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// headerStream stands in for a gRPC server stream: SetHeader stores the
// header, as the real transport does before sending it.
type headerStream struct{ md metadata.MD }

func (s *headerStream) Method() string                  { return "/goodwill.v1.GoodwillService/GetCustomer" }
func (s *headerStream) SetHeader(md metadata.MD) error  { s.md = metadata.Join(s.md, md); return nil }
func (s *headerStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }
func (s *headerStream) SetTrailer(metadata.MD) error    { return nil }

// What a request id adds to a call: reading the caller's, or making one,
// and setting the response header.
func BenchmarkUnaryRequestID(b *testing.B) {
	info := &grpc.UnaryServerInfo{FullMethod: "/goodwill.v1.GoodwillService/GetCustomer"}
	handler := func(ctx context.Context, _ any) (any, error) { return nil, nil }
	none := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return handler(ctx, req)
	}
	for _, tc := range []struct {
		name        string
		md          metadata.MD
		interceptor grpc.UnaryServerInterceptor
	}{
		// The call's context alone, for comparison.
		{"none", metadata.MD{"authorization": {"Bearer x"}}, none},
		{"generated", metadata.MD{"authorization": {"Bearer x"}}, unaryRequestID(false)},
		{"callers", metadata.MD{"authorization": {"Bearer x"}, "x-request-id": {"crm-7f3a-0001"}}, unaryRequestID(false)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ctx := grpc.NewContextWithServerTransportStream(metadata.NewIncomingContext(context.Background(), tc.md), &headerStream{})
				if _, err := tc.interceptor(ctx, nil, info, handler); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// What naming the call costs a log line: the per-call line (a dozen
// attributes, JSON), which brings its own (appendCallAttrs, as api.Chain
// does), and any other line, to which callHandler adds them.
func BenchmarkCallHandler(b *testing.B) {
	ctx := withRequestID(context.Background(), "T5WBLS5UE4J47CW5QSJZZXGZG2")
	plain := slog.New(slog.NewJSONHandler(io.Discard, nil))
	call := withCallAttrs(plain)
	args := []any{"protocol", "grpc", "grpc.component", "server",
		"grpc.service", "goodwill.v1.GoodwillService", "grpc.method", "GetCustomer", "grpc.method_type", "unary",
		"key_id", "d983cfed1e5a218c", "tenant", "default", "peer.address", "127.0.0.1:44408",
		"grpc.code", "OK", "grpc.time_ms", "0.75"}
	roomy := append(make([]any, 0, 2*len(args)), args...)
	for _, tc := range []struct {
		name string
		log  func()
	}{
		{"plain", func() { plain.InfoContext(ctx, "finished call", args...) }},
		// The logging interceptor's argument slice has room to spare (it
		// is built by appending), as roomy here.
		{"per-call-line", func() { call.InfoContext(ctx, "finished call", appendCallAttrs(ctx, roomy)...) }},
		{"other-line", func() { call.InfoContext(ctx, "finished call", args...) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tc.log()
			}
		})
	}
}
