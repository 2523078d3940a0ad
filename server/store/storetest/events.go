package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// fullEvent sets every stored field.
func fullEvent(tenant, customer, id string) ledger.Event {
	return ledger.Event{
		TenantID:       tenant,
		CustomerID:     customer,
		ID:             id,
		Kind:           ledger.KindOutage,
		Magnitude:      math.Nextafter(2.75, 3),
		OccurredAt:     at(0),
		RecordedAt:     at(0).Add(3*time.Hour + 1500*time.Microsecond),
		IdempotencyKey: "key-" + id,
		Fingerprint:    "fp-" + id,
		Source:         "pagerduty",
		Note:           "line 1\nline \"2\" — ünïcode; DROP TABLE events; --",
		Attributes:     map[string]string{"region": "eu-west-1", "empty": "", "ключ": "значение"},
		IncidentID:     "inc-42",
	}
}

// plainEvent sets only what every event has.
func plainEvent(tenant, customer, id string, kind ledger.Kind, occurred time.Time) ledger.Event {
	return ledger.Event{
		TenantID:    tenant,
		CustomerID:  customer,
		ID:          id,
		Kind:        kind,
		Magnitude:   1,
		OccurredAt:  occurred,
		RecordedAt:  occurred.Add(time.Second),
		Fingerprint: "fp-" + id,
	}
}

func reversalOf(e ledger.Event, id string, occurred time.Time) ledger.Event {
	r := plainEvent(e.TenantID, e.CustomerID, id, ledger.KindReversal, occurred)
	r.Magnitude = e.Magnitude
	r.ReversesEventID = e.ID
	return r
}

func testEventRoundTrip(t *testing.T, s ledger.Store) {
	minimal := plainEvent(tenantA, "c1", "ev-minimal", ledger.KindCredit, at(5))
	minimal.Magnitude = 0
	minimal.Fingerprint = ""
	preEpoch := plainEvent(tenantA, "c1", "ev-1969", ledger.KindEngagement, time.Date(1969, 7, 20, 20, 17, 40, 123456000, time.UTC))
	preEpoch.RecordedAt = preEpoch.OccurredAt
	preEpoch.Attributes = map[string]string{}
	tests := []struct {
		name string
		e    ledger.Event
	}{
		{name: "every field set", e: fullEvent(tenantA, "c1", "ev-full")},
		{name: "only required fields", e: minimal},
		{name: "before 1970 with empty attributes", e: preEpoch},
		{name: "incident without key, one attribute", e: func() ledger.Event {
			e := fullEvent(tenantA, "c2", "ev-incident")
			e.IdempotencyKey = ""
			e.Kind = ledger.KindProactiveNotice
			e.Attributes = map[string]string{"team": "sre"}
			return e
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mustRecord(t, s, tc.e)
			e := tc.e
			mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
				got, err := r.Event(ctx, e.TenantID, e.CustomerID, e.ID)
				if err != nil {
					return fmt.Errorf("Event: %w", err)
				}
				equalEvent(t, "Event", got, e)
				if e.IdempotencyKey != "" {
					got, err := r.EventByKey(ctx, e.TenantID, e.CustomerID, e.IdempotencyKey)
					if err != nil {
						return fmt.Errorf("EventByKey: %w", err)
					}
					equalEvent(t, "EventByKey", got, e)
				}
				list, err := r.Events(ctx, e.TenantID, e.CustomerID, ledger.EventQuery{Limit: 100})
				if err != nil {
					return fmt.Errorf("Events: %w", err)
				}
				if found := findEvent(t, "Events", list, e.ID); found != nil {
					equalEvent(t, "Events", *found, e)
				}
				hist, err := r.History(ctx, e.TenantID, e.CustomerID)
				if err != nil {
					return fmt.Errorf("History: %w", err)
				}
				if found := findEvent(t, "History", hist, e.ID); found != nil {
					equalEvent(t, "History", *found, e)
				}
				return nil
			})
		})
	}
}

