package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"
)

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
func (s *Service) ListOutreach(ctx context.Context, tenant string, purpose Purpose, segment string, pageSize int, token string, allowStale bool) (OutreachPage, error) {
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
		page = OutreachPage{} // the store may run this again
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
			return (segment == "" || c.Profile.Segment == segment) && onList(purpose, c, b)
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
			page.Entries = append(page.Entries, s.outreachEntry(purpose, e, pol, now))
		}
		return nil
	})
	return page, err
}

// onList reports whether a customer, with balance b under the policy its
// state was computed with, belongs on an outreach list. ListOutreach and
// policy simulations share it, so a simulation lists whom the list will.
func onList(purpose Purpose, c Customer, b Balance) bool {
	if purpose == PurposeRecovery {
		return b.Value < 0
	}
	return b.Value > 0 && c.State.Trend > 0
}

// OutreachPage is one page of ListOutreach.
type OutreachPage struct {
	Entries       []OutreachEntry
	NextPageToken string
	PolicyVersion int64
	// ApproximateOrder: see ListOutreach.
	ApproximateOrder bool
}

func (s *Service) outreachEntry(purpose Purpose, e BalanceEntry, pol *Policy, now time.Time) OutreachEntry {
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
	if b.Status == StatusOverdrawn && c.PolicyVersion == pol.Version {
		// The cheapest ways back a person can offer: PlanRecovery's, for
		// the remedies only. (During a recompute a state of the old
		// version would give a plan under the wrong rules: none then.)
		plan := planRecovery(c, st, pol, now, nil, s.limits.MaxMagnitude, []Kind{KindCredit, KindResponse})
		if w := wayBack(plan); w != "" {
			oe.Reasons = append(oe.Reasons, w)
		}
	}
	return oe
}
