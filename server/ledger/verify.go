package ledger

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Mismatch is one place where the stored ledger disagrees with itself: a
// materialized field that differs from the replay of the customer's
// history, or an event-log invariant that does not hold.
type Mismatch struct {
	Tenant string
	// CustomerID is the customer concerned; "" for a finding about a range
	// of customers (events with no customer row).
	CustomerID string
	// Field names what differs: a materialized field of the customer row
	// (value_at_last, event_count, last_event_id, balance_rank, ...) or an
	// invariant of the log (reversal, idempotency_key, event_id, events).
	Field string
	// Stored is what the store holds; Want is what the replay or the
	// invariant says it should be.
	Stored, Want string
	// Detail says more, in words, when Stored and Want do not say it all.
	Detail string
}

func (m Mismatch) String() string {
	s := fmt.Sprintf("tenant %q customer %q: %s", m.Tenant, m.CustomerID, m.Field)
	if m.Stored != "" || m.Want != "" {
		s += fmt.Sprintf(": stored %s, replay gives %s", m.Stored, m.Want)
	}
	if m.Detail != "" {
		s += " (" + m.Detail + ")"
	}
	return s
}

// VerifySummary counts what Verify checked.
type VerifySummary struct {
	Tenants    int
	Customers  int64
	Events     int64
	Mismatches int64
}

// verifyPage is how many customers one Verify snapshot reads.
const verifyPage = 200

// verifyRelTol is the relative tolerance for materialized floats. The
// incremental path and Replay run the same operations in the same order, so
// equal states are bit-identical in practice; the tolerance only forgives
// rounding, never a changed event.
const verifyRelTol = 1e-9

// verifyKeyRelTol is the relative tolerance for ranking keys: they sit near
// ±1e6 (rankOffset), so 1e-12 of them is about 1e-6 in log2 of a balance.
const verifyKeyRelTol = 1e-12

// Verify recomputes every customer's state, in every tenant, from its event
// log and compares it with the stored (materialized) state and ranking keys,
// and checks the log's invariants: every reversal names an existing,
// non-reversal event of the same customer, no event is reversed twice,
// event ids and idempotency keys are unique per customer, and no event
// belongs to a customer without a row. It calls report for every
// mismatch and returns what it checked; the error is for failures to read,
// not for mismatches.
//
// It reads through Store.View in pages of customers: each customer's row
// and history come from one snapshot, so Verify may run beside a live
// server (a customer written between two pages is checked in its later
// state).
func (s *Service) Verify(ctx context.Context, report func(Mismatch)) (VerifySummary, error) {
	var sum VerifySummary
	var tenants []string
	err := s.store.View(ctx, func(r Reader) error {
		var err error
		tenants, err = r.Tenants(ctx)
		return err
	})
	if err != nil {
		return sum, fmt.Errorf("list tenants: %w", err)
	}
	emit := func(m Mismatch) {
		sum.Mismatches++
		report(m)
	}
	for _, tenant := range tenants {
		sum.Tenants++
		if err := s.verifyTenant(ctx, tenant, &sum, emit); err != nil {
			return sum, fmt.Errorf("tenant %q: %w", tenant, err)
		}
	}
	return sum, nil
}

