package app_test

import (
	"log/slog"
	"net/url"
	"strings"
	"testing"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
)

// A --db URL's password never reaches the log, from start to stop.
func TestDBPasswordIsNotLogged(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.FreshDB(t, pgtest.Servers()[0]))
	if err != nil {
		t.Fatal(err)
	}
	// The test server trusts local connections, so any password works; a
	// server that checks them has its own in the URL already.
	secret, ok := u.User.Password()
	if !ok {
		secret = "s3cret-pw"
		u.User = url.UserPassword(u.User.Username(), secret)
	}
	var logs syncBuffer
	s := startServer(t, u.String(), func(c *app.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if _, err := s.GetPolicy(t.Context(), &goodwillv1.GetPolicyRequest{}); err != nil {
		t.Fatal(err)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "goodwilld serving") || !strings.Contains(out, `db="postgres://`+u.User.Username()+":xxxxx@") {
		t.Errorf("no start line naming the redacted store:\n%s", out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("the log holds the database password:\n%s", out)
	}
}
