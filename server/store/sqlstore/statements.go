package sqlstore

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// Statements are the ledger's statements for one dialect. The ones every
// write or balance read runs are built once, here; the others per call.
type Statements struct {
	d *Dialect

	customerSQL, putCustomerSQL, appendEventSQL string
	eventByKeySQL, historySQL, lookupSQL        string
	activePolicySQL                             string
	// The outbox's writes, run for every batch of events and every webhook
	// round.
	notificationSQL, numberedNotificationSQL, sequenceSQL string
	seqSQL, putSeqSQL, attemptSQL                         string
	// Without arrays, the batch writes' multi-row forms (multirow.go).
	eventRows, customerRows, notificationRows, numberedNotificationRows multiRow
	// and the customers' split by what the transaction read: inserts of
	// the new, updates of the existing (putCustomerRows).
	customerInserts multiRow
	customerUpdates multiUpdate
	// and its batch reads': customers by id, events by idempotency key.
	customersIn, eventsByKeyIn multiRow
}

// NewStatements builds the statements for d.
func NewStatements(d *Dialect) *Statements {
	s := &Statements{d: d}
	s.customerSQL = s.selectCustomers("").and("customer_id = ?", "").sql()
	s.putCustomerSQL = s.upsert(customers, make([]any, len(customers.cols)), "tenant_id, customer_id").sql()
	s.appendEventSQL = s.insert(events, make([]any, len(events.cols))).sql()
	s.eventByKeySQL = s.eventSelectVia("", "events_by_idempotency_key").and("e.idempotency_key = ?", "").and(s.keyCustomer()+" = ?", "").
		and("e.idempotency_key <> ''").sql()
	s.historySQL = s.eventSelect("").and("e.customer_id = ?", "").sql()
	s.lookupSQL = s.lookup("", "").sql()
	s.activePolicySQL = d.onTenant(`SELECT p.version, p.body, p.created_at FROM active_policies a
		JOIN policies p ON p.tenant_id = a.tenant_id AND p.version = a.version`, "a.", "").sql()
	s.notificationSQL = s.insert(notifications, make([]any, len(notifications.cols))).sql()
	s.numberedNotificationSQL = s.insert(numberedNotifications, make([]any, len(numberedNotifications.cols))).sql()
	sq := d.query("UPDATE notifications SET ").write("seq = ?", 0)
	sq.b.WriteString(" WHERE tenant_id = " + sq.arg(""))
	s.sequenceSQL = sq.and("notification_id = ?", "").sql()
	s.seqSQL = d.query("SELECT seq FROM notification_seq WHERE ").write("id = ?", 0).sql()
	s.putSeqSQL = d.query("INSERT INTO notification_seq (id, seq) VALUES (").
		write("?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq", 0, 0).sql()
	s.attemptSQL = s.upsert(attempts, make([]any, len(attempts.cols)), "tenant_id, webhook_id, slot").sql()
	if !d.Arrays {
		s.eventRows = s.newMultiRow(events, "")
		s.customerRows = s.newMultiRow(customers, "tenant_id, customer_id")
		s.customerInserts = s.newMultiRow(customers, "")
		s.customerInserts[1] = s.insert(customers, make([]any, len(customers.cols))).sql()
		s.customerUpdates = s.newMultiUpdate(customers, "tenant_id, customer_id")
		s.notificationRows = s.newMultiRow(notifications, "")
		s.numberedNotificationRows = s.newMultiRow(numberedNotifications, "")
		s.customersIn = s.newMultiIn(func() *query { return s.selectCustomers("") }, "customer_id")
		s.eventsByKeyIn = s.newMultiIn(func() *query {
			return s.eventSelectVia("", "events_by_idempotency_key").and("e.idempotency_key <> ''")
		}, "e.idempotency_key")
	}
	return s
}

