package app_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/auth"
)

// hook is a webhook receiver on loopback that keeps every request whole.
type hook struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hookRequest{r.Header.Clone(), body})
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) wait(t *testing.T, n int) []hookRequest {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		h.mu.Lock()
		got := append([]hookRequest(nil), h.got...)
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hook received %d requests, want %d", len(got), n)
		}
	}
}

func allowPrivate(c *app.Config) { c.WebhookAllowPrivate = true }

// A webhook made over REST receives signed Standard Webhooks deliveries:
// the signature verifies with the client's helper and with openssl, which
// shares no code with the server; after a rotation both secrets sign.
func TestWebhookDeliveriesAreSigned(t *testing.T) {
	t.Parallel()
	s := startServer(t, "", allowPrivate)
	h := newHook(t)
	created := s.rest(t, http.MethodPost, "/v1/webhooks", map[string]any{"url": h.srv.URL + "/goodwill",
		"types": []string{"customer.overdrawn"}, "description": "CRM tasks"})
	wantREST(t, created, http.StatusOK)
	secret := str(t, created.Body, "secret")
	id := str(t, created.Body, "webhook", "webhookId")
	if !strings.HasPrefix(secret, "whsec_") || !strings.HasPrefix(id, "wh_") {
		t.Fatalf("created: %s", created.Raw)
	}
	// The secret is shown once: never again.
	got := s.rest(t, http.MethodGet, "/v1/webhooks/"+id, nil)
	wantREST(t, got, http.StatusOK)
	if strings.Contains(string(got.Raw), secret) || strings.Contains(string(s.rest(t, http.MethodGet, "/v1/webhooks", nil).Raw), secret) {
		t.Error("a read shows the secret again")
	}

	record(t, s, pev("h1", goodwillv1.EventKind_EVENT_KIND_OUTAGE, 1, time.Now()))
	req := h.wait(t, 1)[0]
	if err := client.VerifyWebhook(secret, req.header, req.body, 0, time.Time{}); err != nil {
		t.Errorf("client.VerifyWebhook: %v", err)
	}
	verifyWithOpenSSL(t, secret, req)
	var body struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      struct {
			NotificationID string `json:"notificationId"`
			CustomerID     string `json:"customerId"`
			After          struct {
				Status string `json:"status"`
			} `json:"after"`
		} `json:"data"`
	}
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Type != "customer.overdrawn" || body.Data.CustomerID != "h1" || body.Data.After.Status != "BALANCE_STATUS_OVERDRAWN" ||
		body.Data.NotificationID != req.header.Get("webhook-id") || body.Timestamp == "" {
		t.Errorf("body: %s", req.body)
	}

	rot := s.rest(t, http.MethodPost, "/v1/webhooks/"+id+":rotateSecret", map[string]any{})
	wantREST(t, rot, http.StatusOK)
	newSecret := str(t, rot.Body, "secret")
	record(t, s, pev("h2", goodwillv1.EventKind_EVENT_KIND_OUTAGE, 1, time.Now()))
	second := h.wait(t, 2)[1]
	for _, sec := range []string{secret, newSecret} {
		if err := client.VerifyWebhook(sec, second.header, second.body, 0, time.Time{}); err != nil {
			t.Errorf("after rotation, the %s secret does not verify: %v", map[bool]string{true: "old", false: "new"}[sec == secret], err)
		}
	}

	// The round records its attempts after the receiver has answered: wait
	// for the record.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		deliveries := s.rest(t, http.MethodGet, "/v1/webhooks/"+id+"/deliveries", nil)
		wantREST(t, deliveries, http.StatusOK)
		a, _ := get(deliveries.Body, "attempts").([]any)
		if len(a) >= 2 && get(a[0].(map[string]any), "statusCode") == 200.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("deliveries: %s", deliveries.Raw)
			break
		}
	}
	wantREST(t, s.rest(t, http.MethodDelete, "/v1/webhooks/"+id, nil), http.StatusOK)
	wantRESTError(t, s.rest(t, http.MethodGet, "/v1/webhooks/"+id, nil), http.StatusNotFound, codes.NotFound)
}

// verifyWithOpenSSL recomputes the signature with the openssl command
// line from the raw request: the Standard Webhooks content "id.ts.body",
// HMAC-SHA256 under the secret's base64-decoded key.
func verifyWithOpenSSL(t *testing.T, secret string, req hookRequest) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("GOODWILL_TEST_REQUIRE_TOOLS") == "1" {
			t.Fatal("openssl is needed to verify signatures independently")
		}
		t.Log("SKIPPED: no openssl to verify the signature independently")
		return
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	content := req.header.Get("webhook-id") + "." + req.header.Get("webhook-timestamp") + "." + string(req.body)
	cmd := exec.Command("openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:"+hex.EncodeToString(key), "-binary")
	cmd.Stdin = strings.NewReader(content)
	mac, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	want := "v1," + base64.StdEncoding.EncodeToString(mac)
	for _, sig := range strings.Fields(req.header.Get("webhook-signature")) {
		if sig == want {
			return
		}
	}
	t.Errorf("openssl computes %s; the request carries %q", want, req.header.Get("webhook-signature"))
}

// Without --webhook-allow-private a loopback or private URL is refused,
// naming the field and the flag; http is refused too.
func TestWebhookPrivateURLRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	for _, u := range []string{"https://127.0.0.1:9/x", "https://10.1.2.3/x", "http://192.0.2.1/x", "https://169.254.169.254/latest"} {
		r := s.rest(t, http.MethodPost, "/v1/webhooks", map[string]any{"url": u})
		wantRESTError(t, r, http.StatusBadRequest, codes.InvalidArgument, "url")
	}
	r := s.rest(t, http.MethodPost, "/v1/webhooks", map[string]any{"url": "https://10.1.2.3/x"})
	if !strings.Contains(string(r.Raw), "--webhook-allow-private") {
		t.Errorf("the refusal does not name the flag: %s", r.Raw)
	}
}

// Two tenants' webhooks see only their own tenant's notifications.
func TestWebhooksAreTenantBound(t *testing.T) {
	t.Parallel()
	s := startServer(t, "", allowPrivate)
	b := s.dialAs(t, s.newKey(t, "tenant-b", auth.Admin))
	ha, hb := newHook(t), newHook(t)
	if _, err := s.CreateWebhook(t.Context(), &goodwillv1.CreateWebhookRequest{Url: ha.srv.URL, Types: []string{"event.recorded"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateWebhook(t.Context(), &goodwillv1.CreateWebhookRequest{Url: hb.srv.URL, Types: []string{"event.recorded"}}); err != nil {
		t.Fatal(err)
	}
	record(t, s, pev("shared-id", goodwillv1.EventKind_EVENT_KIND_CREDIT, 1, time.Now()))
	if _, err := b.RecordEvent(t.Context(), &goodwillv1.RecordEventRequest{CustomerId: "shared-id",
		Event: &goodwillv1.Event{Kind: goodwillv1.EventKind_EVENT_KIND_COMPLAINT}}); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]*hook{"default": ha, "tenant-b": hb} {
		req := h.wait(t, 1)[0]
		time.Sleep(100 * time.Millisecond)
		if n := len(h.wait(t, 1)); n != 1 || !strings.Contains(string(req.body), fmt.Sprintf(`"tenantId":%q`, name)) {
			t.Errorf("%s's hook received %d requests: %s", name, n, req.body)
		}
	}
}
