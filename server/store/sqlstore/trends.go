package sqlstore

import (
	"context"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// trendPoints holds the daily summary snapshots. The day is its ISO date
// as text: the same in every dialect, and it sorts as days do.
var trendPoints = table{"trend_points", []column{
	{"tenant_id", colText}, {"overall", colInt}, {"segment", colText}, {"day", colText},
	{"customers", colInt}, {"overdrawn", colInt}, {"mean", colFloat}, {"p10", colFloat}, {"p50", colFloat},
	{"p90", colFloat}, {"value_at_risk", colFloat}, {"policy_version", colInt}, {"taken_at", colTime},
}}

const dayLayout = time.DateOnly

func trendValues(tenant string, p ledger.TrendPoint) []any {
	return []any{tenant, boolInt(p.Overall), p.Segment, p.Day.UTC().Format(dayLayout),
		p.Customers, p.Overdrawn, p.Mean, p.P10, p.P50, p.P90, p.ValueAtRisk, p.PolicyVersion, p.TakenAt}
}

func scanTrendPoint(row scanner) (ledger.TrendPoint, error) {
	var (
		p       ledger.TrendPoint
		tenant  string
		overall int64
		day     string
	)
	if err := row.Scan(&tenant, &overall, &p.Segment, &day, &p.Customers, &p.Overdrawn, &p.Mean, &p.P10, &p.P50,
		&p.P90, &p.ValueAtRisk, &p.PolicyVersion, timeCol{&p.TakenAt}); err != nil {
		return p, err
	}
	p.Overall = overall != 0
	var err error
	p.Day, err = time.Parse(dayLayout, day)
	return p, err
}

// TrendPoints implements ledger.Reader: one walk of the primary key.
func (t *Txn) TrendPoints(ctx context.Context, tenant string, q ledger.TrendQuery) ([]ledger.TrendPoint, error) {
	sel := t.s.d.onTenant("SELECT "+trendPoints.list("")+" FROM trend_points", "", tenant).
		and("overall = ?", boolInt(q.Overall)).and("segment = ?", q.Segment).
		and("day >= ?", q.Start.UTC().Format(dayLayout)).and("day <= ?", q.End.UTC().Format(dayLayout)).
		write(" ORDER BY day")
	var out []ledger.TrendPoint
	err := t.query(ctx, sel, func(r scanner) error {
		p, err := scanTrendPoint(r)
		out = append(out, p)
		return err
	})
	return out, err
}

// LatestTrendDay implements ledger.Reader. Every snapshot writes an
// overall row, so the overall rows' last day is the tenant's.
func (t *Txn) LatestTrendDay(ctx context.Context, tenant string) (time.Time, error) {
	sel := t.s.d.onTenant("SELECT day FROM trend_points", "", tenant).
		and("overall = ?", 1).and("segment = ?", "").write(" ORDER BY day DESC LIMIT 1")
	var day string
	if err := t.query(ctx, sel, func(r scanner) error { return r.Scan(&day) }); err != nil {
		return time.Time{}, err
	}
	if day == "" {
		return time.Time{}, ledger.ErrNotFound
	}
	return time.Parse(dayLayout, day)
}

// PutTrendPoints implements ledger.Tx.
func (t *Txn) PutTrendPoints(ctx context.Context, tenant string, ps []ledger.TrendPoint) error {
	for _, p := range ps {
		if _, err := t.exec(ctx, t.s.upsert(trendPoints, trendPoints.bind(t.s.d, trendValues(tenant, p)),
			"tenant_id, overall, segment, day")); err != nil {
			return err
		}
	}
	return nil
}
