package app

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"math/rand/v2"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Request ids name one call in every log line it writes and in its answer,
// so a caller quoting the id finds the call's lines. A caller may choose
// the id (x-request-id, gRPC metadata or HTTP header), to follow a request
// across its own services; otherwise the server makes one up.

// requestIDKey is the gRPC metadata key; requestIDHeader, the HTTP header.
const (
	requestIDKey    = "x-request-id"
	requestIDHeader = "X-Request-Id"
)

// maxRequestIDLen bounds a caller's id: it is repeated in every log line.
const maxRequestIDLen = 128

type requestIDCtxKey struct{}

// withRequestID returns ctx carrying id.
func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDCtxKey{}, id)
}

// requestID returns the id of the call ctx belongs to, or "".
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDCtxKey{}).(string)
	return id
}

// validRequestID accepts 1 to 128 visible ASCII characters: anything else
// (spaces, control characters, non-ASCII) could garble a log line or a
// header, and the caller's id is replaced rather than cleaned, so an id in
// the logs is always one the caller or the server sent whole.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// newRequestID makes an id: 26 base32 characters (128 random bits), unique
// without coordination between replicas. An id needs to be unique, not
// secret: math/rand/v2's generator (ChaCha8, seeded from the OS by the
// runtime) serves, without crypto/rand's system call on every call.
func newRequestID() string {
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	var text [26]byte
	idEncoding.Encode(text[:], raw[:])
	return string(text[:])
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// pickRequestID is the caller's id when it is valid, else a new one.
func pickRequestID(callers []string) string {
	if len(callers) == 1 && validRequestID(callers[0]) {
		return callers[0]
	}
	return newRequestID()
}

// tagSpan names the request id on the call's span, when one is recorded,
// so a trace found by id leads to its logs and back. Only with tracing on
// (traced): otherwise there is no span, and no need to look for one.
func tagSpan(ctx context.Context, traced bool, id string) {
	if !traced {
		return
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.String("goodwill.request_id", id))
	}
}

// requestIDs is the HTTP side: every response carries X-Request-Id, the
// caller's or a new one, and the request's context carries it to the
// interceptors (REST calls reach them in-process or, for streams, through
// gatewayDialOptions).
func requestIDs(next http.Handler, traced bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := pickRequestID(r.Header.Values(requestIDHeader))
		w.Header().Set(requestIDHeader, id)
		ctx := withRequestID(r.Context(), id)
		tagSpan(ctx, traced, id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// unaryRequestID is the first interceptor of every chain. A call from the
// REST gateway's in-process path already has its id (requestIDs); any
// other call takes the caller's x-request-id or a new one, and hears it
// back in the response headers.
func unaryRequestID(traced bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if requestID(ctx) == "" {
			id := pickRequestID(metadata.ValueFromIncomingContext(ctx, requestIDKey))
			ctx = withRequestID(ctx, id)
			// An error here means the call cannot carry headers any
			// more; the id is still in its logs.
			_ = grpc.SetHeader(ctx, metadata.MD{requestIDKey: {id}})
			tagSpan(ctx, traced, id)
		}
		return handler(ctx, req)
	}
}

// streamRequestID is unaryRequestID for streams.
func streamRequestID(traced bool) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		id := pickRequestID(metadata.ValueFromIncomingContext(ctx, requestIDKey))
		_ = ss.SetHeader(metadata.MD{requestIDKey: {id}})
		ctx = withRequestID(ctx, id)
		tagSpan(ctx, traced, id)
		return handler(srv, contextStream{ss, ctx})
	}
}

// contextStream is a server stream with a context of the interceptor's.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s contextStream) Context() context.Context { return s.ctx }
