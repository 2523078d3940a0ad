package ledger

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A backfill replays every customer once per 8 days: at a million
// customers that is minutes, longer than a call should hold a connection
// (the Go client gives each attempt of a write 15 s). So BackfillTrends
// runs it in the background, waits for it as long as the call's deadline
// allows, and says whether it finished; calling again with the same range
// waits on the same run instead of starting another.
const (
	// backfillTimeout bounds one background backfill.
	backfillTimeout = 2 * time.Hour
	// backfillWait is how long a call without a deadline waits.
	backfillWait = 20 * time.Second
	// backfillMargin is left of the call's deadline to answer in.
	backfillMargin = time.Second
)

// TrendBackfill is how far a backfill has come.
type TrendBackfill struct {
	// Days is how many days are written so far; Done whether all are.
	Days int
	Done bool
}

type backfill struct {
	start, end time.Time
	written    atomic.Int64
	done       chan struct{}
	err        error
}

// backfills are the backfills running in this process, one per tenant.
type backfills struct {
	mu      sync.Mutex
	running map[string]*backfill
}

// BackfillTrends takes the daily snapshots of the days from start to end,
// as SnapshotTrends does, in the background: it answers when they are
// done, or just before ctx's deadline with Done false while the run goes
// on (follow it with BalanceTrend; the days appear as they are written).
// A call for the same range joins the run; another range while one runs
// is ErrFailedPrecondition.
func (s *Service) BackfillTrends(ctx context.Context, tenant string, start, end time.Time) (TrendBackfill, error) {
	if err := checkDays(start, end, s.clock(), true); err != nil {
		return TrendBackfill{}, err
	}
	b, err := s.backfills.join(tenant, start, end, func(b *backfill) {
		run, cancel := context.WithTimeout(context.WithoutCancel(ctx), backfillTimeout)
		defer cancel()
		_, b.err = s.snapshotTrends(run, tenant, start, end, &b.written)
		if b.err != nil {
			s.log.Warn("trends: backfill failed", "tenant", tenant, "start", start.Format(time.DateOnly),
				"end", end.Format(time.DateOnly), "err", b.err)
		}
	})
	if err != nil {
		return TrendBackfill{}, err
	}
	wait := backfillWait
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl) - backfillMargin
	}
	timer := time.NewTimer(max(wait, 0))
	defer timer.Stop()
	select {
	case <-b.done:
		return TrendBackfill{Days: int(b.written.Load()), Done: b.err == nil}, b.err
	case <-timer.C:
		return TrendBackfill{Days: int(b.written.Load())}, nil
	case <-ctx.Done():
		return TrendBackfill{Days: int(b.written.Load())}, ctx.Err()
	}
}

// join returns the tenant's running backfill of this range, or starts one
// with run.
func (r *backfills) join(tenant string, start, end time.Time, run func(*backfill)) (*backfill, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b := r.running[tenant]; b != nil {
		if !b.start.Equal(start) || !b.end.Equal(end) {
			return nil, precondition("a backfill of %s to %s is running for this tenant; wait for it, or call again with that range to follow it",
				b.start.Format(time.DateOnly), b.end.Format(time.DateOnly))
		}
		return b, nil
	}
	if r.running == nil {
		r.running = map[string]*backfill{}
	}
	b := &backfill{start: start, end: end, done: make(chan struct{})}
	r.running[tenant] = b
	go func() {
		run(b)
		r.mu.Lock()
		delete(r.running, tenant)
		r.mu.Unlock()
		close(b.done)
	}()
	return b, nil
}
