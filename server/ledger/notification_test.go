package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// fastNotify makes the background work quick enough for tests, and keeps
// notifications for as long as the tests' clocks jump (years: pruning by a
// pinned clock would otherwise take them).
var fastNotify = ledger.NotifyOptions{SequencerPoll: 10 * time.Millisecond, WatchPoll: 10 * time.Millisecond,
	ScheduleEvery: 10 * time.Millisecond, Retention: 200 * 365 * day}

// tail reads a tenant's stream from after until it holds n notifications
// (or fails after 10s), as a consumer with a cursor does.
func tail(t *testing.T, svc *ledger.Service, tenant string, after int64, n int, types ...ledger.NotificationType) []ledger.Notification {
	t.Helper()
	var out []ledger.Notification
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n {
		page, err := svc.Notifications(t.Context(), tenant, after, types, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range page {
			out = append(out, x)
			after = x.Seq
		}
		if len(page) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the stream holds %d notifications after 10s, want %d: %s", len(out), n, kindsOf(out))
			}
			if err := svc.WaitNotifications(t.Context(), after); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func kindsOf(ns []ledger.Notification) string {
	var s []string
	for _, n := range ns {
		s = append(s, fmt.Sprintf("%s:%s#%d", n.CustomerID, n.Type, n.CustomerSeq))
	}
	return strings.Join(s, " ")
}

// Every event is announced; a withdrawal that overdraws and a deposit that
// heals announce the status change, caused by the event, with the balance
// before and after; one customer's notifications come in its order.
func TestNotificationsOfStatusChanges(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		clk := newClock(t0)
		svc := ledger.NewService(st, ledger.Options{Now: clk.Now, Notify: fastNotify, Logger: quietLog()})
		runService(t, svc)
		record(t, svc, nev("n1", ledger.KindReliableDelivery, 5, t0))
		out := record(t, svc, nev("n1", ledger.KindOutage, 1, t0)) // 5 - 12 = -7
		heal := record(t, svc, nev("n1", ledger.KindSuggestionAdopted, 1, t0))
		// Deliveries put n1 on the advocacy list (positive and rising); the
		// outage takes it off and overdraws it; the suggestion heals it and
		// puts it back.
		got := tail(t, svc, ledger.DefaultTenant, 0, 7)
		want := []ledger.NotificationType{ledger.NotifyEventRecorded, ledger.NotifyAdvocate, ledger.NotifyEventRecorded,
			ledger.NotifyOverdrawn, ledger.NotifyEventRecorded, ledger.NotifyRecovered, ledger.NotifyAdvocate}
		if len(got) != len(want) {
			t.Fatalf("notifications: %s", kindsOf(got))
		}
		for i, n := range got {
			if n.Type != want[i] || n.CustomerID != "n1" || n.CustomerSeq != int64(i+1) || n.ID == "" || !strings.HasPrefix(n.ID, "ntf_") {
				t.Errorf("notification %d: %+v, want %s, n1's #%d", i, n, want[i], i+1)
			}
		}
		od, rec := got[3], got[5]
		if od.EventID != out.Event.ID || od.Before != (ledger.Snapshot{Value: 5, Status: ledger.StatusHealthy}) ||
			od.After != (ledger.Snapshot{Value: -7, Status: ledger.StatusOverdrawn}) || !od.OccurredAt.Equal(t0) {
			t.Errorf("customer.overdrawn: %+v", od)
		}
		if rec.EventID != heal.Event.ID || rec.After != (ledger.Snapshot{Value: 3, Status: ledger.StatusHealthy}) {
			t.Errorf("customer.recovered: %+v", rec)
		}
		if e := got[2].Event; e == nil || e.ID != out.Event.ID || e.Kind != ledger.KindOutage || got[2].After.Value != -7 {
			t.Errorf("event.recorded of the outage: %+v (event %+v)", got[2], e)
		}
		// A filtered read sees only what it asks for.
		if only := tail(t, svc, ledger.DefaultTenant, 0, 2, ledger.NotifyOverdrawn, ledger.NotifyRecovered); only[0].Type != ledger.NotifyOverdrawn || only[1].Type != ledger.NotifyRecovered {
			t.Errorf("filtered: %s", kindsOf(only))
		}
	})
}