// Hot lists the statements a backend may want to prepare ahead: every
// write and every balance read runs them.
func (s *Statements) Hot() []string {
	hot := []string{s.customerSQL, s.putCustomerSQL, s.appendEventSQL, s.eventByKeySQL, s.historySQL, s.lookupSQL,
		s.activePolicySQL, s.notificationSQL, s.numberedNotificationSQL, s.sequenceSQL, s.seqSQL, s.putSeqSQL, s.attemptSQL}
	for _, m := range []multiRow{s.eventRows, s.customerRows, s.notificationRows, s.numberedNotificationRows,
		s.customerInserts, s.customerUpdates.rows, s.customersIn, s.eventsByKeyIn} {
		for _, n := range append([]int{1}, rowCounts...) {
			if sql, ok := m[n]; ok {
				hot = append(hot, sql)
			}
		}
	}
	if s.customerUpdates.one != "" {
		hot = append(hot, s.customerUpdates.one)
	}
	return hot
}

// fixed is a statement built once, with this call's parameters.
func (s *Statements) fixed(sql string, args ...any) *query {
	q := s.d.query(sql)
	q.args = args
	return q
}

func (s *Statements) selectCustomers(tenant string) *query {
	return s.d.onTenant("SELECT "+customers.selectList(s.d, "")+" FROM customers", "", tenant)
}

func (s *Statements) customer(tenant, id string) *query { return s.fixed(s.customerSQL, tenant, id) }

func (s *Statements) customersAfter(tenant, after string, limit int) *query {
	return s.selectCustomers(tenant).and("customer_id > ?", after).write(" ORDER BY customer_id LIMIT ?", limit)
}

// lookup reads a customer and the tenant's active policy version in one
// statement: ledger.NeverInstalled (0) when it never installed one.
func (s *Statements) lookup(tenant, id string) *query {
	q := s.d.query("SELECT " + customers.selectList(s.d, "") + ", coalesce((SELECT version FROM active_policies WHERE ")
	q.write("tenant_id = ?), 0) FROM customers", tenant)
	q.b.WriteString(" WHERE tenant_id = " + q.arg(tenant))
	return q.and("customer_id = ?", id)
}

// insert is an INSERT of one row of t with these (bound) values.
func (s *Statements) insert(t table, vals []any) *query {
	q := s.d.query(s.d.insertInto() + t.name + " (" + t.list("") + ") VALUES (")
	s.values(q, t, vals)
	return q.write(")")
}

// values writes one row's placeholders, JSON columns cast as the dialect
// needs.
func (s *Statements) values(q *query, t table, vals []any) {
	for i, v := range vals {
		if i > 0 {
			q.b.WriteString(", ")
		}
		p := q.arg(v)
		if t.cols[i].typ == colJSON && s.d.JSONParam != nil {
			p = s.d.JSONParam(p)
		}
		q.b.WriteString(p)
	}
}

// upsert inserts a row of t or, when its key (conflict) exists, replaces
// every other column. An upsert rather than a delete and insert: only the
// indexes whose columns changed are touched.
func (s *Statements) upsert(t table, vals []any, conflict string) *query {
	q := s.insert(t, vals)
	return q.write(" ON CONFLICT (" + conflict + ") DO UPDATE SET " + updates(t, conflict))
}

// updates is "col = excluded.col" for every column of t outside key.
func updates(t table, key string) string {
	inKey := map[string]bool{}
	for _, k := range strings.Split(key, ",") {
		inKey[strings.TrimSpace(k)] = true
	}
	var set []string
	for _, c := range t.cols {
		if !inKey[c.name] {
			set = append(set, c.name+" = excluded."+c.name)
		}
	}
	return strings.Join(set, ", ")
}

func (s *Statements) putCustomer(c ledger.Customer) (*query, error) {
	vals, err := customerValues(c)
	if err != nil {
		return nil, err
	}
	return s.fixed(s.putCustomerSQL, customers.bind(s.d, vals)...), nil
}

func (s *Statements) appendEvent(e ledger.Event) (*query, error) {
	vals, err := eventValues(e)
	if err != nil {
		return nil, err
	}
	return s.fixed(s.appendEventSQL, events.bind(s.d, vals)...), nil
}

// eventSelect reads a tenant's events with the id of the reversal that
// cancels each, found through the events_by_reversed index.
func (s *Statements) eventSelect(tenant string) *query { return s.eventSelectVia(tenant, "") }