// testEventKinds stores one event of every kind and reads the kind back.
func testEventKinds(t *testing.T, s ledger.Store) {
	var want []ledger.Event
	for _, k := range ledger.AllKinds() {
		e := plainEvent(tenantA, "c1", fmt.Sprintf("ev-%02d", int(k)), k, at(int(k)))
		want = append(want, e)
	}
	mustRecord(t, s, want...)
	for _, e := range want {
		got, err := getEvent(t, s, tenantA, "c1", e.ID)
		if err != nil {
			t.Fatalf("Event(%s): %v", e.ID, err)
		}
		if got.Kind != e.Kind {
			t.Errorf("Event(%s).Kind = %v, want %v", e.ID, got.Kind, e.Kind)
		}
	}
}

func testEventNotFound(t *testing.T, s ledger.Store) {
	keyed := fullEvent(tenantA, "c1", "ev-keyed")
	unkeyed := plainEvent(tenantA, "c1", "ev-unkeyed", ledger.KindCredit, at(1))
	other := plainEvent(tenantA, "c2", "ev-other", ledger.KindCredit, at(1))
	mustRecord(t, s, keyed, unkeyed, other)

	t.Run("Event", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, tenant, customer, id string
		}{
			{name: "unknown id", tenant: tenantA, customer: "c1", id: "ev-absent"},
			{name: "id of another customer", tenant: tenantA, customer: "c1", id: other.ID},
			{name: "id under another tenant", tenant: tenantB, customer: "c1", id: keyed.ID},
			{name: "unknown customer", tenant: tenantA, customer: "c9", id: keyed.ID},
			{name: "empty id", tenant: tenantA, customer: "c1", id: ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				got, err := getEvent(t, s, tc.tenant, tc.customer, tc.id)
				if !errors.Is(err, ledger.ErrNotFound) {
					t.Fatalf("Event(%q, %q, %q) = %+v, %v; want ErrNotFound", tc.tenant, tc.customer, tc.id, got, err)
				}
			})
		}
	})
	t.Run("EventByKey", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, tenant, customer, key string
		}{
			{name: "unknown key", tenant: tenantA, customer: "c1", key: "key-absent"},
			// c1 holds events without a key: "" must not match them.
			{name: "empty key", tenant: tenantA, customer: "c1", key: ""},
			{name: "key under another customer", tenant: tenantA, customer: "c2", key: keyed.IdempotencyKey},
			{name: "key under another tenant", tenant: tenantB, customer: "c1", key: keyed.IdempotencyKey},
			{name: "event id is not a key", tenant: tenantA, customer: "c1", key: keyed.ID},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var got ledger.Event
				var err error
				mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
					got, err = r.EventByKey(ctx, tc.tenant, tc.customer, tc.key)
					return nil
				})
				if !errors.Is(err, ledger.ErrNotFound) {
					t.Fatalf("EventByKey(%q, %q, %q) = %+v, %v; want ErrNotFound", tc.tenant, tc.customer, tc.key, got, err)
				}
			})
		}
	})
}

// testEventIDAppendedTwice: events are never updated, so appending an id
// that is already stored must fail and leave the first event as it was.
func testEventIDAppendedTwice(t *testing.T, s ledger.Store) {
	first := plainEvent(tenantA, "c1", "ev-1", ledger.KindCredit, at(0))
	mustRecord(t, s, first)
	again := plainEvent(tenantA, "c1", "ev-1", ledger.KindComplaint, at(1))
	again.Note = "overwritten"
	err := s.Update(t.Context(), func(tx ledger.Tx) error {
		return tx.AppendEvent(t.Context(), again)
	})
	if err == nil {
		t.Fatal("appending an existing event id succeeded, want an error")
	}
	got, err := getEvent(t, s, tenantA, "c1", "ev-1")
	if err != nil {
		t.Fatalf("Event: %v", err)
	}
	equalEvent(t, "first event after a second append of its id", got, first)
}

