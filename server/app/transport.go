package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
)

// loadTLS builds the server TLS configuration shared by gRPC and HTTPS from
// the certificate, key and optional client CA files, or returns nil when
// TLS is off. Every error names the flag to fix. Certificates are read once:
// replacing the files takes a restart.
func loadTLS(certFile, keyFile, clientCAFile string, log *slog.Logger) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		if clientCAFile != "" {
			return nil, errors.New("--tls-client-ca needs --tls-cert and --tls-key: client certificates are only checked over TLS")
		}
		return nil, nil
	case keyFile == "":
		return nil, errors.New("--tls-cert is set but --tls-key is not: give both or neither")
	case certFile == "":
		return nil, errors.New("--tls-key is set but --tls-cert is not: give both or neither")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s / --tls-key %s: %w", certFile, keyFile, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	if leaf := cert.Leaf; leaf != nil {
		now := time.Now()
		if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
			log.Warn("TLS certificate is not valid now: clients will refuse it",
				"file", certFile, "not_before", leaf.NotBefore, "not_after", leaf.NotAfter)
		} else {
			log.Info("TLS on", "subject", leaf.Subject.String(), "not_after", leaf.NotAfter,
				"client_certificates", clientCAFile != "")
		}
	}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificate found", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// trimOrigins drops the spaces around each origin ("a, b" from an
// environment variable) and empty entries.
func trimOrigins(origins []string) []string {
	var out []string
	for _, o := range origins {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// checkCORSOrigins rejects origins a browser could never send, so a typo
// fails at start instead of silently blocking a web app. An origin is "*"
// (any origin), or scheme://host[:port] where the host may begin with a
// "*" label (https://*.example.com: any subdomain of example.com).
//
// rs/cors matches a wildcard as a plain prefix and suffix, so a "*"
// anywhere else is refused: https://*example.com would let in
// https://evilexample.com, and https://* every https origin.
func checkCORSOrigins(origins []string) error {
	for _, o := range origins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("--cors-origin %q: want \"*\" or scheme://host[:port] with no path or trailing slash, such as https://app.example.com", o)
		}
		if host := u.Hostname(); strings.Contains(u.Host, "*") {
			rest, ok := strings.CutPrefix(host, "*.")
			if !ok || rest == "" || strings.Contains(rest, "*") {
				return fmt.Errorf("--cors-origin %q: \"*\" may only stand for a whole leftmost label, as in https://*.example.com", o)
			}
		}
	}
	return nil
}

// isLoopback reports whether a listen address (host:port) is on loopback:
// 127.0.0.0/8, ::1 or localhost. An empty host listens everywhere.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
