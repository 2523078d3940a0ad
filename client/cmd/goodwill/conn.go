package main

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/grpc"

	"github.com/goodwill-ledger/goodwill/client"
)

// DefaultAddr is goodwilld's default gRPC address (`make run`).
const DefaultAddr = "127.0.0.1:50051"

// The environment variables goodwill reads. There are deliberately no
// GOODWILL_TLS_* ones: goodwilld binds every flag of its own to a GOODWILL_*
// variable, so GOODWILL_TLS_CERT already means the server's certificate, and
// a shell that runs both must not hand one's setting to the other.
const (
	envAddr      = "GOODWILL_ADDR"
	envToken     = "GOODWILL_TOKEN"
	envTokenFile = "GOODWILL_TOKEN_FILE"
	envProfile   = "GOODWILL_PROFILE"
)

// connFlags are the connection flags, shared by every command (persistent
// on the root) and by `config set-profile`, which stores those given.
type connFlags struct {
	profile       string
	addr          string
	token         string
	tokenFile     string
	tls           bool
	tlsCA         string
	tlsCert       string
	tlsKey        string
	tlsServerName string
	timeout       time.Duration
}

func (f *connFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.profile, "profile", "", "the config profile to use (default: "+envProfile+", else the current profile)")
	fs.StringVar(&f.addr, "addr", "", "goodwilld's gRPC address, host:port ("+envAddr+"; default "+DefaultAddr+")")
	fs.StringVar(&f.token, "token", "", "the API key ("+envToken+"); prefer --token-file or the variable: a flag is visible to other users in the process list")
	fs.StringVar(&f.tokenFile, "token-file", "", "read the API key from this file, such as data/admin.key ("+envTokenFile+")")
	fs.BoolVar(&f.tls, "tls", false, "use TLS, trusting the system's roots unless --tls-ca is given")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "PEM file of the CA that signed the server's certificate (implies --tls)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM client certificate, for a server requiring mutual TLS (with --tls-key; implies --tls)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&f.tlsServerName, "tls-server-name", "", "the name the server's certificate must carry, when not the host of --addr (implies --tls)")
	fs.DurationVar(&f.timeout, "timeout", client.DefaultTimeout, "how long each call may take, retries included")
	for _, n := range []string{"tls-ca", "tls-cert", "tls-key", "token-file"} {
		_ = cobra.MarkFlagFilename(fs, n)
	}
}

// setting is one resolved value and where it came from ("flag --addr",
// "env GOODWILL_ADDR", "profile prod", "default").
type setting struct {
	value  string
	source string
}

// settings are the connection settings in effect. token.value is the API
// key: nothing prints it; config show prints its source only.
type settings struct {
	profile       setting // the profile's name; value "" when none is used
	addr          setting
	token         setting
	tls           setting // "true" or "false"
	tlsCA         setting
	tlsCert       setting
	tlsKey        setting
	tlsServerName setting
	timeout       setting
}

// resolve applies the precedence flag > environment > profile > default to
// each setting on its own: a profile can give the address while
// GOODWILL_TOKEN gives the key.
func resolve(cmd *cobra.Command, f *connFlags, cfg *config) (*settings, error) {
	changed := func(name string) bool {
		fl := cmd.Flags().Lookup(name)
		return fl != nil && fl.Changed
	}
	s := &settings{}

	// Which profile: --profile, GOODWILL_PROFILE, the current one.
	var p *profile
	switch {
	case changed("profile"):
		s.profile = setting{f.profile, "flag --profile"}
	case os.Getenv(envProfile) != "":
		s.profile = setting{os.Getenv(envProfile), "env " + envProfile}
	case cfg.Current != "":
		s.profile = setting{cfg.Current, "current profile"}
	}
	if s.profile.value != "" {
		p = cfg.Profiles[s.profile.value]
		if p == nil {
			return nil, usagef("no profile %q (%s); goodwill config list shows the profiles", s.profile.value, s.profile.source)
		}
	}
	fromProfile := "profile " + s.profile.value
	pick := func(flagName, flagVal, env, profVal, def string) setting {
		switch {
		case changed(flagName):
			return setting{flagVal, "flag --" + flagName}
		case env != "" && os.Getenv(env) != "":
			return setting{os.Getenv(env), "env " + env}
		case profVal != "":
			return setting{profVal, fromProfile}
		case def != "":
			return setting{def, "default"}
		}
		return setting{}
	}
	var pr profile
	if p != nil {
		pr = *p
	}
	s.addr = pick("addr", f.addr, envAddr, pr.Addr, DefaultAddr)
	s.tlsCA = pick("tls-ca", f.tlsCA, "", pr.TLSCA, "")
	s.tlsCert = pick("tls-cert", f.tlsCert, "", pr.TLSCert, "")
	s.tlsKey = pick("tls-key", f.tlsKey, "", pr.TLSKey, "")
	s.tlsServerName = pick("tls-server-name", f.tlsServerName, "", pr.TLSServerName, "")
	s.timeout = pick("timeout", f.timeout.String(), "", pr.Timeout, client.DefaultTimeout.String())
	switch {
	case changed("tls"):
		s.tls = setting{strconv.FormatBool(f.tls), "flag --tls"}
	case pr.TLS:
		s.tls = setting{"true", fromProfile}
	default:
		s.tls = setting{"false", "default"}
	}

	tok, err := resolveToken(changed, f, pr, fromProfile)
	if err != nil {
		return nil, err
	}
	s.token = tok
	return s, nil
}

