package ledger

import (
	"context"
	"encoding/base64"
	"errors"
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
// same way at every moment), widened by the dust threshold; the filters are
// then checked on each customer's reported balance, because dust counts as
// zero and overdraft limits differ.
//
// While a recompute job is moving the tenant to its active policy (or after
// one failed), rows it has not reached hold ranks of an older version,
// which cannot be compared with bounds computed under the active one. Then
// no bound is given to the index: every row is checked on its balance under
// the active version, so the filters stay exact; only the order of the rows
// not yet recomputed is approximate (ApproximateOrder says so).
func (s *Service) ListBalances(ctx context.Context, tenant string, q BalanceQuery) (BalancePage, error) {
	var v violations
	size, err := s.limits.pageSize(q.PageSize)
	v.add(err)
	v.add(checkText("segment", q.Segment, s.limits.MaxSegmentLength))
	for _, b := range []struct {
		field string
		v     *float64
	}{{"min_balance", q.Min}, {"max_balance", q.Max}} {
		if b.v != nil && !finite(*b.v) {
			v.add(Invalid(b.field, "must be finite"))
		}
	}
	if q.Min != nil && q.Max != nil && *q.Min > *q.Max {
		v.add(Invalid("max_balance", "must not be below min_balance"))
	}
	if q.Status < StatusUnspecified || q.Status > StatusOverdrawn {
		v.add(Invalid("status", "must be BALANCE_STATUS_HEALTHY or BALANCE_STATUS_OVERDRAWN"))
	}
	tok, err := decodeRankToken(q.PageToken, s.limits.MaxIDLength, "B")
	v.add(err)
	if err := v.err(); err != nil {
		return BalancePage{}, err
	}
	now := s.clock()
	var page BalancePage
	err = s.analystView(ctx, q.AllowStale, func(r Reader) error {
		pol, err := s.active(ctx, r, tenant)
		if err != nil {
			return err
		}
		page.PolicyVersion = pol.Version
		if page.ApproximateOrder, err = s.reranking(ctx, r, tenant, pol); err != nil {
			return err
		}
		rq := RankQuery{Index: ByBalance, Segment: q.Segment, Desc: q.Desc}
		if tok != nil {
			if tok.version != pol.Version {
				return errRankChanged(tok.version, pol.Version)
			}
			rq.After = &tok.at
		}
		if !page.ApproximateOrder {
			if q.Min != nil {
				v := pol.Rank(State{Value: *q.Min - pol.DustThreshold, Last: Position{At: now}})
				rq.Min = &v
			}
			if q.Max != nil {
				v := pol.Rank(State{Value: *q.Max + pol.DustThreshold, Last: Position{At: now}})
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
		}
		var next *RankCursor
		page.Entries, next, err = s.walk(ctx, r, pol, tenant, rq, size, now, func(c Customer, b Balance) bool {
			return (q.Status == StatusUnspecified || b.Status == q.Status) &&
				(q.Min == nil || b.Value >= *q.Min) && (q.Max == nil || b.Value <= *q.Max)
		})
		page.NextPageToken = encodeRankToken('B', pol.Version, next)
		return err
	})
	return page, err
}

// BalancePage is one page of ListBalances.
type BalancePage struct {
	Entries       []BalanceEntry
	NextPageToken string
	// PolicyVersion is the active version every balance is computed under.
	PolicyVersion int64
	// ApproximateOrder is true while a recompute job for the active version
	// has not succeeded: see ListBalances and ListOutreach.
	ApproximateOrder bool
}

// reranking reports whether the tenant's stored ranking keys may still be
// of an older policy version: its latest recompute job, which is the
// active version's, has not succeeded (it runs, or it failed).
func (s *Service) reranking(ctx context.Context, r Reader, tenant string, pol *Policy) (bool, error) {
	j, err := r.LatestJob(ctx, tenant)
	if errors.Is(err, ErrNotFound) {
		return false, nil // never installed a policy: every row is on the built-in version
	}
	if err != nil {
		return false, err
	}
	return j.PolicyVersion == pol.Version && j.State != JobSucceeded, nil
}

// restate returns c as the active policy pol sees it at `now`: a row whose
// state was computed under another version (a recompute job has not reached
// it), or that holds an event dated after now (another replica's clock ran
// a little ahead), is replayed from its history, and its ranking keys are
// recomputed.
func (s *Service) restate(ctx context.Context, r Reader, pol *Policy, c Customer, now time.Time) (Customer, error) {
	if c.PolicyVersion == pol.Version && !now.Before(c.State.Last.At) {
		return c, nil
	}
	hist, err := r.History(ctx, c.TenantID, c.ID)
	if err != nil {
		return c, err
	}
	c.State = pol.Replay(hist, now)
	c.PolicyVersion = pol.Version
	c.Keys = pol.KeysOf(c)
	return c, nil
}

// walk reads a ranking from the index in batches, keeps the customers keep
// accepts (each restated under the active policy pol, with its reported
// balance now), and stops once it has a page (plus one, to know a next
// page exists), the index ends, or it has read maxWalk rows (then the page
// may be short). next is where the following page starts (nil on the last
// page): a position in the index, so of a row's stored key, whatever its
// restated keys say.
func (s *Service) walk(ctx context.Context, r Reader, pol *Policy, tenant string, rq RankQuery, size int, now time.Time,
	keep func(Customer, Balance) bool) (page []BalanceEntry, next *RankCursor, err error) {
	var positions []RankCursor
	rq.Limit = size + 1
	read := 0
	for {
		cs, err := r.Ranked(ctx, tenant, rq)
		if err != nil {
			return nil, nil, err
		}
		for _, stored := range cs {
			read++
			pos := RankCursor{Key: keyOf(rq.Index, stored), CustomerID: stored.ID}
			c, err := s.restate(ctx, r, pol, stored, now)
			if err != nil {
				return nil, nil, err
			}
			if b := balanceOf(c, c.State, pol, now); keep(c, b) {
				page = append(page, BalanceEntry{Customer: c, Balance: b})
				positions = append(positions, pos)
				if len(page) > size {
					return page[:size], &positions[size-1], nil
				}
			}
			rq.After = &pos
		}
		if len(cs) < rq.Limit {
			return page, nil, nil
		}
		if read >= maxWalk {
			return page, rq.After, nil
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

// rankToken is a position in one ranked list, valid under one policy
// version. Encoded, it is base64url of
// "<list>:<version>:<key as IEEE bits in hex>.<customer id>", exact for any
// float key. The list is 'B' (ListBalances), 'R' or 'A' (the RECOVERY or
// ADVOCACY index), 'r' or 'a' (those lists read in balance order while a
// recompute job runs: their next pages are read that way too).
type rankToken struct {
	list    byte
	version int64
	at      RankCursor
}

func encodeRankToken(list byte, version int64, c *RankCursor) string {
	if c == nil {
		return ""
	}
	raw := string(list) + ":" + strconv.FormatInt(version, 10) + ":" +
		strconv.FormatUint(math.Float64bits(c.Key), 16) + "." + c.CustomerID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// decodeRankToken reads a token of one of lists; "" is the first page.
func decodeRankToken(tok string, maxID int, lists string) (*rankToken, error) {
	if tok == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, errBadToken
	}
	parts := strings.SplitN(string(raw), ":", 3)
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.Contains(lists, parts[0]) {
		return nil, errBadToken
	}
	version, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || version < 1 {
		return nil, errBadToken
	}
	bits, id, ok := strings.Cut(parts[2], ".")
	if !ok || checkID("page_token", id, maxID) != nil {
		return nil, errBadToken
	}
	u, err := strconv.ParseUint(bits, 16, 64)
	if key := math.Float64frombits(u); err != nil || !finite(key) || math.Abs(key) > maxRankKey {
		return nil, errBadToken
	}
	return &rankToken{list: parts[0][0], version: version, at: RankCursor{Key: math.Float64frombits(u), CustomerID: id}}, nil
}

// errRankChanged answers a page token issued under another policy
// version: installing one re-ranks every customer, so its position means
// nothing any more.
func errRankChanged(token, active int64) error {
	return Invalid("page_token", "was issued under policy version %d, and version %d has re-ranked the list since: "+
		"start again without page_token", token, active)
}

// maxRankKey bounds the ranking keys this server issues (Policy.Rank: about
// rankOffset plus the log of a balance plus the half-lives between the
// epoch and an event, far less than this for any valid policy).
const maxRankKey = 1e7

// errBadToken is the answer to a page token this server could not have
// issued: tampered with, from another list, or from another program.
var errBadToken = Invalid("page_token", "is not a token this server issued")

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
//
// Balances fade, so a customer whose deficit has faded to dust (see
// Policy.DustThreshold) is no longer listed, though its stored key stays
// until its next event; such rows sit at the end of the index.
//
// While a recompute job for the active version has not succeeded, rows it
// has not reached hold keys of an older version: a customer the new version
// puts on a list may be missing from that list's index. Then the list is
// read from the balance index instead (most negative first for RECOVERY,
// highest first for ADVOCACY), every customer checked under the active
// version: membership stays exact, and the order is by balance rather than
// urgency (ApproximateOrder says so). A pagination started that way keeps
// that order to its end. While the job runs, a pagination may still repeat
// or skip a customer the job re-ranks between two pages (each page is
// exact); a page token from before a policy change is refused.
func (s *Service) ListOutreach(ctx context.Context, tenant string, purpose Purpose, pageSize int, token string, allowStale bool) (OutreachPage, error) {
	idx := ByRecovery
	switch purpose {
	case PurposeRecovery:
	case PurposeAdvocacy:
		idx = ByAdvocacy
	default:
		return OutreachPage{}, Invalid("purpose", "is required: OUTREACH_PURPOSE_RECOVERY or OUTREACH_PURPOSE_ADVOCACY")
	}
	size, err := s.limits.pageSize(pageSize)
	if err != nil {
		return OutreachPage{}, err
	}
	lists := "Rr"
	if purpose == PurposeAdvocacy {
		lists = "Aa"
	}
	tok, err := decodeRankToken(token, s.limits.MaxIDLength, lists)
	if err != nil {
		return OutreachPage{}, err
	}
	now := s.clock()
	var page OutreachPage
	err = s.analystView(ctx, allowStale, func(r Reader) error {
		pol, err := s.active(ctx, r, tenant)
		if err != nil {
			return err
		}
		page.PolicyVersion = pol.Version
		var byBalance bool
		var after *RankCursor
		if tok == nil {
			if byBalance, err = s.reranking(ctx, r, tenant, pol); err != nil {
				return err
			}
		} else {
			if tok.version != pol.Version {
				return errRankChanged(tok.version, pol.Version)
			}
			byBalance, after = tok.list == 'r' || tok.list == 'a', &tok.at
		}
		rq := RankQuery{Index: idx, After: after}
		if byBalance {
			rq = RankQuery{Index: ByBalance, Desc: purpose == PurposeAdvocacy, After: after}
		}
		page.ApproximateOrder = byBalance
		entries, next, err := s.walk(ctx, r, pol, tenant, rq, size, now, func(c Customer, b Balance) bool {
			if purpose == PurposeRecovery {
				return b.Value < 0
			}
			return b.Value > 0 && c.State.Trend > 0
		})
		if err != nil {
			return err
		}
		list := lists[0]
		if byBalance {
			list = lists[1]
		}
		page.NextPageToken = encodeRankToken(list, pol.Version, next)
		for _, e := range entries {
			page.Entries = append(page.Entries, outreachEntry(purpose, e, now))
		}
		return nil
	})
	return page, err
}

// OutreachPage is one page of ListOutreach.
type OutreachPage struct {
	Entries       []OutreachEntry
	NextPageToken string
	PolicyVersion int64
	// ApproximateOrder: see ListOutreach.
	ApproximateOrder bool
}

func outreachEntry(purpose Purpose, e BalanceEntry, now time.Time) OutreachEntry {
	c, b, st := e.Customer, e.Balance, e.Customer.State
	oe := OutreachEntry{BalanceEntry: e}
	if purpose == PurposeAdvocacy {
		oe.Priority = b.Value
		oe.Reasons = append(oe.Reasons, fmt.Sprintf("balance %.1f and rising (recent net %+.1f)", b.Value, st.Trend))
		if !st.Last.At.IsZero() {
			oe.Reasons = append(oe.Reasons, fmt.Sprintf("last event %s", ago(st.Last.At, now)))
		}
		return oe
	}
	oe.Priority = -b.Value * max(c.Profile.Value, minOutreachValue)
	if st.Unanswered() {
		oe.Priority *= 2
		oe.Reasons = append(oe.Reasons, fmt.Sprintf("%s %s, no response or credit since",
			strings.ReplaceAll(st.LastGrievanceKind.String(), "_", " "), ago(st.LastGrievanceAt, now)))
	} else if !st.LastGrievanceAt.IsZero() {
		oe.Reasons = append(oe.Reasons, fmt.Sprintf("%s %s, answered %s",
			strings.ReplaceAll(st.LastGrievanceKind.String(), "_", " "), ago(st.LastGrievanceAt, now),
			ago(st.LastRemedyAt, now)))
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
