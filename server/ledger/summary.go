package ledger

import (
	"context"
	"maps"
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
	var sum *summarizer
	var version int64
	err := s.analystView(ctx, allowStale, func(r Reader) error {
		// The store may run this again (a retried or fallen-back read):
		// start from nothing each time.
		sum = newSummarizer()
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
				sum.add(c, b)
			}
			if len(cs) < summarizeBatch {
				return nil
			}
		}
	})
	if err != nil {
		return nil, now, 0, err
	}
	return sum.finish(segment), now, version, nil
}

// summarizer gathers balances into per-segment statistics. Summaries,
// policy simulations and trend snapshots share it, so they agree.
type summarizer struct {
	groups  map[string]*segmentAcc
	overall *segmentAcc
}

type segmentAcc struct {
	SegmentStats
	values []float64
}

func newSummarizer() *summarizer {
	return &summarizer{groups: map[string]*segmentAcc{}, overall: &segmentAcc{SegmentStats: SegmentStats{Overall: true}}}
}

// add counts one customer's balance in its segment and overall.
func (m *summarizer) add(c Customer, b Balance) {
	g := m.groups[c.Profile.Segment]
	if g == nil {
		g = &segmentAcc{SegmentStats: SegmentStats{Segment: c.Profile.Segment}}
		m.groups[c.Profile.Segment] = g
	}
	for _, a := range []*segmentAcc{g, m.overall} {
		a.Customers++
		a.values = append(a.values, b.Value)
		if b.Status == StatusOverdrawn {
			a.Overdrawn++
			a.ValueAtRisk += c.Profile.Value
		}
	}
}

// finish returns the statistics of each segment in segment order, then
// the overall row when segment is "" (the summary of everyone); for one
// segment, its row, empty when it has no customer.
func (m *summarizer) finish(segment string) []SegmentStats {
	var out []SegmentStats
	for _, k := range slices.Sorted(maps.Keys(m.groups)) {
		out = append(out, m.groups[k].stats())
	}
	if segment == "" {
		out = append(out, m.overall.stats())
	} else if len(out) == 0 {
		out = append(out, SegmentStats{Segment: segment})
	}
	return out
}

func (a *segmentAcc) stats() SegmentStats {
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

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
