package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// TestQueriesUseIndexes asks SQLite how it runs every read query and fails
// on a full scan of a table: each must be an index search.
func TestQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "plan.db"), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// Without ANALYZE statistics, as on a fresh ledger.
	now := time.Now()
	shapes := map[string]ledger.EventQuery{
		"plain":  {Limit: 10},
		"kinds":  {Kinds: []ledger.Kind{ledger.KindOutage, ledger.KindCredit}, Limit: 10},
		"range":  {Start: now.Add(-time.Hour), End: now, Limit: 10},
		"cursor": {After: &ledger.Cursor{OccurredAt: now, EventID: "x"}, Limit: 10},
		"all":    {Kinds: []ledger.Kind{ledger.KindOutage}, Start: now.Add(-time.Hour), End: now, After: &ledger.Cursor{OccurredAt: now, EventID: "x"}, Limit: 10},
	}
	queries := map[string]struct {
		sql  string
		args []any
	}{
		"customer":     {customerQuery, []any{"t", "c"}},
		"event":        {eventQuery, []any{"t", "c", "e"}},
		"event by key": {eventByKeyQuery, []any{"t", "c", "k"}},
		"history":      {historyQuery, []any{"t", "c"}},
	}
	for name, q := range shapes {
		sql, args := eventsQuery("t", "c", q)
		queries["events "+name] = struct {
			sql  string
			args []any
		}{sql, args}
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			rows, err := s.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q.sql, q.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			for _, step := range plan {
				// "SCAN e USING INDEX" walks an index in order; a bare
				// "SCAN e" or "SCAN events" reads the whole table.
				if strings.HasPrefix(step, "SCAN") && !strings.Contains(step, "USING") {
					t.Errorf("full scan in plan: %q\n%s", step, strings.Join(plan, "\n"))
				}
				// Pages come straight off the index in order, never sorted.
				if strings.Contains(step, "TEMP B-TREE") {
					t.Errorf("sort in plan: %q\n%s", step, strings.Join(plan, "\n"))
				}
				if strings.HasPrefix(step, "SCAN") && strings.Contains(step, "USING") {
					t.Errorf("whole-index scan in plan: %q\n%s", step, strings.Join(plan, "\n"))
				}
			}
			t.Logf("%s", strings.Join(plan, " / "))
			if len(plan) == 0 {
				t.Fatal("empty plan")
			}
		})
	}
}
