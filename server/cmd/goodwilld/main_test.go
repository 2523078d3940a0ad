package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
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
func serve(t *testing.T, bin, db string) (*exec.Cmd, string, *syncWriter) {
	t.Helper()
	httpAddr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--db", db)
	cmd.Env = append(os.Environ(), "GOODWILL_GRPC_ADDR="+freeAddr(t), "GOODWILL_HTTP_ADDR="+httpAddr, "GOODWILL_LOG_FORMAT=json",
		"GOODWILL_BOOTSTRAP_KEY_FILE="+keyPath(db))
	out := &syncWriter{b: &bytes.Buffer{}} // read while the process writes
	cmd.Stdout, cmd.Stderr = out, out
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
				return cmd, base, out
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("goodwilld did not become healthy: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// keyPath is where the bootstrap key of the store db goes: beside it.
func keyPath(db string) string {
	return filepath.Join(filepath.Dir(strings.TrimPrefix(db, "sqlite:")), "admin.key")
}

func readToken(t *testing.T, db string) string {
	t.Helper()
	raw, err := os.ReadFile(keyPath(db))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}

// call sends one REST request with token ("" for none).
func call(t *testing.T, token, method, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func balanceEvents(t *testing.T, base, token, customer string) float64 {
	t.Helper()
	resp := call(t, token, http.MethodGet, base+"/v1/customers/"+customer+"/balance", "")
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

	token := readToken(t, db)
	resp := call(t, token, http.MethodPost, base+"/v1/customers/c1/events",
		`{"kind":"EVENT_KIND_RELIABLE_DELIVERY","idempotencyKey":"k1"}`)
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
	if n := balanceEvents(t, base2, token, "c1"); n != 1 {
		t.Errorf("after restart c1 has %v events, want 1", n)
	}
}

// migrate logs the store it migrated without its password.
func TestMigrateDoesNotLogThePassword(t *testing.T) {
	u, err := url.Parse(pgtest.FreshDB(t, pgtest.Servers()[0]))
	if err != nil {
		t.Fatal(err)
	}
	secret, ok := u.User.Password()
	if !ok { // the test server trusts local connections
		secret = "s3cret-pw"
		u.User = url.UserPassword(u.User.Username(), secret)
	}
	out, err := exec.Command(buildBinary(t), "migrate", "--db", u.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "store is migrated") || !strings.Contains(string(out), u.User.Username()+":xxxxx@") {
		t.Errorf("no line naming the migrated store, redacted:\n%s", out)
	}
	if strings.Contains(string(out), secret) {
		t.Errorf("migrate logged the database password:\n%s", out)
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
		{"key=value DSN", []string{"migrate", "--db", "host=db user=u password=hunter2"}, nil, "unknown scheme"},
		{"TLS cert without key", []string{"serve", "--tls-cert", "server.pem"}, nil, "--tls-key"},
		{"TLS key without cert (env)", []string{"serve"}, []string{"GOODWILL_TLS_KEY=server-key.pem"}, "--tls-cert"},
		{"TLS cert without key (env)", []string{"serve"}, []string{"GOODWILL_TLS_CERT=server.pem"}, "--tls-key"},
		{"client CA without TLS (env)", []string{"serve"}, []string{"GOODWILL_TLS_CLIENT_CA=ca.pem"}, "--tls-client-ca"},
		{"TLS files missing (env)", []string{"serve"}, []string{"GOODWILL_TLS_CERT=/nonexistent/server.pem", "GOODWILL_TLS_KEY=/nonexistent/key.pem"}, "--tls-cert /nonexistent/server.pem"},
		// The second of two comma-separated origins is the bad one.
		{"bad CORS origin (env)", []string{"serve"}, []string{"GOODWILL_CORS_ORIGINS=https://ok.example.com,app.example.com"}, `--cors-origin "app.example.com"`},
		{"bad CORS origin (repeated flag)", []string{"serve", "--cors-origin", "https://ok.example.com", "--cors-origin", "https://app.example.com/"}, nil, `--cors-origin "https://app.example.com/"`},
		{"OTLP endpoint without a port (env)", []string{"serve"}, []string{"GOODWILL_OTLP_ENDPOINT=otel-collector"}, `--otlp-endpoint "otel-collector"`},
		{"OTLP https and plaintext", []string{"serve", "--otlp-endpoint", "https://otel-collector:4317", "--otlp-insecure"}, nil, "--otlp-insecure"},
		{"sample ratio above 1", []string{"serve", "--otlp-endpoint", "127.0.0.1:4317", "--trace-sample-ratio", "2"}, nil, "--trace-sample-ratio"},
		{"negative drain delay (env)", []string{"serve"}, []string{"GOODWILL_DRAIN_DELAY=-5s"}, "--drain-delay"},
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

// The zero-setup path and the keys commands, through the real binary: a
// fresh store gets an admin key in a file only its owner can read; nothing
// is served without a key; `keys create` prints a secret that works for its
// role only, `keys list` never shows secrets, `keys revoke` shuts a key out.
func TestKeysCommandsAndBootstrap(t *testing.T) {
	bin := buildBinary(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "data", "goodwill.db")
	_, base, out := serve(t, bin, db)

	fi, err := os.Stat(keyPath(db))
	if err != nil {
		t.Fatalf("no bootstrap key file: %v\n%s", err, out)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap key file mode %v, want 0600", fi.Mode().Perm())
	}
	if !strings.Contains(out.String(), keyPath(db)) {
		t.Errorf("the log does not say where the bootstrap key is:\n%s", out)
	}
	admin := readToken(t, db)
	events := base + "/v1/customers/c1/events"
	body := `{"kind":"EVENT_KIND_CREDIT"}`
	if r := call(t, "", http.MethodPost, events, body); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("no key: %s, want 401", r.Status)
	}
	if r := call(t, admin, http.MethodPost, events, body); r.StatusCode != http.StatusOK {
		t.Fatalf("admin key: %s", r.Status)
	}

	keys := func(args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(bin, append(append([]string{"keys"}, args...), "--db", db)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("keys %v: %v\n%s", args, err, stderr.String())
		}
		return strings.TrimSpace(stdout.String()), stderr.String()
	}
	reader, created := keys("create", "--role", "reader", "--name", "analytics")
	if !strings.HasPrefix(reader, "gwk_") || strings.Contains(reader, "\n") {
		t.Fatalf("keys create printed %q, want one token", reader)
	}
	if r := call(t, reader, http.MethodGet, base+"/v1/customers/c1/balance", ""); r.StatusCode != http.StatusOK {
		t.Errorf("reader reading: %s", r.Status)
	}
	if r := call(t, reader, http.MethodPost, events, body); r.StatusCode != http.StatusForbidden {
		t.Errorf("reader writing: %s, want 403", r.Status)
	}

	list, _ := keys("list")
	if !strings.Contains(list, "analytics") || !strings.Contains(list, "reader") || !strings.Contains(list, "bootstrap admin") {
		t.Errorf("keys list:\n%s", list)
	}
	for _, tok := range []string{reader, admin} {
		if _, secret, _ := strings.Cut(strings.TrimPrefix(tok, "gwk_"), "_"); strings.Contains(list, secret) {
			t.Errorf("keys list shows a secret:\n%s", list)
		}
	}
	m := regexp.MustCompile(`created key ([0-9a-f]+) `).FindStringSubmatch(created)
	if m == nil {
		t.Fatalf("keys create did not name the key:\n%s", created)
	}
	id := m[1]
	keys("revoke", id)
	list, _ = keys("list")
	if !strings.Contains(list, id) || strings.Contains(strings.SplitN(list[strings.Index(list, id):], "\n", 2)[0], " - ") {
		t.Errorf("revoked key not marked revoked:\n%s", list)
	}
	// The server caches a verified key for up to auth.CacheTTL.
	deadline := time.Now().Add(10 * time.Second)
	for call(t, reader, http.MethodGet, base+"/v1/customers/c1/balance", "").StatusCode != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("a revoked key still works after 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}

	cmd := exec.Command(bin, "keys", "create", "--role", "owner", "--db", db)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "--role") {
		t.Errorf("bad role: %v %s", err, b)
	}
}
