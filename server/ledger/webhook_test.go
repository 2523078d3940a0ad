package ledger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goodwill-ledger/goodwill/server/ledger"
)

// receiver is a real HTTP endpoint on loopback that records what it is
// sent; while failing is set it answers 503.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []delivered
	hits    atomic.Int64
	failing atomic.Bool
}

type delivered struct {
	ID, Type, Customer string
	CustomerSeq        int64
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		if r.failing.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		var d delivered
		if err := json.NewDecoder(req.Body).Decode(&d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, d)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// wait returns once the receiver holds n deliveries (or fails after 15s).
func (r *receiver) wait(t *testing.T, n int) []delivered {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got := r.deliveries()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver holds %d deliveries after 15s, want %d: %+v", len(got), n, got)
		}
	}
}

// post is the Deliverer of these tests: the notification's identity as
// JSON, over real HTTP (the signed Standard Webhooks body is goodwilld's,
// tested end to end in server/app).
func post(ctx context.Context, w ledger.Webhook, n ledger.Notification) ledger.DeliveryResult {
	body, _ := json.Marshal(delivered{ID: n.ID, Type: string(n.Type), Customer: n.CustomerID, CustomerSeq: n.CustomerSeq})
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return ledger.DeliveryResult{Err: err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ledger.DeliveryResult{Err: err, Latency: time.Since(start)}
	}
	defer resp.Body.Close()
	res := ledger.DeliveryResult{Status: resp.StatusCode, Latency: time.Since(start)}
	if resp.StatusCode/100 != 2 {
		res.Err = fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return res
}

func webhookService(t *testing.T, st ledger.Store, clk *clock, retryFor time.Duration) *ledger.Service {
	now := time.Now
	if clk != nil {
		now = clk.Now
	}
	return ledger.NewService(st, ledger.Options{Now: now, Notify: fastNotify, Logger: quietLog(),
		Webhooks: ledger.WebhookOptions{
			NewSecret: func() (string, error) { return "whsec_test", nil },
			Deliver:   post, Poll: 10 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond,
			RetryFor: retryFor,
		}})
}

// A webhook receives the tenant's notifications from its creation on, of
// the types it asked for, each customer's in order.
func TestWebhookReceivesNotifications(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := webhookService(t, st, nil, time.Hour)
		runService(t, svc)
		ctx := t.Context()
		record(t, svc, nev("before", ledger.KindOutage, 1, time.Now())) // before the webhook: not sent
		tail(t, svc, ledger.DefaultTenant, 0, 2)                        // numbered before the webhook exists
		all, sel := newReceiver(t), newReceiver(t)
		if _, err := svc.CreateWebhook(ctx, ledger.DefaultTenant, all.srv.URL, nil, "all"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateWebhook(ctx, ledger.DefaultTenant, sel.srv.URL,
			[]ledger.NotificationType{ledger.NotifyOverdrawn, ledger.NotifyRecovered}, "status"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			record(t, svc, nev(fmt.Sprintf("c%d", i%2), []ledger.Kind{ledger.KindOutage, ledger.KindSuggestionAdopted}[i%2], 1, time.Now()))
		}
		got := all.wait(t, 5+2) // 5 events, c0 overdrawn, c1's advocacy... at least these
		for _, d := range got {
			if d.Customer == "before" {
				t.Errorf("a notification from before the webhook was sent: %+v", d)
			}
		}
		checkCustomerOrder(t, got)
		status := sel.wait(t, 1)
		for _, d := range status {
			if d.Type != string(ledger.NotifyOverdrawn) && d.Type != string(ledger.NotifyRecovered) {
				t.Errorf("a webhook of status changes received %s", d.Type)
			}
		}
	})
}

func checkCustomerOrder(t *testing.T, got []delivered) {
	t.Helper()
	last := map[string]int64{}
	seen := map[string]bool{}
	for _, d := range got {
		if seen[d.ID] {
			continue // at least once: a repeat is allowed, never a reorder
		}
		seen[d.ID] = true
		if d.CustomerSeq <= last[d.Customer] {
			t.Errorf("%s's #%d arrived after #%d", d.Customer, d.CustomerSeq, last[d.Customer])
		}
		last[d.Customer] = d.CustomerSeq
	}
}

// A receiver that fails for a while, then recovers, gets everything, each
// customer's in order; the queue and the attempt log show what happened
// meanwhile.
func TestWebhookReceiverThatRecoversGetsEverything(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st ledger.Store) {
		svc := webhookService(t, st, nil, time.Hour)
		runService(t, svc)
		ctx := t.Context()
		r := newReceiver(t)
		w, err := svc.CreateWebhook(ctx, ledger.DefaultTenant, r.srv.URL, []ledger.NotificationType{ledger.NotifyEventRecorded}, "")
		if err != nil {
			t.Fatal(err)
		}
		r.failing.Store(true)
		for i := range 12 {
			record(t, svc, nev(fmt.Sprintf("c%d", i%3), ledger.KindReliableDelivery, 1, time.Now()))
		}
		for deadline := time.Now().Add(10 * time.Second); r.hits.Load() < 6; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("no retries while the receiver failed")
			}
		}
		queue, tries, err := svc.WebhookDeliveries(ctx, ledger.DefaultTenant, w.ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(queue) == 0 || len(tries) == 0 || tries[0].Delivered || tries[0].Status != http.StatusServiceUnavailable {
			t.Errorf("while failing: queue %d, attempts %+v", len(queue), tries)
		}
		r.failing.Store(false)
		got := r.wait(t, 12)
		checkCustomerOrder(t, got)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			queue, _, err := svc.WebhookDeliveries(ctx, ledger.DefaultTenant, w.ID, 50)
			if err != nil {
				t.Fatal(err)
			}
			g, err := svc.GetWebhook(ctx, ledger.DefaultTenant, w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(queue) == 0 && g.Delivered == 12 && g.Failed == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after recovery: queue %d, webhook %+v", len(queue), g)
			}
		}
	})
}

