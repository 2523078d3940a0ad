package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

func fullWebhook(tenant, id string) ledger.Webhook {
	return ledger.Webhook{
		TenantID: tenant, ID: id, URL: "https://crm.example.com/hooks/goodwill?x=1&y=é",
		Types:       []ledger.NotificationType{ledger.NotifyOverdrawn, ledger.NotifyRecovered},
		Description: "Zoë's CRM \"tasks\"", Secret: "whsec_current", PreviousSecret: "whsec_previous",
		PreviousUntil: at(60).Add(time.Microsecond), CreatedAt: at(-5), Cursor: 1<<40 + 1, Delivered: 12, Failed: 3,
		Attempts: 1<<33 + 5, LeaseOwner: "replica-1", LeaseUntil: at(1),
	}
}

func normWebhook(w ledger.Webhook) ledger.Webhook {
	w.PreviousUntil, w.CreatedAt, w.LeaseUntil = w.PreviousUntil.UTC(), w.CreatedAt.UTC(), w.LeaseUntil.UTC()
	return w
}

func equalWebhook(t *testing.T, what string, got, want ledger.Webhook) {
	t.Helper()
	if g, w := fmt.Sprintf("%+v", normWebhook(got)), fmt.Sprintf("%+v", normWebhook(want)); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// testWebhookRoundTrip: a webhook reads back field for field, within its
// tenant only; one with no types means all; replacing and deleting work,
// and deleting takes its queue and attempt log with it.
func testWebhookRoundTrip(t *testing.T, s ledger.Store) {
	full := fullWebhook(tenantA, "wh-1")
	bare := ledger.Webhook{TenantID: tenantA, ID: "wh-0", URL: "http://x", Secret: "s", CreatedAt: at(0)}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, w := range []ledger.Webhook{full, bare, fullWebhook(tenantB, "wh-1")} {
			if err := tx.PutWebhook(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		got, err := r.Webhook(ctx, tenantA, "wh-1")
		if err != nil {
			return err
		}
		equalWebhook(t, "full", got, full)
		if _, err := r.Webhook(ctx, tenantA, "absent"); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("absent webhook: %v", err)
		}
		ws, err := r.Webhooks(ctx, tenantA)
		if err != nil {
			return err
		}
		if len(ws) != 2 || ws[0].ID != "wh-0" || ws[0].Types != nil || !ws[0].Wants(ledger.NotifyAdvocate) {
			t.Errorf("tenant A's webhooks: %+v", ws)
		}
		return nil
	})
	full.Cursor, full.Delivered = 99, 13
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutWebhook(ctx, full); err != nil {
			return err
		}
		if err := tx.PutDeliveries(ctx, []ledger.Delivery{delivery(full, "n1", 1, "c1")}); err != nil {
			return err
		}
		return tx.PutAttempts(ctx, []ledger.Attempt{attempt(full, 0, "n1")})
	})
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		got, err := r.Webhook(ctx, tenantA, "wh-1")
		if err == nil {
			equalWebhook(t, "replaced", got, full)
		}
		return err
	})
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.DeleteWebhook(ctx, tenantA, "wh-1") })
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.DeleteWebhook(ctx, tenantA, "wh-1"); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("deleting twice: %v, want ErrNotFound", err)
		}
		return nil
	})
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		ds, err := r.PendingDeliveries(ctx, tenantA, "wh-1", 10)
		if err != nil {
			return err
		}
		as, err := r.Attempts(ctx, tenantA, "wh-1", 10)
		if len(ds) != 0 || len(as) != 0 {
			t.Errorf("a deleted webhook left %d deliveries and %d attempts", len(ds), len(as))
		}
		if _, err := r.Webhook(ctx, tenantB, "wh-1"); err != nil {
			t.Errorf("deleting tenant A's webhook took tenant B's: %v", err)
		}
		return err
	})
}

func delivery(w ledger.Webhook, id string, seq int64, customer string) ledger.Delivery {
	return ledger.Delivery{TenantID: w.TenantID, WebhookID: w.ID, NotificationID: id, Seq: seq, CustomerID: customer,
		Type: ledger.NotifyOverdrawn, State: ledger.DeliveryPending, Attempts: 2, FirstTryAt: at(1), NextTryAt: at(2),
		LastStatus: 503, LastError: "the receiver answered 503 Service Unavailable"}
}

func attempt(w ledger.Webhook, slot int64, id string) ledger.Attempt {
	return ledger.Attempt{TenantID: w.TenantID, WebhookID: w.ID, Slot: slot, NotificationID: id, Seq: 7,
		Type: ledger.NotifyRecovered, CustomerID: "c1", At: at(int(slot)), Status: 200, Latency: 1234 * time.Microsecond,
		Delivered: true}
}