// testEventIDScope: event ids are scoped to (tenant, customer), like every
// Reader method that takes one: the same id under another customer or tenant
// is another event, and reversing one marks only that one.
func testEventIDScope(t *testing.T, s ledger.Store) {
	const id = "ev-shared"
	a1 := plainEvent(tenantA, "c1", id, ledger.KindCredit, at(0))
	a2 := plainEvent(tenantA, "c2", id, ledger.KindOutage, at(1))
	b1 := plainEvent(tenantB, "c1", id, ledger.KindComplaint, at(2))
	ra2 := reversalOf(a2, "ev-rev", at(3))
	rb1 := reversalOf(b1, "ev-rev", at(4))
	mustRecord(t, s, a1, a2, b1)
	mustRecord(t, s, ra2, rb1)

	wantA2, wantB1 := a2, b1
	wantA2.ReversedByEventID, wantB1.ReversedByEventID = ra2.ID, rb1.ID
	for _, want := range []ledger.Event{a1, wantA2, wantB1, ra2, rb1} {
		got, err := getEvent(t, s, want.TenantID, want.CustomerID, want.ID)
		if err != nil {
			t.Fatalf("Event(%s, %s, %s): %v", want.TenantID, want.CustomerID, want.ID, err)
		}
		equalEvent(t, "Event "+want.TenantID+"/"+want.CustomerID+"/"+want.ID, got, want)
	}
	equalEventLists(t, "Events tenant-a/c1", listEvents(t, s, tenantA, "c1", ledger.EventQuery{Limit: 10}), []ledger.Event{a1})
	equalEventSets(t, "History tenant-a/c1", history(t, s, tenantA, "c1"), []ledger.Event{a1})
	equalEventSets(t, "History tenant-a/c2", history(t, s, tenantA, "c2"), []ledger.Event{wantA2, ra2})
	equalEventSets(t, "History tenant-b/c1", history(t, s, tenantB, "c1"), []ledger.Event{wantB1, rb1})
}

// testReadOwnWrites: the Service appends an event and then reads the
// customer's history, and checks keys of earlier items of a batch, in the
// same transaction.
func testReadOwnWrites(t *testing.T, s ledger.Store) {
	c := fullCustomer(tenantA, "c1")
	e1 := fullEvent(tenantA, "c1", "ev-1")
	e2 := reversalOf(e1, "ev-2", at(1))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutCustomer(ctx, c); err != nil {
			return err
		}
		got, err := tx.Customer(ctx, tenantA, "c1")
		if err != nil {
			return fmt.Errorf("Customer after PutCustomer: %w", err)
		}
		equalCustomer(t, "Customer in the writing Update", got, c)

		if err := tx.AppendEvent(ctx, e1); err != nil {
			return err
		}
		ev, err := tx.Event(ctx, tenantA, "c1", e1.ID)
		if err != nil {
			return fmt.Errorf("Event after AppendEvent: %w", err)
		}
		equalEvent(t, "Event in the writing Update", ev, e1)
		ev, err = tx.EventByKey(ctx, tenantA, "c1", e1.IdempotencyKey)
		if err != nil {
			return fmt.Errorf("EventByKey after AppendEvent: %w", err)
		}
		equalEvent(t, "EventByKey in the writing Update", ev, e1)

		if err := tx.AppendEvent(ctx, e2); err != nil {
			return err
		}
		hist, err := tx.History(ctx, tenantA, "c1")
		if err != nil {
			return fmt.Errorf("History after AppendEvent: %w", err)
		}
		wantE1 := e1
		wantE1.ReversedByEventID = e2.ID
		equalEventSets(t, "History in the writing Update", hist, []ledger.Event{wantE1, e2})
		list, err := tx.Events(ctx, tenantA, "c1", ledger.EventQuery{Limit: 10})
		if err != nil {
			return fmt.Errorf("Events after AppendEvent: %w", err)
		}
		equalEventLists(t, "Events in the writing Update", list, []ledger.Event{e2, wantE1})
		return nil
	})
}

