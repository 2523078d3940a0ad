// Package sqlite is the embedded ledger store: one SQLite file in WAL mode
// with full durability, through the pure-Go modernc.org/sqlite driver (no
// cgo). It is the zero-setup default and passes the same conformance suite
// as the production store; any difference in behaviour is a bug.
//
// It must never hold ledger rules: those live in package ledger.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a ledger.Store on one SQLite file.
type Store struct {
	// SQLite allows one writer at a time, so writes go through a pool of
	// one connection whose transactions begin IMMEDIATE (taking the write
	// lock up front instead of failing at the first write). Reads use their
	// own pool and see WAL snapshots while a write is in progress.
	writer *sql.DB
	reader *sql.DB
	// numbered is the last notification number a committed write gave.
	numbered sqlstore.NumberMark
	// Prepared statements, per pool.
	writeStmts, readStmts *stmtCache
	log                   *slog.Logger
	// path is the database file, for explaining disk errors.
	path string
	// ckpt copies the WAL back into the database file beside the writer
	// (checkpoint.go).
	ckpt *checkpointer
}

var _ ledger.Store = (*Store)(nil)

// Options tune Open.
type Options struct {
	// Migrate applies pending migrations at open (the zero-setup default).
	Migrate bool
	// ReadConns caps the read pool (default 4).
	ReadConns int
	Logger    *slog.Logger
}

// Open opens (creating if needed) the database file at path.
func Open(ctx context.Context, path string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 4
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database folder: %w", err)
		}
	}
	// synchronous(FULL): in WAL mode NORMAL can lose the last commits on
	// power loss; a ledger acknowledges nothing it could lose.
	pragmas := []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append(pragmas, extra...) {
			q.Add("_pragma", p)
		}
		// Escape the path: SQLite reads "file:" names as URIs, where # ? and
		// % would otherwise cut or change it.
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	// The writer's page cache at 32 MiB instead of SQLite's 2 MiB, and a
	// checkpoint every 16,384 WAL pages (64 MiB) instead of every 1,000:
	// a batch of single events dirties a few random pages per event (the
	// event's, its indexes', the customer's ranks'), so with the default
	// cache the write path re-read pages as the file grew, and it
	// checkpointed every second commit (10% of the server's CPU). Server
	// CPU per single event 366-500 -> 330-360 us, and rates 10-45% higher,
	// in one goodwillbench session (docs/benchmarks.md, round 2). 64 MiB
	// measured the same and took the server's peak RSS over 256 MB. The
	// checkpoints themselves now run beside the writer, and the writer's
	// threshold is a backstop (checkpoint.go, writerCheckpointPages).
	writer, err := sql.Open("sqlite", dsn("cache_size(-32768)",
		fmt.Sprintf("wal_autocheckpoint(%d)", writerCheckpointPages))+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	writer.SetConnMaxIdleTime(0)
	reader, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		writer.Close()
		return nil, err
	}
	reader.SetMaxOpenConns(o.ReadConns)
	// Every one stays open. database/sql keeps two idle by default, so
	// with more readers busy at once it closed the others as they came
	// back and opened new ones for the next reads: each new connection
	// read the schema and prepared the hot statements again, a third of
	// the server's CPU for GetBalance from 8 clients.
	reader.SetMaxIdleConns(o.ReadConns)
	reader.SetConnMaxIdleTime(0)
	ckptDB, err := sql.Open("sqlite", dsn())
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, err
	}
	ckptDB.SetMaxOpenConns(1)
	s := &Store{writer: writer, reader: reader, log: o.Logger, path: path}
	s.ckpt = startCheckpointer(ckptDB, checkpointEvery, func(err error) {
		if err != nil {
			s.log.Warn("sqlite checkpoints are failing; retrying every round, the writer checkpoints itself past its own threshold",
				"err", s.explainDisk(err))
			return
		}
		s.log.Info("sqlite checkpoints succeed again")
	})
	if err := writer.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, translate(err))
	}
	if o.Migrate {
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	// Statements need the schema. On a file not migrated yet (and not
	// migrating now) they stay unprepared: slower, not wrong.
	if err := s.prepare(ctx); err != nil && o.Migrate {
		s.Close()
		return nil, fmt.Errorf("prepare statements: %w", err)
	}
	return s, nil
}

// Migrate applies every pending embedded migration, in order.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.migrator()
	if err != nil {
		return err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range res {
		s.log.Info("applied migration", "store", "sqlite", "version", r.Source.Version, "took", r.Duration)
	}
	return nil
}

