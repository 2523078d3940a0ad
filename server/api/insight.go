package api

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

func (s *Server) ExplainBalance(ctx context.Context, req *goodwillv1.ExplainBalanceRequest) (*goodwillv1.ExplainBalanceResponse, error) {
	asOf, err := timeFromProto("as_of", req.GetAsOf())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	x, err := s.svc.ExplainBalance(ctx, tenant(ctx), req.GetCustomerId(), asOf, int(req.GetTop()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.ExplainBalanceResponse{Balance: balanceToProto(x.Balance), Summary: x.Summary}
	for _, kc := range x.ByKind {
		out.Contributions = append(out.Contributions, &goodwillv1.KindContribution{
			Kind: kindToProto(kc.Kind), Events: kc.Events, Points: kc.Points,
		})
	}
	for _, ec := range x.Top {
		out.TopEvents = append(out.TopEvents, &goodwillv1.EventContribution{
			Event:              eventToProto(ec.Event),
			BasePoints:         ec.Effect.Base,
			Factor:             ec.Effect.Factor,
			Rule:               ec.Effect.Rule,
			PointsWhenRecorded: ec.Effect.Points,
			PointsNow:          ec.PointsNow,
			Explanation:        ec.Explanation,
		})
	}
	return out, nil
}

func (s *Server) GetBalanceHistory(ctx context.Context, req *goodwillv1.GetBalanceHistoryRequest) (*goodwillv1.GetBalanceHistoryResponse, error) {
	start, err := timeFromProto("start", req.GetStart())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	end, err := timeFromProto("end", req.GetEnd())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	var step time.Duration
	if d := req.GetStep(); d != nil {
		if err := d.CheckValid(); err != nil {
			return nil, s.fail(ctx, ledger.Invalid("step", "is not a valid duration"))
		}
		step = d.AsDuration()
		if step <= 0 {
			return nil, s.fail(ctx, ledger.Invalid("step", "must be positive"))
		}
	}
	points, version, err := s.svc.BalanceHistory(ctx, tenant(ctx), req.GetCustomerId(), start, end, step)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.GetBalanceHistoryResponse{PolicyVersion: version}
	for _, p := range points {
		out.Points = append(out.Points, &goodwillv1.BalancePoint{
			At: timeToProto(p.At), Balance: p.Value, Status: statusToProto(p.Status), EventCount: p.Count,
		})
	}
	return out, nil
}

func (s *Server) ListBalances(ctx context.Context, req *goodwillv1.ListBalancesRequest) (*goodwillv1.ListBalancesResponse, error) {
	asOf, err := timeFromProto("as_of", req.GetAsOf())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	q := ledger.BalanceQuery{
		AsOf:       asOf,
		Segment:    req.GetSegment(),
		Min:        req.MinBalance,
		Max:        req.MaxBalance,
		PageSize:   int(req.GetPageSize()),
		PageToken:  req.GetPageToken(),
		AllowStale: req.GetAllowStale(),
	}
	switch req.GetStatus() {
	case goodwillv1.BalanceStatus_BALANCE_STATUS_UNSPECIFIED:
	case goodwillv1.BalanceStatus_BALANCE_STATUS_HEALTHY:
		q.Status = ledger.StatusHealthy
	case goodwillv1.BalanceStatus_BALANCE_STATUS_OVERDRAWN:
		q.Status = ledger.StatusOverdrawn
	default:
		return nil, s.fail(ctx, ledger.Invalid("status", "is not a known balance status"))
	}
	switch req.GetOrder() {
	case goodwillv1.BalanceOrder_BALANCE_ORDER_UNSPECIFIED, goodwillv1.BalanceOrder_BALANCE_ORDER_ASCENDING:
	case goodwillv1.BalanceOrder_BALANCE_ORDER_DESCENDING:
		q.Desc = true
	default:
		return nil, s.fail(ctx, ledger.Invalid("order", "is not a known order"))
	}
	page, err := s.svc.ListBalances(ctx, tenant(ctx), q)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.ListBalancesResponse{NextPageToken: page.NextPageToken, PolicyVersion: page.PolicyVersion,
		ApproximateOrder: page.ApproximateOrder, AsOf: timeToProto(page.AsOf)}
	for _, e := range page.Entries {
		out.Balances = append(out.Balances, &goodwillv1.BalanceEntry{
			Balance:     balanceToProto(e.Balance),
			Segment:     e.Customer.Profile.Segment,
			DisplayName: e.Customer.Profile.DisplayName,
			Value:       e.Customer.Profile.Value,
		})
	}
	return out, nil
}

func (s *Server) SummarizeBalances(ctx context.Context, req *goodwillv1.SummarizeBalancesRequest) (*goodwillv1.SummarizeBalancesResponse, error) {
	rows, at, version, err := s.svc.SummarizeBalances(ctx, tenant(ctx), req.GetSegment(), req.GetAllowStale())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.SummarizeBalancesResponse{AsOf: timeToProto(at), PolicyVersion: version}
	out.Segments = summaryToProto(rows)
	return out, nil
}

func summaryToProto(rows []ledger.SegmentStats) []*goodwillv1.SegmentSummary {
	out := make([]*goodwillv1.SegmentSummary, len(rows))
	for i, r := range rows {
		out[i] = &goodwillv1.SegmentSummary{
			Segment: r.Segment, Overall: r.Overall, Customers: r.Customers, Overdrawn: r.Overdrawn,
			Mean: r.Mean, P10: r.P10, P50: r.P50, P90: r.P90, ValueAtRisk: r.ValueAtRisk,
		}
	}
	return out
}

func (s *Server) ListOutreach(ctx context.Context, req *goodwillv1.ListOutreachRequest) (*goodwillv1.ListOutreachResponse, error) {
	var purpose ledger.Purpose
	switch req.GetPurpose() {
	case goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_RECOVERY:
		purpose = ledger.PurposeRecovery
	case goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_ADVOCACY:
		purpose = ledger.PurposeAdvocacy
	}
	page, err := s.svc.ListOutreach(ctx, tenant(ctx), purpose, req.GetSegment(), int(req.GetPageSize()), req.GetPageToken(), req.GetAllowStale())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.ListOutreachResponse{NextPageToken: page.NextPageToken, PolicyVersion: page.PolicyVersion,
		ApproximateOrder: page.ApproximateOrder}
	for _, e := range page.Entries {
		c := e.Customer
		out.Entries = append(out.Entries, &goodwillv1.OutreachEntry{
			CustomerId:  c.ID,
			DisplayName: c.Profile.DisplayName,
			Segment:     c.Profile.Segment,
			Value:       c.Profile.Value,
			Balance:     balanceToProto(e.Balance),
			Priority:    e.Priority,
			Reasons:     e.Reasons,
		})
	}
	return out, nil
}

func (s *Server) PlanRecovery(ctx context.Context, req *goodwillv1.PlanRecoveryRequest) (*goodwillv1.PlanRecoveryResponse, error) {
	assume := make([]ledger.Gesture, len(req.GetAssume()))
	for i, g := range req.GetAssume() {
		assume[i] = ledger.Gesture{Kind: kindFromProto(g.GetKind()), Magnitude: g.GetMagnitude()}
	}
	plan, err := s.svc.PlanRecovery(ctx, tenant(ctx), req.GetCustomerId(), assume)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.PlanRecoveryResponse{Balance: balanceToProto(plan.Balance), Needed: plan.Needed, Summary: plan.Summary()}
	for _, o := range plan.Options {
		out.Options = append(out.Options, &goodwillv1.RecoveryOption{Kind: kindToProto(o.Kind), Magnitude: o.Magnitude,
			Events: o.Events, Factor: o.Factor, Rule: o.Rule})
	}
	if !plan.RecoversAt.IsZero() {
		out.RecoversAt = timestamppb.New(plan.RecoversAt)
	}
	return out, nil
}
