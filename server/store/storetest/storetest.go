// Package storetest is the conformance suite every ledger.Store backend
// passes. A backend's tests call Run with a function that opens a fresh,
// empty, migrated store; any behaviour the suite pins and a backend does not
// match is a bug in the backend (or, after discussion, in the suite).
//
// It must never depend on a particular backend: it talks to ledger.Store
// only. It is an ordinary package, not a _test file, so backends can import
// it.
package storetest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// Run runs the conformance suite. open must return a fresh, empty, migrated
// store each time it is called and arrange for it to be closed (t.Cleanup).
// Subtests run in parallel, so open is called from several goroutines.
//
// How the suite compares values: times are compared as instants (a backend
// may return them in any location) and are always given truncated to the
// microsecond; an empty attribute map may come back as nil or empty.
//
// Events are always appended in a transaction that also writes the
// customer's row, after the event, as the Service does; a backend may
// therefore keep a foreign key from events to customers if it is checked at
// commit.
func Run(t *testing.T, open func(t *testing.T) ledger.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s ledger.Store)
	}{
		{name: "CustomerNotFound", run: testCustomerNotFound},
		{name: "CustomerRoundTrip", run: testCustomerRoundTrip},
		{name: "PutCustomerReplaces", run: testPutCustomerReplaces},
		{name: "EventRoundTrip", run: testEventRoundTrip},
		{name: "EventKinds", run: testEventKinds},
		{name: "EventNotFound", run: testEventNotFound},
		{name: "EventIDAppendedTwice", run: testEventIDAppendedTwice},
		{name: "EventIDScope", run: testEventIDScope},
		{name: "ReadOwnWrites", run: testReadOwnWrites},
		{name: "DuplicateIdempotencyKey", run: testDuplicateIdempotencyKey},
		{name: "IdempotencyKeyScope", run: testIdempotencyKeyScope},
		{name: "DuplicateReversal", run: testDuplicateReversal},
		{name: "ReversedBy", run: testReversedBy},
		{name: "EventsOrderAndFilters", run: testEventsOrderAndFilters},
		{name: "EventsPaging", run: testEventsPaging},
		{name: "EventsPagingStable", run: testEventsPagingStable},
		{name: "History", run: testHistory},
		{name: "TenantIsolation", run: testTenantIsolation},
		{name: "UpdateRollback", run: testUpdateRollback},
		{name: "UpdateCanceledContext", run: testUpdateCanceledContext},
		{name: "UpdatePanicRollsBack", run: testUpdatePanicRollsBack},
		{name: "ViewDuringUpdate", run: testViewDuringUpdate},
		{name: "ViewSnapshot", run: testViewSnapshot},
		{name: "ConcurrentCounter", run: testConcurrentCounter},
		{name: "ConcurrentAppends", run: testConcurrentAppends},
		{name: "ConcurrentDuplicateKey", run: testConcurrentDuplicateKey},
		{name: "Customers", run: testCustomers},
		{name: "CustomersPaging", run: testCustomersPaging},
		{name: "CountCustomers", run: testCountCustomers},
		{name: "RankedOrderAndFilters", run: testRankedOrderAndFilters},
		{name: "RankedWalk", run: testRankedWalk},
		{name: "RankedKeyChanges", run: testRankedKeyChanges},
		{name: "RankingKeysRoundTrip", run: testRankingKeysRoundTrip},
		{name: "PolicyVersions", run: testPolicyVersions},
		{name: "PolicyDuplicateVersion", run: testPolicyDuplicateVersion},
		{name: "PolicyTenantIsolation", run: testPolicyTenantIsolation},
		{name: "JobRoundTrip", run: testJobRoundTrip},
		{name: "PutJobReplaces", run: testPutJobReplaces},
		{name: "JobNotFound", run: testJobNotFound},
		{name: "JobsInState", run: testJobsInState},
		{name: "LatestJob", run: testLatestJob},
		{name: "IncidentEvent", run: testIncidentEvent},
		{name: "ViewStale", run: testViewStale},
		{name: "Lookup", run: testLookup},
		{name: "BulkCustomers", run: testBulkCustomers},
		{name: "BulkEvents", run: testBulkEvents},
		{name: "Tenants", run: testTenants},
		{name: "CountEvents", run: testCountEvents},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

const (
	tenantA = "tenant-a"
	tenantB = "tenant-b"
)

// base has microsecond precision, like every time the suite stores.
var base = time.Date(2026, time.March, 14, 15, 9, 26, 535897000, time.UTC)

// at returns base plus n minutes.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }

func ptr[T any](v T) *T { return &v }

// waitLimit bounds how long the concurrency tests wait for something that
// should take milliseconds, so a deadlocked backend fails instead of hanging.
const waitLimit = 30 * time.Second

// ---------------------------------------------------------------------------
// Customers

func testCustomerNotFound(t *testing.T, s ledger.Store) {
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		return tx.PutCustomer(ctx, newCustomer(tenantA, "present"))
	})
	tests := []struct {
		name, tenant, id string
	}{
		{name: "empty store id", tenant: tenantA, id: "absent"},
		{name: "present id in another tenant", tenant: tenantB, id: "present"},
		{name: "id differs in case", tenant: tenantA, id: "PRESENT"},
		{name: "prefix of present id", tenant: tenantA, id: "pres"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := getCustomer(t, s, tc.tenant, tc.id)
			if !errors.Is(err, ledger.ErrNotFound) {
				t.Fatalf("Customer(%q, %q) error = %v, want ErrNotFound", tc.tenant, tc.id, err)
			}
		})
	}
	t.Run("inside Update", func(t *testing.T) {
		t.Parallel()
		var got error
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			_, got = tx.Customer(ctx, tenantA, "absent")
			return nil
		})
		if !errors.Is(got, ledger.ErrNotFound) {
			t.Fatalf("Customer in Update error = %v, want ErrNotFound", got)
		}
	})
}

// testLookup pins the one-statement read behind GetBalance: the whole
// customer row, and the active policy version of its own tenant only.
func testLookup(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	if c, v, err := s.Lookup(ctx, tenantA, "absent"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("Lookup(absent) = %+v, %d, %v; want ErrNotFound", c, v, err)
	}
	full := fullCustomer(tenantA, "full")
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutCustomer(ctx, full) })
	c, v, err := s.Lookup(ctx, tenantA, "full")
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	equalCustomer(t, "Lookup", c, full)
	if v != 0 {
		t.Errorf("active version with no policy installed = %d, want 0", v)
	}
	if _, _, err := s.Lookup(ctx, tenantB, "full"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Lookup in another tenant: err = %v, want ErrNotFound", err)
	}

	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, policyV1) })
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, policyV2) })
	// Another tenant's newer policy must not leak into tenant A's answer.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantB, policyV3) })
	if _, v, err := s.Lookup(ctx, tenantA, "full"); err != nil || v != policyV2.Version {
		t.Errorf("Lookup after installing v%d = version %d, %v", policyV2.Version, v, err)
	}
}

// newCustomer returns a customer as the Service creates one for an unknown id.
func newCustomer(tenant, id string) ledger.Customer {
	return ledger.Customer{
		TenantID:      tenant,
		ID:            id,
		Profile:       ledger.Profile{Value: 1},
		CreatedAt:     base,
		UpdatedAt:     base,
		PolicyVersion: 1,
	}
}

// fullCustomer sets every field to a value that differs from its zero value
// and from the defaults.
func fullCustomer(tenant, id string) ledger.Customer {
	return ledger.Customer{
		TenantID: tenant,
		ID:       id,
		Profile: ledger.Profile{
			DisplayName: "Zoë O'Brien \"ACME\" 株式会社",
			Segment:     "enterprise",
			// Needs all 17 significant digits to round trip.
			Value:          math.Nextafter(0.1, 1),
			OverdraftLimit: ptr(-12.5),
			Attributes:     map[string]string{"region": "eu-west-1", "empty": "", "ключ": "значение", "q\"uote": "a=b;c"},
		},
		CreatedAt:     at(-60 * 24 * 400),
		UpdatedAt:     at(3).Add(7 * time.Microsecond),
		PolicyVersion: 1<<40 + 7,
		Keys: ledger.Keys{
			Rank:     -(1e6 + math.Nextafter(3.25, 4)),
			Recovery: ptr(-(1e6 + 17.125)),
			Advocacy: ptr(math.Nextafter(-1e6, 0)),
		},
		State: ledger.State{
			Value: -1.2345678901234567e300,
			Count: 1<<40 + 3,
			Last: ledger.Position{
				At:          at(2).Add(time.Microsecond),
				Kind:        ledger.KindSuggestionAdopted,
				Fingerprint: "fp-0123456789abcdef",
				ID:          "0190f1a2-7c3b-7d4e-8f90-123456789abc",
			},
			LastNoticeAt:      at(-10),
			LastGrievanceAt:   at(-5).Add(999999 * time.Microsecond),
			LastGrievanceKind: ledger.KindComplaint,
			LastRemedyAt:      at(1),
			Trend:             math.Nextafter(-7.5, 0),
		},
	}
}

func testCustomerRoundTrip(t *testing.T, s ledger.Store) {
	tests := []struct {
		name string
		c    ledger.Customer
	}{
		{name: "every field set", c: fullCustomer(tenantA, "full")},
		{name: "defaults: nil limit, nil attributes, zero state", c: newCustomer(tenantA, "defaults")},
		{
			name: "zero overdraft limit is not nil",
			c: func() ledger.Customer {
				c := newCustomer(tenantA, "zero-limit")
				c.Profile.OverdraftLimit = ptr(0.0)
				return c
			}(),
		},
		{
			name: "positive overdraft limit and empty attributes",
			c: func() ledger.Customer {
				c := newCustomer(tenantA, "positive-limit")
				c.Profile.OverdraftLimit = ptr(250.75)
				c.Profile.Attributes = map[string]string{}
				return c
			}(),
		},
		{
			name: "one attribute",
			c: func() ledger.Customer {
				c := newCustomer(tenantA, "one-attribute")
				c.Profile.Attributes = map[string]string{"tier": "gold"}
				return c
			}(),
		},
		{
			name: "partial state: some times zero",
			c: func() ledger.Customer {
				c := fullCustomer(tenantA, "partial")
				c.State.LastNoticeAt = time.Time{}
				c.State.LastRemedyAt = time.Time{}
				c.Profile.OverdraftLimit = nil
				return c
			}(),
		},
		{
			name: "state without a last position",
			c: func() ledger.Customer {
				c := fullCustomer(tenantA, "no-last")
				c.State.Last = ledger.Position{}
				c.State.LastGrievanceAt = time.Time{}
				return c
			}(),
		},
		{
			name: "unusual ids",
			c:    fullCustomer("tenant with spaces/ü", "cust 1/ü'\"%_"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
				return tx.PutCustomer(ctx, tc.c)
			})
			got, err := getCustomer(t, s, tc.c.TenantID, tc.c.ID)
			if err != nil {
				t.Fatalf("Customer: %v", err)
			}
			equalCustomer(t, "Customer", got, tc.c)
			checkZeroTimes(t, got, tc.c)
		})
	}
}

// checkZeroTimes pins that zero times come back zero, not as the Unix epoch
// or some other sentinel (equalCustomer compares instants, which already
// implies it; this names the failure).
func checkZeroTimes(t *testing.T, got, want ledger.Customer) {
	t.Helper()
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{name: "State.Last.At", got: got.State.Last.At, want: want.State.Last.At},
		{name: "State.LastNoticeAt", got: got.State.LastNoticeAt, want: want.State.LastNoticeAt},
		{name: "State.LastGrievanceAt", got: got.State.LastGrievanceAt, want: want.State.LastGrievanceAt},
		{name: "State.LastRemedyAt", got: got.State.LastRemedyAt, want: want.State.LastRemedyAt},
	} {
		if f.got.IsZero() != f.want.IsZero() {
			t.Errorf("%s = %v, want %v (IsZero %v)", f.name, f.got, f.want, f.want.IsZero())
		}
	}
}

func testPutCustomerReplaces(t *testing.T, s ledger.Store) {
	first := fullCustomer(tenantA, "c1")
	// The replacement clears what the first row set: a store that merges
	// (keeps old non-null columns) fails here.
	second := newCustomer(tenantA, "c1")
	second.Profile.DisplayName = "renamed"
	second.UpdatedAt = at(90)
	second.PolicyVersion = 2
	second.State.Count = 1
	bystander := fullCustomer(tenantA, "c2")

	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutCustomer(ctx, first); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, bystander)
	})
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		return tx.PutCustomer(ctx, second)
	})
	got, err := getCustomer(t, s, tenantA, "c1")
	if err != nil {
		t.Fatalf("Customer: %v", err)
	}
	equalCustomer(t, "replaced customer", got, second)
	checkZeroTimes(t, got, second)
	if got.Profile.OverdraftLimit != nil {
		t.Errorf("OverdraftLimit = %v, want nil after replace", *got.Profile.OverdraftLimit)
	}

	// Twice in the same transaction: the last write wins.
	third := second
	third.State.Count = 2
	third.Profile.Segment = "smb"
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutCustomer(ctx, first); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, third)
	})
	got, err = getCustomer(t, s, tenantA, "c1")
	if err != nil {
		t.Fatalf("Customer: %v", err)
	}
	equalCustomer(t, "customer put twice in one Update", got, third)

	got, err = getCustomer(t, s, tenantA, "c2")
	if err != nil {
		t.Fatalf("Customer c2: %v", err)
	}
	equalCustomer(t, "bystander customer", got, bystander)
}

// ---------------------------------------------------------------------------
// Events

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

// ---------------------------------------------------------------------------
// Listing

