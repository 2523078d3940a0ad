package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// pki is a throwaway certificate authority with a server certificate for
// 127.0.0.1 and localhost, a client certificate it signed, and a client
// certificate from another CA. The server's files are PEM in a temp dir.
type pki struct {
	caFile, certFile, keyFile string
	roots                     *x509.CertPool  // trusts the server
	client                    tls.Certificate // signed by the CA
	stranger                  tls.Certificate // signed by another CA
	dir                       string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	caCert, caKey := newCA(t, "goodwill test CA")
	otherCA, otherKey := newCA(t, "some other CA")
	p := &pki{dir: dir, roots: x509.NewCertPool()}
	p.roots.AddCert(caCert)

	p.caFile = filepath.Join(dir, "ca.pem")
	writePEM(t, p.caFile, "CERTIFICATE", caCert.Raw)
	srvDER, srvKey := issue(t, caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "goodwilld"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.certFile = filepath.Join(dir, "server.pem")
	p.keyFile = filepath.Join(dir, "server-key.pem")
	writePEM(t, p.certFile, "CERTIFICATE", srvDER)
	writePEM(t, p.keyFile, "PRIVATE KEY", marshalKey(t, srvKey))

	clientTemplate := func() *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: "crm"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	}
	der, key := issue(t, caCert, caKey, clientTemplate())
	p.client = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	der, key = issue(t, otherCA, otherKey, clientTemplate())
	p.stranger = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return p
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// issue signs tmpl (given its names and usages) with the CA and returns
// the certificate's DER and its new key.
func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func marshalKey(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// clientTLS is a client configuration trusting the test CA, presenting
// certs (none, the CA's client certificate, or a stranger's).
func (p *pki) clientTLS(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: p.roots, Certificates: certs}
}

// httpsClient is an HTTP client for the gateway with the given TLS config.
func httpsClient(t *testing.T, cfg *tls.Config) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// runningServer is a started goodwilld and its bootstrap admin key.
type runningServer struct {
	*app.Completed
	token string
}

// runServer starts goodwilld with cfg on loopback ports and a fresh store,
// and stops it (checking it stops cleanly) at the end of the test. Unlike
// startServer it does not connect: TLS tests choose their own clients.
func runServer(t *testing.T, cfg app.Config) *runningServer {
	t.Helper()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.DB = "127.0.0.1:0", "127.0.0.1:0", freshDB(t)
	cfg.BootstrapKeyFile = keyFile(t, cfg.DB)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := cfg.Complete(ctx)
	if err != nil {
		cancel()
		t.Fatalf("complete: %v", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- done.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("server stopped with error: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("server did not stop within 20s")
		}
	})
	return &runningServer{Completed: done, token: readKey(t, cfg.DB)}
}

// dialReady connects the Go client with opts and waits until it serves.
func dialReady(t *testing.T, addr string, opts ...grpc.DialOption) *client.Client {
	t.Helper()
	c, err := client.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// grpcCallFails makes one call that must fail, within a few seconds, and
// returns its error.
func grpcCallFails(t *testing.T, addr string, opts ...grpc.DialOption) error {
	t.Helper()
	c, err := client.Dial(addr, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err = c.Balance(ctx, "c1")
	if err == nil {
		t.Fatal("call succeeded; want it refused")
	}
	return err
}

func recordAndRead(t *testing.T, c *client.Client, customer string) {
	t.Helper()
	if _, err := c.Record(t.Context(), customer, client.Event{Kind: goodwillv1.EventKind_EVENT_KIND_CREDIT,
		Magnitude: 5, IdempotencyKey: "k1"}); err != nil {
		t.Fatalf("record over TLS: %v", err)
	}
	b, err := c.Balance(t.Context(), customer)
	if err != nil {
		t.Fatalf("balance over TLS: %v", err)
	}
	if b.GetEventCount() != 1 || b.GetBalance() <= 0 {
		t.Errorf("balance after one credit: %v", b)
	}
}

func TestGRPCOverTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srv := runServer(t, app.Config{TLSCert: p.certFile, TLSKey: p.keyFile})

	c := dialReady(t, srv.GRPCAddr(), client.WithToken(srv.token), client.WithTLS(p.clientTLS()))
	recordAndRead(t, c, "c1")

	t.Run("plaintext client is refused", func(t *testing.T) {
		err := grpcCallFails(t, srv.GRPCAddr())
		if status.Code(err) != codes.Unavailable {
			t.Errorf("plaintext call: %v, want Unavailable", err)
		}
	})
	t.Run("client not trusting the CA is refused", func(t *testing.T) {
		err := grpcCallFails(t, srv.GRPCAddr(), client.WithTLS(&tls.Config{RootCAs: x509.NewCertPool()}))
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("untrusted server certificate: %v, want a certificate error", err)
		}
	})
	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		for _, addr := range []string{srv.GRPCAddr(), srv.HTTPAddr()} {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.roots, ServerName: "localhost",
				MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
			if err == nil {
				conn.Close()
				t.Errorf("%s accepted a TLS 1.1 handshake", addr)
			}
		}
	})
}

