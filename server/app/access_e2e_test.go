package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/api"
	"github.com/goodwill-ledger/goodwill/server/app"
	"github.com/goodwill-ledger/goodwill/server/auth"
	"github.com/goodwill-ledger/goodwill/server/store"
)

// ids are the names the calls below use; each tenant seeds its own.
type ids struct {
	customer, event, job, incident, webhook string
}

// byWebhookID are the calls that name a webhook.
var byWebhookID = []string{
	goodwillv1.GoodwillService_GetWebhook_FullMethodName, goodwillv1.GoodwillService_ListWebhookDeliveries_FullMethodName,
	goodwillv1.GoodwillService_RotateWebhookSecret_FullMethodName, goodwillv1.GoodwillService_DeleteWebhook_FullMethodName,
}

// webhookOr is the webhook the calls name: a made-up one when none was
// created (a role check answers before the webhook is looked up).
func (x ids) webhookOr() string {
	if x.webhook == "" {
		return "wh_none"
	}
	return x.webhook
}

// rpcCall makes one valid call of a method.
type rpcCall func(ctx context.Context, c *client.Client, x ids) error

// everyRPC has one call per method of the service; TestEveryRPCIsCovered
// keeps it complete, so the role and tenant tests below cover every RPC.
var everyRPC = map[string]rpcCall{
	goodwillv1.GoodwillService_UpsertCustomer_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.UpsertCustomer(ctx, &goodwillv1.UpsertCustomerRequest{CustomerId: x.customer,
			Customer: &goodwillv1.Customer{DisplayName: "Ada", Segment: "gold"}})
		return err
	},
	goodwillv1.GoodwillService_GetCustomer_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.GetCustomer(ctx, &goodwillv1.GetCustomerRequest{CustomerId: x.customer})
		return err
	},
	goodwillv1.GoodwillService_PlanRecovery_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.PlanRecovery(ctx, &goodwillv1.PlanRecoveryRequest{CustomerId: x.customer})
		return err
	},
	goodwillv1.GoodwillService_SimulatePolicy_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		_, err := c.SimulatePolicy(ctx, &goodwillv1.SimulatePolicyRequest{Policy: proto.Clone(defaultPolicy).(*goodwillv1.Policy)})
		if status.Code(err) == codes.FailedPrecondition {
			return nil // the tenant's previous simulation still runs
		}
		return err
	},
	// No simulation is named: allowed, it is NOT_FOUND.
	goodwillv1.GoodwillService_GetSimulation_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		_, err := c.GetSimulation(ctx, &goodwillv1.GetSimulationRequest{SimulationId: "no-such-simulation"})
		return err
	},
	goodwillv1.GoodwillService_GetBalanceTrend_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		_, err := c.GetBalanceTrend(ctx, &goodwillv1.GetBalanceTrendRequest{})
		return err
	},
	goodwillv1.GoodwillService_SnapshotTrend_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
		_, err := c.SnapshotTrend(ctx, &goodwillv1.SnapshotTrendRequest{Start: yesterday, End: yesterday})
		return err
	},
	goodwillv1.GoodwillService_ListCustomers_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		_, err := c.ListCustomers(ctx, &goodwillv1.ListCustomersRequest{})
		return err
	},
	goodwillv1.GoodwillService_RecordEvent_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: x.customer,
			Event: &goodwillv1.Event{Kind: credit, IdempotencyKey: "shared-key"}})
		return err
	},
	goodwillv1.GoodwillService_RecordEvents_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.RecordEvents(ctx, &goodwillv1.RecordEventsRequest{Events: []*goodwillv1.Event{
			{CustomerId: x.customer, Kind: delivery, IdempotencyKey: "shared-batch-key"}}})
		return err
	},
	goodwillv1.GoodwillService_ListEvents_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: x.customer})
		return err
	},
	// The stream's first Recv carries a refusal; an accepted export is read
	// to its end.
	goodwillv1.GoodwillService_ExportEvents_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		st, err := c.ExportEvents(ctx, &goodwillv1.ExportEventsRequest{})
		if err != nil {
			return err
		}
		for {
			if _, err := st.Recv(); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
		}
	},
	goodwillv1.GoodwillService_ReverseEvent_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.ReverseEvent(ctx, &goodwillv1.ReverseEventRequest{CustomerId: x.customer, EventId: x.event})
		return err
	},
	goodwillv1.GoodwillService_RecordIncident_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.RecordIncident(ctx, &goodwillv1.RecordIncidentRequest{IncidentId: x.incident,
			CustomerIds: []string{x.customer}, DurationHours: 1})
		return err
	},
	goodwillv1.GoodwillService_GetBalance_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.GetBalance(ctx, &goodwillv1.GetBalanceRequest{CustomerId: x.customer})
		return err
	},
	goodwillv1.GoodwillService_ExplainBalance_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.ExplainBalance(ctx, &goodwillv1.ExplainBalanceRequest{CustomerId: x.customer})
		return err
	},
	goodwillv1.GoodwillService_GetBalanceHistory_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		now := time.Now()
		_, err := c.GetBalanceHistory(ctx, &goodwillv1.GetBalanceHistoryRequest{CustomerId: x.customer,
			Start: timestamppb.New(now.Add(-48 * time.Hour)), End: timestamppb.New(now), Step: durationpb.New(time.Hour)})
		return err
	},
	goodwillv1.GoodwillService_ListBalances_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		_, err := c.ListBalances(ctx, &goodwillv1.ListBalancesRequest{})
		return err
	},
	goodwillv1.GoodwillService_SummarizeBalances_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		_, err := c.SummarizeBalances(ctx, &goodwillv1.SummarizeBalancesRequest{})
		return err
	},
	goodwillv1.GoodwillService_ListOutreach_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		_, err := c.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_RECOVERY})
		return err
	},
	goodwillv1.GoodwillService_GetCaller_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		_, err := c.GetCaller(ctx, &goodwillv1.GetCallerRequest{})
		return err
	},
	goodwillv1.GoodwillService_GetPolicy_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		_, err := c.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
		return err
	},
	goodwillv1.GoodwillService_SetPolicy_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		// Any well-formed policy will do: the default one, written back.
		p := proto.Clone(defaultPolicy).(*goodwillv1.Policy)
		_, err := c.SetPolicy(ctx, &goodwillv1.SetPolicyRequest{Policy: p})
		return err
	},
	goodwillv1.GoodwillService_GetRecomputeJob_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.GetRecomputeJob(ctx, &goodwillv1.GetRecomputeJobRequest{JobId: x.job})
		return err
	},
	goodwillv1.GoodwillService_ResumeRecomputeJob_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.ResumeRecomputeJob(ctx, &goodwillv1.ResumeRecomputeJobRequest{JobId: x.job})
		return err
	},
	// A documentation address (TEST-NET-1): a public address nothing
	// answers at, so no delivery ever reaches anyone.
	goodwillv1.GoodwillService_CreateWebhook_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		_, err := c.CreateWebhook(ctx, &goodwillv1.CreateWebhookRequest{Url: "https://192.0.2.1/hooks", Types: []string{"policy.activated"}})
		return err
	},
	goodwillv1.GoodwillService_ListWebhooks_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		_, err := c.ListWebhooks(ctx, &goodwillv1.ListWebhooksRequest{})
		return err
	},
	goodwillv1.GoodwillService_GetWebhook_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.GetWebhook(ctx, &goodwillv1.GetWebhookRequest{WebhookId: x.webhookOr()})
		return err
	},
	goodwillv1.GoodwillService_ListWebhookDeliveries_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.ListWebhookDeliveries(ctx, &goodwillv1.ListWebhookDeliveriesRequest{WebhookId: x.webhookOr()})
		return err
	},
	goodwillv1.GoodwillService_RotateWebhookSecret_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.RotateWebhookSecret(ctx, &goodwillv1.RotateWebhookSecretRequest{WebhookId: x.webhookOr()})
		return err
	},
	goodwillv1.GoodwillService_DeleteWebhook_FullMethodName: func(ctx context.Context, c *client.Client, x ids) error {
		_, err := c.DeleteWebhook(ctx, &goodwillv1.DeleteWebhookRequest{WebhookId: x.webhookOr()})
		return err
	},
	goodwillv1.GoodwillService_ListNotifications_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		_, err := c.ListNotifications(ctx, &goodwillv1.ListNotificationsRequest{})
		return err
	},
	// A stream's first answer carries its status: a refused stream fails
	// there; an accepted one sends what the tenant has (here at least a
	// heartbeat-free first notification is not awaited: the call is ended).
	goodwillv1.GoodwillService_WatchNotifications_FullMethodName: func(ctx context.Context, c *client.Client, _ ids) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		st, err := c.WatchNotifications(ctx, &goodwillv1.WatchNotificationsRequest{})
		if err != nil {
			return err
		}
		if err := st.CloseSend(); err != nil {
			return err
		}
		// The server checks the key before it sends anything: a header
		// arrives either way, and with it a refusal's status.
		if _, err := st.Header(); err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() {
			_, err := st.Recv()
			done <- err
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(300 * time.Millisecond):
			return nil // accepted, and waiting for notifications
		}
	},
}

