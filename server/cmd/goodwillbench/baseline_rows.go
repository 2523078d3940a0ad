package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goodwill-ledger/goodwill/server/store"
)

// rawServiceRows is the second baseline: per event, the rows the service
// itself writes (an event row, and an upsert of the customer's balance row
// with its ranking columns), into the service's own schema with all its
// indexes, size events per transaction, straight through the driver.
// The narrow baseline (rawBaseline) writes event rows only. It writes
// neither the notification rows nor the reads the service adds, so it is a
// floor under the service's cost of the same batch, not its equal.
func rawServiceRows(ctx context.Context, w *cpuWindow, kind, dbURL string, size int, d time.Duration) (stats, error) {
	st, err := store.Open(ctx, dbURL, store.Options{Migrate: true, Logger: quietLogger()})
	if err != nil {
		return stats{}, err
	}
	st.Close()

	const eventCols = `tenant_id, customer_id, event_id, kind, magnitude, occurred_at, recorded_at, idempotency_key, fingerprint`
	const customerCols = `tenant_id, customer_id, created_at, updated_at, policy_version, value_at_last, balance_rank,
		event_count, last_at, last_kind, last_fingerprint, last_event_id, advocacy_key`
	const upsert = ` ON CONFLICT (tenant_id, customer_id) DO UPDATE SET updated_at = excluded.updated_at,
		value_at_last = excluded.value_at_last, balance_rank = excluded.balance_rank,
		event_count = customers.event_count + 1, last_at = excluded.last_at, last_kind = excluded.last_kind,
		last_fingerprint = excluded.last_fingerprint, last_event_id = excluded.last_event_id,
		advocacy_key = excluded.advocacy_key`
	dollar := kind == "postgres"
	// batch returns the two statements and their arguments for batch n.
	batch := func(n int) (string, []any, string, []any) {
		now := time.Now().UTC()
		var at any = now
		if !dollar {
			at = now.UnixMicro()
		}
		evArgs := make([]any, 0, size*9)
		var cuArgs []any
		seen := map[string]bool{}
		for i := range size {
			cust := fmt.Sprintf("u%d", rand.IntN(uniformCustomers))
			id, fp := fmt.Sprintf("raw%d-%d-%d", size, n, i), fmt.Sprintf("%016x", rand.Uint64())
			evArgs = append(evArgs, "raw", cust, id, "reliable_delivery", 1.0, at, at, fmt.Sprintf("k%d-%d-%d", size, n, i), fp)
			if !seen[cust] { // one upsert per customer and statement
				seen[cust] = true
				cuArgs = append(cuArgs, "raw", cust, at, at, 1, rand.Float64()*50, rand.Float64()*50, 1, at,
					"reliable_delivery", fp, id, rand.Float64())
			}
		}
		return `INSERT INTO events (` + eventCols + `) VALUES ` + valuesList(size, 9, dollar), evArgs,
			`INSERT INTO customers (` + customerCols + `) VALUES ` + valuesList(len(seen), 13, dollar) + upsert, cuArgs
	}
	switch kind {
	case "sqlite":
		db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(dbURL, "sqlite:")+
			"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)")
		if err != nil {
			return stats{}, err
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		return w.drive(ctx, 1, d, func(ctx context.Context, _, n int) (int, error) {
			eq, ea, cq, ca := batch(n)
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return 0, err
			}
			defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
			if _, err := tx.ExecContext(ctx, eq, ea...); err != nil {
				return 0, err
			}
			if _, err := tx.ExecContext(ctx, cq, ca...); err != nil {
				return 0, err
			}
			return size, tx.Commit()
		}), nil
	case "postgres":
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return stats{}, err
		}
		defer conn.Close(ctx)
		return w.drive(ctx, 1, d, func(ctx context.Context, _, n int) (int, error) {
			eq, ea, cq, ca := batch(n)
			tx, err := conn.Begin(ctx)
			if err != nil {
				return 0, err
			}
			defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
			if _, err := tx.Exec(ctx, eq, ea...); err != nil {
				return 0, err
			}
			if _, err := tx.Exec(ctx, cq, ca...); err != nil {
				return 0, err
			}
			return size, tx.Commit(ctx)
		}), nil
	}
	return stats{}, fmt.Errorf("unknown store %q", kind)
}

// serviceRowsDB returns an empty store of its own for rawServiceRows.
func serviceRowsDB(ctx context.Context, o options, kind string) (string, func(), error) {
	switch kind {
	case "sqlite":
		dir, err := os.MkdirTemp("", "goodwillbench-rows")
		if err != nil {
			return "", nil, err
		}
		return "sqlite:" + filepath.Join(dir, "rows.db"), func() { os.RemoveAll(dir) }, nil
	case "postgres":
		return freshPostgres(ctx, o.pgURL)
	}
	return "", nil, fmt.Errorf("unknown store %q", kind)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
