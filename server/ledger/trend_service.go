package ledger

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

const (
	// MaxTrendDays bounds the days one trend read or backfill spans.
	MaxTrendDays = 366
	// DefaultTrendDays is the span a trend read without a start covers.
	DefaultTrendDays = 30
	// trendPassDays is how many days one pass over the customers values:
	// the pass holds every balance of those days in memory (8 bytes per
	// customer and day) to take exact percentiles.
	trendPassDays = 8
	// trendCatchUp is how many missed days the worker snapshots on its
	// own, after an outage; older gaps are for a backfill.
	trendCatchUp = 7
)

// SnapshotTrends takes the daily summary snapshots of the tenant for the
// days from start to end (both included, each a 00:00 UTC), replacing any
// taken before, and returns how many days it wrote. It is the backfill
// and the worker's daily step alike, so a backfilled day and one taken on
// the day agree.
//
// A day's snapshot is SummarizeBalances at the day's last moment, under the
// active policy, from the events that occurred by then, as they stand now
// (a later reversal removes an event from every day), of the customers
// that existed by then (created, or with an event) and in the segment
// their profile names now. Only finished days: end must be before today.
func (s *Service) SnapshotTrends(ctx context.Context, tenant string, start, end time.Time) (int, error) {
	return s.snapshotTrends(ctx, tenant, start, end, nil)
}

// snapshotTrends is SnapshotTrends, telling written (when set) how many
// days are written after each pass.
func (s *Service) snapshotTrends(ctx context.Context, tenant string, start, end time.Time, written *atomic.Int64) (int, error) {
	now := s.clock()
	if err := checkDays(start, end, now, true); err != nil {
		return 0, err
	}
	n := 0
	for first := start; !first.After(end); first = first.AddDate(0, 0, trendPassDays) {
		var days []time.Time
		for d := first; !d.After(end) && len(days) < trendPassDays; d = d.AddDate(0, 0, 1) {
			days = append(days, d)
		}
		points, err := s.trendPass(ctx, tenant, days, now)
		if err != nil {
			return n, err
		}
		if err := s.store.Update(ctx, func(tx Tx) error { return tx.PutTrendPoints(ctx, tenant, points) }); err != nil {
			return n, err
		}
		n += len(days)
		if written != nil {
			written.Store(int64(n))
		}
	}
	return n, nil
}

