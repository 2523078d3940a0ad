package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// Txn implements ledger.Tx (and so ledger.Reader) on a Conn. A backend
// wraps its transaction in one, and may override a method with a faster
// path of its own.
type Txn struct {
	c Conn
	s *Statements
	// translate turns the driver's errors into the ledger's classes.
	translate func(error) error
	// deferred are inserts held back to travel with the customer upsert
	// that follows them (carry), or alone before anything else runs.
	deferred []*query
	// locking takes PostgreSQL's policy locks (WithLocks).
	locking bool
	// guarded: the transaction runs at READ COMMITTED (Guarded). read
	// holds the row version (xmin) of each customer it read, "" for one it
	// did not find, by tenant and id.
	guarded bool
	read    map[string]string
	// numbering: notifications are numbered as they are written
	// (NumberAtWrite); toNumber holds them until Finish.
	numbering bool
	toNumber  []ledger.Notification
	// numbered is the last notification number t gave (0: none).
	numbered int64
	// ahead is what ReadAhead read for the calls that follow it.
	ahead *ahead
	// held is a guarded upsert not yet sent (Finish).
	held *query
	// known: without arrays, whether each customer t read exists, by
	// tenant and id (putCustomerRows).
	known map[string]bool
}

var _ ledger.Tx = (*Txn)(nil)

// NewTxn returns a Txn over c.
func (s *Statements) NewTxn(c Conn, translate func(error) error) *Txn {
	return &Txn{c: c, s: s, translate: translate}
}

// WithLocks makes t a PostgreSQL write transaction's Txn: PutPolicy takes
// the tenant's policy lock exclusive, and, in a Guarded transaction,
// ActivePolicy takes it shared. A policy is so installed between the
// transactions that write under the active one, never beneath one, and
// the recompute job that follows an install sees every customer written
// under the policy it replaces. (Advisory locks are PostgreSQL's;
// CockroachDB and SQLite never set this.)
func (t *Txn) WithLocks() *Txn {
	t.locking = true
	return t
}

// Guarded makes t a transaction at READ COMMITTED that keeps what
// SERIALIZABLE gave it for the customers it writes, optimistically: each
// customer read notes its row's version (PostgreSQL's xmin, which every
// write of the row changes), and each customer write applies only where
// the row still has that version (none: still absent). Where one does
// not, another transaction wrote the customer since, and the write fails
// on the server with SQLSTATE 40001 (checkedUpsert) before anything
// commits; the store runs the transaction again, as after a
// serialization failure. Writers of different customers never meet, unlike under
// SERIALIZABLE, whose predicate locks cover whole index pages. PostgreSQL
// only (xmin).
func (t *Txn) Guarded() *Txn {
	t.guarded, t.read = true, map[string]string{}
	return t
}

// NumberAtWrite makes t number the notifications it writes itself, in
// its last statement (Finish), from the counter row the sequencer uses,
// instead of leaving them to the sequencer: one write of each row instead
// of an insert and an update, and no sequencing transaction after each
// commit. Taking the numbers locks the counter until the transaction
// ends, so transactions commit in the order of their numbers, which is
// what the sequencer guarantees (ledger/outbox.go). The lock is taken
// last, after every customer row the transaction writes, so a writer
// never holds it while it waits for a customer: two writers cannot
// deadlock on it. PostgreSQL only: on CockroachDB a row every write
// transaction updates would make them all contend across the cluster,
// so there the sequencer numbers, in few transactions of its own.
func (t *Txn) NumberAtWrite() *Txn {
	t.numbering = true
	return t
}

func readKey(tenant, id string) string { return tenant + "\x01" + id }

// query runs q and calls each for every row.
func (t *Txn) query(ctx context.Context, q *query, each func(scanner) error) error {
	if err := t.Flush(ctx); err != nil {
		return err
	}
	rows, err := t.c.Query(ctx, q.sql(), q.args...)
	return t.scan(rows, err, each)
}

