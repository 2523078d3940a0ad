package ledger

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Service records goodwill events and answers balance questions. It holds
// the domain rules; the Store only keeps rows.
type Service struct {
	store Store
	// builtin is version 1, in force until a tenant installs another.
	builtin  *Policy
	policies policyCache
	limits   Limits
	now      func() time.Time
	newID    func() string
	// kick wakes the recompute worker when a policy is installed.
	kick chan struct{}
	// followerReads lets every analyst read use Store.ViewStale.
	followerReads bool
	// groupCommit configures the writers Run starts; running holds them
	// while Run runs (nil: every RecordEvent commits alone).
	groupCommit GroupCommit
	running     atomic.Pointer[committer]
	// started is closed once Run has installed the writers, so a server can
	// wait for it before it reports itself ready (calls before then commit
	// alone: correct, but without group commit).
	started     chan struct{}
	startedOnce sync.Once
	onBatch     func(size int, took time.Duration)
	batchCtx    func(ctx context.Context, callers []context.Context) context.Context
	// backoff is Options.RecomputeBackoff with defaults; poll how often
	// the recompute worker looks for jobs another replica started.
	backoff [2]time.Duration
	poll    time.Duration
	log     *slog.Logger
	// notify times the outbox's background work; seqKick wakes the
	// sequencer, hub wakes stream readers.
	notify   NotifyOptions
	seqKick  chan struct{}
	hub      notifyHub
	feed     feed
	webhooks WebhookOptions
	publish  Publisher
	// trendEvery is Options.TrendEvery.
	trendEvery time.Duration
	// sims holds the what-if jobs this process runs (SimulatePolicy),
	// backfills the trend backfills (BackfillTrends).
	sims      simulations
	backfills backfills
	// published is the last number the publisher has published.
	published atomic.Int64
}

// NotifyOptions time the notifications' background work; zero fields take
// the defaults.
type NotifyOptions struct {
	// SequencerPoll is how often the sequencer looks for notifications
	// other replicas committed (default 200ms; this process's wake it).
	SequencerPoll time.Duration
	// WatchPoll is the longest a stream reader waits before reading again
	// (default 1s; numbers given by this process wake it at once).
	WatchPoll time.Duration
	// ScheduleEvery is how often recoveries by time alone are announced
	// (default 1s): the announcement is dated at the exact moment anyway.
	ScheduleEvery time.Duration
	// Retention is how long numbered notifications are kept (default 7
	// days): a consumer further behind misses the oldest. PruneEvery is
	// how often they are pruned (default 10 minutes).
	Retention, PruneEvery time.Duration
}

func (o NotifyOptions) withDefaults() NotifyOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.SequencerPoll, 200*time.Millisecond)
	def(&o.WatchPoll, time.Second)
	def(&o.ScheduleEvery, time.Second)
	def(&o.Retention, 7*24*time.Hour)
	def(&o.PruneEvery, 10*time.Minute)
	return o
}

// Options configure a Service; zero fields take defaults.
type Options struct {
	// Policy is the built-in version 1 (DefaultPolicy when nil).
	Policy *Policy
	Limits Limits
	// Now is the clock (time.Now by default); tests pin it.
	Now func() time.Time
	// NewID makes event ids (UUIDv7 by default: unique without a global
	// sequence, and roughly time-ordered for index locality).
	NewID func() string
	// FollowerReads lets analyst reads (balance lists, summaries,
	// outreach) read a slightly stale snapshot even when the request does
	// not ask to.
	FollowerReads bool
	GroupCommit   GroupCommit
	// OnBatch, if set, is told the size of every group-commit batch and
	// how long it spent in the store, from asking for the transaction to
	// its commit or failure, retries included (for metrics).
	OnBatch func(size int, took time.Duration)
	// BatchContext, if set, derives the context of a group-commit batch's
	// transaction from the contexts of the calls it serves (in arrival
	// order; one may be nil), which the batch does not otherwise inherit:
	// goodwilld puts the batch's transaction in their traces. It must
	// return ctx or a context derived from it, keeping its deadline.
	BatchContext func(ctx context.Context, callers []context.Context) context.Context
	// RecomputeBackoff is the first and the longest wait before retrying a
	// recompute step that failed because the store was unavailable
	// (default 500ms, doubling up to 30s).
	RecomputeBackoff [2]time.Duration
	// RecomputePoll is how often the recompute worker looks for jobs
	// installed through another replica (default 5s; installs through this
	// Service wake it at once).
	RecomputePoll time.Duration
	// TrendEvery is how often the trend worker looks for a day without a
	// snapshot (default an hour; negative: never, for tests and tools).
	TrendEvery time.Duration
	// Logger receives the background work's log (slog.Default when nil).
	Logger *slog.Logger
	// Notify times the notifications' background work.
	Notify NotifyOptions
	// Webhooks configure webhook secrets, URLs and delivery.
	Webhooks WebhookOptions
	// Publish, when set, hands every notification to a message broker, in
	// stream order, once per replica set (goodwilld's --nats-url).
	Publish Publisher
}