// trendPass values every customer at the end of each of days (ascending)
// in one snapshot, replaying each history once across all of them.
func (s *Service) trendPass(ctx context.Context, tenant string, days []time.Time, now time.Time) ([]TrendPoint, error) {
	var points []TrendPoint
	err := s.store.View(ctx, func(r Reader) error {
		points = nil // the store may run this again
		pol, err := s.active(ctx, r, tenant)
		if err != nil {
			return err
		}
		sums := make([]*summarizer, len(days))
		for i := range sums {
			sums[i] = newSummarizer()
		}
		err = eachHistory(ctx, r, tenant, nil, func(c Customer, hist []Event) error {
			// Replay's steps, paused at each day's end.
			eff := Effective(hist)
			var st State
			next := 0
			for i, day := range days {
				until := endOfDay(day)
				for next < len(eff) && !eff[next].OccurredAt.After(until) {
					st, _ = pol.Apply(st, eff[next])
					next++
				}
				if st.Count == 0 && c.CreatedAt.After(until) {
					continue // not a customer yet
				}
				sums[i].add(c, balanceOf(c, st, pol, until))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, day := range days {
			for _, st := range sums[i].finish("") {
				points = append(points, TrendPoint{Day: day, SegmentStats: st, PolicyVersion: pol.Version, TakenAt: now})
			}
		}
		return nil
	})
	return points, err
}

// BalanceTrend returns the daily snapshots of one segment, or of everyone
// when segment is "", from start to end (both included). A zero end is
// yesterday, a zero start DefaultTrendDays before end. Days without a
// snapshot are absent from the series (TrendRange fills the defaults).
func (s *Service) BalanceTrend(ctx context.Context, tenant, segment string, start, end time.Time, allowStale bool) ([]TrendPoint, error) {
	if err := checkText("segment", segment, s.limits.MaxSegmentLength); err != nil {
		return nil, err
	}
	now := s.clock()
	start, end = s.TrendRange(start, end)
	if err := checkDays(start, end, now, false); err != nil {
		return nil, err
	}
	var points []TrendPoint
	err := s.analystView(ctx, allowStale, func(r Reader) error {
		var err error
		points, err = r.TrendPoints(ctx, tenant, TrendQuery{Segment: segment, Overall: segment == "", Start: start, End: end})
		return err
	})
	return points, err
}

// TrendRange fills in BalanceTrend's defaults: a zero end is yesterday, a
// zero start DefaultTrendDays before end.
func (s *Service) TrendRange(start, end time.Time) (time.Time, time.Time) {
	if end.IsZero() {
		end = Day(s.clock()).AddDate(0, 0, -1)
	}
	if start.IsZero() {
		start = end.AddDate(0, 0, -(DefaultTrendDays - 1))
	}
	return start, end
}

// checkDays checks a range of days; finished requires every day to be
// over (a snapshot of today would change by tonight).
func checkDays(start, end, now time.Time, finished bool) error {
	for _, d := range []struct {
		field string
		t     time.Time
	}{{"start", start}, {"end", end}} {
		if !d.t.Equal(Day(d.t)) {
			return Invalid(d.field, "must be a day (00:00 UTC), got %s", d.t.Format(time.RFC3339Nano))
		}
	}
	if end.Before(start) {
		return Invalid("end", "is before start (%s)", start.Format(time.DateOnly))
	}
	if n := int(end.Sub(start).Hours()/24) + 1; n > MaxTrendDays {
		return Invalid("end", "spans %d days from start; at most %d", n, MaxTrendDays)
	}
	if finished && !end.Before(Day(now)) {
		return Invalid("end", "must be a finished day, before today (%s UTC)", Day(now).Format(time.DateOnly))
	}
	return nil
}

// runTrends takes each tenant's snapshot of yesterday once yesterday is
// over, checking every TrendEvery, and catches up on up to trendCatchUp
// days it missed. One replica at a time does it, under the trendsLease:
// a snapshot walks every event of the tenant, and a fleet started
// together would otherwise walk them all at once, each replica for the
// same numbers.
func (s *Service) runTrends(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(s.trendEvery)
	defer t.Stop()
	owner := "replica-" + s.newID()
	for {
		if err := s.snapshotDue(ctx, owner, log); err != nil && ctx.Err() == nil {
			log.Warn("trends: taking the daily snapshots failed; retrying later", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

const (
	// trendsLease names the lease of the daily snapshots.
	trendsLease = "trend-snapshots"
	// trendsLeaseFor is how long a claim of it lasts: its holder renews
	// it every third of that while it works, and a holder that died
	// hands it on once it runs out.
	trendsLeaseFor = 2 * time.Minute
)

// snapshotDue takes the snapshots that are due, for every tenant, if this
// replica (owner) gets the lease; another replica holding it is taking
// them already.
func (s *Service) snapshotDue(ctx context.Context, owner string, log *slog.Logger) error {
	yesterday := Day(s.clock()).AddDate(0, 0, -1)
	due, err := s.trendsDue(ctx, yesterday)
	if err != nil || len(due) == 0 {
		return err
	}
	ctx, release, ok, err := s.holdLease(ctx, trendsLease, owner, trendsLeaseFor, log)
	if err != nil {
		return err
	}
	if !ok {
		log.Debug("trends: another replica is taking the daily snapshots")
		return nil
	}
	defer release()
	// Read again under the lease: the replica that held it may just have
	// taken them.
	if due, err = s.trendsDue(ctx, yesterday); err != nil {
		return err
	}
	for _, d := range due {
		n, err := s.SnapshotTrends(ctx, d.tenant, d.from, yesterday)
		if err != nil {
			return err
		}
		log.Info("trends: daily snapshots taken", "tenant", d.tenant, "days", n, "through", yesterday.Format(time.DateOnly))
	}
	return nil
}

// trendDue is a tenant whose snapshots from from through yesterday are due.
type trendDue struct {
	tenant string
	from   time.Time
}

// trendsDue lists the tenants without a snapshot of yesterday, each from
// the day after its latest (at most trendCatchUp days back).
func (s *Service) trendsDue(ctx context.Context, yesterday time.Time) ([]trendDue, error) {
	var tenants []string
	if err := s.store.View(ctx, func(r Reader) error {
		var err error
		tenants, err = r.Tenants(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	var due []trendDue
	for _, tenant := range tenants {
		var latest time.Time
		err := s.store.View(ctx, func(r Reader) error {
			var err error
			latest, err = r.LatestTrendDay(ctx, tenant)
			return err
		})
		from := yesterday
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, err
		default:
			from = latest.AddDate(0, 0, 1)
			if oldest := yesterday.AddDate(0, 0, 1-trendCatchUp); from.Before(oldest) {
				from = oldest
			}
		}
		if !from.After(yesterday) {
			due = append(due, trendDue{tenant: tenant, from: from})
		}
	}
	return due, nil
}
