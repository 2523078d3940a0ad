package sqlite

import (
	"context"
	"errors"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// The bulk methods loop over the single-row ones: SQLite runs in-process,
// so a prepared statement per row costs no round trip, and the loops keep
// one code path per query.

func (t *txn) CustomersByID(ctx context.Context, tenant string, ids []string) (map[string]ledger.Customer, error) {
	out := make(map[string]ledger.Customer, len(ids))
	for _, id := range ids {
		c, err := t.Customer(ctx, tenant, id)
		if errors.Is(err, ledger.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = c
	}
	return out, nil
}

func (t *txn) EventsByKeys(ctx context.Context, tenant string, keys []ledger.CustomerKey) (map[ledger.CustomerKey]ledger.Event, error) {
	out := make(map[ledger.CustomerKey]ledger.Event, len(keys))
	for _, k := range keys {
		e, err := t.EventByKey(ctx, tenant, k.CustomerID, k.Key)
		if errors.Is(err, ledger.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = e
	}
	return out, nil
}

func (t *txn) AppendEvents(ctx context.Context, events []ledger.Event) error {
	for _, e := range events {
		if err := t.AppendEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) PutCustomers(ctx context.Context, cs []ledger.Customer) error {
	for _, c := range cs {
		if err := t.PutCustomer(ctx, c); err != nil {
			return err
		}
	}
	return nil
}
