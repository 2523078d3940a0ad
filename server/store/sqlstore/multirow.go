package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// Without arrays (SQLite) a batch's rows still travel in few statements:
// multi-row VALUES lists of a few fixed sizes, prepared at open like the
// single-row ones, largest first (a batch of 50 is 32 + 16 + 2). Per
// statement the driver and database/sql cost about as much as SQLite's
// own work for one row (binding, the context watcher, locking), so one
// statement per row spent a quarter of a batch's CPU outside SQLite.
//
// Each is INSERT OR FAIL (Dialect.InsertOrFail): a plain multi-row
// insert inside a transaction keeps a statement journal (the pages it
// changed, so a failing row undoes the statement alone), which SQLite
// spills to a temp file past 64 KiB, a write per page. Customers already
// stored are updated, not upserted, for the same reason (putCustomerRows).
// Without the journals single events cost 8-12% less server CPU
// (docs/benchmarks.md, round 2, ninth sitting).
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
		q := s.d.query(s.d.insertInto() + t.name + " (" + t.list("") + ") VALUES ")
		s.valueRows(q, t, n)
		if conflict != "" {
			q.b.WriteString(" ON CONFLICT (" + conflict + ") DO UPDATE SET " + updates(t, conflict))
		}
		m[n] = q.sql()
	}
	return m
}

// valueRows writes n rows of t's placeholders, "(?, ...), (?, ...)".
func (s *Statements) valueRows(q *query, t table, n int) {
	vals := make([]any, len(t.cols))
	for i := range n {
		if i > 0 {
			q.b.WriteString(", ")
		}
		q.b.WriteString("(")
		s.values(q, t, vals)
		q.b.WriteString(")")
	}
}

// multiUpdate is newMultiUpdate's statements: an update of existing rows
// of a table, found by key, every other column set from the row's values.
type multiUpdate struct {
	// rows holds, for each of rowCounts, the update of that many rows:
	// UPDATE ... FROM a VALUES list, whose columns SQLite names column1,
	// column2..., each row's values in the table's column order.
	rows multiRow
	// one is the update of a single row, a plain UPDATE ... WHERE (SQLite
	// would copy a one-row VALUES list, or a SELECT, to a temp table
	// first); its parameters are the row's values in order's order.
	one   string
	order []int
}

// newMultiUpdate builds t's updates by key (comma-separated columns). Only
// for rows known to exist (Txn.known): the update of one that does not
// changes nothing, which updateRows checks.
func (s *Statements) newMultiUpdate(t table, key string) multiUpdate {
	inKey := map[string]bool{}
	for _, k := range strings.Split(key, ",") {
		inKey[strings.TrimSpace(k)] = true
	}
	var set, where, oneSet, oneWhere []string
	var setOrder, keyOrder []int
	for i, c := range t.cols {
		v := "v.column" + strconv.Itoa(i+1)
		if inKey[c.name] {
			where = append(where, t.name+"."+c.name+" = "+v)
			oneWhere = append(oneWhere, c.name+" = ?")
			keyOrder = append(keyOrder, i)
		} else {
			set = append(set, c.name+" = "+v)
			oneSet = append(oneSet, c.name+" = ?")
			setOrder = append(setOrder, i)
		}
	}
	u := multiUpdate{rows: multiRow{}, order: append(setOrder, keyOrder...)}
	u.one = s.d.query("UPDATE OR FAIL "+t.name+" SET ").
		write(strings.Join(oneSet, ", ")+" WHERE "+strings.Join(oneWhere, " AND "), make([]any, len(t.cols))...).sql()
	for _, n := range rowCounts {
		q := s.d.query("UPDATE OR FAIL " + t.name + " SET " + strings.Join(set, ", ") + " FROM (VALUES ")
		s.valueRows(q, t, n)
		q.b.WriteString(") AS v WHERE " + strings.Join(where, " AND "))
		u.rows[n] = q.sql()
	}
	return u
}

// execRows writes rows (each a row's bound values, in the table's column
// order) with single, the one-row statement, and m's larger ones, and
// returns how many rows they changed.
func (t *Txn) execRows(ctx context.Context, single string, m multiRow, rows [][]any) (int64, error) {
	var changed int64
	for len(rows) > 0 {
		n, sql := rowsPerStatement(len(rows)), single
		if n > 1 {
			sql = m[n]
		}
		args := make([]any, 0, n*len(rows[0]))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		c, err := t.exec(ctx, t.s.fixed(sql, args...))
		if err != nil {
			return changed, err
		}
		changed += c
		rows = rows[n:]
	}
	return changed, nil
}

// updateRows is execRows for u's updates, whose rows must all exist: an
// update that finds fewer is an error, before the transaction commits,
// rather than a customer write lost.
func (t *Txn) updateRows(ctx context.Context, u multiUpdate, rows [][]any) error {
	for i := 0; i < len(rows); i += rowsPerStatement(len(rows) - i) {
		if rowsPerStatement(len(rows)-i) == 1 { // execRows sends this row alone
			one := make([]any, len(rows[i]))
			for j, k := range u.order {
				one[j] = rows[i][k]
			}
			rows[i] = one
		}
	}
	n, err := t.execRows(ctx, u.one, u.rows, rows)
	if err == nil && n != int64(len(rows)) {
		err = fmt.Errorf("sqlstore: update of %d rows known to exist changed %d", len(rows), n)
	}
	return err
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

// noteKnown records whether a customer t read exists (without arrays).
func (t *Txn) noteKnown(tenant, id string, exists bool) {
	if t.s.d.Arrays {
		return
	}
	if t.known == nil {
		t.known = map[string]bool{}
	}
	t.known[readKey(tenant, id)] = exists
}

// putCustomerRows is PutCustomers without arrays. A customer the
// transaction read is updated if it exists and inserted if not, each in
// multi-row statements that need no statement journal (OR FAIL, see
// Dialect.InsertOrFail); an upsert would need one, since its updates may
// abort. Customers it did not read go in upserts. SQLite runs one write
// transaction at a time, so what the transaction read still holds.
func (t *Txn) putCustomerRows(ctx context.Context, cs []ledger.Customer) error {
	var update, insert, upsert [][]any
	for _, c := range cs {
		v, err := customerValues(c)
		if err != nil {
			return err
		}
		row := customers.bind(t.s.d, v)
		exists, ok := t.known[readKey(c.TenantID, c.ID)]
		switch {
		case !ok:
			upsert = append(upsert, row)
		case exists:
			update = append(update, row)
		default:
			insert = append(insert, row)
			t.known[readKey(c.TenantID, c.ID)] = true
		}
	}
	if err := t.updateRows(ctx, t.s.customerUpdates, update); err != nil {
		return err
	}
	if _, err := t.execRows(ctx, t.s.customerInserts[1], t.s.customerInserts, insert); err != nil {
		return err
	}
	_, err := t.execRows(ctx, t.s.putCustomerSQL, t.s.customerRows, upsert)
	return err
}
