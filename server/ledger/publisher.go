package ledger

import (
	"context"
	"log/slog"
	"time"
)

// Publisher hands one notification to a message broker (NATS JetStream in
// goodwilld), waiting for the broker to take it. It may be called again
// with the same notification after a crash or a lost answer: brokers
// deduplicate by its ID.
type Publisher func(ctx context.Context, n Notification) error

const (
	// publishBatch is how many notifications one pass reads.
	publishBatch = 200
	// publisherLease is how long a replica keeps the publisher to itself:
	// one replica publishes at a time, in stream order.
	publisherLease = 30 * time.Second
)

// runPublisher publishes every tenant's notifications, in stream order,
// from where the named consumer stands, until ctx ends. A broker that
// refuses or is down holds the publisher (it retries with backoff, from
// the same notification): a broker is one channel, and order matters to it.
func (s *Service) runPublisher(ctx context.Context, name string, publish Publisher, log *slog.Logger) {
	owner := "replica-" + s.newID()
	fail := 0
	for ctx.Err() == nil {
		n, err := s.publishPass(ctx, name, owner, publish)
		switch {
		case err != nil && ctx.Err() == nil:
			fail++
			wait := min(time.Second<<min(fail-1, 5), 30*time.Second)
			log.Warn("notifications: publishing failed; retrying", "consumer", name, "retry_in", wait, "err", err)
			sleep(ctx, wait)
		case n == publishBatch:
			fail = 0 // more are waiting
		default:
			fail = 0
			_, wake := s.hub.wait()
			select {
			case <-ctx.Done():
			case <-wake:
			case <-time.After(s.webhooks.Poll):
			}
		}
	}
}

// publishPass publishes one batch after the consumer's cursor and moves
// the cursor past what the broker took.
func (s *Service) publishPass(ctx context.Context, name, owner string, publish Publisher) (int, error) {
	now := s.clock()
	var seq int64
	var ok bool
	if err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		seq, ok, err = tx.ClaimCursor(ctx, name, owner, now, now.Add(publisherLease))
		return err
	}); err != nil || !ok {
		return 0, err
	}
	var page []Notification
	if err := s.store.View(ctx, func(r Reader) error {
		var err error
		page, err = r.Notifications(ctx, "", seq, nil, publishBatch)
		return err
	}); err != nil {
		return 0, err
	}
	done := seq
	var perr error
	for _, n := range page {
		if perr = publish(ctx, n); perr != nil {
			break
		}
		done = n.Seq
	}
	if done > seq {
		if err := s.store.Update(ctx, func(tx Tx) error { return tx.PutCursor(ctx, name, done) }); err != nil {
			return 0, err
		}
	}
	s.published.Store(done)
	return len(page), perr
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
