package storetest

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

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
		Watch: ledger.Watch{Status: ledger.StatusOverdrawn, Advocate: true, Seq: 1<<40 + 9, DueAt: at(90).Add(3 * time.Microsecond)},
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
