package ledger

import (
	"context"
	"errors"
	"sync"
	"time"
)

// GroupCommit configures the coalescing of concurrent single-event writes
// (RecordEvent) into shared transactions: one commit, one fsync, for many
// callers. Each caller still gets its own result, and nothing is
// acknowledged before its transaction has committed.
type GroupCommit struct {
	// Disabled runs every RecordEvent in its own transaction.
	Disabled bool
	// Window is how long a batch waits for more writes after its first
	// write arrived (default 1ms). It bounds the latency group commit adds:
	// writes that queued while the writers were busy have waited it
	// already, so their batch goes as soon as a writer is free.
	Window time.Duration
	// MaxBatch closes a batch early (default 256).
	MaxBatch int
	// Writers is how many batches may be in flight at once (default 1).
	// A customer is in one batch in flight at most, so its events keep
	// their arrival order. More than one helps a store whose commits wait
	// on the network (PostgreSQL, CockroachDB); SQLite has one write lock.
	Writers int
}

func (g GroupCommit) withDefaults() GroupCommit {
	if g.Window <= 0 {
		g.Window = time.Millisecond
	}
	if g.MaxBatch <= 0 {
		g.MaxBatch = 256
	}
	if g.Writers <= 0 {
		g.Writers = 1
	}
	return g
}

// batchTimeout bounds one batch's transaction. The batch is not tied to
// any one caller's context, since many callers share it, but it ends at the
// latest of their deadlines: once every caller has given up, nobody waits
// for the answer (see batchContext).
const batchTimeout = 30 * time.Second

// pending is one caller's write waiting for its batch.
type pending struct {
	// ctx is the caller's context, read only for its deadline and to skip
	// a write whose caller has already gone (it was told so, and will retry
	// with its idempotency key).
	ctx context.Context
	// queued is when the write was queued (the monotonic clock): a batch's
	// window runs from its oldest write's arrival.
	queued time.Time
	tenant string
	e      Event
	now    time.Time
	// stamped: the event came without a time and took now's
	// (groupcommit_stamp.go).
	stamped bool
	done    chan recordResult
}

type recordResult struct {
	rec Recorded
	err error
}

// committer turns queued writes into batches and hands each to one of
// cfg.Writers writers. One collector forms every batch, from every
// customer, whenever a writer is free: while all are busy, writes
// accumulate, so a batch stays as large as one writer's would. (Writers
// that each owned a share of the customers each collected a share of the
// traffic: four of them committed four times as many batches, and the
// per-batch work, statements planned, round trips and commits, made four
// writers half as fast as one; docs/benchmarks.md, round 2.)
//
// A customer's events keep their arrival order: a write whose customer is
// in a batch still being committed is held until that batch is done, and
// then goes before anything newer of that customer (scheduler).
type committer struct {
	svc      *Service
	cfg      GroupCommit
	queue    chan *pending
	stop     chan struct{}
	stopOnce sync.Once
	exited   chan struct{}
	// last is the time the collector last handed out (stamp).
	last time.Time
}

func newCommitter(s *Service, cfg GroupCommit) *committer {
	c := &committer{svc: s, cfg: cfg, queue: make(chan *pending, 4*cfg.MaxBatch),
		stop: make(chan struct{}), exited: make(chan struct{})}
	go c.run()
	return c
}

// submit queues a write and waits for its batch to commit. If ctx ends
// first the caller gets ctx's error, but the write may still commit: a
// retry with the same idempotency key finds it.
func (c *committer) submit(ctx context.Context, p *pending) (Recorded, error) {
	p.queued = time.Now()
	select {
	case c.queue <- p:
	case <-c.stop:
		return Recorded{}, &UnavailableError{Message: "the ledger is shutting down"}
	case <-ctx.Done():
		return Recorded{}, ctx.Err()
	}
	select {
	case r := <-p.done:
		return r.rec, r.err
	case <-ctx.Done():
		return Recorded{}, ctx.Err()
	}
}

