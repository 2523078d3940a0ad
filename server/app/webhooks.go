package app

import (
	"context"
	"net/http"
	"time"

	"github.com/goodwill-ledger/goodwill/server/api"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/notify"
)

// webhookOptions puts package notify's secrets, URL rules and signed HTTP
// posts behind the ledger's webhook options: the ledger decides what is
// delivered when, notify how.
func webhookOptions(c Config, m *metrics) ledger.WebhookOptions {
	client := notify.NewHTTPClient(c.WebhookAllowPrivate, notify.DefaultWebhookTimeout)
	return ledger.WebhookOptions{
		NewSecret: notify.NewSecret,
		CheckURL:  func(u string) error { return notify.ValidateURL(u, c.WebhookAllowPrivate) },
		Deliver:   deliverer(client, m),
		RetryFor:  c.WebhookRetryFor,
	}
}

func deliverer(client *http.Client, m *metrics) ledger.Deliverer {
	return func(ctx context.Context, w ledger.Webhook, n ledger.Notification) ledger.DeliveryResult {
		body, err := api.WebhookBody(n)
		if err != nil {
			return ledger.DeliveryResult{Err: err}
		}
		now := time.Now()
		secrets := []string{w.Secret}
		if w.PreviousSecret != "" && now.Before(w.PreviousUntil) {
			secrets = append(secrets, w.PreviousSecret)
		}
		start := time.Now()
		status, err := notify.Post(ctx, client, w.URL, secrets,
			notify.Message{ID: n.ID, Tenant: n.TenantID, Type: string(n.Type), Timestamp: n.OccurredAt, Body: body}, now)
		res := ledger.DeliveryResult{Status: status, Err: err, Latency: time.Since(start)}
		m.webhookAttempt(res)
		return res
	}
}

// natsPublisher publishes a notification to NATS as the same document a
// webhook receives.
func natsPublisher(n *notify.NATS) ledger.Publisher {
	return func(ctx context.Context, x ledger.Notification) error {
		body, err := api.WebhookBody(x)
		if err != nil {
			return err
		}
		return n.Publish(ctx, notify.Message{ID: x.ID, Tenant: x.TenantID, Type: string(x.Type), Timestamp: x.OccurredAt, Body: body})
	}
}
