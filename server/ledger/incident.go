package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// incidentKeyPrefix starts the idempotency keys of events RecordIncident
// writes; clients may not use it, so incident events never collide with
// theirs.
const incidentKeyPrefix = "incident:"

// Incident is one outage affecting many customers.
type Incident struct {
	ID            string
	CustomerIDs   []string
	DurationHours float64
	// Severity multiplies the outage (1 when nil).
	Severity *float64
	// StartedAt defaults to now when zero.
	StartedAt time.Time
	// NoticeAt, when set, adds a PROACTIVE_NOTICE at that time.
	NoticeAt time.Time
	// Credit, when set, adds a CREDIT of that amount when the outage ends.
	Credit *float64
	Note   string
	Source string
}

// IncidentResult counts what RecordIncident did.
type IncidentResult struct {
	Customers int
	Created   int
	Replayed  int
	// Conflicts maps customer ids to why nothing was written for them.
	Conflicts map[string]error
}

func (s *Service) checkIncident(in Incident, now time.Time) error {
	l := s.limits
	var v violations
	v.add(checkID("incident_id", in.ID, l.MaxIDLength))
	switch {
	case len(in.CustomerIDs) == 0:
		v.add(Invalid("customer_ids", "must name at least one customer"))
	case len(in.CustomerIDs) > l.MaxIncidentCustomers:
		v.add(Invalid("customer_ids", "must name at most %d customers", l.MaxIncidentCustomers))
	default:
		seen := make(map[string]bool, len(in.CustomerIDs))
		for i, id := range in.CustomerIDs {
			field := fmt.Sprintf("customer_ids[%d]", i)
			if v.add(checkID(field, id, l.MaxIDLength)) && seen[id] {
				v.add(Invalid(field, "repeats customer %q", id))
			}
			seen[id] = true
		}
	}
	v.add(l.checkPositive("duration_hours", in.DurationHours, l.MaxIncidentHours))
	if in.Severity != nil {
		v.add(l.checkPositive("severity", *in.Severity, l.MaxSeverity))
	}
	if !in.StartedAt.IsZero() {
		v.add(l.checkTime("started_at", in.StartedAt, now))
	}
	if !in.NoticeAt.IsZero() {
		v.add(l.checkTime("notice_at", in.NoticeAt, now))
	}
	if in.Credit != nil {
		v.add(l.checkPositive("credit", *in.Credit, l.MaxMagnitude))
	}
	v.add(checkText("note", in.Note, l.MaxNoteLength))
	v.add(checkText("source", in.Source, l.MaxSourceLength))
	return v.err()
}

// incidentTimes are when an incident's events occur for every customer.
type incidentTimes struct {
	start  time.Time
	credit time.Time
}

// incidentFingerprint identifies an incident call's payload. A defaulted
// start time is left out (it is resolved, not sent), so a repeated call
// finds the events of the first and changes nothing.
func incidentFingerprint(in Incident) string {
	severity := 1.0
	if in.Severity != nil {
		severity = *in.Severity
	}
	credit := 0.0
	if in.Credit != nil {
		credit = *in.Credit
	}
	return fingerprint("incident", in.ID, fmtFloat(in.DurationHours), fmtFloat(severity),
		fmtTime(in.StartedAt.UTC().Truncate(time.Microsecond), !in.StartedAt.IsZero()),
		fmtTime(in.NoticeAt.UTC().Truncate(time.Microsecond), !in.NoticeAt.IsZero()), fmtFloat(credit), in.Note, in.Source)
}

// resolveIncidentTimes decides when an incident's outage began and when its
// credit is given, the same for every customer of the incident, whichever
// customers a call lists and in whatever order:
//
//   - a given start is used as is (never later than now: the ledger holds
//     no events from the future);
//   - a defaulted start is the one an earlier call recorded for any
//     customer of the incident, else now;
//   - the credit is given when the outage ends, or now if it has not ended
//     yet; if an earlier identical call already gave it, at that time.
//
// It also checks notice_at against the resolved start.
func (s *Service) resolveIncidentTimes(ctx context.Context, r Reader, tenant string, in Incident, now time.Time) (incidentTimes, error) {
	var t incidentTimes
	if !in.StartedAt.IsZero() {
		t.start = notFuture(in.StartedAt.UTC().Truncate(time.Microsecond), now)
	} else {
		prev, err := r.IncidentEvent(ctx, tenant, in.ID, KindOutage)
		switch {
		case err == nil:
			t.start = prev.OccurredAt
		case errors.Is(err, ErrNotFound):
			t.start = now
		default:
			return t, err
		}
	}
	switch {
	case in.NoticeAt.IsZero():
	case !in.StartedAt.IsZero():
		if in.NoticeAt.After(in.StartedAt) {
			return t, Invalid("notice_at", "must not be after started_at")
		}
	case in.NoticeAt.After(t.start):
		return t, Invalid("notice_at", "must not be after the incident's start, %s (started_at was not given, so "+
			"the incident started when an earlier call recorded it, or now)", t.start.Format(time.RFC3339Nano))
	}
	if in.Credit == nil {
		return t, nil
	}
	t.credit = t.start.Add(time.Duration(in.DurationHours * float64(time.Hour)))
	if t.credit.After(now) {
		t.credit = now
	}
	prev, err := r.IncidentEvent(ctx, tenant, in.ID, KindCredit)
	switch {
	case err == nil && prev.Fingerprint == fingerprint(incidentFingerprint(in), "credit"):
		t.credit = prev.OccurredAt
	case err != nil && !errors.Is(err, ErrNotFound):
		return t, err
	}
	return t, nil
}