// A deficit fades back inside the limit without any event; the scheduler
// announces the recovery dated at the exact moment it happens.
func TestRecoveryByTimeAloneIsAnnouncedAtItsMoment(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		clk := newClock(t0)
		svc := ledger.NewService(st, ledger.Options{Now: clk.Now, Notify: fastNotify, Logger: quietLog()})
		runService(t, svc)
		limit := -10.0
		upsert(t, svc, "fade", ledger.Profile{Value: 1, OverdraftLimit: &limit})
		record(t, svc, nev("fade", ledger.KindOutage, 2, t0)) // -24, limit -10
		first := tail(t, svc, ledger.DefaultTenant, 0, 2)
		if first[1].Type != ledger.NotifyOverdrawn {
			t.Fatalf("first notifications: %s", kindsOf(first))
		}
		// -24 halves every 90 days: it reaches -10 after 90·log2(2.4) days.
		due := t0.Add(time.Duration(float64(halfLife) * 1.2630344058337937))
		clk.Advance(200 * day)
		rec := tail(t, svc, ledger.DefaultTenant, first[1].Seq, 1)[0]
		if rec.Type != ledger.NotifyRecovered || rec.EventID != "" || rec.After.Status != ledger.StatusHealthy {
			t.Fatalf("by time alone: %+v", rec)
		}
		if d := rec.OccurredAt.Sub(due); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("recovered at %v, want the crossing at %v", rec.OccurredAt, due)
		}
		if b := balanceAt(t, svc, "fade", rec.OccurredAt); b.Status != ledger.StatusHealthy {
			t.Errorf("at the announced moment: %+v", b)
		}
		if b := balanceAt(t, svc, "fade", rec.OccurredAt.Add(-time.Millisecond)); b.Status != ledger.StatusOverdrawn {
			t.Errorf("just before it: %+v", b)
		}
	})
}

// A zero limit recovers by the dust rule: a deficit closer to zero than
// the dust threshold is reported as zero, so a small outage does not keep a
// customer overdrawn for ever.
func TestRecoveryByTheDustRule(t *testing.T) {
	t.Parallel()
	clk := newClock(t0)
	svc := ledger.NewService(openStore(t), ledger.Options{Now: clk.Now, Notify: fastNotify, Logger: quietLog()})
	runService(t, svc)
	record(t, svc, nev("dust", ledger.KindOutage, 1, t0)) // -12; dust 0.5: -12 -> -0.5 after 90·log2(24) days
	clk.Advance(3 * 365 * day)
	got := tail(t, svc, ledger.DefaultTenant, 0, 3)
	due := t0.Add(time.Duration(float64(halfLife) * 4.584962500721156))
	if got[2].Type != ledger.NotifyRecovered || got[2].OccurredAt.Sub(due).Abs() > time.Millisecond {
		t.Errorf("recovery by dust: %s at %v, want at %v", kindsOf(got), got[2].OccurredAt, due)
	}
}

// When a change arrives after a recovery by time alone fell due and before
// the scheduler announced it, the recovery is announced first, at its own
// moment, and then what the change did.
func TestARecoveryDueIsAnnouncedBeforeTheNextChange(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		clk := newClock(t0)
		slow := fastNotify
		slow.ScheduleEvery = time.Hour // the scheduler will not get there first
		svc := ledger.NewService(st, ledger.Options{Now: clk.Now, Notify: slow, Logger: quietLog()})
		runService(t, svc)
		record(t, svc, nev("late", ledger.KindOutage, 1, t0))
		clk.Advance(3 * 365 * day)
		record(t, svc, nev("late", ledger.KindOutage, 1, clk.Now())) // overdrawn again
		got := tail(t, svc, ledger.DefaultTenant, 0, 5)
		want := []ledger.NotificationType{ledger.NotifyEventRecorded, ledger.NotifyOverdrawn, ledger.NotifyEventRecorded,
			ledger.NotifyRecovered, ledger.NotifyOverdrawn}
		for i, n := range got {
			if n.Type != want[i] {
				t.Fatalf("got %s, want %v", kindsOf(got), want)
			}
		}
		if !got[3].OccurredAt.Before(got[4].OccurredAt) || got[3].EventID != "" || got[4].EventID == "" {
			t.Errorf("the recovery by time (%+v) must come dated before the new overdraft (%+v)", got[3], got[4])
		}
	})
}

