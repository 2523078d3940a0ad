package ledger

import (
	"context"
	"math"
	"slices"
	"time"
)

// SegmentStats summarizes the balances of one segment, or of everyone.
type SegmentStats struct {
	Segment       string
	Overall       bool
	Customers     int64
	Overdrawn     int64
	Mean          float64
	P10, P50, P90 float64
	ValueAtRisk   float64
}

// summarizeBatch is how many customers one summary read takes at a time.
const summarizeBatch = 1000

// SummarizeBalances reads every customer of the tenant (one snapshot) and
// returns statistics per segment, plus an overall row when segment is "".
func (s *Service) SummarizeBalances(ctx context.Context, tenant, segment string, allowStale bool) ([]SegmentStats, time.Time, int64, error) {
	if err := checkText("segment", segment, s.limits.MaxSegmentLength); err != nil {
		return nil, time.Time{}, 0, err
	}
	now := s.clock()
	type acc struct {
		SegmentStats
		values []float64
	}
	var groups map[string]*acc
	var overall *acc
	var version int64
	err := s.analystView(ctx, allowStale, func(r Reader) error {
		// The store may run this again (a retried or fallen-back read):
		// start from nothing each time.
		groups = map[string]*acc{}
		overall = &acc{SegmentStats: SegmentStats{Overall: true}}
		pol, err := s.active(ctx, r, tenant)
		if err != nil {
			return err
		}
		version = pol.Version
		after := ""
		for {
			cs, err := r.Customers(ctx, tenant, after, summarizeBatch)
			if err != nil {
				return err
			}
			for _, c := range cs {
				after = c.ID
				if segment != "" && c.Profile.Segment != segment {
					continue
				}
				b, err := s.balanceAt(ctx, r, pol, c, time.Time{}, now)
				if err != nil {
					return err
				}
				g := groups[c.Profile.Segment]
				if g == nil {
					g = &acc{SegmentStats: SegmentStats{Segment: c.Profile.Segment}}
					groups[c.Profile.Segment] = g
				}
				for _, a := range []*acc{g, overall} {
					a.Customers++
					a.values = append(a.values, b.Value)
					if b.Status == StatusOverdrawn {
						a.Overdrawn++
						a.ValueAtRisk += c.Profile.Value
					}
				}
			}
			if len(cs) < summarizeBatch {
				return nil
			}
		}
	})
	if err != nil {
		return nil, now, 0, err
	}
	var out []SegmentStats
	finish := func(a *acc) SegmentStats {
		st := a.SegmentStats
		if len(a.values) == 0 {
			return st
		}
		slices.Sort(a.values)
		sum := 0.0
		for _, v := range a.values {
			sum += v
		}
		st.Mean = sum / float64(len(a.values))
		st.P10, st.P50, st.P90 = percentile(a.values, 0.10), percentile(a.values, 0.50), percentile(a.values, 0.90)
		return st
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, finish(groups[k]))
	}
	if segment == "" {
		out = append(out, finish(overall))
	} else if len(out) == 0 {
		out = append(out, SegmentStats{Segment: segment})
	}
	return out, now, version, nil
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
