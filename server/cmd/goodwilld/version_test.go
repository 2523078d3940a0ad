package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/buildinfo"
)

// runRoot runs goodwilld's command tree in-process and returns its stdout.
func runRoot(t *testing.T, args ...string) string {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		t.Fatalf("goodwilld %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// `goodwilld version` prints every field, one a line; --version the one
// line. A broken GOODWILL_* variable, which would stop serve, does not stop
// a version check.
func TestVersionCommand(t *testing.T) {
	t.Setenv("GOODWILL_LOG_LEVEL", "not-a-level")
	i := buildinfo.Get()
	got := runRoot(t, "version")
	want := "version:    " + i.Version + "\n" +
		"commit:     " + i.Commit + "\n" +
		"build date: " + i.BuildDate + "\n" +
		"go version: " + runtime.Version() + "\n"
	if got != want {
		t.Errorf("goodwilld version printed\n%s\nwant\n%s", got, want)
	}
	if got, want := runRoot(t, "--version"), i.String()+"\n"; got != want {
		t.Errorf("goodwilld --version printed %q, want %q", got, want)
	}
}

// A release build sets the version, commit and date with -ldflags -X, as
// the Makefile does; the real binary prints what it was given. (A renamed
// variable in server/buildinfo would make -X silently do nothing.)
func TestVersionFromLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds goodwilld")
	}
	const pkg = "github.com/goodwill-ledger/goodwill/server/buildinfo"
	bin := filepath.Join(t.TempDir(), "goodwilld")
	ldflags := "-X " + pkg + ".version=v9.8.7-test -X " + pkg + ".commit=feedface-dirty -X " + pkg + ".buildDate=2026-10-01T12:00:00Z"
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("goodwilld version: %v\n%s", err, out)
	}
	for _, want := range []string{"version:    v9.8.7-test\n", "commit:     feedface-dirty\n",
		"build date: 2026-10-01T12:00:00Z\n", "go version: go1."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("goodwilld version printed\n%s\nwithout %q", out, want)
		}
	}
	out, err = exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("goodwilld --version: %v\n%s", err, out)
	}
	if want := "goodwilld v9.8.7-test (commit feedface-dirty, built 2026-10-01T12:00:00Z, go1."; !strings.HasPrefix(string(out), want) {
		t.Errorf("goodwilld --version printed %q, want it to begin %q", out, want)
	}
}
