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

// Incident is one outage affecting many customers, with what came with it:
// a warning before, a promise broken during, a credit after.
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
	// BrokenPromiseAt, when set, adds a BROKEN_PROMISE at that time: a
	// promise about the incident (a restore time) that was not kept.
	BrokenPromiseAt time.Time
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
	if !in.BrokenPromiseAt.IsZero() {
		v.add(l.checkTime("broken_promise_at", in.BrokenPromiseAt, now))
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
	notice, start, promise, credit time.Time
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

// promiseFingerprint identifies an incident's broken promise. It is kept
// out of the incident's own fingerprint, so a promise broken after the
// incident was recorded is added by repeating the call with
// broken_promise_at: the outage, notice and credit replay, the promise is
// new. (It also leaves the fingerprints of incidents recorded before the
// field existed as they were.)
func promiseFingerprint(fp string, in Incident) string {
	return fingerprint(fp, "promise", fmtTime(in.BrokenPromiseAt.UTC().Truncate(time.Microsecond), true))
}

// resolveIncidentTimes decides when an incident's events occur, the same
// for every customer of the incident whichever customers a call lists, in
// whatever order, and however long after the first call:
//
//   - an event an earlier call with this payload already recorded (for any
//     customer) keeps its time: the call is a replay for the customers it
//     adds;
//   - otherwise a given start or notice is used as given, but never later
//     than now (the ledger holds no events from the future);
//   - a defaulted start is the one any earlier call recorded, else now;
//   - the credit is the one any earlier call gave, else given when the
//     outage ends, or now if it has not ended yet (never before the start).
//
// It also checks notice_at against the start. Its messages name no time
// from the ledger: a writer-only key must not read another key's events.
func (s *Service) resolveIncidentTimes(ctx context.Context, r Reader, tenant string, in Incident, now time.Time) (incidentTimes, error) {
	fp := incidentFingerprint(in)
	// earlier returns when an earlier call's event of this kind occurred:
	// one with this payload's fingerprint, or with any ("" ) when any=true.
	earlier := func(kind Kind, role string, any bool) (time.Time, bool, error) {
		mine := fingerprint(fp, role)
		if kind == KindBrokenPromise {
			mine = promiseFingerprint(fp, in)
		}
		for _, f := range []string{mine, ""} {
			if f == "" && !any {
				break
			}
			prev, err := r.IncidentEvent(ctx, tenant, in.ID, kind, f)
			if err == nil {
				return prev.OccurredAt, true, nil
			}
			if !errors.Is(err, ErrNotFound) {
				return time.Time{}, false, err
			}
		}
		return time.Time{}, false, nil
	}
	var t incidentTimes
	at, found, err := earlier(KindOutage, "outage", in.StartedAt.IsZero())
	switch {
	case err != nil:
		return t, err
	case found:
		t.start = at
	case !in.StartedAt.IsZero():
		t.start = notFuture(in.StartedAt.UTC().Truncate(time.Microsecond), now)
	default:
		t.start = now
	}
	if !in.NoticeAt.IsZero() {
		if !in.StartedAt.IsZero() && in.NoticeAt.After(in.StartedAt) {
			return t, Invalid("notice_at", "must not be after started_at")
		}
		if in.StartedAt.IsZero() && in.NoticeAt.After(t.start) {
			return t, Invalid("notice_at", "must not be after the incident's start (started_at was not given, so "+
				"the incident started when its first call recorded it, or now)")
		}
		at, found, err := earlier(KindProactiveNotice, "notice", false)
		switch {
		case err != nil:
			return t, err
		case found:
			t.notice = at
		default:
			t.notice = notFuture(in.NoticeAt.UTC().Truncate(time.Microsecond), now)
		}
		if t.notice.After(t.start) {
			t.notice = t.start
		}
	}
	if !in.BrokenPromiseAt.IsZero() {
		if !in.StartedAt.IsZero() && in.BrokenPromiseAt.Before(in.StartedAt) {
			return t, Invalid("broken_promise_at", "must not be before started_at")
		}
		at, found, err := earlier(KindBrokenPromise, "promise", false)
		switch {
		case err != nil:
			return t, err
		case found:
			t.promise = at
		default:
			t.promise = notFuture(in.BrokenPromiseAt.UTC().Truncate(time.Microsecond), now)
		}
		// A defaulted start (now, or an earlier call's) may fall after it:
		// a promise about the incident is broken no earlier than it began.
		t.promise = laterOf(t.promise, t.start)
	}
	if in.Credit == nil {
		return t, nil
	}
	at, found, err = earlier(KindCredit, "credit", true)
	switch {
	case err != nil:
		return t, err
	case found:
		t.credit = at
	default:
		t.credit = t.start.Add(time.Duration(in.DurationHours * float64(time.Hour)))
		if t.credit.After(now) {
			t.credit = now
		}
	}
	t.credit = laterOf(t.credit, t.start)
	return t, nil
}

// incidentEvents returns the events one customer gets from an incident: the
// notice, the outage, the broken promise, the credit. Their keys and
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
		out = append(out, mk("notice", KindProactiveNotice, 1, t.notice))
	}
	out = append(out, mk("outage", KindOutage, in.DurationHours*severity, t.start))
	if !in.BrokenPromiseAt.IsZero() {
		e := mk("promise", KindBrokenPromise, 1, t.promise)
		e.Fingerprint = promiseFingerprint(fp, in)
		out = append(out, e)
	}
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
		err := s.update(ctx, func(tx Tx) error {
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
			recs, err := s.recordBatch(ctx, tx, pol, tenant, events, batchReads(events), now)
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
