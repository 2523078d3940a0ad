package ledger

import (
	"context"
	"log/slog"
	"time"
)

// holdLease claims the named lease for owner and, if it gets it, keeps it
// for as long as the returned context lives: it renews the claim every
// third of d, and cancels the context if a renewal finds the lease gone
// to another owner (this replica stalled past its end), so the work
// stops rather than run twice. release stops the renewals and frees the
// lease for the other replicas at once.
func (s *Service) holdLease(ctx context.Context, name, owner string, d time.Duration, log *slog.Logger) (held context.Context, release func(), ok bool, err error) {
	claim := func(ctx context.Context) (bool, error) {
		now := s.clock()
		var ok bool
		err := s.store.Update(ctx, func(tx Tx) error {
			var err error
			ok, err = tx.ClaimLease(ctx, name, owner, now, now.Add(d))
			return err
		})
		return ok, err
	}
	if ok, err = claim(ctx); err != nil || !ok {
		return ctx, func() {}, ok, err
	}
	held, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(d / 3)
		defer t.Stop()
		for {
			select {
			case <-held.Done():
				return
			case <-t.C:
			}
			switch ok, err := claim(held); {
			case err != nil && held.Err() == nil:
				// The claim stands until its end; the next tick tries again.
				log.Warn("lease: renewing failed", "lease", name, "err", err)
			case err == nil && !ok:
				log.Warn("lease: lost to another replica; stopping", "lease", name)
				cancel()
				return
			}
		}
	}()
	release = func() {
		cancel()
		<-done
		// Freed even when ctx has ended (shutdown): another replica need
		// not wait out the claim.
		rctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer stop()
		if err := s.store.Update(rctx, func(tx Tx) error { return tx.ReleaseLease(rctx, name, owner) }); err != nil {
			log.Warn("lease: releasing failed; it ends by itself", "lease", name, "err", err)
		}
	}
	return held, release, true, nil
}