// orderFixture stores events whose ids do not follow their times or their
// insertion order, with ties in OccurredAt, plus look-alike events of other
// customers and tenants. It returns c1's events newest first.
func orderFixture(t *testing.T, s ledger.Store) []ledger.Event {
	t.Helper()
	specs := []struct {
		id   string
		min  int
		kind ledger.Kind
	}{
		{"ev-k", 0, ledger.KindCredit},
		{"ev-c", 1, ledger.KindOutage},
		{"ev-m", 1, ledger.KindComplaint},
		{"ev-a", 1, ledger.KindCredit},
		{"ev-f", 2, ledger.KindResponse},
		{"ev-b", 3, ledger.KindOutage},
		{"ev-z", 3, ledger.KindProactiveNotice},
		{"ev-d", 4, ledger.KindEngagement},
		{"ev-q", 5, ledger.KindOutage},
		{"ev-e", 5, ledger.KindCredit},
		{"ev-h", 6, ledger.KindReliableDelivery},
		{"ev-p", 7, ledger.KindSuggestionAdopted},
	}
	var mine []ledger.Event
	for _, sp := range specs {
		mine = append(mine, plainEvent(tenantA, "c1", sp.id, sp.kind, at(sp.min)))
	}
	// Insert in an order unrelated to time and id, some per Update and
	// some together.
	for _, batch := range [][]int{{6, 0}, {11}, {3, 9, 1}, {4}, {8, 2, 10}, {5, 7}} {
		var events []ledger.Event
		for _, i := range batch {
			events = append(events, mine[i])
		}
		mustRecord(t, s, events...)
	}
	// Noise: the same times and kinds for another customer and another
	// tenant's c1, with ids that would interleave.
	for _, sp := range specs {
		mustRecord(t, s,
			plainEvent(tenantA, "c2", sp.id+"-c2", sp.kind, at(sp.min)),
			plainEvent(tenantB, "c1", sp.id+"-b", sp.kind, at(sp.min)),
		)
	}
	want := slices.Clone(mine)
	slices.SortFunc(want, newestFirst)
	if got := strings.Join(eventIDs(want), " "); got != "ev-p ev-h ev-q ev-e ev-d ev-z ev-b ev-f ev-m ev-c ev-a ev-k" {
		t.Fatalf("fixture order = %s", got) // the suite's own model is wrong
	}
	return want
}

// newestFirst is the order Events promises: OccurredAt, then ID, both
// descending.
func newestFirst(a, b ledger.Event) int {
	if c := b.OccurredAt.Compare(a.OccurredAt); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// expect is the suite's model of Events: it filters and pages events that
// are already newest first.
func expect(events []ledger.Event, q ledger.EventQuery) []ledger.Event {
	var out []ledger.Event
	for _, e := range events {
		if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, e.Kind) {
			continue
		}
		if !q.Start.IsZero() && e.OccurredAt.Before(q.Start) {
			continue
		}
		if !q.End.IsZero() && !e.OccurredAt.Before(q.End) {
			continue
		}
		if c := q.After; c != nil {
			if !(e.OccurredAt.Before(c.OccurredAt) || e.OccurredAt.Equal(c.OccurredAt) && e.ID < c.EventID) {
				continue
			}
		}
		out = append(out, e)
	}
	return out[:min(len(out), q.Limit)]
}

func testEventsOrderAndFilters(t *testing.T, s ledger.Store) {
	all := orderFixture(t, s)
	cur := func(min int, id string) *ledger.Cursor { return &ledger.Cursor{OccurredAt: at(min), EventID: id} }
	tests := []struct {
		name string
		q    ledger.EventQuery
		// want pins the expected ids so that the suite's model cannot drift.
		want string
	}{
		{name: "all, newest first, ties by id", q: ledger.EventQuery{Limit: 100},
			want: "ev-p ev-h ev-q ev-e ev-d ev-z ev-b ev-f ev-m ev-c ev-a ev-k"},
		{name: "limit", q: ledger.EventQuery{Limit: 5}, want: "ev-p ev-h ev-q ev-e ev-d"},
		{name: "limit equal to count", q: ledger.EventQuery{Limit: 12},
			want: "ev-p ev-h ev-q ev-e ev-d ev-z ev-b ev-f ev-m ev-c ev-a ev-k"},
		{name: "one kind", q: ledger.EventQuery{Kinds: []ledger.Kind{ledger.KindOutage}, Limit: 100},
			want: "ev-q ev-b ev-c"},
		{name: "two kinds", q: ledger.EventQuery{Kinds: []ledger.Kind{ledger.KindComplaint, ledger.KindOutage}, Limit: 100},
			want: "ev-q ev-b ev-m ev-c"},
		{name: "kind with no events", q: ledger.EventQuery{Kinds: []ledger.Kind{ledger.KindReversal}, Limit: 100}},
		{name: "kinds and limit", q: ledger.EventQuery{Kinds: []ledger.Kind{ledger.KindCredit, ledger.KindOutage}, Limit: 3},
			want: "ev-q ev-e ev-b"},
		{name: "start is inclusive", q: ledger.EventQuery{Start: at(3), Limit: 100},
			want: "ev-p ev-h ev-q ev-e ev-d ev-z ev-b"},
		{name: "end is exclusive", q: ledger.EventQuery{End: at(3), Limit: 100},
			want: "ev-f ev-m ev-c ev-a ev-k"},
		{name: "start and end", q: ledger.EventQuery{Start: at(1), End: at(5), Limit: 100},
			want: "ev-d ev-z ev-b ev-f ev-m ev-c ev-a"},
		{name: "start one microsecond after events", q: ledger.EventQuery{Start: at(5).Add(time.Microsecond), End: at(7), Limit: 100},
			want: "ev-h"},
		{name: "empty window", q: ledger.EventQuery{Start: at(3), End: at(3), Limit: 100}},
		{name: "after a cursor inside a tie", q: ledger.EventQuery{After: cur(1, "ev-m"), Limit: 100},
			want: "ev-c ev-a ev-k"},
		{name: "after the last of a tie", q: ledger.EventQuery{After: cur(3, "ev-b"), Limit: 100},
			want: "ev-f ev-m ev-c ev-a ev-k"},
		{name: "after the first of a tie", q: ledger.EventQuery{After: cur(3, "ev-z"), Limit: 100},
			want: "ev-b ev-f ev-m ev-c ev-a ev-k"},
		{name: "after a position between events", q: ledger.EventQuery{After: cur(3, "ev-c"), Limit: 100},
			want: "ev-b ev-f ev-m ev-c ev-a ev-k"},
		{name: "after a position before a tie", q: ledger.EventQuery{After: cur(3, "ev-a"), Limit: 100},
			want: "ev-f ev-m ev-c ev-a ev-k"},
		{name: "after the newest event", q: ledger.EventQuery{After: cur(7, "ev-p"), Limit: 2},
			want: "ev-h ev-q"},
		{name: "after the oldest event", q: ledger.EventQuery{After: cur(0, "ev-k"), Limit: 100}},
		{name: "after, kinds, limit", q: ledger.EventQuery{After: cur(5, "ev-q"), Kinds: []ledger.Kind{ledger.KindCredit, ledger.KindOutage}, Limit: 2},
			want: "ev-e ev-b"},
		{name: "after, start, end", q: ledger.EventQuery{After: cur(5, "ev-e"), Start: at(1), End: at(9), Limit: 100},
			want: "ev-d ev-z ev-b ev-f ev-m ev-c ev-a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			model := expect(all, tc.q)
			if got := strings.Join(eventIDs(model), " "); got != tc.want {
				t.Fatalf("suite model gives %q, case wants %q", got, tc.want)
			}
			got := listEvents(t, s, tenantA, "c1", tc.q)
			equalEventLists(t, "Events", got, model)
		})
	}
	t.Run("unknown customer", func(t *testing.T) {
		t.Parallel()
		if got := listEvents(t, s, tenantA, "c9", ledger.EventQuery{Limit: 100}); len(got) != 0 {
			t.Fatalf("Events of an unknown customer = %v, want none", eventIDs(got))
		}
	})
}

// walk pages through Events with cursors made from each page's last event,
// calling between(pageNumber) after every page.
func walk(t *testing.T, s ledger.Store, tenant, customer string, q ledger.EventQuery, between func(page int, cursor ledger.Cursor)) []ledger.Event {
	t.Helper()
	var out []ledger.Event
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("paging did not end after 1000 pages; last cursor %+v", q.After)
		}
		got := listEvents(t, s, tenant, customer, q)
		if len(got) > q.Limit {
			t.Fatalf("page %d holds %d events, limit %d", page, len(got), q.Limit)
		}
		out = append(out, got...)
		if len(got) < q.Limit {
			return out
		}
		last := got[len(got)-1]
		q.After = &ledger.Cursor{OccurredAt: last.OccurredAt, EventID: last.ID}
		if between != nil {
			between(page, *q.After)
		}
	}
}

func testEventsPaging(t *testing.T, s ledger.Store) {
	all := orderFixture(t, s)
	tests := []struct {
		name  string
		q     ledger.EventQuery
		limit int
	}{
		{name: "limit 1", limit: 1},
		{name: "limit 2", limit: 2},
		{name: "limit 3", limit: 3},
		{name: "limit 5", limit: 5},
		{name: "limit 12", limit: 12},
		{name: "limit 13", limit: 13},
		{name: "kinds, limit 2", limit: 2, q: ledger.EventQuery{Kinds: []ledger.Kind{ledger.KindCredit, ledger.KindOutage}}},
		{name: "window, limit 2", limit: 2, q: ledger.EventQuery{Start: at(1), End: at(5)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := tc.q
			q.Limit = tc.limit
			got := walk(t, s, tenantA, "c1", q, nil)
			q.Limit = 100
			want := expect(all, q)
			if len(want) == 0 {
				t.Fatal("case selects no events")
			}
			equalEventLists(t, "walk", got, want)
		})
	}
}

// testEventsPagingStable inserts events between pages: newer than the
// cursor (they must not appear), older than it (they must appear in their
// place), and at the cursor's own time on both sides of its id.
func testEventsPagingStable(t *testing.T, s ledger.Store) {
	original := orderFixture(t, s)
	var newer, older []string
	between := func(page int, c ledger.Cursor) {
		n := fmt.Sprintf("%02d", page)
		before := []ledger.Event{
			plainEvent(tenantA, "c1", "new-"+n+"-newest", ledger.KindCredit, at(100+page)),
			// Same time as the cursor, larger id: sorts before the cursor.
			plainEvent(tenantA, "c1", c.EventID+"~"+n, ledger.KindCredit, c.OccurredAt),
		}
		after := []ledger.Event{
			plainEvent(tenantA, "c1", "new-"+n+"-oldest", ledger.KindCredit, at(-100-page)),
			// Same time as the cursor, smaller id: sorts after the cursor.
			plainEvent(tenantA, "c1", c.EventID[:len(c.EventID)-1]+"-"+n, ledger.KindCredit, c.OccurredAt),
		}
		mustRecord(t, s, append(slices.Clone(before), after...)...)
		for _, e := range before {
			newer = append(newer, e.ID)
		}
		for _, e := range after {
			older = append(older, e.ID)
		}
	}
	got := walk(t, s, tenantA, "c1", ledger.EventQuery{Limit: 3}, between)

	seen := map[string]bool{}
	for i, e := range got {
		if seen[e.ID] {
			t.Errorf("event %s returned twice", e.ID)
		}
		seen[e.ID] = true
		if i > 0 && newestFirst(got[i-1], e) >= 0 {
			t.Errorf("walk out of order: %s (%v) before %s (%v)", got[i-1].ID, got[i-1].OccurredAt, e.ID, e.OccurredAt)
		}
	}
	var orig []ledger.Event
	for _, e := range got {
		if slices.ContainsFunc(original, func(o ledger.Event) bool { return o.ID == e.ID }) {
			orig = append(orig, e)
		}
	}
	equalEventLists(t, "original events in the walk", orig, original)
	for _, id := range newer {
		if seen[id] {
			t.Errorf("event %s, inserted before the cursor, appeared in a later page", id)
		}
	}
	if len(older) == 0 {
		t.Fatal("no events were inserted between pages")
	}
	for _, id := range older {
		if !seen[id] {
			t.Errorf("event %s, inserted after the cursor before its page was read, is missing", id)
		}
	}
}

func testHistory(t *testing.T, s ledger.Store) {
	e1 := fullEvent(tenantA, "c1", "ev-1")
	e2 := plainEvent(tenantA, "c1", "ev-2", ledger.KindComplaint, at(-30))
	e3 := plainEvent(tenantA, "c1", "ev-3", ledger.KindCredit, at(0)) // ties with e1
	r2 := reversalOf(e2, "ev-r2", at(10))
	mustRecord(t, s, e3, e1)
	mustRecord(t, s, e2)
	mustRecord(t, s, r2)
	// Noise: another customer of the tenant, the same id in another tenant.
	mustRecord(t, s,
		plainEvent(tenantA, "c2", "ev-c2", ledger.KindCredit, at(0)),
		plainEvent(tenantA, "c10", "ev-c10", ledger.KindCredit, at(0)),
		plainEvent(tenantB, "c1", "ev-b1", ledger.KindCredit, at(0)),
	)
	wantE2 := e2
	wantE2.ReversedByEventID = r2.ID
	equalEventSets(t, "History c1", history(t, s, tenantA, "c1"), []ledger.Event{e1, wantE2, e3, r2})
	if h := history(t, s, tenantA, "c9"); len(h) != 0 {
		t.Errorf("History of an unknown customer = %v, want none", eventIDs(h))
	}
	if h := history(t, s, "tenant-c", "c1"); len(h) != 0 {
		t.Errorf("History in an unknown tenant = %v, want none", eventIDs(h))
	}
}