// eventSelectVia is eventSelect through one index, named where the dialect
// needs it named (Dialect.IndexedBy).
func (s *Statements) eventSelectVia(tenant, index string) *query {
	from := "events e"
	if index != "" && s.d.IndexedBy {
		from += " INDEXED BY " + index
	}
	return s.d.onTenant("SELECT "+events.selectList(s.d, "e.")+`, COALESCE(r.event_id, '')
	FROM `+from+`
	LEFT JOIN events r ON r.tenant_id = e.tenant_id AND r.customer_id = e.customer_id
		AND r.reverses_event_id = e.event_id AND r.reverses_event_id <> ''`, "e.", tenant)
}

func (s *Statements) incidentEvent(tenant, incidentID string, kind ledger.Kind, fingerprint string) *query {
	q := s.eventSelectVia(tenant, "events_by_incident").and("e.incident_id = ?", incidentID).and("e.kind = ?", kind.String())
	if fingerprint != "" {
		q.and("e.fingerprint = ?", fingerprint)
	}
	return q.and("e.incident_id <> ''").write(" LIMIT 1")
}

func (s *Statements) eventByKey(tenant, customerID, key string) *query {
	return s.fixed(s.eventByKeySQL, tenant, key, customerID)
}

func (s *Statements) history(tenant, customerID string) *query {
	return s.fixed(s.historySQL, tenant, customerID)
}

// histories reads several customers' histories at once (Dialect.Arrays):
// the primary key's (tenant, customer) prefix serves each id.
func (s *Statements) histories(tenant string, ids []string) *query {
	return s.eventSelect(tenant).and("e.customer_id = ANY(?::TEXT[])", ids)
}

// Events builds the ListEvents read; the SQLite backend's plan test checks
// that an index serves every shape of it.
func (s *Statements) Events(tenant, customerID string, q ledger.EventQuery) *query {
	b := s.eventSelect(tenant).and("e.customer_id = ?", customerID)
	if len(q.Kinds) > 0 {
		names := make([]any, len(q.Kinds))
		for i, k := range q.Kinds {
			names[i] = k.String()
		}
		b.and("e.kind IN ("+placeholders(len(names))+")", names...)
	}
	if !q.Start.IsZero() {
		b.and("e.occurred_at >= ?", s.d.Time(q.Start))
	}
	if !q.End.IsZero() {
		b.and("e.occurred_at < ?", s.d.Time(q.End))
	}
	if q.After != nil {
		// A row-value comparison keeps the walk on the index.
		b.and("(e.occurred_at, e.event_id) < (?, ?)", s.d.Time(q.After.OccurredAt), q.After.EventID)
	}
	return b.write(" ORDER BY e.occurred_at DESC, e.event_id DESC LIMIT ?", q.Limit)
}

// TenantEvents builds the export read: a tenant's events in (customer_id,
// occurred_at, event_id) order, which events_by_time (tenant_id,
// customer_id, occurred_at, event_id) gives without a sort, so LIMIT stops
// the walk after one page. The filters are checked on the rows walked: the
// segment by one probe of the customer's primary key per row (an EXISTS
// that OFFSET keeps from becoming a join: PostgreSQL planned the join from
// the segment's customers and sorted their events), and kinds and times on
// the row itself. A page with
// rare matches therefore walks further; it never sorts.
func (s *Statements) TenantEvents(tenant string, q ledger.TenantEventQuery) *query {
	b := s.eventSelectVia(tenant, "events_by_time")
	if q.After != nil {
		// A row-value comparison keeps the walk on the index.
		b.and("(e.customer_id, e.occurred_at, e.event_id) > (?, ?, ?)",
			q.After.CustomerID, s.d.Time(q.After.OccurredAt), q.After.EventID)
	}
	if q.ThroughCustomer != "" {
		b.and("e.customer_id <= ?", q.ThroughCustomer)
	}
	if q.Segment != "" {
		b.and(`EXISTS (SELECT 1 FROM customers c WHERE c.tenant_id = e.tenant_id
		AND c.customer_id = e.customer_id AND c.segment = ? LIMIT 1 OFFSET 0)`, q.Segment)
	}
	if len(q.Kinds) > 0 {
		names := make([]any, len(q.Kinds))
		for i, k := range q.Kinds {
			names[i] = k.String()
		}
		b.and("e.kind IN ("+placeholders(len(names))+")", names...)
	}
	if !q.Start.IsZero() {
		b.and("e.occurred_at >= ?", s.d.Time(q.Start))
	}
	if !q.End.IsZero() {
		b.and("e.occurred_at < ?", s.d.Time(q.End))
	}
	if !q.RecordedThrough.IsZero() {
		b.and("e.recorded_at <= ?", s.d.Time(q.RecordedThrough))
	}
	return b.write(" ORDER BY e.customer_id, e.occurred_at, e.event_id LIMIT ?", q.Limit)
}

