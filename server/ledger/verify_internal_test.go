package ledger

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// verifyCustomer on histories no Service would write (the store's unique
// indexes forbid them too; verify must catch them if those ever fail).
func TestVerifyCustomerInvariants(t *testing.T) {
	t.Parallel()
	pol := DefaultPolicy()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ev := func(id string, k Kind, min int, key string) Event {
		return Event{TenantID: DefaultTenant, CustomerID: "c1", ID: id, Kind: k, Magnitude: 1,
			OccurredAt: t0.Add(time.Duration(min) * time.Minute), IdempotencyKey: key, Fingerprint: "fp-" + id}
	}
	rev := func(id, target string, min int) Event {
		e := ev(id, KindReversal, min, "")
		e.ReversesEventID = target
		return e
	}
	// row returns the customer row the Service would store for hist.
	row := func(hist []Event) Customer {
		c := Customer{TenantID: DefaultTenant, ID: "c1", Profile: Profile{Value: 1}, PolicyVersion: 1}
		c.State = pol.Replay(hist, time.Time{})
		c.Keys = pol.KeysOf(c)
		return c
	}
	base := []Event{ev("e1", KindCredit, 0, "k1"), ev("e2", KindOutage, 1, "k2"), ev("e3", KindResponse, 2, "")}
	with := func(extra ...Event) []Event { return append(slices.Clone(base), extra...) }

	tests := []struct {
		name   string
		hist   []Event
		row    func(c Customer) Customer // tampers the stored row
		fields []string                  // the mismatches expected, in any order
	}{
		{name: "clean", hist: base},
		{name: "clean with a reversal", hist: with(rev("r1", "e2", 3))},
		{name: "value", hist: base, row: func(c Customer) Customer { c.State.Value += 1e-6; return c }, fields: []string{"value_at_last"}},
		{name: "value within tolerance", hist: base, row: func(c Customer) Customer { c.State.Value *= 1 + 1e-12; return c }},
		{name: "count", hist: base, row: func(c Customer) Customer { c.State.Count--; return c }, fields: []string{"event_count"}},
		{name: "last event", hist: base, row: func(c Customer) Customer { c.State.Last.ID = "e2"; return c }, fields: []string{"last_event_id"}},
		{name: "last time and kind", hist: base, row: func(c Customer) Customer {
			c.State.Last.At, c.State.Last.Kind = t0, KindCredit
			return c
		}, fields: []string{"last_at", "last_kind"}},
		{name: "grievance", hist: base, row: func(c Customer) Customer {
			c.State.LastGrievanceAt, c.State.LastGrievanceKind = time.Time{}, KindUnspecified
			return c
		}, fields: []string{"last_grievance_at", "last_grievance_kind"}},
		{name: "remedy and notice", hist: base, row: func(c Customer) Customer {
			c.State.LastRemedyAt, c.State.LastNoticeAt = t0, t0
			return c
		}, fields: []string{"last_remedy_at", "last_notice_at"}},
		{name: "trend", hist: base, row: func(c Customer) Customer { c.State.Trend = -c.State.Trend; return c }, fields: []string{"trend"}},
		{name: "rank", hist: base, row: func(c Customer) Customer { c.Keys.Rank += 0.001; return c }, fields: []string{"balance_rank"}},
		{name: "recovery key missing", hist: []Event{ev("e1", KindOutage, 0, "")}, row: func(c Customer) Customer {
			c.Keys.Recovery = nil
			return c
		}, fields: []string{"recovery_key"}},
		{name: "advocacy key present", hist: base, row: func(c Customer) Customer {
			v := -1.0
			c.Keys.Advocacy = &v
			return c
		}, fields: []string{"advocacy_key"}},
		{name: "unknown policy version", hist: base, row: func(c Customer) Customer { c.PolicyVersion = 9; return c }, fields: []string{"policy_version"}},
		{name: "reversal of a missing event", hist: with(rev("r1", "e9", 3)), fields: []string{"reversal"}},
		{name: "reversal names nothing", hist: with(rev("r1", "", 3)), fields: []string{"reversal"}},
		{name: "reversal of a reversal", hist: with(rev("r1", "e2", 3), rev("r2", "r1", 4)), fields: []string{"reversal"}},
		{name: "event reversed twice", hist: with(rev("r1", "e2", 3), rev("r2", "e2", 4)), fields: []string{"reversal"}},
		{name: "idempotency key twice", hist: with(ev("e4", KindEngagement, 5, "k1")), fields: []string{"idempotency_key"}},
		// The row counted the event once: only the duplicate is reported.
		{name: "event stored twice", hist: with(base[0]), row: func(Customer) Customer { return row(base) }, fields: []string{"event_id"}},
		{name: "event of another customer", hist: with(func() Event { e := ev("e5", KindEngagement, 6, ""); e.CustomerID = "c2"; return e }()),
			fields: []string{"customer_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := row(tt.hist)
			if tt.row != nil {
				c = tt.row(c)
			}
			p := pol
			if c.PolicyVersion != pol.Version {
				p = nil // what Verify passes for a version it cannot find
			}
			n, found := verifyCustomer(p, c, tt.hist)
			var got []string
			for _, m := range found {
				if m.CustomerID != "c1" {
					t.Errorf("mismatch names customer %q, want c1: %s", m.CustomerID, m)
				}
				got = append(got, m.Field)
			}
			slices.Sort(got)
			want := slices.Clone(tt.fields)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("fields %q, want %q; mismatches: %v", got, want, fmt.Sprint(found))
			}
			if n == 0 {
				t.Errorf("counted no events")
			}
		})
	}
}
