package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

var (
	webhooks = table{"webhooks", []column{
		{"tenant_id", colText}, {"webhook_id", colText}, {"url", colText}, {"types", colText},
		{"description", colText}, {"secret", colText}, {"previous_secret", colText}, {"previous_until", colNullTime},
		{"created_at", colTime}, {"cursor", colInt}, {"delivered", colInt}, {"failed", colInt}, {"attempts", colInt},
		{"lease_owner", colText}, {"lease_until", colNullTime},
	}}
	deliveries = table{"webhook_deliveries", []column{
		{"tenant_id", colText}, {"webhook_id", colText}, {"notification_id", colText}, {"seq", colInt},
		{"customer_id", colText}, {"type", colText}, {"state", colText}, {"attempts", colInt},
		{"first_try_at", colTime}, {"next_try_at", colTime}, {"last_status", colInt}, {"last_error", colText},
	}}
	attempts = table{"webhook_attempts", []column{
		{"tenant_id", colText}, {"webhook_id", colText}, {"slot", colInt}, {"notification_id", colText},
		{"seq", colInt}, {"type", colText}, {"customer_id", colText}, {"at", colTime}, {"status", colInt},
		{"error", colText}, {"latency_us", colInt}, {"delivered", colInt},
	}}
)

var deliveryStates = map[ledger.DeliveryState]string{
	ledger.DeliveryPending: "pending",
	ledger.DeliveryFailed:  "failed",
}

func joinTypes(ts []ledger.NotificationType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ",")
}

func splitTypes(s string) []ledger.NotificationType {
	if s == "" {
		return nil
	}
	var out []ledger.NotificationType
	for _, t := range strings.Split(s, ",") {
		out = append(out, ledger.NotificationType(t))
	}
	return out
}

func webhookValues(w ledger.Webhook) []any {
	return []any{w.TenantID, w.ID, w.URL, joinTypes(w.Types), w.Description, w.Secret, w.PreviousSecret,
		w.PreviousUntil, w.CreatedAt, w.Cursor, w.Delivered, w.Failed, w.Attempts, w.LeaseOwner, w.LeaseUntil}
}

func scanWebhook(row scanner) (ledger.Webhook, error) {
	var w ledger.Webhook
	var types string
	err := row.Scan(&w.TenantID, &w.ID, &w.URL, &types, &w.Description, &w.Secret, &w.PreviousSecret,
		timeCol{&w.PreviousUntil}, timeCol{&w.CreatedAt}, &w.Cursor, &w.Delivered, &w.Failed, &w.Attempts,
		&w.LeaseOwner, timeCol{&w.LeaseUntil})
	w.Types = splitTypes(types)
	return w, err
}

func (t *Txn) webhooks(ctx context.Context, q *query) ([]ledger.Webhook, error) {
	var out []ledger.Webhook
	err := t.query(ctx, q, func(r scanner) error {
		w, err := scanWebhook(r)
		out = append(out, w)
		return err
	})
	return out, err
}

// Webhook implements ledger.Reader.
func (t *Txn) Webhook(ctx context.Context, tenant, id string) (ledger.Webhook, error) {
	ws, err := t.webhooks(ctx, t.s.d.onTenant("SELECT "+webhooks.list("")+" FROM webhooks", "", tenant).and("webhook_id = ?", id))
	if err != nil {
		return ledger.Webhook{}, err
	}
	if len(ws) == 0 {
		return ledger.Webhook{}, ledger.ErrNotFound
	}
	return ws[0], nil
}

// Webhooks implements ledger.Reader.
func (t *Txn) Webhooks(ctx context.Context, tenant string) ([]ledger.Webhook, error) {
	return t.webhooks(ctx, t.s.d.onTenant("SELECT "+webhooks.list("")+" FROM webhooks", "", tenant).write(" ORDER BY webhook_id"))
}

