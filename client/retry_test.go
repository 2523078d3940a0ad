package client_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newStore returns a fresh SQLite store URL and an admin key minted on it,
// as `goodwilld keys create` does, so a client can hold a key before any
// server runs.
func newStore(t *testing.T) (db, token string) {
	t.Helper()
	db = "sqlite:" + filepath.Join(t.TempDir(), "goodwill.db")
	st, err := store.Open(t.Context(), db, store.Options{Migrate: true, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, token, err = auth.CreateKey(t.Context(), st, quiet(), ledger.DefaultTenant, auth.Admin, "client test", "test")
	if err != nil {
		t.Fatal(err)
	}
	return db, token
}

// startServer runs the real server (app.Config -> Complete -> Run) on db,
// listening for gRPC on grpcAddr, until the test ends.
func startServer(t *testing.T, db, grpcAddr string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done, err := app.Config{GRPCAddr: grpcAddr, HTTPAddr: "127.0.0.1:0", DB: db, Logger: quiet()}.Complete(ctx)
	if err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- done.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("server stopped with error: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("server did not stop within 20s")
		}
	})
	return done.GRPCAddr()
}

// attempts records what each attempt of a call carried: it is the innermost
// interceptor, below the retry loop.
type attempts struct {
	mu        sync.Mutex
	n         int
	keys      []string
	deadlines []time.Duration
}

func (a *attempts) interceptor() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		a.mu.Lock()
		a.n++
		if r, ok := req.(*goodwillv1.RecordEventRequest); ok {
			a.keys = append(a.keys, r.GetEvent().GetIdempotencyKey())
		}
		if d, ok := ctx.Deadline(); ok {
			a.deadlines = append(a.deadlines, time.Until(d))
		} else {
			a.deadlines = append(a.deadlines, -1)
		}
		a.mu.Unlock()
		return invoker(ctx, method, req, reply, cc, opts...)
	})
}

func (a *attempts) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

func (a *attempts) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n, a.keys, a.deadlines = 0, nil, nil
}

// fastReconnect keeps gRPC's own reconnect backoff short, so a test does
// not wait out its one-second base after the server appears.
var fastReconnect = grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{
	BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: 300 * time.Millisecond}})

