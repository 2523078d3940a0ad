package store

import (
	"context"
	"fmt"
	"log/slog"
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
// demand (`goodwilld migrate`).
type Migrator interface {
	Migrate(ctx context.Context) error
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
	default:
		return nil, fmt.Errorf("--db %q: unknown scheme; use sqlite:PATH or postgres://...", redact(dbURL))
	}
}

// redact hides a password in a URL before it is logged or shown.
func redact(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return u
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	return scheme + "://" + user + ":***" + rest[at:]
}
