package sqlite

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"
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
	queries := statements.ReadShapes()
	maps.Copy(queries, statements.UpdateShapes())
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			plan := explain(t, s, q.SQL, q.Args)
			for _, step := range plan {
				// "SCAN e USING INDEX" walks an index in order; a bare
				// "SCAN e" or "SCAN events" reads the whole table.
				// (A multi-row update's own VALUES list is scanned, as it
				// should be: each of its rows is then a search.)
				if strings.HasPrefix(step, "SCAN") && !strings.Contains(step, "USING") && !strings.HasSuffix(step, "-ROW VALUES CLAUSE") {
					t.Errorf("full scan in plan: %q\n%s", step, strings.Join(plan, "\n"))
				}
				// Pages come straight off the index in order, never sorted.
				if strings.Contains(step, "TEMP B-TREE") {
					t.Errorf("sort in plan: %q\n%s", step, strings.Join(plan, "\n"))
				}
				if strings.HasPrefix(step, "SCAN") && strings.Contains(step, "USING") {
					t.Errorf("whole-index scan in plan: %q\n%s", step, strings.Join(plan, "\n"))
				}
				// An event read searched by the tenant alone reads the
				// tenant's whole log (regression: the key and incident
				// probes did, through the primary key). The export's first
				// page is the exception: it walks the tenant's log in
				// order by design, stopped by its LIMIT
				// (TestExportWalksEventsByTime).
				if strings.HasPrefix(step, "SEARCH e ") && strings.HasSuffix(step, "(tenant_id=?)") &&
					!strings.HasPrefix(name, "tenant events") {
					t.Errorf("event read by tenant alone: %q\n%s", step, strings.Join(plan, "\n"))
				}
			}
			t.Logf("%s", strings.Join(plan, " / "))
			if len(plan) == 0 {
				t.Fatal("empty plan")
			}
		})
	}
}

// TestSegmentRankingSearchesSegment: a ranking within a segment reads that
// segment's customers only, through customers_by_segment_rank, whatever
// bounds and cursor it has; customers_by_rank would serve it in order too,
// but reads every other segment's customers in the range to filter them out.
func TestSegmentRankingSearchesSegment(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "plan.db"), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for name, q := range statements.ReadShapes() {
		if !strings.HasPrefix(name, "ranked balance") || !strings.Contains(name, "segment=true") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			plan := explain(t, s, q.SQL, q.Args)
			// Regression: with two range terms SQLite once chose customers_by_rank and filtered the segment row by row.
			if len(plan) != 1 || !strings.Contains(plan[0], "USING INDEX customers_by_segment_rank (tenant_id=? AND segment=?") {
				t.Errorf("segment ranking does not search customers_by_segment_rank by segment:\n%s", strings.Join(plan, "\n"))
			}
		})
	}
}

// TestExportWalksEventsByTime: every shape of the export read walks
// events_by_time, whose order is the export's, from the page's cursor (so
// LIMIT ends the walk after one page), with one primary-key probe of the
// customer per row for a segment and never a sort (TestQueriesUseIndexes).
func TestExportWalksEventsByTime(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "plan.db"), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	n := 0
	for name, q := range statements.ReadShapes() {
		if !strings.HasPrefix(name, "tenant events") {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			plan := explain(t, s, q.SQL, q.Args)
			text := strings.Join(plan, "\n")
			want := "SEARCH e USING INDEX events_by_time (tenant_id=?"
			switch {
			case strings.Contains(name, "cursor") || strings.Contains(name, "all"):
				want = "SEARCH e USING INDEX events_by_time (tenant_id=? AND (customer_id,occurred_at,event_id)>(?,?,?))"
			case strings.Contains(name, "walk"): // bounded by the page's last customer
				want = "SEARCH e USING INDEX events_by_time (tenant_id=? AND (customer_id,occurred_at,event_id)>(?,?,?) AND customer_id<?)"
			}
			if len(plan) == 0 || !strings.HasPrefix(plan[0], want) {
				t.Errorf("the export does not walk events_by_time (want %q first):\n%s", want, text)
			}
			if strings.Contains(name, "segment") || strings.Contains(name, "all") {
				if !strings.Contains(text, "SEARCH c USING PRIMARY KEY (tenant_id=? AND customer_id=?)") {
					t.Errorf("the segment is not a probe of the customer's primary key:\n%s", text)
				}
			}
		})
	}
	if n != 5 {
		t.Fatalf("%d export shapes; want 5", n)
	}
}

// explain returns the detail column of SQLite's plan for a query.
func explain(t *testing.T, s *Store, sql string, args []any) []string {
	t.Helper()
	rows, err := s.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+sql, args...)
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
