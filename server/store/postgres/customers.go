package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store/rowcodec"
)

const customerCols = `tenant_id, customer_id, display_name, segment, value, overdraft_limit, attributes,
	created_at, updated_at, policy_version, value_at_last, balance_rank, event_count, last_at, last_kind,
	last_fingerprint, last_event_id, last_notice_at, last_grievance_at, last_grievance_kind, last_remedy_at,
	trend, recovery_key, advocacy_key`

// customerSelect lists the columns for reading; attributes come as text so
// both servers hand back the same thing.
var customerSelect = `SELECT ` + strings.Replace(customerCols, "attributes", "attributes::TEXT", 1) + ` FROM customers`

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
		attrs, lastKind, grievanceKind      string
		lastAt, noticeAt, grievance, remedy *time.Time
	)
	st := &c.State
	err := row.Scan(&c.TenantID, &c.ID, &c.Profile.DisplayName, &c.Profile.Segment, &c.Profile.Value,
		&c.Profile.OverdraftLimit, &attrs, &c.CreatedAt, &c.UpdatedAt, &c.PolicyVersion, &st.Value, &c.Keys.Rank,
		&st.Count, &lastAt, &lastKind, &st.Last.Fingerprint, &st.Last.ID, &noticeAt, &grievance, &grievanceKind,
		&remedy, &st.Trend, &c.Keys.Recovery, &c.Keys.Advocacy)
	if err != nil {
		return c, err
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
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	st.Last.At = fromTS(lastAt)
	st.LastNoticeAt, st.LastGrievanceAt, st.LastRemedyAt = fromTS(noticeAt), fromTS(grievance), fromTS(remedy)
	return c, nil
}

func (t *txn) Customer(ctx context.Context, tenant, id string) (ledger.Customer, error) {
	c, err := scanCustomer(t.tx.QueryRow(ctx, customerSelect+` WHERE tenant_id = $1 AND customer_id = $2`, tenant, id))
	if isNoRows(err) {
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
	// UPSERT is CockroachDB-only; ON CONFLICT ... DO UPDATE works on both.
	_, err = t.tx.Exec(ctx, `INSERT INTO customers (`+customerCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
		ON CONFLICT (tenant_id, customer_id) DO UPDATE SET `+customerUpdates,
		c.TenantID, c.ID, c.Profile.DisplayName, c.Profile.Segment, c.Profile.Value, c.Profile.OverdraftLimit, attrs,
		c.CreatedAt, c.UpdatedAt, c.PolicyVersion, st.Value, c.Keys.Rank, st.Count,
		ts(st.Last.At), rowcodec.KindName(st.Last.Kind), st.Last.Fingerprint, st.Last.ID,
		ts(st.LastNoticeAt), ts(st.LastGrievanceAt), rowcodec.KindName(st.LastGrievanceKind), ts(st.LastRemedyAt),
		st.Trend, c.Keys.Recovery, c.Keys.Advocacy)
	return translate(err)
}

func (t *txn) Customers(ctx context.Context, tenant, after string, limit int) ([]ledger.Customer, error) {
	return t.customers(ctx, customerSelect+` WHERE tenant_id = $1 AND customer_id > $2 ORDER BY customer_id LIMIT $3`,
		tenant, after, limit)
}

func (t *txn) CountCustomers(ctx context.Context, tenant string) (int64, error) {
	var n int64
	err := t.tx.QueryRow(ctx, `SELECT count(*) FROM customers WHERE tenant_id = $1`, tenant).Scan(&n)
	return n, translate(err)
}

func (t *txn) Ranked(ctx context.Context, tenant string, q ledger.RankQuery) ([]ledger.Customer, error) {
	col := map[ledger.RankIndex]string{
		ledger.ByBalance:  "balance_rank",
		ledger.ByRecovery: "recovery_key",
		ledger.ByAdvocacy: "advocacy_key",
	}[q.Index]
	if col == "" {
		return nil, fmt.Errorf("unknown rank index %d", q.Index)
	}
	var a args
	var b strings.Builder
	b.WriteString(customerSelect + ` WHERE tenant_id = ` + a.add(tenant))
	if q.Index != ledger.ByBalance {
		b.WriteString(` AND ` + col + ` IS NOT NULL`)
	}
	if q.Segment != "" {
		b.WriteString(` AND segment = ` + a.add(q.Segment))
	}
	if q.Min != nil {
		b.WriteString(` AND ` + col + ` >= ` + a.add(*q.Min))
	}
	if q.Max != nil {
		b.WriteString(` AND ` + col + ` <= ` + a.add(*q.Max))
	}
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	if q.After != nil {
		b.WriteString(` AND (` + col + `, customer_id) ` + cmp + ` (` + a.add(q.After.Key) + `, ` + a.add(q.After.CustomerID) + `)`)
	}
	b.WriteString(` ORDER BY ` + col + ` ` + dir + `, customer_id ` + dir + ` LIMIT ` + a.add(q.Limit))
	return t.customers(ctx, b.String(), a...)
}

func (t *txn) customers(ctx context.Context, query string, a ...any) ([]ledger.Customer, error) {
	rows, err := t.tx.Query(ctx, query, a...)
	if err != nil {
		return nil, translate(err)
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
