package api

import (
	"context"
	"time"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

func (s *Server) GetBalanceTrend(ctx context.Context, req *goodwillv1.GetBalanceTrendRequest) (*goodwillv1.GetBalanceTrendResponse, error) {
	start, end, err := parseDays(req.GetStart(), req.GetEnd())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	pts, err := s.svc.BalanceTrend(ctx, tenant(ctx), req.GetSegment(), start, end, req.GetAllowStale())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.GetBalanceTrendResponse{Points: make([]*goodwillv1.TrendPoint, len(pts))}
	for i, p := range pts {
		out.Points[i] = &goodwillv1.TrendPoint{Day: p.Day.Format(time.DateOnly), Customers: p.Customers,
			Overdrawn: p.Overdrawn, Mean: p.Mean, P10: p.P10, P50: p.P50, P90: p.P90, ValueAtRisk: p.ValueAtRisk,
			PolicyVersion: p.PolicyVersion, TakenAt: timeToProto(p.TakenAt)}
	}
	out.Start, out.End = req.GetStart(), req.GetEnd()
	if start.IsZero() || end.IsZero() {
		// Say which range the defaults chose.
		first, last := s.svc.TrendRange(start, end)
		out.Start, out.End = first.Format(time.DateOnly), last.Format(time.DateOnly)
	}
	return out, nil
}

func (s *Server) SnapshotTrend(ctx context.Context, req *goodwillv1.SnapshotTrendRequest) (*goodwillv1.SnapshotTrendResponse, error) {
	start, end, err := parseDays(req.GetStart(), req.GetEnd())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	b, err := s.svc.BackfillTrends(ctx, tenant(ctx), start, end)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.log.InfoContext(ctx, "admin action: trend snapshots taken", "action", "trend.snapshot", "tenant", tenant(ctx),
		"start", req.GetStart(), "end", req.GetEnd(), "days", b.Days, "done", b.Done, "by", caller(ctx))
	return &goodwillv1.SnapshotTrendResponse{Days: int32(b.Days), Done: b.Done}, nil
}

// parseDays reads the start and end of a range of days.
func parseDays(start, end string) (time.Time, time.Time, error) {
	first, err := parseDay("start", start)
	if err != nil {
		return first, first, err
	}
	last, err := parseDay("end", end)
	return first, last, err
}

// parseDay reads a YYYY-MM-DD day; "" is the zero time (a default).
func parseDay(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, ledger.Invalid(field, "must be a day as YYYY-MM-DD, got %q", s)
	}
	return d, nil
}
