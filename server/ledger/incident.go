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
	if err := checkID("incident_id", in.ID, l.MaxIDLength); err != nil {
		return err
	}
	if len(in.CustomerIDs) == 0 {
		return Invalid("customer_ids", "must name at least one customer")
	}
	if len(in.CustomerIDs) > l.MaxIncidentCustomers {
		return Invalid("customer_ids", "must name at most %d customers", l.MaxIncidentCustomers)
	}
	seen := make(map[string]bool, len(in.CustomerIDs))
	for i, id := range in.CustomerIDs {
		field := fmt.Sprintf("customer_ids[%d]", i)
		if err := checkID(field, id, l.MaxIDLength); err != nil {
			return err
		}
		if seen[id] {
			return Invalid(field, "repeats customer %q", id)
		}
		seen[id] = true
	}
	if err := l.checkPositive("duration_hours", in.DurationHours, l.MaxIncidentHours); err != nil {
		return err
	}
	if in.Severity != nil {
		if err := l.checkPositive("severity", *in.Severity, l.MaxSeverity); err != nil {
			return err
		}
	}
	if !in.StartedAt.IsZero() {
		if err := l.checkTime("started_at", in.StartedAt, now); err != nil {
			return err
		}
	}
	if !in.NoticeAt.IsZero() {
		if err := l.checkTime("notice_at", in.NoticeAt, now); err != nil {
			return err
		}
		started := in.StartedAt
		if started.IsZero() {
			started = now
		}
		if in.NoticeAt.After(started) {
			return Invalid("notice_at", "must not be after started_at")
		}
	}
	if in.Credit != nil {
		if err := l.checkPositive("credit", *in.Credit, l.MaxMagnitude); err != nil {
			return err
		}
	}
	if err := checkText("note", in.Note, l.MaxNoteLength); err != nil {
		return err
	}
	return checkText("source", in.Source, l.MaxSourceLength)
}

// incidentEvents returns the events one customer gets from an incident, in
// time order: the notice, the outage, the credit. Their keys and
// fingerprints derive from the incident alone (a defaulted start time is
// left out), so a repeated call finds them and changes nothing. start is
// the resolved start time.
func (s *Service) incidentEvents(tenant, customerID string, in Incident, start, now time.Time) []Event {
	supplied := !in.StartedAt.IsZero()
	severity := 1.0
	if in.Severity != nil {
		severity = *in.Severity
	}
	credit := 0.0
	if in.Credit != nil {
		credit = *in.Credit
	}
	notice := in.NoticeAt.UTC().Truncate(time.Microsecond)
	fp := fingerprint("incident", in.ID, fmtFloat(in.DurationHours), fmtFloat(severity),
		fmtTime(start, supplied), fmtTime(notice, !in.NoticeAt.IsZero()), fmtFloat(credit), in.Note, in.Source)
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
		out = append(out, mk("notice", KindProactiveNotice, 1, notice))
	}
	out = append(out, mk("outage", KindOutage, in.DurationHours*severity, start))
	if in.Credit != nil {
		// The credit is given when the outage ends, or now if it has not
		// ended yet: a ledger holds no events from the future.
		end := start.Add(time.Duration(in.DurationHours * float64(time.Hour)))
		if end.After(now) {
			end = laterOf(now, start)
		}
		out = append(out, mk("credit", KindCredit, credit, end))
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
	start, err := s.incidentStart(ctx, tenant, in, now)
	if err != nil {
		return IncidentResult{}, err
	}
	res := IncidentResult{Customers: len(in.CustomerIDs), Conflicts: map[string]error{}}
	for lo := 0; lo < len(in.CustomerIDs); lo += s.limits.IncidentChunk {
		chunk := in.CustomerIDs[lo:min(lo+s.limits.IncidentChunk, len(in.CustomerIDs))]
		byCustomer := make([][]Event, len(chunk))
		for i, id := range chunk {
			byCustomer[i] = s.incidentEvents(tenant, id, in, start, now)
		}
		var created, replayed int
		var conflicts map[string]error
		err := s.store.Update(ctx, func(tx Tx) error {
			created, replayed, conflicts = 0, 0, map[string]error{}
			pol, err := s.active(ctx, tx, tenant)
			if err != nil {
				return err
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

// incidentStart resolves when the outage began. Given, it is used as is.
// Defaulted, it is now -- unless an earlier call with the same first
// customer already recorded this incident: then its start is reused, so a
// call retried after failing part way gives every customer the same times.
func (s *Service) incidentStart(ctx context.Context, tenant string, in Incident, now time.Time) (time.Time, error) {
	if !in.StartedAt.IsZero() {
		return in.StartedAt.UTC().Truncate(time.Microsecond), nil
	}
	start := now
	err := s.store.View(ctx, func(r Reader) error {
		prev, err := r.EventByKey(ctx, tenant, in.CustomerIDs[0], incidentKeyPrefix+in.ID+":outage")
		switch {
		case err == nil:
			start = prev.OccurredAt
		case !errors.Is(err, ErrNotFound):
			return err
		}
		return nil
	})
	return start, err
}