// NewService returns a Service over store.
func NewService(store Store, o Options) *Service {
	if o.Policy == nil {
		o.Policy = DefaultPolicy()
	}
	if o.Policy.CreatedAt.IsZero() {
		p := *o.Policy
		p.CreatedAt = BuiltinPolicyDate
		o.Policy = &p
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	if o.RecomputeBackoff[0] <= 0 {
		o.RecomputeBackoff[0] = 500 * time.Millisecond
	}
	if o.RecomputeBackoff[1] < o.RecomputeBackoff[0] {
		o.RecomputeBackoff[1] = max(o.RecomputeBackoff[0], 30*time.Second)
	}
	if o.RecomputePoll <= 0 {
		o.RecomputePoll = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.TrendEvery == 0 {
		o.TrendEvery = time.Hour
	}
	return &Service{store: store, builtin: o.Policy, limits: o.Limits.WithDefaults(), now: o.Now, newID: o.NewID,
		kick: make(chan struct{}, 1), followerReads: o.FollowerReads, onBatch: o.OnBatch, batchCtx: o.BatchContext, backoff: o.RecomputeBackoff,
		groupCommit: o.GroupCommit.withDefaults(), poll: o.RecomputePoll, log: o.Logger,
		notify: o.Notify.withDefaults(), seqKick: make(chan struct{}, 1), webhooks: o.Webhooks.withDefaults(),
		publish: o.Publish, trendEvery: o.TrendEvery, started: make(chan struct{})}
}

// Run runs the Service's background work until ctx ends: the group-commit
// writers, which share one transaction among concurrent RecordEvent calls
// (unless Options.GroupCommit.Disabled; without Run every RecordEvent
// commits alone), the recompute worker, the notifications' sequencer and
// the scheduler of recoveries by time alone. When ctx ends it commits what
// the writers hold, numbers what they wrote, then returns. Cancel ctx only
// once no request runs any more (goodwilld does, after its servers have
// stopped).
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	seqCtx, stopSequencer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSequencer()
	wg.Go(func() { s.runSequencer(seqCtx, s.log) })
	wg.Go(func() { s.runSchedule(ctx, s.log) })
	wg.Go(func() { s.runFeed(ctx, s.log) })
	if s.trendEvery > 0 {
		wg.Go(func() { s.runTrends(ctx, s.log) })
	}
	if s.webhooks.Deliver != nil {
		wg.Go(func() { s.runWebhooks(ctx, s.log) })
	}
	if s.publish != nil {
		wg.Go(func() { s.runPublisher(ctx, "nats", s.publish, s.log) })
	}
	if !s.groupCommit.Disabled {
		cs := newCommitter(s, s.groupCommit)
		s.running.Store(cs)
		defer func() {
			s.running.Store(nil)
			cs.close() // commits what is queued
			// Number what the last batches wrote before stopping.
			if _, err := s.sequenceOnce(seqCtx); err != nil {
				s.log.Warn("notifications: sequencing at stop failed; the next start numbers them", "err", err)
			}
		}()
	}
	s.startedOnce.Do(func() { close(s.started) })
	s.runRecompute(ctx)
	return nil
}

// Started is closed once Run has started the group-commit writers (at
// once when group commit is disabled).
func (s *Service) Started() <-chan struct{} { return s.started }

// Limits returns the request limits in force.
func (s *Service) Limits() Limits { return s.limits }

// analystView runs an analyst read, on a possibly stale snapshot when the
// request or the server allows it.
func (s *Service) analystView(ctx context.Context, allowStale bool, fn func(Reader) error) error {
	if allowStale || s.followerReads {
		return s.store.ViewStale(ctx, fn)
	}
	return s.store.View(ctx, fn)
}

// clock returns the current time at the microsecond precision every backend
// stores, so what a call returns equals what a later read returns.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// UpsertCustomer creates or replaces a customer's profile. The ledger and
// balance are untouched. It reports whether the customer was created.
func (s *Service) UpsertCustomer(ctx context.Context, tenant, id string, p Profile) (Customer, bool, error) {
	if err := checkID("customer_id", id, s.limits.MaxIDLength); err != nil {
		return Customer{}, false, err
	}
	if err := s.limits.checkProfile(p); err != nil {
		return Customer{}, false, err
	}
	now := s.clock()
	var out Customer
	var created bool
	err := s.update(ctx, func(tx Tx) error {
		pol, err := s.active(ctx, tx, tenant)
		if err != nil {
			return err
		}
		c, err := tx.Customer(ctx, tenant, id)
		created = errors.Is(err, ErrNotFound)
		switch {
		case created:
			c = newCustomer(tenant, id, pol, now)
		case err != nil:
			return err
		}
		before := c
		c.Profile = p
		c.UpdatedAt = now
		// The value weight is part of the outreach keys; they are computed
		// under the policy the stored state was.
		own, err := s.policyAt(ctx, tx, tenant, c.PolicyVersion)
		if err != nil {
			return err
		}
		c.Keys = own.KeysOf(c)
		// A new overdraft limit can move the customer across it.
		w := s.newWatcher(now)
		if !created {
			w.changed(before, &c, own, nil)
		}
		if err := tx.AppendNotifications(ctx, w.notes); err != nil {
			return err
		}
		out = c
		return tx.PutCustomer(ctx, c)
	})
	return out, created, err
}

// GetCustomer returns a customer. Errors: ErrNotFound.
func (s *Service) GetCustomer(ctx context.Context, tenant, id string) (Customer, error) {
	if err := checkID("customer_id", id, s.limits.MaxIDLength); err != nil {
		return Customer{}, err
	}
	var c Customer
	err := s.store.View(ctx, func(r Reader) error {
		var err error
		c, err = s.customer(ctx, r, tenant, id)
		return err
	})
	return c, err
}

// customer reads a customer and turns the store's bare ErrNotFound into a
// message that names it.
func (s *Service) customer(ctx context.Context, r Reader, tenant, id string) (Customer, error) {
	c, err := r.Customer(ctx, tenant, id)
	if errors.Is(err, ErrNotFound) {
		return c, notFound("customer %q not found", id)
	}
	return c, err
}

// GetBalance returns a customer's balance now, or at asOf when it is not
// zero. A past asOf replays the history up to that moment.
func (s *Service) GetBalance(ctx context.Context, tenant, id string, asOf time.Time) (Balance, error) {
	if err := checkID("customer_id", id, s.limits.MaxIDLength); err != nil {
		return Balance{}, err
	}
	if !asOf.IsZero() {
		if err := CheckEarliest("as_of", asOf); err != nil {
			return Balance{}, err
		}
	}
	at := asOf
	if at.IsZero() {
		at = s.clock()
	}
	if asOf.IsZero() {
		if b, ok, err := s.quickBalance(ctx, tenant, id, at); ok || err != nil {
			return b, err
		}
	}
	var b Balance
	err := s.viewCustomer(ctx, tenant, id, func(r Reader, pol *Policy, c Customer) error {
		var err error
		b, err = s.balanceAt(ctx, r, pol, c, asOf, at)
		return err
	})
	return b, err
}

// quickBalance answers GetBalance in one store round trip in the common
// case: the customer's stored state was computed under the active policy,
// that policy is decoded in memory, and no event is dated after `at`.
// ok is false when GetBalance must take the transactional path.
func (s *Service) quickBalance(ctx context.Context, tenant, id string, at time.Time) (Balance, bool, error) {
	c, active, err := s.store.Lookup(ctx, tenant, id)
	if errors.Is(err, ErrNotFound) {
		return Balance{}, true, notFound("customer %q not found", id)
	}
	if err != nil {
		return Balance{}, true, err
	}
	active = s.activeVersion(active)
	if c.PolicyVersion != active || at.Before(c.State.Last.At) {
		return Balance{}, false, nil
	}
	pol, ok := s.policies.get(policyKey{tenant, active})
	if !ok && active == s.builtin.Version {
		pol, ok = s.builtin, true
	}
	if !ok {
		return Balance{}, false, nil
	}
	return balanceOf(c, c.State, pol, at), true, nil
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// balanceAt computes a customer's balance at `at` under pol. The
// materialized state answers any moment at or after its last event when it
// was computed under pol; earlier moments (asOf set) or another policy
// version need the history.
func (s *Service) balanceAt(ctx context.Context, r Reader, pol *Policy, c Customer, asOf, at time.Time) (Balance, error) {
	st := c.State
	// at before the latest event: an as_of in the past, or "now" while an
	// event dated a little in the future (clock skew) is on the ledger.
	if c.PolicyVersion != pol.Version || at.Before(st.Last.At) {
		hist, err := r.History(ctx, c.TenantID, c.ID)
		if err != nil {
			return Balance{}, err
		}
		st = pol.Replay(hist, at)
	}
	return balanceOf(c, st, pol, at), nil
}