var rankColumns = map[ledger.RankIndex]string{
	ledger.ByBalance:  "balance_rank",
	ledger.ByRecovery: "recovery_key",
	ledger.ByAdvocacy: "advocacy_key",
}

// Ranked builds a ranking read that an index serves in order.
func (s *Statements) Ranked(tenant string, q ledger.RankQuery) (*query, error) {
	col := rankColumns[q.Index]
	if col == "" {
		return nil, fmt.Errorf("unknown rank index %d", q.Index)
	}
	from := "SELECT " + customers.selectList(s.d, "") + " FROM customers"
	if q.Segment != "" && q.Index == ledger.ByBalance && s.d.SegmentRankHint != "" {
		from += " " + s.d.SegmentRankHint
	}
	b := s.d.onTenant(from, "", tenant)
	if q.Index != ledger.ByBalance {
		b.and(col + " IS NOT NULL") // the partial index's predicate
	}
	if q.Segment != "" {
		b.and("segment = ?", q.Segment)
	}
	if q.Min != nil {
		b.and(col+" >= ?", *q.Min)
	}
	if q.Max != nil {
		b.and(col+" <= ?", *q.Max)
	}
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	if q.After != nil {
		b.and("("+col+", customer_id) "+cmp+" (?, ?)", q.After.Key, q.After.CustomerID)
	}
	return b.write(" ORDER BY "+col+" "+dir+", customer_id "+dir+" LIMIT ?", q.Limit), nil
}

// The array statements send a whole batch at once, as arrays the server
// unnests: one round trip instead of one per row (Dialect.Arrays).

// customersByIDs probes the primary key once per id, whatever the
// statistics say: with none (autovacuum off, or a table that grew fast)
// PostgreSQL planned "= ANY($2)" as a scan of the tenant's whole index, and
// at 1M customers a 1,000-event batch took seconds.
//
// With version, each row carries its version (PostgreSQL's xmin) as a last
// column (Txn.Guarded).
func (s *Statements) customersByIDs(tenant string, ids []string, version bool) *query {
	q := s.d.query("SELECT c.* FROM unnest(")
	q.write("?::TEXT[]) AS k (id) CROSS JOIN LATERAL (", ids)
	inner := s.selectCustomers(tenant)
	if version {
		inner = s.d.onTenant("SELECT "+customers.selectList(s.d, "")+", xmin::TEXT FROM customers", "", tenant)
	}
	q.b.WriteString(shift(inner, q))
	return q.write(" AND customer_id = k.id LIMIT 1) AS c")
}

// activePolicy reads the tenant's active policy.
func (s *Statements) activePolicy(tenant string) *query {
	return s.d.onTenant(`SELECT p.version, p.body, p.created_at FROM active_policies a
		JOIN policies p ON p.tenant_id = a.tenant_id AND p.version = a.version`, "a.", tenant)
}

// guardedUpsert writes customer rows where each still has the version
// read (Txn.Guarded): versions maps tenant and id to the xmin read, and
// a customer missing from it was absent, so finding its row on conflict
// writes nothing. A row this transaction wrote already (its xmin is this
// transaction's) is written again.
func (s *Statements) guardedUpsert(rows [][]any, versions map[string]string) *query {
	q := s.insertArrays(customers, rows, "tenant_id, customer_id")
	b, _ := json.Marshal(versions) // strings only: cannot fail
	return q.write(` WHERE customers.xmin::TEXT = (?::JSONB ->> (customers.tenant_id || chr(1) || customers.customer_id))
		OR customers.xmin = pg_current_xact_id()::xid`, string(b))
}

