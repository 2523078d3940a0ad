package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/goodwill-ledger/goodwill/client"
	"github.com/goodwill-ledger/goodwill/server/app/writeload"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
)

// SIGTERM while 64 clients write, on each store: health goes NOT_SERVING,
// every write ends (acknowledged, or failed back to its client: none
// hangs), the process exits within the shutdown timeout, and after a
// restart every acknowledged write is there exactly once.
func TestSIGTERMUnderLoad(t *testing.T) {
	bin := buildBinary(t)
	for _, tc := range []struct {
		name string
		db   func(t *testing.T) string
	}{
		{name: "sqlite", db: func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "goodwill.db") }},
		{name: "postgresql", db: func(t *testing.T) string { return pgtest.FreshDB(t, pgtest.Servers()[0]) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sigtermUnderLoad(t, bin, tc.db(t))
		})
	}
}

const (
	shutdownClients = 64
	shutdownTimeout = 10 * time.Second
)

func sigtermUnderLoad(t *testing.T, bin, db string) {
	keyFile := filepath.Join(t.TempDir(), "admin.key")
	srv := startShutdownDaemon(t, bin, db, keyFile)
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("bootstrap key: %v", err)
	}
	token := strings.TrimSpace(string(raw))
	c := dial(t, srv.grpcAddr, token)

	// Readiness, as a load balancer watches it.
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	watch, err := c.Health.Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var notServingAt time.Time
	var watchMu sync.Mutex
	go func() {
		for {
			resp, err := watch.Recv()
			if err != nil {
				return
			}
			if resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
				watchMu.Lock()
				if notServingAt.IsZero() {
					notServingAt = time.Now()
				}
				watchMu.Unlock()
				stopWatch() // a watch still open would hold graceful stop
				return
			}
		}
	}()

	load := writeload.Start(c, writeload.Config{Writers: shutdownClients, Customers: 16, Attempt: 2 * shutdownTimeout,
		Prefix: "term-"})
	if err := load.WaitAcks(300, 30*time.Second); err != nil {
		load.Stop()
		t.Fatalf("before SIGTERM: %v\n%s", err, srv.out.String())
	}
	sigAt := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.exited:
		if err != nil {
			t.Errorf("goodwilld exited with %v after SIGTERM\n%s", err, srv.out.String())
		}
	case <-time.After(shutdownTimeout + 10*time.Second):
		t.Fatalf("goodwilld still running %s after SIGTERM\n%s", shutdownTimeout+10*time.Second, srv.out.String())
	}
	exitAt := time.Now()
	exitedAfter := exitAt.Sub(sigAt)
	res := load.Stop()
	watchMu.Lock()
	ns := notServingAt
	watchMu.Unlock()
	if ns.IsZero() {
		t.Errorf("health never reported NOT_SERVING before goodwilld exited")
	}
	for _, o := range res.Others[:min(5, len(res.Others))] {
		t.Errorf("write %s ended with %s (%q) after %s; a shutdown may only refuse writes with UNAVAILABLE",
			o.Key, o.Code, o.Message, o.Took.Round(time.Millisecond))
	}
	if n := res.Codes[codes.DeadlineExceeded]; n > 0 {
		t.Errorf("%d writes hung until their %s deadline during shutdown", n, 2*shutdownTimeout)
	}
	// Which writes failed because they reached the server after it stopped
	// accepting, and which were in flight and failed (none should be: the
	// shutdown lets them finish).
	var firstFail time.Time
	duringShutdown := 0 // refused or failed between SIGTERM and exit
	for _, o := range res.Failures {
		if firstFail.IsZero() || o.At.Before(firstFail) {
			firstFail = o.At
		}
		if o.At.Before(exitAt) {
			duringShutdown++
		}
	}

	// Restart on the same store and read everything back.
	srv2 := startShutdownDaemon(t, bin, db, keyFile)
	c2 := dial(t, srv2.grpcAddr, token)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stored, err := writeload.Read(ctx, c2, res.Customers)
	if err != nil {
		t.Fatalf("read back after restart: %v", err)
	}
	v, err := writeload.Check(res, stored)
	if err != nil {
		t.Errorf("after restart: %v", err)
	}
	if err := srv2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-srv2.exited
	nsAfter, failAfter := "never", "none"
	if !ns.IsZero() {
		nsAfter = ns.Sub(sigAt).Round(time.Millisecond).String()
	}
	if !firstFail.IsZero() {
		failAfter = firstFail.Sub(sigAt).Round(time.Millisecond).String()
	}
	t.Logf("FIGURES SIGTERM under %d clients: acknowledged=%d (durable after restart: %d lost, %d doubled) "+
		"failed=%d (%d before exit, the rest refused after it) [unavailable=%d deadline=%d other=%d] "+
		"committed-but-unacknowledged=%d; NOT_SERVING %s after SIGTERM, "+
		"first failed write %s after, exit %s after",
		shutdownClients, len(res.Acked), v.Lost, v.Doubled, len(res.Failed), duringShutdown, res.Codes[codes.Unavailable],
		res.Codes[codes.DeadlineExceeded], len(res.Others), v.CommittedUnacked, nsAfter, failAfter,
		exitedAfter.Round(time.Millisecond))
}

type shutdownDaemon struct {
	cmd      *exec.Cmd
	grpcAddr string
	out      *syncWriter
	exited   chan error
}

// startShutdownDaemon starts goodwilld serve on db and waits until gRPC health
// says SERVING.
func startShutdownDaemon(t *testing.T, bin, db, keyFile string) *shutdownDaemon {
	t.Helper()
	d := &shutdownDaemon{grpcAddr: freeAddr(t), out: &syncWriter{b: &bytes.Buffer{}}, exited: make(chan error, 1)}
	d.cmd = exec.Command(bin, "serve", "--db", db, "--grpc-addr", d.grpcAddr, "--http-addr", freeAddr(t),
		"--bootstrap-key-file", keyFile, "--rate-limit", "0", "--shutdown-timeout", shutdownTimeout.String(),
		"--log-level", "warn")
	w := d.out
	d.cmd.Stdout, d.cmd.Stderr = w, w
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() { _ = d.cmd.Process.Kill() })
	c := dial(t, d.grpcAddr, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("goodwilld on %s: %v\n%s", db, err, w.String())
	}
	return d
}

// syncWriter is the daemon's output, written by two pipes' goroutines.
type syncWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// dial connects to goodwilld with token ("" for none), closed at the end
// of the test.
func dial(t *testing.T, addr, token string) *client.Client {
	t.Helper()
	var opts []grpc.DialOption
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	c, err := client.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
