package ledger

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// The outbox: notifications are written unnumbered in the transaction of
// their cause, and a sequencer numbers them afterwards, in transactions of
// its own. Consumers read by number (Seq), so the number decides the
// stream's order, and a cursor is just the last number a consumer saw.
//
// Why numbers are given after commit, not at insert: writers commit in an
// order nobody knows beforehand. Numbered at insert, a transaction that took
// number 7 could commit after one that took 8, and a consumer that had read
// up to 8 would never see 7. The sequencer only ever sees committed rows,
// and it numbers them in transactions that all read and write one counter
// row (NotificationSeq), so two sequencers (two replicas) take turns: the
// numbers a sequencing transaction gives are all above those of every one
// that committed before it. A reader that sees number n therefore sees
// every number below n, and reading "after my cursor" skips nothing. A row
// that commits late is simply numbered later. A backend may instead
// number in the writing transaction where its transactions commit in the
// order they take numbers (SQLite, PostgreSQL: Tx.AppendNotifications);
// the sequencer then finds nothing to do but tell the readers.
//
// Per customer, order is kept too: one customer's notifications are written
// by transactions that all write its row, so they commit in order, each
// numbered within the customer (CustomerSeq); the sequencer takes them in
// that order, and never a later one without the earlier ones.

// sequencerBatch is how many notifications one sequencing transaction
// numbers.
const sequencerBatch = 1000

// Under load, commits come every few milliseconds, and numbering (then
// reading) after each one costs a transaction or two apiece. So each
// consumer, once woken, waits a moment for company before it reads: one
// pass then carries the notifications of several commits. The waits bound
// the extra latency a notification sees, and cost nothing when idle.
const (
	sequencerGather = 5 * time.Millisecond  // after a commit, before numbering
	watchGather     = 10 * time.Millisecond // after a number is given, before a stream reads
	webhookGather   = 25 * time.Millisecond // after a number is given, before a webhook round
)

// notifyHub wakes stream readers when the sequencer has numbered more.
type notifyHub struct {
	mu   sync.Mutex
	last int64         // the highest Seq this process knows was given
	ch   chan struct{} // closed and replaced when last grows
}

func (h *notifyHub) published(seq int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if seq <= h.last {
		return
	}
	h.last = seq
	if h.ch != nil {
		close(h.ch)
	}
	h.ch = make(chan struct{})
}

// wake wakes the waiters without a new number (they look again).
func (h *notifyHub) wake() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch != nil {
		close(h.ch)
		h.ch = nil
	}
}

func (h *notifyHub) wait() (int64, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch == nil {
		h.ch = make(chan struct{})
	}
	return h.last, h.ch
}

// kickSequencer tells the sequencer that notifications may be waiting;
// it never blocks.
func (s *Service) kickSequencer() {
	select {
	case s.seqKick <- struct{}{}:
	default:
	}
}

// update runs a write transaction and, once it has committed, wakes the
// sequencer for the notifications it may have written.
func (s *Service) update(ctx context.Context, fn func(Tx) error) error {
	err := s.store.Update(ctx, fn)
	if err == nil {
		s.written()
	}
	return err
}

// updateCustomers is update for closures that keep Store.UpdateCustomers'
// contract: the active policy, then the customers, then their events.
func (s *Service) updateCustomers(ctx context.Context, fn func(Tx) error) error {
	err := s.store.UpdateCustomers(ctx, fn)
	if err == nil {
		s.written()
	}
	return err
}

// written follows a committed write: a store that numbered what it wrote
// tells the readers the numbers now; otherwise the sequencer numbers.
func (s *Service) written() {
	if n, ok := s.store.(WriteNumberer); ok {
		if last, numbers := n.NumberedAtWrite(); numbers {
			s.hub.published(last)
			return
		}
	}
	s.kickSequencer()
}

// runSequencer numbers notifications until ctx ends: at once when this
// process commits some, and every poll otherwise (for other replicas').
func (s *Service) runSequencer(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(s.notify.SequencerPoll)
	defer t.Stop()
	for {
		n, err := s.sequenceOnce(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("notifications: sequencing failed; retrying", "err", err)
		}
		if err == nil && n == sequencerBatch {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-s.seqKick:
			sleep(ctx, sequencerGather)
		case <-t.C:
		}
	}
}

// sequenceOnce numbers one batch of committed, unnumbered notifications.
//
// It looks in a read first: most wake-ups find nothing to number (on a
// backend that numbers as it writes, never anything), and a read takes no
// write lock. The read also learns the latest number given, by any
// replica or by the writers themselves, and wakes the stream readers.
func (s *Service) sequenceOnce(ctx context.Context) (int, error) {
	var waiting bool
	var seq int64
	err := s.store.View(ctx, func(r Reader) error {
		refs, err := r.UnsequencedNotifications(ctx, 1)
		if err != nil {
			return err
		}
		waiting = len(refs) > 0
		seq, err = r.NotificationSeq(ctx)
		return err
	})
	if err != nil {
		return 0, err
	}
	s.hub.published(seq)
	if !waiting {
		return 0, nil
	}
	var n int
	var last int64
	err = s.store.Update(ctx, func(tx Tx) error {
		var err error
		n, last, err = NumberWaiting(ctx, tx, sequencerBatch)
		return err
	})
	if err == nil && n > 0 {
		s.hub.published(last)
	}
	return n, err
}

