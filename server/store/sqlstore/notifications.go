package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// A notification's event travels as JSON in its row: the notification
// stays readable after the event table has moved on, and a stream reader
// needs no second read.
type eventDoc struct {
	ID                string            `json:"id"`
	CustomerID        string            `json:"customer_id"`
	Kind              string            `json:"kind"`
	Magnitude         float64           `json:"magnitude"`
	OccurredAt        time.Time         `json:"occurred_at"`
	RecordedAt        time.Time         `json:"recorded_at"`
	IdempotencyKey    string            `json:"idempotency_key,omitempty"`
	Fingerprint       string            `json:"fingerprint,omitempty"`
	Source            string            `json:"source,omitempty"`
	Note              string            `json:"note,omitempty"`
	Attributes        map[string]string `json:"attributes,omitempty"`
	IncidentID        string            `json:"incident_id,omitempty"`
	ReversesEventID   string            `json:"reverses_event_id,omitempty"`
	ReversedByEventID string            `json:"reversed_by_event_id,omitempty"`
}

func notificationValues(n ledger.Notification) ([]any, error) {
	ev := ""
	if e := n.Event; e != nil {
		b, err := json.Marshal(eventDoc{ID: e.ID, CustomerID: e.CustomerID, Kind: e.Kind.String(), Magnitude: e.Magnitude,
			OccurredAt: e.OccurredAt, RecordedAt: e.RecordedAt, IdempotencyKey: e.IdempotencyKey, Fingerprint: e.Fingerprint, Source: e.Source,
			Note: e.Note, Attributes: e.Attributes, IncidentID: e.IncidentID, ReversesEventID: e.ReversesEventID})
		if err != nil {
			return nil, err
		}
		ev = string(b)
	}
	return []any{n.TenantID, n.ID, string(n.Type), n.CustomerID, n.CustomerSeq, n.OccurredAt, n.CreatedAt, n.EventID,
		n.PolicyVersion, n.Before.Value, statusName(n.Before.Status), n.After.Value, statusName(n.After.Status), ev}, nil
}

// scanNotification reads the seq column, then notifications' columns.
func scanNotification(row scanner) (ledger.Notification, error) {
	var (
		n                         ledger.Notification
		typ, before, after, ev    string
		okType, okBefore, okAfter bool
	)
	if err := row.Scan(&n.Seq, &n.TenantID, &n.ID, &typ, &n.CustomerID, &n.CustomerSeq, timeCol{&n.OccurredAt},
		timeCol{&n.CreatedAt}, &n.EventID, &n.PolicyVersion, &n.Before.Value, &before, &n.After.Value, &after,
		textCol{&ev}); err != nil {
		return n, err
	}
	n.Type = ledger.NotificationType(typ)
	okType = n.Type.Valid()
	n.Before.Status, okBefore = parseStatus(before)
	n.After.Status, okAfter = parseStatus(after)
	if !okType || !okBefore || !okAfter {
		return n, fmt.Errorf("notification %s: unknown type or status (%q, %q, %q)", n.ID, typ, before, after)
	}
	if ev != "" {
		var d eventDoc
		if err := json.Unmarshal([]byte(ev), &d); err != nil {
			return n, fmt.Errorf("notification %s: event: %w", n.ID, err)
		}
		k, ok := ledger.ParseKind(d.Kind)
		if !ok {
			return n, fmt.Errorf("notification %s: event kind %q", n.ID, d.Kind)
		}
		n.Event = &ledger.Event{TenantID: n.TenantID, CustomerID: d.CustomerID, ID: d.ID, Kind: k, Magnitude: d.Magnitude,
			OccurredAt: d.OccurredAt.UTC(), RecordedAt: d.RecordedAt.UTC(), IdempotencyKey: d.IdempotencyKey, Fingerprint: d.Fingerprint, Source: d.Source,
			Note: d.Note, Attributes: d.Attributes, IncidentID: d.IncidentID, ReversesEventID: d.ReversesEventID}
	}
	return n, nil
}

// AppendNotifications implements ledger.Tx.
func (t *Txn) AppendNotifications(ctx context.Context, ns []ledger.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	rows := make([][]any, len(ns))
	for i, n := range ns {
		vals, err := notificationValues(n)
		if err != nil {
			return err
		}
		rows[i] = notifications.bind(t.s.d, vals)
	}
	if t.s.d.Arrays {
		_, err := t.exec(ctx, t.s.insertArrays(notifications, rows, ""))
		return err
	}
	for _, r := range rows {
		if _, err := t.exec(ctx, t.s.insert(notifications, r)); err != nil {
			return err
		}
	}
	return nil
}

// Notifications implements ledger.Reader.
func (t *Txn) Notifications(ctx context.Context, tenant string, after int64, types []ledger.NotificationType, limit int) ([]ledger.Notification, error) {
	sel := "SELECT seq, " + notifications.list("") + " FROM notifications"
	var q *query
	if tenant != "" {
		q = t.s.d.onTenant(sel, "", tenant).and("seq > ?", after)
	} else {
		q = t.s.d.query(sel+" WHERE ").write("seq > ?", after)
	}
	if len(types) > 0 {
		names := make([]any, len(types))
		for i, typ := range types {
			names[i] = string(typ)
		}
		q.and("type IN ("+placeholders(len(names))+")", names...)
	}
	q.write(" ORDER BY seq LIMIT ?", limit)
	var out []ledger.Notification
	err := t.query(ctx, q, func(r scanner) error {
		n, err := scanNotification(r)
		out = append(out, n)
		return err
	})
	return out, err
}

// UnsequencedNotifications implements ledger.Tx: every tenant's, ordered
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
		q := t.s.d.query("UPDATE notifications SET ").write("seq = ?", r.Seq)
		q.b.WriteString(" WHERE tenant_id = " + q.arg(r.TenantID))
		if _, err := t.exec(ctx, q.and("notification_id = ?", r.ID)); err != nil {
			return err
		}
	}
	return nil
}

// NotificationSeq implements ledger.Tx.
func (t *Txn) NotificationSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := t.query(ctx, t.s.d.query("SELECT seq FROM notification_seq WHERE id = 1"), func(r scanner) error {
		return r.Scan(&seq)
	})
	return seq, err
}

// PutNotificationSeq implements ledger.Tx.
func (t *Txn) PutNotificationSeq(ctx context.Context, seq int64) error {
	_, err := t.exec(ctx, t.s.d.query("INSERT INTO notification_seq (id, seq) VALUES (1, ").
		write("?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq", seq))
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
		write("seq IS NOT NULL AND created_at < ? LIMIT ?)", t.s.d.Time(before), limit)
	return t.exec(ctx, q)
}
