package postgres_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
	"github.com/goodwill-ledger/goodwill/server/store/postgres"
)

// withVersion is the shipped schema plus one more version, 90.
func withVersion(t *testing.T, sql string) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(postgres.EmbeddedMigrations(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(postgres.EmbeddedMigrations(), path)
		out[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	out["00090_test.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\n" + sql + "\n-- +goose Down\nSELECT 1;\n")}
	return out
}

// shipped is the last version shipped; shippedVersions lists them all
// (the SQL files and the Go migrations 2, 5, 10, 13, 15 and 16).
const shipped = 11

func shippedVersions() []int64 { return []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16} }

func openUnmigrated(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url, postgres.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func tableExists(t *testing.T, url, table string) bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM information_schema.tables WHERE table_name = $1`, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func appliedVersions(t *testing.T, url string) map[int64]int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT version_id FROM goose_db_version WHERE version_id > 0 AND is_applied`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]int{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out[v]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A migration is all or nothing: one that fails, or is cut off, half way
// leaves neither its first statement's table nor its version row, and the
// next start applies it whole. On PostgreSQL DDL is transactional anyway,
// so there this proves the store's side (one transaction per version, the
// version row inside it); on CockroachDB v25.1 and later it also proves
// autocommit_before_ddl is off, when GOODWILL_TEST_COCKROACH_URL is set.
func TestInterruptedMigrationLeavesNothing(t *testing.T) {
	for _, srv := range pgtest.Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			for _, tc := range []struct {
				name    string
				sql     string
				timeout time.Duration
			}{
				{"fails half way", "CREATE TABLE half_done (id INT PRIMARY KEY);\nSELECT 1 / (SELECT count(*) FROM half_done);", 0},
				{"cut off half way", "CREATE TABLE half_done (id INT PRIMARY KEY);\nSELECT pg_sleep(30);", time.Second},
			} {
				t.Run(tc.name, func(t *testing.T) {
					url := pgtest.FreshDB(t, srv)
					s := openUnmigrated(t, url)
					// The shipped versions first, so the cut-off falls in
					// version 90 however long they take (CockroachDB builds
					// every index as a job).
					if err := s.Migrate(t.Context()); err != nil {
						t.Fatal(err)
					}
					postgres.SetMigrations(s, withVersion(t, tc.sql))
					ctx := t.Context()
					if tc.timeout > 0 {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, tc.timeout)
						defer cancel()
					}
					if err := s.Migrate(ctx); err == nil {
						t.Fatal("the broken migration succeeded")
					}
					if tableExists(t, url, "half_done") {
						t.Error("the interrupted migration left its first table behind")
					}
					applied := appliedVersions(t, url)
					if applied[90] != 0 || applied[1] != 1 || applied[shipped] != 1 {
						t.Errorf("versions applied after the interruption: %v; want 1-%d once and no 90", applied, shipped)
					}
					postgres.SetMigrations(s, withVersion(t, "CREATE TABLE half_done (id INT PRIMARY KEY);"))
					if err := s.Migrate(t.Context()); err != nil {
						t.Fatalf("migrating again: %v", err)
					}
					if !tableExists(t, url, "half_done") || appliedVersions(t, url)[90] != 1 {
						t.Error("version 90 is not applied after the second start")
					}
				})
			}
		})
	}
}

// Replicas starting together each migrate: one does, the others wait on
// the lock and then find nothing to do. Every version is applied once.
func TestConcurrentMigrators(t *testing.T) {
	for _, srv := range pgtest.Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			url := pgtest.FreshDB(t, srv)
			// A slow last version keeps the first migrator busy while
			// the others arrive.
			schema := withVersion(t, "CREATE TABLE slow_done (id INT PRIMARY KEY);\nSELECT pg_sleep(1);")
			const replicas = 4
			stores := make([]*postgres.Store, replicas)
			for i := range stores {
				stores[i] = openUnmigrated(t, url)
				postgres.SetMigrations(stores[i], schema)
			}
			var wg sync.WaitGroup
			errs := make([]error, replicas)
			for i, s := range stores {
				wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("a replica failed to start: %v", err)
			}
			applied := appliedVersions(t, url)
			for _, v := range append(shippedVersions(), 90) {
				if applied[v] != 1 {
					t.Errorf("version %d applied %d times, want once (all: %v)", v, applied[v], applied)
				}
			}
			for _, s := range stores {
				if n, err := s.Pending(t.Context()); err != nil || n != 0 {
					t.Errorf("pending after the race: %d, %v", n, err)
				}
			}
		})
	}
}

