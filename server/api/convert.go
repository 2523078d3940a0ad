package api

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// The domain's Kind values are the API enum's numbers
// (TestKindsMatchTheAPIEnum pins this), so conversion is a cast; the domain
// checks the range.
func kindFromProto(k goodwillv1.EventKind) ledger.Kind { return ledger.Kind(k) }

func kindToProto(k ledger.Kind) goodwillv1.EventKind { return goodwillv1.EventKind(k) }

// timeFromProto converts an optional timestamp; nil becomes the zero time.
func timeFromProto(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, ledger.Invalid(field, "is not a valid timestamp")
	}
	// Reject early times here: 0001-01-01 is Go's zero time, which the
	// domain reads as "not given".
	t := ts.AsTime()
	if err := ledger.CheckEarliest(field, t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// newEventFromProto reads the client-settable fields of an event; output-only
// fields are ignored. prefix is the event's path in the request.
func newEventFromProto(prefix, customerID string, e *goodwillv1.Event) (ledger.NewEvent, error) {
	if e == nil {
		e = &goodwillv1.Event{}
	}
	at, err := timeFromProto(prefix+"occurred_at", e.GetOccurredAt())
	if err != nil {
		return ledger.NewEvent{}, err
	}
	ne := ledger.NewEvent{
		CustomerID:     customerID,
		Kind:           kindFromProto(e.GetKind()),
		OccurredAt:     at,
		IdempotencyKey: e.GetIdempotencyKey(),
		Source:         e.GetSource(),
		Note:           e.GetNote(),
		Attributes:     e.GetAttributes(),
	}
	if e.Magnitude != nil {
		m := e.GetMagnitude()
		ne.Magnitude = &m
	}
	return ne, nil
}

func eventToProto(e ledger.Event) *goodwillv1.Event {
	mag := e.Magnitude
	return &goodwillv1.Event{
		EventId:           e.ID,
		CustomerId:        e.CustomerID,
		Kind:              kindToProto(e.Kind),
		Magnitude:         &mag,
		OccurredAt:        timeToProto(e.OccurredAt),
		RecordedAt:        timeToProto(e.RecordedAt),
		IdempotencyKey:    e.IdempotencyKey,
		Source:            e.Source,
		Note:              e.Note,
		Attributes:        e.Attributes,
		IncidentId:        e.IncidentID,
		ReversesEventId:   e.ReversesEventID,
		ReversedByEventId: e.ReversedByEventID,
	}
}

func customerToProto(c ledger.Customer) *goodwillv1.Customer {
	v := c.Profile.Value
	return &goodwillv1.Customer{
		CustomerId:     c.ID,
		DisplayName:    c.Profile.DisplayName,
		Segment:        c.Profile.Segment,
		Value:          &v,
		OverdraftLimit: c.Profile.OverdraftLimit,
		Attributes:     c.Profile.Attributes,
		CreatedAt:      timeToProto(c.CreatedAt),
		UpdatedAt:      timeToProto(c.UpdatedAt),
	}
}

func profileFromProto(c *goodwillv1.Customer) ledger.Profile {
	if c == nil {
		c = &goodwillv1.Customer{} // an absent profile is an empty one
	}
	p := ledger.Profile{
		DisplayName:    c.GetDisplayName(),
		Segment:        c.GetSegment(),
		Value:          1,
		OverdraftLimit: c.OverdraftLimit,
		Attributes:     c.GetAttributes(),
	}
	if c.Value != nil {
		p.Value = c.GetValue()
	}
	return p
}

func statusToProto(s ledger.Status) goodwillv1.BalanceStatus {
	if s == ledger.StatusOverdrawn {
		return goodwillv1.BalanceStatus_BALANCE_STATUS_OVERDRAWN
	}
	return goodwillv1.BalanceStatus_BALANCE_STATUS_HEALTHY
}

func balanceToProto(b ledger.Balance) *goodwillv1.Balance {
	return &goodwillv1.Balance{
		CustomerId:     b.CustomerID,
		Balance:        b.Value,
		Status:         statusToProto(b.Status),
		OverdraftLimit: b.OverdraftLimit,
		EventCount:     b.EventCount,
		PolicyVersion:  b.PolicyVersion,
		AsOf:           timeToProto(b.AsOf),
	}
}

var outcomeToProto = map[ledger.Outcome]goodwillv1.RecordOutcome{
	ledger.OutcomeCreated:  goodwillv1.RecordOutcome_RECORD_OUTCOME_CREATED,
	ledger.OutcomeReplayed: goodwillv1.RecordOutcome_RECORD_OUTCOME_REPLAYED,
	ledger.OutcomeConflict: goodwillv1.RecordOutcome_RECORD_OUTCOME_CONFLICT,
}