func testTenantIsolation(t *testing.T, s ledger.Store) {
	ca := fullCustomer(tenantA, "c1")
	cb := newCustomer(tenantB, "c1")
	cb.Profile.DisplayName = "tenant b's c1"
	cb.State.Count = 1
	ea := fullEvent(tenantA, "c1", "ev-a")
	eb := plainEvent(tenantB, "c1", "ev-b", ledger.KindComplaint, at(1))
	eb.IdempotencyKey = ea.IdempotencyKey
	rb := reversalOf(eb, "ev-rb", at(2))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.AppendEvent(ctx, ea); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, ca)
	})
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, e := range []ledger.Event{eb, rb} {
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return tx.PutCustomer(ctx, cb)
	})
	// Replacing tenant A's row leaves tenant B's alone.
	ca2 := ca
	ca2.State.Count++
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutCustomer(ctx, ca2) })

	wantEB := eb
	wantEB.ReversedByEventID = rb.ID
	for _, tc := range []struct {
		tenant string
		c      ledger.Customer
		events []ledger.Event // newest first
		key    ledger.Event
	}{
		{tenant: tenantA, c: ca2, events: []ledger.Event{ea}, key: ea},
		{tenant: tenantB, c: cb, events: []ledger.Event{rb, wantEB}, key: wantEB},
	} {
		got, err := getCustomer(t, s, tc.tenant, "c1")
		if err != nil {
			t.Fatalf("Customer(%s): %v", tc.tenant, err)
		}
		equalCustomer(t, "Customer "+tc.tenant, got, tc.c)
		equalEventLists(t, "Events "+tc.tenant, listEvents(t, s, tc.tenant, "c1", ledger.EventQuery{Limit: 10}), tc.events)
		equalEventSets(t, "History "+tc.tenant, history(t, s, tc.tenant, "c1"), tc.events)
		byKey, err := getEventByKey(t, s, tc.tenant, "c1", ea.IdempotencyKey)
		if err != nil {
			t.Fatalf("EventByKey(%s): %v", tc.tenant, err)
		}
		equalEvent(t, "EventByKey "+tc.tenant, byKey, tc.key)
	}
	if _, err := getEvent(t, s, tenantA, "c1", eb.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("tenant A reads tenant B's event: error = %v, want ErrNotFound", err)
	}
	if _, err := getCustomer(t, s, "tenant-c", "c1"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Customer in a third tenant: error = %v, want ErrNotFound", err)
	}
}

// ---------------------------------------------------------------------------
// Transactions

var errBoom = errors.New("boom")

func testUpdateRollback(t *testing.T, s ledger.Store) {
	v1 := fullCustomer(tenantA, "existing")
	kept := plainEvent(tenantA, "existing", "ev-kept", ledger.KindCredit, at(0))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.AppendEvent(ctx, kept); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, v1)
	})

	v2 := v1
	v2.Profile.DisplayName = "changed"
	v2.State.Count++
	lost := fullEvent(tenantA, "existing", "ev-lost")
	lostNew := fullEvent(tenantA, "new", "ev-lost-new")
	runs := 0
	err := s.Update(t.Context(), func(tx ledger.Tx) error {
		ctx := t.Context()
		runs++
		if err := tx.AppendEvent(ctx, lost); err != nil {
			return err
		}
		if err := tx.PutCustomer(ctx, v2); err != nil {
			return err
		}
		if err := record(ctx, tx, lostNew); err != nil {
			return err
		}
		return fmt.Errorf("closure failed: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update error = %v, want one wrapping the closure's error", err)
	}
	if runs != 1 {
		t.Errorf("closure ran %d times; an error from it must not be retried", runs)
	}

	got, err := getCustomer(t, s, tenantA, "existing")
	if err != nil {
		t.Fatalf("Customer: %v", err)
	}
	equalCustomer(t, "customer after rollback", got, v1)
	if _, err := getCustomer(t, s, tenantA, "new"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("customer created in the rolled back Update: error = %v, want ErrNotFound", err)
	}
	for _, e := range []ledger.Event{lost, lostNew} {
		if _, err := getEvent(t, s, tenantA, e.CustomerID, e.ID); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Event(%s) from the rolled back Update: error = %v, want ErrNotFound", e.ID, err)
		}
		if _, err := getEventByKey(t, s, tenantA, e.CustomerID, e.IdempotencyKey); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("EventByKey(%s) from the rolled back Update: error = %v, want ErrNotFound", e.IdempotencyKey, err)
		}
	}
	equalEventSets(t, "History after rollback", history(t, s, tenantA, "existing"), []ledger.Event{kept})

	// The store still takes writes, and the key of the lost event is free.
	mustRecord(t, s, lost)
	if _, err := getEventByKey(t, s, tenantA, "existing", lost.IdempotencyKey); err != nil {
		t.Fatalf("EventByKey after rewriting the lost event: %v", err)
	}
}

func testUpdateCanceledContext(t *testing.T, s ledger.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e := plainEvent(tenantA, "c1", "ev-1", ledger.KindCredit, at(0))
	err := s.Update(ctx, func(tx ledger.Tx) error { return record(ctx, tx, e) })
	if err == nil {
		t.Fatal("Update with a canceled context succeeded")
	}
	if _, err := getEvent(t, s, tenantA, "c1", e.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Event after an Update with a canceled context: error = %v, want ErrNotFound", err)
	}
	mustRecord(t, s, e) // the store is still usable
}

// testUpdatePanicRollsBack: a closure that panics (or calls t.FailNow, or
// runtime.Goexit) must not leave its transaction open: the panic reaches the
// caller, nothing is written and the store keeps serving writes while the
// caller's context is still alive (think of a gRPC recovery interceptor
// under a long-lived server context).
func testUpdatePanicRollsBack(t *testing.T, s ledger.Store) {
	e := plainEvent(tenantA, "c1", "ev-panic", ledger.KindCredit, at(0))
	recovered := func() (r any) {
		defer func() { r = recover() }()
		_ = s.Update(t.Context(), func(tx ledger.Tx) error {
			if err := record(t.Context(), tx, e); err != nil {
				return err
			}
			panic(errBoom)
		})
		return nil
	}()
	if recovered != errBoom {
		t.Fatalf("recovered %v, want the closure's panic value", recovered)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	next := plainEvent(tenantA, "c1", "ev-next", ledger.KindCredit, at(1))
	if err := s.Update(ctx, func(tx ledger.Tx) error { return record(ctx, tx, next) }); err != nil {
		t.Fatalf("Update after a panicking Update: %v (its transaction was left open?)", err)
	}
	if _, err := getEvent(t, s, tenantA, "c1", e.ID); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("event written before the panic: error = %v, want ErrNotFound", err)
	}
}

// testViewDuringUpdate: a View that runs while an Update has written but not
// committed sees the state before the Update, never part of it. A backend
// whose readers wait for the writer (CockroachDB waits on write intents) may
// instead see the committed state; either way the View sees all of the
// Update or none of it.
func testViewDuringUpdate(t *testing.T, s ledger.Store) {
	ctx := t.Context()
	v1 := fullCustomer(tenantA, "c1")
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutCustomer(ctx, v1) })
	v2 := v1
	v2.State.Count++
	e := fullEvent(tenantA, "c1", "ev-1")

	written := make(chan struct{})
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	var writtenOnce sync.Once
	updated := make(chan error, 1)
	go func() {
		updated <- s.Update(ctx, func(tx ledger.Tx) error {
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
			if err := tx.PutCustomer(ctx, v2); err != nil {
				return err
			}
			writtenOnce.Do(func() { close(written) })
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	select {
	case <-written:
	case err := <-updated:
		t.Fatalf("Update ended before it wrote: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("Update did not start")
	}

	type seen struct {
		customer ledger.Customer
		eventErr error
		keyErr   error
		history  []ledger.Event
	}
	viewed := make(chan seen, 1)
	viewErr := make(chan error, 1)
	go func() {
		var v seen
		viewErr <- s.View(ctx, func(r ledger.Reader) error {
			var err error
			if v.customer, err = r.Customer(ctx, tenantA, "c1"); err != nil {
				return err
			}
			_, v.eventErr = r.Event(ctx, tenantA, "c1", e.ID)
			_, v.keyErr = r.EventByKey(ctx, tenantA, "c1", e.IdempotencyKey)
			v.history, err = r.History(ctx, tenantA, "c1")
			return err
		})
		viewed <- v
	}()

	var v seen
	committedFirst := false
	select {
	case err := <-viewErr:
		if err != nil {
			t.Fatalf("View during Update: %v", err)
		}
		v = <-viewed
	case <-time.After(2 * time.Second):
		// The View waits for the writer; let it commit.
		committedFirst = true
		t.Log("View waited for the open Update; checking it sees the committed state")
		releaseOnce()
		select {
		case err := <-viewErr:
			if err != nil {
				t.Fatalf("View during Update: %v", err)
			}
			v = <-viewed
		case <-time.After(waitLimit):
			t.Fatal("View did not end after the Update was released")
		}
	}
	releaseOnce()
	select {
	case err := <-updated:
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Update did not commit after release")
	}

	sawUpdate := v.customer.State.Count == v2.State.Count
	switch {
	case sawUpdate && !committedFirst:
		t.Errorf("View that ended before the Update committed saw its write (Count %d)", v.customer.State.Count)
	case sawUpdate:
		if v.eventErr != nil || v.keyErr != nil || len(v.history) != 1 {
			t.Errorf("View saw the Update's customer but not its event: Event %v, EventByKey %v, History %v",
				v.eventErr, v.keyErr, eventIDs(v.history))
		}
	default:
		equalCustomer(t, "customer seen during the Update", v.customer, v1)
		if !errors.Is(v.eventErr, ledger.ErrNotFound) || !errors.Is(v.keyErr, ledger.ErrNotFound) || len(v.history) != 0 {
			t.Errorf("View saw the uncommitted event: Event %v, EventByKey %v, History %v",
				v.eventErr, v.keyErr, eventIDs(v.history))
		}
	}

	got, err := getCustomer(t, s, tenantA, "c1")
	if err != nil {
		t.Fatalf("Customer after commit: %v", err)
	}
	equalCustomer(t, "customer after commit", got, v2)
	if _, err := getEvent(t, s, tenantA, "c1", e.ID); err != nil {
		t.Fatalf("Event after commit: %v", err)
	}
}

// testViewSnapshot: all reads of one View see one state, even when an
// Update commits between them.
func testViewSnapshot(t *testing.T, s ledger.Store) {
	v1 := newCustomer(tenantA, "c1")
	v1.State.Count = 1
	e1 := plainEvent(tenantA, "c1", "ev-1", ledger.KindCredit, at(0))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.AppendEvent(ctx, e1); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, v1)
	})
	v2 := v1
	v2.State.Count = 2
	e2 := plainEvent(tenantA, "c1", "ev-2", ledger.KindCredit, at(1))
	e2.IdempotencyKey = "key-2"

	updated := make(chan error, 1)
	committed := false
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		c, err := r.Customer(ctx, tenantA, "c1")
		if err != nil {
			return err
		}
		if c.State.Count != 1 {
			return fmt.Errorf("first read: Count = %d, want 1", c.State.Count)
		}
		go func() {
			updated <- s.Update(ctx, func(tx ledger.Tx) error {
				if err := tx.AppendEvent(ctx, e2); err != nil {
					return err
				}
				return tx.PutCustomer(ctx, v2)
			})
		}()
		select {
		case err := <-updated:
			if err != nil {
				return fmt.Errorf("concurrent Update: %w", err)
			}
			committed = true
		case <-time.After(2 * time.Second):
			t.Log("Update waits for the open View; checking reads stay consistent anyway")
		}
		if c, err = r.Customer(ctx, tenantA, "c1"); err != nil {
			return err
		}
		if c.State.Count != 1 {
			t.Errorf("second read in one View: Count = %d, want 1 (the snapshot moved)", c.State.Count)
		}
		if _, err := r.Event(ctx, tenantA, "c1", e2.ID); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Event committed after the View's first read: error = %v, want ErrNotFound", err)
		}
		if _, err := r.EventByKey(ctx, tenantA, "c1", e2.IdempotencyKey); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("EventByKey committed after the View's first read: error = %v, want ErrNotFound", err)
		}
		list, err := r.Events(ctx, tenantA, "c1", ledger.EventQuery{Limit: 10})
		if err != nil {
			return err
		}
		equalEventLists(t, "Events in the View", list, []ledger.Event{e1})
		hist, err := r.History(ctx, tenantA, "c1")
		if err != nil {
			return err
		}
		equalEventSets(t, "History in the View", hist, []ledger.Event{e1})
		return nil
	})
	if !committed {
		select {
		case err := <-updated:
			if err != nil {
				t.Fatalf("concurrent Update: %v", err)
			}
		case <-time.After(waitLimit):
			t.Fatal("Update did not commit after the View ended")
		}
	}
	got, err := getCustomer(t, s, tenantA, "c1")
	if err != nil {
		t.Fatalf("Customer: %v", err)
	}
	equalCustomer(t, "customer after the View", got, v2)
}

