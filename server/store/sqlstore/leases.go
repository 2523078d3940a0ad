package sqlstore

import (
	"context"
	"time"
)

// ClaimLease implements ledger.Tx. It reads the lease, then writes it: the
// caller's transaction (SERIALIZABLE on PostgreSQL and CockroachDB, the one
// writer on SQLite) keeps two replicas from both seeing it free.
func (t *Txn) ClaimLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error) {
	var (
		holder string
		end    time.Time
		found  bool
	)
	err := t.query(ctx, t.s.d.query("SELECT owner, lease_until FROM leases WHERE ").write("name = ?", name),
		func(r scanner) error {
			found = true
			return r.Scan(&holder, timeCol{&end})
		})
	if err != nil {
		return false, err
	}
	if found && holder != owner && end.After(now) {
		return false, nil
	}
	_, err = t.exec(ctx, t.s.d.query("INSERT INTO leases (name, owner, lease_until) VALUES (").
		write("?, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until",
			name, owner, t.s.d.Time(until)))
	return err == nil, err
}

// ReleaseLease implements ledger.Tx.
func (t *Txn) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := t.exec(ctx, t.s.d.query("DELETE FROM leases WHERE ").write("name = ? AND owner = ?", name, owner))
	return err
}