func testDuplicateIdempotencyKey(t *testing.T, s ledger.Store) {
	first := fullEvent(tenantA, "c1", "ev-first")
	mustRecord(t, s, first)

	unkeyed := plainEvent(tenantA, "c1", "ev-unkeyed", ledger.KindCredit, at(2))
	dup := plainEvent(tenantA, "c1", "ev-dup", ledger.KindComplaint, at(3))
	dup.IdempotencyKey = first.IdempotencyKey
	var appendErr error
	err := s.Update(t.Context(), func(tx ledger.Tx) error {
		ctx := t.Context()
		// Written before the duplicate: the rollback must take it too.
		if err := record(ctx, tx, unkeyed); err != nil {
			return err
		}
		appendErr = tx.AppendEvent(ctx, dup)
		return appendErr
	})
	if !errors.Is(appendErr, ledger.ErrDuplicate) {
		t.Fatalf("AppendEvent with a used key: error = %v, want ErrDuplicate", appendErr)
	}
	if !errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("Update returning the duplicate error: error = %v, want ErrDuplicate", err)
	}

	got, err := getEventByKey(t, s, tenantA, "c1", first.IdempotencyKey)
	if err != nil {
		t.Fatalf("EventByKey: %v", err)
	}
	equalEvent(t, "event holding the key", got, first)
	for _, id := range []string{dup.ID, unkeyed.ID} {
		if _, err := getEvent(t, s, tenantA, "c1", id); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Event(%s) after the rolled back Update: error = %v, want ErrNotFound", id, err)
		}
	}
	equalEventSets(t, "History", history(t, s, tenantA, "c1"), []ledger.Event{first})

	// A duplicate within one transaction is caught too.
	a := plainEvent(tenantA, "c2", "ev-a", ledger.KindCredit, at(0))
	a.IdempotencyKey = "same-tx"
	b := plainEvent(tenantA, "c2", "ev-b", ledger.KindCredit, at(1))
	b.IdempotencyKey = "same-tx"
	appendErr = nil
	err = s.Update(t.Context(), func(tx ledger.Tx) error {
		if err := record(t.Context(), tx, a); err != nil {
			return err
		}
		appendErr = tx.AppendEvent(t.Context(), b)
		return appendErr
	})
	if !errors.Is(appendErr, ledger.ErrDuplicate) || !errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("duplicate key in one Update: AppendEvent error = %v, Update error = %v; want ErrDuplicate", appendErr, err)
	}
	if h := history(t, s, tenantA, "c2"); len(h) != 0 {
		t.Fatalf("History after the rolled back Update = %v, want none", eventIDs(h))
	}
}

func testIdempotencyKeyScope(t *testing.T, s ledger.Store) {
	const key = "shared-key"
	keyed := func(tenant, customer, id string) ledger.Event {
		e := plainEvent(tenant, customer, id, ledger.KindCredit, at(0))
		e.IdempotencyKey = key
		return e
	}
	events := []ledger.Event{
		keyed(tenantA, "c1", "ev-a1"),
		keyed(tenantA, "c2", "ev-a2"),
		keyed(tenantB, "c1", "ev-b1"),
	}
	for _, e := range events {
		mustRecord(t, s, e)
	}
	for _, e := range events {
		got, err := getEventByKey(t, s, e.TenantID, e.CustomerID, key)
		if err != nil {
			t.Fatalf("EventByKey(%s, %s): %v", e.TenantID, e.CustomerID, err)
		}
		equalEvent(t, "EventByKey "+e.TenantID+"/"+e.CustomerID, got, e)
	}

	// Many events without a key, in one Update and in several.
	var unkeyed []ledger.Event
	for i := range 5 {
		unkeyed = append(unkeyed, plainEvent(tenantA, "c1", fmt.Sprintf("ev-nokey-%d", i), ledger.KindCredit, at(i+1)))
	}
	mustRecord(t, s, unkeyed[:3]...)
	mustRecord(t, s, unkeyed[3])
	mustRecord(t, s, unkeyed[4])
	equalEventSets(t, "History of c1", history(t, s, tenantA, "c1"), append([]ledger.Event{events[0]}, unkeyed...))
}

