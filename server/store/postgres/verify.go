package postgres

import "context"

// tenantsQuery walks both tables: a tenant whose events have no customer row
// is still one Verify must see.
const tenantsQuery = `SELECT tenant_id FROM customers UNION SELECT tenant_id FROM events ORDER BY tenant_id`

func (t *txn) Tenants(ctx context.Context) ([]string, error) {
	rows, err := t.tx.Query(ctx, tenantsQuery)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, translate(err)
		}
		out = append(out, id)
	}
	return out, translate(rows.Err())
}

func (t *txn) CountEvents(ctx context.Context, tenant, after, through string) (int64, error) {
	query := `SELECT count(*) FROM events WHERE tenant_id = $1 AND customer_id > $2`
	a := []any{tenant, after}
	if through != "" {
		query += ` AND customer_id <= $3`
		a = append(a, through)
	}
	var n int64
	err := t.tx.QueryRow(ctx, query, a...).Scan(&n)
	return n, translate(err)
}