// run is the collector. It starts the writers, forms batches while one is
// free, and at stop commits what is queued or held before it returns.
func (c *committer) run() {
	defer close(c.exited)
	work := make(chan []*pending)
	finished := make(chan []*pending, c.cfg.Writers)
	var writers sync.WaitGroup
	for range c.cfg.Writers {
		writers.Go(func() {
			for b := range work {
				c.svc.commitBatch(b)
				finished <- b
			}
		})
	}
	sch := newScheduler(c.cfg.Writers)
	for {
		if sch.idle == 0 {
			sch.done(<-finished)
			continue
		}
		batch, stopped := c.collect(sch, finished)
		if len(batch) > 0 {
			sch.dispatch(batch)
			work <- batch
		}
		if stopped {
			break
		}
	}
	// Stop: let the batches in flight finish, then commit what is held
	// (older) and what is queued (newer), in order, on this goroutine.
	for sch.idle < c.cfg.Writers {
		sch.done(<-finished)
	}
	close(work)
	writers.Wait()
	rest := sch.held
	for more := true; more; {
		select {
		case p := <-c.queue:
			c.stamp(p)
			rest = append(rest, p)
		default:
			more = false
		}
	}
	for len(rest) > 0 {
		n := min(len(rest), c.cfg.MaxBatch)
		c.svc.commitBatch(rest[:n])
		rest = rest[n:]
	}
}

// collect forms one batch for a free writer: the held writes it may take,
// then what arrives up to MaxBatch until the window ends, Window after the
// batch's oldest write was queued. stopped reports that the committer is
// stopping; the batch is then whatever was gathered.
//
// The window runs from the oldest write's arrival, not from when the
// writer became free: writes that queued while the writer was busy have
// waited their window already, so the batch takes what is queued and goes
// at once. Waiting again would leave the writer idle for a window after
// every batch under load, while the callers it had just answered sent
// their next writes (with 64 callers the writer was busy 80% of the time,
// 91-95% since; docs/benchmarks.md).
func (c *committer) collect(sch *scheduler, finished <-chan []*pending) (batch []*pending, stopped bool) {
	batch = sch.release(nil, c.cfg.MaxBatch)
	var window <-chan time.Time // nil, so never ready, until the batch has a write
	for len(batch) < c.cfg.MaxBatch {
		if window == nil && len(batch) > 0 {
			wait := c.cfg.Window - time.Since(batch[0].queued)
			if wait <= 0 {
				return c.takeQueued(sch, batch), false
			}
			timer := time.NewTimer(wait)
			defer timer.Stop()
			window = timer.C
		}
		select {
		case p := <-c.queue:
			c.stamp(p)
			batch = sch.admit(batch, p)
		case b := <-finished:
			sch.done(b)
			batch = sch.release(batch, c.cfg.MaxBatch)
		case <-window:
			return c.takeQueued(sch, batch), false
		case <-c.stop:
			return batch, true
		}
	}
	return batch, false
}

// takeQueued adds to batch what is queued already, without waiting, up to
// MaxBatch.
func (c *committer) takeQueued(sch *scheduler, batch []*pending) []*pending {
	for len(batch) < c.cfg.MaxBatch {
		select {
		case p := <-c.queue:
			c.stamp(p)
			batch = sch.admit(batch, p)
		default:
			return batch
		}
	}
	return batch
}

// close stops the committer after it has committed what it holds.
func (c *committer) close() {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.exited
}

