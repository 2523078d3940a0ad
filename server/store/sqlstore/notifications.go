package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// A notification of an event (event.recorded) does not copy the event: it
// names it (event_id), and reads join the events table, which never
// changes or loses a row. The outbox row stays small, and the event is
// read by the same columns as everywhere else.

func notificationValues(n ledger.Notification) []any {
	return []any{n.TenantID, n.ID, string(n.Type), n.CustomerID, n.CustomerSeq, n.OccurredAt, n.CreatedAt, n.EventID,
		n.PolicyVersion, n.Before.Value, statusName(n.Before.Status), n.After.Value, statusName(n.After.Status)}
}

// notificationPage starts a read of notifications: the caller completes
// the inner statement (the page: "FROM notifications" conditions, order and
// limit), then closes it with joinEvents. The page is chosen first and the
// events joined to it after: joined in one flat statement, PostgreSQL may
// plan a hash join over the whole events table to fill a page of a hundred.
func notificationPage(d *Dialect, tenant string) *query {
	inner := "SELECT n.seq, " + notifications.list("n.") +
		", COALESCE(e.kind, ''), COALESCE(e.magnitude, 0), e.occurred_at, e.recorded_at, e.idempotency_key, e.fingerprint," +
		" e.source, e.note, " + d.jsonColumn("e.attributes") + ", e.incident_id, e.reverses_event_id" +
		" FROM (SELECT seq, " + notifications.list("") + " FROM notifications"
	if tenant == "" {
		return d.query(inner + " WHERE seq IS NOT NULL")
	}
	return d.onTenant(inner, "", tenant)
}

// joinEvents closes notificationPage: each event.recorded gets its event
// (alias e; NULLs for the other types), in stream order. On PostgreSQL the
// event is a LATERAL probe of events' primary key, LIMIT 1 keeping it from
// being flattened into a plain join: planned from statistics taken while
// the tables were small (or none), the plain join hashed the whole events
// table for every page (16 ms a read in goodwillbench instead of under 1;
// eventsByKeys in statements.go met the same). SQLite always probes.
func joinEvents(q *query) *query {
	on := "e.tenant_id = n.tenant_id AND e.customer_id = n.customer_id AND e.event_id = n.event_id"
	recorded := "n.type = '" + string(ledger.NotifyEventRecorded) + "'"
	if q.d.Arrays {
		return q.write(") n LEFT JOIN LATERAL (SELECT * FROM events e WHERE " + on + " LIMIT 1) e ON " + recorded + " ORDER BY n.seq")
	}
	return q.write(") n LEFT JOIN events e ON " + recorded + " AND " + on + " ORDER BY n.seq")
}

// scanNotification reads notificationPage's columns.
func scanNotification(row scanner) (ledger.Notification, error) {
	var (
		n                         ledger.Notification
		typ, before, after        string
		okType, okBefore, okAfter bool
		e                         ledger.Event
		kind, attrs               string
	)
	if err := row.Scan(&n.Seq, &n.TenantID, &n.ID, &typ, &n.CustomerID, &n.CustomerSeq, timeCol{&n.OccurredAt},
		timeCol{&n.CreatedAt}, &n.EventID, &n.PolicyVersion, &n.Before.Value, &before, &n.After.Value, &after,
		&kind, &e.Magnitude, timeCol{&e.OccurredAt}, timeCol{&e.RecordedAt}, textCol{&e.IdempotencyKey},
		textCol{&e.Fingerprint}, textCol{&e.Source}, textCol{&e.Note}, textCol{&attrs}, textCol{&e.IncidentID},
		textCol{&e.ReversesEventID}); err != nil {
		return n, err
	}
	n.Type = ledger.NotificationType(typ)
	okType = n.Type.Valid()
	n.Before.Status, okBefore = parseStatus(before)
	n.After.Status, okAfter = parseStatus(after)
	if !okType || !okBefore || !okAfter {
		return n, fmt.Errorf("notification %s: unknown type or status (%q, %q, %q)", n.ID, typ, before, after)
	}
	if n.Type != ledger.NotifyEventRecorded {
		return n, nil
	}
	if kind == "" {
		return n, fmt.Errorf("notification %s: its event %s is not stored", n.ID, n.EventID)
	}
	var ok bool
	if e.Kind, ok = ledger.ParseKind(kind); !ok {
		return n, fmt.Errorf("notification %s: event kind %q", n.ID, kind)
	}
	var err error
	if e.Attributes, err = decodeAttrs(attrs); err != nil {
		return n, fmt.Errorf("notification %s: %w", n.ID, err)
	}
	e.TenantID, e.CustomerID, e.ID = n.TenantID, n.CustomerID, n.EventID
	n.Event = &e
	return n, nil
}

