package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/rowcodec"
)

const customerCols = `tenant_id, customer_id, display_name, segment, value, overdraft_limit, attributes,
	created_at, updated_at, policy_version, value_at_last, balance_rank, event_count, last_at, last_kind,
	last_fingerprint, last_event_id, last_notice_at, last_grievance_at, last_grievance_kind, last_remedy_at,
	trend, recovery_key, advocacy_key`

const customerQuery = `SELECT ` + customerCols + ` FROM customers WHERE tenant_id = ? AND customer_id = ?`

var (
	// An upsert, not INSERT OR REPLACE: REPLACE deletes and reinserts the
	// row, rewriting every index entry; an update touches only the indexes
	// whose columns changed.
	putCustomerQuery = `INSERT INTO customers (` + customerCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, customer_id) DO UPDATE SET ` + customerUpdates
)

// customerUpdates is "col = excluded.col" for every column but the key.
var customerUpdates = func() string {
	cols := strings.Split(strings.Join(strings.Fields(customerCols), ""), ",")
	set := make([]string, 0, len(cols)-2)
	for _, c := range cols[2:] {
		set = append(set, c+" = excluded."+c)
	}
	return strings.Join(set, ", ")
}()

type scanner interface{ Scan(dest ...any) error }

func scanCustomer(row scanner) (ledger.Customer, error) {
	var (
		c                                   ledger.Customer
		limit, recovery, advocacy           sql.NullFloat64
		attrs, lastKind, grievanceKind      string
		created, updated                    int64
		lastAt, noticeAt, grievance, remedy sql.NullInt64
	)
	st := &c.State
	err := row.Scan(&c.TenantID, &c.ID, &c.Profile.DisplayName, &c.Profile.Segment, &c.Profile.Value, &limit, &attrs,
		&created, &updated, &c.PolicyVersion, &st.Value, &c.Keys.Rank, &st.Count, &lastAt, &lastKind,
		&st.Last.Fingerprint, &st.Last.ID, &noticeAt, &grievance, &grievanceKind, &remedy,
		&st.Trend, &recovery, &advocacy)
	if err != nil {
		return c, err
	}
	if limit.Valid {
		c.Profile.OverdraftLimit = &limit.Float64
	}
	if recovery.Valid {
		c.Keys.Recovery = &recovery.Float64
	}
	if advocacy.Valid {
		c.Keys.Advocacy = &advocacy.Float64
	}
	if c.Profile.Attributes, err = rowcodec.DecodeAttrs(attrs); err != nil {
		return c, err
	}
	if st.Last.Kind, err = rowcodec.ParseKind(lastKind); err != nil {
		return c, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	if st.LastGrievanceKind, err = rowcodec.ParseKind(grievanceKind); err != nil {
		return c, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	st.Last.At = fromNull(lastAt)
	st.LastNoticeAt, st.LastGrievanceAt, st.LastRemedyAt = fromNull(noticeAt), fromNull(grievance), fromNull(remedy)
	return c, nil
}

func (t *txn) Customer(ctx context.Context, tenant, id string) (ledger.Customer, error) {
	row, err := t.queryRow(ctx, customerQuery, tenant, id)
	if err != nil {
		return ledger.Customer{}, err
	}
	c, err := scanCustomer(row)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ledger.ErrNotFound
	}
	return c, translate(err)
}

func (t *txn) PutCustomer(ctx context.Context, c ledger.Customer) error {
	attrs, err := rowcodec.EncodeAttrs(c.Profile.Attributes)
	if err != nil {
		return err
	}
	st := c.State
	return t.exec(ctx, putCustomerQuery,
		c.TenantID, c.ID, c.Profile.DisplayName, c.Profile.Segment, c.Profile.Value, nullFloat(c.Profile.OverdraftLimit), attrs,
		c.CreatedAt.UnixMicro(), c.UpdatedAt.UnixMicro(), c.PolicyVersion, st.Value, c.Keys.Rank, st.Count,
		toNull(st.Last.At), rowcodec.KindName(st.Last.Kind), st.Last.Fingerprint, st.Last.ID,
		toNull(st.LastNoticeAt), toNull(st.LastGrievanceAt), rowcodec.KindName(st.LastGrievanceKind), toNull(st.LastRemedyAt),
		st.Trend, nullFloat(c.Keys.Recovery), nullFloat(c.Keys.Advocacy))
}

const customersQuery = `SELECT ` + customerCols + ` FROM customers WHERE tenant_id = ? AND customer_id > ?
	ORDER BY customer_id LIMIT ?`

func (t *txn) Customers(ctx context.Context, tenant, after string, limit int) ([]ledger.Customer, error) {
	return t.customers(ctx, customersQuery, tenant, after, limit)
}

func (t *txn) CountCustomers(ctx context.Context, tenant string) (int64, error) {
	var n int64
	row, err := t.queryRow(ctx, `SELECT count(*) FROM customers WHERE tenant_id = ?`, tenant)
	if err != nil {
		return 0, err
	}
	return n, translate(row.Scan(&n))
}

func (t *txn) Ranked(ctx context.Context, tenant string, q ledger.RankQuery) ([]ledger.Customer, error) {
	query, args, err := rankedQuery(tenant, q)
	if err != nil {
		return nil, err
	}
	return t.customers(ctx, query, args...)
}

// rankedQuery builds a ranking read that an index serves in order:
// plan_test.go checks every shape.
func rankedQuery(tenant string, q ledger.RankQuery) (string, []any, error) {
	col := map[ledger.RankIndex]string{
		ledger.ByBalance:  "balance_rank",
		ledger.ByRecovery: "recovery_key",
		ledger.ByAdvocacy: "advocacy_key",
	}[q.Index]
	if col == "" {
		return "", nil, fmt.Errorf("unknown rank index %d", q.Index)
	}
	var b strings.Builder
	args := []any{tenant}
	b.WriteString(`SELECT ` + customerCols + ` FROM customers`)
	if q.Segment != "" && q.Index == ledger.ByBalance {
		// Without ANALYZE statistics SQLite may prefer customers_by_rank
		// once the key has two range bounds, and then walks every segment.
		b.WriteString(` INDEXED BY customers_by_segment_rank`)
	}
	b.WriteString(` WHERE tenant_id = ?`)
	if q.Index != ledger.ByBalance {
		b.WriteString(` AND ` + col + ` IS NOT NULL`)
	}
	if q.Segment != "" {
		b.WriteString(` AND segment = ?`)
		args = append(args, q.Segment)
	}
	if q.Min != nil {
		b.WriteString(` AND ` + col + ` >= ?`)
		args = append(args, *q.Min)
	}
	if q.Max != nil {
		b.WriteString(` AND ` + col + ` <= ?`)
		args = append(args, *q.Max)
	}
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	if q.After != nil {
		// Row-value comparison keeps the walk on the index.
		b.WriteString(` AND (` + col + `, customer_id) ` + cmp + ` (?, ?)`)
		args = append(args, q.After.Key, q.After.CustomerID)
	}
	b.WriteString(` ORDER BY ` + col + ` ` + dir + `, customer_id ` + dir + ` LIMIT ?`)
	args = append(args, q.Limit)
	return b.String(), args, nil
}

func (t *txn) customers(ctx context.Context, query string, args ...any) ([]ledger.Customer, error) {
	rows, err := t.queryRows(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.Customer
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, c)
	}
	return out, translate(rows.Err())
}

func nullFloat(f *float64) sql.NullFloat64 {
	if f == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *f, Valid: true}
}