// testConcurrentCounter: read-modify-write Updates from many goroutines are
// serializable; none is lost.
func testConcurrentCounter(t *testing.T, s ledger.Store) {
	const workers, perWorker = 16, 20
	ctx := t.Context()
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		return tx.PutCustomer(ctx, newCustomer(tenantA, "hot"))
	})
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range perWorker {
				err := s.Update(ctx, func(tx ledger.Tx) error {
					c, err := tx.Customer(ctx, tenantA, "hot")
					if err != nil {
						return err
					}
					c.State.Count++
					c.State.Value += 0.5
					c.UpdatedAt = at(w*perWorker + i)
					return tx.PutCustomer(ctx, c)
				})
				if err != nil {
					t.Errorf("worker %d, Update %d: %v", w, i, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	got, err := getCustomer(t, s, tenantA, "hot")
	if err != nil {
		t.Fatalf("Customer: %v", err)
	}
	if got.State.Count != workers*perWorker {
		t.Errorf("Count = %d, want %d: read-modify-write Updates were lost", got.State.Count, workers*perWorker)
	}
	if want := float64(workers*perWorker) / 2; got.State.Value != want {
		t.Errorf("Value = %v, want %v", got.State.Value, want)
	}
}

// testConcurrentAppends: many writers append to one customer (and update its
// row, as the Service does); every event lands.
func testConcurrentAppends(t *testing.T, s ledger.Store) {
	const workers, perWorker = 8, 10
	ctx := t.Context()
	var wg sync.WaitGroup
	start := make(chan struct{})
	want := map[string]bool{}
	for w := range workers {
		for i := range perWorker {
			want[fmt.Sprintf("ev-%d-%02d", w, i)] = true
		}
		wg.Go(func() {
			<-start
			for i := range perWorker {
				e := plainEvent(tenantA, "hot", fmt.Sprintf("ev-%d-%02d", w, i), ledger.KindCredit, at(i))
				e.IdempotencyKey = fmt.Sprintf("key-%d-%02d", w, i)
				err := s.Update(ctx, func(tx ledger.Tx) error {
					if err := tx.AppendEvent(ctx, e); err != nil {
						return err
					}
					c, err := tx.Customer(ctx, tenantA, "hot")
					if errors.Is(err, ledger.ErrNotFound) {
						c = newCustomer(tenantA, "hot")
					} else if err != nil {
						return err
					}
					c.State.Count++
					return tx.PutCustomer(ctx, c)
				})
				if err != nil {
					t.Errorf("worker %d, event %d: %v", w, i, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	hist := history(t, s, tenantA, "hot")
	got := map[string]bool{}
	for _, e := range hist {
		if got[e.ID] {
			t.Errorf("History holds %s twice", e.ID)
		}
		got[e.ID] = true
	}
	if !maps.Equal(got, want) {
		t.Errorf("History holds %d events, want %d", len(got), len(want))
	}
	c, err := getCustomer(t, s, tenantA, "hot")
	if err != nil {
		t.Fatalf("Customer: %v", err)
	}
	if c.State.Count != workers*perWorker {
		t.Errorf("Count = %d, want %d", c.State.Count, workers*perWorker)
	}
}

// testConcurrentDuplicateKey: racing "look up the key, append if absent"
// transactions leave exactly one event under the key. Losers either see the
// winner's event (nil) or hit the unique constraint (ErrDuplicate).
func testConcurrentDuplicateKey(t *testing.T, s ledger.Store) {
	const workers = 8
	const key = "race-key"
	ctx := t.Context()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, workers)
	attempted := map[string]bool{}
	for w := range workers {
		id := fmt.Sprintf("ev-racer-%d", w)
		attempted[id] = true
		wg.Go(func() {
			<-start
			e := plainEvent(tenantA, "c1", id, ledger.KindCredit, at(w))
			e.IdempotencyKey = key
			errs[w] = s.Update(ctx, func(tx ledger.Tx) error {
				_, err := tx.EventByKey(ctx, tenantA, "c1", key)
				switch {
				case err == nil:
					return nil // someone else won; replay
				case !errors.Is(err, ledger.ErrNotFound):
					return err
				}
				return record(ctx, tx, e)
			})
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for w, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ledger.ErrDuplicate):
		default:
			t.Errorf("worker %d: Update error = %v, want nil or ErrDuplicate", w, err)
		}
	}
	if ok == 0 {
		t.Error("no Update succeeded")
	}
	var holders []string
	for _, e := range history(t, s, tenantA, "c1") {
		if e.IdempotencyKey == key {
			holders = append(holders, e.ID)
		}
	}
	if len(holders) != 1 {
		t.Fatalf("events holding the key: %v, want exactly one", holders)
	}
	got, err := getEventByKey(t, s, tenantA, "c1", key)
	if err != nil {
		t.Fatalf("EventByKey: %v", err)
	}
	if got.ID != holders[0] || !attempted[got.ID] {
		t.Errorf("EventByKey = %s, want %s (one of the racers)", got.ID, holders[0])
	}
}

// ---------------------------------------------------------------------------
// Walking and counting customers

// walkFixture stores tenant A's customers with ids unrelated to their
// insertion order, plus tenant B look-alikes whose ids interleave. It
// returns tenant A's customers in id order.
func walkFixture(t *testing.T, s ledger.Store) []ledger.Customer {
	t.Helper()
	ids := []string{"cu-k", "cu-c", "cu-m", "cu-a", "cu-f", "cu-b", "cu-z", "cu-d"}
	var mine []ledger.Customer
	for i, id := range ids {
		c := newCustomer(tenantA, id)
		if i%2 == 0 {
			c = fullCustomer(tenantA, id)
		}
		// Tells rows apart, so a mix-up between customers shows.
		c.State.Count = int64(100 + i)
		c.Profile.DisplayName = "customer " + id
		mine = append(mine, c)
	}
	for _, batch := range [][]int{{6, 0}, {3}, {7, 1, 5}, {2, 4}} {
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			for _, i := range batch {
				if err := tx.PutCustomer(ctx, mine[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, id := range []string{"cu-a", "cu-bb", "cu-e", "cu-y"} {
			c := fullCustomer(tenantB, id)
			c.Profile.DisplayName = "tenant b's " + id
			if err := tx.PutCustomer(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	want := slices.Clone(mine)
	slices.SortFunc(want, byCustomerID)
	if got := strings.Join(customerIDs(want), " "); got != "cu-a cu-b cu-c cu-d cu-f cu-k cu-m cu-z" {
		t.Fatalf("fixture order = %s", got)
	}
	return want
}

// expectCustomers is the suite's model of Customers over customers already
// in id order.
func expectCustomers(all []ledger.Customer, after string, limit int) []ledger.Customer {
	var out []ledger.Customer
	for _, c := range all {
		if c.ID > after {
			out = append(out, c)
		}
	}
	return out[:min(len(out), limit)]
}

func testCustomers(t *testing.T, s ledger.Store) {
	all := walkFixture(t, s)
	tests := []struct {
		name  string
		after string
		limit int
		// want pins the expected ids so that the suite's model cannot drift.
		want string
	}{
		{name: "all, in id order", limit: 100, want: "cu-a cu-b cu-c cu-d cu-f cu-k cu-m cu-z"},
		{name: "limit", limit: 3, want: "cu-a cu-b cu-c"},
		{name: "limit equal to count", limit: 8, want: "cu-a cu-b cu-c cu-d cu-f cu-k cu-m cu-z"},
		{name: "limit 1", limit: 1, want: "cu-a"},
		{name: "after a stored id", after: "cu-c", limit: 100, want: "cu-d cu-f cu-k cu-m cu-z"},
		{name: "after a stored id, limit", after: "cu-c", limit: 2, want: "cu-d cu-f"},
		{name: "after an id between stored ids", after: "cu-e", limit: 100, want: "cu-f cu-k cu-m cu-z"},
		{name: "after a prefix of every id", after: "cu-", limit: 1, want: "cu-a"},
		{name: "after an id of another tenant", after: "cu-bb", limit: 2, want: "cu-c cu-d"},
		{name: "after the last id", after: "cu-z", limit: 100},
		{name: "after every id", after: "cu-zz", limit: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			model := expectCustomers(all, tc.after, tc.limit)
			if got := strings.Join(customerIDs(model), " "); got != tc.want {
				t.Fatalf("suite model gives %q, case wants %q", got, tc.want)
			}
			got := listCustomers(t, s, tenantA, tc.after, tc.limit)
			equalCustomerLists(t, fmt.Sprintf("Customers(after %q, limit %d)", tc.after, tc.limit), got, model)
		})
	}
	t.Run("other tenant", func(t *testing.T) {
		t.Parallel()
		got := listCustomers(t, s, tenantB, "", 100)
		if ids := strings.Join(customerIDs(got), " "); ids != "cu-a cu-bb cu-e cu-y" {
			t.Fatalf("Customers of tenant B = %s, want cu-a cu-bb cu-e cu-y", ids)
		}
		for _, c := range got {
			if c.TenantID != tenantB || c.Profile.DisplayName != "tenant b's "+c.ID {
				t.Errorf("Customers of tenant B returned %s/%s %q", c.TenantID, c.ID, c.Profile.DisplayName)
			}
		}
	})
	t.Run("unknown tenant", func(t *testing.T) {
		t.Parallel()
		if got := listCustomers(t, s, "tenant-c", "", 100); len(got) != 0 {
			t.Fatalf("Customers of an unknown tenant = %v, want none", customerIDs(got))
		}
	})
	t.Run("inside Update", func(t *testing.T) {
		t.Parallel()
		// A recompute job pages with Customers in the transaction that
		// writes; it must see the transaction's own rows.
		const tenant = "tenant-own-writes"
		c1, c2 := newCustomer(tenant, "cu-b"), newCustomer(tenant, "cu-a")
		c2.State.Count = 9
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			if err := tx.PutCustomer(ctx, c1); err != nil {
				return err
			}
			if err := tx.PutCustomer(ctx, c2); err != nil {
				return err
			}
			got, err := tx.Customers(ctx, tenant, "", 10)
			if err != nil {
				return fmt.Errorf("Customers: %w", err)
			}
			equalCustomerLists(t, "Customers in the writing Update", got, []ledger.Customer{c2, c1})
			return nil
		})
	})
}

// walkCustomers pages through Customers with the last id of each page as
// the next page's after, calling between(page, after) after every page.
func walkCustomers(t *testing.T, s ledger.Store, tenant string, limit int, between func(page int, after string)) []ledger.Customer {
	t.Helper()
	var out []ledger.Customer
	after := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("paging did not end after 1000 pages; last after %q", after)
		}
		got := listCustomers(t, s, tenant, after, limit)
		if len(got) > limit {
			t.Fatalf("page %d holds %d customers, limit %d", page, len(got), limit)
		}
		out = append(out, got...)
		if len(got) < limit {
			return out
		}
		after = got[len(got)-1].ID
		if between != nil {
			between(page, after)
		}
	}
}

// testCustomersPaging walks the table the way a recompute job does.
func testCustomersPaging(t *testing.T, s ledger.Store) {
	all := walkFixture(t, s)
	for _, limit := range []int{1, 2, 3, 7, 8, 9} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			t.Parallel()
			got := walkCustomers(t, s, tenantA, limit, nil)
			checkOnce(t, got)
			equalCustomerLists(t, "walk", got, all)
		})
	}
	// Customers added between pages behind the cursor must not appear; one
	// just after the cursor must.
	t.Run("customers added between pages", func(t *testing.T) {
		t.Parallel()
		const tenant = "tenant-walk"
		var want []ledger.Customer
		for _, id := range []string{"cu-b", "cu-d", "cu-f", "cu-h", "cu-j"} {
			want = append(want, newCustomer(tenant, id))
		}
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			for _, c := range want {
				if err := tx.PutCustomer(ctx, c); err != nil {
					return err
				}
			}
			return nil
		})
		var behind []string
		got := walkCustomers(t, s, tenant, 2, func(page int, after string) {
			// Digits sort before letters: "cu-0" is behind every cursor.
			b := newCustomer(tenant, fmt.Sprintf("cu-%d", page))
			a := newCustomer(tenant, after+"0")
			mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
				if err := tx.PutCustomer(ctx, b); err != nil {
					return err
				}
				return tx.PutCustomer(ctx, a)
			})
			behind = append(behind, b.ID)
			want = append(want, a)
		})
		if len(behind) == 0 {
			t.Fatal("no customers were added between pages")
		}
		checkOnce(t, got)
		slices.SortFunc(want, byCustomerID)
		equalCustomerLists(t, "walk with customers added between pages", got, want)
		for _, c := range got {
			if slices.Contains(behind, c.ID) {
				t.Errorf("customer %s, added behind the cursor, appeared in a later page", c.ID)
			}
		}
	})
}

func testCountCustomers(t *testing.T, s ledger.Store) {
	walkFixture(t, s)
	for _, tc := range []struct {
		tenant string
		want   int64
	}{{tenantA, 8}, {tenantB, 4}, {"tenant-c", 0}} {
		if got := countCustomers(t, s, tc.tenant); got != tc.want {
			t.Errorf("CountCustomers(%s) = %d, want %d", tc.tenant, got, tc.want)
		}
	}
	// Replacing a row counts it once; a new row and the transaction's own
	// writes count.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		c := newCustomer(tenantA, "cu-k")
		c.State.Count = 7
		if err := tx.PutCustomer(ctx, c); err != nil {
			return err
		}
		if err := tx.PutCustomer(ctx, newCustomer(tenantA, "cu-new")); err != nil {
			return err
		}
		n, err := tx.CountCustomers(ctx, tenantA)
		if err != nil {
			return fmt.Errorf("CountCustomers: %w", err)
		}
		if n != 9 {
			t.Errorf("CountCustomers in the writing Update = %d, want 9", n)
		}
		return nil
	})
	for _, tc := range []struct {
		tenant string
		want   int64
	}{{tenantA, 9}, {tenantB, 4}, {"tenant-c", 0}} {
		if got := countCustomers(t, s, tc.tenant); got != tc.want {
			t.Errorf("CountCustomers(%s) after the second Update = %d, want %d", tc.tenant, got, tc.want)
		}
	}
	// A rolled back Update leaves the count alone.
	err := s.Update(t.Context(), func(tx ledger.Tx) error {
		if err := tx.PutCustomer(t.Context(), newCustomer(tenantA, "cu-lost")); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update error = %v, want errBoom", err)
	}
	if got := countCustomers(t, s, tenantA); got != 9 {
		t.Errorf("CountCustomers after a rolled back Update = %d, want 9", got)
	}
}

// ---------------------------------------------------------------------------
// Rankings

// rankSpec is one customer of the ranking fixture.
type rankSpec struct {
	id       string
	rank     float64
	segment  string
	recovery *float64
	advocacy *float64
}

func rankedCustomer(tenant string, sp rankSpec, n int) ledger.Customer {
	c := newCustomer(tenant, sp.id)
	c.Profile.Segment = sp.segment
	c.Keys = ledger.Keys{Rank: sp.rank, Recovery: sp.recovery, Advocacy: sp.advocacy}
	c.State.Count = int64(n)
	c.State.Trend = float64(n) - 0.5
	return c
}

