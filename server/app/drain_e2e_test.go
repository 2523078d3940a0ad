package app_test

import (
	"net/http"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
)

// Once the shutdown begins, health reports NOT_SERVING (gRPC and /healthz)
// while calls are still served, over both protocols, for the drain delay;
// the server stops only after it.
func TestDrainDelayServesWhileNotServing(t *testing.T) {
	t.Parallel()
	const delay = 2 * time.Second
	s := startServer(t, "", func(c *app.Config) { c.DrainDelay = delay })
	ctx := t.Context()
	record(t, s, pev("d1", goodwillv1.EventKind_EVENT_KIND_CREDIT, 1, time.Now()))

	began := time.Now()
	s.shutdown()
	for {
		if r := s.rest(t, http.MethodGet, "/healthz", nil); r.Status == http.StatusServiceUnavailable && get(r.Body, "status") == "NOT_SERVING" {
			break
		}
		if time.Since(began) > delay/2 {
			t.Fatalf("/healthz still not 503 %s into the drain", time.Since(began))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp, err := s.Health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gRPC health during the drain: %v %v, want NOT_SERVING", resp, err)
	}
	// Still serving: a write over gRPC, a read over REST.
	record(t, s, pev("d1", goodwillv1.EventKind_EVENT_KIND_RESPONSE, 1, time.Now()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.baseURL+"/v1/customers/d1/balance", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("REST read during the drain: HTTP %d", resp.StatusCode)
	}
	// Keep-alives are off: the client reconnects, through the balancer.
	if !resp.Close {
		t.Error("a response during the drain keeps its connection open; want Connection: close")
	}
	if checked := time.Since(began); checked >= delay {
		t.Fatalf("the checks took %s, longer than the drain delay: they proved nothing", checked)
	}

	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < delay || took > delay+10*time.Second {
		t.Errorf("stopped %s after the shutdown began; want the drain delay (%s), and not much more", took, delay)
	}
}