// Entering the ADVOCACY list is announced once; leaving it (here by time)
// and entering again is announced again.
func TestAdvocateAnnouncedOnEntry(t *testing.T) {
	t.Parallel()
	clk := newClock(t0)
	svc := ledger.NewService(openStore(t), ledger.Options{Now: clk.Now, Notify: fastNotify, Logger: quietLog()})
	runService(t, svc)
	for i := range 3 {
		record(t, svc, nev("fan", ledger.KindSuggestionAdopted, 1, t0.Add(-time.Duration(3-i)*time.Hour)))
	}
	clk.Advance(5 * 365 * day) // +30 fades to dust: off the list
	record(t, svc, nev("fan", ledger.KindSuggestionAdopted, 1, clk.Now()))
	got := tail(t, svc, ledger.DefaultTenant, 0, 6)
	var advocates []int64
	for _, n := range got {
		if n.Type == ledger.NotifyAdvocate {
			advocates = append(advocates, n.CustomerSeq)
		}
	}
	if !slices.Equal(advocates, []int64{2, 6}) {
		t.Errorf("advocate announced at %v of %s; want on the first event and on re-entry", advocates, kindsOf(got))
	}
}

// A new overdraft limit, or a new policy version, can move a customer
// across its limit: that is announced too, and so is the policy's
// activation once every balance is recomputed.
func TestProfileAndPolicyChangesAreAnnounced(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		clk := newClock(t0)
		svc := ledger.NewService(st, ledger.Options{Now: clk.Now, Notify: fastNotify, Logger: quietLog(),
			RecomputePoll: 10 * time.Millisecond})
		runService(t, svc)
		record(t, svc, nev("lim", ledger.KindComplaint, 1, t0)) // -8: overdrawn at limit 0
		low := -20.0
		upsert(t, svc, "lim", ledger.Profile{Value: 1, OverdraftLimit: &low})
		got := tail(t, svc, ledger.DefaultTenant, 0, 3)
		if got[2].Type != ledger.NotifyRecovered || got[2].EventID != "" {
			t.Fatalf("after lowering the limit: %s", kindsOf(got))
		}
		installPolicy(t, svc, func(p *ledger.Policy) { p.Weights[ledger.KindComplaint] = -30 })
		more := tail(t, svc, ledger.DefaultTenant, got[2].Seq, 2)
		if more[0].Type != ledger.NotifyOverdrawn || more[0].PolicyVersion != 2 || more[1].Type != ledger.NotifyPolicyActivated ||
			more[1].CustomerID != "" || more[1].PolicyVersion != 2 {
			t.Errorf("after installing version 2: %s %+v", kindsOf(more), more)
		}
	})
}

