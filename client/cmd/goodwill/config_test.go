package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// freshConfig gives the test an empty config directory of its own.
func freshConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	return filepath.Join(dir, "goodwill", "config.json")
}

// effective is what config show -o json says of one setting.
func effective(t *testing.T, setting string, args ...string) (value, source string) {
	t.Helper()
	var show map[string]struct{ Value, Source string }
	gwRaw(t, append(args, "config", "show", "-o", "json")...).ok(t).decode(t, &show)
	s, ok := show[setting]
	if !ok {
		t.Fatalf("config show has no %q: %v", setting, show)
	}
	return s.Value, s.Source
}

// Flag > environment > profile > default, for each setting, shown by config
// show and obeyed by real calls: a dead address at a higher level fails the
// call, the live one at a higher level rescues it.
func TestProfilePrecedence(t *testing.T) {
	path := freshConfig(t)
	dead := freeAddr()

	if v, src := effective(t, "addr"); v != DefaultAddr || src != "default" {
		t.Fatalf("no settings: addr %q from %q", v, src)
	}
	gwRaw(t, "config", "set-profile", "live", "--addr", srv.grpcAddr, "--token-file", srv.keyFile, "--use").ok(t)
	gwRaw(t, "config", "set-profile", "dead", "--addr", dead, "--token-file", srv.keyFile, "--timeout", "2s").ok(t)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("config file mode %v, want 0600", st.Mode().Perm())
	}

	// The current profile.
	if v, src := effective(t, "addr"); v != srv.grpcAddr || src != "profile live" {
		t.Fatalf("current profile: addr %q from %q", v, src)
	}
	gwRaw(t, "whoami").ok(t)

	// The environment beats the profile...
	t.Setenv(envAddr, dead)
	if v, src := effective(t, "addr"); v != dead || src != "env "+envAddr {
		t.Fatalf("env: addr %q from %q", v, src)
	}
	if r := gwRaw(t, "whoami", "--timeout", "2s"); r.code != exitUnavailable {
		t.Fatalf("env's dead address over the live profile: exit %d, %s", r.code, r.all())
	}
	// ...and a flag beats the environment.
	if v, src := effective(t, "addr", "--addr", srv.grpcAddr); v != srv.grpcAddr || src != "flag --addr" {
		t.Fatalf("flag: addr %q from %q", v, src)
	}
	gwRaw(t, "--addr", srv.grpcAddr, "whoami").ok(t)
	os.Unsetenv(envAddr)

	// GOODWILL_PROFILE picks another profile than the current one, and
	// --profile beats it.
	t.Setenv(envProfile, "dead")
	if v, src := effective(t, "timeout"); v != "2s" || src != "profile dead" {
		t.Fatalf("GOODWILL_PROFILE: timeout %q from %q", v, src)
	}
	if r := gwRaw(t, "whoami"); r.code != exitUnavailable {
		t.Fatalf("GOODWILL_PROFILE=dead: exit %d, %s", r.code, r.all())
	}
	gwRaw(t, "--profile", "live", "whoami").ok(t)
	if r := gwRaw(t, "--profile", "nope", "whoami"); r.code != exitUsage || !strings.Contains(r.stderr, `no profile "nope"`) {
		t.Fatalf("--profile nope: exit %d, %s", r.code, r.all())
	}
	os.Unsetenv(envProfile)

	// The key: GOODWILL_TOKEN beats the profile's file, --token-file beats
	// GOODWILL_TOKEN.
	t.Setenv(envToken, "gwk_0000000000000000_wrong")
	if _, src := effective(t, "token"); src != "env "+envToken {
		t.Fatalf("token from %q", src)
	}
	if r := gwRaw(t, "whoami"); r.code != exitPermission {
		t.Fatalf("a wrong GOODWILL_TOKEN over the profile's key: exit %d, %s", r.code, r.all())
	}
	gwRaw(t, "--token-file", srv.keyFile, "whoami").ok(t)
	if r := gwRaw(t, "--token", "x", "--token-file", srv.keyFile, "whoami"); r.code != exitUsage {
		t.Fatalf("--token and --token-file: exit %d", r.code)
	}
	os.Unsetenv(envToken)

	// use-profile switches; "" leaves none current.
	gwRaw(t, "config", "use-profile", "dead").ok(t)
	if _, src := effective(t, "addr"); src != "profile dead" {
		t.Fatalf("after use-profile dead: addr from %q", src)
	}
	gwRaw(t, "config", "use-profile", "").ok(t)
	if _, src := effective(t, "addr"); src != "default" {
		t.Fatalf("after use-profile \"\": addr from %q", src)
	}
	if r := gwRaw(t, "config", "use-profile", "nope"); r.code != exitUsage {
		t.Fatalf("use-profile nope: exit %d", r.code)
	}
	gwRaw(t, "config", "delete-profile", "dead").ok(t)
	var list struct {
		Profiles []struct{ Name string } `json:"profiles"`
	}
	gwRaw(t, "config", "list").ok(t).decode(t, &list)
	if len(list.Profiles) != 1 || list.Profiles[0].Name != "live" {
		t.Fatalf("after delete-profile: %+v", list)
	}
}