func (s *Service) verifyTenant(ctx context.Context, tenant string, sum *VerifySummary, report func(Mismatch)) error {
	after := ""
	for {
		var (
			page  []Customer
			found []Mismatch
			// events counts distinct events read through the page's
			// histories; inRange counts every event stored for the
			// page's range of customer ids.
			events, inRange int64
		)
		err := s.store.View(ctx, func(r Reader) error {
			page, found, events, inRange = nil, nil, 0, 0 // View may retry
			var err error
			if page, err = r.Customers(ctx, tenant, after, verifyPage); err != nil {
				return err
			}
			for _, c := range page {
				hist, err := r.History(ctx, tenant, c.ID)
				if err != nil {
					return fmt.Errorf("customer %q: history: %w", c.ID, err)
				}
				pol, err := s.policyAt(ctx, r, tenant, c.PolicyVersion)
				if errors.Is(err, ErrNotFound) {
					pol = nil
				} else if err != nil {
					return fmt.Errorf("customer %q: policy version %d: %w", c.ID, c.PolicyVersion, err)
				}
				n, ms := verifyCustomer(pol, c, hist)
				events += n
				found = append(found, ms...)
			}
			through := ""
			if len(page) == verifyPage {
				through = page[len(page)-1].ID
			}
			inRange, err = r.CountEvents(ctx, tenant, after, through)
			return err
		})
		if err != nil {
			return err
		}
		sum.Customers += int64(len(page))
		sum.Events += events
		for _, m := range found {
			m.Tenant = tenant
			report(m)
		}
		if inRange != events {
			last := "the end"
			if len(page) == verifyPage {
				last = strconv.Quote(page[len(page)-1].ID)
			}
			report(Mismatch{Tenant: tenant, Field: "events", Stored: strconv.FormatInt(inRange, 10),
				Want: strconv.FormatInt(events, 10),
				Detail: fmt.Sprintf("events stored for customer ids after %q through %s, against the events of the customer rows there: "+
					"some events belong to no customer row", after, last)})
		}
		if len(page) < verifyPage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// verifyCustomer checks one customer row against its history under pol (nil
// when the row's policy version does not exist). It returns the number of
// distinct events in the history and the mismatches, without Tenant.
func verifyCustomer(pol *Policy, c Customer, hist []Event) (int64, []Mismatch) {
	var out []Mismatch
	add := func(field, stored, want, detail string) {
		out = append(out, Mismatch{CustomerID: c.ID, Field: field, Stored: stored, Want: want, Detail: detail})
	}

	// The log's invariants.
	byID := make(map[string]Event, len(hist))
	byKey := map[string]string{}
	for _, e := range hist {
		if _, dup := byID[e.ID]; dup {
			// A store derives ReversedByEventID with a join: an event
			// reversed twice comes back twice.
			if e.ReversedByEventID == "" {
				add("event_id", "", "", fmt.Sprintf("event %s is stored more than once", e.ID))
			}
			continue
		}
		byID[e.ID] = e
		if e.CustomerID != c.ID {
			add("customer_id", e.CustomerID, c.ID, fmt.Sprintf("event %s in this customer's history names another customer", e.ID))
		}
		if e.IdempotencyKey == "" {
			continue
		}
		if prev, dup := byKey[e.IdempotencyKey]; dup {
			add("idempotency_key", "", "", fmt.Sprintf("key %q is held by events %s and %s", e.IdempotencyKey, prev, e.ID))
			continue
		}
		byKey[e.IdempotencyKey] = e.ID
	}
	reversers := map[string][]string{} // reversed event -> its reversals
	for _, e := range byID {
		if e.Kind != KindReversal {
			if e.ReversesEventID != "" {
				add("reverses_event_id", "", "", fmt.Sprintf("%s event %s names a reversed event (%s) but is no reversal", e.Kind, e.ID, e.ReversesEventID))
			}
			continue
		}
		target, ok := byID[e.ReversesEventID]
		switch {
		case e.ReversesEventID == "":
			add("reversal", "", "", fmt.Sprintf("reversal %s names no event", e.ID))
		case !ok:
			add("reversal", "", "", fmt.Sprintf("reversal %s reverses event %s, which is not an event of this customer", e.ID, e.ReversesEventID))
		case target.Kind == KindReversal:
			add("reversal", "", "", fmt.Sprintf("reversal %s reverses another reversal, %s", e.ID, target.ID))
		default:
			reversers[target.ID] = append(reversers[target.ID], e.ID)
		}
	}
	for target, revs := range reversers {
		if len(revs) > 1 {
			add("reversal", "", "", fmt.Sprintf("event %s is reversed %d times (by %v)", target, len(revs), revs))
		}
	}

	if pol == nil {
		add("policy_version", strconv.FormatInt(c.PolicyVersion, 10), "an installed version",
			"the row's policy version does not exist, so its state cannot be replayed")
		return int64(len(byID)), out
	}
	unique := make([]Event, 0, len(byID))
	for _, e := range byID {
		unique = append(unique, e) // Replay sorts
	}
	n := int64(len(unique))

	// The materialized state against the replay, field by field.
	got, want := c.State, pol.Replay(unique, time.Time{})
	floatField := func(field string, g, w float64) {
		tol := verifyRelTol
		if field == "balance_rank" || field == "recovery_key" || field == "advocacy_key" {
			tol = verifyKeyRelTol
		}
		if !closeTo(g, w, tol) {
			add(field, fmtFloat(g), fmtFloat(w), "")
		}
	}
	timeField := func(field string, g, w time.Time) {
		if !g.Equal(w) {
			add(field, fmtVerifyTime(g), fmtVerifyTime(w), "")
		}
	}
	floatField("value_at_last", got.Value, want.Value)
	if got.Count != want.Count {
		add("event_count", strconv.FormatInt(got.Count, 10), strconv.FormatInt(want.Count, 10), "")
	}
	timeField("last_at", got.Last.At, want.Last.At)
	if got.Last.Kind != want.Last.Kind {
		add("last_kind", got.Last.Kind.String(), want.Last.Kind.String(), "")
	}
	if got.Last.Fingerprint != want.Last.Fingerprint {
		add("last_fingerprint", strconv.Quote(got.Last.Fingerprint), strconv.Quote(want.Last.Fingerprint), "")
	}
	if got.Last.ID != want.Last.ID {
		add("last_event_id", strconv.Quote(got.Last.ID), strconv.Quote(want.Last.ID), "")
	}
	timeField("last_notice_at", got.LastNoticeAt, want.LastNoticeAt)
	timeField("last_grievance_at", got.LastGrievanceAt, want.LastGrievanceAt)
	if got.LastGrievanceKind != want.LastGrievanceKind {
		add("last_grievance_kind", got.LastGrievanceKind.String(), want.LastGrievanceKind.String(), "")
	}
	timeField("last_remedy_at", got.LastRemedyAt, want.LastRemedyAt)
	floatField("trend", got.Trend, want.Trend)

	// The stored ranking keys against what the policy computes for the
	// replayed state (so a wrong state is reported once, as the state).
	replayed := c
	replayed.State = want
	wk := pol.KeysOf(replayed)
	floatField("balance_rank", c.Keys.Rank, wk.Rank)
	optField := func(field string, g, w *float64) {
		switch {
		case g == nil && w == nil:
		case g == nil || w == nil:
			add(field, fmtOptFloat(g), fmtOptFloat(w), "")
		default:
			floatField(field, *g, *w)
		}
	}
	optField("recovery_key", c.Keys.Recovery, wk.Recovery)
	optField("advocacy_key", c.Keys.Advocacy, wk.Advocacy)
	return n, out
}

// closeTo reports whether a and b agree within a relative tolerance (an
// absolute one near zero, where Apply snaps dust below rankFloor).
func closeTo(a, b, rel float64) bool {
	if a == b {
		return true
	}
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return false
	}
	return math.Abs(a-b) <= max(rel*max(math.Abs(a), math.Abs(b)), rankFloor/10)
}

func fmtOptFloat(f *float64) string {
	if f == nil {
		return "none"
	}
	return fmtFloat(*f)
}

func fmtVerifyTime(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
