package ledger_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// clock is a settable time source for a Service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// t0 is a fixed "now" for tests that pin the clock.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// incidentTimesOf returns, per customer, when its outage and its credit of
// the incident occurred.
func incidentTimesOf(t *testing.T, svc *ledger.Service, customer string) (outage, credit time.Time) {
	t.Helper()
	events, _, err := svc.ListEvents(t.Context(), ledger.DefaultTenant, ledger.ListQuery{CustomerID: customer})
	if err != nil {
		t.Fatalf("%s: %v", customer, err)
	}
	for _, e := range events {
		switch e.Kind {
		case ledger.KindOutage:
			outage = e.OccurredAt
		case ledger.KindCredit:
			credit = e.OccurredAt
		}
	}
	return outage, credit
}

// An incident recorded without started_at began when its first call
// recorded it, for every customer: a later call naming only new customers,
// or the same ones in another order, gives them the same outage and credit
// times (a review found each call dating its customers at its own "now").
func TestIncidentTimesAreSharedByEveryCall(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		clk := newClock(t0)
		svc := ledger.NewService(st, ledger.Options{Now: clk.Now, GroupCommit: ledger.GroupCommit{Disabled: true}})
		ctx := t.Context()
		credit := 5.0
		in := ledger.Incident{ID: "inc-1", CustomerIDs: []string{"a", "b"}, DurationHours: 2, Credit: &credit}
		if r, err := svc.RecordIncident(ctx, ledger.DefaultTenant, in); err != nil || r.Created != 4 {
			t.Fatalf("first call: %+v, %v", r, err)
		}
		clk.Advance(10 * time.Minute)
		only := in
		only.CustomerIDs = []string{"c"}
		if r, err := svc.RecordIncident(ctx, ledger.DefaultTenant, only); err != nil || r.Created != 2 || len(r.Conflicts) != 0 {
			t.Fatalf("call with a new customer only: %+v, %v", r, err)
		}
		clk.Advance(10 * time.Minute)
		reordered := in
		reordered.CustomerIDs = []string{"d", "b", "a"}
		if r, err := svc.RecordIncident(ctx, ledger.DefaultTenant, reordered); err != nil || r.Created != 2 || r.Replayed != 4 || len(r.Conflicts) != 0 {
			t.Fatalf("call with the customers in another order: %+v, %v", r, err)
		}
		// After the outage has ended: the credit stays where the first call
		// gave it (the outage had not ended then, so it was given "now").
		clk.Advance(3 * time.Hour)
		late := in
		late.CustomerIDs = []string{"e"}
		if r, err := svc.RecordIncident(ctx, ledger.DefaultTenant, late); err != nil || r.Created != 2 {
			t.Fatalf("call after the outage ended: %+v, %v", r, err)
		}
		for _, id := range []string{"a", "b", "c", "d", "e"} {
			outage, cr := incidentTimesOf(t, svc, id)
			if !outage.Equal(t0) || !cr.Equal(t0) {
				t.Errorf("%s: outage at %v, credit at %v; want both at the first call's time %v", id, outage, cr, t0)
			}
		}

		// notice_at is checked against that start, not against this call's
		// "now": nothing is written for a customer of a refused call.
		warned := in
		warned.CustomerIDs = []string{"f"}
		warned.NoticeAt = t0.Add(time.Minute)
		_, err := svc.RecordIncident(ctx, ledger.DefaultTenant, warned)
		if !errors.Is(err, ledger.ErrInvalidArgument) || ledger.FieldOf(err) != "notice_at" {
			t.Errorf("notice after the incident's recorded start: %v, want INVALID_ARGUMENT on notice_at", err)
		}
		if _, err := svc.GetCustomer(ctx, ledger.DefaultTenant, "f"); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("customer f of a refused call: %v, want not found", err)
		}
		warned.NoticeAt = t0.Add(-time.Hour)
		if r, err := svc.RecordIncident(ctx, ledger.DefaultTenant, warned); err != nil || r.Created != 3 {
			t.Errorf("notice before the recorded start: %+v, %v", r, err)
		}
	})
}

