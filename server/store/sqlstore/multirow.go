package sqlstore

import "context"

// Without arrays (SQLite) a batch's rows still travel in few statements:
// multi-row VALUES lists of a few fixed sizes, prepared at open like the
// single-row ones, largest first (a batch of 50 is 32 + 16 + 2). Per
// statement the driver and database/sql cost about as much as SQLite's
// own work for one row (binding, the context watcher, locking), so one
// statement per row spent a quarter of a batch's CPU outside SQLite.
//
// A multi-row statement inside a transaction keeps a statement journal
// (the pages it changed, so a failing row undoes the statement alone),
// which SQLite spills to a temp file past 64 KiB. For batches of 1,000
// events the saving is far larger than that cost (server CPU per event
// 216 -> 165 us); for single events' batches of a few dozen the two
// cancel out. Keeping temp files in memory (temp_store) made single
// events 10-15% cheaper but raised the server's peak RSS by about 35 MB,
// so it is not set (docs/benchmarks.md, round 2, eighth sitting).
var rowCounts = []int{64, 32, 16, 8, 4, 2}

// rowsPerStatement is how many of left rows the next statement carries:
// the largest of rowCounts that fits, or one.
func rowsPerStatement(left int) int {
	for _, c := range rowCounts {
		if c <= left {
			return c
		}
	}
	return 1
}

// multiRow is one table's insert (or upsert) for each of rowCounts.
type multiRow map[int]string

// newMultiRow builds t's statement for each row count; conflict, if set,
// makes each an upsert on that key, as upsert does.
func (s *Statements) newMultiRow(t table, conflict string) multiRow {
	m := multiRow{}
	for _, n := range rowCounts {
		q := s.d.query("INSERT INTO " + t.name + " (" + t.list("") + ") VALUES ")
		vals := make([]any, len(t.cols))
		for i := range n {
			if i > 0 {
				q.b.WriteString(", ")
			}
			q.b.WriteString("(")
			s.values(q, t, vals)
			q.b.WriteString(")")
		}
		if conflict != "" {
			q.b.WriteString(" ON CONFLICT (" + conflict + ") DO UPDATE SET " + updates(t, conflict))
		}
		m[n] = q.sql()
	}
	return m
}

// execRows writes rows (each a row's bound values, in the table's column
// order) with single, the one-row statement, and m's larger ones.
func (t *Txn) execRows(ctx context.Context, single string, m multiRow, rows [][]any) error {
	for len(rows) > 0 {
		n, sql := rowsPerStatement(len(rows)), single
		if n > 1 {
			sql = m[n]
		}
		args := make([]any, 0, n*len(rows[0]))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := t.exec(ctx, t.s.fixed(sql, args...)); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// newMultiIn builds, for each of rowCounts and for one, the statement base
// builds (its parameters blank) followed by "AND col IN (...)" with that
// many values: a batch's reads by key, in few statements.
func (s *Statements) newMultiIn(base func() *query, col string) multiRow {
	m := multiRow{}
	for _, n := range append([]int{1}, rowCounts...) {
		m[n] = base().and(col+" IN ("+placeholders(n)+")", make([]any, n)...).sql()
	}
	return m
}

// queryIn runs m's statements for vals in as few statements as rowCounts
// allow, lead (the base's parameters) first in each; each scans a row.
func (t *Txn) queryIn(ctx context.Context, m multiRow, lead, vals []any, each func(scanner) error) error {
	for len(vals) > 0 {
		n := rowsPerStatement(len(vals))
		args := append(append(make([]any, 0, len(lead)+n), lead...), vals[:n]...)
		if err := t.query(ctx, t.s.fixed(m[n], args...), each); err != nil {
			return err
		}
		vals = vals[n:]
	}
	return nil
}
