package ledger

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
)

// Policy is the data that turns events into goodwill points. Every balance
// is a pure function of a customer's events, a Policy and the time asked
// about.
type Policy struct {
	Version int64
	// Weights are goodwill points per unit of magnitude, by kind.
	Weights map[Kind]float64
	// HalfLife is how long it takes an event's effect to halve.
	HalfLife time.Duration
	// Epoch anchors the ranking key (see Policy.Rank); any instant near the
	// ledger's lifetime works.
	Epoch time.Time
	// Relationship shapes RESPONSE and CREDIT by the balance just before.
	Relationship RelationshipEffect
	// Notice softens an OUTAGE that follows a PROACTIVE_NOTICE.
	Notice NoticeEffect
	// ChangeNotice softens the kinds the catalog marks as announced weeks
	// ahead (changeNotice) that follow a PROACTIVE_NOTICE: a longer window
	// than Notice's, and its own factor.
	ChangeNotice NoticeEffect
	// DefaultOverdraftLimit applies to customers that set none. Limits are
	// zero or negative: how far below zero a balance may go.
	DefaultOverdraftLimit float64
	// TrendHalfLife decays State.Trend, which finds rising advocates.
	TrendHalfLife time.Duration
	// DustThreshold is how close to zero a balance must come to count as
	// zero wherever a balance is shown or judged: its value and status,
	// lists, summaries and outreach. Balances only fade towards zero, never
	// reach it, so without it a three-hour outage would leave a customer
	// overdrawn (at -0.1 after two years, -1e-278 after a few centuries)
	// for ever. The math (decay, the relationship effect) keeps the exact
	// value; only what is reported is rounded.
	DustThreshold float64
	// CreatedAt is when the version was installed (BuiltinPolicyDate for
	// the built-in version 1).
	CreatedAt time.Time
}

// RelationshipEffect: a gesture is worth more inside a good relationship.
// The factor is MinFactor when the balance just before the event is below
// HollowBelow (the hollow apology), otherwise 1 + balance/Scale, capped at
// MaxFactor.
type RelationshipEffect struct {
	Kinds       []Kind
	Scale       float64
	HollowBelow float64
	MinFactor   float64
	MaxFactor   float64
}

// NoticeEffect: an event it applies to that occurs within Window after a
// PROACTIVE_NOTICE withdraws Factor times its usual points.
type NoticeEffect struct {
	Window time.Duration
	Factor float64
}

func (n NoticeEffect) check(field string) error {
	var v violations
	if n.Window < 0 || n.Window > 365*24*time.Hour {
		v.add(Invalid(field+".window", "must be between 0 and 365 days"))
	}
	if !finite(n.Factor) || n.Factor < 0 || n.Factor > 1 {
		v.add(Invalid(field+".factor", "must be between 0 and 1"))
	}
	return v.err()
}

// noticeFor returns the notice rule that softens kind k, if one does.
func (p *Policy) noticeFor(k Kind) (NoticeEffect, bool) {
	switch k.info().notice {
	case outageNotice:
		return p.Notice, true
	case changeNotice:
		return p.ChangeNotice, true
	}
	return NoticeEffect{}, false
}

// withOptionalWeights returns p's weights with the built-in weight for
// every kind whose weight a policy may leave out and p does.
func withOptionalWeights(w map[Kind]float64) map[Kind]float64 {
	out := maps.Clone(w)
	if out == nil {
		out = map[Kind]float64{}
	}
	for _, k := range RecordableKinds() {
		if _, ok := out[k]; !ok && kinds[k].optionalWeight {
			out[k] = kinds[k].weight
		}
	}
	return out
}

var maxEpoch = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultChangeNotice is the built-in ChangeNotice, also used by a version
// stored or sent without one: a change announced up to 30 days ahead costs
// half.
var DefaultChangeNotice = NoticeEffect{Window: 30 * 24 * time.Hour, Factor: 0.5}

// DefaultDustThreshold is half a point: half of one reliable delivery under
// the built-in weights, and what a three-hour outage (-36) has faded to
// after about 18 months at a 90-day half-life.
const DefaultDustThreshold = 0.5

