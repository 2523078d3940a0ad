package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/auth"
)

// The stream over gRPC: from the start, then resumed from the last cursor
// seen after a disconnect, it delivers every notification once, in order.
func TestWatchNotificationsResumes(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	record(t, s, pev("w1", goodwillv1.EventKind_EVENT_KIND_OUTAGE, 1, time.Now())) // event.recorded, customer.overdrawn
	first := watch(t, s, "", 2)
	if first[0].GetNotification().GetType() != "event.recorded" || first[1].GetNotification().GetType() != "customer.overdrawn" {
		t.Fatalf("first: %v", first)
	}
	od := first[1].GetNotification()
	if od.GetCustomerId() != "w1" || od.GetBefore().GetStatus() != goodwillv1.BalanceStatus_BALANCE_STATUS_HEALTHY ||
		!relEq(od.GetAfter().GetBalance(), -12, 1e-6) || od.GetAfter().GetStatus() != goodwillv1.BalanceStatus_BALANCE_STATUS_OVERDRAWN ||
		od.GetEventId() != first[0].GetNotification().GetEvent().GetEventId() || od.GetCursor() != first[1].GetCursor() ||
		!strings.HasPrefix(od.GetNotificationId(), "ntf_") || od.GetTenantId() != "default" {
		t.Errorf("customer.overdrawn: %v", od)
	}
	// Meanwhile, while nobody listens:
	record(t, s, pev("w1", goodwillv1.EventKind_EVENT_KIND_SUGGESTION_ADOPTED, 2, time.Now())) // event.recorded, recovered
	rest := watch(t, s, first[1].GetCursor(), 2)
	if rest[0].GetNotification().GetType() != "event.recorded" || rest[1].GetNotification().GetType() != "customer.recovered" {
		t.Errorf("resumed: %v", rest)
	}
	// A filter, and start_at_now.
	only := watchReq(t, s, &goodwillv1.WatchNotificationsRequest{Types: []string{"customer.recovered"}}, 1)
	if only[0].GetNotification().GetType() != "customer.recovered" {
		t.Errorf("filtered: %v", only)
	}
	now := make(chan []*goodwillv1.WatchNotificationsResponse, 1)
	go func() { now <- watchReq(t, s, &goodwillv1.WatchNotificationsRequest{StartAtNow: true}, 1) }()
	time.Sleep(200 * time.Millisecond)
	record(t, s, pev("w2", goodwillv1.EventKind_EVENT_KIND_CREDIT, 1, time.Now()))
	if got := <-now; got[0].GetNotification().GetCustomerId() != "w2" {
		t.Errorf("start_at_now: %v", got)
	}
	// Bad requests name the field.
	_, err := s.ListNotifications(ctx, &goodwillv1.ListNotificationsRequest{Types: []string{"customer.happy"}})
	wantInvalid(t, err, "types[0]")
	_, err = s.ListNotifications(ctx, &goodwillv1.ListNotificationsRequest{After: "x1"})
	wantInvalid(t, err, "after")
}

func watch(t *testing.T, s *testServer, after string, n int) []*goodwillv1.WatchNotificationsResponse {
	t.Helper()
	return watchReq(t, s, &goodwillv1.WatchNotificationsRequest{After: after}, n)
}

// watchReq reads n notifications from a fresh stream, then hangs up.
func watchReq(t *testing.T, s *testServer, req *goodwillv1.WatchNotificationsRequest, n int) []*goodwillv1.WatchNotificationsResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := s.WatchNotifications(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var out []*goodwillv1.WatchNotificationsResponse
	for len(out) < n {
		r, err := st.Recv()
		if err != nil {
			t.Fatalf("after %d of %d: %v", len(out), n, err)
		}
		if r.GetNotification() != nil {
			out = append(out, r)
		}
	}
	return out
}

// The stream over REST is newline-delimited JSON; a page over REST holds
// what the stream sends; another tenant sees none of it.
func TestNotificationsOverREST(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	record(t, s, pev("r1", goodwillv1.EventKind_EVENT_KIND_COMPLAINT, 1, time.Now()))
	// Notifications are listed once numbered, a moment after their commit.
	var page restResponse
	var ns []any
	for deadline := time.Now().Add(5 * time.Second); len(ns) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		page = s.rest(t, http.MethodGet, "/v1/notifications?types=customer.overdrawn&pageSize=10", nil)
		wantREST(t, page, http.StatusOK)
		ns, _ = get(page.Body, "notifications").([]any)
	}
	if len(ns) != 1 || str(t, ns[0].(map[string]any), "type") != "customer.overdrawn" ||
		str(t, page.Body, "nextCursor") != str(t, ns[0].(map[string]any), "cursor") {
		t.Fatalf("page: %s", page.Raw)
	}
	wantRESTError(t, s.rest(t, http.MethodGet, "/v1/notifications?types=nope", nil), http.StatusBadRequest, codes.InvalidArgument, "types")

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.baseURL+"/v1/notifications:watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch over REST: %s", resp.Status)
	}
	lines := bufio.NewScanner(resp.Body)
	var types []string
	for len(types) < 2 && lines.Scan() {
		var line struct {
			Result struct {
				Notification struct {
					Type       string `json:"type"`
					CustomerID string `json:"customerId"`
				} `json:"notification"`
				Cursor string `json:"cursor"`
			} `json:"result"`
		}
		if err := json.Unmarshal(lines.Bytes(), &line); err != nil {
			t.Fatalf("a line that is not JSON: %q: %v", lines.Text(), err)
		}
		if line.Result.Notification.Type != "" {
			types = append(types, line.Result.Notification.Type)
		}
	}
	if strings.Join(types, ",") != "event.recorded,customer.overdrawn" {
		t.Errorf("REST stream: %v (%v)", types, lines.Err())
	}

	// Tenant B's key sees none of tenant A's notifications.
	b := s.dialAs(t, s.newKey(t, "tenant-b", auth.Reader))
	list, err := b.ListNotifications(t.Context(), &goodwillv1.ListNotificationsRequest{})
	if err != nil || len(list.GetNotifications()) != 0 {
		t.Errorf("tenant B lists %v, %v", list.GetNotifications(), err)
	}
}