// rankFixture stores tenant A's customers with ties in every key, ids that
// follow neither the keys nor the insertion order, customers without a
// recovery or advocacy key, and keys of zero. Tenant B holds customers
// with the same ids and keys (and keys where tenant A's are nil), which
// would interleave with tenant A's. It returns tenant A's customers.
func rankFixture(t *testing.T, s ledger.Store) []ledger.Customer {
	t.Helper()
	specs := []rankSpec{
		{id: "cu-k", rank: 5, segment: "smb", advocacy: ptr(2.0)},
		{id: "cu-c", rank: -3, segment: "enterprise", recovery: ptr(1.5)},
		{id: "cu-m", rank: 5, segment: "enterprise", recovery: ptr(-2.0), advocacy: ptr(2.0)},
		{id: "cu-a", rank: 0, segment: "", recovery: ptr(1.5)},
		{id: "cu-f", rank: 12.25, segment: "smb", advocacy: ptr(-1.0)},
		{id: "cu-b", rank: -3, segment: "smb", recovery: ptr(1.5), advocacy: ptr(7.0)},
		{id: "cu-z", rank: 5, segment: "smb", recovery: ptr(0.0)},
		{id: "cu-d", rank: -100, segment: "enterprise", advocacy: ptr(2.0)},
		{id: "cu-q", rank: 7, segment: "enterprise", recovery: ptr(-2.0)},
		{id: "cu-e", rank: 0, segment: "smb", advocacy: ptr(0.0)},
		{id: "cu-h", rank: -0.5, segment: "enterprise", recovery: ptr(3.0), advocacy: ptr(0.25)},
	}
	var mine []ledger.Customer
	for i, sp := range specs {
		mine = append(mine, rankedCustomer(tenantA, sp, i+1))
	}
	for _, batch := range [][]int{{6, 0}, {10}, {3, 9, 1}, {4}, {8, 2}, {5, 7}} {
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			for _, i := range batch {
				if err := tx.PutCustomer(ctx, mine[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for i, sp := range specs {
			if sp.recovery == nil {
				sp.recovery = ptr(1.5)
			}
			if sp.advocacy == nil {
				sp.advocacy = ptr(2.0)
			}
			if err := tx.PutCustomer(ctx, rankedCustomer(tenantB, sp, 1000+i)); err != nil {
				return err
			}
		}
		return tx.PutCustomer(ctx, rankedCustomer(tenantB, rankSpec{id: "cu-g", rank: 5, segment: "smb",
			recovery: ptr(1.5), advocacy: ptr(2.0)}, 2000))
	})
	return mine
}

// rankKey is a customer's key in an index; ok is false when the customer
// is not in it.
func rankKey(idx ledger.RankIndex, c ledger.Customer) (key float64, ok bool) {
	switch idx {
	case ledger.ByBalance:
		return c.Keys.Rank, true
	case ledger.ByRecovery:
		if c.Keys.Recovery != nil {
			return *c.Keys.Recovery, true
		}
	case ledger.ByAdvocacy:
		if c.Keys.Advocacy != nil {
			return *c.Keys.Advocacy, true
		}
	default:
		panic(fmt.Sprintf("unknown index %d", idx))
	}
	return 0, false
}

// rankCompare orders (key, id) positions the way a walk of q meets them.
func rankCompare(q ledger.RankQuery, ka float64, ida string, kb float64, idb string) int {
	c := cmp.Compare(ka, kb)
	if c == 0 {
		c = strings.Compare(ida, idb)
	}
	if q.Desc {
		c = -c
	}
	return c
}

// expectRanked is the suite's model of Ranked.
func expectRanked(all []ledger.Customer, q ledger.RankQuery) []ledger.Customer {
	var out []ledger.Customer
	for _, c := range all {
		k, ok := rankKey(q.Index, c)
		switch {
		case !ok:
		case q.Segment != "" && c.Profile.Segment != q.Segment:
		case q.Min != nil && k < *q.Min:
		case q.Max != nil && k > *q.Max:
		case q.After != nil && rankCompare(q, k, c.ID, q.After.Key, q.After.CustomerID) <= 0:
		default:
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b ledger.Customer) int {
		ka, _ := rankKey(q.Index, a)
		kb, _ := rankKey(q.Index, b)
		return rankCompare(q, ka, a.ID, kb, b.ID)
	})
	return out[:min(len(out), q.Limit)]
}

func testRankedOrderAndFilters(t *testing.T, s ledger.Store) {
	all := rankFixture(t, s)
	cur := func(key float64, id string) *ledger.RankCursor { return &ledger.RankCursor{Key: key, CustomerID: id} }
	bal := func(q ledger.RankQuery) ledger.RankQuery {
		q.Index = ledger.ByBalance
		return q
	}
	rec := func(q ledger.RankQuery) ledger.RankQuery {
		q.Index = ledger.ByRecovery
		return q
	}
	adv := func(q ledger.RankQuery) ledger.RankQuery {
		q.Index = ledger.ByAdvocacy
		return q
	}
	tests := []struct {
		name string
		q    ledger.RankQuery
		// want pins the expected ids so that the suite's model cannot drift.
		want string
	}{
		// ByBalance
		{name: "balance ascending, ties by id", q: bal(ledger.RankQuery{Limit: 100}),
			want: "cu-d cu-b cu-c cu-h cu-a cu-e cu-k cu-m cu-z cu-q cu-f"},
		{name: "balance descending, ties by id descending", q: bal(ledger.RankQuery{Desc: true, Limit: 100}),
			want: "cu-f cu-q cu-z cu-m cu-k cu-e cu-a cu-h cu-c cu-b cu-d"},
		{name: "balance limit", q: bal(ledger.RankQuery{Limit: 4}), want: "cu-d cu-b cu-c cu-h"},
		{name: "balance limit descending", q: bal(ledger.RankQuery{Desc: true, Limit: 4}), want: "cu-f cu-q cu-z cu-m"},
		{name: "balance limit equal to count", q: bal(ledger.RankQuery{Limit: 11}),
			want: "cu-d cu-b cu-c cu-h cu-a cu-e cu-k cu-m cu-z cu-q cu-f"},
		{name: "segment", q: bal(ledger.RankQuery{Segment: "smb", Limit: 100}),
			want: "cu-b cu-e cu-k cu-z cu-f"},
		{name: "segment descending", q: bal(ledger.RankQuery{Segment: "smb", Desc: true, Limit: 100}),
			want: "cu-f cu-z cu-k cu-e cu-b"},
		{name: "other segment", q: bal(ledger.RankQuery{Segment: "enterprise", Limit: 100}),
			want: "cu-d cu-c cu-h cu-m cu-q"},
		{name: "segment and limit", q: bal(ledger.RankQuery{Segment: "enterprise", Desc: true, Limit: 2}),
			want: "cu-q cu-m"},
		{name: "segment without customers", q: bal(ledger.RankQuery{Segment: "gold", Limit: 100})},
		{name: "min and max are inclusive", q: bal(ledger.RankQuery{Min: ptr(0.0), Max: ptr(5.0), Limit: 100}),
			want: "cu-a cu-e cu-k cu-m cu-z"},
		{name: "min and max descending", q: bal(ledger.RankQuery{Min: ptr(0.0), Max: ptr(5.0), Desc: true, Limit: 100}),
			want: "cu-z cu-m cu-k cu-e cu-a"},
		{name: "min only, limit", q: bal(ledger.RankQuery{Min: ptr(-3.0), Limit: 3}), want: "cu-b cu-c cu-h"},
		{name: "max only, descending", q: bal(ledger.RankQuery{Max: ptr(-3.0), Desc: true, Limit: 100}),
			want: "cu-c cu-b cu-d"},
		{name: "min equal to max", q: bal(ledger.RankQuery{Min: ptr(5.0), Max: ptr(5.0), Limit: 100}),
			want: "cu-k cu-m cu-z"},
		{name: "min just above a tie", q: bal(ledger.RankQuery{Min: ptr(math.Nextafter(5, 6)), Limit: 100}),
			want: "cu-q cu-f"},
		{name: "max just below a tie", q: bal(ledger.RankQuery{Max: ptr(math.Nextafter(5, 4)), Limit: 100}),
			want: "cu-d cu-b cu-c cu-h cu-a cu-e"},
		{name: "empty range", q: bal(ledger.RankQuery{Min: ptr(5.5), Max: ptr(6.5), Limit: 100})},
		{name: "segment, min and max", q: bal(ledger.RankQuery{Segment: "smb", Min: ptr(0.0), Max: ptr(5.0), Limit: 100}),
			want: "cu-e cu-k cu-z"},
		{name: "after a cursor inside a tie", q: bal(ledger.RankQuery{After: cur(5, "cu-k"), Limit: 100}),
			want: "cu-m cu-z cu-q cu-f"},
		{name: "after the middle of a tie", q: bal(ledger.RankQuery{After: cur(5, "cu-m"), Limit: 100}),
			want: "cu-z cu-q cu-f"},
		{name: "after the last of a tie", q: bal(ledger.RankQuery{After: cur(5, "cu-z"), Limit: 100}),
			want: "cu-q cu-f"},
		{name: "after a position before a tie", q: bal(ledger.RankQuery{After: cur(5, "cu-a"), Limit: 100}),
			want: "cu-k cu-m cu-z cu-q cu-f"},
		{name: "after a position between ids of a tie", q: bal(ledger.RankQuery{After: cur(5, "cu-l"), Limit: 100}),
			want: "cu-m cu-z cu-q cu-f"},
		{name: "after a key between keys", q: bal(ledger.RankQuery{After: cur(4.5, "cu-m"), Limit: 100}),
			want: "cu-k cu-m cu-z cu-q cu-f"},
		{name: "after a cursor inside a tie, descending", q: bal(ledger.RankQuery{After: cur(5, "cu-m"), Desc: true, Limit: 100}),
			want: "cu-k cu-e cu-a cu-h cu-c cu-b cu-d"},
		{name: "after the last of a tie, descending", q: bal(ledger.RankQuery{After: cur(5, "cu-k"), Desc: true, Limit: 100}),
			want: "cu-e cu-a cu-h cu-c cu-b cu-d"},
		{name: "after a position before a tie, descending", q: bal(ledger.RankQuery{After: cur(5, "cu-zz"), Desc: true, Limit: 100}),
			want: "cu-z cu-m cu-k cu-e cu-a cu-h cu-c cu-b cu-d"},
		{name: "after a key between keys, descending", q: bal(ledger.RankQuery{After: cur(4.5, "cu-a"), Desc: true, Limit: 100}),
			want: "cu-e cu-a cu-h cu-c cu-b cu-d"},
		{name: "after the last customer", q: bal(ledger.RankQuery{After: cur(12.25, "cu-f"), Limit: 100})},
		{name: "after the last customer, descending", q: bal(ledger.RankQuery{After: cur(-100, "cu-d"), Desc: true, Limit: 100})},
		{name: "after and limit", q: bal(ledger.RankQuery{After: cur(-3, "cu-b"), Limit: 3}),
			want: "cu-c cu-h cu-a"},
		{name: "after and segment", q: bal(ledger.RankQuery{Segment: "smb", After: cur(-3, "cu-c"), Limit: 100}),
			want: "cu-e cu-k cu-z cu-f"},
		{name: "after, segment, min, max, descending", q: bal(ledger.RankQuery{Segment: "enterprise", Min: ptr(-3.0), Max: ptr(5.0),
			After: cur(5, "cu-m"), Desc: true, Limit: 100}),
			want: "cu-h cu-c"},
		{name: "after a cursor below min", q: bal(ledger.RankQuery{Min: ptr(0.0), After: cur(-50, "cu-x"), Limit: 100}),
			want: "cu-a cu-e cu-k cu-m cu-z cu-q cu-f"},
		{name: "after, min, max, limit", q: bal(ledger.RankQuery{Min: ptr(-3.0), Max: ptr(5.0), After: cur(0, "cu-a"), Limit: 3}),
			want: "cu-e cu-k cu-m"},

		// ByRecovery
		{name: "recovery ascending, only customers with a key", q: rec(ledger.RankQuery{Limit: 100}),
			want: "cu-m cu-q cu-z cu-a cu-b cu-c cu-h"},
		{name: "recovery descending", q: rec(ledger.RankQuery{Desc: true, Limit: 100}),
			want: "cu-h cu-c cu-b cu-a cu-z cu-q cu-m"},
		{name: "recovery limit", q: rec(ledger.RankQuery{Limit: 2}), want: "cu-m cu-q"},
		{name: "recovery after a cursor inside a tie", q: rec(ledger.RankQuery{After: cur(1.5, "cu-a"), Limit: 100}),
			want: "cu-b cu-c cu-h"},
		{name: "recovery after a cursor inside a tie, descending", q: rec(ledger.RankQuery{After: cur(1.5, "cu-b"), Desc: true, Limit: 100}),
			want: "cu-a cu-z cu-q cu-m"},
		{name: "recovery after a zero key, limit", q: rec(ledger.RankQuery{After: cur(0, "cu-z"), Limit: 2}),
			want: "cu-a cu-b"},
		{name: "recovery after the last customer", q: rec(ledger.RankQuery{After: cur(3, "cu-h"), Limit: 100})},
		{name: "recovery after the last customer, descending", q: rec(ledger.RankQuery{After: cur(-2, "cu-m"), Desc: true, Limit: 100})},

		// ByAdvocacy
		{name: "advocacy ascending, only customers with a key", q: adv(ledger.RankQuery{Limit: 100}),
			want: "cu-f cu-e cu-h cu-d cu-k cu-m cu-b"},
		{name: "advocacy descending", q: adv(ledger.RankQuery{Desc: true, Limit: 100}),
			want: "cu-b cu-m cu-k cu-d cu-h cu-e cu-f"},
		{name: "advocacy limit, descending", q: adv(ledger.RankQuery{Desc: true, Limit: 3}), want: "cu-b cu-m cu-k"},
		{name: "advocacy after a cursor inside a tie", q: adv(ledger.RankQuery{After: cur(2, "cu-k"), Limit: 100}),
			want: "cu-m cu-b"},
		{name: "advocacy after a cursor inside a tie, descending", q: adv(ledger.RankQuery{After: cur(2, "cu-k"), Desc: true, Limit: 100}),
			want: "cu-d cu-h cu-e cu-f"},
		{name: "advocacy after a key between keys", q: adv(ledger.RankQuery{After: cur(0.1, "cu-a"), Limit: 2}),
			want: "cu-h cu-d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			model := expectRanked(all, tc.q)
			if got := strings.Join(customerIDs(model), " "); got != tc.want {
				t.Fatalf("suite model gives %q, case wants %q", got, tc.want)
			}
			got := ranked(t, s, tenantA, tc.q)
			equalCustomerLists(t, "Ranked", got, model)
		})
	}
	t.Run("other tenant", func(t *testing.T) {
		t.Parallel()
		got := ranked(t, s, tenantB, ledger.RankQuery{Index: ledger.ByRecovery, After: cur(1.5, "cu-f"), Limit: 3})
		if ids := strings.Join(customerIDs(got), " "); ids != "cu-g cu-k cu-h" {
			t.Errorf("Ranked recovery of tenant B = %s, want cu-g cu-k cu-h", ids)
		}
		for _, c := range got {
			if c.TenantID != tenantB || c.State.Count < 1000 {
				t.Errorf("Ranked of tenant B returned %s/%s with Count %d", c.TenantID, c.ID, c.State.Count)
			}
		}
	})
	t.Run("unknown tenant", func(t *testing.T) {
		t.Parallel()
		for _, idx := range []ledger.RankIndex{ledger.ByBalance, ledger.ByRecovery, ledger.ByAdvocacy} {
			if got := ranked(t, s, "tenant-c", ledger.RankQuery{Index: idx, Limit: 100}); len(got) != 0 {
				t.Errorf("Ranked(%d) of an unknown tenant = %v, want none", idx, customerIDs(got))
			}
		}
	})
}

// walkRanked pages through a ranking with cursors made from each page's
// last customer, as ListBalances and the outreach lists do.
func walkRanked(t *testing.T, s ledger.Store, tenant string, q ledger.RankQuery) []ledger.Customer {
	t.Helper()
	var out []ledger.Customer
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("paging did not end after 1000 pages; last cursor %+v", q.After)
		}
		got := ranked(t, s, tenant, q)
		if len(got) > q.Limit {
			t.Fatalf("page %d holds %d customers, limit %d", page, len(got), q.Limit)
		}
		out = append(out, got...)
		if len(got) < q.Limit {
			return out
		}
		last := got[len(got)-1]
		key, ok := rankKey(q.Index, last)
		if !ok {
			t.Fatalf("page %d returned %s, which has no key in index %d", page, last.ID, q.Index)
		}
		q.After = &ledger.RankCursor{Key: key, CustomerID: last.ID}
	}
}