func testDuplicateReversal(t *testing.T, s ledger.Store) {
	orig := plainEvent(tenantA, "c1", "ev-orig", ledger.KindCredit, at(0))
	first := reversalOf(orig, "ev-rev-1", at(1))
	mustRecord(t, s, orig, first)

	second := reversalOf(orig, "ev-rev-2", at(2))
	second.IdempotencyKey = "another-key" // the key is new; the reversal is not
	var appendErr error
	err := s.Update(t.Context(), func(tx ledger.Tx) error {
		appendErr = tx.AppendEvent(t.Context(), second)
		return appendErr
	})
	if !errors.Is(appendErr, ledger.ErrDuplicate) || !errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("second reversal of one event: AppendEvent error = %v, Update error = %v; want ErrDuplicate", appendErr, err)
	}
	wantOrig := orig
	wantOrig.ReversedByEventID = first.ID
	equalEventSets(t, "History", history(t, s, tenantA, "c1"), []ledger.Event{wantOrig, first})

	// Reversals of different events of one customer are fine, and so are
	// reversals by another customer.
	other := plainEvent(tenantA, "c1", "ev-other", ledger.KindOutage, at(3))
	mustRecord(t, s, other, reversalOf(other, "ev-rev-other", at(4)))
	c2 := plainEvent(tenantA, "c2", "ev-c2", ledger.KindCredit, at(0))
	mustRecord(t, s, c2, reversalOf(c2, "ev-rev-c2", at(1)))
}

func testReversedBy(t *testing.T, s ledger.Store) {
	e1 := plainEvent(tenantA, "c1", "ev-1", ledger.KindCredit, at(0))
	e1.IdempotencyKey = "key-1"
	e2 := plainEvent(tenantA, "c1", "ev-2", ledger.KindOutage, at(1))
	e2.IdempotencyKey = "key-2"
	r1 := reversalOf(e1, "ev-r1", at(2))
	mustRecord(t, s, e1, e2)
	mustRecord(t, s, r1)

	want := map[string]string{e1.ID: r1.ID, e2.ID: "", r1.ID: ""}
	check := func(what string, events []ledger.Event) {
		t.Helper()
		if len(events) != len(want) {
			t.Errorf("%s returned %v, want %d events", what, eventIDs(events), len(want))
		}
		for _, e := range events {
			if w, ok := want[e.ID]; !ok {
				t.Errorf("%s returned unexpected event %s", what, e.ID)
			} else if e.ReversedByEventID != w {
				t.Errorf("%s: %s.ReversedByEventID = %q, want %q", what, e.ID, e.ReversedByEventID, w)
			}
		}
	}
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var events []ledger.Event
		for _, id := range []string{e1.ID, e2.ID, r1.ID} {
			e, err := r.Event(ctx, tenantA, "c1", id)
			if err != nil {
				return fmt.Errorf("Event(%s): %w", id, err)
			}
			events = append(events, e)
		}
		check("Event", events)
		// EventByKey answers replays with the stored event, so it fills the
		// field like Event does.
		events = events[:0]
		for _, key := range []string{e1.IdempotencyKey, e2.IdempotencyKey} {
			e, err := r.EventByKey(ctx, tenantA, "c1", key)
			if err != nil {
				return fmt.Errorf("EventByKey(%s): %w", key, err)
			}
			events = append(events, e)
		}
		events = append(events, r1) // not reversed; read above
		check("EventByKey", events)
		list, err := r.Events(ctx, tenantA, "c1", ledger.EventQuery{Limit: 10})
		if err != nil {
			return err
		}
		check("Events", list)
		// Every page fills it, not only a page that also holds the reversal.
		page, err := r.Events(ctx, tenantA, "c1", ledger.EventQuery{Limit: 1, After: &ledger.Cursor{OccurredAt: e2.OccurredAt, EventID: e2.ID}})
		if err != nil {
			return err
		}
		if len(page) != 1 || page[0].ID != e1.ID || page[0].ReversedByEventID != r1.ID {
			t.Errorf("Events page holding only %s = %+v, want it with ReversedByEventID %q", e1.ID, page, r1.ID)
		}
		hist, err := r.History(ctx, tenantA, "c1")
		if err != nil {
			return err
		}
		check("History", hist)
		return nil
	})
}

