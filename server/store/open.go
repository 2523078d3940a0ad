package store

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/postgres"
	"github.com/goodwill-ledger/goodwill/server/store/sqlite"
)

// Options apply to every backend.
type Options struct {
	// Migrate applies pending migrations at open.
	Migrate bool
	Logger  *slog.Logger
	// Writers bounds concurrent write transactions on stores that allow
	// several (PostgreSQL, CockroachDB; default 1). SQLite has one writer.
	Writers int
}

// Backend is what every store keeps: the ledger and the API keys.
type Backend interface {
	ledger.Store
	auth.KeyStore
}

// Migrator is implemented by backends that can apply their migrations on
// demand (`goodwilld migrate`) and say how many are pending.
type Migrator interface {
	Migrate(ctx context.Context) error
	Pending(ctx context.Context) (int, error)
}

// RequireMigrated refuses a store whose schema is behind this binary's,
// naming the command that brings it up to date.
func RequireMigrated(ctx context.Context, b Backend, dbURL string) error {
	m, ok := b.(Migrator)
	if !ok {
		return nil
	}
	n, err := m.Pending(ctx)
	if err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("the store at %s has %d pending migration(s): run `goodwilld migrate --db ...` first "+
			"(or start `goodwilld serve`, which migrates unless --no-auto-migrate)", Redact(dbURL), n)
	}
	return nil
}

var (
	_ Migrator = (*sqlite.Store)(nil)
	_ Migrator = (*postgres.Store)(nil)
	_ Granter  = (*postgres.Store)(nil)
)

// Granter is implemented by backends whose users have privileges
// (PostgreSQL, CockroachDB): it grants a role what goodwilld needs.
type Granter interface {
	Grant(ctx context.Context, role string) error
}

// Open opens the backend a --db URL names:
//
//	sqlite:PATH            the embedded store (default sqlite:data/goodwill.db)
//	postgres://, postgresql://   CockroachDB or PostgreSQL (detected at open)
func Open(ctx context.Context, dbURL string, o Options) (Backend, error) {
	switch {
	case strings.HasPrefix(dbURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")
		if path == "" {
			return nil, fmt.Errorf("--db %q: the sqlite URL needs a file path, as in sqlite:data/goodwill.db", dbURL)
		}
		return sqlite.Open(ctx, path, sqlite.Options{Migrate: o.Migrate, Logger: o.Logger})
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		return postgres.Open(ctx, dbURL, postgres.Options{Migrate: o.Migrate, Logger: o.Logger, MaxWriters: o.Writers})
	case !strings.ContainsAny(dbURL, ":=@ ") && dbURL != "":
		// A bare path (data/goodwill.db): say what to write.
		return nil, fmt.Errorf("--db %q: a database file is named with the sqlite: scheme, as in --db sqlite:%s", dbURL, dbURL)
	default:
		return nil, fmt.Errorf("--db %q: unknown scheme; use sqlite:PATH or postgres://...", Redact(dbURL))
	}
}

// Redact returns dbURL fit for a log line or an error message: a password
// in the user info (postgres://u:pw@host) or in a password query parameter
// (?password=pw, which pgx accepts) is masked. A sqlite: URL holds only a
// path and comes back unchanged. Anything that is not a URL with a scheme,
// such as a key=value DSN ("host=db password=pw"), could hold a password
// anywhere, so none of it is shown.
func Redact(dbURL string) string {
	if strings.HasPrefix(dbURL, "sqlite:") {
		return dbURL
	}
	u, err := url.Parse(dbURL)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return "(not a URL; not shown, it may hold a password)"
	}
	if q := u.Query(); len(q) > 0 {
		masked := false
		for k := range q {
			if strings.EqualFold(k, "password") {
				q[k] = []string{"xxxxx"}
				masked = true
			}
		}
		if masked {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}