// With TLS on the public ports, REST still works end to end: the gateway
// reaches gRPC over its in-process channel, not over the TLS port.
func TestRESTOverHTTPS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srv := runServer(t, app.Config{TLSCert: p.certFile, TLSKey: p.keyFile})
	hc := httpsClient(t, p.clientTLS())
	base := "https://" + srv.HTTPAddr()
	waitHealthy(t, hc, base)
	resp, err := hc.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("HTTPS negotiated %s, want HTTP/2", resp.Proto)
	}

	code, body := doJSON(t, hc, srv.token, "POST", base+"/v1/customers/c1/events",
		`{"kind":"EVENT_KIND_CREDIT","magnitude":5,"idempotencyKey":"k1"}`)
	if code != http.StatusOK {
		t.Fatalf("POST event over HTTPS: %d %v", code, body)
	}
	code, body = doJSON(t, hc, srv.token, "GET", base+"/v1/customers/c1/balance", "")
	if code != http.StatusOK || get(body, "balance", "eventCount") != "1" {
		t.Fatalf("GET balance over HTTPS: %d %v", code, body)
	}
	if b, _ := get(body, "balance", "balance").(float64); b <= 0 {
		t.Errorf("balance after a credit: %v", body)
	}

	// Plain HTTP on the HTTPS port gets nowhere near the API.
	resp, err = http.Get("http://" + srv.HTTPAddr() + "/v1/customers/c1/balance")
	if err == nil {
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the HTTPS port: %s, want 400", resp.Status)
		}
	}
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srv := runServer(t, app.Config{TLSCert: p.certFile, TLSKey: p.keyFile, TLSClientCA: p.caFile})

	t.Run("gRPC with a certificate from the CA", func(t *testing.T) {
		c := dialReady(t, srv.GRPCAddr(), client.WithToken(srv.token), client.WithTLS(p.clientTLS(p.client)))
		recordAndRead(t, c, "grpc-c1")
	})
	t.Run("HTTPS with a certificate from the CA", func(t *testing.T) {
		hc := httpsClient(t, p.clientTLS(p.client))
		base := "https://" + srv.HTTPAddr()
		waitHealthy(t, hc, base)
		code, body := doJSON(t, hc, srv.token, "POST", base+"/v1/customers/rest-c1/events",
			`{"kind":"EVENT_KIND_RESPONSE","idempotencyKey":"k1"}`)
		if code != http.StatusOK {
			t.Fatalf("POST event with a client certificate: %d %v", code, body)
		}
		code, body = doJSON(t, hc, srv.token, "GET", base+"/v1/customers/rest-c1/balance", "")
		if code != http.StatusOK || get(body, "balance", "eventCount") != "1" {
			t.Fatalf("GET balance with a client certificate: %d %v", code, body)
		}
	})
	for _, tt := range []struct {
		name  string
		certs []tls.Certificate
	}{
		{"no client certificate", nil},
		{"certificate from another CA", []tls.Certificate{p.stranger}},
	} {
		t.Run("gRPC refuses "+tt.name, func(t *testing.T) {
			err := grpcCallFails(t, srv.GRPCAddr(), client.WithTLS(p.clientTLS(tt.certs...)))
			if status.Code(err) != codes.Unavailable {
				t.Errorf("got %v, want Unavailable", err)
			}
		})
		t.Run("HTTPS refuses "+tt.name, func(t *testing.T) {
			hc := httpsClient(t, p.clientTLS(tt.certs...))
			resp, err := hc.Get("https://" + srv.HTTPAddr() + "/healthz")
			if err == nil {
				resp.Body.Close()
				t.Fatalf("HTTPS without a valid client certificate: %s, want a refused handshake", resp.Status)
			}
			var urlErr interface{ Timeout() bool }
			if errors.As(err, &urlErr) && urlErr.Timeout() {
				t.Errorf("HTTPS refused by timeout, not by the handshake: %v", err)
			}
		})
	}
}