// Past the retry period a notification is marked failed, and the
// customer's later notifications are delivered after it.
func TestWebhookGivesUpAfterTheRetryPeriod(t *testing.T) {
	t.Parallel()
	svc := webhookService(t, openStore(t), nil, 100*time.Millisecond)
	runService(t, svc)
	ctx := t.Context()
	r := newReceiver(t)
	w, err := svc.CreateWebhook(ctx, ledger.DefaultTenant, r.srv.URL, []ledger.NotificationType{ledger.NotifyEventRecorded}, "")
	if err != nil {
		t.Fatal(err)
	}
	r.failing.Store(true)
	record(t, svc, nev("lost", ledger.KindCredit, 1, time.Now()))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		g, err := svc.GetWebhook(ctx, ledger.DefaultTenant, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g.Failed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not given up: %+v", g)
		}
	}
	queue, _, err := svc.WebhookDeliveries(ctx, ledger.DefaultTenant, w.ID, 10)
	if err != nil || len(queue) != 1 || queue[0].State != ledger.DeliveryFailed || queue[0].Attempts < 2 {
		t.Fatalf("the failed delivery: %+v, %v", queue, err)
	}
	r.failing.Store(false)
	record(t, svc, nev("lost", ledger.KindCredit, 1, time.Now()))
	// The customer's next notification is not held behind the failed one.
	if got := r.wait(t, 1); got[0].Customer != "lost" || got[0].CustomerSeq <= 1 {
		t.Errorf("after giving up: %+v", got)
	}
}

// Two replicas over one store deliver each notification once: the
// webhook is leased to one of them at a time.
func TestWebhookLeasedToOneReplica(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	a, b := webhookService(t, st, nil, time.Hour), webhookService(t, st, nil, time.Hour)
	runService(t, a)
	runService(t, b)
	r := newReceiver(t)
	if _, err := a.CreateWebhook(t.Context(), ledger.DefaultTenant, r.srv.URL, []ledger.NotificationType{ledger.NotifyEventRecorded}, ""); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		svc := a
		if i%2 == 1 {
			svc = b
		}
		record(t, svc, nev(fmt.Sprintf("c%d", i%4), ledger.KindReliableDelivery, 1, time.Now()))
	}
	got := r.wait(t, 30)
	time.Sleep(200 * time.Millisecond) // any double would have arrived
	if n := len(r.deliveries()); n != 30 {
		t.Errorf("%d deliveries of 30 notifications", n)
	}
	checkCustomerOrder(t, got)
}

// Deleting a webhook stops its deliveries; creating one checks its URL
// and types, naming the field.
func TestWebhookLifecycle(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	svc := ledger.NewService(st, ledger.Options{Logger: quietLog(), Notify: fastNotify, Webhooks: ledger.WebhookOptions{
		NewSecret: func() (string, error) { return "whsec_one", nil },
		CheckURL: func(u string) error {
			if u == "http://10.0.0.1/" {
				return fmt.Errorf("10.0.0.1 is a private address (start goodwilld with --webhook-allow-private to allow it)")
			}
			return nil
		},
		Deliver: post, Poll: 10 * time.Millisecond}})
	runService(t, svc)
	ctx := t.Context()
	for _, tc := range []struct {
		url   string
		types []ledger.NotificationType
		field string
	}{
		{"", nil, "url"},
		{"http://10.0.0.1/", nil, "url"},
		{"https://ok.example/", []ledger.NotificationType{"customer.happy"}, "types[0]"},
		{"https://ok.example/", []ledger.NotificationType{ledger.NotifyAdvocate, ledger.NotifyAdvocate}, "types[1]"},
	} {
		if _, err := svc.CreateWebhook(ctx, ledger.DefaultTenant, tc.url, tc.types, ""); ledger.FieldOf(err) != tc.field {
			t.Errorf("%q %v: %v, want %s refused", tc.url, tc.types, err, tc.field)
		}
	}
	r := newReceiver(t)
	w, err := svc.CreateWebhook(ctx, ledger.DefaultTenant, r.srv.URL, nil, "")
	if err != nil || w.Secret != "whsec_one" {
		t.Fatalf("create: %+v, %v", w, err)
	}
	rot, err := svc.RotateWebhookSecret(ctx, ledger.DefaultTenant, w.ID)
	if err != nil || rot.PreviousSecret != "whsec_one" || rot.PreviousUntil.IsZero() {
		t.Errorf("rotate: %+v, %v", rot, err)
	}
	if err := svc.DeleteWebhook(ctx, ledger.DefaultTenant, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteWebhook(ctx, ledger.DefaultTenant, w.ID); !ledgerNotFound(err) {
		t.Errorf("delete twice: %v", err)
	}
	record(t, svc, nev("after", ledger.KindCredit, 1, time.Now()))
	tail(t, svc, ledger.DefaultTenant, 0, 1)
	time.Sleep(100 * time.Millisecond)
	if n := r.hits.Load(); n != 0 {
		t.Errorf("a deleted webhook got %d deliveries", n)
	}
	if _, err := svc.GetWebhook(ctx, "other-tenant", w.ID); !ledgerNotFound(err) {
		t.Errorf("another tenant reads the webhook: %v", err)
	}
}

func ledgerNotFound(err error) bool { return errors.Is(err, ledger.ErrNotFound) }
