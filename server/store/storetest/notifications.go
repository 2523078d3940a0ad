package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// note is a notification of a customer, numbered within it.
func note(tenant, customer string, customerSeq int64, typ ledger.NotificationType, created time.Time) ledger.Notification {
	return ledger.Notification{
		TenantID: tenant, ID: fmt.Sprintf("ntf_%s_%s_%d", tenant, customer, customerSeq), Type: typ,
		CustomerID: customer, CustomerSeq: customerSeq, OccurredAt: created.Add(-time.Minute), CreatedAt: created,
		PolicyVersion: 3, Before: ledger.Snapshot{Value: 1.5, Status: ledger.StatusHealthy},
		After: ledger.Snapshot{Value: -math.Nextafter(2.25, 3), Status: ledger.StatusOverdrawn},
	}
}

// sequenceAll numbers every waiting notification as the sequencer does,
// and returns how many it numbered.
func sequenceAll(t *testing.T, s ledger.Store) int {
	t.Helper()
	n, err := sequence(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func readNotifications(t *testing.T, s ledger.Store, tenant string, after int64, types []ledger.NotificationType, limit int) []ledger.Notification {
	t.Helper()
	var out []ledger.Notification
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		out, err = r.Notifications(ctx, tenant, after, types, limit)
		return err
	})
	return out
}

// testNotificationRoundTrip: a notification reads back field for field,
// the event it names included, once numbered; not before.
func testNotificationRoundTrip(t *testing.T, s ledger.Store) {
	ev := fullEvent(tenantA, "c1", "ev-1")
	withEvent := note(tenantA, "c1", 1, ledger.NotifyEventRecorded, at(5))
	withEvent.EventID, withEvent.Event = ev.ID, &ev
	plain := note(tenantA, "c1", 2, ledger.NotifyOverdrawn, at(5))
	plain.EventID = ev.ID
	tenantWide := ledger.Notification{TenantID: tenantA, ID: "ntf_policy", Type: ledger.NotifyPolicyActivated,
		OccurredAt: at(6), CreatedAt: at(6), PolicyVersion: 4}
	// The notification of an event names it; the event is written with it.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.AppendEvent(ctx, ev); err != nil {
			return err
		}
		return tx.AppendNotifications(ctx, []ledger.Notification{withEvent, plain, tenantWide})
	})
	// Readable once numbered: by the sequencer, or at once where the
	// backend numbers as it writes.
	early := readNotifications(t, s, tenantA, 0, nil, 10)
	if n := sequenceAll(t, s); n+len(early) != 3 {
		t.Fatalf("numbered %d, and %d at once; want 3 in all", n, len(early))
	}
	got := readNotifications(t, s, tenantA, 0, nil, 10)
	if len(got) != 3 {
		t.Fatalf("read %d notifications, want 3", len(got))
	}
	byID := map[string]ledger.Notification{}
	for _, n := range got {
		if n.Seq == 0 {
			t.Errorf("%s has no number", n.ID)
		}
		n.OccurredAt, n.CreatedAt = n.OccurredAt.UTC(), n.CreatedAt.UTC()
		byID[n.ID] = n
	}
	for _, want := range []ledger.Notification{withEvent, plain, tenantWide} {
		g := byID[want.ID]
		want.Seq = g.Seq
		if (want.Event == nil) != (g.Event == nil) {
			t.Errorf("notification %s: event %v, want %v", want.ID, g.Event, want.Event)
			continue
		}
		if want.Event != nil {
			equalEvent(t, "the event of "+want.ID, normEvent(*g.Event), normEvent(*want.Event))
		}
		g.Event, want.Event = nil, nil
		if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", want) {
			t.Errorf("notification %s:\n got %+v\nwant %+v", want.ID, g, want)
		}
	}
}

