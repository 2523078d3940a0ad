package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/rowcodec"
)

// lookupQuery reads a customer and the tenant's active policy version in
// one statement (0: the tenant never installed a policy).
const lookupQuery = `SELECT ` + customerCols + `,
	coalesce((SELECT version FROM active_policies WHERE tenant_id = ?1), 0)
	FROM customers WHERE tenant_id = ?1 AND customer_id = ?2`

// Lookup reads outside a transaction: one statement is its own snapshot.
func (s *Store) Lookup(ctx context.Context, tenant, id string) (ledger.Customer, int64, error) {
	var active int64
	row := s.readStmts.get(lookupQuery).QueryRowContext(ctx, tenant, id)
	c, err := scanCustomer(rowcodec.WithExtra(row, &active))
	if errors.Is(err, sql.ErrNoRows) {
		return c, 0, ledger.ErrNotFound
	}
	return c, active, translate(err)
}