// queryPrepared is query for a read whose plan has no choice to make (a
// primary-key lookup): prepared once per connection (Conn.QueryPrepared),
// so the server stops planning it on every run. pg_stat_statements showed
// PostgreSQL spending 5 to 20 times longer planning such reads than
// running them (the active policy: 574 ms of planning against 27 ms of
// execution over 4,208 batches).
func (t *Txn) queryPrepared(ctx context.Context, q *query, each func(scanner) error) error {
	if err := t.Flush(ctx); err != nil {
		return err
	}
	rows, err := t.c.QueryPrepared(ctx, q.sql(), q.args...)
	return t.scan(rows, err, each)
}

// scan calls each for every row of rows, then closes it; err is the
// error of the query that returned rows, if it failed.
func (t *Txn) scan(rows Rows, err error, each func(scanner) error) error {
	if err != nil {
		return t.translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return t.translate(err)
		}
	}
	return t.translate(rows.Err())
}

func (t *Txn) exec(ctx context.Context, q *query) (int64, error) {
	if err := t.Flush(ctx); err != nil {
		return 0, err
	}
	n, err := t.c.Exec(ctx, q.sql(), q.args...)
	return n, t.translate(err)
}

// Recording a batch writes its events, its notifications and its
// customers. On a server across the network (Dialect.Arrays) each
// statement is a round trip, and the writer waits on every one, so the
// first two inserts are held back (deferWrite) and sent as data-modifying
// WITH clauses of the customer upsert: one round trip instead of three.
// They write other tables than the upsert's, so sharing its snapshot
// changes nothing. Any other statement sends what is held back first, and
// the backend calls Flush before it commits.
//
// On PostgreSQL a group-commit batch so takes two round trips: BEGIN
// with the batch's reads (ReadAhead, pipelined), then the customer upsert
// carrying the event inserts, the numbered notification insert and the
// COMMIT (Finish, pipelined). The upsert fails on the server if its
// guard held a customer back (checkedUpsert), and the COMMIT behind it
// is then skipped.

// deferWrite holds back an insert; without Dialect.Arrays it runs at once.
func (t *Txn) deferWrite(ctx context.Context, q *query) error {
	if !t.s.d.Arrays {
		_, err := t.exec(ctx, q)
		return err
	}
	t.deferred = append(t.deferred, q)
	return nil
}

// Flush sends the writes held back: the guarded upsert (held), then the
// inserts deferWrite held. A backend that defers (Dialect.Arrays) calls
// it after the transaction's closure, before COMMIT.
func (t *Txn) Flush(ctx context.Context) error {
	if err := t.sendHeld(ctx); err != nil {
		t.deferred = nil
		return err
	}
	for len(t.deferred) > 0 {
		q := t.deferred[0]
		t.deferred = t.deferred[1:]
		if _, err := t.c.Exec(ctx, q.sql(), q.args...); err != nil {
			t.deferred = nil
			return t.translate(err)
		}
	}
	return nil
}

// Finish sends what the transaction still holds back: the deferred
// inserts, then the notifications it numbers (NumberAtWrite). A backend
// calls it after the transaction's closure, before COMMIT, which Finish
// may have sent already (CommitPipeliner).
//
// A guarded upsert still held goes in one round trip with the numbering
// statement (Pipeliner), which the server runs after it, so the counter
// is locked after every customer row; and, where the connection can
// (CommitPipeliner), with the COMMIT. The counter's lock is then held
// for the server's work and the commit's flush, not across a round trip
// to this process: batches from other writers and replicas queue behind
// it (docs/benchmarks.md, round 2's seventh sitting). The guard's failure
// is an error on the server (checkedUpsert), which skips the COMMIT.
func (t *Txn) Finish(ctx context.Context) error {
	var numbering *query
	if len(t.toNumber) > 0 {
		ns := t.toNumber
		t.toNumber = nil
		slices.SortStableFunc(ns, sequencerOrder)
		rows := make([][]any, len(ns))
		for i, n := range ns {
			rows[i] = notifications.bind(t.s.d, notificationValues(n))
		}
		numbering = t.s.numberedNotificationArrays(rows)
	}
	lastSeq := func(r scanner) error { return r.Scan(&t.numbered) }
	if p, ok := t.c.(Pipeliner); ok && t.held != nil && len(t.deferred) == 0 {
		stmts := []Stmt{t.held.prepared()}
		t.held = nil
		if numbering != nil {
			stmts = append(stmts, numbering.prepared())
		}
		var res Results
		if c, ok := t.c.(CommitPipeliner); ok {
			res = c.PipelineCommit(ctx, stmts...)
		} else {
			res = p.Pipeline(ctx, stmts...)
		}
		_, err := res.Exec()
		err = t.translate(err)
		if err == nil && numbering != nil {
			rows, qerr := res.Query()
			err = t.scan(rows, qerr, lastSeq)
		}
		if cerr := res.Close(); err == nil {
			err = t.translate(cerr)
		}
		return err
	}
	if err := t.Flush(ctx); err != nil || numbering == nil {
		return err
	}
	r, err := t.c.QueryPrepared(ctx, numbering.sql(), numbering.args...)
	return t.scan(r, err, lastSeq)
}