func dial(t *testing.T, addr, token string, opts ...grpc.DialOption) *client.Client {
	t.Helper()
	c, err := client.Dial(addr, append([]grpc.DialOption{client.WithToken(token)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func events(t *testing.T, c *client.Client, customer string) []*goodwillv1.Event {
	t.Helper()
	resp, err := c.ListEvents(t.Context(), &goodwillv1.ListEventsRequest{CustomerId: customer, PageSize: 100})
	if status.Code(err) == codes.NotFound {
		return nil // no event yet
	}
	if err != nil {
		t.Fatalf("list events of %s: %v", customer, err)
	}
	return resp.GetEvents()
}

// A write sent while the server is not up yet succeeds once it starts: the
// client retries UNAVAILABLE with one idempotency key it made for the call.
func TestRetryUntilServerStarts(t *testing.T) {
	t.Parallel()
	db, token := newStore(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	var a attempts
	c := dial(t, addr, token, a.interceptor(), fastReconnect,
		client.WithRetry(40), client.WithRetryBackoff(50*time.Millisecond, 400*time.Millisecond))
	type result struct {
		resp *goodwillv1.RecordEventResponse
		err  error
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	go func() {
		resp, err := c.Record(ctx, "early", client.Event{Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT})
		done <- result{resp, err}
	}()
	time.Sleep(800 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("the call returned before any server was up: %v", r.err)
	default:
	}
	if n := a.count(); n < 2 {
		t.Fatalf("%d attempts while the server was down, want retries", n)
	}
	startServer(t, db, addr)
	r := <-done
	if r.err != nil {
		t.Fatalf("the call failed although the server started: %v (after %d attempts)", r.err, a.count())
	}
	a.mu.Lock()
	keys := a.keys
	a.mu.Unlock()
	for _, k := range keys {
		if k == "" || k != keys[0] {
			t.Fatalf("attempts carried keys %q, want one generated key on all", keys)
		}
	}
	if got := events(t, c, "early"); len(got) != 1 || got[0].GetIdempotencyKey() != keys[0] {
		t.Errorf("customer early has %d events (key %q), want 1 with the generated key %q", len(got), got[0].GetIdempotencyKey(), keys[0])
	}
}

// proxy forwards TCP between a client and the server; while holding, it
// swallows everything the server sends, and cut then closes every
// connection: a response lost after the server committed.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	hold   bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			down.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, down, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, down); up.Close() }()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := up.Read(buf)
				if n > 0 {
					p.mu.Lock()
					hold := p.hold
					p.mu.Unlock()
					if !hold {
						if _, werr := down.Write(buf[:n]); werr != nil {
							return
						}
					}
				}
				if err != nil {
					down.Close()
					return
				}
			}
		}()
	}
}

func (p *proxy) setHold(h bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold = h
}

// cut closes every connection made so far and stops holding.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns, p.hold = nil, false
}

// A RecordEvent without a key whose first attempt commits but whose
// response is lost is retried with the key the client made, and replayed:
// the customer has one event, not two.
func TestLostResponseIsNotDoubled(t *testing.T) {
	t.Parallel()
	db, token := newStore(t)
	srv := startServer(t, db, "127.0.0.1:0")
	p := newProxy(t, srv)
	var a attempts
	c := dial(t, p.ln.Addr().String(), token, a.interceptor(), fastReconnect)
	direct := dial(t, srv, token)
	// Warm the connection through the proxy, so what the server sends next
	// is the response.
	if _, err := c.GetPolicy(t.Context(), &goodwillv1.GetPolicyRequest{}); err != nil {
		t.Fatal(err)
	}
	a.reset()
	p.setHold(true)

	type result struct {
		resp *goodwillv1.RecordEventResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.Record(t.Context(), "lost", client.Event{Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT, Magnitude: 3})
		done <- result{resp, err}
	}()
	// Wait until the server has committed the event, seen from outside.
	deadline := time.Now().Add(10 * time.Second)
	for len(events(t, direct, "lost")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first attempt never committed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.cut() // the response is lost with the connection
	r := <-done
	if r.err != nil {
		t.Fatalf("the call failed: %v", r.err)
	}
	if n := a.count(); n < 2 {
		t.Fatalf("%d attempts, want a retry after the lost response", n)
	}
	if !r.resp.GetReplayed() {
		t.Errorf("the retry was not a replay: %v", r.resp)
	}
	if got := events(t, direct, "lost"); len(got) != 1 {
		t.Errorf("customer lost has %d events after a retried write, want 1", len(got))
	}
	b, err := direct.Balance(t.Context(), "lost")
	if err != nil {
		t.Fatal(err)
	}
	if b.GetEventCount() != 1 {
		t.Errorf("balance counts %d events, want 1", b.GetEventCount())
	}
}

// Errors that retrying cannot fix are returned at once; SetPolicy, which
// installs a version on every call, is never retried; the caller's request
// is never changed, so reusing it records a second event.
func TestWhatIsNotRetried(t *testing.T) {
	t.Parallel()
	db, token := newStore(t)
	srv := startServer(t, db, "127.0.0.1:0")
	var a attempts
	c := dial(t, srv, token, a.interceptor())

	_, err := c.Record(t.Context(), "c1", client.Event{Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT, Magnitude: -1})
	if status.Code(err) != codes.InvalidArgument || a.count() != 1 {
		t.Errorf("invalid event: %v after %d attempts, want INVALID_ARGUMENT after 1", err, a.count())
	}
	a.reset()
	_, err = c.ReverseEvent(t.Context(), &goodwillv1.ReverseEventRequest{CustomerId: "nobody", EventId: "e1"})
	if status.Code(err) != codes.NotFound || a.count() != 1 {
		t.Errorf("reversing an unknown event: %v after %d attempts, want NOT_FOUND after 1", err, a.count())
	}

	req := &goodwillv1.RecordEventRequest{CustomerId: "c2", Event: &goodwillv1.Event{Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT}}
	for range 2 {
		if _, err := c.RecordEvent(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	if req.GetEvent().GetIdempotencyKey() != "" {
		t.Errorf("the client wrote key %q into the caller's request", req.GetEvent().GetIdempotencyKey())
	}
	if got := events(t, c, "c2"); len(got) != 2 {
		t.Errorf("two calls without a key recorded %d events, want 2", len(got))
	}

	// Against a server that is gone, CreateWebhook (no idempotency level:
	// each call makes a webhook) fails after one attempt while a read is
	// retried.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := l.Addr().String()
	l.Close()
	var b attempts
	down := dial(t, gone, token, b.interceptor(), client.WithRetry(3), client.WithRetryBackoff(time.Millisecond, 5*time.Millisecond))
	_, err = down.CreateWebhook(t.Context(), &goodwillv1.CreateWebhookRequest{Url: "https://192.0.2.1/"})
	if status.Code(err) != codes.Unavailable || b.count() != 1 {
		t.Errorf("CreateWebhook to no server: %v after %d attempts, want UNAVAILABLE after 1", err, b.count())
	}
	b.reset()
	_, err = down.GetPolicy(t.Context(), &goodwillv1.GetPolicyRequest{})
	if status.Code(err) != codes.Unavailable || b.count() != 3 {
		t.Errorf("GetPolicy to no server: %v after %d attempts, want UNAVAILABLE after 3", err, b.count())
	}
}

// A call without a deadline gets the default one; a caller's own deadline
// is kept; each attempt of a write has its own shorter one.
func TestDeadlines(t *testing.T) {
	t.Parallel()
	db, token := newStore(t)
	srv := startServer(t, db, "127.0.0.1:0")
	tests := []struct {
		name     string
		opts     []grpc.DialOption
		ctx      func() (context.Context, context.CancelFunc)
		write    bool
		min, max time.Duration // the deadline an attempt sees
	}{
		{name: "read, default", min: 9 * time.Second, max: client.DefaultTimeout},
		{name: "read, WithDefaultTimeout", opts: []grpc.DialOption{client.WithDefaultTimeout(3 * time.Second)}, min: 2 * time.Second, max: 3 * time.Second},
		{name: "read, caller's deadline", ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Minute)
		}, min: 59 * time.Second, max: time.Minute},
		{name: "read, no default", opts: []grpc.DialOption{client.WithDefaultTimeout(0)}, min: -1, max: -1},
		{name: "write, per attempt", write: true, min: client.DefaultAttemptTimeout - time.Second, max: client.DefaultAttemptTimeout},
		{name: "write, WithAttemptTimeout", write: true, opts: []grpc.DialOption{client.WithAttemptTimeout(1500 * time.Millisecond)},
			min: time.Second, max: 1500 * time.Millisecond},
		{name: "write, attempts unbounded", write: true, opts: []grpc.DialOption{client.WithAttemptTimeout(0)}, min: 9 * time.Second, max: client.DefaultTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a attempts
			c := dial(t, srv, token, append(tt.opts, a.interceptor())...)
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			var err error
			if tt.write {
				_, err = c.Record(ctx, "d1", client.Event{Kind: goodwillv1.EventKind_EVENT_KIND_ENGAGEMENT})
			} else {
				_, err = c.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
			}
			if err != nil {
				t.Fatal(err)
			}
			a.mu.Lock()
			got := a.deadlines[0]
			a.mu.Unlock()
			if got < tt.min || got > tt.max {
				t.Errorf("the attempt's deadline was %v away, want between %v and %v (-1: none)", got, tt.min, tt.max)
			}
		})
	}
}

// Every write without a key gets its own: each item of a batch, and a
// reversal.
func TestKeysAreFilled(t *testing.T) {
	t.Parallel()
	db, token := newStore(t)
	c := dial(t, startServer(t, db, "127.0.0.1:0"), token)
	credit := goodwillv1.EventKind_EVENT_KIND_CREDIT
	batch := &goodwillv1.RecordEventsRequest{Events: []*goodwillv1.Event{
		{CustomerId: "k1", Kind: credit}, {CustomerId: "k1", Kind: credit, IdempotencyKey: "mine"}, {CustomerId: "k1", Kind: credit}}}
	resp, err := c.RecordEvents(t.Context(), batch)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range batch.GetEvents() {
		if e.GetIdempotencyKey() != "" && e.GetIdempotencyKey() != "mine" {
			t.Errorf("the client changed the caller's batch: key %q", e.GetIdempotencyKey())
		}
	}
	keys := map[string]bool{}
	for _, e := range events(t, c, "k1") {
		keys[e.GetIdempotencyKey()] = true
	}
	if len(keys) != 3 || !keys["mine"] || keys[""] {
		t.Errorf("batch keys %v, want three distinct keys including the caller's", keys)
	}
	rev, err := c.ReverseEvent(t.Context(), &goodwillv1.ReverseEventRequest{CustomerId: "k1",
		EventId: resp.GetResults()[0].GetEvent().GetEventId()})
	if err != nil {
		t.Fatal(err)
	}
	if rev.GetReversal().GetIdempotencyKey() == "" {
		t.Errorf("the reversal was stored without a key: %v", rev.GetReversal())
	}
}
