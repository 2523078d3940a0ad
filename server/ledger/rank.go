package ledger

import "math"

// rankOffset keeps every ranked magnitude positive (see Rank); it exceeds
// any log2 of a balance scaled to the epoch within ±2,000 years, whatever
// the half-life.
const rankOffset = 1e6

// rankFloor is the balance magnitude below which a balance ranks as zero.
const rankFloor = 1e-9

// Rank returns a number that orders customers by balance, identically at
// every moment: all balances decay by the same factor, so comparing
// log2|balance at the epoch| = log2|Value| + (Last.At - epoch)/half_life
// compares balances at any time (within one policy version: another
// half-life is another scale, which a recompute job rewrites). Positive balances rank above zero and
// negative ones below it, larger magnitudes further out.
func (p *Policy) Rank(s State) float64 {
	if math.Abs(s.Value) < rankFloor {
		return 0
	}
	mag := rankOffset + p.logMagnitude(s)
	if s.Value < 0 {
		return -mag
	}
	return mag
}

// logMagnitude is log2 of |balance| scaled to the epoch: comparable across
// customers at any moment, because every balance decays by the same factor.
func (p *Policy) logMagnitude(s State) float64 {
	return math.Log2(math.Abs(s.Value)) + seconds(p.Epoch, s.Last.At)/p.HalfLife.Seconds()
}

// minOutreachValue stands in for a zero value weight, so such customers rank
// far down the recovery list rather than breaking on log2(0).
const minOutreachValue = 1e-9

// RecoveryKey orders the RECOVERY outreach list, ascending = contact first.
// It exists only for customers with a negative balance. Urgency is the
// deficit weighted by the customer's value, doubled while the latest outage
// or complaint has had no response or credit; like Rank, the order it gives
// holds at every moment until the customer's next event.
func (p *Policy) RecoveryKey(c Customer) (float64, bool) {
	s := c.State
	if s.Value > -rankFloor {
		return 0, false
	}
	urgency := rankOffset + p.logMagnitude(s) + math.Log2(max(c.Profile.Value, minOutreachValue))
	if s.Unanswered() {
		urgency++ // log2(2)
	}
	return -urgency, true
}

// AdvocacyKey orders the ADVOCACY outreach list, ascending = highest balance
// first. It exists only for customers with a positive balance and a rising
// trend.
func (p *Policy) AdvocacyKey(c Customer) (float64, bool) {
	s := c.State
	if s.Value < rankFloor || s.Trend <= 0 {
		return 0, false
	}
	return -(rankOffset + p.logMagnitude(s)), true
}

// Keys are a customer's stored ranking keys under one policy.
type Keys struct {
	Rank float64
	// Recovery and Advocacy are nil when the customer is not on that list.
	Recovery *float64
	Advocacy *float64
}

// KeysOf computes the ranking keys a customer row stores.
func (p *Policy) KeysOf(c Customer) Keys {
	k := Keys{Rank: p.Rank(c.State)}
	if v, ok := p.RecoveryKey(c); ok {
		k.Recovery = &v
	}
	if v, ok := p.AdvocacyKey(c); ok {
		k.Advocacy = &v
	}
	return k
}