// testNotificationsAreTheTransactions: notifications written in a
// transaction that rolls back do not exist.
func testNotificationsAreTheTransactions(t *testing.T, s ledger.Store) {
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx ledger.Tx) error {
		if err := tx.AppendNotifications(context.Background(), []ledger.Notification{note(tenantA, "c", 1, ledger.NotifyOverdrawn, at(1))}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	if n := sequenceAll(t, s); n != 0 {
		t.Errorf("a rolled-back notification was numbered (%d)", n)
	}
}

// testSequencerOrder: waiting notifications come ordered by tenant,
// customer and the customer's own number, so any prefix keeps each
// customer's order; numbers follow on from the last one given, and reads
// by cursor, type and tenant see exactly what they ask for.
func testSequencerOrder(t *testing.T, s ledger.Store) {
	var all []ledger.Notification
	for _, tenant := range []string{tenantB, tenantA} {
		for _, c := range []string{"z", "a", "m"} {
			for n := int64(3); n >= 1; n-- { // written newest first
				typ := ledger.NotifyOverdrawn
				if n == 2 {
					typ = ledger.NotifyRecovered
				}
				all = append(all, note(tenant, c, n, typ, at(int(n))))
			}
		}
	}
	// A tenant's own notification, written first, comes after its customers'.
	own := ledger.Notification{TenantID: tenantA, ID: "ntf_own", Type: ledger.NotifyPolicyActivated, OccurredAt: at(0), CreatedAt: at(0)}
	all = append([]ledger.Notification{own}, all...)
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutNotificationSeq(ctx, 100) })
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.AppendNotifications(ctx, all) })
	var refs []ledger.NotificationRef
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		var err error
		refs, err = tx.UnsequencedNotifications(ctx, 4)
		return err
	})
	if len(refs) > 0 { // numbered by a sequencer: its order first
		var got []string
		for _, r := range refs {
			got = append(got, fmt.Sprintf("%s/%s/%d", r.TenantID, r.CustomerID, r.CustomerSeq))
		}
		want := []string{tenantA + "/a/1", tenantA + "/a/2", tenantA + "/a/3", tenantA + "/m/1"}
		if !slices.Equal(got, want) {
			t.Errorf("first 4 waiting: %v, want %v", got, want)
		}
		if n := sequenceAll(t, s); n != len(all) {
			t.Fatalf("numbered %d of %d", n, len(all))
		}
	}
	// Either way: numbered after 100, tenant by tenant, each customer in
	// its order, the tenant's own after its customers'.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		last, err := tx.NotificationSeq(ctx)
		if err == nil && last != 100+int64(len(all)) {
			t.Errorf("last number %d, want %d", last, 100+len(all))
		}
		return err
	})
	a := readNotifications(t, s, tenantA, 0, nil, 100)
	if len(a) != 10 || a[0].Seq != 101 || a[9].ID != "ntf_own" {
		t.Fatalf("tenant A reads %d notifications from %d, last %s; want 10 from 101, its own last", len(a), a[0].Seq, a[len(a)-1].ID)
	}
	for i, n := range a[:9] {
		want := fmt.Sprintf("%s/%d", []string{"a", "a", "a", "m", "m", "m", "z", "z", "z"}[i], i%3+1)
		if got := fmt.Sprintf("%s/%d", n.CustomerID, n.CustomerSeq); got != want {
			t.Errorf("tenant A's notification %d is %s, want %s", i, got, want)
		}
	}
	for i, n := range a {
		if n.TenantID != tenantA || (i > 0 && n.Seq <= a[i-1].Seq) {
			t.Errorf("tenant A's read, item %d: %+v", i, n)
		}
	}
	if page := readNotifications(t, s, tenantA, a[3].Seq, nil, 2); len(page) != 2 || page[0].Seq != a[4].Seq {
		t.Errorf("after a cursor: %+v", page)
	}
	if rec := readNotifications(t, s, tenantA, 0, []ledger.NotificationType{ledger.NotifyRecovered}, 100); len(rec) != 3 {
		t.Errorf("only recoveries: %d, want 3", len(rec))
	}
	if every := readNotifications(t, s, "", 0, nil, 100); len(every) != len(all) {
		t.Errorf("every tenant's: %d, want %d", len(every), len(all))
	}
	if b := readNotifications(t, s, tenantB, 0, nil, 100); len(b) != 9 || b[0].TenantID != tenantB {
		t.Errorf("tenant B reads %d", len(b))
	}
}

