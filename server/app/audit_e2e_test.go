package app_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/auth"
)

// The per-call log line names the caller's key and tenant; every refused
// call is logged with its reason and origin, never with the token.
func TestCallsAreLoggedWithCallerAndRefusalsWithReason(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := startServer(t, "", func(c *app.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.RateLimit = auth.RateLimits{PerSecond: 0.001, Burst: 3}
	})
	ctx := t.Context()
	keyID := func(token string) string { return token[len("gwk_") : len("gwk_")+keyIDLen] }
	const getBalance = "/goodwill.v1.GoodwillService/GetBalance"
	balance := &goodwillv1.GetBalanceRequest{CustomerId: "c1"}
	// Well formed, but no such key.
	bogus := "gwk_0123456789abcdef_" + strings.Repeat("A", 43)
	writer := s.newKey(t, "acme", auth.Writer)
	reader := s.newKey(t, "acme", auth.Reader)

	if _, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.dialAs(t, "").GetBalance(ctx, balance)
	wantCode(t, err, codes.Unauthenticated)
	_, err = s.dialAs(t, bogus).GetBalance(ctx, balance)
	wantCode(t, err, codes.Unauthenticated)
	_, err = s.dialAs(t, writer).GetBalance(ctx, balance)
	wantCode(t, err, codes.PermissionDenied)
	if r := s.restAs(t, bogus, http.MethodGet, "/v1/customers/c1/balance", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("REST with an unknown key: HTTP %d %s", r.Status, r.Raw)
	}
	rc := s.dialAs(t, reader)
	for range 3 {
		if _, err := rc.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = rc.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
	wantCode(t, err, codes.ResourceExhausted)

	out := logs.String()
	lines := strings.Split(out, "\n")
	wantLine := func(what string, parts ...string) {
		t.Helper()
		for _, l := range lines {
			if all(l, parts) {
				return
			}
		}
		t.Errorf("no log line for %s with %q; log:\n%s", what, parts, out)
	}
	wantLine("a successful call", `msg="finished call"`, "grpc.method=GetPolicy", "grpc.code=OK",
		"key_id="+keyID(s.token), "tenant=default")
	wantLine("a call without a key", "level=INFO", `msg="call refused"`, "method="+getBalance, `reason="missing key"`,
		"peer=127.0.0.1:")
	wantLine("an unknown key", "level=INFO", `msg="call refused"`, "method="+getBalance, `reason="invalid or revoked key"`,
		"key_id="+keyID(bogus), "peer=127.0.0.1:")
	wantLine("a role refusal", "level=INFO", `msg="call refused"`, "method="+getBalance,
		`reason="role writer may not call `+getBalance+`"`, "key_id="+keyID(writer))
	wantLine("a refusal through REST", "level=INFO", `msg="call refused"`, `reason="invalid or revoked key"`,
		"peer=gateway", "forwarded_for=127.0.0.1")
	wantLine("a rate-limit refusal", "level=DEBUG", `msg="call refused"`, `reason="over the rate limit"`,
		"key_id="+keyID(reader))
	for _, token := range []string{s.token, bogus, writer, reader} {
		if secret := token[len("gwk_")+keyIDLen+1:]; strings.Contains(out, secret) {
			t.Errorf("the log holds the secret of %s:\n%s", keyID(token), out)
		}
	}
}

func all(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// keyIDLen is the length of the key id in a token (gwk_<id>_<secret>).
const keyIDLen = 16