// defaultPolicy is the built-in policy as the API shows it, read once.
var defaultPolicy *goodwillv1.Policy

func loadDefaultPolicy(t *testing.T, s *testServer) {
	t.Helper()
	if defaultPolicy != nil {
		return
	}
	g, err := s.GetPolicy(t.Context(), &goodwillv1.GetPolicyRequest{Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	defaultPolicy = g.GetPolicy()
}

func TestEveryRPCIsCovered(t *testing.T) {
	sd := goodwillv1.GoodwillService_ServiceDesc
	for _, m := range sd.Methods {
		if full := "/" + sd.ServiceName + "/" + m.MethodName; everyRPC[full] == nil {
			t.Errorf("%s has no call in everyRPC: the access tests do not cover it", full)
		}
	}
	if len(everyRPC) != len(sd.Methods)+len(sd.Streams) {
		t.Errorf("everyRPC has %d calls for %d methods", len(everyRPC), len(sd.Methods)+len(sd.Streams))
	}
}

// Every RPC: no key and a bad key are UNAUTHENTICATED; each role reaches
// exactly the methods the table gives it and gets PERMISSION_DENIED for
// the rest.
func TestEveryRPCChecksKeyAndRole(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	loadDefaultPolicy(t, s)
	ctx := t.Context()
	x := ids{customer: "c1", event: "no-such-event", job: "no-such-job", incident: "inc-1"}
	rec := record(t, s, pev("c1", credit, 1, time.Now().Add(-time.Hour)))
	x.event = rec.GetEvent().GetEventId()

	_, forged, _ := auth.CreateKey(ctx, openKeyStore(t), quietLog(), "default", auth.Admin, "", "test")
	callers := map[string]*client.Client{
		"no key":     s.dialAs(t, ""),
		"forged key": s.dialAs(t, forged), // a real token, from another store
		"garbage":    s.dialAs(t, "gwk_not-a-key"),
	}
	keys := map[auth.Role]*client.Client{}
	for _, r := range []auth.Role{auth.Reader, auth.Writer, auth.Admin} {
		keys[r] = s.dialAs(t, s.newKey(t, "default", r))
	}
	for method, call := range everyRPC {
		for name, c := range callers {
			if code := status.Code(call(ctx, c, x)); code != codes.Unauthenticated {
				t.Errorf("%s with %s: %v, want Unauthenticated", method, name, code)
			}
		}
		need := api.RequiredRole(method)
		for role, c := range keys {
			code := status.Code(call(ctx, c, x))
			switch {
			case role.Allows(need) && (code == codes.PermissionDenied || code == codes.Unauthenticated):
				t.Errorf("%s as %s: %v, want it allowed (needs %s)", method, role, code, need)
			case !role.Allows(need) && code != codes.PermissionDenied:
				t.Errorf("%s as %s: %v, want PermissionDenied (needs %s)", method, role, code, need)
			}
		}
	}
}

// Tenants: a key of tenant B cannot read, write, list, summarize or rank
// tenant A's data through any RPC, even with the same customer ids,
// idempotency keys, incident ids and event ids.
func TestTenantIsolationForEveryRPC(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	loadDefaultPolicy(t, s)
	ctx := t.Context()
	a := s.Client // admin of tenant "default"
	b := s.dialAs(t, s.newKey(t, "tenant-b", auth.Admin))

	// Tenant A's data: c1 overdrawn (on the recovery list), c2 a promoter,
	// an incident, a policy change and its job.
	x := ids{customer: "c1", incident: "inc-1"}
	for _, name := range []string{
		goodwillv1.GoodwillService_UpsertCustomer_FullMethodName, goodwillv1.GoodwillService_RecordEvent_FullMethodName,
		goodwillv1.GoodwillService_RecordEvents_FullMethodName, goodwillv1.GoodwillService_RecordIncident_FullMethodName,
	} {
		if err := everyRPC[name](ctx, a, x); err != nil {
			t.Fatalf("seeding A with %s: %v", name, err)
		}
	}
	for i := range 6 {
		rec := record(t, s, pev("c2", goodwillv1.EventKind_EVENT_KIND_SUGGESTION_ADOPTED, 1, time.Now().Add(-time.Duration(i)*time.Hour)))
		x.event = rec.GetEvent().GetEventId()
	}
	set, err := a.SetPolicy(ctx, &goodwillv1.SetPolicyRequest{Policy: proto.Clone(defaultPolicy).(*goodwillv1.Policy)})
	if err != nil {
		t.Fatal(err)
	}
	x.job = set.GetJob().GetJobId()
	waitJob(t, s, x.job)
	wh, err := a.CreateWebhook(ctx, &goodwillv1.CreateWebhookRequest{Url: "https://192.0.2.1/a", Types: []string{"policy.activated"}})
	if err != nil {
		t.Fatal(err)
	}
	x.webhook = wh.GetWebhook().GetWebhookId()
	before := tenantView(t, a)
	if len(before.balances) != 2 || before.outreach == 0 || before.policy != 2 {
		t.Fatalf("tenant A seeded wrongly: %+v", before)
	}

	// B reads A's ids: nothing is there.
	xb := ids{customer: "c2", event: x.event, job: x.job, incident: "inc-1", webhook: x.webhook}
	for _, name := range append([]string{
		goodwillv1.GoodwillService_GetCustomer_FullMethodName, goodwillv1.GoodwillService_GetBalance_FullMethodName,
		goodwillv1.GoodwillService_ExplainBalance_FullMethodName, goodwillv1.GoodwillService_GetBalanceHistory_FullMethodName,
		goodwillv1.GoodwillService_ReverseEvent_FullMethodName, goodwillv1.GoodwillService_GetRecomputeJob_FullMethodName,
		goodwillv1.GoodwillService_ResumeRecomputeJob_FullMethodName,
	}, byWebhookID...) {
		if code := status.Code(everyRPC[name](ctx, b, xb)); code != codes.NotFound {
			t.Errorf("tenant B %s on A's ids: %v, want NotFound", name, code)
		}
	}
	if ev, err := b.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "c2"}); status.Code(err) != codes.NotFound && len(ev.GetEvents()) != 0 {
		t.Errorf("tenant B lists A's events: %v, %v", ev.GetEvents(), err)
	}
	if empty := tenantView(t, b); len(empty.balances) != 0 || empty.outreach != 0 || empty.customers != 0 || empty.policy != 1 {
		t.Errorf("tenant B sees %+v, want nothing and the built-in policy", empty)
	}
	if _, err := b.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{Version: 2}); status.Code(err) != codes.NotFound {
		t.Errorf("tenant B reads A's policy version 2: %v", err)
	}

	// B writes with A's ids and keys: its own, new data.
	for name, call := range everyRPC {
		if api.RequiredRole(name) == auth.Reader {
			continue
		}
		err := call(ctx, b, ids{customer: "c1", event: x.event, job: x.job, incident: "inc-1", webhook: x.webhook})
		if name == goodwillv1.GoodwillService_ReverseEvent_FullMethodName ||
			name == goodwillv1.GoodwillService_ResumeRecomputeJob_FullMethodName || slices.Contains(byWebhookID, name) {
			if status.Code(err) != codes.NotFound {
				t.Errorf("tenant B %s on A's event, job or webhook: %v, want NotFound", name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("tenant B %s: %v", name, err)
		}
	}
	rec, err := b.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: "c1",
		Event: &goodwillv1.Event{Kind: credit, IdempotencyKey: "shared-key"}})
	if err != nil || !rec.GetReplayed() || rec.GetBalance().GetEventCount() != 3 {
		t.Errorf("B's replay of its own key: %v (replayed %v, %d events), want B's c1 with 3 events",
			err, rec.GetReplayed(), rec.GetBalance().GetEventCount())
	}
	if after := tenantView(t, b); len(after.balances) != 1 || after.policy != 2 {
		t.Errorf("tenant B after its writes: %+v, want only its c1 and its own version 2", after)
	}

	// A is untouched by all of it.
	if after := tenantView(t, a); !after.equal(before) {
		t.Errorf("tenant A changed:\n before %+v\n after  %+v", before, after)
	}

	// REST goes through the same checks.
	bREST := s.newKey(t, "tenant-b", auth.Reader)
	if r := s.restAs(t, bREST, http.MethodGet, "/v1/customers/c2/balance", nil); r.Status != http.StatusNotFound {
		t.Errorf("tenant B over REST reads A's c2: HTTP %d %s", r.Status, r.Raw)
	}
}