// REST requests run the same interceptors as gRPC ones: the logging
// interceptor of the gateway's in-process server logs them.
func TestRESTRunsTheGRPCInterceptors(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	srv := runServer(t, app.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	base := "http://" + srv.HTTPAddr()
	waitHealthy(t, http.DefaultClient, base)
	code, body := doJSON(t, http.DefaultClient, srv.token, "GET", base+"/v1/customers/nobody/balance", "")
	if code != http.StatusNotFound {
		t.Fatalf("GET unknown balance: %d %v", code, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "grpc.method=GetBalance") {
		if time.Now().After(deadline) {
			t.Fatalf("no interceptor log line for the REST call:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	missing := filepath.Join(p.dir, "missing.pem")
	garbage := filepath.Join(p.dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  app.Config
		want string
	}{
		{"cert without key", app.Config{TLSCert: p.certFile}, "--tls-key"},
		{"key without cert", app.Config{TLSKey: p.keyFile}, "--tls-cert"},
		{"client CA without TLS", app.Config{TLSClientCA: p.caFile}, "--tls-client-ca"},
		{"missing cert file", app.Config{TLSCert: missing, TLSKey: p.keyFile}, "--tls-cert " + missing},
		{"key file not PEM", app.Config{TLSCert: p.certFile, TLSKey: garbage}, "--tls-key " + garbage},
		{"missing client CA", app.Config{TLSCert: p.certFile, TLSKey: p.keyFile, TLSClientCA: missing}, "--tls-client-ca"},
		{"client CA not PEM", app.Config{TLSCert: p.certFile, TLSKey: p.keyFile, TLSClientCA: garbage}, "--tls-client-ca " + garbage},
		{"origin with a path", app.Config{CORSOrigins: []string{"https://app.example.com/"}}, "--cors-origin"},
		{"origin without scheme", app.Config{CORSOrigins: []string{"app.example.com"}}, "--cors-origin"},
		{"wildcard host", app.Config{CORSOrigins: []string{"https://*"}}, `--cors-origin "https://*"`},
		{"wildcard glued to a domain", app.Config{CORSOrigins: []string{"https://*example.com"}}, `--cors-origin "https://*example.com"`},
		{"wildcard inside a label", app.Config{CORSOrigins: []string{"https://app-*.example.com"}}, "--cors-origin"},
		{"wildcard not leftmost", app.Config{CORSOrigins: []string{"https://app.*.com"}}, "--cors-origin"},
		{"two wildcards", app.Config{CORSOrigins: []string{"https://*.*.example.com"}}, "--cors-origin"},
		{"wildcard with nothing after", app.Config{CORSOrigins: []string{"https://*.:8443"}}, "--cors-origin"},
		{"negative rate limit", app.Config{RateLimit: auth.RateLimits{PerSecond: -1}}, "--rate-limit"},
		{"infinite rate limit", app.Config{RateLimit: auth.RateLimits{PerSecond: math.Inf(1)}}, "--rate-limit"},
		{"negative burst", app.Config{RateLimit: auth.RateLimits{PerSecond: 5, Burst: -1}}, "--rate-burst"},
		{"negative group-commit writers", app.Config{GroupCommit: ledger.GroupCommit{Writers: -2}}, "--group-commit-writers"},
		{"negative group-commit window", app.Config{GroupCommit: ledger.GroupCommit{Window: -time.Millisecond}}, "--group-commit-window"},
		{"negative group-commit max", app.Config{GroupCommit: ledger.GroupCommit{MaxBatch: -1}}, "--group-commit-max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dbFile := filepath.Join(t.TempDir(), "goodwill.db")
			cfg := tt.cfg
			cfg.GRPCAddr, cfg.HTTPAddr, cfg.DB = "127.0.0.1:0", "127.0.0.1:0", "sqlite:"+dbFile
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			done, err := cfg.Complete(t.Context())
			if err == nil {
				// Complete succeeded: stop what it opened before failing.
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				_ = done.Run(ctx)
				t.Fatalf("Complete accepted %+v", tt.cfg)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
			// Fail fast: the bad configuration is found before the store
			// is opened.
			if _, serr := os.Stat(dbFile); serr == nil {
				t.Errorf("the store was created before the configuration error")
			}
		})
	}
}

// waitHealthy polls /healthz until it answers 200.
func waitHealthy(t *testing.T, hc *http.Client, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := hc.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/healthz never answered 200: %v", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// doJSON sends a JSON body (none when "") and decodes the JSON reply.
func doJSON(t *testing.T, hc *http.Client, token, method, url, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: %s: body is not JSON: %v", method, url, resp.Status, err)
	}
	return resp.StatusCode, out
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write
// while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
