package ledger

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BalanceQuery asks for one page of ListBalances.
type BalanceQuery struct {
	Segment   string
	Status    Status // StatusUnspecified: any
	Min, Max  *float64
	Desc      bool
	PageSize  int
	PageToken string
	// AllowStale permits a follower read (see Store.ViewStale).
	AllowStale bool
}

// BalanceEntry is one customer in a ranking, with its balance now.
type BalanceEntry struct {
	Customer Customer
	Balance  Balance
}

// ListBalances pages through customers ordered by balance, from the rank
// index. Balance bounds become rank bounds (the rank orders balances the
// same way at every moment); the status filter is checked per customer,
// because overdraft limits differ.
func (s *Service) ListBalances(ctx context.Context, tenant string, q BalanceQuery) ([]BalanceEntry, string, int64, error) {
	size, err := s.limits.pageSize(q.PageSize)
	if err != nil {
		return nil, "", 0, err
	}
	if err := checkText("segment", q.Segment, s.limits.MaxSegmentLength); err != nil {
		return nil, "", 0, err
	}
	for _, b := range []struct {
		field string
		v     *float64
	}{{"min_balance", q.Min}, {"max_balance", q.Max}} {
		if b.v != nil && !finite(*b.v) {
			return nil, "", 0, Invalid(b.field, "must be finite")
		}
	}
	if q.Min != nil && q.Max != nil && *q.Min > *q.Max {
		return nil, "", 0, Invalid("max_balance", "must not be below min_balance")
	}
	if q.Status < StatusUnspecified || q.Status > StatusOverdrawn {
		return nil, "", 0, Invalid("status", "is not a known status")
	}
	after, err := decodeRankToken(q.PageToken, s.limits.MaxIDLength)
	if err != nil {
		return nil, "", 0, err
	}
	now := s.clock()
	var out []BalanceEntry
	var next string
	var version int64
	err = s.analystView(ctx, q.AllowStale, func(r Reader) error {
		pol, err := s.active(ctx, r, tenant)
		if err != nil {
			return err
		}
		version = pol.Version
		rq := RankQuery{Index: ByBalance, Segment: q.Segment, Desc: q.Desc, After: after}
		if q.Min != nil {
			v := pol.Rank(State{Value: *q.Min, Last: Position{At: now}})
			rq.Min = &v
		}
		if q.Max != nil {
			v := pol.Rank(State{Value: *q.Max, Last: Position{At: now}})
			rq.Max = &v
		}
		if q.Status == StatusOverdrawn {
			// Limits are zero or negative, so an overdrawn balance is
			// negative: its rank is below zero.
			neg := -1.0
			if rq.Max == nil || *rq.Max > neg {
				rq.Max = &neg
			}
		}
		out, next, err = s.walk(ctx, r, pol, tenant, rq, size, now, func(c Customer, b Balance) bool {
			return (q.Status == StatusUnspecified || b.Status == q.Status) &&
				(q.Min == nil || b.Value >= *q.Min) && (q.Max == nil || b.Value <= *q.Max)
		})
		return err
	})
	return out, next, version, err
}

// walk reads a ranking from the index in batches, keeps the customers keep
// accepts, and stops once it has a page (plus one, to know a next page
// exists), the index ends, or it has read maxWalk rows (then the page may
// be short, and the token continues from the last row read).
//
// Balances are under the active policy pol: a customer a recompute job has
// not reached yet is replayed. Its position in the index still comes from
// the old version, so while a job runs the order is approximate.
func (s *Service) walk(ctx context.Context, r Reader, pol *Policy, tenant string, rq RankQuery, size int, now time.Time,
	keep func(Customer, Balance) bool) ([]BalanceEntry, string, error) {
	var out []BalanceEntry
	rq.Limit = size + 1
	read := 0
	for {
		cs, err := r.Ranked(ctx, tenant, rq)
		if err != nil {
			return nil, "", err
		}
		for _, c := range cs {
			read++
			b, err := s.balanceAt(ctx, r, pol, c, time.Time{}, now)
			if err != nil {
				return nil, "", err
			}
			if keep(c, b) {
				out = append(out, BalanceEntry{Customer: c, Balance: b})
				if len(out) > size {
					last := out[size-1].Customer
					return out[:size], encodeRankToken(RankCursor{Key: keyOf(rq.Index, last), CustomerID: last.ID}), nil
				}
			}
			rq.After = &RankCursor{Key: keyOf(rq.Index, c), CustomerID: c.ID}
		}
		if len(cs) < rq.Limit {
			return out, "", nil
		}
		if read >= maxWalk {
			return out, encodeRankToken(*rq.After), nil
		}
	}
}

// maxWalk bounds the index rows one list call reads when a filter cannot be
// an index bound (a status with customer-specific limits).
const maxWalk = 5000

func keyOf(idx RankIndex, c Customer) float64 {
	switch idx {
	case ByRecovery:
		if c.Keys.Recovery != nil {
			return *c.Keys.Recovery
		}
	case ByAdvocacy:
		if c.Keys.Advocacy != nil {
			return *c.Keys.Advocacy
		}
	}
	return c.Keys.Rank
}

