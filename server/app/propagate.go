package app

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// gatewayDialOptions are for the REST gateway's connection to the
// in-process gRPC server, which carries REST streams (ExportEvents,
// WatchNotifications) and /healthz's check. The HTTP request's context
// does not cross that connection, only metadata does: the request id
// (requestIDs) and, with tracing on, the trace context go into each call's
// metadata, so the gRPC server's call continues the HTTP request's id and
// trace. (Unary REST calls run in-process with the HTTP request's context
// and need none of this.)
func gatewayDialOptions(t *tracing) []grpc.DialOption {
	outgoing := func(ctx context.Context) context.Context {
		if id := requestID(ctx); id != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, requestIDKey, id)
		}
		if t != nil {
			restSpanName(ctx)
			md, _ := metadata.FromOutgoingContext(ctx)
			md = md.Copy()
			t.propagator.Inject(ctx, metadataCarrier(md))
			ctx = metadata.NewOutgoingContext(ctx, md)
		}
		return ctx
	}
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
			invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(outgoing(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
			streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(outgoing(ctx), desc, cc, method, opts...)
		}),
	}
}

// metadataCarrier lets an OTel propagator write gRPC metadata.
type metadataCarrier metadata.MD

func (c metadataCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