// testDueCustomers: customers whose status changes by time alone, of every
// tenant, earliest first, up to a moment.
func testDueCustomers(t *testing.T, s ledger.Store) {
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for i, d := range []struct {
			tenant, id string
			due        time.Time
		}{{tenantA, "late", at(30)}, {tenantB, "early", at(10)}, {tenantA, "mid", at(20)}, {tenantA, "never", time.Time{}}} {
			c := newCustomer(d.tenant, d.id)
			c.Watch = ledger.Watch{Status: ledger.StatusOverdrawn, Seq: int64(i), DueAt: d.due}
			if err := tx.PutCustomer(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		cs, err := tx.DueCustomers(ctx, at(20), 10)
		if err != nil {
			return err
		}
		if got := customerIDs(cs); !slices.Equal(got, []string{"early", "mid"}) {
			t.Errorf("due by at(20): %v, want [early mid]", got)
		}
		cs, err = tx.DueCustomers(ctx, at(100), 2)
		if got := customerIDs(cs); err == nil && !slices.Equal(got, []string{"early", "mid"}) {
			t.Errorf("first 2 due: %v", got)
		}
		return err
	})
}

// testPruneNotifications deletes numbered notifications created before a
// moment, a batch at a time, and never one not yet numbered.
func testPruneNotifications(t *testing.T, s ledger.Store) {
	var ns []ledger.Notification
	for i := range 5 {
		ns = append(ns, note(tenantA, "p", int64(i+1), ledger.NotifyAdvocate, at(i)))
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.AppendNotifications(ctx, ns[:4]) })
	sequenceAll(t, s)
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.AppendNotifications(ctx, ns[4:]) })
	// A backend that numbers as it writes has numbered the last one too,
	// and then may prune it.
	numbered := readNotifications(t, s, tenantA, 0, nil, 10)
	numberedAtOnce := len(numbered) == 5
	if through := prunedThrough(t, s, tenantA); through != 0 {
		t.Errorf("PrunedThrough before any prune: %d, want 0", through)
	}
	var deleted int64
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		n, err := tx.PruneNotifications(ctx, at(10), 2)
		deleted = n
		return err
	})
	if deleted != 2 {
		t.Errorf("first prune deleted %d, want its limit 2", deleted)
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		n, err := tx.PruneNotifications(ctx, at(10), 100)
		deleted = n
		return err
	})
	// The mark is the tenant's highest number deleted: every numbered one
	// here. Another tenant's stays.
	if through, want := prunedThrough(t, s, tenantA), numbered[len(numbered)-1].Seq; through != want {
		t.Errorf("PrunedThrough after pruning: %d, want %d (the highest number deleted)", through, want)
	}
	if through := prunedThrough(t, s, tenantB); through != 0 {
		t.Errorf("PrunedThrough of a tenant that lost nothing: %d, want 0", through)
	}
	if numberedAtOnce {
		if deleted != 3 {
			t.Errorf("second prune deleted %d, want the other 3", deleted)
		}
		return
	}
	if deleted != 2 {
		t.Errorf("second prune deleted %d, want the other 2 (not the unnumbered one)", deleted)
	}
	if n := sequenceAll(t, s); n != 1 {
		t.Errorf("the unnumbered notification is gone: numbered %d", n)
	}
}

func prunedThrough(t *testing.T, s ledger.Store, tenant string) int64 {
	t.Helper()
	var through int64
	if err := s.View(t.Context(), func(r ledger.Reader) error {
		var err error
		through, err = r.PrunedThrough(t.Context(), tenant)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return through
}