// lockPolicy takes the tenant's policy lock, shared by the transactions
// that write under the active policy and exclusive for the one that
// replaces it (PostgreSQL only: Txn.WithLocks). The lock's key is a 64-bit
// hash of the tenant; two tenants that collide only wait for each other.
func (s *Statements) lockPolicy(tenant string, shared bool) *query {
	fn := "pg_advisory_xact_lock"
	if shared {
		fn += "_shared"
	}
	return s.d.query("SELECT "+fn+"(hashtextextended('policy' || chr(1) || ").write("?, 0))", tenant)
}

// eventsByKeys reads, for each distinct key, the tenant's events that hold
// it, through events_by_idempotency_key's (tenant_id, idempotency_key)
// prefix; the caller keeps the ones of the customers it asked about. The
// customer is left out of the probe on purpose: with it, PostgreSQL could
// answer from the primary key's (tenant_id, customer_id) prefix instead,
// and did whenever its statistics described an average customer, reading a
// busy customer's whole history per key (docs/benchmarks.md, round 2);
// without it, only this index can serve the probe. A key is nearly always
// one customer's; RecordIncident gives one key to each of an incident's
// customers, and reading them once per key keeps an incident of 10,000
// customers linear. OFFSET 0 keeps the LATERAL subquery from being
// flattened into a join, which PostgreSQL planned from stale statistics as
// a merge join over the tenant's whole event log (goodwillbench saw 12 ms
// become 300 ms per 1,000-key batch at 400k events).
func (s *Statements) eventsByKeys(tenant string, ks []ledger.CustomerKey) *query {
	q := s.d.query("SELECT x.* FROM unnest(")
	q.write("?::TEXT[]) AS k (idem) CROSS JOIN LATERAL (", distinctKeys(ks))
	q.b.WriteString(shift(s.eventSelect(tenant), q))
	return q.write(` AND e.idempotency_key = k.idem AND e.idempotency_key <> '' OFFSET 0) AS x`)
}

// distinctKeys is each idempotency key of ks once: a key's read finds
// every customer's event under it, and keyHolders picks those asked for.
func distinctKeys(ks []ledger.CustomerKey) []string {
	var keys []string
	seen := make(map[string]bool, len(ks))
	for _, k := range ks {
		if !seen[k.Key] {
			seen[k.Key] = true
			keys = append(keys, k.Key)
		}
	}
	return keys
}

// keyCustomer is how the one-key probe (eventByKeySQL) compares the
// customer. On PostgreSQL through an expression, so that only
// events_by_idempotency_key, by (tenant_id, idempotency_key), can serve the
// probe (see eventsByKeys); the customers sharing the key are then
// filtered, which reads as many entries as there are. SQLite, told the
// index by name (Dialect.IndexedBy), uses all three of its columns.
func (s *Statements) keyCustomer() string {
	if s.d.IndexedBy {
		return "e.customer_id"
	}
	return "e.customer_id || ''"
}

// shift appends inner's parameters to outer's and returns inner's SQL with
// its placeholders renumbered to follow outer's.
func shift(inner, outer *query) string {
	sql := inner.sql()
	base := len(outer.args)
	outer.args = append(outer.args, inner.args...)
	if !outer.d.Numbered {
		return sql
	}
	return placeholder.ReplaceAllStringFunc(sql, func(p string) string {
		n, _ := strconv.Atoi(p[1:])
		return "$" + strconv.Itoa(base+n)
	})
}

var placeholder = regexp.MustCompile(`\$[0-9]+`)

// insertArrays inserts rows of t as one statement over unnested arrays,
// one array per column; with conflict set, existing rows are replaced.
func (s *Statements) insertArrays(t table, rows [][]any, conflict string) *query {
	q := s.d.query("INSERT INTO " + t.name + " (" + t.list("") + ") SELECT ")
	s.unnest(q, t, rows, "")
	if conflict != "" {
		q.b.WriteString(" ON CONFLICT (" + conflict + ") DO UPDATE SET " + updates(t, conflict))
	}
	return q
}

