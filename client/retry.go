package client

import (
	"context"
	"crypto/rand"
	mrand "math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// Retry defaults (see Dial).
const (
	// DefaultAttempts is how many times a call is tried, the first included.
	DefaultAttempts = 5
	// DefaultTimeout bounds a call, retries included, whose context has no
	// deadline.
	DefaultTimeout = 30 * time.Second
	// DefaultAttemptTimeout bounds each attempt of a write, so a write stuck
	// on a dead connection is retried rather than waited out. It is long
	// enough for the largest writes (an incident of 10,000 customers, a
	// batch of 1,000 events) on a busy server: a first default of 4 s cut
	// them off under the race detector and retried them in vain.
	DefaultAttemptTimeout = 15 * time.Second
	// DefaultBackoff and DefaultMaxBackoff shape the wait before retry n:
	// a uniformly random time in [0, min(DefaultMaxBackoff,
	// DefaultBackoff*2^(n-1))) ("full jitter").
	DefaultBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
)

// RetryableCodes are the codes a call is retried on. UNAVAILABLE: the server
// is down, restarting or its store failed; ABORTED: a transaction conflict;
// DEADLINE_EXCEEDED: an attempt of a write ran out of its own time (never the
// caller's deadline). Writes are safe to retry because the client makes sure
// each carries an idempotency key.
var RetryableCodes = []codes.Code{codes.Unavailable, codes.Aborted, codes.DeadlineExceeded}

// WithRetry sets how many times each call is tried, the first attempt
// included (default DefaultAttempts); 1 turns retries off. One call can
// override it with retry.WithMax or retry.Disable() from
// github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry.
func WithRetry(attempts int) grpc.DialOption {
	return grpc.WithDefaultCallOptions(retry.WithMax(uint(max(attempts, 1))))
}

// WithRetryBackoff sets the full-jitter exponential backoff between
// attempts: retry n waits a random time below min(maxWait, base*2^(n-1)).
func WithRetryBackoff(base, maxWait time.Duration) grpc.DialOption {
	return grpc.WithDefaultCallOptions(retry.WithBackoff(fullJitter(base, maxWait)))
}

// WithDefaultTimeout sets the deadline a call gets, retries included, when
// its context has none (default DefaultTimeout); 0 leaves such calls
// unbounded.
func WithDefaultTimeout(d time.Duration) grpc.DialOption {
	return grpc.WithDefaultCallOptions(timeoutOption{d: d})
}

// WithAttemptTimeout sets how long each attempt of a write may take before
// it is abandoned and retried (default DefaultAttemptTimeout); 0 lets an
// attempt run until the call's deadline. Raise it for very large batches and
// incidents.
func WithAttemptTimeout(d time.Duration) grpc.DialOption {
	return grpc.WithDefaultCallOptions(attemptTimeoutOption{d: d})
}

type timeoutOption struct {
	grpc.EmptyCallOption
	d time.Duration
}

type attemptTimeoutOption struct {
	grpc.EmptyCallOption
	d time.Duration
}

// retryOptions are Dial's defaults: the interceptors, then the settings that
// later options (WithRetry, ...) override.
func retryOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(prepare, retry.UnaryClientInterceptor(
			retry.WithCodes(RetryableCodes...),
			retry.WithMax(DefaultAttempts),
			retry.WithBackoff(fullJitter(DefaultBackoff, DefaultMaxBackoff)),
		)),
		grpc.WithDefaultCallOptions(timeoutOption{d: DefaultTimeout}, attemptTimeoutOption{d: DefaultAttemptTimeout}),
	}
}

// fullJitter is exponential backoff with full jitter: attempt n (n >= 1)
// waits uniformly in [0, min(maxWait, base*2^(n-1))).
func fullJitter(base, maxWait time.Duration) retry.BackoffFunc {
	return func(_ context.Context, attempt uint) time.Duration {
		ceil := maxWait
		if attempt >= 1 && attempt < 32 {
			ceil = min(maxWait, base<<(attempt-1))
		}
		if ceil <= 0 {
			return 0
		}
		return mrand.N(ceil)
	}
}