// resolveToken finds the API key: --token or --token-file, then
// GOODWILL_TOKEN or GOODWILL_TOKEN_FILE, then the profile's. Giving both of
// a pair is a mistake, not a choice to guess.
func resolveToken(changed func(string) bool, f *connFlags, p profile, fromProfile string) (setting, error) {
	switch {
	case changed("token") && changed("token-file"):
		return setting{}, usagef("give --token or --token-file, not both")
	case changed("token"):
		return setting{f.token, "flag --token"}, nil
	case changed("token-file"):
		return readToken(f.tokenFile, "flag --token-file")
	}
	env, envFile := os.Getenv(envToken), os.Getenv(envTokenFile)
	switch {
	case env != "" && envFile != "":
		return setting{}, usagef("set %s or %s, not both", envToken, envTokenFile)
	case env != "":
		return setting{env, "env " + envToken}, nil
	case envFile != "":
		return readToken(envFile, "env "+envTokenFile)
	case p.Token != "":
		return setting{p.Token, fromProfile}, nil
	case p.TokenFile != "":
		return readToken(p.TokenFile, fromProfile+" (token_file)")
	}
	return setting{source: "none"}, nil
}

// readToken reads a key file. Its errors name the file, never its content.
func readToken(path, source string) (setting, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return setting{}, usagef("API key file (%s): %v", source, err)
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return setting{}, usagef("API key file %s (%s) is empty", path, source)
	}
	return setting{tok, source + " " + path}, nil
}

// tlsOn reports whether the settings ask for TLS: --tls, or any TLS file or
// name, unless --tls=false was given explicitly.
func (s *settings) tlsOn() bool {
	if s.tls.source == "flag --tls" {
		return s.tls.value == "true"
	}
	return s.tls.value == "true" || s.tlsCA.value != "" || s.tlsCert.value != "" || s.tlsServerName.value != ""
}

// dialOptions turns the settings into client.Dial options.
func (s *settings) dialOptions() ([]grpc.DialOption, time.Duration, error) {
	timeout, err := time.ParseDuration(s.timeout.value)
	if err != nil || timeout <= 0 {
		return nil, 0, usagef("timeout %q (%s) is not a positive duration such as 30s", s.timeout.value, s.timeout.source)
	}
	opts := []grpc.DialOption{client.WithDefaultTimeout(timeout)}
	if s.token.value != "" {
		opts = append(opts, client.WithToken(s.token.value))
	}
	if !s.tlsOn() {
		if s.tlsKey.value != "" {
			return nil, 0, usagef("--tls-key is set but TLS is off")
		}
		return opts, timeout, nil
	}
	cfg, err := s.tlsConfig()
	if err != nil {
		return nil, 0, err
	}
	return append(opts, client.WithTLS(cfg)), timeout, nil
}

func (s *settings) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: s.tlsServerName.value}
	if s.tlsCA.value != "" {
		pem, err := os.ReadFile(s.tlsCA.value)
		if err != nil {
			return nil, usagef("TLS CA (%s): %v", s.tlsCA.source, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usagef("TLS CA %s (%s) holds no PEM certificate", s.tlsCA.value, s.tlsCA.source)
		}
		cfg.RootCAs = pool
	}
	switch {
	case s.tlsCert.value != "" && s.tlsKey.value != "":
		cert, err := tls.LoadX509KeyPair(s.tlsCert.value, s.tlsKey.value)
		if err != nil {
			return nil, usagef("TLS client certificate: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case s.tlsCert.value != "" || s.tlsKey.value != "":
		return nil, usagef("mutual TLS needs both --tls-cert and --tls-key")
	}
	return cfg, nil
}

// plaintextKeyOffLoopback reports whether the key would cross a network
// readable: sent without TLS to an address that is not this machine.
func (s *settings) plaintextKeyOffLoopback() bool {
	if s.token.value == "" || s.tlsOn() {
		return false
	}
	host, _, err := net.SplitHostPort(s.addr.value)
	if err != nil {
		host = s.addr.value
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// describe returns the settings as rows for `config show`, the key as
// "set" or "unset" only.
func (s *settings) describe() [][]any {
	tok := "unset"
	if s.token.value != "" {
		tok = "set"
	}
	profile := s.profile.value
	if profile == "" {
		profile = "(none)"
	}
	return [][]any{
		{"profile", profile, s.profile.source},
		{"addr", s.addr.value, s.addr.source},
		{"token", tok, s.token.source},
		{"tls", strconv.FormatBool(s.tlsOn()), s.tls.source},
		{"tls_ca", s.tlsCA.value, s.tlsCA.source},
		{"tls_cert", s.tlsCert.value, s.tlsCert.source},
		{"tls_key", s.tlsKey.value, s.tlsKey.source},
		{"tls_server_name", s.tlsServerName.value, s.tlsServerName.source},
		{"timeout", s.timeout.value, s.timeout.source},
	}
}