// unnest writes "c0, c1... FROM unnest($1::T[], ...) AS u (c0, c1...)":
// rows of t as arrays, one per column, and the columns they unnest to.
// from, if set, joins more before the arrays ("s, "), and the arrays'
// rows are then numbered from 1 (ord).
func (s *Statements) unnest(q *query, t table, rows [][]any, from string) {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = fmt.Sprintf("c%d", i)
		if c.typ == colJSON {
			names[i] += "::JSONB"
		}
	}
	q.b.WriteString(strings.Join(names, ", ") + " FROM " + from + "unnest(")
	for i, c := range t.cols {
		if i > 0 {
			q.b.WriteString(", ")
		}
		q.b.WriteString(q.arg(columnArray(c.typ, rows, i)) + "::" + arrayType[c.typ])
	}
	for i := range names {
		names[i] = fmt.Sprintf("c%d", i)
	}
	if from == "" {
		q.b.WriteString(") AS u (" + strings.Join(names, ", ") + ")")
		return
	}
	q.b.WriteString(") WITH ORDINALITY AS u (" + strings.Join(names, ", ") + ", ord)")
}

// numberedNotificationArrays inserts notifications with their numbers,
// taken in the same statement from the counter row (notification_seq):
// its upsert adds len(rows) and returns the last, and row i (in the
// order of rows) gets last - len(rows) + i + 1; the statement returns
// last. The upsert locks the
// counter until the transaction ends, so transactions that number this
// way commit in the order of their numbers (Txn.NumberAtWrite).
func (s *Statements) numberedNotificationArrays(rows [][]any) *query {
	q := s.d.query("WITH s AS (INSERT INTO notification_seq (id, seq) VALUES (")
	n := int64(len(rows))
	q.write("?, ?) ON CONFLICT (id) DO UPDATE SET seq = notification_seq.seq + excluded.seq RETURNING seq)", seqCounter, n)
	q.b.WriteString(", n AS (INSERT INTO notifications (" + numberedNotifications.list("") + ") SELECT ")
	q.write("s.seq - ? + u.ord, ", n)
	s.unnest(q, notifications, rows, "s, ")
	q.b.WriteString(") SELECT seq FROM s")
	return q
}

var arrayType = map[colType]string{
	colText: "TEXT[]", colJSON: "TEXT[]", colFloat: "FLOAT8[]", colNullFloat: "FLOAT8[]", colInt: "INT8[]",
	colTime: "TIMESTAMPTZ[]", colNullTime: "TIMESTAMPTZ[]", colBytes: "BYTEA[]",
}

// columnArray is column i of rows as a typed slice the driver sends as an
// array (NULLs as nil pointers).
func columnArray(typ colType, rows [][]any, i int) any {
	switch typ {
	case colText, colJSON:
		out := make([]string, len(rows))
		for r, row := range rows {
			out[r] = row[i].(string)
		}
		return out
	case colFloat:
		out := make([]float64, len(rows))
		for r, row := range rows {
			out[r] = row[i].(float64)
		}
		return out
	case colNullFloat:
		out := make([]*float64, len(rows))
		for r, row := range rows {
			out[r] = row[i].(*float64)
		}
		return out
	case colInt:
		out := make([]int64, len(rows))
		for r, row := range rows {
			out[r] = row[i].(int64)
		}
		return out
	case colTime:
		out := make([]time.Time, len(rows))
		for r, row := range rows {
			out[r] = row[i].(time.Time)
		}
		return out
	case colNullTime:
		out := make([]*time.Time, len(rows))
		for r, row := range rows {
			if t := row[i].(time.Time); !t.IsZero() {
				out[r] = &t
			}
		}
		return out
	case colBytes:
		out := make([][]byte, len(rows))
		for r, row := range rows {
			out[r] = row[i].([]byte)
		}
		return out
	}
	panic(fmt.Sprintf("column type %d has no array", typ))
}

