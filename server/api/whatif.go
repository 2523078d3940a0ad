package api

import (
	"context"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

func (s *Server) SimulatePolicy(ctx context.Context, req *goodwillv1.SimulatePolicyRequest) (*goodwillv1.SimulatePolicyResponse, error) {
	p, err := policyFromProto(req.GetPolicy())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	sim, err := s.svc.SimulatePolicy(ctx, tenant(ctx), p, req.GetAllowStale())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.log.InfoContext(ctx, "policy simulation started", "tenant", tenant(ctx), "simulation", sim.ID, "by", caller(ctx))
	return &goodwillv1.SimulatePolicyResponse{Simulation: simulationToProto(sim)}, nil
}

func (s *Server) GetSimulation(ctx context.Context, req *goodwillv1.GetSimulationRequest) (*goodwillv1.GetSimulationResponse, error) {
	sim, err := s.svc.GetSimulation(ctx, tenant(ctx), req.GetSimulationId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &goodwillv1.GetSimulationResponse{Simulation: simulationToProto(sim)}, nil
}

func simulationToProto(sim ledger.Simulation) *goodwillv1.Simulation {
	out := &goodwillv1.Simulation{
		SimulationId:   sim.ID,
		State:          jobStateToProto[sim.State],
		CustomersTotal: max(sim.Total, sim.Done),
		CustomersDone:  sim.Done,
		StartedAt:      timeToProto(sim.StartedAt),
		FinishedAt:     timeToProto(sim.FinishedAt),
		SnapshotTime:   timeToProto(sim.SnapshotAt),
		Stale:          sim.Stale,
		Error:          sim.Error,
	}
	if sim.Draft != nil {
		out.Draft = policyToProto(sim.Draft)
	}
	if r := sim.Result; r != nil {
		out.Result = &goodwillv1.SimulationResult{
			ActivePolicyVersion: r.ActiveVersion,
			SummaryBefore:       summaryToProto(r.Before),
			SummaryAfter:        summaryToProto(r.After),
			Recovery:            listChangeToProto(r.Recovery),
			Advocacy:            listChangeToProto(r.Advocacy),
			Movers:              movesToProto(r.Movers),
		}
	}
	return out
}

func listChangeToProto(l ledger.ListChange) *goodwillv1.ListChange {
	return &goodwillv1.ListChange{Before: l.Before, After: l.After, EnteredCount: l.EnteredCount, LeftCount: l.LeftCount,
		Entered: movesToProto(l.Entered), Left: movesToProto(l.Left)}
}

func movesToProto(ms []ledger.Move) []*goodwillv1.SimulatedMove {
	out := make([]*goodwillv1.SimulatedMove, len(ms))
	for i, m := range ms {
		out[i] = &goodwillv1.SimulatedMove{CustomerId: m.CustomerID, DisplayName: m.DisplayName, Segment: m.Segment,
			Before: balanceToProto(m.Before), After: balanceToProto(m.After), Delta: m.Delta()}
	}
	return out
}
