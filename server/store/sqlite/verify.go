package sqlite

import "context"

// tenantsQuery walks both tables: a tenant whose events have no customer row
// is still one Verify must see.
const tenantsQuery = `SELECT tenant_id FROM customers UNION SELECT tenant_id FROM events ORDER BY tenant_id`

func (t *txn) Tenants(ctx context.Context) ([]string, error) {
	rows, err := t.queryRows(ctx, tenantsQuery)
	if err != nil {
		return nil, err
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
	query := `SELECT count(*) FROM events WHERE tenant_id = ? AND customer_id > ?`
	args := []any{tenant, after}
	if through != "" {
		query += ` AND customer_id <= ?`
		args = append(args, through)
	}
	row, err := t.queryRow(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	var n int64
	return n, translate(row.Scan(&n))
}