// sendHeld sends the guarded upsert held back, if one is.
func (t *Txn) sendHeld(ctx context.Context) error {
	q := t.held
	if q == nil {
		return nil
	}
	t.held = nil
	_, err := t.c.ExecPrepared(ctx, q.sql(), q.args...)
	return t.translate(err)
}

// Numbered is the last notification number t gave, 0 if none: once it
// commits, every number up to it is committed (NumberAtWrite, or serial
// writes), so readers may be told at once (NumberMark).
func (t *Txn) Numbered() int64 { return t.numbered }

// NumberMark is the highest notification number a store's committed
// transactions gave in this process, for ledger.WriteNumberer.
type NumberMark struct{ n atomic.Int64 }

// Note records the number a transaction that just committed gave.
func (m *NumberMark) Note(t *Txn) {
	if t == nil {
		return
	}
	for {
		cur := m.n.Load()
		if t.numbered <= cur || m.n.CompareAndSwap(cur, t.numbered) {
			return
		}
	}
}

// Last is the highest number noted.
func (m *NumberMark) Last() int64 { return m.n.Load() }

// carry sends main with the held-back inserts as its WITH clauses.
func (t *Txn) carry(ctx context.Context, main *query) (int64, error) {
	q := t.carried(main)
	n, err := t.c.ExecPrepared(ctx, q.sql(), q.args...)
	return n, t.translate(err)
}

// carried is main with the held-back inserts as its WITH clauses, which
// it takes from t.
func (t *Txn) carried(main *query) *query {
	if len(t.deferred) == 0 {
		return main
	}
	q := t.withDeferred()
	q.b.WriteString(" ")
	q.b.WriteString(shift(main, q))
	return q
}

// withDeferred starts a statement with the held-back inserts as its WITH
// clauses (w0, w1...), which it takes from t.
func (t *Txn) withDeferred() *query {
	q := t.s.d.query("WITH ")
	for i, d := range t.deferred {
		if i > 0 {
			q.b.WriteString(", ")
		}
		q.b.WriteString("w" + strconv.Itoa(i) + " AS (")
		q.b.WriteString(shift(d, q))
		q.b.WriteString(")")
	}
	t.deferred = nil
	return q
}

// checkedUpsert is a guarded upsert (with the inserts held back, carried
// as its WITH clauses) that fails on the server unless it wrote all want
// customers: goodwill_check_written (PostgreSQL migration 16) raises
// SQLSTATE 40001 when the guard held one back. An error, not a row
// count the client checks, aborts the transaction where it runs, so a
// COMMIT sent behind it in the same round trip commits nothing.
func (t *Txn) checkedUpsert(upsert *query, want int) *query {
	carried := len(t.deferred) > 0
	q := t.withDeferred()
	if carried {
		q.b.WriteString(", ")
	}
	q.b.WriteString("u AS (" + shift(upsert, q) + " RETURNING 1) ")
	return q.write("SELECT goodwill_check_written(count(*), ?) FROM u", int64(want))
}

func (t *Txn) events(ctx context.Context, q *query) ([]ledger.Event, error) {
	var out []ledger.Event
	err := t.query(ctx, q, eventsInto(&out))
	return out, err
}

// eventsInto scans each row as an event appended to out.
func eventsInto(out *[]ledger.Event) func(scanner) error {
	return func(r scanner) error {
		e, err := scanEvent(r)
		*out = append(*out, e)
		return err
	}
}

