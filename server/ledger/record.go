package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// NewEvent is an event as a client sends it.
type NewEvent struct {
	CustomerID string
	Kind       Kind
	// Magnitude defaults to 1 when nil.
	Magnitude *float64
	// OccurredAt defaults to the time of recording when zero.
	OccurredAt     time.Time
	IdempotencyKey string
	Source         string
	Note           string
	Attributes     map[string]string
}

// Recorded is the result of appending one event.
type Recorded struct {
	Event   Event
	Balance Balance
	// Replayed is true when an earlier identical event held the key and
	// nothing was written.
	Replayed bool
}

// Outcome says what happened to one item of a batch.
type Outcome int

const (
	OutcomeCreated Outcome = iota + 1
	OutcomeReplayed
	OutcomeConflict
)

// ItemResult is the result of one item of RecordEvents.
type ItemResult struct {
	Outcome Outcome
	// Event is the new event, or the earlier one holding the key.
	Event Event
	// Err is set when Outcome is OutcomeConflict.
	Err error
}

// event builds the stored form of a validated NewEvent.
func (s *Service) event(tenant string, ne NewEvent, now time.Time) Event {
	mag := 1.0
	if ne.Magnitude != nil {
		mag = *ne.Magnitude
	}
	at := ne.OccurredAt.UTC().Truncate(time.Microsecond)
	supplied := !ne.OccurredAt.IsZero()
	if !supplied {
		at = now
	}
	// The fingerprint takes the time as sent, so a retry matches; the
	// stored time never lies ahead of the recording (see notFuture).
	fp := fingerprint("event", ne.Kind.String(), fmtFloat(mag), fmtTime(at, supplied),
		ne.Source, ne.Note, fmtAttrs(ne.Attributes))
	return Event{
		TenantID:       tenant,
		CustomerID:     ne.CustomerID,
		ID:             s.newID(),
		Kind:           ne.Kind,
		Magnitude:      mag,
		OccurredAt:     notFuture(at, now),
		RecordedAt:     now,
		IdempotencyKey: ne.IdempotencyKey,
		Fingerprint:    fp,
		Source:         ne.Source,
		Note:           ne.Note,
		Attributes:     ne.Attributes,
	}
}

// notFuture clamps an event time to the moment of recording. A client's
// clock may run a little ahead of the server's (Limits.MaxFutureSkew allows
// it), but the ledger holds no events from the future: otherwise a balance
// read "now" would leave out an event that the stored state, the ranking
// keys and the outreach lists already count, and they would disagree.
func notFuture(t, now time.Time) time.Time {
	if t.After(now) {
		return now
	}
	return t
}

// RecordEvent appends one event and returns the balance after it. An
// unknown customer is created with defaults. Errors: ErrInvalidArgument,
// ErrConflict (key reused with another payload).
func (s *Service) RecordEvent(ctx context.Context, tenant string, ne NewEvent) (Recorded, error) {
	now := s.clock()
	// The id comes from the request path, so a bad one is named as such,
	// and not again as event.customer_id.
	var v violations
	v.add(checkID("customer_id", ne.CustomerID, s.limits.MaxIDLength))
	if err := s.limits.checkNewEvent("event.", ne, now); err != nil {
		var e *Error
		if errors.As(err, &e) {
			for _, x := range e.Violations() {
				if x.Field != "event.customer_id" {
					v.add(x)
				}
			}
		}
	}
	if err := v.err(); err != nil {
		return Recorded{}, err
	}
	e := s.event(tenant, ne, now)
	if cs := s.running.Load(); cs != nil {
		return cs.submit(ctx, &pending{ctx: ctx, tenant: tenant, e: e, now: now, stamped: ne.OccurredAt.IsZero(),
			done: make(chan recordResult, 1)})
	}
	return s.recordAlone(ctx, tenant, e, now)
}

// recordAlone records one event in its own transaction.
func (s *Service) recordAlone(ctx context.Context, tenant string, e Event, now time.Time) (Recorded, error) {
	var out Recorded
	err := s.update(ctx, func(tx Tx) error {
		pol, err := s.active(ctx, tx, tenant)
		if err != nil {
			return err
		}
		out, err = s.recordOne(ctx, tx, pol, e, now)
		return err
	})
	return out, err
}