// PutWebhook implements ledger.Tx.
func (t *Txn) PutWebhook(ctx context.Context, w ledger.Webhook) error {
	_, err := t.exec(ctx, t.s.upsert(webhooks, webhooks.bind(t.s.d, webhookValues(w)), "tenant_id, webhook_id"))
	return err
}

// DeleteWebhook implements ledger.Tx.
func (t *Txn) DeleteWebhook(ctx context.Context, tenant, id string) error {
	n, err := t.exec(ctx, t.s.d.onTenant("DELETE FROM webhooks", "", tenant).and("webhook_id = ?", id))
	if err != nil {
		return err
	}
	if n == 0 {
		return ledger.ErrNotFound
	}
	for _, tbl := range []string{"webhook_deliveries", "webhook_attempts"} {
		if _, err := t.exec(ctx, t.s.d.onTenant("DELETE FROM "+tbl, "", tenant).and("webhook_id = ?", id)); err != nil {
			return err
		}
	}
	return nil
}

// ClaimWebhooks implements ledger.Tx: every tenant's.
func (t *Txn) ClaimWebhooks(ctx context.Context, owner string, now, until time.Time, limit int) ([]ledger.Webhook, error) {
	q := t.s.d.query("SELECT "+webhooks.list("")+" FROM webhooks WHERE ").
		write("(lease_until IS NULL OR lease_until <= ? OR lease_owner = ?)", t.s.d.Time(now), owner).
		write(" ORDER BY tenant_id, webhook_id LIMIT ?", limit)
	ws, err := t.webhooks(ctx, q)
	if err != nil {
		return nil, err
	}
	for i := range ws {
		ws[i].LeaseOwner, ws[i].LeaseUntil = owner, until
		up := t.s.d.query("UPDATE webhooks SET ").write("lease_owner = ?, lease_until = ?", owner, t.s.d.Time(until))
		up.b.WriteString(" WHERE tenant_id = " + up.arg(ws[i].TenantID))
		if _, err := t.exec(ctx, up.and("webhook_id = ?", ws[i].ID)); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

func deliveryValues(d ledger.Delivery) []any {
	return []any{d.TenantID, d.WebhookID, d.NotificationID, d.Seq, d.CustomerID, string(d.Type), deliveryStates[d.State],
		int64(d.Attempts), d.FirstTryAt, d.NextTryAt, int64(d.LastStatus), d.LastError}
}

// PendingDeliveries implements ledger.Reader.
func (t *Txn) PendingDeliveries(ctx context.Context, tenant, webhookID string, limit int) ([]ledger.Delivery, error) {
	q := t.s.d.onTenant("SELECT "+deliveries.list("")+" FROM webhook_deliveries", "", tenant).
		and("webhook_id = ?", webhookID).write(" ORDER BY seq LIMIT ?", limit)
	var out []ledger.Delivery
	err := t.query(ctx, q, func(r scanner) error {
		var d ledger.Delivery
		var typ, state string
		var n, status int64
		if err := r.Scan(&d.TenantID, &d.WebhookID, &d.NotificationID, &d.Seq, &d.CustomerID, &typ, &state, &n,
			timeCol{&d.FirstTryAt}, timeCol{&d.NextTryAt}, &status, &d.LastError); err != nil {
			return err
		}
		d.Type, d.Attempts, d.LastStatus = ledger.NotificationType(typ), int(n), int(status)
		for k, v := range deliveryStates {
			if v == state {
				d.State = k
			}
		}
		if d.State == ledger.DeliveryUnspecified {
			return fmt.Errorf("delivery %s: unknown state %q", d.NotificationID, state)
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// PutDeliveries implements ledger.Tx.
func (t *Txn) PutDeliveries(ctx context.Context, ds []ledger.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	if t.s.d.Arrays { // one statement, not one round trip a row
		rows := make([][]any, len(ds))
		for i, d := range ds {
			rows[i] = deliveries.bind(t.s.d, deliveryValues(d))
		}
		_, err := t.exec(ctx, t.s.insertArrays(deliveries, rows, "tenant_id, webhook_id, notification_id"))
		return err
	}
	for _, d := range ds {
		if _, err := t.exec(ctx, t.s.upsert(deliveries, deliveries.bind(t.s.d, deliveryValues(d)),
			"tenant_id, webhook_id, notification_id")); err != nil {
			return err
		}
	}
	return nil
}

// DeleteDeliveries implements ledger.Tx.
func (t *Txn) DeleteDeliveries(ctx context.Context, tenant, webhookID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	_, err := t.exec(ctx, t.s.d.onTenant("DELETE FROM webhook_deliveries", "", tenant).and("webhook_id = ?", webhookID).
		and("notification_id IN ("+placeholders(len(ids))+")", args...))
	return err
}

// PutAttempts implements ledger.Tx.
func (t *Txn) PutAttempts(ctx context.Context, as []ledger.Attempt) error {
	if len(as) == 0 {
		return nil
	}
	rows := make([][]any, len(as))
	for i, a := range as {
		rows[i] = attempts.bind(t.s.d, []any{a.TenantID, a.WebhookID, a.Slot, a.NotificationID, a.Seq, string(a.Type),
			a.CustomerID, a.At, int64(a.Status), a.Error, a.Latency.Microseconds(), boolInt(a.Delivered)})
	}
	if t.s.d.Arrays { // one statement, not one round trip a row
		_, err := t.exec(ctx, t.s.insertArrays(attempts, rows, "tenant_id, webhook_id, slot"))
		return err
	}
	for _, r := range rows {
		if _, err := t.exec(ctx, t.s.fixed(t.s.attemptSQL, r...)); err != nil {
			return err
		}
	}
	return nil
}

// Attempts implements ledger.Reader.
func (t *Txn) Attempts(ctx context.Context, tenant, webhookID string, limit int) ([]ledger.Attempt, error) {
	q := t.s.d.onTenant("SELECT "+attempts.list("")+" FROM webhook_attempts", "", tenant).
		and("webhook_id = ?", webhookID).write(" ORDER BY at DESC, slot DESC LIMIT ?", limit)
	var out []ledger.Attempt
	err := t.query(ctx, q, func(r scanner) error {
		var a ledger.Attempt
		var typ string
		var status, latency, delivered int64
		if err := r.Scan(&a.TenantID, &a.WebhookID, &a.Slot, &a.NotificationID, &a.Seq, &typ, &a.CustomerID,
			timeCol{&a.At}, &status, &a.Error, &latency, &delivered); err != nil {
			return err
		}
		a.Type, a.Status, a.Latency, a.Delivered = ledger.NotificationType(typ), int(status),
			time.Duration(latency)*time.Microsecond, delivered != 0
		out = append(out, a)
		return nil
	})
	return out, err
}

// ClaimCursor implements ledger.Tx.
func (t *Txn) ClaimCursor(ctx context.Context, name, owner string, now, until time.Time) (int64, bool, error) {
	var (
		seq   int64
		lease string
		end   time.Time
		found bool
	)
	err := t.query(ctx, t.s.d.query("SELECT seq, lease_owner, lease_until FROM notification_cursors WHERE ").
		write("name = ?", name), func(r scanner) error {
		found = true
		return r.Scan(&seq, &lease, timeCol{&end})
	})
	if err != nil {
		return 0, false, err
	}
	if found && lease != owner && end.After(now) {
		return seq, false, nil
	}
	_, err = t.exec(ctx, t.s.d.query("INSERT INTO notification_cursors (name, seq, lease_owner, lease_until) VALUES (").
		write("?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until",
			name, seq, owner, t.s.d.Time(until)))
	return seq, err == nil, err
}

// PutCursor implements ledger.Tx.
func (t *Txn) PutCursor(ctx context.Context, name string, seq int64) error {
	_, err := t.exec(ctx, t.s.d.query("UPDATE notification_cursors SET ").write("seq = ? WHERE name = ?", seq, name))
	return err
}