func (t *Txn) oneEvent(ctx context.Context, q *query) (ledger.Event, error) {
	events, err := t.events(ctx, q)
	if err != nil {
		return ledger.Event{}, err
	}
	if len(events) == 0 {
		return ledger.Event{}, ledger.ErrNotFound
	}
	return events[0], nil
}

func (t *Txn) customers(ctx context.Context, q *query) ([]ledger.Customer, error) {
	var out []ledger.Customer
	err := t.query(ctx, q, func(r scanner) error {
		c, err := scanCustomer(r)
		out = append(out, c)
		return err
	})
	return out, err
}

// Customer implements ledger.Reader.
func (t *Txn) Customer(ctx context.Context, tenant, id string) (ledger.Customer, error) {
	if t.guarded {
		cs, err := t.versionedCustomers(ctx, tenant, []string{id})
		if err != nil {
			return ledger.Customer{}, err
		}
		if c, ok := cs[id]; ok {
			return c, nil
		}
		return ledger.Customer{}, ledger.ErrNotFound
	}
	cs, err := t.customers(ctx, t.s.customer(tenant, id))
	if err != nil {
		return ledger.Customer{}, err
	}
	t.noteKnown(tenant, id, len(cs) > 0)
	if len(cs) == 0 {
		return ledger.Customer{}, ledger.ErrNotFound
	}
	return cs[0], nil
}

// PutCustomer implements ledger.Tx.
func (t *Txn) PutCustomer(ctx context.Context, c ledger.Customer) error {
	if t.guarded {
		return t.PutCustomers(ctx, []ledger.Customer{c})
	}
	q, err := t.s.putCustomer(c)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, q)
	return err
}

// Customers implements ledger.Reader.
func (t *Txn) Customers(ctx context.Context, tenant, after string, limit int) ([]ledger.Customer, error) {
	return t.customers(ctx, t.s.customersAfter(tenant, after, limit))
}

// CountCustomers implements ledger.Reader.
func (t *Txn) CountCustomers(ctx context.Context, tenant string) (int64, error) {
	return t.count(ctx, t.s.d.onTenant("SELECT count(*) FROM customers", "", tenant))
}

func (t *Txn) count(ctx context.Context, q *query) (int64, error) {
	var n int64
	err := t.query(ctx, q, func(r scanner) error { return r.Scan(&n) })
	return n, err
}

// Ranked implements ledger.Reader.
func (t *Txn) Ranked(ctx context.Context, tenant string, q ledger.RankQuery) ([]ledger.Customer, error) {
	rq, err := t.s.Ranked(tenant, q)
	if err != nil {
		return nil, err
	}
	return t.customers(ctx, rq)
}

// Event implements ledger.Reader.
func (t *Txn) Event(ctx context.Context, tenant, customerID, eventID string) (ledger.Event, error) {
	return t.oneEvent(ctx, t.s.eventSelect(tenant).and("e.customer_id = ?", customerID).and("e.event_id = ?", eventID))
}

// EventByKey implements ledger.Reader.
func (t *Txn) EventByKey(ctx context.Context, tenant, customerID, key string) (ledger.Event, error) {
	return t.oneEvent(ctx, t.s.eventByKey(tenant, customerID, key))
}

// Events implements ledger.Reader.
func (t *Txn) Events(ctx context.Context, tenant, customerID string, q ledger.EventQuery) ([]ledger.Event, error) {
	return t.events(ctx, t.s.Events(tenant, customerID, q))
}

// TenantEvents implements ledger.Reader; events_by_time serves it in order.
func (t *Txn) TenantEvents(ctx context.Context, tenant string, q ledger.TenantEventQuery) ([]ledger.Event, error) {
	return t.events(ctx, t.s.TenantEvents(tenant, q))
}

// History implements ledger.Reader.
func (t *Txn) History(ctx context.Context, tenant, customerID string) ([]ledger.Event, error) {
	return t.events(ctx, t.s.history(tenant, customerID))
}

// IncidentEvent implements ledger.Reader; events_by_incident serves it.
func (t *Txn) IncidentEvent(ctx context.Context, tenant, incidentID string, kind ledger.Kind, fingerprint string) (ledger.Event, error) {
	return t.oneEvent(ctx, t.s.incidentEvent(tenant, incidentID, kind, fingerprint))
}