// openKeyStore opens a store of its own, to forge keys no server knows.
func openKeyStore(t *testing.T) auth.KeyStore {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "other.db"), store.Options{Migrate: true, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// view is what a tenant can see of itself.
type view struct {
	balances  []string // customer:event count
	customers int64
	outreach  int
	policy    int64
	events    int
}

func (v view) equal(w view) bool {
	return slices.Equal(v.balances, w.balances) && v.customers == w.customers && v.outreach == w.outreach &&
		v.policy == w.policy && v.events == w.events
}

func tenantView(t *testing.T, c *client.Client) view {
	t.Helper()
	ctx := t.Context()
	var v view
	lb, err := c.ListBalances(ctx, &goodwillv1.ListBalancesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lb.GetBalances() {
		b := e.GetBalance()
		v.balances = append(v.balances, fmt.Sprintf("%s:%d", b.GetCustomerId(), b.GetEventCount()))
		v.events += int(b.GetEventCount())
	}
	sum, err := c.SummarizeBalances(ctx, &goodwillv1.SummarizeBalancesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, seg := range sum.GetSegments() {
		if seg.GetOverall() {
			v.customers = seg.GetCustomers()
		}
	}
	for _, p := range []goodwillv1.OutreachPurpose{goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_RECOVERY, goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_ADVOCACY} {
		o, err := c.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: p})
		if err != nil {
			t.Fatal(err)
		}
		v.outreach += len(o.GetEntries())
	}
	g, err := c.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	v.policy = g.GetActiveVersion()
	return v
}

// Over the limit a key gets RESOURCE_EXHAUSTED (REST 429 with a JSON body);
// other keys and the open endpoints are not affected.
func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	s := startServer(t, "", func(c *app.Config) { c.RateLimit = auth.RateLimits{PerSecond: 0.001, Burst: 3} })
	ctx := t.Context()
	for i := range 3 {
		if _, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{}); err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
	}
	_, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
	wantCode(t, err, codes.ResourceExhausted)
	if r := s.rest(t, http.MethodGet, "/v1/policy", nil); r.Status != http.StatusTooManyRequests || r.Body["message"] == nil {
		t.Errorf("REST over the limit: HTTP %d %s, want 429 with a JSON message", r.Status, r.Raw)
	}
	other := s.dialAs(t, s.newKey(t, "default", auth.Reader))
	if _, err := other.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{}); err != nil {
		t.Errorf("another key: %v", err)
	}
	if h, err := s.Health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health while limited: %v, %v", h, err)
	}
}

