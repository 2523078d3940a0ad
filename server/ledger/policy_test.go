package ledger

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestPolicyValidateNamesTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(p *Policy)
		field string
	}{
		{"version zero", func(p *Policy) { p.Version = 0 }, "policy.version"},
		{"missing weight", func(p *Policy) { delete(p.Weights, KindOutage) }, "policy.weights[EVENT_KIND_OUTAGE]"},
		{"infinite weight", func(p *Policy) { p.Weights[KindCredit] = math.Inf(1) }, "policy.weights[EVENT_KIND_CREDIT]"},
		{"half-life under a day", func(p *Policy) { p.HalfLife = time.Hour }, "policy.half_life"},
		{"zero epoch", func(p *Policy) { p.Epoch = time.Time{} }, "policy.epoch"},
		{"epoch after 2200", func(p *Policy) { p.Epoch = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }, "policy.epoch"},
		{"scale zero", func(p *Policy) { p.Relationship.Scale = 0 }, "policy.relationship.scale"},
		{"min factor above one", func(p *Policy) { p.Relationship.MinFactor = 1.5 }, "policy.relationship.min_factor"},
		{"max factor below one", func(p *Policy) { p.Relationship.MaxFactor = 0.5 }, "policy.relationship.max_factor"},
		{"reversal in relationship kinds", func(p *Policy) { p.Relationship.Kinds = []Kind{KindReversal} }, "policy.relationship.kinds"},
		{"negative notice window", func(p *Policy) { p.Notice.Window = -time.Hour }, "policy.notice.window"},
		{"notice factor above one", func(p *Policy) { p.Notice.Factor = 2 }, "policy.notice.factor"},
		{"NaN overdraft limit", func(p *Policy) { p.DefaultOverdraftLimit = math.NaN() }, "policy.default_overdraft_limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := DefaultPolicy()
			tt.edit(p)
			err := p.Validate()
			if !errors.Is(err, ErrInvalidArgument) || FieldOf(err) != tt.field {
				t.Errorf("Validate() = %v (field %q), want field %q", err, FieldOf(err), tt.field)
			}
		})
	}
}

// A relationship factor never drops below MinFactor, even when HollowBelow
// is set under -Scale: a gesture never becomes a withdrawal.
func TestRelationshipFactorHasAFloor(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	p.Relationship.HollowBelow = -100
	s, _ := p.Apply(State{}, ev("o", KindOutage, 80.0/12, t0))
	_, eff := p.Apply(s, ev("r", KindResponse, 1, t0))
	if eff.Factor != p.Relationship.MinFactor || eff.Points <= 0 {
		t.Errorf("response at balance %v: %+v, want factor %v and positive points", p.BalanceAt(s, t0), eff, p.Relationship.MinFactor)
	}
}

// Short half-lives and far-off dates stay finite: balances are kept at the
// latest event, not scaled to the epoch.
func TestShortHalfLifeStaysFinite(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	p.HalfLife = 24 * time.Hour
	for _, at := range []time.Time{
		time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2027, 11, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2290, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		s, _ := p.Apply(State{}, ev("d", KindReliableDelivery, 3, at))
		if got := p.BalanceAt(s, at); got != 3 {
			t.Errorf("%v: balance at the event = %v, want 3", at, got)
		}
		if got := p.BalanceAt(s, at.Add(24*time.Hour)); got != 1.5 {
			t.Errorf("%v: balance a half-life later = %v, want 1.5", at, got)
		}
		if r := p.Rank(s); math.IsInf(r, 0) || math.IsNaN(r) || r <= 0 {
			t.Errorf("%v: rank %v", at, r)
		}
	}
}

func TestRankOrdersByBalanceAcrossSigns(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	at := func(v float64, when time.Time) State { return State{Value: v, Last: Position{At: when}} }
	later := t0.Add(400 * day)
	// In balance order at any moment after both: -10 (old) is -10*2^-..,
	// so compare at `later`.
	states := []State{
		at(-50, later), at(-10, t0), at(-1e-3, later), at(0, t0), at(1e-3, t0), at(2, later), at(100, t0), at(60, later),
	}
	for i := 1; i < len(states); i++ {
		a, b := states[i-1], states[i]
		ba, bb := p.BalanceAt(a, later), p.BalanceAt(b, later)
		if (ba < bb) != (p.Rank(a) < p.Rank(b)) {
			t.Errorf("balances %v, %v but ranks %v, %v", ba, bb, p.Rank(a), p.Rank(b))
		}
	}
}