// NumberWaiting is the sequencer's transaction: it numbers up to limit
// committed, unnumbered notifications in the order UnsequencedNotifications
// gives, after the last number given, and moves the counter on. It returns
// how many it numbered and the last number (0, 0 when none waited). The
// store conformance suite runs it as the sequencer would.
func NumberWaiting(ctx context.Context, tx Tx, limit int) (int, int64, error) {
	refs, err := tx.UnsequencedNotifications(ctx, limit)
	if err != nil || len(refs) == 0 {
		return 0, 0, err
	}
	last, err := tx.NotificationSeq(ctx)
	if err != nil {
		return 0, 0, err
	}
	for i := range refs {
		last++
		refs[i].Seq = last
	}
	if err := tx.SequenceNotifications(ctx, refs); err != nil {
		return 0, 0, err
	}
	return len(refs), last, tx.PutNotificationSeq(ctx, last)
}

// Notifications returns up to limit of the tenant's notifications after
// the cursor after, in stream order, of the given types (all when none).
func (s *Service) Notifications(ctx context.Context, tenant string, after int64, types []NotificationType, limit int) ([]Notification, error) {
	ns, _, err := s.NotificationsPage(ctx, tenant, after, types, limit)
	return ns, err
}

// NotificationsPage is Notifications, and the cursor to read on from:
// every notification the reader wants up to it is in the page. When the
// page is short that cursor is past the last one given, up to the latest
// number of any tenant, so a consumer of a quiet tenant or a rare type
// does not come back for numbers it has no use for (and its cursor does
// not fall behind the retention while it misses nothing).
//
// A cursor that the retention has passed gets ErrFailedPrecondition: the
// notifications after it may be gone, and a stream with a hole must not
// pass for a whole one.
func (s *Service) NotificationsPage(ctx context.Context, tenant string, after int64, types []NotificationType, limit int) ([]Notification, int64, error) {
	if err := checkNotificationQuery(after, types, limit, s.limits); err != nil {
		return nil, 0, err
	}
	if limit == 0 {
		limit = s.limits.DefaultPageSize
	}
	// The feed holds every number after its start, so a cursor it answers
	// lost nothing.
	if ns, complete, ok := s.feed.read(tenant, after, types, limit); ok {
		return ns, max(after, complete), nil
	}
	var out []Notification
	var complete int64
	err := s.store.View(ctx, func(r Reader) error {
		if after > 0 && tenant != "" {
			through, err := r.PrunedThrough(ctx, tenant)
			if err != nil {
				return err
			}
			if after < through {
				return precondition("the cursor %d is older than the notification retention: notifications after it were deleted; "+
					"read again without a cursor (from the oldest kept) or from now", after)
			}
		}
		latest, err := r.NotificationSeq(ctx)
		if err != nil {
			return err
		}
		if out, err = r.Notifications(ctx, tenant, after, types, limit); err != nil {
			return err
		}
		// The snapshot that gave latest holds every number up to it.
		complete = max(after, latest)
		if len(out) == limit {
			complete = out[len(out)-1].Seq
		}
		return nil
	})
	return out, complete, err
}

// NotificationProgress is how far the notifications have come, as this
// process knows it (for metrics): the latest number given, and the latest
// the broker publisher has published (0 when this process does not
// publish, or has not yet).
type NotificationProgress struct {
	Numbered, Published int64
}

// NotificationProgress reports the numbers; it reads no store.
func (s *Service) NotificationProgress() NotificationProgress {
	numbered, _ := s.hub.wait()
	return NotificationProgress{Numbered: numbered, Published: s.published.Load()}
}

// LatestNotification returns the cursor of the latest notification
// numbered, of any tenant: a consumer that starts after it gets only what
// happens from now on.
func (s *Service) LatestNotification(ctx context.Context) (int64, error) {
	var seq int64
	err := s.store.View(ctx, func(r Reader) error {
		var err error
		seq, err = r.NotificationSeq(ctx)
		return err
	})
	return seq, err
}

// WaitNotifications returns when notifications after the cursor after may
// exist: at once if this process has numbered some, when it numbers some,
// or after the poll interval (another replica may have), whichever is
// first; or with ctx's error.
func (s *Service) WaitNotifications(ctx context.Context, after int64) error {
	last, ch, ok := s.feed.wait()
	if !ok {
		last, ch = s.hub.wait()
	}
	if last > after {
		return nil
	}
	t := time.NewTimer(s.notify.WatchPoll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-ch:
		sleep(ctx, watchGather)
	case <-t.C:
	}
	return ctx.Err()
}

func checkNotificationQuery(after int64, types []NotificationType, limit int, l Limits) error {
	var v violations
	if after < 0 {
		v.add(Invalid("after", "must not be negative"))
	}
	if limit < 0 || limit > l.MaxPageSize {
		v.add(Invalid("page_size", "must be between 0 and %d", l.MaxPageSize))
	}
	for i, t := range types {
		if !t.Valid() {
			v.add(Invalid("types", "item %d: %q is not a notification type", i, t))
		}
	}
	return v.err()
}
