package ledger

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"
)

// Simulation is a what-if job: how a draft policy, not installed, would
// change the tenant's outreach lists and segment summaries. It reads one
// snapshot of the ledger and writes nothing to it.
type Simulation struct {
	TenantID string
	ID       string
	State    JobState
	// Total is the tenant's customer count in the snapshot, Done how many
	// the job has valued under both policies so far.
	Total, Done int64
	StartedAt   time.Time
	FinishedAt  time.Time
	// SnapshotAt is the moment both policies value the balances at; the
	// snapshot is the ledger as it stood then (a few seconds earlier with
	// Stale, a follower read on CockroachDB). Changes since are not in
	// the answer.
	SnapshotAt time.Time
	Stale      bool
	Error      string
	// Draft is the simulated policy, numbered as it would be installed
	// now.
	Draft  *Policy
	Result *SimulationResult
}

// SimulationResult compares the active policy with the draft, over the
// same customers at the same moment.
type SimulationResult struct {
	// ActiveVersion is the policy the snapshot's balances are under.
	ActiveVersion int64
	// Before and After are SummarizeBalances' table (each segment, then
	// everyone) under the active policy and under the draft.
	Before, After []SegmentStats
	Recovery      ListChange
	Advocacy      ListChange
	// Movers are the customers whose balance the draft changes most,
	// biggest change first, at most MaxSimulationListed.
	Movers []Move
}

// ListChange is how one outreach list would change.
type ListChange struct {
	// Before and After count the customers on the list under each policy.
	Before, After int64
	// EnteredCount and LeftCount count who would join and leave it;
	// Entered and Left name them, biggest balance change first, at most
	// MaxSimulationListed each.
	EnteredCount, LeftCount int64
	Entered, Left           []Move
}

// Move is one customer's balance under the active policy and the draft.
type Move struct {
	CustomerID  string
	DisplayName string
	Segment     string
	Before      Balance
	After       Balance
}

// Delta is how far the draft moves the customer's balance.
func (m Move) Delta() float64 { return m.After.Value - m.Before.Value }

// MaxSimulationListed bounds the customers a simulation names per list and
// among the movers; the counts are always complete.
const MaxSimulationListed = 100

// simulate values every customer of the tenant under the active policy and
// under draft at `now`, in one snapshot. progress is called after each
// batch with the customers done and the total.
func (s *Service) simulate(ctx context.Context, tenant string, draft *Policy, now time.Time, stale bool,
	progress func(done, total int64)) (SimulationResult, error) {
	var res SimulationResult
	err := s.analystView(ctx, stale, func(r Reader) error {
		res = SimulationResult{} // the store may run this again
		pol, err := s.active(ctx, r, tenant)
		if err != nil {
			return err
		}
		res.ActiveVersion = pol.Version
		// Numbered as installing it now would number it.
		numbered := *draft
		numbered.Version = pol.Version + 1
		draft := &numbered
		total, err := r.CountCustomers(ctx, tenant)
		if err != nil {
			return err
		}
		before, after := newSummarizer(), newSummarizer()
		var movers, recIn, recOut, advIn, advOut topMoves
		err = eachHistory(ctx, r, tenant, func(done int64) { progress(done, max(total, done)) }, func(c Customer, hist []Event) error {
			// The active side as every read sees it (restate); the draft
			// side as its recompute job would store it.
			cb := c
			if c.PolicyVersion != pol.Version || now.Before(c.State.Last.At) {
				cb.State = pol.Replay(hist, now)
			}
			ca := c
			ca.State = draft.Replay(hist, now)
			m := Move{CustomerID: c.ID, DisplayName: c.Profile.DisplayName, Segment: c.Profile.Segment,
				Before: balanceOf(cb, cb.State, pol, now), After: balanceOf(ca, ca.State, draft, now)}
			before.add(c, m.Before)
			after.add(c, m.After)
			if m.Delta() != 0 {
				movers.add(m)
			}
			res.Recovery.count(onList(PurposeRecovery, cb, m.Before), onList(PurposeRecovery, ca, m.After), m, &recIn, &recOut)
			res.Advocacy.count(onList(PurposeAdvocacy, cb, m.Before), onList(PurposeAdvocacy, ca, m.After), m, &advIn, &advOut)
			return nil
		})
		if err != nil {
			return err
		}
		res.Before, res.After = before.finish(""), after.finish("")
		res.Movers = movers.list()
		res.Recovery.Entered, res.Recovery.Left = recIn.list(), recOut.list()
		res.Advocacy.Entered, res.Advocacy.Left = advIn.list(), advOut.list()
		return nil
	})
	return res, err
}

// count notes one customer's membership of the list under both policies.
func (l *ListChange) count(was, is bool, m Move, entered, left *topMoves) {
	if was {
		l.Before++
	}
	if is {
		l.After++
	}
	switch {
	case is && !was:
		l.EnteredCount++
		entered.add(m)
	case was && !is:
		l.LeftCount++
		left.add(m)
	}
}

// topMoves keeps the MaxSimulationListed biggest moves seen, in memory
// bounded by twice that whatever the tenant's size.
type topMoves struct{ ms []Move }

func (t *topMoves) add(m Move) {
	t.ms = append(t.ms, m)
	if len(t.ms) >= 2*MaxSimulationListed {
		t.trim()
	}
}

func (t *topMoves) trim() {
	slices.SortFunc(t.ms, func(a, b Move) int {
		if c := cmp.Compare(math.Abs(b.Delta()), math.Abs(a.Delta())); c != 0 {
			return c
		}
		return cmp.Compare(a.CustomerID, b.CustomerID)
	})
	t.ms = t.ms[:min(len(t.ms), MaxSimulationListed)]
}

func (t *topMoves) list() []Move {
	t.trim()
	return t.ms
}
