package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
)

// natsURL is the test broker, or the test is skipped (failed when
// GOODWILL_TEST_REQUIRE_NATS=1, as in CI).
func natsURL(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("GOODWILL_TEST_NATS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:4222"
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("GOODWILL_TEST_REQUIRE_NATS") == "1" {
			t.Fatalf("NATS required but nothing listens on %s: %v", addr, err)
		}
		t.Skipf("SKIPPED: no NATS at %s (%v)", addr, err)
	}
	c.Close()
	return "nats://" + addr
}

// goodwilld with --nats-url publishes every notification to JetStream, on
// the tenant's subject, with the notification id as Nats-Msg-Id and the
// webhook document as body.
func TestNotificationsPublishedToNATS(t *testing.T) {
	t.Parallel()
	url := natsURL(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	suffix := hex.EncodeToString(b)
	stream, prefix := "GOODWILL_E2E_"+suffix, "goodwille2e_"+suffix
	metrics := freeLoopbackAddr(t)
	s := startServer(t, "", func(c *app.Config) {
		c.NATSURL, c.NATSStream, c.NATSSubjectPrefix, c.MetricsAddr = url, stream, prefix, metrics
	})
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })

	record(t, s, pev("n1", goodwillv1.EventKind_EVENT_KIND_OUTAGE, 1, time.Now())) // event.recorded, customer.overdrawn
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{prefix + ".default.>"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []jetstream.Msg
	for len(got) < 2 {
		m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("after %d messages: %v", len(got), err)
		}
		got = append(got, m)
	}
	for i, want := range []string{"event.recorded", "customer.overdrawn"} {
		m := got[i]
		var body struct {
			Type string `json:"type"`
			Data struct {
				NotificationID string `json:"notificationId"`
				CustomerID     string `json:"customerId"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data(), &body); err != nil {
			t.Fatal(err)
		}
		if m.Subject() != prefix+".default."+want || body.Type != want || body.Data.CustomerID != "n1" ||
			m.Headers().Get("Nats-Msg-Id") != body.Data.NotificationID {
			t.Errorf("message %d: %s %v %s", i, m.Subject(), m.Headers(), m.Data())
		}
	}
	// The publisher's progress reaches /metrics, caught up with the numbers
	// given.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		numbered, published := gauge(string(raw), "goodwill_notifications_numbered"), gauge(string(raw), "goodwill_notifications_published")
		if numbered >= 2 && published == numbered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics: numbered %v, published %v; want published to catch up with numbered (>= 2)", numbered, published)
		}
	}
}
