package api

import (
	"context"
	"strconv"
	"time"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// heartbeat is how often a quiet stream says it is alive: load balancers
// and proxies cut connections that stay silent for a minute or more.
var heartbeat = 30 * time.Second

// watchPage is how many notifications a stream reads at a time.
const watchPage = 500

func (s *Server) ListNotifications(ctx context.Context, req *goodwillv1.ListNotificationsRequest) (*goodwillv1.ListNotificationsResponse, error) {
	after, err := cursorFromProto("after", req.GetAfter())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	ns, complete, err := s.svc.NotificationsPage(ctx, tenant(ctx), after, typesFromProto(req.GetTypes()), int(req.GetPageSize()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	// The next cursor may pass the last notification given: nothing this
	// reader wants lies between.
	out := &goodwillv1.ListNotificationsResponse{NextCursor: cursorToProto(complete)}
	for _, n := range ns {
		out.Notifications = append(out.Notifications, NotificationToProto(n))
	}
	return out, nil
}

func (s *Server) WatchNotifications(req *goodwillv1.WatchNotificationsRequest, stream goodwillv1.GoodwillService_WatchNotificationsServer) error {
	ctx := stream.Context()
	after, err := cursorFromProto("after", req.GetAfter())
	if err != nil {
		return s.fail(ctx, err)
	}
	if req.GetAfter() == "" && req.GetStartAtNow() {
		if after, err = s.svc.LatestNotification(ctx); err != nil {
			return s.fail(ctx, err)
		}
	}
	types := typesFromProto(req.GetTypes())
	lastSent := time.Now()
	for {
		page, complete, err := s.svc.NotificationsPage(ctx, tenant(ctx), after, types, watchPage)
		if err != nil {
			return s.fail(ctx, err)
		}
		for _, n := range page {
			if err := stream.Send(&goodwillv1.WatchNotificationsResponse{Notification: NotificationToProto(n),
				Cursor: cursorToProto(n.Seq)}); err != nil {
				return err
			}
			lastSent = time.Now()
		}
		// Wait from where the answer is complete, not from the last one
		// sent: numbers of other tenants or types must not wake this
		// stream again and again (the heartbeat carries this cursor).
		after = complete
		if len(page) == watchPage {
			continue
		}
		if time.Since(lastSent) >= heartbeat {
			if err := stream.Send(&goodwillv1.WatchNotificationsResponse{Cursor: cursorToProto(after)}); err != nil {
				return err
			}
			lastSent = time.Now()
		}
		if err := s.svc.WaitNotifications(ctx, after); err != nil {
			return nil // the client went away
		}
	}
}

// cursorFromProto reads a cursor: the decimal number of a notification's
// place in the stream ("" is the start). Clients treat it as opaque.
func cursorFromProto(field, c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 0 {
		return 0, ledger.Invalid(field, "is not a cursor this server gave")
	}
	return n, nil
}

func cursorToProto(seq int64) string {
	if seq == 0 {
		return ""
	}
	return strconv.FormatInt(seq, 10)
}

func typesFromProto(ts []string) []ledger.NotificationType {
	var out []ledger.NotificationType
	for _, t := range ts {
		out = append(out, ledger.NotificationType(t))
	}
	return out
}

// NotificationToProto is a notification as every channel carries it: the
// stream sends it, and a webhook's or a NATS message's "data" is its JSON.
func NotificationToProto(n ledger.Notification) *goodwillv1.Notification {
	out := &goodwillv1.Notification{
		NotificationId:   n.ID,
		Type:             string(n.Type),
		Cursor:           cursorToProto(n.Seq),
		TenantId:         n.TenantID,
		CustomerId:       n.CustomerID,
		CustomerSequence: n.CustomerSeq,
		OccurredAt:       timeToProto(n.OccurredAt),
		EventId:          n.EventID,
		PolicyVersion:    n.PolicyVersion,
	}
	if n.CustomerID != "" {
		out.Before = &goodwillv1.BalanceSnapshot{Balance: n.Before.Value, Status: statusToProto(n.Before.Status)}
		out.After = &goodwillv1.BalanceSnapshot{Balance: n.After.Value, Status: statusToProto(n.After.Status)}
	}
	if n.Event != nil {
		out.Event = eventToProto(*n.Event)
	}
	return out
}

// WebhookBody is the document a webhook (and a NATS message) carries, in
// the Standard Webhooks shape: {"type", "timestamp", "data"}, where data is
// the notification as the REST API spells it (appendNotificationJSON). The
// type (one of a fixed set) and an RFC 3339 time need no escaping.
func WebhookBody(n ledger.Notification) ([]byte, error) {
	b := make([]byte, 0, 640)
	b = append(b, `{"type":"`...)
	b = append(b, n.Type...)
	b = append(b, `","timestamp":"`...)
	b = n.OccurredAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	b = appendNotificationJSON(b, n)
	return append(b, '}'), nil
}
