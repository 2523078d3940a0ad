package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the embedded store's driver, for the baseline

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// errDone ends a client's loop in drive.
var errDone = errors.New("done")

const rawBatch = 500

const rawDDL = `CREATE TABLE raw_events (
    tenant_id TEXT NOT NULL, customer_id TEXT NOT NULL, event_id TEXT NOT NULL, kind TEXT NOT NULL,
    magnitude DOUBLE PRECISION NOT NULL, occurred_at %[1]s NOT NULL, recorded_at %[1]s NOT NULL,
    idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, event_id))`

const rawKeyIndex = `CREATE UNIQUE INDEX raw_events_by_key ON raw_events (tenant_id, customer_id, idempotency_key)`

// rawBaseline writes event rows like the service's straight through the
// driver, rawBatch rows per transaction and statement, for d, from one
// writer: the ceiling a durable store allows without any service around it.
func rawBaseline(ctx context.Context, w *cpuWindow, store, target string, d time.Duration) (stats, error) {
	const cols = 9
	rows := func(n int) []any {
		now := time.Now().UTC()
		args := make([]any, 0, rawBatch*cols)
		for i := range rawBatch {
			at := now
			var atv any = at
			if store == "sqlite" {
				atv = at.UnixMicro()
			}
			args = append(args, "default", fmt.Sprintf("u%d", rand.IntN(uniformCustomers)), fmt.Sprintf("raw-%d-%d", n, i),
				"reliable_delivery", 1.0, atv, atv, fmt.Sprintf("k-%d-%d", n, i), fmt.Sprintf("%016x", rand.Uint64()))
		}
		return args
	}
	insert := "INSERT INTO raw_events VALUES "
	switch store {
	case "sqlite":
		db, err := openRawSQLite(ctx, target, fmt.Sprintf(rawDDL, "INTEGER"), rawKeyIndex)
		if err != nil {
			return stats{}, err
		}
		defer db.Close()
		q := insert + valuesList(rawBatch, cols, false)
		return w.drive(ctx, 1, d, func(ctx context.Context, _, n int) (int, error) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return 0, err
			}
			if _, err := tx.ExecContext(ctx, q, rows(n)...); err != nil {
				tx.Rollback()
				return 0, err
			}
			return rawBatch, tx.Commit()
		}), nil
	case "postgres":
		conn, err := pgx.Connect(ctx, target)
		if err != nil {
			return stats{}, err
		}
		defer conn.Close(ctx)
		for _, ddl := range []string{fmt.Sprintf(rawDDL, "TIMESTAMPTZ"), rawKeyIndex} {
			if _, err := conn.Exec(ctx, ddl); err != nil {
				return stats{}, err
			}
		}
		q := insert + valuesList(rawBatch, cols, true)
		return w.drive(ctx, 1, d, func(ctx context.Context, _, n int) (int, error) {
			tx, err := conn.Begin(ctx)
			if err != nil {
				return 0, err
			}
			if _, err := tx.Exec(ctx, q, rows(n)...); err != nil {
				tx.Rollback(ctx)
				return 0, err
			}
			return rawBatch, tx.Commit(ctx)
		}), nil
	}
	return stats{}, fmt.Errorf("unknown store %q", store)
}