// Without a key: 401 with a JSON body naming what is missing, 403 for the
// wrong role; health, /healthz and /openapi.json stay open.
func TestRESTAuthErrorsAndOpenEndpoints(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	r := s.restAs(t, "", http.MethodGet, "/v1/customers/c1/balance", nil)
	// The messages docs/security.md quotes: whether a key was sent, no more.
	if msg, _ := r.Body["message"].(string); r.Status != http.StatusUnauthorized || !strings.HasPrefix(msg, "missing API key") {
		t.Errorf("no key: HTTP %d %s, want 401 with message \"missing API key...\"", r.Status, r.Raw)
	}
	for _, bad := range []string{"gwk_bogus", "gwk_0123456789abcdef_" + strings.Repeat("A", 43)} {
		r := s.restAs(t, bad, http.MethodGet, "/v1/customers/c1/balance", nil)
		if msg, _ := r.Body["message"].(string); r.Status != http.StatusUnauthorized || msg != "invalid or revoked API key" {
			t.Errorf("bad key %q: HTTP %d %s, want 401 with message \"invalid or revoked API key\"", bad, r.Status, r.Raw)
		}
	}
	reader := s.newKey(t, "default", auth.Reader)
	if r := s.restAs(t, reader, http.MethodPost, "/v1/customers/c1/events", map[string]any{"kind": "EVENT_KIND_CREDIT"}); r.Status != http.StatusForbidden || r.Body["message"] == nil {
		t.Errorf("reader writing: HTTP %d %s, want 403 with a JSON message", r.Status, r.Raw)
	}
	for _, path := range []string{"/healthz", "/openapi.json"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.baseURL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a key: %s", path, resp.Status)
		}
	}
	if h, err := s.dialAs(t, "").Health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health without a key: %v, %v", h, err)
	}
}

