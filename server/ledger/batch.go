package ledger

import (
	"context"
	"time"
)

// batchKeys is what recordBatch reads first: the batch's distinct
// customers and idempotency keys, in the order of their first events.
type batchKeys struct {
	ids  []string
	keys []CustomerKey
}

func batchReads(events []Event) batchKeys {
	seenID, seenKey := make(map[string]bool, len(events)), make(map[CustomerKey]bool, len(events))
	b := batchKeys{ids: make([]string, 0, len(events)), keys: make([]CustomerKey, 0, len(events))}
	for _, e := range events {
		if !seenID[e.CustomerID] {
			seenID[e.CustomerID] = true
			b.ids = append(b.ids, e.CustomerID)
		}
		if k := (CustomerKey{e.CustomerID, e.IdempotencyKey}); e.IdempotencyKey != "" && !seenKey[k] {
			seenKey[k] = true
			b.keys = append(b.keys, k)
		}
	}
	return b
}

// readAhead lets a store that can (ReadAheader) make the reads of the
// tenant's active policy and of recordBatch(events) at once, before
// Service.active asks for the first of them. It returns the batch's keys
// for recordBatch, which must read with the same ones.
func readAhead(ctx context.Context, tx Tx, tenant string, events []Event) (batchKeys, error) {
	b := batchReads(events)
	if r, ok := tx.(ReadAheader); ok {
		return b, r.ReadAhead(ctx, tenant, b.ids, b.keys)
	}
	return b, nil
}

// recordBatch records a tenant's events in order inside tx with a constant
// number of store calls, whatever the batch size: it reads every customer
// and idempotency key of the batch at once, applies the events in memory,
// and writes the new events and the changed customers back in one call
// each. Only the uncommon cases read more: a backdated event, a reversal or
// a policy change replays that customer's history.
//
// It returns one result per event, in order. An idempotency conflict is a
// per-event result (ErrConflict in its err); any other error fails the
// whole batch.
//
// reads is batchReads(events), which the caller may have computed already
// (readAhead).
func (s *Service) recordBatch(ctx context.Context, tx Tx, pol *Policy, tenant string, events []Event, reads batchKeys, now time.Time) ([]recordResult, error) {
	ids, keys := reads.ids, reads.keys
	custs, err := tx.CustomersByID(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	holders, err := tx.EventsByKeys(ctx, tenant, keys)
	if err != nil {
		return nil, err
	}
	// hists holds the history of each customer a replay needs, read from
	// the store and then kept up to date with the batch's events as they
	// are applied, until the customer's last event of the batch. Histories
	// are read historyChunk customers at a time, in the order the replays
	// will need them (an import of old events replays most of a batch's
	// customers: one read a customer would be a round trip each), and
	// dropped after their customer's last event, so memory holds a chunk's
	// histories, not a batch's.
	hists := map[string][]Event{}
	toRead := replays(events, custs, pol)
	fetched := map[string]bool{}
	lastOf := map[string]int{}
	for i, e := range events {
		lastOf[e.CustomerID] = i
	}

	pending := make([]Event, 0, len(events)) // appended in memory, not yet in the store
	flush := func() error {
		err := tx.AppendEvents(ctx, pending)
		pending = pending[:0]
		return err
	}
	changed := map[string]bool{}
	var order []string
	results := make([]recordResult, len(events))
	w := s.newWatcher(now)
	w.notes = make([]Notification, 0, len(events)) // about one an event
	for i, e := range events {
		c, ok := custs[e.CustomerID]
		if !ok {
			c = newCustomer(tenant, e.CustomerID, pol, now)
		}
		before := c
		k := CustomerKey{e.CustomerID, e.IdempotencyKey}
		if prev, held := holders[k]; held && e.IdempotencyKey != "" {
			if prev.Fingerprint != e.Fingerprint {
				results[i] = recordResult{Recorded{Event: prev}, keyConflict(e)}
				continue
			}
			if c.PolicyVersion != pol.Version || now.Before(c.State.Last.At) {
				if err := flush(); err != nil { // the replay reads the history
					return nil, err
				}
			}
			b, err := s.balanceAt(ctx, tx, pol, c, time.Time{}, now)
			if err != nil {
				return nil, err
			}
			results[i] = recordResult{rec: Recorded{Event: prev, Balance: b, Replayed: true}}
			continue
		}
		pending = append(pending, e)
		hist, read := hists[e.CustomerID]
		if read {
			hist = append(hist, e)
			hists[e.CustomerID] = hist
		}
		if c.PolicyVersion == pol.Version && e.Kind != KindReversal && e.Pos().Compare(c.State.Last) > 0 {
			c.State, _ = pol.Apply(c.State, e)
		} else {
			if !read {
				// The store's histories must hold what the batch applied so
				// far: flush first. Then this customer's, and the next ones
				// the batch will replay.
				if err := flush(); err != nil {
					return nil, err
				}
				chunk := []string{e.CustomerID}
				fetched[e.CustomerID] = true
				for len(toRead) > 0 && len(chunk) < historyChunk {
					if id := toRead[0]; !fetched[id] {
						fetched[id] = true
						chunk = append(chunk, id)
					}
					toRead = toRead[1:]
				}
				got, err := tx.Histories(ctx, tenant, chunk)
				if err != nil {
					return nil, err
				}
				for _, id := range chunk {
					hists[id] = got[id] // present even when empty: read
				}
				hist = hists[e.CustomerID]
			}
			c.State = pol.Replay(hist, time.Time{})
		}
		c.PolicyVersion = pol.Version
		c.Keys = pol.KeysOf(c)
		w.recorded(before, &c, e, pol)
		w.changed(before, &c, pol, &e)
		custs[e.CustomerID] = c
		if !changed[e.CustomerID] {
			changed[e.CustomerID] = true
			order = append(order, e.CustomerID)
		}
		if e.IdempotencyKey != "" {
			holders[k] = e // a later event of the batch with this key replays or conflicts
		}
		results[i] = recordResult{rec: Recorded{Event: e, Balance: balanceOf(c, c.State, pol, laterOf(now, c.State.Last.At))}}
		if lastOf[e.CustomerID] == i {
			delete(hists, e.CustomerID) // no later event of the batch needs it
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if err := tx.AppendNotifications(ctx, w.notes); err != nil {
		return nil, err
	}
	out := make([]Customer, len(order))
	for i, id := range order {
		out[i] = custs[id]
	}
	return results, tx.PutCustomers(ctx, out)
}

// historyChunk is how many customers' histories recordBatch reads at once.
const historyChunk = 128

// replays lists the customers of events whose state recordBatch will
// replay from their history rather than advance event by event: an event
// no later than the customer's last (or than an earlier event of the
// batch for it), a reversal, or a customer last written under another
// policy version, in the order the replays come. Events whose keys are
// already held are counted too; reading one history too many costs less
// than a round trip per customer.
func replays(events []Event, custs map[string]Customer, pol *Policy) []string {
	last := map[string]Position{}
	marked := map[string]bool{}
	var out []string
	for _, e := range events {
		id := e.CustomerID
		if marked[id] {
			continue
		}
		p, seen := last[id]
		c, known := custs[id]
		if !seen && known {
			p = c.State.Last
		}
		if (known && c.PolicyVersion != pol.Version) || e.Kind == KindReversal || ((seen || known) && e.Pos().Compare(p) <= 0) {
			marked[id] = true
			out = append(out, id)
			continue
		}
		last[id] = e.Pos()
	}
	return out
}