func testRankedWalk(t *testing.T, s ledger.Store) {
	all := rankFixture(t, s)
	type shape struct {
		name string
		q    ledger.RankQuery
	}
	var shapes []shape
	for _, idx := range []struct {
		name string
		idx  ledger.RankIndex
	}{{"balance", ledger.ByBalance}, {"recovery", ledger.ByRecovery}, {"advocacy", ledger.ByAdvocacy}} {
		for _, desc := range []bool{false, true} {
			dir := "ascending"
			if desc {
				dir = "descending"
			}
			shapes = append(shapes, shape{idx.name + " " + dir, ledger.RankQuery{Index: idx.idx, Desc: desc}})
			if idx.idx == ledger.ByBalance {
				shapes = append(shapes,
					shape{"balance segment " + dir, ledger.RankQuery{Index: idx.idx, Desc: desc, Segment: "smb"}},
					shape{"balance min max " + dir, ledger.RankQuery{Index: idx.idx, Desc: desc, Min: ptr(-3.0), Max: ptr(5.0)}},
				)
			}
		}
	}
	for _, sh := range shapes {
		for _, limit := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%s, limit %d", sh.name, limit), func(t *testing.T) {
				t.Parallel()
				q := sh.q
				q.Limit = 100
				want := expectRanked(all, q)
				if len(want) < 3 {
					t.Fatalf("shape selects only %v", customerIDs(want))
				}
				q.Limit = limit
				got := walkRanked(t, s, tenantA, q)
				checkOnce(t, got)
				equalCustomerLists(t, "walk", got, want)
			})
		}
	}
}

// testRankedKeyChanges: replacing a customer moves it in every ranking, and
// a key that becomes nil takes it out of that ranking.
func testRankedKeyChanges(t *testing.T, s ledger.Store) {
	a := rankedCustomer(tenantA, rankSpec{id: "cu-a", rank: 1, segment: "smb", recovery: ptr(1.0), advocacy: ptr(1.0)}, 1)
	b := rankedCustomer(tenantA, rankSpec{id: "cu-b", rank: 2, segment: "smb", recovery: ptr(2.0)}, 2)
	c := rankedCustomer(tenantA, rankSpec{id: "cu-c", rank: 3, segment: "enterprise", recovery: ptr(3.0), advocacy: ptr(3.0)}, 3)
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, x := range []ledger.Customer{a, b, c} {
			if err := tx.PutCustomer(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	type check struct {
		q    ledger.RankQuery
		want []ledger.Customer
	}
	verify := func(stage string, checks []check) {
		t.Helper()
		for _, ch := range checks {
			ch.q.Limit = 100
			equalCustomerLists(t, fmt.Sprintf("%s: Ranked(%+v)", stage, ch.q), ranked(t, s, tenantA, ch.q), ch.want)
			ch.q.Desc = true
			equalCustomerLists(t, fmt.Sprintf("%s: Ranked(%+v)", stage, ch.q), ranked(t, s, tenantA, ch.q), reversed(ch.want))
		}
	}
	verify("before", []check{
		{ledger.RankQuery{Index: ledger.ByBalance}, []ledger.Customer{a, b, c}},
		{ledger.RankQuery{Index: ledger.ByBalance, Segment: "smb"}, []ledger.Customer{a, b}},
		{ledger.RankQuery{Index: ledger.ByBalance, Segment: "enterprise"}, []ledger.Customer{c}},
		{ledger.RankQuery{Index: ledger.ByRecovery}, []ledger.Customer{a, b, c}},
		{ledger.RankQuery{Index: ledger.ByAdvocacy}, []ledger.Customer{a, c}},
	})

	// b leaves the recovery list and joins the advocacy list, moves to the
	// top of the balance ranking and to another segment; c's recovery key
	// moves it before a and it leaves the advocacy list.
	b2 := b
	b2.Keys = ledger.Keys{Rank: 10, Advocacy: ptr(0.5)}
	b2.Profile.Segment = "enterprise"
	c2 := c
	c2.Keys = ledger.Keys{Rank: 3, Recovery: ptr(0.5)}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutCustomer(ctx, b2); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, c2)
	})
	verify("after", []check{
		{ledger.RankQuery{Index: ledger.ByBalance}, []ledger.Customer{a, c2, b2}},
		{ledger.RankQuery{Index: ledger.ByBalance, Segment: "smb"}, []ledger.Customer{a}},
		{ledger.RankQuery{Index: ledger.ByBalance, Segment: "enterprise"}, []ledger.Customer{c2, b2}},
		{ledger.RankQuery{Index: ledger.ByRecovery}, []ledger.Customer{c2, a}},
		{ledger.RankQuery{Index: ledger.ByAdvocacy}, []ledger.Customer{b2, a}},
	})

	// Every key of a set to nil in one Update, after an intermediate write.
	a2 := a
	a2.Keys = ledger.Keys{Rank: 1}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		mid := a
		mid.Keys.Recovery = ptr(100.0)
		if err := tx.PutCustomer(ctx, mid); err != nil {
			return err
		}
		return tx.PutCustomer(ctx, a2)
	})
	verify("after clearing a's keys", []check{
		{ledger.RankQuery{Index: ledger.ByBalance}, []ledger.Customer{a2, c2, b2}},
		{ledger.RankQuery{Index: ledger.ByRecovery}, []ledger.Customer{c2}},
		{ledger.RankQuery{Index: ledger.ByAdvocacy}, []ledger.Customer{b2}},
	})
}

// testRankingKeysRoundTrip: Keys (nil and not), Trend and LastGrievanceKind
// come back unchanged from every read that returns customers.
func testRankingKeysRoundTrip(t *testing.T, s ledger.Store) {
	noRecovery := fullCustomer(tenantA, "k-no-recovery")
	noRecovery.Keys.Recovery = nil
	noRecovery.Keys.Rank = math.Nextafter(0.3, 1)
	noRecovery.State.Trend = math.Nextafter(2.5, 3)
	noRecovery.State.LastGrievanceKind = ledger.KindOutage

	noAdvocacy := newCustomer(tenantA, "k-no-advocacy")
	noAdvocacy.Keys = ledger.Keys{Rank: 42.5, Recovery: ptr(math.Nextafter(1, 2))}
	noAdvocacy.State.Trend = -0.125

	zero := newCustomer(tenantA, "k-zero")
	zero.Keys = ledger.Keys{Recovery: ptr(0.0), Advocacy: ptr(0.0)}

	large := newCustomer(tenantA, "k-large")
	large.Keys = ledger.Keys{Rank: 1e300, Recovery: ptr(-1e-300), Advocacy: ptr(123456789.123456789)}
	large.State.Trend = 1e-7
	large.State.LastGrievanceAt = at(-1)
	large.State.LastGrievanceKind = ledger.KindComplaint

	customers := []ledger.Customer{
		fullCustomer(tenantA, "k-full"),
		noRecovery,
		noAdvocacy,
		newCustomer(tenantA, "k-none"),
		zero,
		large,
	}
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, c := range customers {
			if err := tx.PutCustomer(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	list := listCustomers(t, s, tenantA, "", 100)
	rankings := map[ledger.RankIndex][]ledger.Customer{}
	for _, idx := range []ledger.RankIndex{ledger.ByBalance, ledger.ByRecovery, ledger.ByAdvocacy} {
		rankings[idx] = ranked(t, s, tenantA, ledger.RankQuery{Index: idx, Limit: 100})
	}
	for _, want := range customers {
		t.Run(want.ID, func(t *testing.T) {
			got, err := getCustomer(t, s, tenantA, want.ID)
			if err != nil {
				t.Fatalf("Customer: %v", err)
			}
			equalCustomer(t, "Customer", got, want)
			if found := findCustomer(list, want.ID); found == nil {
				t.Errorf("Customers: %s missing from %v", want.ID, customerIDs(list))
			} else {
				equalCustomer(t, "Customers", *found, want)
			}
			for idx, cs := range rankings {
				found := findCustomer(cs, want.ID)
				if _, in := rankKey(idx, want); !in {
					if found != nil {
						t.Errorf("Ranked(%d) holds %s, whose key is nil", idx, want.ID)
					}
					continue
				}
				if found == nil {
					t.Errorf("Ranked(%d): %s missing from %v", idx, want.ID, customerIDs(cs))
					continue
				}
				equalCustomer(t, fmt.Sprintf("Ranked(%d)", idx), *found, want)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Policies

func storedPolicy(version int64, body string, created time.Time) ledger.StoredPolicy {
	return ledger.StoredPolicy{Version: version, Body: []byte(body), CreatedAt: created}
}

var (
	policyV1 = storedPolicy(1, `{"weights":{"OUTAGE":-3.5,"CREDIT":1},"half_life_s":7776000,"note":"ü \"q\" \\ \n tab\t"}`, at(-100))
	policyV2 = storedPolicy(2, `{"weights":{"OUTAGE":-4.25},"half_life_s":2592000,"epoch":-86400}`, at(5).Add(3*time.Microsecond))
	policyV3 = storedPolicy(3, `{"weights":{},"note":"`+strings.Repeat("long body ", 2000)+`"}`, at(6))
)

func testPolicyVersions(t *testing.T, s ledger.Store) {
	if p, err := getActivePolicy(t, s, tenantA); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("ActivePolicy on a fresh tenant = %+v, %v; want ErrNotFound", p, err)
	}
	if p, err := getPolicy(t, s, tenantA, 1); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("Policy(1) on a fresh tenant = %+v, %v; want ErrNotFound", p, err)
	}

	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, policyV1) })
	wantActive(t, s, tenantA, policyV1)
	wantPolicy(t, s, tenantA, policyV1)

	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, policyV2) })
	wantActive(t, s, tenantA, policyV2)
	wantPolicy(t, s, tenantA, policyV1)
	wantPolicy(t, s, tenantA, policyV2)
	for _, v := range []int64{0, 3, -1} {
		if p, err := getPolicy(t, s, tenantA, v); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Policy(%d) = %+v, %v; want ErrNotFound", v, p, err)
		}
	}

	// The writing transaction reads its own new version, as the Service
	// does when it installs one and starts its recompute job.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutPolicy(ctx, tenantA, policyV3); err != nil {
			return err
		}
		p, err := tx.ActivePolicy(ctx, tenantA)
		if err != nil {
			return fmt.Errorf("ActivePolicy after PutPolicy: %w", err)
		}
		equalPolicy(t, "ActivePolicy in the writing Update", p, policyV3)
		return nil
	})
	wantActive(t, s, tenantA, policyV3)
	for _, p := range []ledger.StoredPolicy{policyV1, policyV2, policyV3} {
		wantPolicy(t, s, tenantA, p)
	}

	// Large versions round trip.
	big := storedPolicy(1<<40+5, `{}`, at(7))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, big) })
	wantActive(t, s, tenantA, big)
	wantPolicy(t, s, tenantA, big)
}

