package api

import (
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// ExportEvents sends the tenant's events a chunk at a time, each chunk one
// read of the store (ledger.Service.ExportEvents), until the last. A
// client that loses the stream resumes with the last chunk's page_token.
func (s *Server) ExportEvents(req *goodwillv1.ExportEventsRequest, stream goodwillv1.GoodwillService_ExportEventsServer) error {
	ctx := stream.Context()
	start, err := timeFromProto("start_time", req.GetStartTime())
	if err != nil {
		return s.fail(ctx, err)
	}
	end, err := timeFromProto("end_time", req.GetEndTime())
	if err != nil {
		return s.fail(ctx, err)
	}
	q := ledger.ExportQuery{
		Segment:   req.GetSegment(),
		Start:     start,
		End:       end,
		PageSize:  int(req.GetPageSize()),
		PageToken: req.GetPageToken(),
	}
	for _, k := range req.GetKinds() {
		q.Kinds = append(q.Kinds, kindFromProto(k))
	}
	for {
		page, err := s.svc.ExportEvents(ctx, tenant(ctx), q)
		if err != nil {
			return s.fail(ctx, err)
		}
		out := &goodwillv1.ExportEventsResponse{PageToken: page.NextPageToken,
			RecordedThrough: timeToProto(page.RecordedThrough), Events: make([]*goodwillv1.Event, len(page.Events))}
		for i, e := range page.Events {
			out.Events[i] = eventToProto(e)
		}
		// Send blocks while the client is behind (HTTP/2 flow control), so
		// a slow reader holds one chunk in memory, not the tenant.
		if err := stream.Send(out); err != nil {
			return err
		}
		if page.Done {
			return nil
		}
		q.PageToken = page.NextPageToken
	}
}
