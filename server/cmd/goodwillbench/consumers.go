package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/notify"
)

// consumers are a webhook receiver on loopback and a stream reader, both
// taking every notification, as a deployment with push on would have.
type consumers struct {
	hook    *http.Server
	webhook string
	stream  context.CancelFunc
	posted  atomic.Int64
	read    atomic.Int64
	start   time.Time

	mu       sync.Mutex
	distinct map[string]bool // webhook-id values seen: a redelivery repeats one
}

func startConsumers(ctx context.Context, c *client.Client, srv *server) (*consumers, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	k := &consumers{start: time.Now(), distinct: map[string]bool{}}
	k.hook = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		k.mu.Lock()
		k.distinct[r.Header.Get("webhook-id")] = true
		k.mu.Unlock()
		k.posted.Add(1)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = k.hook.Serve(l) }()
	wh, err := c.CreateWebhook(ctx, &goodwillv1.CreateWebhookRequest{Url: "http://" + l.Addr().String() + "/hook"})
	if err != nil {
		return nil, err
	}
	k.webhook = wh.GetWebhook().GetWebhookId()
	sctx, cancel := context.WithCancel(ctx)
	k.stream = cancel
	st, err := c.WatchNotifications(sctx, &goodwillv1.WatchNotificationsRequest{StartAtNow: true})
	if err != nil {
		cancel()
		return nil, err
	}
	go func() {
		for {
			r, err := st.Recv()
			if err != nil {
				return
			}
			if r.GetNotification() != nil {
				k.read.Add(1)
			}
		}
	}()
	return k, nil
}

// stop waits (a minute at most) until the webhook has caught up with the
// stream, then removes both, and says how far behind each ended.
func (k *consumers) stop(ctx context.Context, c *client.Client) string {
	ended := time.Now()
	for deadline := ended.Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if k.read.Load() > 0 && k.posted.Load() >= k.read.Load() {
			break
		}
	}
	caughtUp := time.Since(ended)
	k.stream()
	_, _ = c.DeleteWebhook(ctx, &goodwillv1.DeleteWebhookRequest{WebhookId: k.webhook})
	_ = k.hook.Close()
	k.mu.Lock()
	distinct := len(k.distinct)
	k.mu.Unlock()
	// The webhook counts from its creation, the stream from a moment later:
	// the two differ by what was numbered in between.
	return fmt.Sprintf("%d read from the stream, %d posted to the webhook (%d distinct); the webhook caught up %s after the load stopped",
		k.read.Load(), k.posted.Load(), distinct, caughtUp.Round(10*time.Millisecond))
}

// floorBody is an event.recorded notification as goodwilld posts it, at
// its usual size.
const floorBody = `{"notificationId":"ntf_01937d1e-5b2a-7c3d-9e4f-0a1b2c3d4e5f","type":"event.recorded",` +
	`"cursor":"1234567","tenantId":"default","customerId":"u4242","customerSequence":"17",` +
	`"occurredAt":"2026-12-01T12:00:00.123456Z","eventId":"evt_01937d1e-5b2a-7c3d-9e4f-0a1b2c3d4e60",` +
	`"policyVersion":"1","before":{"balance":3.25,"status":"BALANCE_STATUS_HEALTHY"},` +
	`"after":{"balance":4.25,"status":"BALANCE_STATUS_HEALTHY"},"event":{"eventId":"evt_01937d1e-5b2a-7c3d-9e4f-0a1b2c3d4e60",` +
	`"customerId":"u4242","kind":"EVENT_KIND_RELIABLE_DELIVERY","magnitude":1,"occurredAt":"2026-12-01T12:00:00.123456Z",` +
	`"recordedAt":"2026-12-01T12:00:00.123456Z","idempotencyKey":"gn-12-345"}}`

// webhookFloor measures what a webhook's deliveries cost with no ledger
// behind them: signed POSTs through the client goodwilld uses, 16 in
// flight as goodwilld has, to a receiver like the push scenarios'. Its
// CPU per POST (this process: client and receiver) is the floor under
// push's cost per notification.
func webhookFloor(ctx context.Context, d time.Duration) (result, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	hook := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hook.Serve(l) }()
	defer hook.Close()
	secret, err := notify.NewSecret()
	if err != nil {
		return result{}, err
	}
	client, url := notify.NewHTTPClient(true, notify.DefaultWebhookTimeout), "http://"+l.Addr().String()+"/hook"
	before := selfCPUSeconds()
	st := drive(ctx, 16, d, func(ctx context.Context, cl, n int) (int, error) {
		m := notify.Message{ID: fmt.Sprintf("ntf_floor-%d-%d", cl, n), Tenant: "default", Type: "event.recorded", Timestamp: time.Now(), Body: []byte(floorBody)}
		_, err := notify.Post(ctx, client, url, []string{secret}, m, time.Now())
		return 1, err
	})
	r := result{Scenario: "webhook POST floor", Rate: st.rate(), P50ms: st.pct(0.50), P99ms: st.pct(0.99), Note: st.note()}
	if st.events > 0 {
		r.LoadCPUus = (selfCPUSeconds() - before) / float64(st.events) * 1e6
	}
	return r, nil
}