func testPolicyDuplicateVersion(t *testing.T, s ledger.Store) {
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutPolicy(ctx, tenantA, policyV1); err != nil {
			return err
		}
		return tx.PutPolicy(ctx, tenantA, policyV2)
	})
	wantActive(t, s, tenantA, policyV2)

	for _, tc := range []struct {
		name string
		p    ledger.StoredPolicy
	}{
		{name: "an older version", p: storedPolicy(1, `{"overwritten":true}`, at(50))},
		{name: "the active version", p: storedPolicy(2, `{"overwritten":true}`, at(50))},
	} {
		var putErr error
		err := s.Update(t.Context(), func(tx ledger.Tx) error {
			putErr = tx.PutPolicy(t.Context(), tenantA, tc.p)
			return putErr
		})
		if !errors.Is(putErr, ledger.ErrDuplicate) || !errors.Is(err, ledger.ErrDuplicate) {
			t.Errorf("PutPolicy of %s: PutPolicy error = %v, Update error = %v; want ErrDuplicate", tc.name, putErr, err)
		}
		wantActive(t, s, tenantA, policyV2)
		wantPolicy(t, s, tenantA, policyV1)
		wantPolicy(t, s, tenantA, policyV2)
	}

	// A new version and then its duplicate in one Update: the rollback takes
	// the new version too.
	var putErr error
	err := s.Update(t.Context(), func(tx ledger.Tx) error {
		if err := tx.PutPolicy(t.Context(), tenantA, policyV3); err != nil {
			return err
		}
		putErr = tx.PutPolicy(t.Context(), tenantA, storedPolicy(3, `{"again":true}`, at(51)))
		return putErr
	})
	if !errors.Is(putErr, ledger.ErrDuplicate) || !errors.Is(err, ledger.ErrDuplicate) {
		t.Errorf("second PutPolicy of one version in an Update: PutPolicy error = %v, Update error = %v; want ErrDuplicate", putErr, err)
	}
	wantActive(t, s, tenantA, policyV2)
	if p, err := getPolicy(t, s, tenantA, 3); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Policy(3) after the rolled back Update = %+v, %v; want ErrNotFound", p, err)
	}
	// Version 3 is free again.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, policyV3) })
	wantActive(t, s, tenantA, policyV3)
}

func testPolicyTenantIsolation(t *testing.T, s ledger.Store) {
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutPolicy(ctx, tenantA, policyV1); err != nil {
			return err
		}
		return tx.PutPolicy(ctx, tenantA, policyV2)
	})
	if p, err := getActivePolicy(t, s, tenantB); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("ActivePolicy of tenant B = %+v, %v; want ErrNotFound", p, err)
	}
	for _, v := range []int64{1, 2} {
		if p, err := getPolicy(t, s, tenantB, v); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Policy(%d) of tenant B = %+v, %v; want ErrNotFound", v, p, err)
		}
	}

	// Tenant B's version 1 is not a duplicate of tenant A's.
	b1 := storedPolicy(1, `{"tenant":"b"}`, at(9))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantB, b1) })
	wantActive(t, s, tenantB, b1)
	wantPolicy(t, s, tenantB, b1)
	wantActive(t, s, tenantA, policyV2)
	wantPolicy(t, s, tenantA, policyV1)
	if p, err := getPolicy(t, s, tenantB, 2); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Policy(2) of tenant B = %+v, %v; want ErrNotFound", p, err)
	}

	// Tenant A's next version leaves tenant B's active one alone.
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutPolicy(ctx, tenantA, policyV3) })
	wantActive(t, s, tenantA, policyV3)
	wantActive(t, s, tenantB, b1)
	if p, err := getActivePolicy(t, s, "tenant-c"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("ActivePolicy of an unknown tenant = %+v, %v; want ErrNotFound", p, err)
	}
}

// ---------------------------------------------------------------------------
// Recompute jobs

// fullJob sets every field to a value that differs from its zero value.
func fullJob(tenant, id string) ledger.Job {
	return ledger.Job{
		TenantID:      tenant,
		ID:            id,
		PolicyVersion: 1<<40 + 3,
		State:         ledger.JobFailed,
		Total:         1<<40 + 11,
		Done:          1 << 39,
		Cursor:        "cust 1/ü'\"%_",
		StartedAt:     at(-30).Add(17 * time.Microsecond),
		FinishedAt:    at(2).Add(7 * time.Microsecond),
		Error:         "superseded by a newer policy version; \"quoted\" ü\nsecond line",
	}
}

// runningJob is a job as the Service starts one.
func runningJob(tenant, id string, started time.Time) ledger.Job {
	return ledger.Job{TenantID: tenant, ID: id, PolicyVersion: 2, State: ledger.JobRunning, Total: 40, StartedAt: started}
}

func testJobRoundTrip(t *testing.T, s ledger.Store) {
	midway := runningJob(tenantA, "job-midway", at(-3))
	midway.Done, midway.Cursor = 17, "cu-q"
	succeeded := runningJob(tenantA, "job-succeeded", at(-2))
	succeeded.State, succeeded.Done, succeeded.Cursor, succeeded.FinishedAt = ledger.JobSucceeded, 40, "cu-z", at(-1)
	empty := runningJob(tenantA, "job-empty", at(-4))
	empty.State, empty.Total, empty.FinishedAt = ledger.JobSucceeded, 0, at(-4)
	tests := []struct {
		name string
		j    ledger.Job
	}{
		{name: "failed, every field set", j: fullJob(tenantA, "job-full")},
		{name: "just started", j: runningJob(tenantA, "job-new", at(0))},
		{name: "running midway", j: midway},
		{name: "succeeded", j: succeeded},
		{name: "succeeded without customers", j: empty},
		{name: "unusual ids", j: fullJob("tenant with spaces/ü", "job 1/ü'\"%_")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutJob(ctx, tc.j) })
			got, err := getJob(t, s, tc.j.TenantID, tc.j.ID)
			if err != nil {
				t.Fatalf("Job: %v", err)
			}
			equalJob(t, "Job", got, tc.j)
			if got.FinishedAt.IsZero() != tc.j.FinishedAt.IsZero() {
				t.Errorf("FinishedAt = %v, want %v (IsZero %v)", got.FinishedAt, tc.j.FinishedAt, tc.j.FinishedAt.IsZero())
			}
		})
	}
}

func testPutJobReplaces(t *testing.T, s ledger.Store) {
	first := fullJob(tenantA, "job-1")
	bystander := fullJob(tenantA, "job-2")
	other := fullJob(tenantB, "job-1")
	other.Error = "tenant b's job"
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, j := range []ledger.Job{first, bystander, other} {
			if err := tx.PutJob(ctx, j); err != nil {
				return err
			}
		}
		return nil
	})
	// The replacement clears what the first row set: a store that merges
	// (keeps old non-null columns) fails here.
	second := runningJob(tenantA, "job-1", at(10))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return tx.PutJob(ctx, second) })
	got, err := getJob(t, s, tenantA, "job-1")
	if err != nil {
		t.Fatalf("Job: %v", err)
	}
	equalJob(t, "replaced job", got, second)
	if !got.FinishedAt.IsZero() {
		t.Errorf("FinishedAt = %v, want zero after replace", got.FinishedAt)
	}

	// Progress, then the end, each read back in the writing Update too.
	steps := []ledger.Job{second, second, second}
	steps[0].Done, steps[0].Cursor = 20, "cu-m"
	steps[1].Done, steps[1].Cursor = 40, "cu-z"
	steps[2] = steps[1]
	steps[2].State, steps[2].FinishedAt = ledger.JobSucceeded, at(11)
	for i, step := range steps {
		mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
			if err := tx.PutJob(ctx, step); err != nil {
				return err
			}
			got, err := tx.Job(ctx, tenantA, "job-1")
			if err != nil {
				return fmt.Errorf("Job after PutJob: %w", err)
			}
			equalJob(t, fmt.Sprintf("step %d in the writing Update", i), got, step)
			return nil
		})
		got, err := getJob(t, s, tenantA, "job-1")
		if err != nil {
			t.Fatalf("Job after step %d: %v", i, err)
		}
		equalJob(t, fmt.Sprintf("step %d", i), got, step)
	}
	for _, want := range []ledger.Job{bystander, other} {
		got, err := getJob(t, s, want.TenantID, want.ID)
		if err != nil {
			t.Fatalf("Job(%s, %s): %v", want.TenantID, want.ID, err)
		}
		equalJob(t, "bystander "+want.TenantID+"/"+want.ID, got, want)
	}
}

func testJobNotFound(t *testing.T, s ledger.Store) {
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		return tx.PutJob(ctx, runningJob(tenantA, "job-present", at(0)))
	})
	tests := []struct {
		name, tenant, id string
	}{
		{name: "unknown id", tenant: tenantA, id: "job-absent"},
		{name: "present id in another tenant", tenant: tenantB, id: "job-present"},
		{name: "id differs in case", tenant: tenantA, id: "JOB-PRESENT"},
		{name: "prefix of present id", tenant: tenantA, id: "job-"},
		{name: "empty id", tenant: tenantA, id: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := getJob(t, s, tc.tenant, tc.id)
			if !errors.Is(err, ledger.ErrNotFound) {
				t.Fatalf("Job(%q, %q) = %+v, %v; want ErrNotFound", tc.tenant, tc.id, got, err)
			}
		})
	}
}

func testJobsInState(t *testing.T, s ledger.Store) {
	if got := jobsInState(t, s, ledger.JobRunning); len(got) != 0 {
		t.Fatalf("running jobs of a fresh store = %v, want none", jobKeys(got))
	}
	a1 := runningJob(tenantA, "job-1", at(3))
	a1.Done, a1.Cursor = 5, "cu-e"
	a2 := runningJob(tenantA, "job-2", at(1))
	a2.State, a2.FinishedAt = ledger.JobSucceeded, at(2)
	a3 := runningJob(tenantA, "job-3", at(-5))
	b1 := runningJob(tenantB, "job-1", at(0))
	b1.PolicyVersion = 7
	b4 := fullJob(tenantB, "job-4")
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, j := range []ledger.Job{a1, a2, a3, b1, b4} {
			if err := tx.PutJob(ctx, j); err != nil {
				return err
			}
		}
		return nil
	})
	equalJobSets(t, "running jobs", jobsInState(t, s, ledger.JobRunning), []ledger.Job{a1, a3, b1})
	if got := jobsInState(t, s, ledger.JobRunning); len(got) == 3 &&
		(got[0].ID != "job-3" || got[1].TenantID != tenantB || got[2].ID != "job-1" || got[2].TenantID != tenantA) {
		t.Errorf("running jobs not oldest first: %v", jobKeys(got))
	}
	equalJobSets(t, "succeeded jobs", jobsInState(t, s, ledger.JobSucceeded), []ledger.Job{a2})

	// A job that ends leaves the list; its replacement by a running row
	// (a resumed job) joins it.
	a1.State, a1.FinishedAt, a1.Error = ledger.JobFailed, at(4), "superseded"
	b4 = runningJob(tenantB, "job-4", at(6))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		if err := tx.PutJob(ctx, a1); err != nil {
			return err
		}
		return tx.PutJob(ctx, b4)
	})
	equalJobSets(t, "running jobs after a job ended", jobsInState(t, s, ledger.JobRunning), []ledger.Job{a3, b1, b4})
	equalJobSets(t, "failed jobs", jobsInState(t, s, ledger.JobFailed), []ledger.Job{a1})
}

func testLatestJob(t *testing.T, s ledger.Store) {
	latest := func(tenant string) (j ledger.Job, err error) {
		mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
			j, err = r.LatestJob(ctx, tenant)
			return nil
		})
		return j, err
	}
	if _, err := latest(tenantA); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("LatestJob of a fresh store: %v, want ErrNotFound", err)
	}
	old := runningJob(tenantA, "job-z", at(1))
	old.State, old.FinishedAt = ledger.JobFailed, at(2)
	newer := runningJob(tenantA, "job-a", at(5))
	other := runningJob(tenantB, "job-q", at(9))
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error {
		for _, j := range []ledger.Job{old, newer, other} {
			if err := tx.PutJob(ctx, j); err != nil {
				return err
			}
		}
		return nil
	})
	if j, err := latest(tenantA); err != nil {
		t.Fatal(err)
	} else {
		equalJob(t, "LatestJob of tenant A", j, newer)
	}
	if j, err := latest(tenantB); err != nil {
		t.Fatal(err)
	} else {
		equalJob(t, "LatestJob of tenant B", j, other)
	}
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

// ---------------------------------------------------------------------------
// Helpers

func mustUpdate(t *testing.T, s ledger.Store, fn func(context.Context, ledger.Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.Update(ctx, func(tx ledger.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustView(t *testing.T, s ledger.Store, fn func(context.Context, ledger.Reader) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.View(ctx, func(r ledger.Reader) error { return fn(ctx, r) }); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// record appends events the way the Service does: the event first, then
// the customer's row (created with defaults when missing).
func record(ctx context.Context, tx ledger.Tx, events ...ledger.Event) error {
	for _, e := range events {
		if err := tx.AppendEvent(ctx, e); err != nil {
			return fmt.Errorf("append %s: %w", e.ID, err)
		}
		_, err := tx.Customer(ctx, e.TenantID, e.CustomerID)
		if errors.Is(err, ledger.ErrNotFound) {
			err = tx.PutCustomer(ctx, newCustomer(e.TenantID, e.CustomerID))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// mustRecord records events in one Update.
func mustRecord(t *testing.T, s ledger.Store, events ...ledger.Event) {
	t.Helper()
	mustUpdate(t, s, func(ctx context.Context, tx ledger.Tx) error { return record(ctx, tx, events...) })
}

func getCustomer(t *testing.T, s ledger.Store, tenant, id string) (c ledger.Customer, err error) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		c, err = r.Customer(ctx, tenant, id)
		return nil
	})
	return c, err
}

func getEvent(t *testing.T, s ledger.Store, tenant, customer, id string) (e ledger.Event, err error) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		e, err = r.Event(ctx, tenant, customer, id)
		return nil
	})
	return e, err
}

func getEventByKey(t *testing.T, s ledger.Store, tenant, customer, key string) (e ledger.Event, err error) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		e, err = r.EventByKey(ctx, tenant, customer, key)
		return nil
	})
	return e, err
}