// Pending counts what a start would apply, and takes no lock.
func TestPending(t *testing.T) {
	url := pgtest.FreshDB(t, pgtest.Servers()[0])
	s := openUnmigrated(t, url)
	n, err := s.Pending(t.Context())
	if err != nil || n != len(shippedVersions()) {
		t.Fatalf("pending on an empty database: %d, %v; want %d", n, err, len(shippedVersions()))
	}
	if tableExists(t, url, "goose_db_version") {
		t.Error("Pending wrote goose's version table: it must only read")
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Pending(t.Context()); err != nil || n != 0 {
		t.Fatalf("pending after migrating: %d, %v", n, err)
	}
}

// Every text column of a primary key compares bytewise (the C collation):
// ids then sort as on the other stores, and a join between two tables on
// ids can use the other table's key (a column of the database's default
// collation cannot, and PostgreSQL scans the whole table instead). A table
// added without its migration to collate it fails here.
func TestKeyColumnsCompareBytewise(t *testing.T) {
	url := pgtest.FreshDB(t, pgtest.Servers()[0])
	s := openUnmigrated(t, url)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), `
SELECT c.relname, a.attname, COALESCE(co.collname, '')
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace ns ON ns.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE i.indisprimary AND ns.nspname = current_schema() AND a.atttypid = 'text'::regtype
  AND c.relname NOT LIKE 'goose%'`)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for rows.Next() {
		var table, column, collation string
		if err := rows.Scan(&table, &column, &collation); err != nil {
			t.Fatal(err)
		}
		checked++
		if collation != "C" {
			t.Errorf("%s.%s is collated %q, want \"C\"", table, column, collation)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Errorf("checked %d key columns; the query finds too few to trust", checked)
	}
}

// Migration 11 replaces the idempotency index on a ledger that already
// has events: a key recorded before it still replays its event and still
// refuses another payload, and the migration's statements can run again,
// as they do when a start died between them.
func TestKeyIndexMigrationKeepsKeys(t *testing.T) {
	url := pgtest.FreshDB(t, pgtest.Servers()[0])
	s := openUnmigrated(t, url)
	ctx := t.Context()
	const v11 = "00011_events_by_idempotency_key.sql"
	// The ledger as version 10 left it.
	if err := postgres.MigrateTo(ctx, s, 10); err != nil {
		t.Fatal(err)
	}
	svc := ledger.NewService(s, ledger.Options{})
	first, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: "c1", Kind: ledger.KindCredit, Magnitude: ptr(2.0), IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migration 11 on a ledger with events: %v", err)
	}
	if applied := appliedVersions(t, url); applied[11] != 1 {
		t.Fatalf("versions applied: %v; want 11 once", applied)
	}
	again, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: "c1", Kind: ledger.KindCredit, Magnitude: ptr(2.0), IdempotencyKey: "k1"})
	if err != nil || !again.Replayed || again.Event.ID != first.Event.ID {
		t.Errorf("the same call after the migration: %+v, %v; want a replay of %s", again, err, first.Event.ID)
	}
	if _, err := svc.RecordEvent(ctx, ledger.DefaultTenant, ledger.NewEvent{CustomerID: "c1", Kind: ledger.KindCredit, Magnitude: ptr(3.0), IdempotencyKey: "k1"}); !errors.Is(err, ledger.ErrConflict) {
		t.Errorf("another payload under the key after the migration: %v; want ErrConflict", err)
	}

	body, err := fs.ReadFile(postgres.EmbeddedMigrations(), v11)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	up := strings.Split(strings.Split(string(body), "-- +goose Down")[0], "-- +goose Up")[1]
	for _, stmt := range strings.Split(stripComments(up), ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Errorf("migration 11 run again: %v\n%s", err, stmt)
		}
	}
}

// stripComments drops the SQL line comments of a migration's text.
func stripComments(sql string) string {
	var out []string
	for _, line := range strings.Split(sql, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func ptr[T any](v T) *T { return &v }
