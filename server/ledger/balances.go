package ledger

import (
	"context"
	"errors"
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
	// AsOf is the moment to value balances at; zero: now. Ignored with a
	// PageToken, which carries its listing's moment.
	AsOf time.Time
}

// BalanceEntry is one customer in a ranking, with its balance at the
// listing's moment.
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
//
// Every page of one listing values balances at the same moment: q.AsOf, or
// the first page's now, which the page token carries. The rows still come
// in the order of the stored ranking, which is the order at that moment
// too except for customers with events that occurred after it (their rank
// is their balance now); the filters are checked on the balance at that
// moment, but such a customer may lie outside the index bounds drawn from
// them and be left out.
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
	if !q.AsOf.IsZero() {
		v.add(CheckEarliest("as_of", q.AsOf))
	}
	tok, err := decodeRankToken(q.PageToken, s.limits.MaxIDLength, "B")
	v.add(err)
	if err := v.err(); err != nil {
		return BalancePage{}, err
	}
	now := s.clock()
	switch {
	case tok != nil && !tok.asOf.IsZero():
		now = tok.asOf
	case tok == nil && !q.AsOf.IsZero():
		now = q.AsOf.UTC().Truncate(time.Microsecond)
	}
	page := BalancePage{AsOf: now}
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
		page.NextPageToken = encodeRankTokenAt('B', pol.Version, now, next)
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
	// AsOf is the moment the balances are valued at (ListBalances).
	AsOf time.Time
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