// testWebhookQueueAndLog: queued deliveries come back in notification
// order, replaced and removed by id; the attempt log keeps one attempt per
// slot, newest first.
func testWebhookQueueAndLog(t *testing.T, s ledger.Store) {
	w := fullWebhook(tenantA, "wh-q")
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutWebhook(ctx, w); err != nil {
			return err
		}
		return tx.PutDeliveries(ctx, []ledger.Delivery{delivery(w, "n3", 3, "c2"), delivery(w, "n1", 1, "c1"), delivery(w, "n2", 2, "c1")})
	})
	failed := delivery(w, "n2", 2, "c1")
	failed.State, failed.Attempts = ledger.DeliveryFailed, 9
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutDeliveries(ctx, []ledger.Delivery{failed}); err != nil {
			return err
		}
		return tx.DeleteDeliveries(ctx, tenantA, "wh-q", []string{"n1"})
	})
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		ds, err := r.PendingDeliveries(ctx, tenantA, "wh-q", 10)
		if err != nil {
			return err
		}
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.NotificationID)
		}
		if !slices.Equal(ids, []string{"n2", "n3"}) || ds[0].State != ledger.DeliveryFailed || ds[0].Attempts != 9 {
			t.Errorf("queue: %+v", ds)
		}
		d := ds[1]
		d.FirstTryAt, d.NextTryAt = d.FirstTryAt.UTC(), d.NextTryAt.UTC()
		if want := delivery(w, "n3", 3, "c2"); fmt.Sprintf("%+v", d) != fmt.Sprintf("%+v", want) {
			t.Errorf("delivery:\n got %+v\nwant %+v", d, want)
		}
		return nil
	})
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		return tx.PutAttempts(ctx, []ledger.Attempt{attempt(w, 0, "a0"), attempt(w, 1, "a1"), attempt(w, 2, "a2")})
	})
	again := attempt(w, 0, "a3") // the ring wrapped: slot 0 again, newest
	again.At, again.Delivered, again.Status, again.Error = at(10), false, 0, "connection refused"
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutAttempts(ctx, []ledger.Attempt{again}) })
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		as, err := r.Attempts(ctx, tenantA, "wh-q", 10)
		if err != nil {
			return err
		}
		var ids []string
		for _, a := range as {
			ids = append(ids, a.NotificationID)
		}
		if !slices.Equal(ids, []string{"a3", "a2", "a1"}) || as[0].Error != "connection refused" || as[0].Delivered ||
			as[2].Latency != 1234*time.Microsecond {
			t.Errorf("attempt log: %+v", as)
		}
		return nil
	})
}

// testClaimWebhooks: a lease goes to one owner at a time, until it ends;
// the owner may claim again.
func testClaimWebhooks(t *testing.T, s ledger.Store) {
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, id := range []string{"w1", "w2"} {
			w := fullWebhook(tenantA, id)
			w.LeaseOwner, w.LeaseUntil = "", time.Time{}
			if err := tx.PutWebhook(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
	claim := func(owner string, now time.Time) []string {
		var out []string
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			ws, err := tx.ClaimWebhooks(ctx, owner, now, now.Add(30*time.Second), 10)
			out = nil
			for _, w := range ws {
				if w.LeaseOwner != owner {
					t.Errorf("claimed %s with owner %q", w.ID, w.LeaseOwner)
				}
				out = append(out, w.ID)
			}
			return err
		})
		return out
	}
	if got := claim("a", at(0)); !slices.Equal(got, []string{"w1", "w2"}) {
		t.Fatalf("first claim: %v", got)
	}
	if got := claim("b", at(0).Add(10*time.Second)); len(got) != 0 {
		t.Errorf("another owner during the lease: %v", got)
	}
	if got := claim("a", at(0).Add(10*time.Second)); len(got) != 2 {
		t.Errorf("the owner again: %v", got)
	}
	if got := claim("b", at(0).Add(time.Minute)); len(got) != 2 {
		t.Errorf("another owner after the lease: %v", got)
	}
}

// testNotificationCursors: a named consumer's place, leased to one owner.
func testNotificationCursors(t *testing.T, s ledger.Store) {
	claim := func(owner string, now time.Time) (int64, bool) {
		var seq int64
		var ok bool
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			var err error
			seq, ok, err = tx.ClaimCursor(ctx, "nats", owner, now, now.Add(30*time.Second))
			return err
		})
		return seq, ok
	}
	if seq, ok := claim("a", at(0)); !ok || seq != 0 {
		t.Fatalf("first claim: %d, %v", seq, ok)
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutCursor(ctx, "nats", 42) })
	if _, ok := claim("b", at(0).Add(time.Second)); ok {
		t.Error("another owner claimed a held cursor")
	}
	if seq, ok := claim("b", at(1)); !ok || seq != 42 {
		t.Errorf("after the lease: %d, %v; want 42, true", seq, ok)
	}
}
