package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/store"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
)

// testServer is a real goodwilld on loopback ports, driven through the Go
// client (gRPC) and net/http (REST).
type testServer struct {
	*client.Client
	baseURL  string
	grpcAddr string
	db       string
	// token is the admin key of the default tenant the server bootstrapped;
	// the embedded Client and rest send it.
	token string
	stop  func() error
	// shutdown begins the shutdown (ends Run's context) without waiting;
	// stop still waits for Run to return.
	shutdown context.CancelFunc
}

// startServer starts goodwilld on the store db (a fresh SQLite file when
// db is ""), waits until it serves, and stops it at the end of the test.
func startServer(t testing.TB, db string, configure ...func(*app.Config)) *testServer {
	t.Helper()
	if db == "" {
		db = freshDB(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := app.Config{
		GRPCAddr: "127.0.0.1:0",
		HTTPAddr: "127.0.0.1:0",
		DB:       db,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		// A store shared with an earlier server already has its key.
		BootstrapKeyFile: keyFile(t, db),
	}
	for _, f := range configure {
		f(&cfg)
	}
	done, err := cfg.Complete(ctx)
	if err != nil {
		cancel()
		t.Fatalf("complete: %v", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- done.Run(ctx) }()
	token := readKey(t, db)
	c, err := client.Dial(done.GRPCAddr(), append(slowTestTimeouts(), client.WithToken(token))...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := c.WaitReady(wctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	stopped := false
	ts := &testServer{Client: c, baseURL: "http://" + done.HTTPAddr(), grpcAddr: done.GRPCAddr(), db: db, token: token,
		shutdown: cancel}
	ts.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		c.Close()
		cancel()
		select {
		case err := <-runErr:
			return err
		case <-time.After(20 * time.Second):
			t.Error("server did not stop within 20s")
			return nil
		}
	}
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("server stopped with error: %v", err)
		}
	})
	return ts
}

// freshDB returns an empty store for one test: a SQLite file, or a new
// database on the test PostgreSQL server (GOODWILL_TEST_STORE=postgres;
// make test runs the suite both ways) or CockroachDB cluster
// (GOODWILL_TEST_STORE=cockroachdb with GOODWILL_TEST_COCKROACH_URL).
func freshDB(t testing.TB) string {
	switch want := os.Getenv("GOODWILL_TEST_STORE"); want {
	case "", "sqlite":
		return "sqlite:" + filepath.Join(t.TempDir(), "goodwill.db")
	case "postgres", "cockroachdb":
		if want == "postgres" {
			want = "postgresql"
		}
		for _, srv := range pgtest.Servers() {
			if srv.Name == want {
				return pgtest.FreshDB(t, srv)
			}
		}
		t.Fatalf("GOODWILL_TEST_STORE=%s but no server configured (set GOODWILL_TEST_COCKROACH_URL)", want)
	default:
		t.Fatalf("GOODWILL_TEST_STORE=%q: want sqlite, postgres or cockroachdb", want)
	}
	return ""
}

// restResponse is a decoded REST reply.
type restResponse struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// rest sends one JSON request to the gateway. body may be a string (sent
// verbatim), nil, or any value to marshal.
func (s *testServer) rest(t testing.TB, method, path string, body any) restResponse {
	t.Helper()
	return s.restWith(t, method, path, body, nil)
}

// restWith is rest with more request headers.
func (s *testServer) restWith(t testing.TB, method, path string, body any, header http.Header) restResponse {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.baseURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := restResponse{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			t.Fatalf("%s %s: response is not a JSON object: %v: %s", method, path, err, raw)
		}
	}
	return out
}

// get walks a decoded JSON object along keys.
func get(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// keyFiles remembers where each store's bootstrap key went, so a test that
// restarts a server on the same store finds it.
var keyFiles sync.Map // db -> path

func keyFile(t testing.TB, db string) string {
	p, _ := keyFiles.LoadOrStore(db, filepath.Join(t.TempDir(), "admin.key"))
	return p.(string)
}

func readKey(t testing.TB, db string) string {
	t.Helper()
	raw, err := os.ReadFile(keyFile(t, db))
	if err != nil {
		t.Fatalf("bootstrap key: %v", err)
	}
	return strings.TrimSpace(string(raw))
}

// newKey creates an API key on the server's store, as `goodwilld keys
// create` does, and returns its token.
func (s *testServer) newKey(t *testing.T, tenant string, role auth.Role) string {
	t.Helper()
	st, err := store.Open(t.Context(), s.db, store.Options{Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, token, err := auth.CreateKey(t.Context(), st, quietLog(), tenant, role, "test", "test")
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// dialAs returns a client that calls with token.
func (s *testServer) dialAs(t *testing.T, token string) *client.Client {
	t.Helper()
	opts := slowTestTimeouts()
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	c, err := client.Dial(s.grpcAddr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// restAs is rest with another key ("" sends none).
func (s *testServer) restAs(t *testing.T, token, method, path string, body any) restResponse {
	t.Helper()
	return s.restAsWith(t, token, method, path, body, nil)
}

// restAsWith is restAs with more request headers.
func (s *testServer) restAsWith(t *testing.T, token, method, path string, body any, header http.Header) restResponse {
	t.Helper()
	cp := *s
	cp.token = token
	return cp.restWith(t, method, path, body, header)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// freeLoopbackAddr returns a loopback address with a port free right now.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// slowTestTimeouts lengthens the client's default deadlines (30 s a call,
// 15 s an attempt) for tests: under the race detector the largest writes
// (10,000-customer incidents) take longer than that, and a test's own
// context bounds it anyway.
func slowTestTimeouts() []grpc.DialOption {
	return []grpc.DialOption{client.WithDefaultTimeout(5 * time.Minute), client.WithAttemptTimeout(2 * time.Minute)}
}

// pev builds an event for customer id.
func pev(id string, kind goodwillv1.EventKind, mag float64, at time.Time) *goodwillv1.Event {
	return &goodwillv1.Event{CustomerId: id, Kind: kind, Magnitude: proto.Float64(mag), OccurredAt: ts(at)}
}

// record appends one event through RecordEvent and fails the test on error.
func record(t *testing.T, s *testServer, e *goodwillv1.Event) *goodwillv1.RecordEventResponse {
	t.Helper()
	id := e.GetCustomerId()
	e = proto.Clone(e).(*goodwillv1.Event)
	e.CustomerId = ""
	resp, err := s.RecordEvent(t.Context(), &goodwillv1.RecordEventRequest{CustomerId: id, Event: e})
	if err != nil {
		t.Fatalf("record %v for %s: %v", e.GetKind(), id, err)
	}
	return resp
}

// waitJob polls a recompute job until it leaves RUNNING (20 s at most).
func waitJob(t *testing.T, s *testServer, id string) *goodwillv1.RecomputeJob {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := s.GetRecomputeJob(t.Context(), &goodwillv1.GetRecomputeJobRequest{JobId: id})
		if err != nil {
			t.Fatalf("job %s: %v", id, err)
		}
		if j := resp.GetJob(); j.GetState() != goodwillv1.JobState_JOB_STATE_RUNNING {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still running after 20s: %v", id, resp.GetJob())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