// The stream skips nothing and repeats nothing, however writers commit:
// two Services (two replicas, two sequencers) over one store, many
// concurrent writers, and a consumer tailing by cursor the whole time.
func TestStreamIsGapFreeUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		a := ledger.NewService(st, ledger.Options{Notify: fastNotify, Logger: quietLog(), GroupCommit: ledger.GroupCommit{Writers: 2}})
		b := ledger.NewService(st, ledger.Options{Notify: fastNotify, Logger: quietLog()})
		runService(t, a)
		runService(t, b)
		const writers, each = 8, 25
		var wg sync.WaitGroup
		for w := range writers {
			svc := a
			if w%2 == 1 {
				svc = b
			}
			wg.Go(func() {
				for i := range each {
					c := fmt.Sprintf("g%d", (w*each+i)%10) // customers shared across writers
					if _, err := svc.RecordEvent(t.Context(), ledger.DefaultTenant, ledger.NewEvent{CustomerID: c,
						Kind: []ledger.Kind{ledger.KindOutage, ledger.KindSuggestionAdopted}[i%2], IdempotencyKey: fmt.Sprintf("w%d-%d", w, i)}); err != nil {
						t.Errorf("writer %d: %v", w, err)
						return
					}
				}
			})
		}
		// The consumer reads while the writers write.
		type seen struct {
			got  []ledger.Notification
			done chan struct{}
		}
		c := seen{done: make(chan struct{})}
		stop := make(chan struct{})
		go func() {
			defer close(c.done)
			var after int64
			for {
				page, err := a.Notifications(t.Context(), ledger.DefaultTenant, after, nil, 50)
				if err != nil {
					t.Error(err)
					return
				}
				for _, n := range page {
					c.got = append(c.got, n)
					after = n.Seq
				}
				if len(page) == 0 {
					select {
					case <-stop:
						return
					default:
					}
					_ = a.WaitNotifications(t.Context(), after)
				}
			}
		}()
		wg.Wait()
		// Wait until every notification is numbered, then let the
		// consumer drain and stop. The whole stream is read from the
		// database (a Service not running has no in-memory feed), while
		// the consumer was served by a's feed.
		db := ledger.NewService(st, ledger.Options{Notify: fastNotify, Logger: quietLog()})
		var total []ledger.Notification
		for deadline := time.Now().Add(10 * time.Second); ; {
			total = nil
			var after int64
			for {
				page, err := db.Notifications(t.Context(), ledger.DefaultTenant, after, nil, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				total = append(total, page...)
				after = page[len(page)-1].Seq
			}
			recorded := 0
			for _, n := range total {
				if n.Type == ledger.NotifyEventRecorded {
					recorded++
				}
			}
			if recorded == writers*each || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		close(stop)
		<-c.done
		if len(c.got) != len(total) {
			t.Fatalf("the tailing consumer saw %d notifications, the stream holds %d", len(c.got), len(total))
		}
		ids := map[string]bool{}
		last := map[string]int64{}
		for i, n := range c.got {
			if ids[n.ID] {
				t.Errorf("%s seen twice", n.ID)
			}
			ids[n.ID] = true
			if i > 0 && n.Seq <= c.got[i-1].Seq {
				t.Errorf("numbers out of order: %d after %d", n.Seq, c.got[i-1].Seq)
			}
			if n.CustomerSeq != last[n.CustomerID]+1 {
				t.Errorf("%s: its #%d after #%d", n.CustomerID, n.CustomerSeq, last[n.CustomerID])
			}
			last[n.CustomerID] = n.CustomerSeq
		}
		for _, n := range total {
			if !ids[n.ID] {
				t.Errorf("the consumer never saw %s (#%d)", n.ID, n.Seq)
			}
		}
	})
}

// pruningService runs a Service on SQLite whose clock the test moves, with
// a retention of 7 days checked all the time.
func pruningService(t *testing.T) (*clock, *ledger.Service) {
	t.Helper()
	clk := newClock(t0)
	opts := fastNotify
	opts.Retention, opts.PruneEvery = 7*day, time.Millisecond
	svc := ledger.NewService(openStore(t), ledger.Options{Now: clk.Now, Notify: opts, Logger: quietLog()})
	runService(t, svc)
	return clk, svc
}