// Ranking page tokens: base64url of "<key as IEEE bits in hex>.<customer id>",
// exact for any float key.
func encodeRankToken(c RankCursor) string {
	raw := strconv.FormatUint(math.Float64bits(c.Key), 16) + "." + c.CustomerID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeRankToken(tok string, maxID int) (*RankCursor, error) {
	if tok == "" {
		return nil, nil
	}
	bad := Invalid("page_token", "is not a token this server issued")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, bad
	}
	bits, id, ok := strings.Cut(string(raw), ".")
	if !ok || checkID("page_token", id, maxID) != nil {
		return nil, bad
	}
	u, err := strconv.ParseUint(bits, 16, 64)
	if err != nil || !finite(math.Float64frombits(u)) {
		return nil, bad
	}
	return &RankCursor{Key: math.Float64frombits(u), CustomerID: id}, nil
}

// Purpose says what an outreach list is for.
type Purpose int

const (
	PurposeUnspecified Purpose = iota
	// PurposeRecovery: win trust back.
	PurposeRecovery
	// PurposeAdvocacy: nurture evangelists.
	PurposeAdvocacy
)

// OutreachEntry is one customer to contact, with why.
type OutreachEntry struct {
	BalanceEntry
	Priority float64
	Reasons  []string
}

// ListOutreach ranks customers for outreach from the recovery or advocacy
// index.
//
// RECOVERY holds customers with a negative balance, ordered by urgency: the
// deficit times the customer's value weight, doubled while their latest
// outage or complaint has had no response or credit. With the default
// overdraft limit of 0 every entry is overdrawn; a customer with a lower
// limit may be listed while still within it (its status says so).
//
// ADVOCACY holds customers with a positive balance and a rising trend,
// highest balance first.
func (s *Service) ListOutreach(ctx context.Context, tenant string, purpose Purpose, pageSize int, token string, allowStale bool) ([]OutreachEntry, string, int64, error) {
	idx := ByRecovery
	switch purpose {
	case PurposeRecovery:
	case PurposeAdvocacy:
		idx = ByAdvocacy
	default:
		return nil, "", 0, Invalid("purpose", "is required: OUTREACH_PURPOSE_RECOVERY or OUTREACH_PURPOSE_ADVOCACY")
	}
	size, err := s.limits.pageSize(pageSize)
	if err != nil {
		return nil, "", 0, err
	}
	after, err := decodeRankToken(token, s.limits.MaxIDLength)
	if err != nil {
		return nil, "", 0, err
	}
	now := s.clock()
	var out []OutreachEntry
	var next string
	var version int64
	err = s.analystView(ctx, allowStale, func(r Reader) error {
		pol, err := s.active(ctx, r, tenant)
		if err != nil {
			return err
		}
		version = pol.Version
		// While a recompute job runs, a customer's stored key may be from
		// the old policy: keep only those whose current balance still
		// belongs on the list.
		page, tok, err := s.walk(ctx, r, pol, tenant, RankQuery{Index: idx, After: after}, size, now,
			func(_ Customer, b Balance) bool {
				if purpose == PurposeRecovery {
					return b.Value < 0
				}
				return b.Value > 0
			})
		if err != nil {
			return err
		}
		next = tok
		for _, e := range page {
			out = append(out, outreachEntry(purpose, e, now))
		}
		return nil
	})
	return out, next, version, err
}

func outreachEntry(purpose Purpose, e BalanceEntry, now time.Time) OutreachEntry {
	c, b, st := e.Customer, e.Balance, e.Customer.State
	oe := OutreachEntry{BalanceEntry: e}
	if purpose == PurposeAdvocacy {
		oe.Priority = b.Value
		oe.Reasons = append(oe.Reasons, fmt.Sprintf("balance %.1f and rising (recent net %+.1f)", b.Value, st.Trend))
		if !st.Last.At.IsZero() {
			oe.Reasons = append(oe.Reasons, fmt.Sprintf("last event %s", ago(now.Sub(st.Last.At))))
		}
		return oe
	}
	oe.Priority = -b.Value * max(c.Profile.Value, minOutreachValue)
	if st.Unanswered() {
		oe.Priority *= 2
		oe.Reasons = append(oe.Reasons, fmt.Sprintf("%s %s, no response or credit since",
			strings.ReplaceAll(st.LastGrievanceKind.String(), "_", " "), ago(now.Sub(st.LastGrievanceAt))))
	} else if !st.LastGrievanceAt.IsZero() {
		oe.Reasons = append(oe.Reasons, fmt.Sprintf("%s %s, answered %s",
			strings.ReplaceAll(st.LastGrievanceKind.String(), "_", " "), ago(now.Sub(st.LastGrievanceAt)),
			ago(now.Sub(st.LastRemedyAt))))
	}
	within := ""
	if b.Status != StatusOverdrawn {
		within = " (within its limit)"
	}
	oe.Reasons = append(oe.Reasons, fmt.Sprintf("balance %.1f, limit %g%s", b.Value, b.OverdraftLimit, within))
	if c.Profile.Value != 1 {
		oe.Reasons = append(oe.Reasons, fmt.Sprintf("value weight %g", c.Profile.Value))
	}
	return oe
}

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
	groups := map[string]*acc{}
	overall := &acc{SegmentStats: SegmentStats{Overall: true}}
	var version int64
	err := s.analystView(ctx, allowStale, func(r Reader) error {
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
