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
// The narrow baseline (rawBaseline) writes event rows only. Without notify
// it writes neither the notification rows nor the reads the service adds,
// so it is a floor under the service's cost of the same batch, not its
// equal; with notify it also writes a notification row per event and
// advances the notification counter once per batch, as the service has
// since push (issue #13), and is still without the service's reads.
func rawServiceRows(ctx context.Context, w *cpuWindow, kind, dbURL string, size int, notify bool, d time.Duration) (stats, error) {
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
	const noteCols = `tenant_id, notification_id, seq, type, customer_id, customer_seq, occurred_at, created_at, event_id,
		policy_version, before_value, before_status, after_value, after_status`
	dollar := kind == "postgres"
	counter := `INSERT INTO notification_seq (id, seq) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq`
	if dollar {
		counter = strings.Replace(counter, "?", "$1", 1)
	}
	var seq int64
	prefix := "raw" // event ids apart from an earlier run's on the same database
	if notify {
		prefix = "rawn"
	}
	// batch returns the statements and their arguments for batch n.
	batch := func(n int) []statement {
		now := time.Now().UTC()
		var at any = now
		if !dollar {
			at = now.UnixMicro()
		}
		evArgs := make([]any, 0, size*9)
		var cuArgs, noteArgs []any
		seen := map[string]bool{}
		for i := range size {
			cust := fmt.Sprintf("u%d", rand.IntN(uniformCustomers))
			id, fp := fmt.Sprintf("%s%d-%d-%d", prefix, size, n, i), fmt.Sprintf("%016x", rand.Uint64())
			evArgs = append(evArgs, "raw", cust, id, "reliable_delivery", 1.0, at, at, fmt.Sprintf("k%s%d-%d-%d", prefix, size, n, i), fp)
			if !seen[cust] { // one upsert per customer and statement
				seen[cust] = true
				cuArgs = append(cuArgs, "raw", cust, at, at, 1, rand.Float64()*50, rand.Float64()*50, 1, at,
					"reliable_delivery", fp, id, rand.Float64())
			}
			if notify {
				seq++
				noteArgs = append(noteArgs, "raw", fmt.Sprintf("ntf_raw%d-%d-%d", size, n, i), seq, "event.recorded", cust, seq,
					at, at, id, 1, rand.Float64()*50, "healthy", rand.Float64()*50, "healthy")
			}
		}
		out := []statement{
			{`INSERT INTO events (` + eventCols + `) VALUES ` + valuesList(size, 9, dollar), evArgs},
			{`INSERT INTO customers (` + customerCols + `) VALUES ` + valuesList(len(seen), 13, dollar) + upsert, cuArgs},
		}
		if notify {
			out = append(out,
				statement{`INSERT INTO notifications (` + noteCols + `) VALUES ` + valuesList(size, 14, dollar), noteArgs},
				statement{counter, []any{seq}})
		}
		return out
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
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return 0, err
			}
			defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
			for _, s := range batch(n) {
				if _, err := tx.ExecContext(ctx, s.sql, s.args...); err != nil {
					return 0, err
				}
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
			tx, err := conn.Begin(ctx)
			if err != nil {
				return 0, err
			}
			defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
			for _, s := range batch(n) {
				if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
					return 0, err
				}
			}
			return size, tx.Commit(ctx)
		}), nil
	}
	return stats{}, fmt.Errorf("unknown store %q", kind)
}

// statement is one SQL statement and its arguments.
type statement struct {
	sql  string
	args []any
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