func listEvents(t *testing.T, s ledger.Store, tenant, customer string, q ledger.EventQuery) (events []ledger.Event) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		events, err = r.Events(ctx, tenant, customer, q)
		return err
	})
	return events
}

func history(t *testing.T, s ledger.Store, tenant, customer string) (events []ledger.Event) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		events, err = r.History(ctx, tenant, customer)
		return err
	})
	return events
}

// normEvent and normCustomer make equal values compare equal: times as UTC
// instants, empty attribute maps as nil.
func normEvent(e ledger.Event) ledger.Event {
	e.OccurredAt, e.RecordedAt = e.OccurredAt.UTC(), e.RecordedAt.UTC()
	if len(e.Attributes) == 0 {
		e.Attributes = nil
	}
	return e
}

func normCustomer(c ledger.Customer) ledger.Customer {
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	st := &c.State
	st.Last.At, st.LastNoticeAt = st.Last.At.UTC(), st.LastNoticeAt.UTC()
	st.LastGrievanceAt, st.LastRemedyAt = st.LastGrievanceAt.UTC(), st.LastRemedyAt.UTC()
	if len(c.Profile.Attributes) == 0 {
		c.Profile.Attributes = nil
	}
	return c
}

func equalEvent(t *testing.T, what string, got, want ledger.Event) {
	t.Helper()
	if g, w := normEvent(got), normEvent(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

func equalCustomer(t *testing.T, what string, got, want ledger.Customer) {
	t.Helper()
	g, w := normCustomer(got), normCustomer(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v (limit %s)\n want %+v (limit %s)", what, g, fmtLimit(g), w, fmtLimit(w))
	}
}

func fmtLimit(c ledger.Customer) string {
	if c.Profile.OverdraftLimit == nil {
		return "nil"
	}
	return fmt.Sprint(*c.Profile.OverdraftLimit)
}

// equalEventLists compares ordered lists.
func equalEventLists(t *testing.T, what string, got, want []ledger.Event) {
	t.Helper()
	if g, w := eventIDs(got), eventIDs(want); !slices.Equal(g, w) {
		t.Errorf("%s ids:\n got  %v\n want %v", what, g, w)
		return
	}
	for i := range got {
		equalEvent(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

// equalEventSets compares lists in any order.
func equalEventSets(t *testing.T, what string, got, want []ledger.Event) {
	t.Helper()
	byID := func(a, b ledger.Event) int { return strings.Compare(a.ID, b.ID) }
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	equalEventLists(t, what, got, want)
}

func findEvent(t *testing.T, what string, events []ledger.Event, id string) *ledger.Event {
	t.Helper()
	for i := range events {
		if events[i].ID == id {
			return &events[i]
		}
	}
	t.Errorf("%s: event %s missing from %v", what, id, eventIDs(events))
	return nil
}

func eventIDs(events []ledger.Event) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

func listCustomers(t *testing.T, s ledger.Store, tenant, after string, limit int) (cs []ledger.Customer) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		cs, err = r.Customers(ctx, tenant, after, limit)
		return err
	})
	return cs
}

func countCustomers(t *testing.T, s ledger.Store, tenant string) (n int64) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		n, err = r.CountCustomers(ctx, tenant)
		return err
	})
	return n
}

func ranked(t *testing.T, s ledger.Store, tenant string, q ledger.RankQuery) (cs []ledger.Customer) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		cs, err = r.Ranked(ctx, tenant, q)
		return err
	})
	return cs
}

func getActivePolicy(t *testing.T, s ledger.Store, tenant string) (p ledger.StoredPolicy, err error) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		p, err = r.ActivePolicy(ctx, tenant)
		return nil
	})
	return p, err
}

func getPolicy(t *testing.T, s ledger.Store, tenant string, version int64) (p ledger.StoredPolicy, err error) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		p, err = r.Policy(ctx, tenant, version)
		return nil
	})
	return p, err
}

// wantActive asserts the tenant's active policy.
func wantActive(t *testing.T, s ledger.Store, tenant string, want ledger.StoredPolicy) {
	t.Helper()
	got, err := getActivePolicy(t, s, tenant)
	if err != nil {
		t.Errorf("ActivePolicy(%s): %v, want version %d", tenant, err, want.Version)
		return
	}
	equalPolicy(t, "ActivePolicy "+tenant, got, want)
}

// wantPolicy asserts that Policy returns want under its version.
func wantPolicy(t *testing.T, s ledger.Store, tenant string, want ledger.StoredPolicy) {
	t.Helper()
	got, err := getPolicy(t, s, tenant, want.Version)
	if err != nil {
		t.Errorf("Policy(%s, %d): %v", tenant, want.Version, err)
		return
	}
	equalPolicy(t, fmt.Sprintf("Policy(%s, %d)", tenant, want.Version), got, want)
}

func equalPolicy(t *testing.T, what string, got, want ledger.StoredPolicy) {
	t.Helper()
	if got.Version != want.Version || !bytes.Equal(got.Body, want.Body) || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s:\n got  version %d, created %v, body %.200q\n want version %d, created %v, body %.200q",
			what, got.Version, got.CreatedAt, got.Body, want.Version, want.CreatedAt, want.Body)
	}
}

func getJob(t *testing.T, s ledger.Store, tenant, id string) (j ledger.Job, err error) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		j, err = r.Job(ctx, tenant, id)
		return nil
	})
	return j, err
}

func jobsInState(t *testing.T, s ledger.Store, state ledger.JobState) (jobs []ledger.Job) {
	t.Helper()
	mustView(t, s, func(ctx context.Context, r ledger.Reader) error {
		var err error
		jobs, err = r.JobsInState(ctx, state)
		return err
	})
	return jobs
}

func normJob(j ledger.Job) ledger.Job {
	j.StartedAt, j.FinishedAt = j.StartedAt.UTC(), j.FinishedAt.UTC()
	return j
}

func equalJob(t *testing.T, what string, got, want ledger.Job) {
	t.Helper()
	if g, w := normJob(got), normJob(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

// equalJobSets compares lists of jobs in any order.
func equalJobSets(t *testing.T, what string, got, want []ledger.Job) {
	t.Helper()
	byKey := func(a, b ledger.Job) int {
		return cmp.Or(strings.Compare(a.TenantID, b.TenantID), strings.Compare(a.ID, b.ID))
	}
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, byKey)
	slices.SortFunc(want, byKey)
	if g, w := jobKeys(got), jobKeys(want); !slices.Equal(g, w) {
		t.Errorf("%s:\n got  %v\n want %v", what, g, w)
		return
	}
	for i := range got {
		equalJob(t, fmt.Sprintf("%s %s", what, jobKeys(want)[i]), got[i], want[i])
	}
}

func jobKeys(jobs []ledger.Job) []string {
	keys := make([]string, len(jobs))
	for i, j := range jobs {
		keys[i] = j.TenantID + "/" + j.ID
	}
	return keys
}

// equalCustomerLists compares ordered lists.
func equalCustomerLists(t *testing.T, what string, got, want []ledger.Customer) {
	t.Helper()
	if g, w := customerIDs(got), customerIDs(want); !slices.Equal(g, w) {
		t.Errorf("%s ids:\n got  %v\n want %v", what, g, w)
		return
	}
	for i := range got {
		equalCustomer(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

// checkOnce reports a customer that a walk returned more than once.
func checkOnce(t *testing.T, cs []ledger.Customer) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range cs {
		if seen[c.ID] {
			t.Errorf("customer %s returned twice", c.ID)
		}
		seen[c.ID] = true
	}
}

func findCustomer(cs []ledger.Customer, id string) *ledger.Customer {
	for i := range cs {
		if cs[i].ID == id {
			return &cs[i]
		}
	}
	return nil
}

func byCustomerID(a, b ledger.Customer) int { return strings.Compare(a.ID, b.ID) }

func reversed(cs []ledger.Customer) []ledger.Customer {
	out := slices.Clone(cs)
	slices.Reverse(out)
	return out
}

func customerIDs(cs []ledger.Customer) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// testViewStale checks that ViewStale reads and passes the closure's error
// back. How stale it may be is the backend's to say (CockroachDB's follower
// reads lag by seconds), so freshness is not asserted: only that data
// committed long enough ago, or always on backends without stale reads, is
// readable through it without error.
func testViewStale(t *testing.T, s ledger.Store) {
	ctx := t.Context()
	c := newCustomer(tenantA, "stale-1")
	if err := s.Update(ctx, func(tx ledger.Tx) error { return tx.PutCustomer(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := s.ViewStale(ctx, func(r ledger.Reader) error {
		var err error
		n, err = r.CountCustomers(ctx, tenantA)
		return err
	}); err != nil {
		t.Fatalf("ViewStale: %v", err)
	}
	if n != 0 && n != 1 {
		t.Errorf("CountCustomers through ViewStale = %d, want 0 (stale) or 1", n)
	}
	sentinel := errors.New("closure failed")
	if err := s.ViewStale(ctx, func(ledger.Reader) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("ViewStale returned %v, want the closure's error", err)
	}
}

// testBulkCustomers: PutCustomers writes and replaces whole rows like
// PutCustomer, and CustomersByID reads back exactly the ones that exist.
func testBulkCustomers(t *testing.T, s ledger.Store) {
	ctx := t.Context()
	full := fullCustomer(tenantA, "bulk-full")
	plain := newCustomer(tenantA, "bulk-plain")
	other := newCustomer(tenantB, "bulk-full") // same id, other tenant
	if err := s.Update(ctx, func(tx ledger.Tx) error {
		if err := tx.PutCustomers(ctx, []ledger.Customer{full, plain}); err != nil {
			return err
		}
		return tx.PutCustomers(ctx, []ledger.Customer{other})
	}); err != nil {
		t.Fatal(err)
	}
	replaced := plain
	replaced.Profile.DisplayName, replaced.State.Count, replaced.Keys.Recovery = "replaced", 7, ptr(-1e6-3.5)
	var got map[string]ledger.Customer
	if err := s.Update(ctx, func(tx ledger.Tx) error {
		if err := tx.PutCustomers(ctx, []ledger.Customer{replaced}); err != nil {
			return err
		}
		var err error
		got, err = tx.CustomersByID(ctx, tenantA, []string{"bulk-full", "bulk-plain", "bulk-missing"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("CustomersByID returned %d customers, want 2: %v", len(got), customerIDs(mapValues(got)))
	}
	equalCustomer(t, "bulk full", got["bulk-full"], full)
	equalCustomer(t, "bulk replaced", got["bulk-plain"], replaced)
	if err := s.Update(ctx, func(tx ledger.Tx) error {
		none, err := tx.CustomersByID(ctx, tenantA, nil)
		if err == nil && len(none) != 0 {
			t.Errorf("CustomersByID(nil) = %d customers", len(none))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// testBulkEvents: AppendEvents inserts every event, EventsByKeys finds the
// holders of keys, and a duplicate key in a bulk insert is ErrDuplicate
// with nothing of that call stored.
func testBulkEvents(t *testing.T, s ledger.Store) {
	ctx := t.Context()
	e1, e2 := fullEvent(tenantA, "bulk-c1", "be-1"), fullEvent(tenantA, "bulk-c2", "be-2")
	e3 := plainEvent(tenantA, "bulk-c1", "be-3", ledger.KindCredit, at(5)) // no key
	if err := s.Update(ctx, func(tx ledger.Tx) error { return tx.AppendEvents(ctx, []ledger.Event{e1, e2, e3}) }); err != nil {
		t.Fatal(err)
	}
	var holders map[ledger.CustomerKey]ledger.Event
	if err := s.View(ctx, func(r ledger.Reader) error {
		hist, err := r.History(ctx, tenantA, "bulk-c1")
		if err == nil && len(hist) != 2 {
			t.Errorf("bulk-c1 history has %d events, want 2", len(hist))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx ledger.Tx) error {
		var err error
		holders, err = tx.EventsByKeys(ctx, tenantA, []ledger.CustomerKey{
			{CustomerID: "bulk-c1", Key: e1.IdempotencyKey},
			{CustomerID: "bulk-c2", Key: e2.IdempotencyKey},
			{CustomerID: "bulk-c1", Key: e2.IdempotencyKey}, // another customer's key
			{CustomerID: "bulk-c9", Key: "nope"},
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(holders) != 2 {
		t.Fatalf("EventsByKeys found %d holders, want 2", len(holders))
	}
	equalEvent(t, "holder of e1's key", holders[ledger.CustomerKey{CustomerID: "bulk-c1", Key: e1.IdempotencyKey}], e1)
	equalEvent(t, "holder of e2's key", holders[ledger.CustomerKey{CustomerID: "bulk-c2", Key: e2.IdempotencyKey}], e2)

	dup := fullEvent(tenantA, "bulk-c1", "be-4")
	dup.IdempotencyKey = e1.IdempotencyKey
	fresh := plainEvent(tenantA, "bulk-c3", "be-5", ledger.KindCredit, at(6))
	err := s.Update(ctx, func(tx ledger.Tx) error { return tx.AppendEvents(ctx, []ledger.Event{fresh, dup}) })
	if !errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("AppendEvents with a taken key = %v, want ErrDuplicate", err)
	}
	if err := s.View(ctx, func(r ledger.Reader) error {
		hist, err := r.History(ctx, tenantA, "bulk-c3")
		if err == nil && len(hist) != 0 {
			t.Errorf("a failed AppendEvents left %d events behind", len(hist))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func mapValues(m map[string]ledger.Customer) []ledger.Customer {
	out := make([]ledger.Customer, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	return out
}
