package main

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Every exit code the help promises, from a real server (or none), with the
// error on stderr as "goodwill: CODE: message".
func TestExitCodes(t *testing.T) {
	t.Parallel()
	down := freeAddr() // nothing listens there
	tests := []struct {
		name   string
		args   []string // after --addr and --token-file of the shared server, unless raw
		raw    bool
		code   int
		stderr string // a prefix of stderr
	}{
		{name: "not found", args: []string{"customer", "get", "nobody-at-all"}, code: exitNotFound,
			stderr: `goodwill: NOT_FOUND: customer "nobody-at-all" not found`},
		{name: "bad kind, found before any call", args: []string{"record", "ex1", "praise"}, code: exitUsage,
			stderr: `goodwill: unknown event kind "praise": one of credit, reliable_delivery,`},
		{name: "reversal is not recordable", args: []string{"record", "ex1", "reversal"}, code: exitUsage,
			stderr: `goodwill: unknown event kind "reversal"`},
		{name: "invalid argument from the server", args: []string{"record", "ex1", "credit", "--magnitude", "-2"}, code: exitUsage,
			stderr: "goodwill: INVALID_ARGUMENT: event.magnitude: "},
		{name: "missing argument", args: []string{"balance"}, code: exitUsage, stderr: "goodwill: accepts 1 arg(s), received 0"},
		{name: "unknown flag", args: []string{"balance", "ex1", "--asof", "now"}, code: exitUsage, stderr: "goodwill: unknown flag: --asof"},
		{name: "unknown command", args: []string{"balanse"}, code: exitUsage, stderr: `goodwill: unknown command "balanse" for "goodwill"; did you mean balance or balances?`},
		{name: "unknown subcommand", args: []string{"webhooks", "remove"}, code: exitUsage, stderr: `goodwill: unknown command "remove" for "goodwill webhooks"`},
		{name: "bad output format", args: []string{"whoami", "-o", "yaml"}, code: exitUsage, stderr: `goodwill: -o "yaml": one of table, json, csv`},
		{name: "bad time", args: []string{"balance", "ex1", "--as-of", "yesterday"}, code: exitUsage, stderr: `goodwill: --as-of "yesterday": not a time`},
		{name: "bad token", raw: true, args: []string{"--addr", srv.grpcAddr, "--token", "gwk_0123456789abcdef_not-a-real-secret", "whoami"},
			code: exitPermission, stderr: "goodwill: UNAUTHENTICATED: "},
		{name: "no token", raw: true, args: []string{"--addr", srv.grpcAddr, "whoami"}, code: exitPermission,
			stderr: "goodwill: UNAUTHENTICATED: "},
		{name: "server down", raw: true, args: []string{"--addr", down, "--token-file", srv.keyFile, "--timeout", "3s", "balance", "ex1"},
			code: exitUnavailable, stderr: "goodwill: UNAVAILABLE: "},
		{name: "unknown event", args: []string{"reverse", "ex1", "not-an-event-of-ex1"}, code: exitNotFound, stderr: "goodwill: NOT_FOUND: "},
		{name: "help", args: []string{"--help"}, code: exitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r result
			if tt.raw {
				r = gwRaw(t, tt.args...)
			} else {
				r = gw(t, tt.args...)
			}
			if r.code != tt.code || !strings.HasPrefix(r.stderr, tt.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d, stderr starting %q", r.code, r.stderr, tt.code, tt.stderr)
			}
			if tt.code != exitOK && r.stdout != "" {
				t.Fatalf("a failure printed on stdout: %q", r.stdout)
			}
		})
	}
}

// The help documents the exit codes the tests above pin.
func TestHelpListsExitCodes(t *testing.T) {
	t.Parallel()
	out := gwRaw(t, "--help").ok(t).stdout
	for _, want := range []string{"Exit codes:", "2  usage error", "3  not found", "4  no permission", "5  unavailable"} {
		if !strings.Contains(out, want) {
			t.Fatalf("--help lacks %q", want)
		}
	}
}

func TestExitCodeTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"usage", usagef("bad"), exitUsage},
		{"wrapped usage", errors.Join(errors.New("x"), usagef("bad")), exitUsage},
		{"invalid argument", status.Error(codes.InvalidArgument, "x"), exitUsage},
		{"not found", status.Error(codes.NotFound, "x"), exitNotFound},
		{"unauthenticated", status.Error(codes.Unauthenticated, "x"), exitPermission},
		{"permission denied", status.Error(codes.PermissionDenied, "x"), exitPermission},
		{"unavailable", status.Error(codes.Unavailable, "x"), exitUnavailable},
		{"deadline", status.Error(codes.DeadlineExceeded, "x"), exitUnavailable},
		{"already exists", status.Error(codes.AlreadyExists, "x"), exitError},
		{"failed precondition", status.Error(codes.FailedPrecondition, "x"), exitError},
		{"plain", errors.New("x"), exitError},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: exitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
}
