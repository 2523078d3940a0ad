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