// Installing a policy is logged as an admin action naming the key that
// did it.
func TestPolicyChangeIsAuditLogged(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := startServer(t, "", func(c *app.Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	loadDefaultPolicy(t, s)
	admin := s.newKey(t, "default", auth.Admin)
	id := admin[len("gwk_") : len("gwk_")+16]
	if err := everyRPC[goodwillv1.GoodwillService_SetPolicy_FullMethodName](t.Context(), s.dialAs(t, admin), ids{}); err != nil {
		t.Fatal(err)
	}
	line := ""
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "action=policy.set") {
			line = l
		}
	}
	if !strings.Contains(line, "admin action") || !strings.Contains(line, "by=key:"+id) || !strings.Contains(line, "tenant=default") {
		t.Errorf("no audit line naming key %s for the policy change; log:\n%s", id, logs.String())
	}
}

// A writer-only key learns the outcome of its writes and its own events,
// never a balance or another caller's event: what a reader key is for.
func TestWriterResponsesCarryNoLedgerData(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	// Another integration's event, holding a key the writer will reuse.
	note := "churn risk: legal involved"
	if _, err := s.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: "c1",
		Event: &goodwillv1.Event{Kind: outage, IdempotencyKey: "guessable", Note: note}}); err != nil {
		t.Fatal(err)
	}
	w := s.dialAs(t, s.newKey(t, "default", auth.Writer))

	rec, err := w.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: "c1", Event: &goodwillv1.Event{Kind: credit}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.GetBalance() != nil || rec.GetEvent().GetEventId() == "" {
		t.Errorf("writer's RecordEvent: balance %v, event %v; want its event and no balance", rec.GetBalance(), rec.GetEvent())
	}
	batch, err := w.RecordEvents(ctx, &goodwillv1.RecordEventsRequest{Events: []*goodwillv1.Event{
		{CustomerId: "c1", Kind: credit, IdempotencyKey: "guessable"},
		{CustomerId: "c2", Kind: credit, IdempotencyKey: "fresh"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r := batch.GetResults()[0]; r.GetOutcome() != goodwillv1.RecordOutcome_RECORD_OUTCOME_CONFLICT || r.GetEvent() != nil ||
		strings.Contains(r.GetError(), note) {
		t.Errorf("writer's conflict result shows the stored event: %v", r)
	}
	if r := batch.GetResults()[1]; r.GetOutcome() != goodwillv1.RecordOutcome_RECORD_OUTCOME_CREATED || r.GetEvent().GetEventId() == "" {
		t.Errorf("writer's created result: %v", r)
	}
	rev, err := w.ReverseEvent(ctx, &goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: rec.GetEvent().GetEventId()})
	if err != nil {
		t.Fatal(err)
	}
	if rev.GetBalance() != nil {
		t.Errorf("writer's ReverseEvent shows a balance: %v", rev.GetBalance())
	}
	// The admin key, which may read, still gets balances.
	if again, err := s.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: "c1", Event: &goodwillv1.Event{Kind: credit}}); err != nil || again.GetBalance() == nil {
		t.Errorf("admin RecordEvent: %v, balance %v", err, again.GetBalance())
	}
	// Over REST too.
	wREST := s.newKey(t, "default", auth.Writer)
	r := s.restAs(t, wREST, http.MethodPost, "/v1/customers/c3/events", map[string]any{"kind": "EVENT_KIND_CREDIT"})
	if r.Status != http.StatusOK || r.Body["balance"] != nil {
		t.Errorf("writer over REST: HTTP %d %s, want no balance", r.Status, r.Raw)
	}
}