// BuiltinPolicyDate is the creation time of the built-in version 1: the
// day its numbers were set. Every tenant starts with it; it is never
// "installed", so no later moment is its creation time.
var BuiltinPolicyDate = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultPolicy returns version 1, the policy every ledger starts with. The
// README explains each number.
func DefaultPolicy() *Policy {
	return &Policy{
		Version:  1,
		Weights:  defaultWeights(),
		HalfLife: 90 * 24 * time.Hour,
		Epoch:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Relationship: RelationshipEffect{
			Kinds:       defaultRelationshipKinds(),
			Scale:       50,
			HollowBelow: 0,
			MinFactor:   0.25,
			MaxFactor:   2,
		},
		Notice: NoticeEffect{
			Window: 72 * time.Hour,
			Factor: 0.5,
		},
		ChangeNotice:          DefaultChangeNotice,
		DefaultOverdraftLimit: 0,
		TrendHalfLife:         30 * 24 * time.Hour,
		DustThreshold:         DefaultDustThreshold,
		CreatedAt:             BuiltinPolicyDate,
	}
}

// defaultWeights are the catalog's weights (kindInfo.weight).
func defaultWeights() map[Kind]float64 {
	w := map[Kind]float64{}
	for _, k := range RecordableKinds() {
		w[k] = kinds[k].weight
	}
	return w
}

func defaultRelationshipKinds() []Kind {
	var out []Kind
	for _, k := range RecordableKinds() {
		if kinds[k].relationship {
			out = append(out, k)
		}
	}
	return out
}

// Validate checks the policy's invariants, naming every bad field.
func (p *Policy) Validate() error {
	var v violations
	if p.Version < 1 {
		v.add(Invalid("policy.version", "must be at least 1"))
	}
	for _, k := range RecordableKinds() {
		w, ok := p.Weights[k]
		switch {
		case !ok:
			v.add(Invalid(fmt.Sprintf("policy.weights[%s]", k.APIName()), "is missing"))
		case !finite(w) || math.Abs(w) > 1e6:
			v.add(Invalid(fmt.Sprintf("policy.weights[%s]", k.APIName()), "must be finite and at most 1e6 in size"))
		}
	}
	// A weight for any other kind would be stored and then refused on
	// every read of the version (decoding checks the kinds).
	for _, k := range slices.Sorted(maps.Keys(p.Weights)) {
		if k.Recordable() {
			continue
		}
		name := k.APIName()
		if !k.Valid() {
			name = strconv.Itoa(int(k))
		}
		v.add(Invalid(fmt.Sprintf("policy.weights[%s]", name), "is not a kind clients record; weights are for %s", recordableKindNames()))
	}
	if p.HalfLife < 24*time.Hour || p.HalfLife > 100*365*24*time.Hour {
		v.add(Invalid("policy.half_life", "must be between 1 day and 100 years"))
	}
	if p.Epoch.Before(minTime) || p.Epoch.After(maxEpoch) {
		v.add(Invalid("policy.epoch", "must be between 1970 and 2200"))
	}
	r := p.Relationship
	if !finite(r.Scale) || r.Scale <= 0 {
		v.add(Invalid("policy.relationship.scale", "must be positive"))
	}
	if !finite(r.HollowBelow) {
		v.add(Invalid("policy.relationship.hollow_below", "must be finite"))
	}
	if !finite(r.MinFactor) || r.MinFactor < 0 || r.MinFactor > 1 {
		v.add(Invalid("policy.relationship.min_factor", "must be between 0 and 1"))
	}
	if !finite(r.MaxFactor) || r.MaxFactor < 1 || r.MaxFactor > 100 {
		v.add(Invalid("policy.relationship.max_factor", "must be between 1 and 100"))
	}
	for _, k := range r.Kinds {
		if !k.Recordable() {
			v.add(Invalid("policy.relationship.kinds", "must hold only recordable kinds: %s", recordableKindNames()))
			break
		}
	}
	v.add(p.Notice.check("policy.notice"))
	v.add(p.ChangeNotice.check("policy.change_notice"))
	if !finite(p.DefaultOverdraftLimit) || p.DefaultOverdraftLimit > 0 || p.DefaultOverdraftLimit < -1e9 {
		v.add(Invalid("policy.default_overdraft_limit", "must be zero or negative, down to -1e9"))
	}
	if p.TrendHalfLife < 24*time.Hour || p.TrendHalfLife > 10*365*24*time.Hour {
		v.add(Invalid("policy.trend_half_life", "must be between 1 day and 10 years"))
	}
	if !finite(p.DustThreshold) || p.DustThreshold < 0 || p.DustThreshold > 1e6 {
		v.add(Invalid("policy.dust_threshold", "must be between 0 and 1e6"))
	}
	return v.err()
}