// AppendEvent implements ledger.Tx.
func (t *Txn) AppendEvent(ctx context.Context, e ledger.Event) error {
	q, err := t.s.appendEvent(e)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, q)
	return err
}

// Tenants implements ledger.Reader. It walks both tables: a tenant whose
// events have no customer row is still one Verify must see.
func (t *Txn) Tenants(ctx context.Context) ([]string, error) {
	var out []string
	err := t.query(ctx, t.s.d.query("SELECT tenant_id FROM customers UNION SELECT tenant_id FROM events ORDER BY tenant_id"),
		func(r scanner) error {
			var id string
			err := r.Scan(&id)
			out = append(out, id)
			return err
		})
	return out, err
}

// CountEvents implements ledger.Reader.
func (t *Txn) CountEvents(ctx context.Context, tenant, after, through string) (int64, error) {
	q := t.s.d.onTenant("SELECT count(*) FROM events", "", tenant).and("customer_id > ?", after)
	if through != "" {
		q.and("customer_id <= ?", through)
	}
	return t.count(ctx, q)
}

// versionedCustomers reads customers and notes each one's row version,
// or its absence (Guarded).
func (t *Txn) versionedCustomers(ctx context.Context, tenant string, ids []string) (map[string]ledger.Customer, error) {
	out := make(map[string]ledger.Customer, len(ids))
	err := t.query(ctx, t.s.customersByIDs(tenant, ids, true), t.versionsInto(tenant, ids, out))
	return out, err
}

// versionsInto scans each row as a customer with its row version, put in
// out and noted in t.read; the ids not found are noted absent.
func (t *Txn) versionsInto(tenant string, ids []string, out map[string]ledger.Customer) func(scanner) error {
	for _, id := range ids {
		t.read[readKey(tenant, id)] = ""
	}
	var version string
	return func(r scanner) error {
		c, err := scanCustomer(r, &version)
		out[c.ID], t.read[readKey(tenant, c.ID)] = c, version
		return err
	}
}

// ActivePolicy implements ledger.Reader.
func (t *Txn) ActivePolicy(ctx context.Context, tenant string) (ledger.StoredPolicy, error) {
	if p, ok, err := t.aheadPolicy(tenant); ok {
		return p, err
	}
	if t.locking && t.guarded {
		if _, err := t.exec(ctx, t.s.lockPolicy(tenant, true)); err != nil {
			return ledger.StoredPolicy{}, err
		}
	}
	return t.policy(ctx, t.s.activePolicy(tenant))
}

// Policy implements ledger.Reader.
func (t *Txn) Policy(ctx context.Context, tenant string, version int64) (ledger.StoredPolicy, error) {
	return t.policy(ctx, t.s.d.onTenant("SELECT version, body, created_at FROM policies", "", tenant).and("version = ?", version))
}

func (t *Txn) policy(ctx context.Context, q *query) (ledger.StoredPolicy, error) {
	var r policyRow
	return r.result(t.queryPrepared(ctx, q, r.scan))
}

// policyRow is what a policy query read: its one row, if any.
type policyRow struct {
	p     ledger.StoredPolicy
	body  string
	found bool
}

func (r *policyRow) scan(s scanner) error {
	r.found = true
	return s.Scan(&r.p.Version, textCol{&r.body}, timeCol{&r.p.CreatedAt})
}

// result is the policy read, ErrNotFound if there was no row, or err.
func (r *policyRow) result(err error) (ledger.StoredPolicy, error) {
	if err == nil && !r.found {
		err = ledger.ErrNotFound
	}
	r.p.Body = []byte(r.body)
	return r.p, err
}

// PutPolicy implements ledger.Tx.
func (t *Txn) PutPolicy(ctx context.Context, tenant string, p ledger.StoredPolicy) error {
	if t.locking {
		if _, err := t.exec(ctx, t.s.lockPolicy(tenant, false)); err != nil {
			return err
		}
	}
	ins := t.s.d.query("INSERT INTO policies (" + policies.list("") + ") VALUES (")
	ins.write("?, ?, ?, ?)", policies.bind(t.s.d, []any{tenant, p.Version, string(p.Body), p.CreatedAt})...)
	if _, err := t.exec(ctx, ins); err != nil {
		return err
	}
	_, err := t.exec(ctx, t.s.d.query("INSERT INTO active_policies (tenant_id, version) VALUES (").
		write("?, ?) ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version", tenant, p.Version))
	return err
}

