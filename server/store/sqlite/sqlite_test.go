package sqlite_test

import (
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/sqlite"
	"github.com/goodwill-ledger/goodwill/server/store/storetest"
)

var _ ledger.Store = (*sqlite.Store)(nil)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// open opens path with automatic migration and closes it when the test ends.
func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{Migrate: true, Logger: quiet})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ledger.Store {
		return open(t, filepath.Join(t.TempDir(), "ledger.db"))
	})
	storetest.RunKeys(t, func(t *testing.T) auth.KeyStore {
		return open(t, filepath.Join(t.TempDir(), "ledger.db"))
	})
}

var (
	at       = time.Date(2026, time.March, 14, 15, 9, 26, 535897000, time.UTC)
	customer = ledger.Customer{
		TenantID: ledger.DefaultTenant, ID: "c1",
		Profile:   ledger.Profile{DisplayName: "Ada", Value: 1},
		CreatedAt: at, UpdatedAt: at, PolicyVersion: 1,
		State: ledger.State{Count: 1, Value: 2.5, Last: ledger.Position{At: at, Kind: ledger.KindCredit, Fingerprint: "fp", ID: "ev-1"}},
	}
	event = ledger.Event{
		TenantID: ledger.DefaultTenant, CustomerID: "c1", ID: "ev-1",
		Kind: ledger.KindCredit, Magnitude: 2, OccurredAt: at, RecordedAt: at,
		IdempotencyKey: "key-1", Fingerprint: "fp", Note: "kept",
	}
)

func write(t *testing.T, s ledger.Store) {
	t.Helper()
	err := s.Update(t.Context(), func(tx ledger.Tx) error {
		if err := tx.AppendEvent(t.Context(), event); err != nil {
			return err
		}
		return tx.PutCustomer(t.Context(), customer)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// check asserts that what write stored is there, unchanged.
func check(t *testing.T, s ledger.Store) {
	t.Helper()
	var (
		c ledger.Customer
		e ledger.Event
	)
	err := s.View(t.Context(), func(r ledger.Reader) error {
		var err error
		if c, err = r.Customer(t.Context(), ledger.DefaultTenant, "c1"); err != nil {
			return err
		}
		e, err = r.EventByKey(t.Context(), ledger.DefaultTenant, "c1", "key-1")
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if c.Profile.DisplayName != customer.Profile.DisplayName || c.State.Count != 1 || !c.State.Last.At.Equal(at) {
		t.Errorf("customer = %+v, want %+v", c, customer)
	}
	if e.ID != event.ID || e.Note != event.Note || !e.OccurredAt.Equal(at) || e.Kind != event.Kind {
		t.Errorf("event = %+v, want %+v", e, event)
	}
}

func TestDurableAcrossReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{Migrate: true, Logger: quiet})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	write(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Reopen without migrating: the schema and the data are both on disk.
	s2, err := sqlite.Open(t.Context(), path, sqlite.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { s2.Close() })
	check(t, s2)
}

func TestOpenPaths(t *testing.T) {
	t.Parallel()
	named := func(folder string) func(*testing.T, string) string {
		return func(_ *testing.T, dir string) string { return filepath.Join(dir, folder, "ledger.db") }
	}
	tests := []struct {
		name string
		// path returns the database path inside dir.
		path    func(t *testing.T, dir string) string
		wantErr bool
	}{
		{
			name: "missing folders are created",
			path: func(t *testing.T, dir string) string { return filepath.Join(dir, "a", "b", "c", "ledger.db") },
		},
		{
			name: "existing empty file",
			path: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "ledger.db")
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			},
		},
		// SQLite is opened through a file: URI; characters with a meaning
		// in URIs must still name this very file.
		{name: "space in folder name", path: named("with space")},
		{name: "hash in folder name", path: named("issue#1")},
		{name: "percent in folder name", path: named("100%41")},
		{name: "question mark in folder name", path: named("why?x=y&z")},
		{
			name: "parent is a regular file",
			path: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "file")
				if err := os.WriteFile(p, []byte("not a folder"), 0o600); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(p, "sub", "ledger.db")
			},
			wantErr: true,
		},
		{
			name: "path is a folder",
			path: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "folder.db")
				if err := os.Mkdir(p, 0o750); err != nil {
					t.Fatal(err)
				}
				return p
			},
			wantErr: true,
		},
		{
			name: "existing file that is not a database",
			path: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "ledger.db")
				if err := os.WriteFile(p, []byte(strings.Repeat("not sqlite ", 100)), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			},
			wantErr: true,
		},
		{
			name: "read-only folder",
			path: func(t *testing.T, dir string) string {
				// Root ignores permission bits; "parent is a regular file"
				// covers the unwritable case there.
				if os.Geteuid() == 0 {
					t.Skip("running as root: permission bits are not enforced")
				}
				ro := filepath.Join(dir, "ro")
				if err := os.Mkdir(ro, 0o500); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Chmod(ro, 0o700) })
				return filepath.Join(ro, "ledger.db")
			},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := tc.path(t, dir)
			s, err := sqlite.Open(t.Context(), path, sqlite.Options{Migrate: true, Logger: quiet})
			if tc.wantErr {
				if err == nil {
					s.Close()
					t.Fatalf("Open(%s) succeeded, want an error", path)
				}
				if s != nil {
					t.Errorf("Open returned a store with error %v", err)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Open(%s): %v", path, err)
			}
			write(t, s)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			// The data is in the file that was named, not somewhere else.
			var stray []string
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && !strings.HasPrefix(p, path) {
					stray = append(stray, p)
				}
				return nil
			})
			if len(stray) > 0 {
				t.Errorf("files created outside %s: %v", path, stray)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatalf("database file: %v", err)
			}
			if fi.Size() == 0 {
				t.Errorf("database file %s is empty", path)
			}
			check(t, open(t, path))
		})
	}
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{Migrate: true, Logger: quiet})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	write(t, s)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate on a migrated store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := open(t, path) // Migrate: true again
	if n, err := s2.Pending(t.Context()); err != nil || n != 0 {
		t.Fatalf("Pending after a second migrating Open = %d, %v; want 0", n, err)
	}
	check(t, s2)
}