// A writer-only key is told that a key or an event is taken, never which
// event took it: ids of events it did not write would let it reverse them,
// and a reversal's magnitude is the cancelled event's payload.
func TestWriterLearnsNoOtherEventIDs(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	theirs, err := s.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: "c1",
		Event: &goodwillv1.Event{Kind: outage, Magnitude: proto.Float64(7.25), IdempotencyKey: "shared-key"}})
	if err != nil {
		t.Fatal(err)
	}
	theirID := theirs.GetEvent().GetEventId()
	w := s.dialAs(t, s.newKey(t, "default", auth.Writer))

	_, err = w.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: "c1",
		Event: &goodwillv1.Event{Kind: credit, IdempotencyKey: "shared-key"}})
	if status.Code(err) != codes.AlreadyExists || strings.Contains(err.Error(), theirID) {
		t.Errorf("RecordEvent on a taken key: %v; want ALREADY_EXISTS without the id %s", err, theirID)
	}
	batch, err := w.RecordEvents(ctx, &goodwillv1.RecordEventsRequest{Events: []*goodwillv1.Event{
		{CustomerId: "c1", Kind: credit, IdempotencyKey: "shared-key"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := batch.GetResults()[0]; r.GetOutcome() != goodwillv1.RecordOutcome_RECORD_OUTCOME_CONFLICT ||
		r.GetError() == "" || strings.Contains(r.GetError(), theirID) {
		t.Errorf("batch conflict: %v; want an error without the id %s", r, theirID)
	}
	// Reversing the other integration's event (its id learnt elsewhere):
	// the reversal carries no magnitude for the writer, and a second
	// attempt does not name the first reversal.
	rev, err := w.ReverseEvent(ctx, &goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: theirID, IdempotencyKey: "rev-1"})
	if err != nil {
		t.Fatal(err)
	}
	if rev.GetReversal().Magnitude != nil {
		t.Errorf("writer's reversal echoes the cancelled event's magnitude %v", rev.GetReversal().GetMagnitude())
	}
	replay, err := w.ReverseEvent(ctx, &goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: theirID, IdempotencyKey: "rev-1"})
	if err != nil || !replay.GetReplayed() || replay.GetReversal().Magnitude != nil {
		t.Errorf("writer's replayed reversal: %v, %v; want a replay without magnitude", replay, err)
	}
	_, err = w.ReverseEvent(ctx, &goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: theirID})
	revID := rev.GetReversal().GetEventId()
	if status.Code(err) != codes.FailedPrecondition || strings.Contains(err.Error(), revID) {
		t.Errorf("second reversal: %v; want FAILED_PRECONDITION without the reversal id %s", err, revID)
	}
	// A reader still sees everything, through the reads.
	again, err := s.ReverseEvent(ctx, &goodwillv1.ReverseEventRequest{CustomerId: "c1", EventId: theirID, IdempotencyKey: "rev-1"})
	if err != nil || again.GetReversal().GetMagnitude() != 7.25 {
		t.Errorf("admin's replay of the reversal: %v, %v; want magnitude 7.25", again, err)
	}
}

