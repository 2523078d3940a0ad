package postgres

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/goodwill-ledger/goodwill/server/store/pgtest"
)

// The idempotency-key probes find a key through events_by_idempotency_key
// even when the statistics describe a table of average customers and the
// probed one has thousands of events. Regression: PostgreSQL answered
// them from the primary key's (tenant_id, customer_id) prefix, filtering
// the key row by row, and one hot customer ran at a third of the uniform
// rate (docs/benchmarks.md, round 2).
func TestKeyProbesIgnoreStatistics(t *testing.T) {
	url := pgtest.FreshDB(t, pgtest.Servers()[0])
	s, err := Open(t.Context(), url, Options{Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	// No statistics, as on a fresh ledger or between two autovacuum runs:
	// even customers, then one that grows.
	const insert = `INSERT INTO events (tenant_id, customer_id, event_id, kind, magnitude, occurred_at,
		recorded_at, idempotency_key, fingerprint) SELECT 't', %s, 'e' || i, 'EVENT_KIND_CREDIT', 1, now(), now(),
		'k' || i, 'f' FROM generate_series(1, 8000) AS i`
	for _, stmt := range []string{
		strings.Replace(insert, "%s", "'c' || (i % 4000)", 1),
		strings.Replace(strings.Replace(insert, "%s", "'c'", 1), "'e' || i", "'h' || i", 1),
	} {
		if _, err := s.pool.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	shapes := statements.ReadShapes()
	for _, name := range []string{"event by key", "events by keys"} {
		q, ok := shapes[name]
		if !ok {
			t.Fatalf("no read shape %q", name)
		}
		var plan []string
		rows, err := s.pool.Query(ctx, "EXPLAIN "+q.SQL, q.Args...)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, strings.TrimSpace(line))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, "using events_by_idempotency_key on events e") {
			t.Errorf("%s: the probe does not search events_by_idempotency_key:\n%s", name, text)
		}
	}
}

// The export read walks events_by_time in its own order, from the page's
// cursor, and never sorts or reads the table whole, on a tenant of many
// customers with statistics (ANALYZE); a segment is a probe of the
// customer's primary key per row, never a join planned from the segment's
// customers. Without statistics (a table never analyzed) the read still
// searches events_by_time from the cursor, but PostgreSQL estimated a few
// rows after a cursor and chose a bitmap scan and a sort of everything
// after it: correct, but a page then costs the rest of the tenant's log
// until autovacuum analyzes the table. The walks of every history
// (simulations, trend snapshots) so bound each page by its last customer
// (the "walk" shape), which keeps the read to that key range.
func TestExportWalksEventsByTime(t *testing.T) {
	url := pgtest.FreshDB(t, pgtest.Servers()[0])
	s, err := Open(t.Context(), url, Options{Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	for _, stmt := range []string{
		`INSERT INTO events (tenant_id, customer_id, event_id, kind, magnitude, occurred_at,
			recorded_at, idempotency_key, fingerprint) SELECT 't', 'c' || (i % 2000), 'e' || i, 'EVENT_KIND_CREDIT', 1,
			now() - i * interval '1 minute', now(), '', 'f' FROM generate_series(1, 20000) AS i`,
	} {
		if _, err := s.pool.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	shapes := statements.ReadShapes()
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			if _, err := s.pool.Exec(ctx, "ANALYZE events"); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		for name, q := range shapes {
			if !strings.HasPrefix(name, "tenant events") {
				continue
			}
			n++
			text := explainPG(t, s, q.SQL, q.Args)
			// A walk bounded by its page's last customer reads that key
			// range, by either index, even without statistics.
			walk := strings.Contains(name, "walk")
			if walk && !strings.Contains(text, "(customer_id <= ") {
				t.Errorf("%s (analyzed %t): the page's bound is not an index condition:\n%s", name, analyzed, text)
			}
			if (!walk || analyzed) && !strings.Contains(text, "Index Scan on events_by_time") && !strings.Contains(text, "Index Scan using events_by_time on events e") {
				t.Errorf("%s (analyzed %t): not a search of events_by_time:\n%s", name, analyzed, text)
			}
			if strings.Contains(text, "Seq Scan on events") || strings.Contains(text, "Seq Scan on customers") ||
				strings.Contains(text, "on customers c") && !strings.Contains(text, "SubPlan") {
				t.Errorf("%s (analyzed %t): a table scan, or a join from customers:\n%s", name, analyzed, text)
			}
			if analyzed && (strings.Contains(text, "Sort") || !strings.Contains(text, "Index Scan using events_by_time on events e")) {
				t.Errorf("%s (analyzed %t): not an ordered walk of events_by_time:\n%s", name, analyzed, text)
			}
			if strings.Contains(name, "cursor") && !strings.Contains(text, "ROW(customer_id, occurred_at, event_id) > ROW(") {
				t.Errorf("%s (analyzed %t): the cursor is not an index condition:\n%s", name, analyzed, text)
			}
		}
		if n != 5 {
			t.Fatalf("%d export shapes; want 5", n)
		}
	}
}

func explainPG(t *testing.T, s *Store, sql string, args []any) string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), "EXPLAIN "+sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, strings.TrimSpace(line))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}
