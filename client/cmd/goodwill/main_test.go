package main

import (
	"bytes"
	"context"
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

// The end-to-end tests run the CLI in process against a real goodwilld:
// the binary built from this repository, serving the embedded SQLite store
// from a temporary directory on free loopback ports.

// srv is the server TestMain starts; most tests share it, each with its own
// customers.
var srv *server

// goodwilldBin and goodwillBin are the binaries TestMain built: the
// server, and this command for the tests that kill it mid-run.
var goodwilldBin, goodwillBin string

type server struct {
	grpcAddr string
	httpAddr string
	keyFile  string // the bootstrap admin key
	token    string
	cmd      *exec.Cmd
	log      *bytes.Buffer
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "goodwill-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	// Built first: go must see the real HOME, where its caches are.
	goodwilldBin, err = buildGoodwilld(tmp)
	if err == nil {
		goodwillBin, err = build(tmp, "goodwill", "./client/cmd/goodwill")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// No setting of the person running the tests may leak in: their
	// GOODWILL_* variables and their config file.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "GOODWILL_") {
			os.Unsetenv(k)
		}
	}
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(tmp, "config"))
	os.Setenv("HOME", filepath.Join(tmp, "home"))

	srv, err = startServer(filepath.Join(tmp, "main"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	srv.stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "goodwilld's log:\n%s\n", srv.log.String())
	}
	return code
}

// buildGoodwilld builds the server from the module root (go env GOMOD).
func buildGoodwilld(dir string) (string, error) {
	return build(dir, "goodwilld", "./server/cmd/goodwilld")
}

// build builds the command pkg of this module into dir/name.
func build(dir, name, pkg string) (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// startServer starts goodwilld on the embedded store in dir, waits until
// /healthz says SERVING, and reads the admin key it wrote. tlsClient, for a
// server started with TLS flags in extra, is what reaches its /healthz.
func startServer(dir string, tlsClient *http.Client, extra ...string) (*server, error) {
	return startServerAt(dir, freeAddr(), freeAddr(), tlsClient, extra...)
}

// startServerAt is startServer on given addresses: a server restarted on
// the addresses of one that was killed.
func startServerAt(dir, grpcAddr, httpAddr string, tlsClient *http.Client, extra ...string) (*server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &server{grpcAddr: grpcAddr, httpAddr: httpAddr, keyFile: filepath.Join(dir, "admin.key"), log: &bytes.Buffer{}}
	args := append([]string{"serve",
		"--db", "sqlite:" + filepath.Join(dir, "goodwill.db"),
		"--grpc-addr", s.grpcAddr, "--http-addr", s.httpAddr,
		"--bootstrap-key-file", s.keyFile,
		"--webhook-allow-private", "--no-console", "--log-level", "warn",
	}, extra...)
	s.cmd = exec.Command(goodwilldBin, args...)
	// One writer for both: exec then writes from one goroutine at a time,
	// and the log is read only once the process has exited.
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	scheme, hc := "http", &http.Client{Timeout: time.Second}
	if tlsClient != nil {
		scheme, hc = "https", tlsClient
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(scheme + "://" + s.httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("goodwilld did not become healthy: %v\n%s", err, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	raw, err := os.ReadFile(s.keyFile)
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("bootstrap key: %w", err)
	}
	s.token = strings.TrimSpace(string(raw))
	return s, nil
}

func (s *server) stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// freeAddr is a loopback address nothing listens on (the port was free a
// moment ago).
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// result is one run of the CLI.
type result struct {
	stdout, stderr string
	code           int
}

// all is everything the run printed.
func (r result) all() string { return r.stdout + r.stderr }

// gw runs goodwill against the shared server with its admin key.
func gw(t *testing.T, args ...string) result {
	t.Helper()
	return gwRaw(t, append([]string{"--addr", srv.grpcAddr, "--token-file", srv.keyFile}, args...)...)
}

// gwRaw runs goodwill with exactly args, in process.
func gwRaw(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	code := run(ctx, args, &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// ok fails the test unless r exited 0.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	return r
}

// decode parses r's stdout as JSON into v.
func (r result) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
}