// levels are each method's idempotency_level, as the proto declares it:
// the client retries a method only if the server says a retry is safe
// (NO_SIDE_EFFECTS or IDEMPOTENT); a method with no level, such as
// CreateWebhook (each call makes a webhook), is never retried. A new
// write is therefore not retried until its proto says it may be.
var levels = func() map[string]descriptorpb.MethodOptions_IdempotencyLevel {
	out := map[string]descriptorpb.MethodOptions_IdempotencyLevel{}
	services := goodwillv1.File_goodwill_v1_goodwill_service_proto.Services()
	for i := range services.Len() {
		sd := services.Get(i)
		for j := range sd.Methods().Len() {
			md := sd.Methods().Get(j)
			opts, _ := md.Options().(*descriptorpb.MethodOptions)
			out["/"+string(sd.FullName())+"/"+string(md.Name())] = opts.GetIdempotencyLevel()
		}
	}
	return out
}()

// retried reports whether a retry of method is safe.
func retried(method string) bool {
	switch levels[method] {
	case descriptorpb.MethodOptions_NO_SIDE_EFFECTS, descriptorpb.MethodOptions_IDEMPOTENT:
		return true
	}
	return false
}

// isWrite reports whether method changes the ledger (IDEMPOTENT: it
// replays rather than repeats); its attempts get their own deadline.
func isWrite(method string) bool { return levels[method] == descriptorpb.MethodOptions_IDEMPOTENT }

// prepare runs once per call, before the retry loop: it gives the call the
// default deadline when the context has none, sets the per-attempt deadline
// of writes, and fills every missing idempotency key (on a copy of the
// request, never the caller's), so every attempt carries the same key and a
// retried write whose first attempt committed is replayed, not doubled.
func prepare(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	timeout, attempt := time.Duration(0), time.Duration(0)
	for _, o := range opts {
		switch o := o.(type) {
		case timeoutOption:
			timeout = o.d
		case attemptTimeoutOption:
			attempt = o.d
		}
	}
	if _, ok := ctx.Deadline(); !ok && timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	// The per-attempt deadline goes first, so a caller's own retry options
	// on the call win; refusing to retry a method whose retry is not safe
	// goes last, so it always wins.
	if isWrite(method) && attempt > 0 {
		opts = append([]grpc.CallOption{retry.WithPerRetryTimeout(attempt)}, opts...)
	}
	if !retried(method) {
		opts = append(opts[:len(opts):len(opts)], retry.Disable())
	}
	return invoker(ctx, method, withKeys(req), reply, cc, opts...)
}

// withKeys returns req with an idempotency key wherever one is missing,
// copying req if it must change it. It is read from the messages, not
// listed per method: every string field named idempotency_key, at any
// depth (an event in a batch, say), gets one when empty, so a new keyed
// write is covered the day its message is. RecordIncident needs nothing:
// its required incident_id is its key.
func withKeys(req any) any {
	m, ok := req.(proto.Message)
	if !ok || !keyed(m.ProtoReflect(), false) {
		return req
	}
	c := proto.Clone(m)
	keyed(c.ProtoReflect(), true)
	return c
}

// keyed reports whether m holds an empty idempotency_key; with fill, it
// also sets every empty one to a new key.
func keyed(m protoreflect.Message, fill bool) bool {
	found := false
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.Name() == "idempotency_key" && fd.Kind() == protoreflect.StringKind && !fd.IsList():
			if m.Get(fd).String() == "" {
				found = true
				if fill {
					m.Set(fd, protoreflect.ValueOfString(newKey()))
				}
			}
		case fd.Message() == nil || fd.IsMap():
		case fd.IsList():
			l := m.Get(fd).List()
			for j := range l.Len() {
				found = keyed(l.Get(j).Message(), fill) || found
			}
		case m.Has(fd):
			found = keyed(m.Get(fd).Message(), fill) || found
		}
		if found && !fill {
			return true
		}
	}
	return found
}

// newKey makes an idempotency key: a UUIDv7, unique without coordination.
func newKey() string {
	k, err := uuid.NewV7()
	if err != nil {
		return rand.Text() // the system's random source failed UUIDv7; 26 random characters
	}
	return k.String()
}