// recomputeRanking times what an outreach list would cost without the
// stored ranking keys: read every event, replay every customer under the
// default policy, and sort all customers by balance.
func recomputeRanking(ctx context.Context, store, db string) (time.Duration, error) {
	start := time.Now()
	byCustomer := map[string][]ledger.Event{}
	addRow := func(cust, id, kind string, mag float64, at time.Time, fp, rev string) error {
		k, ok := ledger.ParseKind(kind)
		if !ok {
			return fmt.Errorf("kind %q", kind)
		}
		byCustomer[cust] = append(byCustomer[cust], ledger.Event{CustomerID: cust, ID: id, Kind: k, Magnitude: mag,
			OccurredAt: at, Fingerprint: fp, ReversesEventID: rev})
		return nil
	}
	const q = `SELECT customer_id, event_id, kind, magnitude, occurred_at, fingerprint, reverses_event_id
		FROM events WHERE tenant_id = 'default'`
	switch store {
	case "sqlite":
		sdb, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(db, "sqlite:")+"?_pragma=query_only(1)")
		if err != nil {
			return 0, err
		}
		defer sdb.Close()
		rows, err := sdb.QueryContext(ctx, q)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		for rows.Next() {
			var cust, id, kind, fp, rev string
			var mag float64
			var us int64
			if err := rows.Scan(&cust, &id, &kind, &mag, &us, &fp, &rev); err != nil {
				return 0, err
			}
			if err := addRow(cust, id, kind, mag, time.UnixMicro(us), fp, rev); err != nil {
				return 0, err
			}
		}
		if err := rows.Err(); err != nil {
			return 0, err
		}
	case "postgres":
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return 0, err
		}
		for rows.Next() {
			var cust, id, kind, fp, rev string
			var mag float64
			var at time.Time
			if err := rows.Scan(&cust, &id, &kind, &mag, &at, &fp, &rev); err != nil {
				return 0, err
			}
			if err := addRow(cust, id, kind, mag, at, fp, rev); err != nil {
				return 0, err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
	}
	pol := ledger.DefaultPolicy()
	now := time.Now()
	type ranked struct {
		id      string
		balance float64
	}
	all := make([]ranked, 0, len(byCustomer))
	for id, evs := range byCustomer {
		all = append(all, ranked{id, pol.BalanceAt(pol.Replay(evs, time.Time{}), now)})
	}
	slices.SortFunc(all, func(a, b ranked) int {
		switch {
		case a.balance < b.balance:
			return -1
		case a.balance > b.balance:
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	return time.Since(start), nil
}

// valuesList is the VALUES list of a multi-row INSERT: rows tuples of cols
// placeholders, numbered ($1...) for PostgreSQL or "?" for SQLite.
func valuesList(rows, cols int, dollar bool) string {
	var b strings.Builder
	for r := range rows {
		if r > 0 {
			b.WriteString(",")
		}
		b.WriteString("(")
		for c := range cols {
			if c > 0 {
				b.WriteString(",")
			}
			if dollar {
				fmt.Fprintf(&b, "$%d", r*cols+c+1)
			} else {
				b.WriteString("?")
			}
		}
		b.WriteString(")")
	}
	return b.String()
}

// rawOneTxCustomers is the customer table of the one-transaction-per-event baseline:
// events as the service stores them (with the idempotency key's unique
// index), and a row per customer its upsert updates.
const rawOneTxCustomers = `CREATE TABLE raw1_customers (
    tenant_id TEXT NOT NULL, customer_id TEXT NOT NULL, balance DOUBLE PRECISION NOT NULL,
    event_count BIGINT NOT NULL, updated_at %[1]s NOT NULL,
    PRIMARY KEY (tenant_id, customer_id))`

// rawOneTxPerEvent is the plain durable program issue #15 compares REST
// ingest with: clients goroutines, each event its own transaction of an
// insert and an upsert, through the raw driver (a pool of clients
// connections on PostgreSQL; SQLite's one writer connection, which is how
// a plain program uses it).
func rawOneTxPerEvent(ctx context.Context, w *cpuWindow, store, target string, clients int, d time.Duration) (stats, error) {
	events := strings.Replace(rawDDL, "raw_events", "raw1_events", 1)
	key := strings.NewReplacer("raw_events_by_key", "raw1_events_by_key", "raw_events", "raw1_events").Replace(rawKeyIndex)
	args := func(cl, n int) (string, []any) {
		at := any(time.Now().UTC())
		if store == "sqlite" {
			at = time.Now().UnixMicro()
		}
		cust := fmt.Sprintf("u%d", rand.IntN(uniformCustomers))
		return cust, []any{"default", cust, fmt.Sprintf("one-%d-%d", cl, n), "reliable_delivery", 1.0, at, at,
			fmt.Sprintf("k1-%d-%d", cl, n), fmt.Sprintf("%016x", rand.Uint64())}
	}
	switch store {
	case "sqlite":
		db, err := openRawSQLite(ctx, target, fmt.Sprintf(events, "INTEGER"), key, fmt.Sprintf(rawOneTxCustomers, "INTEGER"))
		if err != nil {
			return stats{}, err
		}
		defer db.Close()
		ins := "INSERT INTO raw1_events VALUES " + valuesList(1, 9, false)
		up := `INSERT INTO raw1_customers VALUES (?, ?, 1, 1, ?) ON CONFLICT (tenant_id, customer_id)
			DO UPDATE SET balance = balance + 1, event_count = event_count + 1, updated_at = excluded.updated_at`
		return w.drive(ctx, clients, d, func(ctx context.Context, cl, n int) (int, error) {
			cust, a := args(cl, n)
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return 0, err
			}
			if _, err := tx.ExecContext(ctx, ins, a...); err != nil {
				tx.Rollback()
				return 0, err
			}
			if _, err := tx.ExecContext(ctx, up, "default", cust, a[5]); err != nil {
				tx.Rollback()
				return 0, err
			}
			return 1, tx.Commit()
		}), nil
	case "postgres":
		cfg, err := pgxpool.ParseConfig(target)
		if err != nil {
			return stats{}, err
		}
		cfg.MaxConns = int32(clients)
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return stats{}, err
		}
		defer pool.Close()
		for _, ddl := range []string{fmt.Sprintf(events, "TIMESTAMPTZ"), key, fmt.Sprintf(rawOneTxCustomers, "TIMESTAMPTZ")} {
			if _, err := pool.Exec(ctx, ddl); err != nil {
				return stats{}, err
			}
		}
		ins := "INSERT INTO raw1_events VALUES " + valuesList(1, 9, true)
		const up = `INSERT INTO raw1_customers VALUES ($1, $2, 1, 1, $3) ON CONFLICT (tenant_id, customer_id)
			DO UPDATE SET balance = raw1_customers.balance + 1, event_count = raw1_customers.event_count + 1, updated_at = excluded.updated_at`
		return w.drive(ctx, clients, d, func(ctx context.Context, cl, n int) (int, error) {
			cust, a := args(cl, n)
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, ins, a...); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, up, "default", cust, a[5])
				return err
			})
			return 1, err
		}), nil
	}
	return stats{}, fmt.Errorf("unknown store %q", store)
}

// openRawSQLite opens a baseline's SQLite file with the embedded store's
// durability (WAL, full fsync) and one connection, the only writer SQLite
// allows, and creates its tables.
func openRawSQLite(ctx context.Context, path string, ddl ...string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	for _, q := range ddl {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}