// GetCaller tells any valid key what it is: its id, tenant and role, over
// gRPC and REST alike.
func TestGetCallerDescribesTheKey(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	for _, tc := range []struct {
		tenant string
		role   auth.Role
		want   goodwillv1.Role
	}{
		{"default", auth.Reader, goodwillv1.Role_ROLE_READER},
		{"default", auth.Writer, goodwillv1.Role_ROLE_WRITER},
		{"tenant-b", auth.Admin, goodwillv1.Role_ROLE_ADMIN},
	} {
		token := s.newKey(t, tc.tenant, tc.role)
		id, _, err := auth.ParseToken(token)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.dialAs(t, token).GetCaller(t.Context(), &goodwillv1.GetCallerRequest{})
		if err != nil || got.GetKeyId() != id || got.GetTenantId() != tc.tenant || got.GetRole() != tc.want {
			t.Errorf("GetCaller as a %v key of %s: %v, %v; want %s, %s, %v", tc.role, tc.tenant, got, err, id, tc.tenant, tc.want)
		}
		r := s.restAs(t, token, http.MethodGet, "/v1/caller", nil)
		if r.Status != http.StatusOK || get(r.Body, "keyId") != id || get(r.Body, "tenantId") != tc.tenant || get(r.Body, "role") != tc.want.String() {
			t.Errorf("GET /v1/caller as a %v key: %d %v", tc.role, r.Status, r.Body)
		}
	}
}