// commitBatch records a batch in one transaction. An idempotency conflict
// fails only its own write. Any other failure fails the transaction, so
// each write is then retried alone: one poisoned write cannot fail the
// others.
func (s *Service) commitBatch(batch []*pending) {
	batch = dropAbandoned(batch)
	if len(batch) == 0 {
		return
	}
	ctx, cancel := batchContext(batch)
	defer cancel()
	if s.batchCtx != nil {
		callers := make([]context.Context, len(batch))
		for i, p := range batch {
			callers[i] = p.ctx
		}
		ctx = s.batchCtx(ctx, callers)
	}
	results := make([]recordResult, len(batch))
	// One recordBatch per tenant, in one transaction; arrival order is kept
	// within each tenant, which is all per-customer order needs.
	byTenant := map[string][]int{}
	var tenants []string
	for i, p := range batch {
		if _, ok := byTenant[p.tenant]; !ok {
			tenants = append(tenants, p.tenant)
		}
		byTenant[p.tenant] = append(byTenant[p.tenant], i)
	}
	now := batch[len(batch)-1].now
	// refused is what the closure itself returned on its last run: an
	// error raised before the commit, so the batch certainly did not
	// commit.
	var refused error
	began := time.Now()
	err := s.updateCustomers(ctx, func(tx Tx) error {
		clear(results) // the store may run this closure more than once
		refused = nil
		for _, tenant := range tenants {
			idx := byTenant[tenant]
			events := make([]Event, len(idx))
			for j, i := range idx {
				events[j] = batch[i].e
			}
			reads, err := readAhead(ctx, tx, tenant, events)
			if err != nil {
				refused = err
				return err
			}
			pol, err := s.active(ctx, tx, tenant)
			if err != nil {
				refused = err
				return err
			}
			recs, err := s.recordBatch(ctx, tx, pol, tenant, events, reads, now)
			if err != nil {
				refused = err
				return err
			}
			for j, i := range idx {
				results[i] = recs[j]
			}
		}
		return nil
	})
	if s.onBatch != nil {
		s.onBatch(len(batch), time.Since(began))
	}
	// Retrying alone isolates a write that poisons the batch. It runs only
	// when the batch is known not to have committed: the error came from
	// the closure, not from the commit (whose failure may hide a commit
	// that happened: re-running would then record events without keys
	// twice). When the store is unreachable or the callers' time is up it
	// would only repeat the failure once per write, so everyone gets the
	// error at once.
	notCommitted := refused != nil && errors.Is(err, refused)
	if err != nil && notCommitted && len(batch) > 1 && !errors.Is(err, ErrUnavailable) && ctx.Err() == nil {
		for i, p := range batch {
			rec, err := s.recordAlone(ctx, p.tenant, p.e, p.now)
			results[i] = recordResult{rec, err}
		}
	} else if err != nil {
		for i := range results {
			results[i] = recordResult{err: err}
		}
	}
	for i, p := range batch {
		p.done <- results[i] // buffered: never blocks on a caller that left
	}
}

// dropAbandoned answers the writes whose callers have already given up
// (nobody would receive their result) and returns the others in a new
// slice. Not in place: the collector releases the customers of the batch
// it handed out, all of them, from its own slice once the writer is done;
// compacted in place, that slice lost a dropped write's customer, which
// then stayed in flight for ever and held every later write of it.
func dropAbandoned(batch []*pending) []*pending {
	kept := make([]*pending, 0, len(batch))
	for _, p := range batch {
		if p.ctx != nil && p.ctx.Err() != nil {
			p.done <- recordResult{err: p.ctx.Err()}
			continue
		}
		kept = append(kept, p)
	}
	return kept
}

// batchContext bounds a batch's transaction by the latest deadline among
// its callers (batchTimeout at most), so a slow or unreachable store does
// not keep the single writer busy for callers that have all left.
func batchContext(batch []*pending) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(batchTimeout)
	var latest time.Time
	for _, p := range batch {
		var d time.Time
		ok := false
		if p.ctx != nil {
			d, ok = p.ctx.Deadline()
		}
		if !ok {
			latest = deadline
			break
		}
		if d.After(latest) {
			latest = d
		}
	}
	if latest.Before(deadline) {
		deadline = latest
	}
	return context.WithDeadline(context.Background(), deadline)
}
