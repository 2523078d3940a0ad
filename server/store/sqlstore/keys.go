package sqlstore

import (
	"context"
	"time"

	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// Lookup reads one customer and the tenant's active policy version (0 when
// it never installed one) in a single statement: GetBalance's one round
// trip. Run it on a pool: a single statement is its own snapshot.
func (t *Txn) Lookup(ctx context.Context, tenant, id string) (ledger.Customer, int64, error) {
	var (
		c     ledger.Customer
		ver   int64
		found bool
	)
	err := t.queryPrepared(ctx, t.s.fixed(t.s.lookupSQL, tenant, tenant, id), func(r scanner) error {
		found = true
		var err error
		c, err = scanCustomer(r, &ver)
		return err
	})
	if err == nil && !found {
		err = ledger.ErrNotFound
	}
	return c, ver, err
}

// API keys are not a tenant's rows: a key names its tenant, and is found by
// its id alone.

// Key implements auth.KeyStore's read.
func (t *Txn) Key(ctx context.Context, id string) (auth.Key, error) {
	ks, err := t.keys(ctx, t.s.d.query("SELECT "+keys.list("")+" FROM api_keys WHERE ").write("key_id = ?", id))
	if err != nil {
		return auth.Key{}, err
	}
	if len(ks) == 0 {
		return auth.Key{}, ledger.ErrNotFound
	}
	return ks[0], nil
}

// Keys lists the keys of a tenant, or every key when tenant is "".
func (t *Txn) Keys(ctx context.Context, tenant string) ([]auth.Key, error) {
	q := t.s.d.query("SELECT " + keys.list("") + " FROM api_keys")
	if tenant != "" {
		q.write(" WHERE tenant_id = ?", tenant)
	}
	return t.keys(ctx, q.write(" ORDER BY key_id"))
}

func (t *Txn) keys(ctx context.Context, q *query) ([]auth.Key, error) {
	var out []auth.Key
	err := t.query(ctx, q, func(r scanner) error {
		k, err := scanKey(r)
		out = append(out, k)
		return err
	})
	return out, err
}

// PutKey inserts a key.
func (t *Txn) PutKey(ctx context.Context, k auth.Key) error {
	_, err := t.exec(ctx, t.s.insert(keys, keys.bind(t.s.d, keyValues(k))))
	return err
}

// PutFirstKey inserts k only if there is no key at all, and reports
// whether it did. Run in a serializable transaction, of two servers
// bootstrapping at once only one inserts.
func (t *Txn) PutFirstKey(ctx context.Context, k auth.Key) (bool, error) {
	q := t.s.d.query("INSERT INTO api_keys (" + keys.list("") + ") SELECT ")
	vals := keys.bind(t.s.d, keyValues(k))
	for i, v := range vals {
		if i > 0 {
			q.b.WriteString(", ")
		}
		q.b.WriteString(q.arg(v))
		if t.s.d.Numbered {
			q.b.WriteString("::" + scalarType[keys.cols[i].typ]) // a bare $n in a SELECT list has no type
		}
	}
	n, err := t.exec(ctx, q.write(" WHERE NOT EXISTS (SELECT 1 FROM api_keys)"))
	return n == 1, err
}

var scalarType = map[colType]string{
	colText: "TEXT", colJSON: "JSONB", colFloat: "FLOAT8", colNullFloat: "FLOAT8", colInt: "INT8",
	colTime: "TIMESTAMPTZ", colNullTime: "TIMESTAMPTZ", colBytes: "BYTEA",
}

// RevokeKey marks a key revoked at `at`, unless it already is.
// Errors: ledger.ErrNotFound.
func (t *Txn) RevokeKey(ctx context.Context, id string, at time.Time) error {
	n, err := t.exec(ctx, t.s.d.query("UPDATE api_keys SET ").
		write("revoked_at = coalesce(revoked_at, ?) WHERE key_id = ?", t.s.d.Time(at), id))
	if err == nil && n == 0 {
		err = ledger.ErrNotFound
	}
	return err
}
