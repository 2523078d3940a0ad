package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/app"
)

// The profiler is off by default, and when on it is served only on its own
// address, never on the API's.
func TestProfilerOnlyOnDebugAddr(t *testing.T) {
	t.Parallel()
	addr := freeLoopbackAddr(t)
	s := startServer(t, "", func(c *app.Config) { c.DebugAddr = addr })
	get := func(url string) int {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("http://" + addr + "/debug/pprof/"); code != http.StatusOK {
		t.Errorf("profiler index on --debug-addr: HTTP %d", code)
	}
	// The command line can hold --db with its password.
	if code := get("http://" + addr + "/debug/pprof/cmdline"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/cmdline on --debug-addr: HTTP %d, want 404", code)
	}
	if code := get(s.baseURL + "/debug/pprof/"); code == http.StatusOK {
		t.Error("the API port serves the profiler")
	}
	plain := startServer(t, "")
	if code := get(plain.baseURL + "/debug/pprof/"); code == http.StatusOK {
		t.Error("the profiler is on without --debug-addr")
	}
}

// --debug-addr must be on loopback; --metrics-addr may be anywhere, with a
// warning off loopback. API ports without TLS off loopback are warned about
// too: keys would cross the network readable.
func TestExposedListeners(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "10.1.2.3:6060", "db.example.com:6060", "127.0.0.1"} {
		cfg := app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "g.db"),
			DebugAddr: addr, Logger: quietLog()}
		done, err := cfg.Complete(t.Context())
		if err == nil {
			runStopped(t, done)
			t.Errorf("--debug-addr %s accepted", addr)
		} else if !strings.Contains(err.Error(), "--debug-addr") {
			t.Errorf("--debug-addr %s: error %q does not name the flag", addr, err)
		}
	}

	p := newPKI(t)
	const plaintext, metricsOpen = "API keys will cross the network readable", "metrics serving without authentication"
	for _, tt := range []struct {
		name          string
		cfg           app.Config
		want, wantNot []string
	}{
		{"loopback", app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", DebugAddr: "localhost:0"},
			nil, []string{plaintext, metricsOpen}},
		{"TLS on every interface", app.Config{GRPCAddr: "0.0.0.0:0", HTTPAddr: "0.0.0.0:0", TLSCert: p.certFile, TLSKey: p.keyFile},
			nil, []string{plaintext}},
		{"gRPC on every interface", app.Config{GRPCAddr: "0.0.0.0:0", HTTPAddr: "127.0.0.1:0"},
			[]string{plaintext, "flag=--grpc-addr"}, []string{"flag=--http-addr"}},
		{"REST and metrics on every interface", app.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "0.0.0.0:0", MetricsAddr: "0.0.0.0:0"},
			[]string{plaintext, "flag=--http-addr", metricsOpen, "flag=--metrics-addr"}, []string{"flag=--grpc-addr"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			cfg := tt.cfg
			cfg.DB = "sqlite:" + filepath.Join(t.TempDir(), "g.db")
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			done, err := cfg.Complete(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			runStopped(t, done)
			out := logs.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("log lacks %s:\n%s", w, out)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("log has %s:\n%s", w, out)
				}
			}
		})
	}
}

// runStopped runs a completed server with a context already cancelled:
// it logs its start, then stops at once, so its start log is complete
// when this returns.
func runStopped(t *testing.T, done *app.Completed) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := done.Run(ctx); err != nil {
		t.Errorf("run: %v", err)
	}
}