// Job implements ledger.Reader.
func (t *Txn) Job(ctx context.Context, tenant, id string) (ledger.Job, error) {
	return t.oneJob(ctx, t.s.d.onTenant("SELECT "+jobs.list("")+" FROM recompute_jobs", "", tenant).and("job_id = ?", id))
}

// LatestJob implements ledger.Reader. It reads the tenant's jobs through
// the primary key: a tenant has one job per policy it installed, so
// sorting them is cheap.
func (t *Txn) LatestJob(ctx context.Context, tenant string) (ledger.Job, error) {
	return t.oneJob(ctx, t.s.d.onTenant("SELECT "+jobs.list("")+" FROM recompute_jobs", "", tenant).
		write(" ORDER BY started_at DESC, job_id DESC LIMIT 1"))
}

// JobsInState implements ledger.Reader: every tenant's, for the worker.
func (t *Txn) JobsInState(ctx context.Context, state ledger.JobState) ([]ledger.Job, error) {
	return t.jobs(ctx, t.s.d.query("SELECT "+jobs.list("")+" FROM recompute_jobs WHERE ").
		write("state = ? ORDER BY started_at, tenant_id, job_id", jobStates[state]))
}

func (t *Txn) jobs(ctx context.Context, q *query) ([]ledger.Job, error) {
	var out []ledger.Job
	err := t.query(ctx, q, func(r scanner) error {
		j, err := scanJob(r)
		out = append(out, j)
		return err
	})
	return out, err
}

func (t *Txn) oneJob(ctx context.Context, q *query) (ledger.Job, error) {
	js, err := t.jobs(ctx, q)
	if err != nil {
		return ledger.Job{}, err
	}
	if len(js) == 0 {
		return ledger.Job{}, ledger.ErrNotFound
	}
	return js[0], nil
}

// PutJob implements ledger.Tx.
func (t *Txn) PutJob(ctx context.Context, j ledger.Job) error {
	_, err := t.exec(ctx, t.s.upsert(jobs, jobs.bind(t.s.d, jobValues(j)), "tenant_id, job_id"))
	return err
}

// CustomersByID implements ledger.Tx: one statement with arrays, or a few
// IN lists (queryIn).
func (t *Txn) CustomersByID(ctx context.Context, tenant string, ids []string) (map[string]ledger.Customer, error) {
	if cs, ok := t.aheadCustomers(tenant, ids); ok {
		return cs, nil
	}
	if t.guarded {
		return t.versionedCustomers(ctx, tenant, ids)
	}
	out := make(map[string]ledger.Customer, len(ids))
	if t.s.d.Arrays {
		cs, err := t.customers(ctx, t.s.customersByIDs(tenant, ids, false))
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out[c.ID] = c
		}
		return out, nil
	}
	vals := make([]any, len(ids))
	for i, id := range ids {
		vals[i] = id
	}
	err := t.queryIn(ctx, t.s.customersIn, []any{tenant}, vals, func(r scanner) error {
		c, err := scanCustomer(r)
		out[c.ID] = c
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		_, found := out[id]
		t.noteKnown(tenant, id, found)
	}
	return out, nil
}

