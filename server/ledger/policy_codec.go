package ledger

import (
	"encoding/json"
	"fmt"
	"time"
)

// policyDoc is the stored form of a Policy: kinds by name, durations in
// seconds, so the stored rows read well and survive enum renumbering.
type policyDoc struct {
	Weights       map[string]float64 `json:"weights"`
	HalfLifeSec   float64            `json:"half_life_seconds"`
	EpochUnix     int64              `json:"epoch_unix"`
	RelKinds      []string           `json:"relationship_kinds"`
	RelScale      float64            `json:"relationship_scale"`
	RelHollow     float64            `json:"relationship_hollow_below"`
	RelMin        float64            `json:"relationship_min_factor"`
	RelMax        float64            `json:"relationship_max_factor"`
	NoticeSec     float64            `json:"notice_window_seconds"`
	NoticeFactor  float64            `json:"notice_factor"`
	DefaultLimit  float64            `json:"default_overdraft_limit"`
	TrendHalfLife float64            `json:"trend_half_life_seconds"`
	// Dust is absent from versions stored before the dust rule existed;
	// they take DefaultDustThreshold.
	Dust *float64 `json:"dust_threshold,omitempty"`
	// The change notice is absent from versions stored before it existed;
	// they take DefaultChangeNotice.
	ChangeNoticeSec    *float64 `json:"change_notice_window_seconds,omitempty"`
	ChangeNoticeFactor *float64 `json:"change_notice_factor,omitempty"`
}

// EncodePolicy returns the stored form of p (its version and creation time
// are kept by the store beside it).
func EncodePolicy(p *Policy) []byte {
	d := policyDoc{
		Weights:       map[string]float64{},
		HalfLifeSec:   p.HalfLife.Seconds(),
		EpochUnix:     p.Epoch.Unix(),
		RelScale:      p.Relationship.Scale,
		RelHollow:     p.Relationship.HollowBelow,
		RelMin:        p.Relationship.MinFactor,
		RelMax:        p.Relationship.MaxFactor,
		NoticeSec:     p.Notice.Window.Seconds(),
		NoticeFactor:  p.Notice.Factor,
		DefaultLimit:  p.DefaultOverdraftLimit,
		TrendHalfLife: p.TrendHalfLife.Seconds(),
		Dust:          &p.DustThreshold,
	}
	changeSec := p.ChangeNotice.Window.Seconds()
	d.ChangeNoticeSec, d.ChangeNoticeFactor = &changeSec, &p.ChangeNotice.Factor
	for k, w := range p.Weights {
		d.Weights[k.String()] = w
	}
	for _, k := range p.Relationship.Kinds {
		d.RelKinds = append(d.RelKinds, k.String())
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err) // a struct of numbers, strings and maps always encodes
	}
	return b
}

// DecodePolicy reads a stored policy back.
func DecodePolicy(sp StoredPolicy) (*Policy, error) {
	var d policyDoc
	if err := json.Unmarshal(sp.Body, &d); err != nil {
		return nil, fmt.Errorf("policy version %d: %w", sp.Version, err)
	}
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	p := &Policy{
		Version:  sp.Version,
		Weights:  map[Kind]float64{},
		HalfLife: sec(d.HalfLifeSec),
		Epoch:    time.Unix(d.EpochUnix, 0).UTC(),
		Relationship: RelationshipEffect{
			Scale: d.RelScale, HollowBelow: d.RelHollow, MinFactor: d.RelMin, MaxFactor: d.RelMax,
		},
		Notice:                NoticeEffect{Window: sec(d.NoticeSec), Factor: d.NoticeFactor},
		ChangeNotice:          DefaultChangeNotice,
		DefaultOverdraftLimit: d.DefaultLimit,
		TrendHalfLife:         sec(d.TrendHalfLife),
		DustThreshold:         DefaultDustThreshold,
		CreatedAt:             sp.CreatedAt,
	}
	if d.Dust != nil {
		p.DustThreshold = *d.Dust
	}
	if d.ChangeNoticeSec != nil && d.ChangeNoticeFactor != nil {
		p.ChangeNotice = NoticeEffect{Window: sec(*d.ChangeNoticeSec), Factor: *d.ChangeNoticeFactor}
	}
	for name, w := range d.Weights {
		k, ok := ParseKind(name)
		if !ok {
			return nil, fmt.Errorf("policy version %d: unknown kind %q", sp.Version, name)
		}
		p.Weights[k] = w
	}
	// A version stored before a kind existed weighs it by the built-in
	// weight, as SetPolicy fills it in for a client that leaves it out.
	p.Weights = withOptionalWeights(p.Weights)
	for _, name := range d.RelKinds {
		k, ok := ParseKind(name)
		if !ok {
			return nil, fmt.Errorf("policy version %d: unknown kind %q", sp.Version, name)
		}
		p.Relationship.Kinds = append(p.Relationship.Kinds, k)
	}
	return p, nil
}
