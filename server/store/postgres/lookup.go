package postgres

import (
	"context"
	"strings"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/rowcodec"
)

// lookupQuery reads a customer and the tenant's active policy version in
// one statement (0: the tenant never installed a policy).
var lookupQuery = strings.Replace(customerSelect, " FROM customers",
	`, coalesce((SELECT version FROM active_policies WHERE tenant_id = $1), 0) FROM customers`, 1) +
	` WHERE tenant_id = $1 AND customer_id = $2`

// Lookup runs one statement on the pool, outside a transaction: a single
// statement is its own snapshot, and BEGIN and ROLLBACK would triple the
// round trips of GetBalance.
func (s *Store) Lookup(ctx context.Context, tenant, id string) (ledger.Customer, int64, error) {
	var active int64
	c, err := scanCustomer(rowcodec.WithExtra(s.pool.QueryRow(ctx, lookupQuery, tenant, id), &active))
	if isNoRows(err) {
		return c, 0, ledger.ErrNotFound
	}
	return c, active, translate(err)
}
