package ledger

import (
	"context"
	"fmt"
)

// historyWalk hands out every customer's history while a reader walks the
// tenant's customers in id order, from pages of TenantEvents (which come
// in the same customer order): one statement per page of events instead
// of one History read per customer, which at a million customers is the
// difference between seconds and minutes.
//
// It never compares two ids itself (Go's byte order need not be the
// database's collation): the events of one customer arrive together, so
// it only asks whether the next group is the customer's. Events whose
// customer has no row would stall there; finish reports them.
//
// Its reads are bounded by the last customer of the walker's page
// (through), so each is a key range of the events, whatever plan the
// database's statistics suggest.
type historyWalk struct {
	r       Reader
	tenant  string
	page    int
	buf     []Event
	pos     int
	after   *ExportCursor
	through string
	// done: no more events up to through.
	done bool
}

func newHistoryWalk(r Reader, tenant string, page int) *historyWalk {
	return &historyWalk{r: r, tenant: tenant, page: page}
}

// take returns the history of customer id, the next customer in id order
// (nil when it has no events).
func (w *historyWalk) take(ctx context.Context, id string) ([]Event, error) {
	var out []Event
	for {
		if err := w.fill(ctx); err != nil {
			return nil, err
		}
		if w.pos >= len(w.buf) || w.buf[w.pos].CustomerID != id {
			return out, nil
		}
		for w.pos < len(w.buf) && w.buf[w.pos].CustomerID == id {
			out = append(out, w.buf[w.pos])
			w.pos++
		}
		if w.pos < len(w.buf) {
			return out, nil // the next group has begun in this page
		}
	}
}

// bound limits the reads to customers up to id, the last of the walker's
// current page ("": none).
func (w *historyWalk) bound(id string) {
	if id != w.through {
		w.through, w.done = id, false
	}
}

// fill reads the next page once the current one is used up.
func (w *historyWalk) fill(ctx context.Context) error {
	if w.pos < len(w.buf) || w.done {
		return nil
	}
	evs, err := w.r.TenantEvents(ctx, w.tenant, TenantEventQuery{After: w.after, ThroughCustomer: w.through, Limit: w.page})
	if err != nil {
		return err
	}
	w.buf, w.pos = evs, 0
	w.done = len(evs) < w.page
	if n := len(evs); n > 0 {
		last := evs[n-1]
		w.after = &ExportCursor{CustomerID: last.CustomerID, OccurredAt: last.OccurredAt, EventID: last.ID}
	}
	return nil
}

// finish fails when events are left that no customer row claimed: the
// walk would have read some histories as empty.
func (w *historyWalk) finish(ctx context.Context) error {
	w.bound("")
	if err := w.fill(ctx); err != nil {
		return err
	}
	if w.pos < len(w.buf) {
		return fmt.Errorf("ledger: events of customer %q have no customer row (run goodwilld verify)", w.buf[w.pos].CustomerID)
	}
	return nil
}

// Pages of a whole-tenant walk: customers, and events, per statement.
const (
	walkCustomers = 1000
	walkEvents    = 5000
)

// eachHistory calls fn with every customer of the tenant, in id order, and
// its whole history, reading both in pages; after each page of customers
// it calls progress (when set) with how many it has done. Simulations and
// trend snapshots walk the tenant with it.
func eachHistory(ctx context.Context, r Reader, tenant string, progress func(done int64),
	fn func(c Customer, hist []Event) error) error {
	return eachHistoryPaged(ctx, r, tenant, walkCustomers, walkEvents, progress, fn)
}

// eachHistoryPaged is eachHistory in pages of the given sizes.
func eachHistoryPaged(ctx context.Context, r Reader, tenant string, customers, events int, progress func(done int64),
	fn func(c Customer, hist []Event) error) error {
	walk := newHistoryWalk(r, tenant, events)
	var done int64
	cursor := ""
	for {
		cs, err := r.Customers(ctx, tenant, cursor, customers)
		if err != nil {
			return err
		}
		if len(cs) > 0 {
			walk.bound(cs[len(cs)-1].ID)
		}
		for _, c := range cs {
			cursor = c.ID
			hist, err := walk.take(ctx, c.ID)
			if err != nil {
				return err
			}
			if err := fn(c, hist); err != nil {
				return err
			}
			done++
		}
		if progress != nil {
			progress(done)
		}
		if len(cs) < customers {
			return walk.finish(ctx)
		}
	}
}