// Histories implements ledger.Tx: one statement with arrays, or one per
// customer.
func (t *Txn) Histories(ctx context.Context, tenant string, ids []string) (map[string][]ledger.Event, error) {
	out := make(map[string][]ledger.Event, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	if t.s.d.Arrays {
		events, err := t.events(ctx, t.s.histories(tenant, ids))
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			out[e.CustomerID] = append(out[e.CustomerID], e)
		}
		return out, nil
	}
	for _, id := range ids {
		h, err := t.History(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		if len(h) > 0 {
			out[id] = h
		}
	}
	return out, nil
}

// EventsByKeys implements ledger.Tx: one statement with arrays, or a few
// IN lists of the keys (queryIn).
func (t *Txn) EventsByKeys(ctx context.Context, tenant string, ks []ledger.CustomerKey) (map[ledger.CustomerKey]ledger.Event, error) {
	out := make(map[ledger.CustomerKey]ledger.Event, len(ks))
	if len(ks) == 0 {
		return out, nil
	}
	if held, ok := t.aheadHolders(tenant, ks); ok {
		return held, nil
	}
	if t.s.d.Arrays {
		events, err := t.events(ctx, t.s.eventsByKeys(tenant, ks))
		if err != nil {
			return nil, err
		}
		return keyHolders(ks, events), nil
	}
	var keys []any
	for _, k := range distinctKeys(ks) {
		keys = append(keys, k)
	}
	var events []ledger.Event
	if err := t.queryIn(ctx, t.s.eventsByKeyIn, []any{tenant}, keys, eventsInto(&events)); err != nil {
		return nil, err
	}
	return keyHolders(ks, events), nil
}

// keyHolders keeps, of events (every holder of each key eventsByKeys
// read), those of the customers asked about.
func keyHolders(ks []ledger.CustomerKey, events []ledger.Event) map[ledger.CustomerKey]ledger.Event {
	asked := make(map[ledger.CustomerKey]bool, len(ks))
	for _, k := range ks {
		asked[k] = true
	}
	out := make(map[ledger.CustomerKey]ledger.Event, len(ks))
	for _, e := range events {
		if k := (ledger.CustomerKey{CustomerID: e.CustomerID, Key: e.IdempotencyKey}); asked[k] {
			out[k] = e
		}
	}
	return out
}

// AppendEvents implements ledger.Tx.
func (t *Txn) AppendEvents(ctx context.Context, es []ledger.Event) error {
	if len(es) == 0 {
		return nil
	}
	rows := make([][]any, len(es))
	for i, e := range es {
		v, err := eventValues(e)
		if err != nil {
			return err
		}
		rows[i] = v
	}
	if !t.s.d.Arrays {
		for i, v := range rows {
			rows[i] = events.bind(t.s.d, v)
		}
		_, err := t.execRows(ctx, t.s.appendEventSQL, t.s.eventRows, rows)
		return err
	}
	return t.deferWrite(ctx, t.s.insertArrays(events, rows, ""))
}

// PutCustomers implements ledger.Tx. The caller passes distinct ids (an
// upsert statement may not touch one row twice).
func (t *Txn) PutCustomers(ctx context.Context, cs []ledger.Customer) error {
	if len(cs) == 0 {
		return t.Flush(ctx) // what it would have carried fails or succeeds here, not later
	}
	if !t.s.d.Arrays {
		return t.putCustomerRows(ctx, cs)
	}
	// One order for every batch's rows, so concurrent batches (other
	// replicas, other writers) that share customers lock their rows in the
	// same order and wait for each other instead of deadlocking: each
	// deadlock cost PostgreSQL's deadlock_timeout (1 s) before it aborted
	// one of them. Bytes, not the collation: only the order must agree.
	// (Indices are sorted, not the rows: a Customer is several hundred
	// bytes to copy.)
	order := make([]int, len(cs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(cs[a].TenantID, cs[b].TenantID), strings.Compare(cs[a].ID, cs[b].ID))
	})
	rows := make([][]any, len(cs))
	for i, k := range order {
		v, err := customerValues(cs[k])
		if err != nil {
			return err
		}
		rows[i] = v
	}
	if !t.guarded {
		_, err := t.carry(ctx, t.s.insertArrays(customers, rows, "tenant_id, customer_id"))
		return err
	}
	versions := make(map[string]string, len(cs))
	for _, c := range cs {
		v, ok := t.read[readKey(c.TenantID, c.ID)]
		if !ok {
			return fmt.Errorf("customer %s: a guarded transaction writes only customers it read", c.ID)
		}
		if v != "" {
			versions[readKey(c.TenantID, c.ID)] = v
		}
	}
	if err := t.sendHeld(ctx); err != nil { // one held before this one goes first
		return err
	}
	q := t.checkedUpsert(t.s.guardedUpsert(rows, versions), len(cs))
	if _, ok := t.c.(Pipeliner); ok && t.numbering {
		t.held = q // sent with the numbering statement, or before any other (Flush)
		return nil
	}
	_, err := t.c.ExecPrepared(ctx, q.sql(), q.args...)
	return t.translate(err)
}

// placeholders is "?, ?, ..." for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
