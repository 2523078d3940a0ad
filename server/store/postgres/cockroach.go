package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	crdbpgx "github.com/cockroachdb/cockroach-go/v2/crdb/crdbpgxv5"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// This file holds everything the store does only on CockroachDB; the rest
// of the package runs the same statements on both servers.
// docs/deploy-cockroachdb.md lists these, and why each exists:
//
//  1. the session pins below (sent with every connection);
//  2. SET autocommit_before_ddl = off on the migration connections;
//  3. writes through cockroach-go's savepoint protocol (updateCockroach);
//  4. SET TRANSACTION AS OF SYSTEM TIME follower_read_timestamp() for stale
//     reads (followerRead), with a fresh read when it fails.

// isCockroach reads the answer of SELECT version(): CockroachDB's always
// names it ("CockroachDB CCL v25.2.1 ..."), PostgreSQL's never does.
func isCockroach(version string) bool { return strings.Contains(version, "CockroachDB") }

// cockroachPins are the session settings the store's results depend on
// that only CockroachDB has, or whose CockroachDB default differs:
//
//   - default_transaction_use_follower_reads: when on, every read-only
//     transaction (View, and Lookup's single statement) reads ~4 s in the
//     past, and a client would not read its own writes;
//   - default_transaction_isolation: READ COMMITTED is on by default since
//     v24.1 and can be made a role's default; stale reads and migrations
//     name no level of their own;
//   - disallow_full_table_scans: Tenants (goodwilld verify), listing every
//     key, and the bootstrap key's "no key yet" check scan whole tables on
//     purpose.
var cockroachPins = []setting{
	{"default_transaction_use_follower_reads", "off"},
	{"default_transaction_isolation", "serializable"},
	{"disallow_full_table_scans", "off"},
}

// followerRead makes a read-only transaction a follower read: a snapshot
// about 4.2 s old (4.8 s without an Enterprise license) that the nearest
// replica serves without waiting on writes. Table names resolve at that
// snapshot too, so a table created less than that long ago is missing:
// ViewStale then reads fresh.
const followerRead = `SET TRANSACTION AS OF SYSTEM TIME follower_read_timestamp()`

// noAutocommitBeforeDDL keeps a migration one transaction on CockroachDB
// v25.1 and later, where autocommit_before_ddl defaults to on and commits
// the transaction before every schema change: an interrupted migration
// would leave half a schema and no version row, and every later start
// would fail on CREATE TABLE. Older versions do not know the setting
// (42704) and never autocommit.
func noAutocommitBeforeDDL(ctx context.Context, c *pgx.Conn) error {
	_, err := c.Exec(ctx, `SET autocommit_before_ddl = off`)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42704" {
		return nil
	}
	return err
}

// updateCockroach runs a write with cockroach-go's protocol: SAVEPOINT
// cockroach_restart, and on 40001 ROLLBACK TO it and run again inside the
// same transaction, which keeps its place in line; RELEASE is the commit.
// cockroach-go (v2.4.2) reruns at once; the wait before each rerun, the
// context check and the count are this store's retry policy, applied in
// the closure. Bounding the attempts is left to run (attempts in tx.go):
// cockroach-go reads a limit of 0 as "no limit".
func (s *Store) updateCockroach(ctx context.Context, run func(pgxQuerier) error) error {
	return crdbpgx.ExecuteTx(crdb.WithMaxRetries(ctx, s.policy.attempts), s.pool, serializable, s.pacedReruns(ctx, run))
}

// pacedReruns wraps a closure cockroach-go reruns on 40001 so that every
// rerun is counted and waits first, under the retry policy, and a context
// that ends during the wait ends the loop.
func (s *Store) pacedReruns(ctx context.Context, run func(pgxQuerier) error) func(pgx.Tx) error {
	n := 0
	return func(tx pgx.Tx) error {
		if n++; n > s.policy.attempts {
			// Before counting or waiting: cockroach-go's own limit is one
			// run late, and a 0 would be no limit at all.
			return fmt.Errorf("%w: gave up after %d attempts", ledger.ErrUnavailable, s.policy.attempts)
		}
		if n > 1 {
			s.retries.Add(1)
			if err := s.policy.wait(ctx, n-1); err != nil {
				return err
			}
		}
		return run(tx)
	}
}
