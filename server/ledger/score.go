package ledger

import (
	"math"
	"slices"
	"time"
)

// State is a customer's materialized balance: everything needed to apply the
// next event without reading the customer's history again.
//
// Value is the balance at Last.At, just after the latest event; the balance
// at a later time T is Value * 2^(-(T - Last.At)/half_life), which never
// overflows whatever the half-life. For ranking, Policy.Rank maps a state to
// one number that orders customers by balance at any moment (forward decay in
// log space), so ordering needs no recomputation as time passes.
type State struct {
	Value float64
	// Count is the number of events in the balance (reversed events and
	// reversals excluded).
	Count int64
	// Last is the position of the latest event applied. A new event after
	// it is applied incrementally; one before it (backdated) makes the
	// customer's history replay.
	Last Position
	// LastNoticeAt is when the latest PROACTIVE_NOTICE occurred.
	LastNoticeAt time.Time
	// LastGrievanceAt is when the latest OUTAGE or COMPLAINT occurred, and
	// LastGrievanceKind which of the two it was.
	LastGrievanceAt   time.Time
	LastGrievanceKind Kind
	// LastRemedyAt is when the latest RESPONSE or CREDIT occurred.
	LastRemedyAt time.Time
	// Trend is the recent net goodwill at Last.At: every event's points,
	// decayed with the policy's shorter TrendHalfLife. Positive means the
	// relationship has been gaining lately; time alone never flips its sign.
	Trend float64
}

// Unanswered reports whether the latest grievance got no response or credit
// after it.
func (s State) Unanswered() bool {
	return !s.LastGrievanceAt.IsZero() && s.LastGrievanceAt.After(s.LastRemedyAt)
}

// Effect explains how one event changed a balance.
type Effect struct {
	// Base is weight × magnitude.
	Base float64
	// Factor is what the context rules multiplied Base by (1 when none).
	Factor float64
	// Points is Base × Factor, as of the moment the event occurred.
	Points float64
	// Rule names the context rule that set Factor: "", "relationship",
	// "hollow" or "notice".
	Rule string
}

// decay is the factor a balance shrinks by from one moment to a later one.
func (p *Policy) decay(from, to time.Time) float64 {
	return math.Exp2(-seconds(from, to) / p.HalfLife.Seconds())
}

// seconds is to - from in seconds. time.Time.Sub saturates at about 292
// years, which would stop decay (and bend ranks) for long half-lives.
func seconds(from, to time.Time) float64 {
	return float64(to.Unix()-from.Unix()) + float64(to.Nanosecond()-from.Nanosecond())/1e9
}

// BalanceAt returns the balance that s stands for at time t: the value at
// s.Last.At decayed (or, for an earlier t, grown) by the half-life. Before
// s.Last.At that is the balance only if no event lies in between, so
// Service.balanceAt replays the history for such moments.
func (p *Policy) BalanceAt(s State, t time.Time) float64 {
	if s.Value == 0 {
		return 0
	}
	return s.Value * p.decay(s.Last.At, t)
}

// reported rounds a balance for reporting: a value closer to zero than the
// dust threshold is zero, and so is -0 (which JSON would print as "-0").
func (p *Policy) reported(v float64) float64 {
	if math.Abs(v) < p.DustThreshold || v == 0 {
		return 0
	}
	return v
}

// Apply adds one event to a state. The event must not sort before s.Last
// (Replay handles history in order). REVERSAL events and reversed events are
// not applied here; Replay leaves them out.
func (p *Policy) Apply(s State, e Event) (State, Effect) {
	eff := Effect{Base: p.Weights[e.Kind] * e.Magnitude, Factor: 1}
	before := p.BalanceAt(s, e.OccurredAt)
	if slices.Contains(p.Relationship.Kinds, e.Kind) {
		r := p.Relationship
		if before < r.HollowBelow {
			eff.Factor, eff.Rule = r.MinFactor, "hollow"
		} else {
			eff.Factor, eff.Rule = max(r.MinFactor, min(r.MaxFactor, 1+before/r.Scale)), "relationship"
		}
	}
	if n, ok := p.noticeFor(e.Kind); ok && !s.LastNoticeAt.IsZero() &&
		!e.OccurredAt.Before(s.LastNoticeAt) && e.OccurredAt.Sub(s.LastNoticeAt) <= n.Window {
		eff.Factor, eff.Rule = n.Factor, "notice"
	}
	eff.Points = eff.Base * eff.Factor

	s.Value = before + eff.Points
	// Snap dust to zero so the status, the rank and the outreach keys all
	// agree on a balance like -5e-17 (rounding of +0.1 +0.3 -0.4).
	if math.Abs(s.Value) < rankFloor {
		s.Value = 0
	}
	s.Trend = s.Trend*math.Exp2(-seconds(s.Last.At, e.OccurredAt)/p.TrendHalfLife.Seconds()) + eff.Points
	s.Count++
	s.Last = e.Pos()
	switch e.Kind.Role() {
	case RoleNotice:
		s.LastNoticeAt = e.OccurredAt
	case RoleGrievance:
		s.LastGrievanceAt, s.LastGrievanceKind = e.OccurredAt, e.Kind
	case RoleRemedy:
		s.LastRemedyAt = e.OccurredAt
	}
	return s, eff
}

// Effective returns the events that count towards a balance, in replay
// order: reversals and the events they reverse are left out.
func Effective(events []Event) []Event {
	reversed := make(map[string]bool)
	for _, e := range events {
		if e.Kind.Role() == RoleReversal {
			reversed[e.ReversesEventID] = true
		}
	}
	out := make([]Event, 0, len(events))
	for _, e := range events {
		if e.Kind.Role() == RoleReversal || reversed[e.ID] || e.ReversedByEventID != "" {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Event) int { return a.Pos().Compare(b.Pos()) })
	return out
}

// Replay computes a customer's state from its whole history, in any order.
// Only events that occurred at or before until count (zero means all).
func (p *Policy) Replay(events []Event, until time.Time) State {
	s, _ := p.ReplayEffects(events, until)
	return s
}

// Applied is one event with the effect it had in a replay.
type Applied struct {
	Event  Event
	Effect Effect
}

// ReplayEffects is Replay that also returns each counted event's effect, in
// replay order.
func (p *Policy) ReplayEffects(events []Event, until time.Time) (State, []Applied) {
	var s State
	var out []Applied
	for _, e := range Effective(events) {
		if !until.IsZero() && e.OccurredAt.After(until) {
			break
		}
		var eff Effect
		s, eff = p.Apply(s, e)
		out = append(out, Applied{Event: e, Effect: eff})
	}
	return s, out
}