// A start or notice a little in the future (client clock skew) is stored
// at the moment of recording: the ledger holds no events from the future.
func TestIncidentInTheNearFutureIsRecordedNow(t *testing.T) {
	t.Parallel()
	svc := ledger.NewService(openStore(t), ledger.Options{Now: newClock(t0).Now, GroupCommit: ledger.GroupCommit{Disabled: true}})
	in := ledger.Incident{ID: "soon", CustomerIDs: []string{"a"}, DurationHours: 1,
		StartedAt: t0.Add(2 * time.Minute), NoticeAt: t0.Add(time.Minute)}
	if _, err := svc.RecordIncident(t.Context(), ledger.DefaultTenant, in); err != nil {
		t.Fatal(err)
	}
	events, _, err := svc.ListEvents(t.Context(), ledger.DefaultTenant, ledger.ListQuery{CustomerID: "a"})
	if err != nil || len(events) != 2 {
		t.Fatalf("events: %v, %v", events, err)
	}
	for _, e := range events {
		if !e.OccurredAt.Equal(t0) {
			t.Errorf("%s at %v, want %v", e.Kind, e.OccurredAt, t0)
		}
	}
	// The same call again is a replay: the fingerprint holds the times as
	// sent.
	if r, err := svc.RecordIncident(t.Context(), ledger.DefaultTenant, in); err != nil || r.Replayed != 2 {
		t.Errorf("repeat: %+v, %v; want 2 replayed", r, err)
	}
}

// A second review's cases: calls with other payloads, a start a little in
// the future, calls made after the outage ended; every customer still gets
// the first call's times, and no credit comes before its outage.
func TestIncidentTimesAcrossPayloadsAndClocks(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		clk := newClock(t0)
		svc := ledger.NewService(st, ledger.Options{Now: clk.Now, GroupCommit: ledger.GroupCommit{Disabled: true}})
		ctx := t.Context()
		five := 5.0
		record := func(in ledger.Incident) {
			t.Helper()
			if r, err := svc.RecordIncident(ctx, ledger.DefaultTenant, in); err != nil || len(r.Conflicts) != 0 {
				t.Fatalf("%v: %+v, %v", in.CustomerIDs, r, err)
			}
		}
		// No notice for j1; then the same incident with a notice, twice.
		record(ledger.Incident{ID: "j", CustomerIDs: []string{"j1"}, DurationHours: 2, Credit: &five})
		clk.Advance(1500 * time.Millisecond)
		warned := ledger.Incident{ID: "j", CustomerIDs: []string{"j2"}, DurationHours: 2, Credit: &five,
			NoticeAt: t0.Add(-time.Hour)}
		record(warned)
		clk.Advance(1500 * time.Millisecond)
		warned.CustomerIDs = []string{"j3"}
		record(warned)
		for _, id := range []string{"j1", "j2", "j3"} {
			if outage, credit := incidentTimesOf(t, svc, id); !outage.Equal(t0) || !credit.Equal(t0) {
				t.Errorf("%s: outage %v, credit %v; want both at %v", id, outage, credit, t0)
			}
		}

		// A start two minutes ahead of the clock, called twice, two
		// seconds apart: one outage time, and the credit not before it.
		clk.Advance(time.Hour)
		now := clk.Now()
		soon := ledger.Incident{ID: "k", CustomerIDs: []string{"k1"}, DurationHours: 1, Credit: &five,
			StartedAt: now.Add(2 * time.Minute)}
		record(soon)
		clk.Advance(2 * time.Second)
		soon.CustomerIDs = []string{"k2"}
		record(soon)
		for _, id := range []string{"k1", "k2"} {
			outage, credit := incidentTimesOf(t, svc, id)
			if !outage.Equal(now) || !credit.Equal(now) {
				t.Errorf("%s: outage %v, credit %v; want both at %v", id, outage, credit, now)
			}
		}
	})
}

// notice_at refused against a start another key recorded: the message
// names no time of that key's events.
func TestIncidentNoticeErrorNamesNoRecordedTime(t *testing.T) {
	t.Parallel()
	clk := newClock(t0)
	svc := ledger.NewService(openStore(t), ledger.Options{Now: clk.Now, GroupCommit: ledger.GroupCommit{Disabled: true}})
	if _, err := svc.RecordIncident(t.Context(), ledger.DefaultTenant, ledger.Incident{ID: "m", CustomerIDs: []string{"a"},
		DurationHours: 1}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	_, err := svc.RecordIncident(t.Context(), ledger.DefaultTenant, ledger.Incident{ID: "m", CustomerIDs: []string{"b"},
		DurationHours: 1, NoticeAt: clk.Now()})
	if !errors.Is(err, ledger.ErrInvalidArgument) || strings.Contains(err.Error(), "2026") || strings.Contains(err.Error(), ":00") {
		t.Errorf("notice after the recorded start: %v; want INVALID_ARGUMENT naming no time", err)
	}
}
