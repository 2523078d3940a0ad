package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary compiles goodwilld once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "goodwilld")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serve starts the binary with its addresses given through GOODWILL_*
// variables, waits for /healthz, and returns the process, its REST base URL
// and its combined output.
func serve(t *testing.T, bin, db string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	httpAddr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--db", db)
	cmd.Env = append(os.Environ(), "GOODWILL_GRPC_ADDR="+freeAddr(t), "GOODWILL_HTTP_ADDR="+httpAddr, "GOODWILL_LOG_FORMAT=json")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	base := "http://" + httpAddr
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, base, &out
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("goodwilld did not become healthy: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func balanceEvents(t *testing.T, base, customer string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/v1/customers/" + customer + "/balance")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Balance struct {
			EventCount string `json:"eventCount"`
		} `json:"balance"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	var n float64
	fmt.Sscan(body.Balance.EventCount, &n)
	return n
}

func TestServeStopsOnSIGTERMAndKeepsData(t *testing.T) {
	bin := buildBinary(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "data", "goodwill.db")
	cmd, base, out := serve(t, bin, db)

	resp, err := http.Post(base+"/v1/customers/c1/events", "application/json",
		strings.NewReader(`{"kind":"EVENT_KIND_RELIABLE_DELIVERY","idempotencyKey":"k1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("record: %s", resp.Status)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("goodwilld did not exit after SIGTERM\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"msg":"goodwilld stopped"`) {
		t.Errorf("no structured stop log:\n%s", out.String())
	}

	if out, err := exec.Command(bin, "migrate", "--db", db).CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}

	_, base2, _ := serve(t, bin, db)
	if n := balanceEvents(t, base2, "c1"); n != 1 {
		t.Errorf("after restart c1 has %v events, want 1", n)
	}
}

func TestBadConfigurationFailsClearly(t *testing.T) {
	bin := buildBinary(t)
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"bad log level", []string{"serve", "--log-level", "loud"}, nil, "--log-level"},
		{"bad env value", []string{"serve"}, []string{"GOODWILL_SHUTDOWN_TIMEOUT=soon"}, "GOODWILL_SHUTDOWN_TIMEOUT"},
		{"unknown db scheme", []string{"migrate", "--db", "mysql://x"}, nil, "unknown scheme"},
		{"postgres unreachable", []string{"migrate", "--db", "postgres://u:hunter2@127.0.0.1:1/db"}, nil, "connect"},
		{"TLS cert without key", []string{"serve", "--tls-cert", "server.pem"}, nil, "--tls-key"},
		{"TLS key without cert (env)", []string{"serve"}, []string{"GOODWILL_TLS_KEY=server-key.pem"}, "--tls-cert"},
		{"TLS cert without key (env)", []string{"serve"}, []string{"GOODWILL_TLS_CERT=server.pem"}, "--tls-key"},
		{"client CA without TLS (env)", []string{"serve"}, []string{"GOODWILL_TLS_CLIENT_CA=ca.pem"}, "--tls-client-ca"},
		{"TLS files missing (env)", []string{"serve"}, []string{"GOODWILL_TLS_CERT=/nonexistent/server.pem", "GOODWILL_TLS_KEY=/nonexistent/key.pem"}, "--tls-cert /nonexistent/server.pem"},
		// The second of two comma-separated origins is the bad one.
		{"bad CORS origin (env)", []string{"serve"}, []string{"GOODWILL_CORS_ORIGINS=https://ok.example.com,app.example.com"}, `--cors-origin "app.example.com"`},
		{"bad CORS origin (repeated flag)", []string{"serve", "--cors-origin", "https://ok.example.com", "--cors-origin", "https://app.example.com/"}, nil, `--cors-origin "https://app.example.com/"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = append(os.Environ(), tt.env...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("exited 0:\n%s", out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output does not mention %q:\n%s", tt.want, out)
			}
			if strings.Contains(string(out), "hunter2") {
				t.Errorf("output leaks a password:\n%s", out)
			}
		})
	}
}