// Pending reports how many migrations have not been applied.
func (s *Store) Pending(ctx context.Context) (int, error) {
	p, err := s.migrator()
	if err != nil {
		return 0, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range st {
		if m.State == goose.StatePending {
			n++
		}
	}
	return n, nil
}

func (s *Store) migrator() (*goose.Provider, error) {
	return goose.NewProvider(goose.DialectSQLite3, s.writer, mustSub(migrations, "migrations"),
		goose.WithDisableGlobalRegistry(true))
}

// prepare readies the prepared statements of both pools.
func (s *Store) prepare(ctx context.Context) error {
	w, err := newStmtCache(ctx, s.writer, all)
	if err != nil {
		return err
	}
	r, err := newStmtCache(ctx, s.reader, reads)
	if err != nil {
		w.close()
		return err
	}
	s.writeStmts, s.readStmts = w, r
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	s.writeStmts.close()
	s.readStmts.close()
	return errors.Join(s.ckpt.stop(), s.writer.Close(), s.reader.Close())
}

// Update runs fn in an IMMEDIATE transaction. A busy database (another
// process holding the lock past busy_timeout) is retried a few times.
func (s *Store) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	const attempts = 5
	var err error
	for i := range attempts {
		if err = s.update(ctx, fn); !isBusy(err) {
			return s.explainDisk(err)
		}
		s.log.WarnContext(ctx, "sqlite busy, retrying transaction", "attempt", i+1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(i+1) * 20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%w: database stayed busy: %v", ledger.ErrUnavailable, err)
}

// UpdateCustomers is Update: SQLite has one writer at a time, which
// already serializes every write.
func (s *Store) UpdateCustomers(ctx context.Context, fn func(ledger.Tx) error) error {
	return s.Update(ctx, fn)
}

func (s *Store) update(ctx context.Context, fn func(ledger.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	// Roll back on every way out, a panic included: a transaction left open
	// would hold the only writer connection forever. After Commit this is a
	// no-op.
	defer tx.Rollback() //nolint:errcheck
	t := statements.NewTxn(conn{q: tx, tx: tx, stmts: s.writeStmts}, translate)
	if err := fn(t); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return translate(err)
	}
	s.numbered.Note(t)
	s.ckpt.committed()
	return nil
}

// NumberedAtWrite implements ledger.WriteNumberer: SQLite's single writer
// numbers notifications as it writes them.
func (s *Store) NumberedAtWrite() (int64, bool) { return s.numbered.Last(), true }

// View runs fn in a read transaction: one WAL snapshot for all its reads.
func (s *Store) View(ctx context.Context, fn func(ledger.Reader) error) error {
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to lose
	return fn(statements.NewTxn(conn{q: tx, tx: tx, stmts: s.readStmts}, translate))
}

// pool runs single statements on the reader pool: one statement is its
// own snapshot.
func (s *Store) pool() *sqlstore.Txn {
	return statements.NewTxn(conn{q: s.reader, stmts: s.readStmts}, translate)
}

// Lookup reads a customer and the tenant's active policy version in one
// statement, outside any transaction.
func (s *Store) Lookup(ctx context.Context, tenant, id string) (ledger.Customer, int64, error) {
	return s.pool().Lookup(ctx, tenant, id)
}

// Key reads an API key.
func (s *Store) Key(ctx context.Context, id string) (auth.Key, error) { return s.pool().Key(ctx, id) }

// Keys lists a tenant's API keys, or all when tenant is "".
func (s *Store) Keys(ctx context.Context, tenant string) ([]auth.Key, error) {
	return s.pool().Keys(ctx, tenant)
}

// PutKey inserts a key through the writer, like every write.
func (s *Store) PutKey(ctx context.Context, k auth.Key) error {
	return s.Update(ctx, func(tx ledger.Tx) error { return tx.(*sqlstore.Txn).PutKey(ctx, k) })
}

// PutFirstKey inserts k if the store holds no key, in one transaction.
func (s *Store) PutFirstKey(ctx context.Context, k auth.Key) (put bool, err error) {
	err = s.Update(ctx, func(tx ledger.Tx) error {
		put, err = tx.(*sqlstore.Txn).PutFirstKey(ctx, k)
		return err
	})
	return put, err
}

// RevokeKey marks a key revoked. Errors: ledger.ErrNotFound.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return s.Update(ctx, func(tx ledger.Tx) error { return tx.(*sqlstore.Txn).RevokeKey(ctx, id, at) })
}

// ViewStale is View: a single SQLite file has no replicas to read from.
func (s *Store) ViewStale(ctx context.Context, fn func(ledger.Reader) error) error {
	return s.View(ctx, fn)
}

// translate turns driver errors into the ledger's error classes. Errors it
// does not know pass through and become Internal at the API.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT:
		// Unique indexes, and the events_no_replace trigger whose message
		// says UNIQUE too.
		if se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY ||
			strings.Contains(se.Error(), "UNIQUE") {
			return fmt.Errorf("%w: %w", ledger.ErrDuplicate, err)
		}
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		// %w twice: Update's retry still sees BUSY through the class.
		return fmt.Errorf("%w: %w", ledger.ErrUnavailable, err)
	case sqlite3.SQLITE_INTERRUPT:
		// The driver interrupts a statement when its context ends.
		return fmt.Errorf("%w: %w", context.Canceled, err)
	}
	return err
}

// explainDisk turns a failed write on a full, read-only or failing disk
// into an ErrUnavailable whose message says so, so that clients (and the
// operator reading their errors) learn why writes fail. Writes resume by
// themselves once the disk takes them again; nothing needs a restart.
func (s *Store) explainDisk(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	var msg string
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		msg = "the disk holding the embedded store is full: free space on it"
	case sqlite3.SQLITE_READONLY:
		msg = "the embedded store's database is read-only: make it writable"
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		switch why := writable(s.path); {
		case errors.Is(why, errReadOnlyFS):
			msg = "the disk holding the embedded store is read-only: remount it read-write"
		case errors.Is(why, errNotWritable):
			msg = "the embedded store's database file is not writable (permissions or immutable flag): make it writable"
		default:
			msg = "the embedded store hit a disk I/O error: check the disk"
		}
	default:
		return err
	}
	return &ledger.UnavailableError{Message: msg, Cause: err}
}

func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}
