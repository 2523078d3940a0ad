package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
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
}

func startConsumers(ctx context.Context, c *client.Client, srv *server) (*consumers, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	k := &consumers{start: time.Now()}
	k.hook = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
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
	return fmt.Sprintf("%d read from the stream, %d posted to the webhook; the webhook caught up %s after the load stopped",
		k.read.Load(), k.posted.Load(), caughtUp.Round(10*time.Millisecond))
}
