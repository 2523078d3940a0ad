// Package postgres is the production ledger store: CockroachDB, or
// PostgreSQL, over pgx v5. It detects which server it talks to at open and
// runs write transactions the way that server needs (see tx.go). It passes
// the same conformance suite as the embedded store.
//
// It must never hold ledger rules: those live in package ledger.
package postgres

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a ledger.Store on a CockroachDB or PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// connConfig is the pool's connection settings, session pins included,
	// from which Migrate opens its own connections.
	connConfig *pgx.ConnConfig
	crdb       bool
	log        *slog.Logger
	policy     retryPolicy
	// retries counts transaction runs that were retried, and
	// staleFallbacks stale reads answered fresh, for the logs, the
	// metrics and the benchmarks.
	retries        atomic.Int64
	staleFallbacks atomic.Int64
	// numbered is the last notification number a committed write gave.
	numbered sqlstore.NumberMark
	// writers admits this many write transactions at once.
	writers chan struct{}
	// staleRead is the statement that makes a read stale (followerRead on
	// CockroachDB); "" when the server has none.
	staleRead string
	// migrations are the schema's versions (the embedded files; a test may
	// substitute its own).
	migrations fs.FS
}

var _ ledger.Store = (*Store)(nil)

// Options tune Open.
type Options struct {
	// Migrate applies pending migrations at open.
	Migrate bool
	Logger  *slog.Logger
	// MaxAttempts bounds the runs of one transaction, the first included
	// (default 50, as cockroach-go's): a hot customer under many writers
	// needs several.
	MaxAttempts int
	// MaxWriters bounds concurrent write transactions in this process
	// (default 1). Serializable transactions that touch the same customers
	// abort each other; large batches from several callers overlapping in
	// customers could retry each other out of time. One writer per replica
	// removes that contention within the replica; raise it when writes
	// rarely share customers.
	MaxWriters int

	// dial replaces the pool's connection dialer (tests count round trips).
	dial pgconn.DialFunc
	// idleInTransaction replaces DefaultIdleInTransaction (tests).
	idleInTransaction time.Duration
}

// DefaultIdleInTransaction is how long the server lets one of the store's
// sessions sit idle inside a transaction before it ends the session
// (idle_in_transaction_session_timeout). The store's transactions never
// wait between statements for anything but its own computing, a few
// milliseconds; a session idle that long inside one lost its client: a
// request cut off between two statements, or a write whose COMMIT never
// arrived. Until the server notices the client is gone (a TCP timeout, up
// to hours across a silent network) such a transaction keeps its row
// locks, a customer's or the notification counter's, and every later
// write that needs them waits. A --db URL that sets the parameter in its
// options wins.
const DefaultIdleInTransaction = 10 * time.Second

// setting is one session setting and the value the store needs.
type setting struct{ name, value string }

// sessionPins are the session settings the store's results depend on, on
// this server. They travel with every connection (the startup "options"),
// so they beat an operator's role or database defaults; Open then checks
// that they took.
func sessionPins(crdb bool) []setting {
	// Every write and exact read names its own isolation, but a read-only
	// default would refuse every write.
	pins := []setting{{"default_transaction_read_only", "off"}}
	if crdb {
		pins = append(pins, cockroachPins...)
	}
	return pins
}