// AppendNotifications implements ledger.Tx. Where writes are serial the
// notifications are numbered here, in the writing transaction; with
// NumberAtWrite, in its last statement (Finish).
func (t *Txn) AppendNotifications(ctx context.Context, ns []ledger.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	if t.numbering {
		t.toNumber = append(t.toNumber, ns...)
		return nil
	}
	var last int64
	if t.s.d.SerialWrites {
		var err error
		if last, err = t.NotificationSeq(ctx); err != nil {
			return err
		}
	}
	rows := make([][]any, len(ns))
	for i, n := range ns {
		rows[i] = notifications.bind(t.s.d, notificationValues(n))
	}
	switch {
	case t.s.d.SerialWrites:
		// In the sequencer's order, so both ways number alike.
		order := make([]int, len(ns))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return sequencerOrder(ns[a], ns[b]) })
		numbered := make([][]any, len(order))
		for j, i := range order {
			last++
			numbered[j] = append([]any{last}, rows[i]...)
		}
		if _, err := t.execRows(ctx, t.s.numberedNotificationSQL, t.s.numberedNotificationRows, numbered); err != nil {
			return err
		}
		t.numbered = last
		return t.PutNotificationSeq(ctx, last)
	case t.s.d.Arrays:
		return t.deferWrite(ctx, t.s.insertArrays(notifications, rows, ""))
	}
	_, err := t.execRows(ctx, t.s.notificationSQL, t.s.notificationRows, rows)
	return err
}

// sequencerOrder is the order the sequencer numbers in: by tenant, each
// customer's in order, then the tenant's own (UnsequencedNotifications).
func sequencerOrder(x, y ledger.Notification) int {
	return cmp.Or(strings.Compare(x.TenantID, y.TenantID), cmp.Compare(boolInt(x.CustomerID == ""), boolInt(y.CustomerID == "")),
		strings.Compare(x.CustomerID, y.CustomerID), cmp.Compare(x.CustomerSeq, y.CustomerSeq))
}

// seqCounter is notification_seq's one row: the last number given.
const seqCounter = 1

// Notifications implements ledger.Reader.
func (t *Txn) Notifications(ctx context.Context, tenant string, after int64, types []ledger.NotificationType, limit int) ([]ledger.Notification, error) {
	q := notificationPage(t.s.d, tenant).and("seq > ?", after)
	if len(types) > 0 {
		names := make([]any, len(types))
		for i, typ := range types {
			names[i] = string(typ)
		}
		q.and("type IN ("+placeholders(len(names))+")", names...)
	}
	joinEvents(q.write(" ORDER BY seq LIMIT ?", limit))
	var out []ledger.Notification
	err := t.query(ctx, q, func(r scanner) error {
		n, err := scanNotification(r)
		out = append(out, n)
		return err
	})
	return out, err
}

// UnsequencedNotifications implements ledger.Reader: every tenant's, ordered
// by tenant, then each customer's in order, then the tenant's own (a
// policy's activation after the status changes its recompute announced).
// Only waiting rows are in the partial index, so the sort is small.
func (t *Txn) UnsequencedNotifications(ctx context.Context, limit int) ([]ledger.NotificationRef, error) {
	q := t.s.d.query("SELECT tenant_id, notification_id, customer_id, customer_seq FROM notifications WHERE seq IS NULL").
		write(" ORDER BY tenant_id, CASE WHEN customer_id = '' THEN 1 ELSE 0 END, customer_id, customer_seq LIMIT ?", limit)
	var out []ledger.NotificationRef
	err := t.query(ctx, q, func(r scanner) error {
		var n ledger.NotificationRef
		err := r.Scan(&n.TenantID, &n.ID, &n.CustomerID, &n.CustomerSeq)
		out = append(out, n)
		return err
	})
	return out, err
}

