package ledger

import "time"

// An event sent without a time takes the moment it is recorded, stamped
// by its request's handler. Concurrent handlers reach the collector out of
// stamp order, so without more a customer's next event was often older
// than its last one, and every such event replayed the customer's whole
// history: with one customer taking every client's events, nearly every
// batch did, each reading a history that grew through the run (server
// CPU per event doubled, and it set the embedded store's peak memory;
// docs/benchmarks.md, round 2, ninth sitting).
//
// The collector therefore hands out times in arrival order: each write's
// time (its batch's "now", and its event's recording time) is at least the
// one before it, and the time of an event sent without one strictly later,
// by a microsecond, where the clock allows; a customer's events, applied in
// arrival order, then come in time order too. Times sent by the client
// are the client's and stay as they are.

// stamp makes p's times follow the last write's (c.last), and notes p's.
// Only the collector goroutine calls it, in arrival order.
func (c *committer) stamp(p *pending) {
	t := laterOf(p.now, c.last)
	if p.stamped && !t.After(c.last) && !c.last.IsZero() {
		// One microsecond on, but never past the clock: a write is not
		// recorded later than now (a stopped test clock keeps the tie).
		if next := c.last.Add(time.Microsecond); !next.After(c.svc.clock()) {
			t = next
		}
	}
	p.now, p.e.RecordedAt = t, t
	if p.stamped {
		p.e.OccurredAt = t
	}
	c.last = t
}
