package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A goodwilld serving mutual TLS: the TLS flags reach it, and each missing
// piece fails the way the exit codes say.
//
// Not parallel: its last part sets XDG_CONFIG_HOME.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCert(t, dir, "ca", nil, nil)
	newCert(t, dir, "server", ca, caKey)
	newCert(t, dir, "client", ca, caKey)
	file := func(n string) string { return filepath.Join(dir, n) }

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	clientCert, err := tls.LoadX509KeyPair(file("client.pem"), file("client.key"))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{clientCert},
	}}}
	s, err := startServer(filepath.Join(dir, "server"), hc,
		"--tls-cert", file("server.pem"), "--tls-key", file("server.key"), "--tls-client-ca", file("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)

	base := []string{"--addr", s.grpcAddr, "--token-file", s.keyFile, "--timeout", "3s"}
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"mutual TLS", []string{"--tls-ca", file("ca.pem"), "--tls-cert", file("client.pem"), "--tls-key", file("client.key")}, exitOK},
		{"the name the certificate carries", []string{"--tls-ca", file("ca.pem"), "--tls-cert", file("client.pem"), "--tls-key", file("client.key"),
			"--tls-server-name", "goodwill.test"}, exitOK},
		{"a name it does not carry", []string{"--tls-ca", file("ca.pem"), "--tls-cert", file("client.pem"), "--tls-key", file("client.key"),
			"--tls-server-name", "other.test"}, exitUnavailable},
		{"no client certificate", []string{"--tls-ca", file("ca.pem")}, exitUnavailable},
		{"the system roots do not trust it", []string{"--tls", "--tls-cert", file("client.pem"), "--tls-key", file("client.key")}, exitUnavailable},
		{"plaintext", nil, exitUnavailable},
		{"a certificate without its key", []string{"--tls-ca", file("ca.pem"), "--tls-cert", file("client.pem")}, exitUsage},
		{"a CA file that is not PEM", []string{"--tls-ca", file("client.key.missing")}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gwRaw(t, append(append(base, tt.args...), "whoami")...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tt.code, r.all())
			}
		})
	}
	// A profile carries the TLS settings too.
	t.Run("profile", func(t *testing.T) {
		t.Setenv("XDG_CONFIG_HOME", t.TempDir())
		gwRaw(t, "config", "set-profile", "mtls", "--addr", s.grpcAddr, "--token-file", s.keyFile, "--use",
			"--tls-ca", file("ca.pem"), "--tls-cert", file("client.pem"), "--tls-key", file("client.key")).ok(t)
		out := gwRaw(t, "whoami", "-o", "table").ok(t).stdout
		if !strings.Contains(out, "mtls") {
			t.Fatalf("whoami through the profile:\n%s", out)
		}
	})
}

// newCert writes name.pem and name.key into dir: a CA when parent is nil,
// else a certificate for 127.0.0.1 and goodwill.test signed by it.
func newCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		signer, signerKey = parent, parentKey
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"goodwill.test"}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(name+".pem", "CERTIFICATE", der)
	write(name+".key", "EC PRIVATE KEY", keyDER)
	return cert, key
}
