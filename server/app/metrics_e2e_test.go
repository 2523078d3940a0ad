package app_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/auth"
)

// /metrics on --metrics-addr counts every RPC by method and code (refused
// ones included) and group-commit batches, and names no tenant or
// customer.
func TestMetrics(t *testing.T) {
	t.Parallel()
	addr := freeLoopbackAddr(t)
	s := startServer(t, "", func(c *app.Config) { c.MetricsAddr = addr })
	ctx := t.Context()
	c := s.dialAs(t, s.newKey(t, "tenant-secret-name", auth.Admin))
	if _, err := c.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: "customer-secret-name",
		Event: &goodwillv1.Event{Kind: credit}}); err != nil {
		t.Fatal(err)
	}
	_, _ = s.dialAs(t, "").GetBalance(ctx, &goodwillv1.GetBalanceRequest{CustomerId: "x"})

	var body string
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(raw)
		if (strings.Contains(body, `grpc_code="Unauthenticated",grpc_method="GetBalance"`) &&
			gauge(body, "goodwill_notifications_numbered") > 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="RecordEvent",grpc_service="goodwill.v1.GoodwillService",grpc_type="unary"} 1`,
		`grpc_code="Unauthenticated",grpc_method="GetBalance"`,
		`goodwill_group_commit_batch_events_count 1`,
		`goodwill_group_commit_seconds_count 1`,
		`grpc_server_handling_seconds_bucket`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The credit's notifications were numbered; nothing publishes to a
	// broker here.
	if n := gauge(body, "goodwill_notifications_numbered"); n < 1 {
		t.Errorf("goodwill_notifications_numbered = %v, want at least 1", n)
	}
	if strings.Contains(body, "goodwill_notifications_published") {
		t.Error("/metrics shows goodwill_notifications_published without --nats-url")
	}
	for _, secret := range []string{"tenant-secret-name", "customer-secret-name", s.token} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics shows %q", secret)
		}
	}
	if resp, err := http.Get(s.baseURL + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("the API port serves /metrics too")
		}
	}
}

// gauge reads an unlabelled sample from a /metrics page (-1 when absent).
func gauge(body, name string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}
