package ledger

import (
	"context"
	"log/slog"
	"time"
)

// dueBatch is how many customers one scheduling transaction takes.
const dueBatch = 500

// runSchedule announces what happens by time alone, and prunes old
// notifications, until ctx ends. A customer overdrawn by a fading deficit
// recovers at an exact moment (recoveryDue) with no event to carry the
// news; this is what announces it, within ScheduleEvery of that moment and
// dated at the moment itself.
func (s *Service) runSchedule(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(s.notify.ScheduleEvery)
	defer t.Stop()
	var pruned time.Time
	for {
		for {
			n, err := s.announceDue(ctx)
			if err != nil && ctx.Err() == nil {
				log.Warn("notifications: announcing recoveries failed; retrying", "err", err)
			}
			if err != nil || n < dueBatch {
				break
			}
		}
		if now := s.clock(); now.Sub(pruned) >= s.notify.PruneEvery {
			if n, err := s.pruneNotifications(ctx, now); err != nil && ctx.Err() == nil {
				log.Warn("notifications: pruning failed", "err", err)
			} else if n > 0 {
				s.feed.forget()
				log.Info("notifications: pruned", "deleted", n, "older_than", s.notify.Retention)
			}
			pruned = now
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// announceDue announces the recoveries by time alone that have fallen due.
// Replicas may run it at once: each customer's announcement rewrites its
// row, so two of them conflict and the second, retried, finds it done.
func (s *Service) announceDue(ctx context.Context) (int, error) {
	now := s.clock()
	var n int
	err := s.update(ctx, func(tx Tx) error {
		n = 0
		cs, err := tx.DueCustomers(ctx, now, dueBatch)
		if err != nil || len(cs) == 0 {
			return err
		}
		w := s.newWatcher(now)
		for i, c := range cs {
			pol, err := s.policyAt(ctx, tx, c.TenantID, c.PolicyVersion)
			if err != nil {
				return err
			}
			w.catchUp(c, &cs[i], pol)
			if due := cs[i].Watch.DueAt; !due.IsZero() && !due.After(now) {
				// Not healthy at its due time after all (its state or limit
				// moved without a new due time): ask again, or stop asking.
				cs[i].Watch.DueAt = recoveryDue(cs[i], pol)
				if !cs[i].Watch.DueAt.After(now) {
					cs[i].Watch.DueAt = time.Time{}
				}
			}
		}
		n = len(cs)
		if err := tx.AppendNotifications(ctx, w.notes); err != nil {
			return err
		}
		return tx.PutCustomers(ctx, cs)
	})
	return n, err
}

// pruneNotifications deletes numbered notifications older than the
// retention, a batch at a time.
func (s *Service) pruneNotifications(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.store.Update(ctx, func(tx Tx) error {
			var err error
			n, err = tx.PruneNotifications(ctx, now.Add(-s.notify.Retention), 5000)
			return err
		})
		total += n
		if err != nil || n < 5000 {
			return total, err
		}
	}
}
