package api

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

func (s *Server) GetPolicy(ctx context.Context, req *goodwillv1.GetPolicyRequest) (*goodwillv1.GetPolicyResponse, error) {
	p, active, err := s.svc.GetPolicy(ctx, tenant(ctx), req.GetVersion())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &goodwillv1.GetPolicyResponse{Policy: policyToProto(p), ActiveVersion: active}, nil
}

func (s *Server) SetPolicy(ctx context.Context, req *goodwillv1.SetPolicyRequest) (*goodwillv1.SetPolicyResponse, error) {
	p, err := policyFromProto(req.GetPolicy())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	in, err := s.svc.InstallPolicy(ctx, tenant(ctx), p, req.GetIdempotencyKey())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if !in.Replayed {
		s.log.InfoContext(ctx, "admin action: policy installed", "action", "policy.set", "tenant", tenant(ctx),
			"version", in.Policy.Version, "job", in.Job.ID, "by", caller(ctx))
	}
	return &goodwillv1.SetPolicyResponse{Policy: policyToProto(in.Policy), Job: jobToProto(in.Job), Replayed: in.Replayed}, nil
}

func (s *Server) GetRecomputeJob(ctx context.Context, req *goodwillv1.GetRecomputeJobRequest) (*goodwillv1.GetRecomputeJobResponse, error) {
	j, err := s.svc.GetJob(ctx, tenant(ctx), req.GetJobId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &goodwillv1.GetRecomputeJobResponse{Job: jobToProto(j)}, nil
}

func (s *Server) ResumeRecomputeJob(ctx context.Context, req *goodwillv1.ResumeRecomputeJobRequest) (*goodwillv1.ResumeRecomputeJobResponse, error) {
	j, err := s.svc.ResumeJob(ctx, tenant(ctx), req.GetJobId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.log.InfoContext(ctx, "admin action: recompute job resumed", "action", "policy.job.resume", "tenant", tenant(ctx),
		"job", j.ID, "state", j.State, "by", caller(ctx))
	return &goodwillv1.ResumeRecomputeJobResponse{Job: jobToProto(j)}, nil
}

func policyToProto(p *ledger.Policy) *goodwillv1.Policy {
	out := &goodwillv1.Policy{
		Version:  p.Version,
		Weights:  map[string]float64{},
		HalfLife: durationpb.New(p.HalfLife),
		Relationship: &goodwillv1.RelationshipEffect{
			Scale: p.Relationship.Scale, HollowBelow: p.Relationship.HollowBelow,
			MinFactor: p.Relationship.MinFactor, MaxFactor: p.Relationship.MaxFactor,
		},
		Notice:                &goodwillv1.NoticeEffect{Window: durationpb.New(p.Notice.Window), Factor: p.Notice.Factor},
		ChangeNotice:          &goodwillv1.NoticeEffect{Window: durationpb.New(p.ChangeNotice.Window), Factor: p.ChangeNotice.Factor},
		DefaultOverdraftLimit: p.DefaultOverdraftLimit,
		TrendHalfLife:         durationpb.New(p.TrendHalfLife),
		CreatedAt:             timeToProto(p.CreatedAt),
		DustThreshold:         &p.DustThreshold,
	}
	for k, w := range p.Weights {
		out.Weights[kindToProto(k).String()] = w
	}
	for _, k := range p.Relationship.Kinds {
		out.Relationship.Kinds = append(out.Relationship.Kinds, kindToProto(k))
	}
	return out
}

// policyFromProto reads a client's policy. Missing parts are errors rather
// than defaults (a policy is installed whole), except what was added after
// the first policies were written: the change notice, and the weights of
// later kinds (the domain fills those).
func policyFromProto(in *goodwillv1.Policy) (ledger.Policy, error) {
	if in == nil {
		return ledger.Policy{}, ledger.Invalid("policy", "is required")
	}
	dur := func(field string, d *durationpb.Duration) (time.Duration, error) {
		if d == nil {
			return 0, ledger.Invalid(field, "is required")
		}
		if err := d.CheckValid(); err != nil {
			return 0, ledger.Invalid(field, "is not a valid duration")
		}
		return d.AsDuration(), nil
	}
	var p ledger.Policy
	var err error
	p.Weights = map[ledger.Kind]float64{}
	for name, w := range in.GetWeights() {
		v, ok := goodwillv1.EventKind_value[name]
		k := kindFromProto(goodwillv1.EventKind(v))
		if !ok || !k.Recordable() {
			return p, ledger.Invalid(fmt.Sprintf("policy.weights[%s]", name), "is not a recordable event kind")
		}
		p.Weights[k] = w
	}
	if p.HalfLife, err = dur("policy.half_life", in.GetHalfLife()); err != nil {
		return p, err
	}
	if p.TrendHalfLife, err = dur("policy.trend_half_life", in.GetTrendHalfLife()); err != nil {
		return p, err
	}
	rel := in.GetRelationship()
	if rel == nil {
		return p, ledger.Invalid("policy.relationship", "is required")
	}
	p.Relationship = ledger.RelationshipEffect{
		Scale: rel.GetScale(), HollowBelow: rel.GetHollowBelow(), MinFactor: rel.GetMinFactor(), MaxFactor: rel.GetMaxFactor(),
	}
	for _, k := range rel.GetKinds() {
		p.Relationship.Kinds = append(p.Relationship.Kinds, kindFromProto(k))
	}
	notice := in.GetNotice()
	if notice == nil {
		return p, ledger.Invalid("policy.notice", "is required")
	}
	if p.Notice.Window, err = dur("policy.notice.window", notice.GetWindow()); err != nil {
		return p, err
	}
	p.Notice.Factor = notice.GetFactor()
	// Added after the first policies were written: absent means the
	// built-in change notice, so yesterday's clients still install theirs.
	p.ChangeNotice = ledger.DefaultChangeNotice
	if cn := in.GetChangeNotice(); cn != nil {
		if p.ChangeNotice.Window, err = dur("policy.change_notice.window", cn.GetWindow()); err != nil {
			return p, err
		}
		p.ChangeNotice.Factor = cn.GetFactor()
	}
	p.DefaultOverdraftLimit = in.GetDefaultOverdraftLimit()
	p.DustThreshold = ledger.DefaultDustThreshold
	if in.DustThreshold != nil {
		p.DustThreshold = in.GetDustThreshold()
	}
	return p, nil
}

var jobStateToProto = map[ledger.JobState]goodwillv1.JobState{
	ledger.JobRunning:   goodwillv1.JobState_JOB_STATE_RUNNING,
	ledger.JobSucceeded: goodwillv1.JobState_JOB_STATE_SUCCEEDED,
	ledger.JobFailed:    goodwillv1.JobState_JOB_STATE_FAILED,
}

func jobToProto(j ledger.Job) *goodwillv1.RecomputeJob {
	return &goodwillv1.RecomputeJob{
		JobId:          j.ID,
		PolicyVersion:  j.PolicyVersion,
		State:          jobStateToProto[j.State],
		CustomersTotal: max(j.Total, j.Done),
		CustomersDone:  j.Done,
		StartedAt:      timeToProto(j.StartedAt),
		FinishedAt:     timeToProto(j.FinishedAt),
		Error:          j.Error,
	}
}
