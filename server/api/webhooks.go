package api

import (
	"context"

	"google.golang.org/protobuf/types/known/durationpb"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
)

func (s *Server) CreateWebhook(ctx context.Context, req *goodwillv1.CreateWebhookRequest) (*goodwillv1.CreateWebhookResponse, error) {
	w, err := s.svc.CreateWebhook(ctx, tenant(ctx), req.GetUrl(), typesFromProto(req.GetTypes()), req.GetDescription())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.log.InfoContext(ctx, "admin action: webhook created", "action", "webhook.create", "tenant", tenant(ctx),
		"webhook", w.ID, "by", caller(ctx))
	return &goodwillv1.CreateWebhookResponse{Webhook: webhookToProto(w), Secret: w.Secret}, nil
}

func (s *Server) ListWebhooks(ctx context.Context, _ *goodwillv1.ListWebhooksRequest) (*goodwillv1.ListWebhooksResponse, error) {
	ws, err := s.svc.ListWebhooks(ctx, tenant(ctx))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.ListWebhooksResponse{}
	for _, w := range ws {
		out.Webhooks = append(out.Webhooks, webhookToProto(w))
	}
	return out, nil
}

func (s *Server) GetWebhook(ctx context.Context, req *goodwillv1.GetWebhookRequest) (*goodwillv1.GetWebhookResponse, error) {
	w, err := s.svc.GetWebhook(ctx, tenant(ctx), req.GetWebhookId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &goodwillv1.GetWebhookResponse{Webhook: webhookToProto(w)}, nil
}

func (s *Server) DeleteWebhook(ctx context.Context, req *goodwillv1.DeleteWebhookRequest) (*goodwillv1.DeleteWebhookResponse, error) {
	if err := s.svc.DeleteWebhook(ctx, tenant(ctx), req.GetWebhookId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	s.log.InfoContext(ctx, "admin action: webhook deleted", "action", "webhook.delete", "tenant", tenant(ctx),
		"webhook", req.GetWebhookId(), "by", caller(ctx))
	return &goodwillv1.DeleteWebhookResponse{}, nil
}

func (s *Server) ListWebhookDeliveries(ctx context.Context, req *goodwillv1.ListWebhookDeliveriesRequest) (*goodwillv1.ListWebhookDeliveriesResponse, error) {
	queue, tries, err := s.svc.WebhookDeliveries(ctx, tenant(ctx), req.GetWebhookId(), int(req.GetPageSize()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &goodwillv1.ListWebhookDeliveriesResponse{}
	for _, d := range queue {
		pd := &goodwillv1.WebhookDelivery{NotificationId: d.NotificationID, Type: string(d.Type), CustomerId: d.CustomerID,
			State: goodwillv1.DeliveryState_DELIVERY_STATE_PENDING, Attempts: int32(d.Attempts),
			FirstAttemptAt: timeToProto(d.FirstTryAt), NextAttemptAt: timeToProto(d.NextTryAt),
			LastStatusCode: int32(d.LastStatus), LastError: d.LastError}
		if d.State == ledger.DeliveryFailed {
			pd.State, pd.NextAttemptAt = goodwillv1.DeliveryState_DELIVERY_STATE_FAILED, nil
		}
		out.Queue = append(out.Queue, pd)
	}
	for _, a := range tries {
		out.Attempts = append(out.Attempts, &goodwillv1.WebhookAttempt{NotificationId: a.NotificationID, Type: string(a.Type),
			CustomerId: a.CustomerID, AttemptedAt: timeToProto(a.At), StatusCode: int32(a.Status), Error: a.Error,
			Latency: durationpb.New(a.Latency), Delivered: a.Delivered})
	}
	return out, nil
}

func (s *Server) RotateWebhookSecret(ctx context.Context, req *goodwillv1.RotateWebhookSecretRequest) (*goodwillv1.RotateWebhookSecretResponse, error) {
	w, err := s.svc.RotateWebhookSecret(ctx, tenant(ctx), req.GetWebhookId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.log.InfoContext(ctx, "admin action: webhook secret rotated", "action", "webhook.rotate", "tenant", tenant(ctx),
		"webhook", w.ID, "by", caller(ctx))
	return &goodwillv1.RotateWebhookSecretResponse{Webhook: webhookToProto(w), Secret: w.Secret}, nil
}

// webhookToProto never carries a secret: secrets are shown once, by the
// calls that make them.
func webhookToProto(w ledger.Webhook) *goodwillv1.Webhook {
	out := &goodwillv1.Webhook{WebhookId: w.ID, Url: w.URL, Description: w.Description, CreatedAt: timeToProto(w.CreatedAt),
		Delivered: w.Delivered, Failed: w.Failed}
	for _, t := range w.Types {
		out.Types = append(out.Types, string(t))
	}
	if !w.PreviousUntil.IsZero() {
		out.PreviousSecretExpiresAt = timeToProto(w.PreviousUntil)
	}
	return out
}
