package ledger_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
	"github.com/goodwill-ledger/goodwill/server/store/postgres"
)

// eachStore runs a Service test on every backend: a fresh SQLite file and
// a fresh database on each configured PostgreSQL or CockroachDB server
// (skipped, saying why, when none answers). Domain rules must hold the same
// on all of them.
func eachStore(t *testing.T, test func(t *testing.T, st ledger.Store)) {
	eachStoreWriters(t, 0, test)
}

// eachStoreWriters is eachStore with PostgreSQL stores that run up to
// writers write transactions at once (0: the store's default, one), as
// goodwilld opens them for --group-commit-writers.
func eachStoreWriters(t *testing.T, writers int, test func(t *testing.T, st ledger.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		test(t, openStore(t))
	})
	for _, srv := range pgtest.Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			st, err := postgres.Open(t.Context(), pgtest.FreshDB(t, srv), postgres.Options{Migrate: true,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxWriters: writers})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			test(t, st)
		})
	}
}

// runService runs svc's background work (the group-commit writers, the
// recompute worker) until the test ends, and returns once the writers run.
func runService(t *testing.T, svc *ledger.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitStarted(t, svc)
}

// waitStarted waits until svc's group-commit writers run.
func waitStarted(t *testing.T, svc *ledger.Service) {
	t.Helper()
	select {
	case <-svc.Started():
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not start the group-commit writers within 10s")
	}
	if !ledger.GroupCommitRunning(svc) {
		t.Fatal("Started is closed but the group-commit writers are not installed")
	}
}