// SequenceNotifications implements ledger.Tx.
func (t *Txn) SequenceNotifications(ctx context.Context, refs []ledger.NotificationRef) error {
	if t.s.d.Arrays {
		tenants, ids, seqs := make([]string, len(refs)), make([]string, len(refs)), make([]int64, len(refs))
		for i, r := range refs {
			tenants[i], ids[i], seqs[i] = r.TenantID, r.ID, r.Seq
		}
		q := t.s.d.query("UPDATE notifications AS n SET seq = u.seq FROM unnest(").
			write("?::TEXT[], ?::TEXT[], ?::INT8[]) AS u (tenant_id, notification_id, seq)", tenants, ids, seqs).
			write(" WHERE n.tenant_id = u.tenant_id AND n.notification_id = u.notification_id")
		_, err := t.exec(ctx, q)
		return err
	}
	for _, r := range refs {
		if _, err := t.exec(ctx, t.s.fixed(t.s.sequenceSQL, r.Seq, r.TenantID, r.ID)); err != nil {
			return err
		}
	}
	return nil
}

// NotificationSeq implements ledger.Tx.
func (t *Txn) NotificationSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := t.queryPrepared(ctx, t.s.fixed(t.s.seqSQL, seqCounter), func(r scanner) error {
		return r.Scan(&seq)
	})
	return seq, err
}

// PutNotificationSeq implements ledger.Tx.
func (t *Txn) PutNotificationSeq(ctx context.Context, seq int64) error {
	_, err := t.exec(ctx, t.s.fixed(t.s.putSeqSQL, seqCounter, seq))
	return err
}

// DueCustomers implements ledger.Tx.
func (t *Txn) DueCustomers(ctx context.Context, until time.Time, limit int) ([]ledger.Customer, error) {
	q := t.s.d.query("SELECT "+customers.selectList(t.s.d, "")+" FROM customers WHERE ").
		write("watch_due_at IS NOT NULL AND watch_due_at <= ?", t.s.d.Time(until)).
		write(" ORDER BY watch_due_at LIMIT ?", limit)
	return t.customers(ctx, q)
}

// PruneNotifications implements ledger.Tx.
func (t *Txn) PruneNotifications(ctx context.Context, before time.Time, limit int) (int64, error) {
	q := t.s.d.query("DELETE FROM notifications WHERE (tenant_id, notification_id) IN (SELECT tenant_id, notification_id FROM notifications WHERE ").
		write("seq IS NOT NULL AND created_at < ? LIMIT ?) RETURNING tenant_id, seq", t.s.d.Time(before), limit)
	var n int64
	through := map[string]int64{}
	if err := t.query(ctx, q, func(r scanner) error {
		var tenant string
		var seq int64
		err := r.Scan(&tenant, &seq)
		n, through[tenant] = n+1, max(through[tenant], seq)
		return err
	}); err != nil {
		return n, err
	}
	for _, tenant := range slices.Sorted(maps.Keys(through)) {
		if _, err := t.exec(ctx, t.s.d.query("INSERT INTO notification_marks (tenant_id, pruned) VALUES (").
			write("?, ?) ON CONFLICT (tenant_id) DO UPDATE SET pruned = CASE WHEN excluded.pruned > notification_marks.pruned"+
				" THEN excluded.pruned ELSE notification_marks.pruned END", tenant, through[tenant])); err != nil {
			return n, err
		}
	}
	return n, nil
}

// PrunedThrough implements ledger.Reader.
func (t *Txn) PrunedThrough(ctx context.Context, tenant string) (int64, error) {
	q := t.s.d.query("SELECT COALESCE(MAX(pruned), 0) FROM notification_marks")
	if tenant != "" {
		q.write(" WHERE tenant_id = ?", tenant)
	}
	var seq int64
	err := t.queryPrepared(ctx, q, func(r scanner) error {
		return r.Scan(&seq)
	})
	return seq, err
}
