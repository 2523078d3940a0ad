package sqlite

import (
	"fmt"
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
		"lookup":       {lookupQuery, []any{"t", "c"}},
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
	queries["customers"] = struct {
		sql  string
		args []any
	}{customersQuery, []any{"t", "c", 10}}
	for name, q := range rankShapes() {
		sql, args, err := rankedQuery("t", q)
		if err != nil {
			t.Fatalf("rankedQuery(%s): %v", name, err)
		}
		queries["ranked "+name] = struct {
			sql  string
			args []any
		}{sql, args}
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			plan := explain(t, s, q.sql, q.args)
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

// rankShapes is every shape rankedQuery builds: each index and direction,
// with and without a segment, each bound and a cursor.
func rankShapes() map[string]ledger.RankQuery {
	out := map[string]ledger.RankQuery{}
	key := 1.5
	indexes := []struct {
		name string
		idx  ledger.RankIndex
	}{{"balance", ledger.ByBalance}, {"recovery", ledger.ByRecovery}, {"advocacy", ledger.ByAdvocacy}}
	for _, ix := range indexes {
		for _, desc := range []bool{false, true} {
			for _, segment := range []string{"", "smb"} {
				for _, lo := range []*float64{nil, &key} {
					for _, hi := range []*float64{nil, &key} {
						for _, after := range []*ledger.RankCursor{nil, {Key: key, CustomerID: "c"}} {
							q := ledger.RankQuery{Index: ix.idx, Desc: desc, Segment: segment, Min: lo, Max: hi, After: after, Limit: 10}
							out[fmt.Sprintf("%s desc=%t segment=%t min=%t max=%t after=%t",
								ix.name, desc, segment != "", lo != nil, hi != nil, after != nil)] = q
						}
					}
				}
			}
		}
	}
	return out
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
	for name, q := range rankShapes() {
		if q.Index != ledger.ByBalance || q.Segment == "" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			sql, args, err := rankedQuery("t", q)
			if err != nil {
				t.Fatal(err)
			}
			plan := explain(t, s, sql, args)
			// Regression: with two range terms SQLite once chose customers_by_rank and filtered the segment row by row.
			if len(plan) != 1 || !strings.Contains(plan[0], "USING INDEX customers_by_segment_rank (tenant_id=? AND segment=?") {
				t.Errorf("segment ranking does not search customers_by_segment_rank by segment:\n%s", strings.Join(plan, "\n"))
			}
		})
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