// A key never appears in anything goodwill prints: profile listings in
// every format, config show, set-profile's echo, the config file's
// warnings, and error messages, even when the server or gRPC would quote
// it.
func TestTokenNeverPrinted(t *testing.T) {
	path := freshConfig(t)
	const fake = "gwk_feedfacefeedface_s3cr3t-never-shown"
	gwRaw(t, "config", "set-profile", "real", "--addr", srv.grpcAddr, "--token", srv.token, "--use").ok(t)
	gwRaw(t, "config", "set-profile", "fake", "--addr", srv.grpcAddr, "--token", fake).ok(t)
	raw, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(raw), srv.token) {
		t.Fatalf("the profile did not store its key (%v)", err)
	}
	// A config file others can read earns a warning, which names no key.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}

	var runs []result
	for _, args := range [][]string{
		{"config", "list", "-o", "table"},
		{"config", "list", "-o", "json"},
		{"config", "list", "-o", "csv"},
		{"config", "show", "-o", "table"},
		{"config", "show", "-o", "json"},
		{"config", "show", "-o", "csv"},
		{"--profile", "fake", "config", "show"},
		{"config", "set-profile", "fake", "--token", fake, "-o", "table"},
		{"config", "set-profile", "fake", "--token", fake, "-o", "json"},
		{"whoami", "-o", "table"},
		{"whoami", "-o", "json"},
		{"--profile", "fake", "whoami"},                                          // UNAUTHENTICATED
		{"--profile", "fake", "--addr", freeAddr(), "whoami", "--timeout", "2s"}, // UNAVAILABLE
		{"--token", fake, "balance", "nobody"},
		{"--token", fake, "whoami", "extra-arg"},          // usage error
		{"--token", fake, "--timeout", "never", "whoami"}, // flag error
		{fake}, // a key typed as a command
		{"gwk_abcdef0123456789_unconfigured-secret"}, // one goodwill was never given
		{"--token", "bad\nkey " + fake, "whoami"},    // a key gRPC refuses to send
		{"--token", fake, "--tls-ca", "/nonexistent", "whoami"},
	} {
		r := gwRaw(t, args...)
		runs = append(runs, r)
		for _, secret := range []string{srv.token, fake, "s3cr3t-never-shown", "unconfigured-secret"} {
			if strings.Contains(r.all(), secret) {
				t.Fatalf("goodwill %q printed a key:\n%s", args, r.all())
			}
		}
	}
	// The runs did what they should, so the absence means something.
	if !strings.Contains(runs[0].stdout, "set") || !strings.Contains(runs[0].stderr, "readable by others") {
		t.Fatalf("config list:\n%s", runs[0].all())
	}
	var list struct {
		Profiles []struct{ Name, Token string } `json:"profiles"`
	}
	if err := json.Unmarshal([]byte(runs[1].stdout), &list); err != nil || len(list.Profiles) != 2 || list.Profiles[0].Token != "set" {
		t.Fatalf("config list -o json: %v\n%s", err, runs[1].stdout)
	}
	if runs[9].code != exitOK || runs[11].code != exitPermission || runs[12].code != exitUnavailable || runs[16].code != exitUsage ||
		!strings.Contains(runs[17].stderr, "gwk_abcdef0123456789_[redacted]") {
		t.Fatalf("exit codes %d %d %d %d; %s", runs[9].code, runs[11].code, runs[12].code, runs[16].code, runs[17].stderr)
	}
}
