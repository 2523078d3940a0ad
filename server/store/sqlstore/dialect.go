package sqlstore

import (
	"strconv"
	"strings"
	"time"
)

// Dialect is what differs between the SQL servers in the statements
// themselves. A backend declares one and hands it to NewStatements.
type Dialect struct {
	// Name is for messages: "sqlite", "postgresql", "cockroachdb".
	Name string
	// Numbered placeholders ($1, $2...) instead of "?".
	Numbered bool
	// Micros stores times as integer Unix microseconds (SQLite); otherwise
	// as TIMESTAMPTZ.
	Micros bool
	// JSONColumn is how a JSON column reads back as text, given its name
	// ("attributes::TEXT" for JSONB); JSONParam is how a text parameter
	// becomes the column's type ("?::JSONB"); "" means as is.
	JSONColumn func(col string) string
	JSONParam  func(placeholder string) string
	// Arrays sends a batch as arrays the server unnests, in one statement
	// (PostgreSQL, CockroachDB); without it a batch goes in multi-row
	// statements of a few fixed sizes, prepared ahead (SQLite;
	// multirow.go).
	Arrays bool
	// SerialWrites: the backend runs one write transaction at a time
	// (SQLite's single writer). Notifications are then numbered as they
	// are written, in the writing transaction: transactions commit in the
	// order they took their numbers, so no later pass is needed (the
	// sequencer finds nothing to do).
	SerialWrites bool
	// SegmentRankHint, when set, is inserted after "FROM customers" in a
	// ranking read within one segment: SQLite without statistics may walk
	// every segment through the plain rank index otherwise.
	SegmentRankHint string
	// IndexedBy names, in the probes of one event by idempotency key or by
	// incident, the index that must serve them (SQLite's INDEXED BY).
	// SQLite without statistics preferred the primary key's tenant prefix,
	// which covers every column, over those narrower indexes, and read the
	// tenant's whole event log per probe.
	IndexedBy bool
	// InsertOrFail makes the write path's inserts INSERT OR FAIL, and its
	// updates of customers it read UPDATE OR FAIL (SQLite). By default a
	// failing statement undoes the rows it already wrote (ABORT), and for
	// that SQLite keeps a statement journal of every page a multi-row
	// statement changes, a temp file past 64 KiB: more page writes than
	// the WAL's own for a batch of single events. FAIL keeps those rows
	// instead, which costs nothing here: every store call that fails
	// fails its transaction, and the backend rolls the whole of it back.
	InsertOrFail bool
}

// insertInto is how the write path's inserts begin.
func (d *Dialect) insertInto() string {
	if d.InsertOrFail {
		return "INSERT OR FAIL INTO "
	}
	return "INSERT INTO "
}

// Time is how a time travels as a parameter.
func (d *Dialect) Time(t time.Time) any {
	if d.Micros {
		return t.UnixMicro()
	}
	return t
}

// NullTime is Time, with the zero time as NULL.
func (d *Dialect) NullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.Time(t)
}

func (d *Dialect) jsonColumn(col string) string {
	if d.JSONColumn == nil {
		return col
	}
	return d.JSONColumn(col)
}

// query builds one statement and its parameters, numbering placeholders
// the dialect's way.
type query struct {
	d    *Dialect
	b    strings.Builder
	args []any
}

func (d *Dialect) query(sql string) *query {
	q := &query{d: d}
	q.b.WriteString(sql)
	return q
}

// onTenant starts a statement on one tenant's rows: sql ("SELECT ... FROM
// customers", "UPDATE ...") and then the tenant predicate on column, which
// every other condition follows. alias qualifies the column ("e." or "").
func (d *Dialect) onTenant(sql, alias, tenant string) *query {
	q := d.query(sql)
	q.b.WriteString(" WHERE " + alias + "tenant_id = ")
	q.b.WriteString(q.arg(tenant))
	return q
}

// arg adds a parameter and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	if q.d.Numbered {
		return "$" + strconv.Itoa(len(q.args))
	}
	return "?"
}

// and adds a condition, with ? where each of args goes.
func (q *query) and(cond string, args ...any) *query {
	q.b.WriteString(" AND ")
	q.write(cond, args...)
	return q
}

// write adds SQL, replacing each ? with the next of args' placeholders.
func (q *query) write(sql string, args ...any) *query {
	for _, a := range args {
		i := strings.IndexByte(sql, '?')
		q.b.WriteString(sql[:i])
		q.b.WriteString(q.arg(a))
		sql = sql[i+1:]
	}
	q.b.WriteString(sql)
	return q
}

func (q *query) sql() string { return q.b.String() }

// stmt is q as a pipeline's statement.
func (q *query) stmt() Stmt { return Stmt{SQL: q.sql(), Args: q.args} }

// prepared is q as a pipeline's statement planned once per connection
// (see Conn.ExecPrepared).
func (q *query) prepared() Stmt { return Stmt{SQL: q.sql(), Args: q.args, Prepared: true} }