// incidentEvents returns the events one customer gets from an incident, in
// time order: the notice, the outage, the credit. Their keys and
// fingerprints derive from the incident alone, so a repeated call finds
// them and changes nothing.
func (s *Service) incidentEvents(tenant, customerID string, in Incident, fp string, t incidentTimes, now time.Time) []Event {
	severity := 1.0
	if in.Severity != nil {
		severity = *in.Severity
	}
	mk := func(role string, kind Kind, mag float64, at time.Time) Event {
		return Event{
			TenantID:       tenant,
			CustomerID:     customerID,
			ID:             s.newID(),
			Kind:           kind,
			Magnitude:      mag,
			OccurredAt:     at,
			RecordedAt:     now,
			IdempotencyKey: incidentKeyPrefix + in.ID + ":" + role,
			Fingerprint:    fingerprint(fp, role),
			Source:         in.Source,
			Note:           in.Note,
			IncidentID:     in.ID,
		}
	}
	var out []Event
	if !in.NoticeAt.IsZero() {
		out = append(out, mk("notice", KindProactiveNotice, 1, notFuture(in.NoticeAt.UTC().Truncate(time.Microsecond), now)))
	}
	out = append(out, mk("outage", KindOutage, in.DurationHours*severity, t.start))
	if in.Credit != nil {
		out = append(out, mk("credit", KindCredit, *in.Credit, t.credit))
	}
	return out
}

// RecordIncident fans one outage out to every affected customer. Customers
// are written in chunks of Limits.IncidentChunk, each chunk one transaction;
// should a call fail part way, repeating it completes the rest without
// doubling anything.
func (s *Service) RecordIncident(ctx context.Context, tenant string, in Incident) (IncidentResult, error) {
	now := s.clock()
	if err := s.checkIncident(in, now); err != nil {
		return IncidentResult{}, err
	}
	// Resolve the times once before writing, so a notice after the
	// resolved start is refused before any customer is written.
	if err := s.store.View(ctx, func(r Reader) error {
		_, err := s.resolveIncidentTimes(ctx, r, tenant, in, now)
		return err
	}); err != nil {
		return IncidentResult{}, err
	}
	fp := incidentFingerprint(in)
	res := IncidentResult{Customers: len(in.CustomerIDs), Conflicts: map[string]error{}}
	for lo := 0; lo < len(in.CustomerIDs); lo += s.limits.IncidentChunk {
		chunk := in.CustomerIDs[lo:min(lo+s.limits.IncidentChunk, len(in.CustomerIDs))]
		var created, replayed int
		var conflicts map[string]error
		err := s.store.Update(ctx, func(tx Tx) error {
			created, replayed, conflicts = 0, 0, map[string]error{}
			pol, err := s.active(ctx, tx, tenant)
			if err != nil {
				return err
			}
			// Again inside the writing transaction: a concurrent first call
			// for the same incident may have recorded its start since, and
			// serializable isolation makes this read and that write agree.
			times, err := s.resolveIncidentTimes(ctx, tx, tenant, in, now)
			if err != nil {
				return err
			}
			byCustomer := make([][]Event, len(chunk))
			for i, id := range chunk {
				byCustomer[i] = s.incidentEvents(tenant, id, in, fp, times, now)
			}
			// A customer's incident events are all-or-nothing: if any of
			// its keys holds a different event, none is written.
			var keys []CustomerKey
			for _, evs := range byCustomer {
				for _, e := range evs {
					keys = append(keys, CustomerKey{e.CustomerID, e.IdempotencyKey})
				}
			}
			holders, err := tx.EventsByKeys(ctx, tenant, keys)
			if err != nil {
				return err
			}
			var events []Event
			for i, evs := range byCustomer {
				clash := false
				for _, e := range evs {
					if prev, ok := holders[CustomerKey{e.CustomerID, e.IdempotencyKey}]; ok && prev.Fingerprint != e.Fingerprint {
						clash = true
					}
				}
				if clash {
					conflicts[chunk[i]] = conflict("incident_id",
						"customer %q already has different events for incident %q", chunk[i], in.ID)
					continue
				}
				events = append(events, evs...)
			}
			recs, err := s.recordBatch(ctx, tx, pol, tenant, events, now)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.rec.Replayed {
					replayed++
				} else {
					created++
				}
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		res.Created += created
		res.Replayed += replayed
		for id, err := range conflicts {
			res.Conflicts[id] = err
		}
	}
	return res, nil
}
