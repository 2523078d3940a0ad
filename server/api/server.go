package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// Server implements goodwillv1.GoodwillServiceServer.
type Server struct {
	goodwillv1.UnimplementedGoodwillServiceServer
	svc *ledger.Service
	log *slog.Logger
}

var _ goodwillv1.GoodwillServiceServer = (*Server)(nil)

// New returns a Server over svc.
func New(svc *ledger.Service, log *slog.Logger) *Server {
	return &Server{svc: svc, log: log}
}

func (s *Server) fail(ctx context.Context, err error) error { return toStatus(ctx, s.log, err) }

// itemError is the text of one item's failure inside a response (a batch
// result, an incident conflict): the words only, without a field name,
// which gRPC and REST clients would spell differently.
func itemError(err error) string {
	var e *ledger.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// matchPath rejects a body customer_id that disagrees with the path.
func matchPath(field, body, path string) error {
	if path == "" && body != "" {
		return ledger.Invalid("customer_id", "is required (it names the customer; the body's %s is not used for that)", field)
	}
	if body != "" && body != path {
		return ledger.Invalid(field, "must be empty or equal to the customer_id in the path")
	}
	return nil
}

func (s *Server) UpsertCustomer(ctx context.Context, req *goodwillv1.UpsertCustomerRequest) (*goodwillv1.UpsertCustomerResponse, error) {
	if err := matchPath("customer.customer_id", req.GetCustomer().GetCustomerId(), req.GetCustomerId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	c, created, err := s.svc.UpsertCustomer(ctx, tenant(ctx), req.GetCustomerId(), profileFromProto(req.GetCustomer()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &goodwillv1.UpsertCustomerResponse{Customer: customerToProto(c), Created: created}, nil
}

func (s *Server) GetCustomer(ctx context.Context, req *goodwillv1.GetCustomerRequest) (*goodwillv1.GetCustomerResponse, error) {
	c, err := s.svc.GetCustomer(ctx, tenant(ctx), req.GetCustomerId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &goodwillv1.GetCustomerResponse{Customer: customerToProto(c)}, nil
}

func (s *Server) RecordEvent(ctx context.Context, req *goodwillv1.RecordEventRequest) (*goodwillv1.RecordEventResponse, error) {
	if err := matchPath("event.customer_id", req.GetEvent().GetCustomerId(), req.GetCustomerId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	ne, err := newEventFromProto("event.", req.GetCustomerId(), req.GetEvent())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	rec, err := s.svc.RecordEvent(ctx, tenant(ctx), ne)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.RecordEventResponse{Event: eventToProto(rec.Event), Replayed: rec.Replayed}
	if mayRead(ctx) {
		out.Balance = balanceToProto(rec.Balance)
	}
	return out, nil
}

func (s *Server) RecordEvents(ctx context.Context, req *goodwillv1.RecordEventsRequest) (*goodwillv1.RecordEventsResponse, error) {
	items := make([]ledger.NewEvent, len(req.GetEvents()))
	for i, e := range req.GetEvents() {
		ne, err := newEventFromProto(fmt.Sprintf("events[%d].", i), e.GetCustomerId(), e)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		items[i] = ne
	}
	results, err := s.svc.RecordEvents(ctx, tenant(ctx), items)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.RecordEventsResponse{Results: make([]*goodwillv1.RecordEventsResult, len(results))}
	for i, r := range results {
		res := &goodwillv1.RecordEventsResult{Index: int32(i), Outcome: outcomeToProto[r.Outcome]}
		// A conflict's event is someone else's: only readers see it.
		if r.Outcome != ledger.OutcomeConflict || mayRead(ctx) {
			res.Event = eventToProto(r.Event)
		}
		if r.Err != nil {
			res.Error = itemError(r.Err)
		}
		out.Results[i] = res
	}
	return out, nil
}

func (s *Server) ListEvents(ctx context.Context, req *goodwillv1.ListEventsRequest) (*goodwillv1.ListEventsResponse, error) {
	start, err := timeFromProto("start_time", req.GetStartTime())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	end, err := timeFromProto("end_time", req.GetEndTime())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	q := ledger.ListQuery{
		CustomerID: req.GetCustomerId(),
		PageSize:   int(req.GetPageSize()),
		PageToken:  req.GetPageToken(),
		Start:      start,
		End:        end,
	}
	for _, k := range req.GetKinds() {
		q.Kinds = append(q.Kinds, kindFromProto(k))
	}
	events, next, err := s.svc.ListEvents(ctx, tenant(ctx), q)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.ListEventsResponse{NextPageToken: next, Events: make([]*goodwillv1.Event, len(events))}
	for i, e := range events {
		out.Events[i] = eventToProto(e)
	}
	return out, nil
}

func (s *Server) ReverseEvent(ctx context.Context, req *goodwillv1.ReverseEventRequest) (*goodwillv1.ReverseEventResponse, error) {
	rec, err := s.svc.ReverseEvent(ctx, tenant(ctx), ledger.ReverseRequest{
		CustomerID:     req.GetCustomerId(),
		EventID:        req.GetEventId(),
		IdempotencyKey: req.GetIdempotencyKey(),
		Note:           req.GetNote(),
		Source:         req.GetSource(),
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.ReverseEventResponse{Reversal: eventToProto(rec.Event), Replayed: rec.Replayed}
	if mayRead(ctx) {
		out.Balance = balanceToProto(rec.Balance)
	} else {
		// A reversal's magnitude is copied from the event it cancels, which
		// another integration may have written: a writer-only key reads
		// nothing of it.
		out.Reversal.Magnitude = nil
	}
	return out, nil
}

func (s *Server) RecordIncident(ctx context.Context, req *goodwillv1.RecordIncidentRequest) (*goodwillv1.RecordIncidentResponse, error) {
	started, err := timeFromProto("started_at", req.GetStartedAt())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	notice, err := timeFromProto("notice_at", req.GetNoticeAt())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	broken, err := timeFromProto("broken_promise_at", req.GetBrokenPromiseAt())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	res, err := s.svc.RecordIncident(ctx, tenant(ctx), ledger.Incident{
		ID:              req.GetIncidentId(),
		CustomerIDs:     req.GetCustomerIds(),
		DurationHours:   req.GetDurationHours(),
		Severity:        req.Severity,
		StartedAt:       started,
		NoticeAt:        notice,
		BrokenPromiseAt: broken,
		Credit:          req.Credit,
		Note:            req.GetNote(),
		Source:          req.GetSource(),
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.RecordIncidentResponse{
		IncidentId:     req.GetIncidentId(),
		Customers:      int32(res.Customers),
		EventsCreated:  int32(res.Created),
		EventsReplayed: int32(res.Replayed),
	}
	for id, cerr := range res.Conflicts {
		out.Conflicts = append(out.Conflicts, &goodwillv1.IncidentConflict{CustomerId: id, Error: itemError(cerr)})
	}
	sort.Slice(out.Conflicts, func(i, j int) bool { return out.Conflicts[i].CustomerId < out.Conflicts[j].CustomerId })
	return out, nil
}

func (s *Server) GetBalance(ctx context.Context, req *goodwillv1.GetBalanceRequest) (*goodwillv1.GetBalanceResponse, error) {
	asOf, err := timeFromProto("as_of", req.GetAsOf())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	b, err := s.svc.GetBalance(ctx, tenant(ctx), req.GetCustomerId(), asOf)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &goodwillv1.GetBalanceResponse{Balance: balanceToProto(b)}, nil
}

func (s *Server) ListCustomers(ctx context.Context, req *goodwillv1.ListCustomersRequest) (*goodwillv1.ListCustomersResponse, error) {
	page, err := s.svc.ListCustomers(ctx, tenant(ctx), req.GetSegment(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.ListCustomersResponse{NextPageToken: page.NextToken, Customers: make([]*goodwillv1.Customer, len(page.Customers))}
	for i, c := range page.Customers {
		out.Customers[i] = customerToProto(c)
	}
	return out, nil
}
