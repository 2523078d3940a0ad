package gateway

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// Local runs the service's unary methods in the gateway's own process:
// each REST call goes through Interceptor, the same chain the gRPC servers
// run, to Impl's method, without the HTTP/2 round trip to the in-process
// gRPC server (encoding, framing and two transports per call, a third of
// a REST call's CPU). Streams still go over Config.Dial's connection.
type Local struct {
	// Impl is the service implementation the gRPC servers register.
	Impl goodwillv1.GoodwillServiceServer
	// Interceptor is the servers' unary interceptor chain, as one.
	Interceptor grpc.UnaryServerInterceptor
}

// LocalNetwork is the network of the peer address a call through Local
// carries (its String is "gateway"): the HTTP client's own address is the
// last entry of its x-forwarded-for metadata, as on the bufconn channel.
const LocalNetwork = "inprocess"

type localAddr struct{}

func (localAddr) Network() string { return LocalNetwork }
func (localAddr) String() string  { return "gateway" }

// localConn is a grpc.ClientConnInterface that calls unary methods
// in-process and sends streams over the connection to the gRPC server.
type localConn struct {
	local   Local
	methods map[string]grpc.MethodDesc
	streams grpc.ClientConnInterface
}

func newLocalConn(l Local, streams grpc.ClientConnInterface) *localConn {
	sd := goodwillv1.GoodwillService_ServiceDesc
	methods := make(map[string]grpc.MethodDesc, len(sd.Methods))
	for _, m := range sd.Methods {
		methods["/"+sd.ServiceName+"/"+m.MethodName] = m
	}
	return &localConn{local: l, methods: methods, streams: streams}
}

// Invoke does what the gRPC server would do with the call: the gateway's
// outgoing metadata becomes the call's incoming metadata, the method and
// a peer go into the context (the access checks read them), and the
// generated handler decodes (here: copies) the request and runs the
// interceptors and the method.
func (c *localConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := c.methods[method]
	if !ok {
		return c.streams.Invoke(ctx, method, args, reply, opts...)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	ctx = metadata.NewIncomingContext(ctx, md)
	ctx = grpc.NewContextWithServerTransportStream(ctx, localStream{method: method})
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: localAddr{}})
	in, ok := args.(proto.Message)
	if !ok {
		return fmt.Errorf("gateway: %s: request %T is not a proto message", method, args)
	}
	dec := func(v any) error {
		proto.Merge(v.(proto.Message), in)
		return nil
	}
	out, err := m.Handler(c.local.Impl, ctx, dec, c.local.Interceptor)
	if err != nil {
		return err
	}
	proto.Merge(reply.(proto.Message), out.(proto.Message))
	return nil
}

func (c *localConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.streams.NewStream(ctx, desc, method, opts...)
}

// localStream gives handlers and interceptors the method's name
// (grpc.Method). Headers and trailers a handler sets are dropped, as the
// gateway forwards none (WithOutgoingHeaderMatcher in New).
type localStream struct{ method string }

func (s localStream) Method() string             { return s.method }
func (localStream) SetHeader(metadata.MD) error  { return nil }
func (localStream) SendHeader(metadata.MD) error { return nil }
func (localStream) SetTrailer(metadata.MD) error { return nil }