// RecordEvents appends many events in one transaction. Every item is
// validated before anything is written; an invalid item fails the whole
// call. An idempotency conflict fails only its item.
func (s *Service) RecordEvents(ctx context.Context, tenant string, items []NewEvent) ([]ItemResult, error) {
	if len(items) == 0 {
		return nil, Invalid("events", "must hold at least one event")
	}
	if len(items) > s.limits.MaxBatch {
		return nil, Invalid("events", "must hold at most %d events", s.limits.MaxBatch)
	}
	now := s.clock()
	events := make([]Event, len(items))
	var v violations
	for i, ne := range items {
		if v.add(s.limits.checkNewEvent(fmt.Sprintf("events[%d].", i), ne, now)) {
			events[i] = s.event(tenant, ne, now)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	var results []ItemResult
	err := s.updateCustomers(ctx, func(tx Tx) error {
		results = make([]ItemResult, len(events)) // the closure may run again
		reads, err := readAhead(ctx, tx, tenant, events)
		if err != nil {
			return err
		}
		pol, err := s.active(ctx, tx, tenant)
		if err != nil {
			return err
		}
		recs, err := s.recordBatch(ctx, tx, pol, tenant, events, reads, now)
		if err != nil {
			return err
		}
		for i, r := range recs {
			switch {
			case r.err != nil:
				results[i] = ItemResult{Outcome: OutcomeConflict, Event: r.rec.Event, Err: r.err}
			case r.rec.Replayed:
				results[i] = ItemResult{Outcome: OutcomeReplayed, Event: r.rec.Event}
			default:
				results[i] = ItemResult{Outcome: OutcomeCreated, Event: r.rec.Event}
			}
		}
		return nil
	})
	return results, err
}

// recordOne records one event inside tx: the batch path with a batch of
// one, so single writes and batches share every rule. On a key conflict it
// returns the earlier event with an ErrConflict error.
func (s *Service) recordOne(ctx context.Context, tx Tx, pol *Policy, e Event, now time.Time) (Recorded, error) {
	res, err := s.recordBatch(ctx, tx, pol, e.TenantID, []Event{e}, batchReads([]Event{e}), now)
	if err != nil {
		return Recorded{}, err
	}
	return res[0].rec, res[0].err
}

// priorByKey looks up the event holding e's idempotency key: replay is true
// when it carries the same payload; an ErrConflict error (with the earlier
// event) when it carries another; neither when the key is free or empty.
// Replays return the original event and the balance now, not the balance
// the first call returned.
func priorByKey(ctx context.Context, r Reader, e Event) (prev Event, replay bool, err error) {
	if e.IdempotencyKey == "" {
		return Event{}, false, nil
	}
	prev, err = r.EventByKey(ctx, e.TenantID, e.CustomerID, e.IdempotencyKey)
	switch {
	case errors.Is(err, ErrNotFound):
		return Event{}, false, nil
	case err != nil:
		return Event{}, false, err
	case prev.Fingerprint != e.Fingerprint:
		return prev, false, keyConflict(e)
	}
	return prev, true, nil
}

// ReverseRequest asks to cancel one event.
type ReverseRequest struct {
	CustomerID     string
	EventID        string
	IdempotencyKey string
	Note           string
	Source         string
}

// ReverseEvent appends a REVERSAL that cancels an event exactly: the
// customer's history replays without it. Errors: ErrNotFound,
// ErrFailedPrecondition (already reversed, or a reversal), ErrConflict.
func (s *Service) ReverseEvent(ctx context.Context, tenant string, rq ReverseRequest) (Recorded, error) {
	l := s.limits
	var v violations
	v.add(checkID("customer_id", rq.CustomerID, l.MaxIDLength))
	v.add(checkID("event_id", rq.EventID, l.MaxIDLength))
	v.add(checkKey("idempotency_key", rq.IdempotencyKey, l.MaxKeyLength))
	v.add(checkText("note", rq.Note, l.MaxNoteLength))
	v.add(checkText("source", rq.Source, l.MaxSourceLength))
	if err := v.err(); err != nil {
		return Recorded{}, err
	}
	now := s.clock()
	rev := Event{
		TenantID:        tenant,
		CustomerID:      rq.CustomerID,
		ID:              s.newID(),
		Kind:            KindReversal,
		OccurredAt:      now,
		RecordedAt:      now,
		IdempotencyKey:  rq.IdempotencyKey,
		Fingerprint:     fingerprint("reversal", rq.EventID, rq.Note, rq.Source),
		Source:          rq.Source,
		Note:            rq.Note,
		ReversesEventID: rq.EventID,
	}
	var out Recorded
	err := s.update(ctx, func(tx Tx) error {
		pol, err := s.active(ctx, tx, tenant)
		if err != nil {
			return err
		}
		c, err := s.customer(ctx, tx, tenant, rq.CustomerID)
		if err != nil {
			return err
		}
		// A retry of a reversal that succeeded must replay, not trip over
		// "already reversed" below.
		if prev, replay, err := priorByKey(ctx, tx, rev); err != nil {
			return err
		} else if replay {
			b, err := s.balanceAt(ctx, tx, pol, c, time.Time{}, now)
			out = Recorded{Event: prev, Balance: b, Replayed: true}
			return err
		}
		orig, err := tx.Event(ctx, tenant, rq.CustomerID, rq.EventID)
		if errors.Is(err, ErrNotFound) {
			return notFound("event %q not found for customer %q", rq.EventID, rq.CustomerID)
		} else if err != nil {
			return err
		}
		if orig.Kind == KindReversal {
			return precondition("event %q is a reversal and cannot be reversed", orig.ID)
		}
		if orig.ReversedByEventID != "" {
			// The reversal's id is not named: a writer-only key must not learn
			// ids of events it did not write (readers find it on the event).
			return precondition("event %q is already reversed", orig.ID)
		}
		r := rev
		r.Magnitude = orig.Magnitude
		out, err = s.recordOne(ctx, tx, pol, r, now)
		return err
	})
	return out, err
}

// keyConflict is the error for an idempotency key that holds another event.
// It names neither that event nor its payload: the caller may be a
// writer-only key, which must learn nothing of events it did not write.
func keyConflict(e Event) error {
	return conflict("idempotency_key",
		"idempotency key %q was already used for a different event", e.IdempotencyKey)
}
