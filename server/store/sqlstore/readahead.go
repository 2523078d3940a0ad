package sqlstore

import (
	"context"
	"slices"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// ahead is what ReadAhead read, kept for the calls it foresaw; each answer
// is given once.
type ahead struct {
	tenant string

	policy      ledger.StoredPolicy
	policyErr   error
	policyTaken bool

	ids       []string
	customers map[string]ledger.Customer

	keys    []ledger.CustomerKey
	holders map[ledger.CustomerKey]ledger.Event
}

// ReadAhead implements ledger.ReadAheader. On a Conn that pipelines, the
// tenant's policy lock (in a guarded write), its active policy, the
// customers and the holders of the keys are read in one round trip
// instead of up to four; on one that does not, it does nothing and the
// reads run when called.
//
// The statements are the ones the calls would send, in the order the
// calls would send them, so the transaction sees what it would have seen:
// at READ COMMITTED each still takes its own snapshot when it starts, the
// policy's after the lock is granted.
func (t *Txn) ReadAhead(ctx context.Context, tenant string, ids []string, keys []ledger.CustomerKey) error {
	p, ok := t.c.(Pipeliner)
	if !ok || !t.s.d.Arrays {
		return nil
	}
	if err := t.Flush(ctx); err != nil {
		return err
	}
	lock := t.locking && t.guarded
	stmts := make([]Stmt, 0, 4)
	if lock {
		stmts = append(stmts, t.s.lockPolicy(tenant, true).prepared())
	}
	stmts = append(stmts, t.s.activePolicy(tenant).prepared(), t.s.customersByIDs(tenant, ids, t.guarded).stmt())
	if len(keys) > 0 {
		stmts = append(stmts, t.s.eventsByKeys(tenant, keys).stmt())
	}
	res := p.Pipeline(ctx, stmts...)
	a, err := t.readAhead(res, lock, tenant, ids, keys)
	if cerr := res.Close(); err == nil {
		err = t.translate(cerr)
	}
	if err != nil {
		return err
	}
	t.ahead = a
	return nil
}

// readAhead takes ReadAhead's results from res.
func (t *Txn) readAhead(res Results, lock bool, tenant string, ids []string, keys []ledger.CustomerKey) (*ahead, error) {
	a := &ahead{tenant: tenant, ids: ids, keys: keys,
		customers: make(map[string]ledger.Customer, len(ids)),
		holders:   make(map[ledger.CustomerKey]ledger.Event, len(keys))}
	if lock {
		if _, err := res.Exec(); err != nil {
			return nil, t.translate(err)
		}
	}
	var pol policyRow
	rows, err := res.Query()
	a.policy, a.policyErr = pol.result(t.scan(rows, err, pol.scan))
	if a.policyErr != nil && a.policyErr != ledger.ErrNotFound {
		return nil, a.policyErr
	}
	rows, err = res.Query()
	each := func(r scanner) error {
		c, err := scanCustomer(r)
		a.customers[c.ID] = c
		return err
	}
	if t.guarded {
		each = t.versionsInto(tenant, ids, a.customers)
	}
	if err := t.scan(rows, err, each); err != nil {
		return nil, err
	}
	if len(keys) > 0 {
		var events []ledger.Event
		rows, err = res.Query()
		if err := t.scan(rows, err, eventsInto(&events)); err != nil {
			return nil, err
		}
		a.holders = keyHolders(keys, events)
	}
	return a, nil
}

// aheadPolicy is ReadAhead's answer to ActivePolicy(tenant), if it has one.
func (t *Txn) aheadPolicy(tenant string) (p ledger.StoredPolicy, ok bool, err error) {
	a := t.ahead
	if a == nil || a.tenant != tenant || a.policyTaken {
		return ledger.StoredPolicy{}, false, nil
	}
	a.policyTaken = true
	return a.policy, true, a.policyErr
}

// aheadCustomers is ReadAhead's answer to CustomersByID(tenant, ids).
func (t *Txn) aheadCustomers(tenant string, ids []string) (map[string]ledger.Customer, bool) {
	a := t.ahead
	if a == nil || a.customers == nil || a.tenant != tenant || !slices.Equal(a.ids, ids) {
		return nil, false
	}
	out := a.customers
	a.customers = nil
	return out, true
}

// aheadHolders is ReadAhead's answer to EventsByKeys(tenant, keys).
func (t *Txn) aheadHolders(tenant string, keys []ledger.CustomerKey) (map[ledger.CustomerKey]ledger.Event, bool) {
	a := t.ahead
	if a == nil || a.holders == nil || a.tenant != tenant || !slices.Equal(a.keys, keys) {
		return nil, false
	}
	out := a.holders
	a.holders = nil
	return out, true
}