func TestPending(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if n, err := s.Pending(t.Context()); err != nil || n != len(files) {
		t.Fatalf("Pending on a new file = %d, %v; want %d", n, err, len(files))
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if n, err := s.Pending(t.Context()); err != nil || n != 0 {
		t.Fatalf("Pending after Migrate = %d, %v; want 0", n, err)
	}
	write(t, s)
	check(t, s)
}

// TestEventsAppendOnly: the schema itself refuses to change or remove an
// event, whoever connects to the file.
func TestEventsAppendOnly(t *testing.T) {
	t.Parallel()
	const cols = `tenant_id, customer_id, event_id, kind, magnitude, occurred_at, recorded_at,
		idempotency_key, fingerprint, source, note, attributes, incident_id, reverses_event_id`
	tests := []struct {
		name  string
		query string
	}{
		{name: "UPDATE", query: `UPDATE events SET note = 'tampered' WHERE event_id = 'ev-1'`},
		{name: "UPDATE OR REPLACE", query: `UPDATE OR REPLACE events SET magnitude = 100`},
		{name: "DELETE", query: `DELETE FROM events WHERE event_id = 'ev-1'`},
		{name: "DELETE all", query: `DELETE FROM events`},
		// REPLACE deletes the conflicting row; SQLite fires no DELETE
		// trigger for that unless recursive_triggers is on.
		{name: "INSERT OR REPLACE same id", query: `INSERT OR REPLACE INTO events (` + cols + `)
			VALUES ('default', 'c1', 'ev-1', 'credit', 100, 0, 0, 'key-1', 'fp', '', 'tampered', '{}', '', '')`},
		{name: "INSERT OR REPLACE same key", query: `INSERT OR REPLACE INTO events (` + cols + `)
			VALUES ('default', 'c1', 'ev-evil', 'credit', 100, 0, 0, 'key-1', 'fp', '', 'tampered', '{}', '', '')`},
		{name: "REPLACE", query: `REPLACE INTO events (` + cols + `)
			VALUES ('default', 'c1', 'ev-1', 'credit', 100, 0, 0, 'key-1', 'fp', '', 'tampered', '{}', '', '')`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "ledger.db")
			s := open(t, path)
			write(t, s)
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatalf("sql.Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })

			_, err = db.ExecContext(t.Context(), tc.query)
			var se *msqlite.Error
			switch {
			case err == nil:
				t.Errorf("%s succeeded, want the append-only trigger to abort it", tc.name)
			case !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_CONSTRAINT ||
				!strings.Contains(err.Error(), "events are append-only"):
				t.Errorf("error = %v, want a constraint error from the append-only trigger", err)
			}
			check(t, s)
			var n int
			if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 1 {
				t.Errorf("events after %s: %d rows, %v; want 1", tc.name, n, err)
			}
		})
	}
}

// TestViewDoesNotWaitForUpdate pins what the package promises beyond the
// suite: reads have their own pool and WAL snapshots, so a View runs while
// an Update holds the write lock.
func TestViewDoesNotWaitForUpdate(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "ledger.db"))
	write(t, s)
	ctx := t.Context()
	holding := make(chan struct{})
	release := make(chan struct{})
	updated := make(chan error, 1)
	go func() {
		first := true
		updated <- s.Update(ctx, func(tx ledger.Tx) error {
			if err := tx.PutCustomer(ctx, ledger.Customer{TenantID: ledger.DefaultTenant, ID: "c2", CreatedAt: at, UpdatedAt: at}); err != nil {
				return err
			}
			if first {
				first = false
				close(holding)
			}
			<-release
			return nil
		})
	}()
	<-holding
	viewed := make(chan error, 1)
	go func() {
		viewed <- s.View(ctx, func(r ledger.Reader) error {
			_, err := r.Customer(ctx, ledger.DefaultTenant, "c2")
			if !errors.Is(err, ledger.ErrNotFound) {
				return errors.New("saw the uncommitted customer")
			}
			return nil
		})
	}()
	select {
	case err := <-viewed:
		if err != nil {
			t.Errorf("View: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("View waited for the open Update")
	}
	close(release)
	if err := <-updated; err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// TestTwoHandlesOneFile: two Stores on one file (a server and a migrate or
// admin command) take turns at the write lock instead of failing or losing
// writes.
func TestTwoHandlesOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	stores := []*sqlite.Store{open(t, path), open(t, path)}
	write(t, stores[0])
	const workers, perWorker = 8, 25
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range workers {
		s := stores[w%2]
		wg.Go(func() {
			for i := range perWorker {
				err := s.Update(ctx, func(tx ledger.Tx) error {
					c, err := tx.Customer(ctx, ledger.DefaultTenant, "c1")
					if err != nil {
						return err
					}
					c.State.Count++
					return tx.PutCustomer(ctx, c)
				})
				if err != nil {
					t.Errorf("worker %d, Update %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, s := range stores {
		var c ledger.Customer
		err := s.View(ctx, func(r ledger.Reader) error {
			var err error
			c, err = r.Customer(ctx, ledger.DefaultTenant, "c1")
			return err
		})
		if err != nil {
			t.Fatalf("store %d: View: %v", i, err)
		}
		if want := int64(1 + workers*perWorker); c.State.Count != want {
			t.Errorf("store %d: Count = %d, want %d", i, c.State.Count, want)
		}
	}
}