// Numbered notifications older than the retention are pruned; newer ones,
// and ones not numbered yet, stay.
func TestOldNotificationsArePruned(t *testing.T) {
	t.Parallel()
	clk, svc := pruningService(t)
	record(t, svc, nev("old", ledger.KindReliableDelivery, 1, t0))
	first := tail(t, svc, ledger.DefaultTenant, 0, 2)
	clk.Advance(8 * day)
	record(t, svc, nev("new", ledger.KindReliableDelivery, 1, clk.Now()))
	for deadline := time.Now().Add(10 * time.Second); ; {
		got, err := svc.Notifications(t.Context(), ledger.DefaultTenant, 0, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 2 && got[0].CustomerID == "new" && got[0].Seq > first[1].Seq {
			// A consumer resuming from a cursor the retention has passed
			// is told, not handed a stream with a hole in it.
			_, err := svc.Notifications(t.Context(), ledger.DefaultTenant, first[0].Seq, nil, 100)
			if !errors.Is(err, ledger.ErrFailedPrecondition) {
				t.Errorf("resuming from a pruned cursor: %v, want a failed precondition", err)
			}
			if _, err := svc.Notifications(t.Context(), ledger.DefaultTenant, first[1].Seq, nil, 100); err != nil {
				t.Errorf("resuming from the last pruned number lost nothing, yet: %v", err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the retention: %s, want only new's two", kindsOf(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A consumer of a quiet tenant (or a rare type) is told how far its answer
// is complete, past the last notification it was given, and waits from
// there: other tenants' numbers neither wake it again and again nor leave
// its cursor behind the retention.
func TestQuietConsumerWaitsFromWhereItsAnswerIsComplete(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		opts := fastNotify
		opts.WatchPoll = time.Minute // a wait ends when something is numbered, not by the poll
		svc := ledger.NewService(st, ledger.Options{Notify: opts, Logger: quietLog()})
		runService(t, svc)
		for i := range 3 {
			record(t, svc, nev(fmt.Sprint("busy", i), ledger.KindOutage, 1, time.Now()))
		}
		busy := tail(t, svc, ledger.DefaultTenant, 0, 6) // each: event.recorded, customer.overdrawn
		latest := busy[len(busy)-1].Seq
		for _, read := range []struct {
			tenant string
			types  []ledger.NotificationType
		}{{"quiet", nil}, {ledger.DefaultTenant, []ledger.NotificationType{ledger.NotifyPolicyActivated}}} {
			// (Asked once, the feed starts, which wakes waiters once.)
			_, _, _ = svc.NotificationsPage(t.Context(), read.tenant, 0, read.types, 100)
			time.Sleep(50 * time.Millisecond)
			ns, complete, err := svc.NotificationsPage(t.Context(), read.tenant, 0, read.types, 100)
			if err != nil || len(ns) != 0 {
				t.Fatalf("%s %v: %d notifications, %v", read.tenant, read.types, len(ns), err)
			}
			if complete < latest {
				t.Errorf("%s %v: complete up to %d, want at least the latest number %d", read.tenant, read.types, complete, latest)
			}
			// Nothing new: waiting from there waits.
			ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
			start := time.Now()
			err = svc.WaitNotifications(ctx, complete)
			cancel()
			if err == nil && time.Since(start) < 100*time.Millisecond {
				t.Errorf("%s %v: WaitNotifications(%d) returned at once with nothing new", read.tenant, read.types, complete)
			}
		}
	})
}

// Retention is kept per tenant: a caught-up consumer of a tenant that lost
// nothing is not refused because another tenant's notifications were pruned.
func TestPrunedMarkIsPerTenant(t *testing.T) {
	t.Parallel()
	clk, svc := pruningService(t)
	if _, err := svc.RecordEvent(t.Context(), "quiet", nev("q", ledger.KindReliableDelivery, 1, t0)); err != nil {
		t.Fatal(err)
	}
	quiet := tail(t, svc, "quiet", 0, 2) // event.recorded, customer.advocate
	clk.Advance(day)
	record(t, svc, nev("busy", ledger.KindReliableDelivery, 1, clk.Now()))
	busy := tail(t, svc, ledger.DefaultTenant, 0, 2)
	clk.Advance(9 * day)
	record(t, svc, nev("busy", ledger.KindReliableDelivery, 1, clk.Now())) // wakes the scheduler's prune
	for deadline := time.Now().Add(10 * time.Second); ; {
		got, err := svc.Notifications(t.Context(), ledger.DefaultTenant, 0, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 && got[0].Seq > busy[1].Seq {
			break // the old ones are pruned
		}
		if time.Now().After(deadline) {
			t.Fatalf("not pruned: %s", kindsOf(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// quiet's own notification is gone, but its consumer had it: nothing
	// after its cursor was lost, and it is not refused.
	if _, err := svc.Notifications(t.Context(), "quiet", quiet[1].Seq, nil, 100); err != nil {
		t.Errorf("a caught-up cursor of a tenant that lost nothing: %v", err)
	}
	// The default tenant's consumer that stopped before its notification
	// was pruned is told (once the in-memory feed, which still held it a
	// moment after the prune committed, has let it go).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := svc.Notifications(t.Context(), ledger.DefaultTenant, busy[0].Seq, nil, 100)
		if errors.Is(err, ledger.ErrFailedPrecondition) {
			break
		}
		if time.Now().After(deadline) {
			all, _ := svc.Notifications(t.Context(), ledger.DefaultTenant, 0, nil, 100)
			t.Fatalf("a cursor before a pruned notification (%d, busy %s, now %s): %v, want a failed precondition", busy[0].Seq, kindsOf(busy), kindsOf(all), err)
		}
	}
}
