package ledger

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// The feed: one reader of the stream per process, keeping the latest
// notifications in memory for every local consumer (streams, webhooks).
// Without it, each consumer reads each notification from the database: ten
// streams and a webhook meant eleven reads of every batch. With it, the
// batch is read once and each consumer filters the ring for its tenant and
// types. A consumer further behind than the ring reads the database, as
// before, so nothing depends on the ring's size but speed.
//
// The ring is exact, not a cache that may miss: it holds every numbered
// notification with from < Seq <= to. It reads in order, "after to", in
// the same snapshot as the latest number given, and a reader that sees
// number n sees every number below it (outbox.go), so nothing numbered
// within (from, to] can be missing from it.

// feedSize is how many notifications the ring keeps at least (a few MB).
const feedSize = 8192

// feedRead is how many notifications one read of the feed takes.
const feedRead = 1000

// feedIdle is how long the feed keeps reading with nobody asking: a server
// whose notifications nobody consumes should not read each one back.
const feedIdle = 10 * time.Second

type feed struct {
	mu       sync.Mutex
	running  bool
	asked    time.Time // when a consumer last asked for notifications
	from, to int64
	ring     []Notification // ordered by Seq, every one in (from, to]
	hub      notifyHub      // wakes consumers when to grows
}

// runFeed keeps the ring up to date until ctx ends: it reads when the
// sequencer says numbers were given (by this process or, at its poll,
// another replica).
func (s *Service) runFeed(ctx context.Context, log *slog.Logger) {
	f := &s.feed
	defer func() {
		f.mu.Lock()
		f.running = false
		f.mu.Unlock()
		f.hub.wake() // the consumers read the database now
	}()
	fail := 0
	for ctx.Err() == nil {
		f.mu.Lock()
		idle := time.Since(f.asked) > feedIdle
		parked := idle && f.running
		if parked {
			// Nobody asks: stop, and start afresh (from the stream's end)
			// when someone does; meanwhile they read the database.
			f.running, f.ring = false, nil
		}
		f.mu.Unlock()
		if parked {
			f.hub.wake() // anyone waiting on the feed waits on the sequencer now
		}
		if !idle {
			more, err := s.refreshFeed(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				fail++
				wait := min(100*time.Millisecond<<min(fail-1, 6), 5*time.Second)
				log.Warn("notifications: reading the feed failed; retrying", "retry_in", wait, "err", err)
				sleep(ctx, wait)
				continue
			case more:
				fail = 0
				continue
			}
			fail = 0
		}
		f.mu.Lock()
		to := f.to
		f.mu.Unlock()
		last, wake := s.hub.wait()
		if !idle && last > to {
			continue
		}
		t := time.NewTimer(s.notify.WatchPoll)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// refreshFeed reads what was numbered after the ring's end, and reports
// whether more waits.
func (s *Service) refreshFeed(ctx context.Context) (bool, error) {
	f := &s.feed
	f.mu.Lock()
	start, started := f.to, f.running
	f.mu.Unlock()
	var page []Notification
	var latest, pruned int64
	err := s.store.View(ctx, func(r Reader) error {
		var err error
		if latest, err = r.NotificationSeq(ctx); err != nil || !started {
			return err // the first read only learns where the stream stands
		}
		if pruned, err = r.PrunedThrough(ctx, ""); err != nil {
			return err
		}
		page, err = r.Notifications(ctx, "", start, nil, feedRead)
		return err
	})
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	if !started {
		f.from, f.to, f.running = latest, latest, true
		f.mu.Unlock()
		f.hub.published(latest) // a waiter compares its cursor with this
		return false, nil
	}
	more := f.add(page, latest, pruned)
	to := f.to
	f.mu.Unlock()
	f.hub.published(to)
	return more, nil
}

// add appends a read's page (read after f.to, in the snapshot that gave
// latest and pruned, the highest number retention has deleted, by any
// replica), trims the ring, and reports whether more may wait; f.mu is
// held.
func (f *feed) add(page []Notification, latest, pruned int64) bool {
	f.ring = append(f.ring, page...)
	more := len(page) == feedRead
	if more {
		f.to = page[len(page)-1].Seq
	} else {
		f.to = max(f.to, latest)
	}
	// Numbers up to pruned may be gone, some before this feed read them:
	// the ring must not claim them. A cursor below goes to the database,
	// which knows what retention took.
	if pruned > f.from {
		i, _ := slices.BinarySearchFunc(f.ring, pruned+1, func(n Notification, seq int64) int { return cmp.Compare(n.Seq, seq) })
		f.ring = slices.Delete(f.ring, 0, i)
		f.from, f.to = pruned, max(f.to, pruned)
	}
	// Trimmed a quarter at a time: shifting the whole ring on every read
	// cost more than the read.
	if len(f.ring) > feedSize+feedSize/4 {
		over := len(f.ring) - feedSize
		f.from = f.ring[over-1].Seq
		f.ring = append(make([]Notification, 0, feedSize+feedSize/4+feedRead), f.ring[over:]...)
	}
	return more
}

// read returns up to limit of the tenant's notifications (every tenant's
// when tenant is "") after the cursor after, of the given types, and the
// number up to which that answer is complete: every wanted notification
// up to it is in the answer. ok is false when the ring cannot answer
// (after is outside it, or the feed is not running): read the database.
func (f *feed) read(tenant string, after int64, types []NotificationType, limit int) (ns []Notification, complete int64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = time.Now()
	if !f.running || after < f.from || after > f.to {
		return nil, 0, false
	}
	i, _ := slices.BinarySearchFunc(f.ring, after+1, func(n Notification, seq int64) int { return cmp.Compare(n.Seq, seq) })
	for ; i < len(f.ring); i++ {
		n := f.ring[i]
		if (tenant != "" && n.TenantID != tenant) || (len(types) > 0 && !slices.Contains(types, n.Type)) {
			continue
		}
		ns = append(ns, n)
		if len(ns) == limit {
			return ns, n.Seq, true
		}
	}
	return ns, f.to, true
}

// forget empties the ring (after a prune: it must not show what the
// database no longer holds); consumers behind its end read the database.
func (f *feed) forget() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ring, f.from = nil, f.to
}

// wait returns the ring's end and a channel closed when it grows; ok is
// false when the feed is not running.
// Waiting does not count as asking: a webhook runner with no webhooks
// waits all the time, and must not keep the feed reading.
func (f *feed) wait() (to int64, ch <-chan struct{}, ok bool) {
	f.mu.Lock()
	running := f.running
	f.mu.Unlock()
	if !running {
		return 0, nil, false
	}
	to, ch = f.hub.wait()
	return to, ch, true
}