func testIncidentEvent(t *testing.T, s ledger.Store) {
	incidentEvent := func(tenant, incident string, kind ledger.Kind, fp string) (e ledger.Event, err error) {
		mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
			e, err = r.IncidentEvent(ctx, tenant, incident, kind, fp)
			return nil
		})
		return e, err
	}
	if _, err := incidentEvent(tenantA, "inc-1", ledger.KindOutage, ""); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("IncidentEvent of a fresh store: %v, want ErrNotFound", err)
	}
	outage := plainEvent(tenantA, "c1", "e1", ledger.KindOutage, at(1))
	outage.IncidentID, outage.Fingerprint = "inc-1", "fp-a"
	credit := plainEvent(tenantA, "c2", "e2", ledger.KindCredit, at(4))
	credit.IncidentID, credit.Fingerprint = "inc-1", "fp-a"
	other := plainEvent(tenantA, "c3", "e5", ledger.KindCredit, at(6)) // the same incident, another payload
	other.IncidentID, other.Fingerprint = "inc-1", "fp-b"
	plain := plainEvent(tenantA, "c3", "e3", ledger.KindOutage, at(2)) // no incident
	elsewhere := plainEvent(tenantB, "c1", "e4", ledger.KindOutage, at(3))
	elsewhere.IncidentID = "inc-1"
	mustRecord(t, s, outage, credit, other, plain, elsewhere)

	for _, tc := range []struct {
		tenant, incident string
		kind             ledger.Kind
		fp               string
		want             []*ledger.Event // any of these
	}{
		{tenantA, "inc-1", ledger.KindOutage, "", []*ledger.Event{&outage}},
		{tenantA, "inc-1", ledger.KindOutage, "fp-a", []*ledger.Event{&outage}},
		{tenantA, "inc-1", ledger.KindOutage, "fp-b", nil},
		{tenantA, "inc-1", ledger.KindCredit, "", []*ledger.Event{&credit, &other}},
		{tenantA, "inc-1", ledger.KindCredit, "fp-b", []*ledger.Event{&other}},
		{tenantA, "inc-1", ledger.KindProactiveNotice, "", nil},
		{tenantA, "inc-2", ledger.KindOutage, "", nil},
		{tenantA, "", ledger.KindOutage, "", nil}, // events outside incidents are never found
		{tenantB, "inc-1", ledger.KindOutage, "", []*ledger.Event{&elsewhere}},
		{tenantB, "inc-1", ledger.KindCredit, "", nil},
	} {
		got, err := incidentEvent(tc.tenant, tc.incident, tc.kind, tc.fp)
		what := fmt.Sprintf("IncidentEvent(%s, %q, %s, %q)", tc.tenant, tc.incident, tc.kind, tc.fp)
		if tc.want == nil {
			if !errors.Is(err, ledger.ErrNotFound) {
				t.Errorf("%s = %v, %v; want ErrNotFound", what, got.ID, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		matched := false
		for _, w := range tc.want {
			matched = matched || got.ID == w.ID
		}
		if !matched {
			t.Errorf("%s = %s, want one of %v", what, got.ID, tc.want)
		}
	}
}