// Shape is one read statement with example parameters.
type Shape struct {
	SQL  string
	Args []any
}

// UpdateShapes are the multi-row updates (without arrays) whose plans
// must find each row by its key, as ReadShapes' reads must.
func (s *Statements) UpdateShapes() map[string]Shape {
	out := map[string]Shape{}
	if s.d.Arrays {
		return out
	}
	for _, n := range []int{1, 2, 64} {
		sql := s.customerUpdates.rows[n]
		if n == 1 {
			sql = s.customerUpdates.one
		}
		out[fmt.Sprintf("update of %d customers", n)] = Shape{sql, make([]any, n*len(customers.cols))}
	}
	return out
}

// ReadShapes returns every read the ledger runs on a tenant's rows, in
// each shape it can take, by name: a backend's plan test asks its server
// how it would run each (every one must be an index search).
func (s *Statements) ReadShapes() map[string]Shape {
	out := map[string]Shape{}
	add := func(name string, q *query) { out[name] = Shape{q.sql(), q.args} }
	add("customer", s.customer("t", "c"))
	add("customers page", s.customersAfter("t", "c", 10))
	add("lookup", s.lookup("t", "c"))
	add("event", s.eventSelect("t").and("e.customer_id = ?", "c").and("e.event_id = ?", "e"))
	add("event by key", s.eventByKey("t", "c", "k"))
	add("history", s.history("t", "c"))
	if s.d.Arrays {
		add("events by keys", s.eventsByKeys("t", []ledger.CustomerKey{{CustomerID: "c", Key: "k"}}))
		add("customers by ids", s.customersByIDs("t", []string{"c"}, false))
	} else {
		for _, n := range []int{1, 2, 64} {
			ids := make([]any, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("c%d", i)
			}
			add(fmt.Sprintf("customers by %d ids", n), s.fixed(s.customersIn[n], append([]any{"t"}, ids...)...))
			add(fmt.Sprintf("events by %d keys", n), s.fixed(s.eventsByKeyIn[n], append([]any{"t"}, ids...)...))
		}
	}
	add("incident event", s.incidentEvent("t", "i", ledger.KindOutage, ""))
	add("incident event by fingerprint", s.incidentEvent("t", "i", ledger.KindOutage, "f"))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, q := range map[string]ledger.EventQuery{
		"plain":  {Limit: 10},
		"kinds":  {Kinds: []ledger.Kind{ledger.KindOutage, ledger.KindCredit}, Limit: 10},
		"range":  {Start: now.Add(-time.Hour), End: now, Limit: 10},
		"cursor": {After: &ledger.Cursor{OccurredAt: now, EventID: "x"}, Limit: 10},
		"all": {Kinds: []ledger.Kind{ledger.KindOutage}, Start: now.Add(-time.Hour), End: now,
			After: &ledger.Cursor{OccurredAt: now, EventID: "x"}, Limit: 10},
	} {
		add("events "+name, s.Events("t", "c", q))
	}
	for name, q := range map[string]ledger.TenantEventQuery{
		"plain":   {Limit: 10},
		"cursor":  {After: &ledger.ExportCursor{CustomerID: "c", OccurredAt: now, EventID: "x"}, Limit: 10},
		"segment": {Segment: "smb", Limit: 10},
		"all": {Segment: "smb", Kinds: []ledger.Kind{ledger.KindOutage}, Start: now.Add(-time.Hour), End: now,
			RecordedThrough: now, After: &ledger.ExportCursor{CustomerID: "c", OccurredAt: now, EventID: "x"}, Limit: 10},
		"walk": {After: &ledger.ExportCursor{CustomerID: "c", OccurredAt: now, EventID: "x"}, ThroughCustomer: "d", Limit: 10},
	} {
		add("tenant events "+name, s.TenantEvents("t", q))
	}
	for name, q := range rankShapes() {
		rq, err := s.Ranked("t", q)
		if err != nil {
			panic(err) // every shape names a known index
		}
		add("ranked "+name, rq)
	}
	return out
}

// rankShapes is every shape Ranked builds: each index and direction, with
// and without a segment, each bound and a cursor.
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