// Open connects to url (postgres:// or postgresql://) and detects the
// server.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	policy := defaultRetry
	if o.MaxAttempts > 0 {
		policy.attempts = o.MaxAttempts
	}
	if o.MaxWriters <= 0 {
		o.MaxWriters = 1
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message can quote the URL, password included.
		return nil, errors.New("invalid database URL (check its syntax; it is not shown because it may hold a password)")
	}
	// Plan every statement with its actual parameters. pgx's default caches
	// named prepared statements, and after a few runs the server may switch
	// them to a generic plan chosen while the tables were small; as they
	// grew, batch reads kept that plan (seen as a 20x slowdown in the
	// benchmark). Descriptions are still cached: one round trip a query.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	// The batch statements' arrays skip pgx's generic element-by-element
	// encoder (arrays.go).
	cfg.AfterConnect = flatArrays
	// A connection attempt to a database that does not answer (a dropped
	// network, a host gone) must fail in bounded time even under a context
	// without a deadline; connect_timeout in the URL overrides it.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	where := fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	version, err := serverVersion(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", where, err)
	}
	crdb := isCockroach(version)
	pins := sessionPins(crdb)
	pin(cfg.ConnConfig, pins)
	// Defaults go first, before the pins and the URL's own options, which
	// so win over them; unlike the pins they are not checked.
	idle := cmp.Or(o.idleInTransaction, DefaultIdleInTransaction)
	pin(cfg.ConnConfig, []setting{{"idle_in_transaction_session_timeout", strconv.FormatInt(idle.Milliseconds(), 10)}})
	if o.dial != nil {
		cfg.ConnConfig.DialFunc = o.dial
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s := &Store{pool: pool, connConfig: cfg.ConnConfig, crdb: crdb, log: o.Logger, policy: policy,
		writers: make(chan struct{}, o.MaxWriters), migrations: mustSub(migrations, "migrations")}
	if crdb {
		s.staleRead = followerRead
	}
	if err := s.checkSession(ctx, pins); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	o.Logger.Info("connected to the store", "server", s.Server(), "version", version)
	if o.Migrate {
		if err := s.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// serverVersion asks the server what it is, on a connection of its own:
// the session pins depend on the answer.
func serverVersion(ctx context.Context, cc *pgx.ConnConfig) (string, error) {
	conn, err := pgx.ConnectConfig(ctx, cc.Copy())
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var version string
	err = conn.QueryRow(ctx, `SELECT version()`).Scan(&version)
	return version, err
}

// pin puts the settings first in the connections' startup options, where
// any the --db URL sets itself come later and win (Open then refuses
// them, naming the setting).
func pin(cc *pgx.ConnConfig, pins []setting) {
	var b strings.Builder
	for _, p := range pins {
		fmt.Fprintf(&b, "-c %s=%s ", p.name, p.value)
	}
	cc.RuntimeParams["options"] = strings.TrimSpace(b.String() + cc.RuntimeParams["options"])
}

// checkSession refuses a connection on which a pinned setting does not
// hold: the --db URL overrides it, or a connection pooler dropped the
// startup options, and results would change (stale exact reads, refused
// writes, refused scans).
func (s *Store) checkSession(ctx context.Context, pins []setting) error {
	var wrong []string
	for _, p := range pins {
		var got string
		if err := s.pool.QueryRow(ctx, `SELECT current_setting($1)`, p.name).Scan(&got); err != nil {
			return fmt.Errorf("read session setting %s: %w", p.name, err)
		}
		if !strings.EqualFold(got, p.value) {
			wrong = append(wrong, fmt.Sprintf("%s is %q, want %q", p.name, got, p.value))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("the store's connections do not hold the session settings it relies on (%s); "+
			"remove them from the --db URL, or, behind a connection pooler that drops startup options, "+
			"set them as the role's defaults (ALTER ROLE ... SET); docs/deploy-cockroachdb.md says why each matters",
			strings.Join(wrong, "; "))
	}
	return nil
}

// DefaultConnectTimeout bounds one connection attempt when the URL sets no
// connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

// Server names the server: "cockroachdb" or "postgresql".
func (s *Store) Server() string {
	if s.crdb {
		return "cockroachdb"
	}
	return "postgresql"
}

// Retries returns how many transaction runs have been retried.
func (s *Store) Retries() int64 { return s.retries.Load() }

// StaleFallbacks returns how many stale reads were answered fresh because
// the server refused the stale one.
func (s *Store) StaleFallbacks() int64 { return s.staleFallbacks.Load() }

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // dir is a constant naming an embedded folder
	}
	return sub
}
