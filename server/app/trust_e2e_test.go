package app_test

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
	"github.com/goodwill-ledger/goodwill/server/ledger"
	"github.com/goodwill-ledger/goodwill/server/store"
)

// End-to-end tests of the analyst reads (explain, history, balance lists,
// summaries, outreach) and of versioned policies, through the real server:
// each RPC answers over gRPC and REST, and every field crosses the wire
// intact (enums, timestamps, durations, optional bounds, page tokens,
// approximate_order, the status code of each domain error and the field an
// INVALID_ARGUMENT names). Each history here is small enough to compute by
// hand, so a field mapped from the wrong domain value shows.
//
// The rules behind the numbers (the trust rules, order independence, the
// filters, rankings, statistics and policy versions) are the ledger's, and
// proven on the Service over every store in server/ledger.

const (
	complaint  = goodwillv1.EventKind_EVENT_KIND_COMPLAINT
	engagement = goodwillv1.EventKind_EVENT_KIND_ENGAGEMENT

	healthy   = goodwillv1.BalanceStatus_BALANCE_STATUS_HEALTHY
	overdrawn = goodwillv1.BalanceStatus_BALANCE_STATUS_OVERDRAWN

	recovery = goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_RECOVERY
	advocacy = goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_ADVOCACY

	ascending  = goodwillv1.BalanceOrder_BALANCE_ORDER_ASCENDING
	descending = goodwillv1.BalanceOrder_BALANCE_ORDER_DESCENDING

	day = 24 * time.Hour
	// halfLife is the default policy's.
	halfLife = 90 * day
	// relTol is the relative tolerance for balances computed two ways.
	relTol = 1e-9
)

// relEq reports whether a and b agree within a relative tolerance (with a
// tiny absolute floor for values at zero).
func relEq(a, b, tol float64) bool {
	d := math.Abs(a - b)
	return d <= tol*math.Max(math.Abs(a), math.Abs(b)) || d <= 1e-12
}

// fade is the default policy's decay over d.
func fade(d time.Duration) float64 { return math.Exp2(-d.Seconds() / halfLife.Seconds()) }

// wantInvalid asserts err is INVALID_ARGUMENT with a message naming field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	st, _ := status.FromError(err)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("got %v (%v), want InvalidArgument naming %q", status.Code(err), err, field)
	}
	if !strings.Contains(st.Message(), field) {
		t.Errorf("message %q does not name %q", st.Message(), field)
	}
}

// recordBatch appends events in one RecordEvents call; each must be created.
func recordBatch(t *testing.T, s *testServer, events ...*goodwillv1.Event) {
	t.Helper()
	resp, err := s.RecordEvents(t.Context(), &goodwillv1.RecordEventsRequest{Events: events})
	if err != nil {
		t.Fatalf("record batch: %v", err)
	}
	for _, r := range resp.GetResults() {
		if r.GetOutcome() != goodwillv1.RecordOutcome_RECORD_OUTCOME_CREATED {
			t.Fatalf("batch item %d: %v %s", r.GetIndex(), r.GetOutcome(), r.GetError())
		}
	}
}

// upsert creates or replaces a customer profile.
func upsert(t *testing.T, s *testServer, id string, c *goodwillv1.Customer) {
	t.Helper()
	if _, err := s.UpsertCustomer(t.Context(), &goodwillv1.UpsertCustomerRequest{CustomerId: id, Customer: c}); err != nil {
		t.Fatalf("upsert %s: %v", id, err)
	}
}

// balanceAt returns a customer's balance as of at.
func balanceAt(t *testing.T, s *testServer, id string, at time.Time) *goodwillv1.Balance {
	t.Helper()
	b, err := s.BalanceAsOf(t.Context(), id, at)
	if err != nil {
		t.Fatalf("balance of %s as of %v: %v", id, at, err)
	}
	return b
}

// explainAt explains a customer's balance as of at (now when zero).
func explainAt(t *testing.T, s *testServer, id string, at time.Time, top int32) *goodwillv1.ExplainBalanceResponse {
	t.Helper()
	req := &goodwillv1.ExplainBalanceRequest{CustomerId: id, Top: top}
	if !at.IsZero() {
		req.AsOf = ts(at)
	}
	x, err := s.ExplainBalance(t.Context(), req)
	if err != nil {
		t.Fatalf("explain %s: %v", id, err)
	}
	return x
}

// jsonInt reads an int64 from decoded JSON (protojson writes int64 as a
// string).
func jsonInt(t *testing.T, m map[string]any, keys ...string) int64 {
	t.Helper()
	switch v := get(m, keys...).(type) {
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s = %q: %v", strings.Join(keys, "."), v, err)
		}
		return n
	case float64:
		return int64(v)
	}
	t.Fatalf("%s is %T (%v), want an integer", strings.Join(keys, "."), get(m, keys...), get(m, keys...))
	return 0
}

// isNow reports whether a timestamp the server set is the current time.
func isNow(at time.Time) bool {
	d := time.Since(at)
	return d > -time.Minute && d < time.Minute
}

func TestExplainBalance(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	base := time.Now().UTC().Truncate(time.Second).Add(-50 * day)
	recs := []*goodwillv1.RecordEventResponse{
		record(t, s, pev("sunk", delivery, 2, base)),
		record(t, s, pev("sunk", delivery, 1, base.Add(day))),
		record(t, s, pev("sunk", outage, 3, base.Add(10*day))),
		// Below zero just before: a hollow response.
		record(t, s, pev("sunk", response, 1, base.Add(11*day))),
	}
	asOf := base.Add(20 * day)
	x := explainAt(t, s, "sunk", asOf, 4)

	// Heaviest first at as_of: the outage, the larger delivery, the
	// response, the smaller delivery.
	want := []struct {
		rec                  *goodwillv1.RecordEventResponse
		base, factor, points float64
		rule                 string
	}{
		{recs[2], -36, 1, -36, ""},
		{recs[0], 2, 1, 2, ""},
		{recs[3], 5, 0.25, 1.25, "hollow"},
		{recs[1], 1, 1, 1, ""},
	}
	if len(x.GetTopEvents()) != len(want) {
		t.Fatalf("%d top events, want %d: %v", len(x.GetTopEvents()), len(want), x)
	}
	total := 0.0
	byKind := map[goodwillv1.EventKind]float64{}
	for i, w := range want {
		ec, ev := x.GetTopEvents()[i], w.rec.GetEvent()
		occurred := ev.GetOccurredAt().AsTime()
		now := w.points * fade(asOf.Sub(occurred))
		total += now
		byKind[ev.GetKind()] += now
		if got := ec.GetEvent(); got.GetEventId() != ev.GetEventId() || got.GetKind() != ev.GetKind() || got.GetCustomerId() != "sunk" ||
			!got.GetOccurredAt().AsTime().Equal(occurred) || got.GetMagnitude() != ev.GetMagnitude() {
			t.Errorf("top event %d is %v, want %v", i, got, ev)
		}
		if ec.GetBasePoints() != w.base || ec.GetFactor() != w.factor || ec.GetRule() != w.rule ||
			!relEq(ec.GetPointsWhenRecorded(), w.points, relTol) || !relEq(ec.GetPointsNow(), now, relTol) || ec.GetExplanation() == "" {
			t.Errorf("top event %d (%v): base %v factor %v rule %q points %v now %v explanation %q; want %v %v %q %v %v",
				i, ev.GetKind(), ec.GetBasePoints(), ec.GetFactor(), ec.GetRule(), ec.GetPointsWhenRecorded(), ec.GetPointsNow(),
				ec.GetExplanation(), w.base, w.factor, w.rule, w.points, now)
		}
	}
	// By kind, heaviest first: the outage, both deliveries, the response.
	wantKinds := []struct {
		kind   goodwillv1.EventKind
		events int64
	}{{outage, 1}, {delivery, 2}, {response, 1}}
	if len(x.GetContributions()) != len(wantKinds) {
		t.Fatalf("contributions %v, want %d kinds", x.GetContributions(), len(wantKinds))
	}
	for i, w := range wantKinds {
		if kc := x.GetContributions()[i]; kc.GetKind() != w.kind || kc.GetEvents() != w.events || !relEq(kc.GetPoints(), byKind[w.kind], relTol) {
			t.Errorf("contribution %d: %v, want %v with %d events and %v points", i, kc, w.kind, w.events, byKind[w.kind])
		}
	}
	if !strings.Contains(x.GetTopEvents()[2].GetExplanation(), "hollow") {
		t.Errorf("the response's explanation %q does not say hollow", x.GetTopEvents()[2].GetExplanation())
	}
	b := x.GetBalance()
	if b.GetCustomerId() != "sunk" || !relEq(b.GetBalance(), total, relTol) || b.GetStatus() != overdrawn || b.GetOverdraftLimit() != 0 ||
		b.GetEventCount() != 4 || b.GetPolicyVersion() != 1 || !b.GetAsOf().AsTime().Equal(asOf) {
		t.Errorf("balance %v, want sunk at %v, overdrawn, 4 events, version 1, as of %v", b, total, asOf)
	}
	if !strings.Contains(x.GetSummary(), "overdrawn") {
		t.Errorf("summary %q does not say overdrawn", x.GetSummary())
	}
	// No as_of is now; top 0 is the default (5, more than there are).
	if now := explainAt(t, s, "sunk", time.Time{}, 0); !isNow(now.GetBalance().GetAsOf().AsTime()) || len(now.GetTopEvents()) != 4 {
		t.Errorf("explained now: as of %v, %d top events; want now and 4", now.GetBalance().GetAsOf().AsTime(), len(now.GetTopEvents()))
	}

	t.Run("errors", func(t *testing.T) {
		_, err := s.ExplainBalance(ctx, &goodwillv1.ExplainBalanceRequest{CustomerId: "nobody"})
		wantCode(t, err, codes.NotFound)
		for _, top := range []int32{101, -1} {
			_, err = s.ExplainBalance(ctx, &goodwillv1.ExplainBalanceRequest{CustomerId: "sunk", Top: top})
			wantInvalid(t, err, "top")
		}
		wantRESTError(t, s.rest(t, http.MethodGet, "/v1/customers/sunk/balance:explain?top=101", nil),
			http.StatusBadRequest, codes.InvalidArgument, "top")
		wantRESTError(t, s.rest(t, http.MethodGet, "/v1/customers/nobody/balance:explain", nil),
			http.StatusNotFound, codes.NotFound)
	})

	t.Run("REST", func(t *testing.T) {
		want := explainAt(t, s, "sunk", asOf, 2)
		r := s.rest(t, http.MethodGet, "/v1/customers/sunk/balance:explain?top=2&asOf="+url.QueryEscape(rfc3339(asOf)), nil)
		wantREST(t, r, http.StatusOK)
		if got := num(t, r.Body, "balance", "balance"); !relEq(got, want.GetBalance().GetBalance(), relTol) {
			t.Errorf("REST balance %v, gRPC %v", got, want.GetBalance().GetBalance())
		}
		if str(t, r.Body, "balance", "status") != "BALANCE_STATUS_OVERDRAWN" || str(t, r.Body, "summary") != want.GetSummary() {
			t.Errorf("REST explain: %s", r.Raw)
		}
		top := list(t, r.Body, "topEvents")
		if len(top) != 2 {
			t.Fatalf("REST: %d top events, want 2: %s", len(top), r.Raw)
		}
		for i, ec := range top {
			w := want.GetTopEvents()[i]
			if str(t, ec, "event", "eventId") != w.GetEvent().GetEventId() || str(t, ec, "rule") != w.GetRule() ||
				!relEq(num(t, ec, "pointsNow"), w.GetPointsNow(), relTol) || !relEq(num(t, ec, "pointsWhenRecorded"), w.GetPointsWhenRecorded(), relTol) ||
				num(t, ec, "basePoints") != w.GetBasePoints() || num(t, ec, "factor") != w.GetFactor() || str(t, ec, "explanation") != w.GetExplanation() {
				t.Errorf("REST top event %d: %v, gRPC %v", i, ec, w)
			}
		}
		cs := list(t, r.Body, "contributions")
		if len(cs) != len(want.GetContributions()) {
			t.Fatalf("REST: %d contributions, gRPC %d", len(cs), len(want.GetContributions()))
		}
		for i, kc := range cs {
			w := want.GetContributions()[i]
			if str(t, kc, "kind") != w.GetKind().String() || jsonInt(t, kc, "events") != w.GetEvents() || !relEq(num(t, kc, "points"), w.GetPoints(), relTol) {
				t.Errorf("REST contribution %d: %v, gRPC %v", i, kc, w)
			}
		}
	})
}

func TestBalanceHistory(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	base := time.Now().UTC().Truncate(time.Second).Add(-40 * day)
	recordBatch(t, s,
		pev("h", delivery, 10, base),
		pev("h", outage, 1, base.Add(36*time.Hour)), // between two points; overdraws
	)
	after := 10*fade(36*time.Hour) - 12
	start, end := base.Add(-day), base.Add(3*day)
	want := []struct {
		balance float64
		status  goodwillv1.BalanceStatus
		events  int64
	}{
		{0, healthy, 0},
		{10, healthy, 1},
		{10 * fade(day), healthy, 1},
		{after * fade(12*time.Hour), overdrawn, 2},
		{after * fade(36*time.Hour), overdrawn, 2},
	}
	for _, step := range []*durationpb.Duration{durationpb.New(day), nil} { // nil: the default, a day
		resp, err := s.GetBalanceHistory(ctx, &goodwillv1.GetBalanceHistoryRequest{CustomerId: "h", Start: ts(start), End: ts(end), Step: step})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetPolicyVersion() != 1 {
			t.Errorf("step %v: policy_version %d", step, resp.GetPolicyVersion())
		}
		if len(resp.GetPoints()) != len(want) {
			t.Fatalf("step %v: %d points, want %d", step, len(resp.GetPoints()), len(want))
		}
		for i, p := range resp.GetPoints() {
			w := want[i]
			if at := start.Add(time.Duration(i) * day); !p.GetAt().AsTime().Equal(at) || !relEq(p.GetBalance(), w.balance, relTol) ||
				p.GetStatus() != w.status || p.GetEventCount() != w.events {
				t.Errorf("step %v: point %d: %v; want at %v %v %v %d", step, i, p, at, w.balance, w.status, w.events)
			}
		}
	}

	t.Run("errors", func(t *testing.T) {
		dur := durationpb.New
		for _, tc := range []struct {
			name  string
			req   *goodwillv1.GetBalanceHistoryRequest
			field string
		}{
			// A step sent as 0s is sent, so it is not the default day.
			{name: "zero step", req: &goodwillv1.GetBalanceHistoryRequest{Start: ts(base), End: ts(base.Add(day)), Step: dur(0)}, field: "step"},
			{name: "negative step", req: &goodwillv1.GetBalanceHistoryRequest{Start: ts(base), End: ts(base.Add(day)), Step: dur(-time.Hour)}, field: "step"},
			{name: "step under a minute", req: &goodwillv1.GetBalanceHistoryRequest{Start: ts(base), End: ts(base.Add(day)), Step: dur(59 * time.Second)}, field: "step"},
			{name: "end before start", req: &goodwillv1.GetBalanceHistoryRequest{Start: ts(base), End: ts(base.Add(-time.Second)), Step: dur(day)}, field: "end"},
			{name: "missing start", req: &goodwillv1.GetBalanceHistoryRequest{End: ts(base), Step: dur(day)}, field: "start"},
			{name: "missing end", req: &goodwillv1.GetBalanceHistoryRequest{Start: ts(base), Step: dur(day)}, field: "end"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.req.CustomerId = "h"
				_, err := s.GetBalanceHistory(ctx, tc.req)
				wantInvalid(t, err, tc.field)
			})
		}
		_, err := s.GetBalanceHistory(ctx, &goodwillv1.GetBalanceHistoryRequest{CustomerId: "nobody", Start: ts(base), End: ts(base)})
		wantCode(t, err, codes.NotFound)
	})

	t.Run("REST", func(t *testing.T) {
		q := url.Values{"start": {rfc3339(start)}, "end": {rfc3339(end)}, "step": {"86400s"}}
		r := s.rest(t, http.MethodGet, "/v1/customers/h/balance/history?"+q.Encode(), nil)
		wantREST(t, r, http.StatusOK)
		pts := list(t, r.Body, "points")
		if len(pts) != len(want) {
			t.Fatalf("REST: %d points, want %d: %s", len(pts), len(want), r.Raw)
		}
		for i, p := range pts {
			w := want[i]
			at, err := time.Parse(time.RFC3339Nano, str(t, p, "at"))
			if err != nil || !at.Equal(start.Add(time.Duration(i)*day)) || !relEq(num(t, p, "balance"), w.balance, relTol) ||
				str(t, p, "status") != w.status.String() || jsonInt(t, p, "eventCount") != w.events {
				t.Errorf("REST point %d: %v, want %+v", i, p, w)
			}
		}
		if jsonInt(t, r.Body, "policyVersion") != 1 {
			t.Errorf("REST policyVersion: %s", r.Raw)
		}
		q.Set("step", "30s")
		wantRESTError(t, s.rest(t, http.MethodGet, "/v1/customers/h/balance/history?"+q.Encode(), nil),
			http.StatusBadRequest, codes.InvalidArgument, "step")
	})
}

// listAllBalances pages through ListBalances and returns the entries in
// order; every page must say version 1, in exact order.
func listAllBalances(t *testing.T, s *testServer, req *goodwillv1.ListBalancesRequest) []*goodwillv1.BalanceEntry {
	t.Helper()
	req = proto.Clone(req).(*goodwillv1.ListBalancesRequest)
	var out []*goodwillv1.BalanceEntry
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("more than 100 pages")
		}
		resp, err := s.ListBalances(t.Context(), req)
		if err != nil {
			t.Fatalf("list balances %v: %v", req, err)
		}
		if size := req.GetPageSize(); size > 0 && len(resp.GetBalances()) > int(size) {
			t.Errorf("page %d holds %d entries, page size %d", pages, len(resp.GetBalances()), size)
		}
		if resp.GetPolicyVersion() != 1 || resp.GetApproximateOrder() {
			t.Errorf("page %d: policy_version %d, approximate_order %v", pages, resp.GetPolicyVersion(), resp.GetApproximateOrder())
		}
		out = append(out, resp.GetBalances()...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

func entryIDs(es []*goodwillv1.BalanceEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.GetBalance().GetCustomerId())
	}
	return out
}

func TestListBalances(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	at := time.Now().UTC().Truncate(time.Second).Add(-day)
	type customer struct {
		profile *goodwillv1.Customer
		value   float64 // balance at `at`
		limit   float64
		status  goodwillv1.BalanceStatus
	}
	pop := map[string]customer{
		"lb-neg":   {profile: &goodwillv1.Customer{DisplayName: "Neg", Segment: "gold", Value: proto.Float64(3)}, value: -8, status: overdrawn},
		"lb-limit": {profile: &goodwillv1.Customer{Segment: "silver", OverdraftLimit: proto.Float64(-50)}, value: -4, limit: -50, status: healthy},
		"lb-zero":  {profile: &goodwillv1.Customer{DisplayName: "Zero", Segment: "gold", Value: proto.Float64(5)}, status: healthy},
		"lb-pos":   {profile: &goodwillv1.Customer{Segment: "silver"}, value: 5, status: healthy},
	}
	for id, c := range pop {
		upsert(t, s, id, c.profile)
	}
	recordBatch(t, s, pev("lb-neg", complaint, 1, at), pev("lb-limit", complaint, 0.5, at), pev("lb-pos", delivery, 5, at))

	check := func(t *testing.T, e *goodwillv1.BalanceEntry) {
		t.Helper()
		b := e.GetBalance()
		c, ok := pop[b.GetCustomerId()]
		if !ok {
			t.Fatalf("unknown entry %v", e)
		}
		events := int64(1)
		if c.value == 0 {
			events = 0
		}
		want := c.value * fade(b.GetAsOf().AsTime().Sub(at))
		if !relEq(b.GetBalance(), want, relTol) || b.GetStatus() != c.status || b.GetOverdraftLimit() != c.limit ||
			b.GetEventCount() != events || b.GetPolicyVersion() != 1 || !isNow(b.GetAsOf().AsTime()) {
			t.Errorf("entry %s: %v; want %v %v, limit %v, %d events, version 1, as of now", b.GetCustomerId(), b, want, c.status, c.limit, events)
		}
		value := 1.0 // the default value weight
		if c.profile.Value != nil {
			value = c.profile.GetValue()
		}
		if e.GetSegment() != c.profile.GetSegment() || e.GetDisplayName() != c.profile.GetDisplayName() || e.GetValue() != value {
			t.Errorf("entry %s: segment %q name %q value %v; want %v, value %v", b.GetCustomerId(), e.GetSegment(), e.GetDisplayName(),
				e.GetValue(), c.profile, value)
		}
	}
	f := proto.Float64
	for _, tc := range []struct {
		name string
		req  *goodwillv1.ListBalancesRequest
		want []string
	}{
		{name: "ascending by default", req: &goodwillv1.ListBalancesRequest{}, want: []string{"lb-neg", "lb-limit", "lb-zero", "lb-pos"}},
		{name: "ascending", req: &goodwillv1.ListBalancesRequest{Order: ascending}, want: []string{"lb-neg", "lb-limit", "lb-zero", "lb-pos"}},
		{name: "descending", req: &goodwillv1.ListBalancesRequest{Order: descending}, want: []string{"lb-pos", "lb-zero", "lb-limit", "lb-neg"}},
		{name: "pages of 1", req: &goodwillv1.ListBalancesRequest{PageSize: 1}, want: []string{"lb-neg", "lb-limit", "lb-zero", "lb-pos"}},
		{name: "segment", req: &goodwillv1.ListBalancesRequest{Segment: "gold"}, want: []string{"lb-neg", "lb-zero"}},
		{name: "overdrawn", req: &goodwillv1.ListBalancesRequest{Status: overdrawn}, want: []string{"lb-neg"}},
		{name: "healthy", req: &goodwillv1.ListBalancesRequest{Status: healthy}, want: []string{"lb-limit", "lb-zero", "lb-pos"}},
		// A bound of 0 is a bound: optional fields keep their presence.
		{name: "min 0", req: &goodwillv1.ListBalancesRequest{MinBalance: f(0)}, want: []string{"lb-zero", "lb-pos"}},
		{name: "max 0", req: &goodwillv1.ListBalancesRequest{MaxBalance: f(0)}, want: []string{"lb-neg", "lb-limit", "lb-zero"}},
		{name: "min -5 max 0", req: &goodwillv1.ListBalancesRequest{MinBalance: f(-5), MaxBalance: f(0)}, want: []string{"lb-limit", "lb-zero"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := listAllBalances(t, s, tc.req)
			if !slices.Equal(entryIDs(got), tc.want) {
				t.Errorf("got %v, want %v", entryIDs(got), tc.want)
			}
			for _, e := range got {
				check(t, e)
			}
		})
	}
	t.Run("page tokens", func(t *testing.T) {
		first, err := s.ListBalances(ctx, &goodwillv1.ListBalancesRequest{PageSize: 3})
		if err != nil || len(first.GetBalances()) != 3 || first.GetNextPageToken() == "" {
			t.Fatalf("first page: %v, %v", first, err)
		}
		last, err := s.ListBalances(ctx, &goodwillv1.ListBalancesRequest{PageSize: 3, PageToken: first.GetNextPageToken()})
		if err != nil || !slices.Equal(entryIDs(last.GetBalances()), []string{"lb-pos"}) || last.GetNextPageToken() != "" {
			t.Errorf("second page: %v, %v; want lb-pos alone, the last page", last, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			req   *goodwillv1.ListBalancesRequest
			field string
		}{
			{name: "garbage page token", req: &goodwillv1.ListBalancesRequest{PageToken: "not a token!"}, field: "page_token"},
			{name: "min above max", req: &goodwillv1.ListBalancesRequest{MinBalance: f(5), MaxBalance: f(4)}, field: "max_balance"},
			{name: "NaN min", req: &goodwillv1.ListBalancesRequest{MinBalance: f(math.NaN())}, field: "min_balance"},
			{name: "page size over 1000", req: &goodwillv1.ListBalancesRequest{PageSize: 1001}, field: "page_size"},
			{name: "unknown status", req: &goodwillv1.ListBalancesRequest{Status: 7}, field: "status"},
			{name: "unknown order", req: &goodwillv1.ListBalancesRequest{Order: 7}, field: "order"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.ListBalances(ctx, tc.req)
				wantInvalid(t, err, tc.field)
			})
		}
		// Over REST the fields are named as REST spells them.
		wantRESTError(t, s.rest(t, http.MethodGet, "/v1/balances?pageToken=garbage", nil), http.StatusBadRequest, codes.InvalidArgument, "pageToken: ")
		wantRESTError(t, s.rest(t, http.MethodGet, "/v1/balances?minBalance=3&maxBalance=-3", nil), http.StatusBadRequest, codes.InvalidArgument,
			"maxBalance: must not be below minBalance")
	})

	t.Run("REST", func(t *testing.T) {
		path := "/v1/balances?order=BALANCE_ORDER_DESCENDING&segment=silver&status=BALANCE_STATUS_HEALTHY&minBalance=-5&pageSize=1"
		var got []string
		next := ""
		for pages := 0; pages < 10; pages++ {
			p := path
			if next != "" {
				p += "&pageToken=" + url.QueryEscape(next)
			}
			r := s.rest(t, http.MethodGet, p, nil)
			wantREST(t, r, http.StatusOK)
			entries := list(t, r.Body, "balances")
			if len(entries) > 1 {
				t.Errorf("page of %d entries, page size 1", len(entries))
			}
			for _, e := range entries {
				id := str(t, e, "balance", "customerId")
				got = append(got, id)
				c := pop[id]
				asOf, err := time.Parse(time.RFC3339Nano, str(t, e, "balance", "asOf"))
				if err != nil || str(t, e, "segment") != "silver" || str(t, e, "balance", "status") != c.status.String() ||
					!relEq(num(t, e, "balance", "balance"), c.value*fade(asOf.Sub(at)), relTol) || num(t, e, "value") != 1 ||
					jsonInt(t, e, "balance", "eventCount") != 1 {
					t.Errorf("REST entry: %v", e)
				}
			}
			if jsonInt(t, r.Body, "policyVersion") != 1 {
				t.Errorf("REST policyVersion: %s", r.Raw)
			}
			next = str(t, r.Body, "nextPageToken")
			if next == "" {
				break
			}
		}
		if want := []string{"lb-pos", "lb-limit"}; !slices.Equal(got, want) {
			t.Errorf("REST: %v, want %v", got, want)
		}
	})
}

func TestSummarizeBalances(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	base := time.Now().UTC().Truncate(time.Second).Add(-day)
	upsert(t, s, "s-a", &goodwillv1.Customer{Segment: "gold", Value: proto.Float64(2)})
	upsert(t, s, "s-b", &goodwillv1.Customer{Segment: "gold", Value: proto.Float64(5)})
	upsert(t, s, "s-c", &goodwillv1.Customer{Segment: "silver"})
	recordBatch(t, s, pev("s-a", complaint, 1, base), pev("s-c", delivery, 4, base), pev("s-d", delivery, 2, base))

	// Every balance is a multiple of f, the fade from the events to as_of:
	// s-a -8f (overdrawn, value 2), s-b 0, s-c 4f, s-d 2f.
	type row struct {
		segment              string
		overall              bool
		customers, overdrawn int64
		mean, p10, p50, p90  float64 // times f
		risk                 float64
	}
	check := func(t *testing.T, got *goodwillv1.SegmentSummary, w row, f float64) {
		t.Helper()
		if got.GetSegment() != w.segment || got.GetOverall() != w.overall || got.GetCustomers() != w.customers || got.GetOverdrawn() != w.overdrawn ||
			!relEq(got.GetMean(), w.mean*f, relTol) || !relEq(got.GetP10(), w.p10*f, relTol) || !relEq(got.GetP50(), w.p50*f, relTol) ||
			!relEq(got.GetP90(), w.p90*f, relTol) || got.GetValueAtRisk() != w.risk {
			t.Errorf("row %v, want %+v with f = %v", got, w, f)
		}
	}
	gold := row{segment: "gold", customers: 2, overdrawn: 1, mean: -4, p10: -8, p50: -8, p90: 0, risk: 2}

	resp, err := s.SummarizeBalances(ctx, &goodwillv1.SummarizeBalancesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	asOf := resp.GetAsOf().AsTime()
	if resp.GetPolicyVersion() != 1 || !isNow(asOf) {
		t.Errorf("summary under version %d as of %v, want version 1 now", resp.GetPolicyVersion(), asOf)
	}
	f := fade(asOf.Sub(base))
	want := []row{
		{segment: "", customers: 1, mean: 2, p10: 2, p50: 2, p90: 2},
		gold,
		{segment: "silver", customers: 1, mean: 4, p10: 4, p50: 4, p90: 4},
		{overall: true, customers: 4, overdrawn: 1, mean: -0.5, p10: -8, p50: 0, p90: 4, risk: 2},
	}
	if len(resp.GetSegments()) != len(want) {
		t.Fatalf("rows %v, want %d", resp.GetSegments(), len(want))
	}
	for i, w := range want {
		check(t, resp.GetSegments()[i], w, f)
	}

	t.Run("segment filter", func(t *testing.T) {
		r, err := s.SummarizeBalances(ctx, &goodwillv1.SummarizeBalancesRequest{Segment: "gold"})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetSegments()) != 1 {
			t.Fatalf("gold only: %v", r.GetSegments())
		}
		check(t, r.GetSegments()[0], gold, fade(r.GetAsOf().AsTime().Sub(base)))
		r, err = s.SummarizeBalances(ctx, &goodwillv1.SummarizeBalancesRequest{Segment: "platinum"})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetSegments()) != 1 {
			t.Fatalf("unknown segment: %v", r.GetSegments())
		}
		check(t, r.GetSegments()[0], row{segment: "platinum"}, 1)
	})

	t.Run("REST", func(t *testing.T) {
		r := s.rest(t, http.MethodGet, "/v1/balances:summarize?segment=gold", nil)
		wantREST(t, r, http.StatusOK)
		rows := list(t, r.Body, "segments")
		if len(rows) != 1 || jsonInt(t, r.Body, "policyVersion") != 1 {
			t.Fatalf("REST: %s", r.Raw)
		}
		at, err := time.Parse(time.RFC3339Nano, str(t, r.Body, "asOf"))
		if err != nil {
			t.Fatal(err)
		}
		row := rows[0]
		if get(row, "overall") != false {
			t.Errorf("REST row: %v", row)
		}
		got := &goodwillv1.SegmentSummary{
			Segment: str(t, row, "segment"), Customers: jsonInt(t, row, "customers"), Overdrawn: jsonInt(t, row, "overdrawn"),
			Mean: num(t, row, "mean"), P10: num(t, row, "p10"), P50: num(t, row, "p50"), P90: num(t, row, "p90"), ValueAtRisk: num(t, row, "valueAtRisk"),
		}
		check(t, got, gold, fade(at.Sub(base)))
	})
}

// outreachIDs lists the customers of outreach entries, in order.
func outreachIDs(es []*goodwillv1.OutreachEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.GetCustomerId())
	}
	return out
}

func TestOutreach(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	at := now.Add(-10 * day)
	recordBatch(t, s,
		pev("v3", complaint, 1.25, at), // -10, unanswered
		pev("answered", outage, 1, at),
		pev("answered", response, 1, at.Add(time.Hour)),
		pev("adv", delivery, 10, now.Add(-5*day)),
		pev("adv", delivery, 10, now.Add(-3*day)),
		pev("adv", delivery, 10, now.Add(-day)),
		pev("adv2", engagement, 5, now.Add(-2*day)),
	)
	upsert(t, s, "v3", &goodwillv1.Customer{DisplayName: "Val Three", Segment: "gold", Value: proto.Float64(3)})

	list1 := func(t *testing.T, req *goodwillv1.ListOutreachRequest) *goodwillv1.ListOutreachResponse {
		t.Helper()
		resp, err := s.ListOutreach(ctx, req)
		if err != nil {
			t.Fatalf("outreach %v: %v", req, err)
		}
		if resp.GetPolicyVersion() != 1 || resp.GetApproximateOrder() {
			t.Errorf("outreach %v: policy_version %d, approximate_order %v", req, resp.GetPolicyVersion(), resp.GetApproximateOrder())
		}
		return resp
	}
	rec := list1(t, &goodwillv1.ListOutreachRequest{Purpose: recovery})
	if got := outreachIDs(rec.GetEntries()); !slices.Equal(got, []string{"v3", "answered"}) || rec.GetNextPageToken() != "" {
		t.Fatalf("RECOVERY: %v (next %q), want [v3 answered] on one page", got, rec.GetNextPageToken())
	}
	v3 := rec.GetEntries()[0]
	b := v3.GetBalance()
	want := -10 * fade(b.GetAsOf().AsTime().Sub(at))
	if v3.GetDisplayName() != "Val Three" || v3.GetSegment() != "gold" || v3.GetValue() != 3 || b.GetCustomerId() != "v3" ||
		!relEq(b.GetBalance(), want, relTol) || b.GetStatus() != overdrawn || b.GetEventCount() != 1 || b.GetPolicyVersion() != 1 ||
		!isNow(b.GetAsOf().AsTime()) || !relEq(v3.GetPriority(), -want*3*2, relTol) {
		t.Errorf("v3: %v; want balance %v, priority %v", v3, want, -want*3*2)
	}
	if r := strings.Join(v3.GetReasons(), "; "); !strings.Contains(r, "no response") || !strings.Contains(r, "value weight 3") {
		t.Errorf("v3 reasons %q", r)
	}
	if r := strings.Join(rec.GetEntries()[1].GetReasons(), "; "); !strings.Contains(r, "answered") {
		t.Errorf("answered reasons %q", r)
	}

	adv := list1(t, &goodwillv1.ListOutreachRequest{Purpose: advocacy})
	if got := outreachIDs(adv.GetEntries()); !slices.Equal(got, []string{"adv", "adv2"}) {
		t.Fatalf("ADVOCACY: %v, want [adv adv2]", got)
	}
	for _, e := range adv.GetEntries() {
		if e.GetBalance().GetStatus() != healthy || e.GetPriority() != e.GetBalance().GetBalance() || !strings.Contains(e.GetReasons()[0], "rising") {
			t.Errorf("advocate %v", e)
		}
	}

	t.Run("page tokens", func(t *testing.T) {
		first := list1(t, &goodwillv1.ListOutreachRequest{Purpose: recovery, PageSize: 1})
		if got := outreachIDs(first.GetEntries()); !slices.Equal(got, []string{"v3"}) || first.GetNextPageToken() == "" {
			t.Fatalf("first page: %v (next %q)", got, first.GetNextPageToken())
		}
		second := list1(t, &goodwillv1.ListOutreachRequest{Purpose: recovery, PageSize: 1, PageToken: first.GetNextPageToken()})
		if got := outreachIDs(second.GetEntries()); !slices.Equal(got, []string{"answered"}) || second.GetNextPageToken() != "" {
			t.Errorf("second page: %v (next %q), want [answered], the last", got, second.GetNextPageToken())
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := s.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{})
		wantInvalid(t, err, "purpose")
		_, err = s.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: recovery, PageToken: "nope"})
		wantInvalid(t, err, "page_token")
		_, err = s.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: recovery, PageSize: -1})
		wantInvalid(t, err, "page_size")
		wantRESTError(t, s.rest(t, http.MethodGet, "/v1/outreach", nil), http.StatusBadRequest, codes.InvalidArgument, "purpose")
	})

	t.Run("REST", func(t *testing.T) {
		want := list1(t, &goodwillv1.ListOutreachRequest{Purpose: recovery}).GetEntries()
		r := s.rest(t, http.MethodGet, "/v1/outreach?purpose=OUTREACH_PURPOSE_RECOVERY", nil)
		wantREST(t, r, http.StatusOK)
		entries := list(t, r.Body, "entries")
		if len(entries) != len(want) {
			t.Fatalf("REST: %d entries, gRPC %d: %s", len(entries), len(want), r.Raw)
		}
		for i, e := range entries {
			w := want[i]
			reasons, _ := get(e, "reasons").([]any)
			if str(t, e, "customerId") != w.GetCustomerId() || !relEq(num(t, e, "priority"), w.GetPriority(), 1e-6) || len(reasons) != len(w.GetReasons()) ||
				str(t, e, "balance", "status") != w.GetBalance().GetStatus().String() || num(t, e, "value") != w.GetValue() {
				t.Errorf("REST entry %d: %v, gRPC %v", i, e, w)
			}
		}
		r = s.rest(t, http.MethodGet, "/v1/outreach?purpose=OUTREACH_PURPOSE_ADVOCACY&pageSize=1", nil)
		wantREST(t, r, http.StatusOK)
		if es := list(t, r.Body, "entries"); len(es) != 1 || str(t, es[0], "customerId") != "adv" || str(t, r.Body, "nextPageToken") == "" {
			t.Errorf("REST advocacy page: %s", r.Raw)
		}
	})
}

// failJob marks a recompute job failed in the server's store, as one that
// gave up after repeated errors is. The server's worker resumes failed
// jobs only when it starts, so the job stays failed until
// ResumeRecomputeJob.
func failJob(t *testing.T, s *testServer, id string) {
	t.Helper()
	st, err := store.Open(t.Context(), s.db, store.Options{Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Update(t.Context(), func(tx ledger.Tx) error {
		j, err := tx.Job(t.Context(), ledger.DefaultTenant, id)
		if err != nil {
			return err
		}
		j.State, j.Error = ledger.JobFailed, "gave up after repeated failures: failed by the test"
		return tx.PutJob(t.Context(), j)
	}); err != nil {
		t.Fatalf("failing job %s: %v", id, err)
	}
}

func TestVersionedPolicy(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	x := now // a fixed moment to compare balances at

	// Version 1, the default policy, field by field.
	v1, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	p1 := v1.GetPolicy()
	want1 := &goodwillv1.Policy{
		Version: 1,
		Weights: map[string]float64{
			"EVENT_KIND_CREDIT": 2, "EVENT_KIND_RELIABLE_DELIVERY": 1, "EVENT_KIND_OUTAGE": -12, "EVENT_KIND_RESPONSE": 5,
			"EVENT_KIND_PROACTIVE_NOTICE": 1, "EVENT_KIND_COMPLAINT": -8, "EVENT_KIND_SUGGESTION_ADOPTED": 10, "EVENT_KIND_ENGAGEMENT": 2,
			"EVENT_KIND_SERVICE_CHANGE": -1, "EVENT_KIND_BROKEN_PROMISE": -20,
		},
		HalfLife: durationpb.New(halfLife),
		Relationship: &goodwillv1.RelationshipEffect{Kinds: []goodwillv1.EventKind{credit, response},
			Scale: 50, HollowBelow: 0, MinFactor: 0.25, MaxFactor: 2},
		Notice:                &goodwillv1.NoticeEffect{Window: durationpb.New(72 * time.Hour), Factor: 0.5},
		DefaultOverdraftLimit: 0,
		TrendHalfLife:         durationpb.New(30 * day),
		CreatedAt:             ts(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
		DustThreshold:         proto.Float64(0.5),
		ChangeNotice:          &goodwillv1.NoticeEffect{Window: durationpb.New(30 * day), Factor: 0.5},
	}
	if v1.GetActiveVersion() != 1 || !proto.Equal(p1, want1) {
		t.Fatalf("version 1 (active %d):\ngot  %v\nwant %v", v1.GetActiveVersion(), p1, want1)
	}
	r := s.rest(t, http.MethodGet, "/v1/policy", nil)
	wantREST(t, r, http.StatusOK)
	if jsonInt(t, r.Body, "policy", "version") != 1 || jsonInt(t, r.Body, "activeVersion") != 1 ||
		num(t, r.Body, "policy", "weights", "EVENT_KIND_OUTAGE") != -12 || str(t, r.Body, "policy", "halfLife") != "7776000s" {
		t.Errorf("REST GET /v1/policy: %s", r.Raw)
	}
	_, err = s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{Version: 2})
	wantCode(t, err, codes.NotFound)

	recordBatch(t, s, pev("p-outage", outage, 1, now.Add(-10*day)), pev("p-complaint", complaint, 2, now.Add(-10*day)))

	t.Run("bad policies are rejected", func(t *testing.T) {
		// Missing parts and unknown kind names are the API's to refuse;
		// the rest shows the domain's field names reach the client.
		for _, tc := range []struct {
			name   string
			mutate func(p *goodwillv1.Policy)
			field  string
		}{
			{name: "missing half_life", mutate: func(p *goodwillv1.Policy) { p.HalfLife = nil }, field: "policy.half_life"},
			{name: "half_life 1h", mutate: func(p *goodwillv1.Policy) { p.HalfLife = durationpb.New(time.Hour) }, field: "policy.half_life"},
			{name: "weight for REVERSAL", mutate: func(p *goodwillv1.Policy) { p.Weights["EVENT_KIND_REVERSAL"] = 1 }, field: "EVENT_KIND_REVERSAL"},
			{name: "weight for an unknown name", mutate: func(p *goodwillv1.Policy) { p.Weights["EVENT_KIND_HUG"] = 3 }, field: "EVENT_KIND_HUG"},
			{name: "missing weight", mutate: func(p *goodwillv1.Policy) { delete(p.Weights, "EVENT_KIND_CREDIT") }, field: "EVENT_KIND_CREDIT"},
			{name: "relationship kind REVERSAL", mutate: func(p *goodwillv1.Policy) {
				p.Relationship.Kinds = append(p.Relationship.Kinds, goodwillv1.EventKind_EVENT_KIND_REVERSAL)
			}, field: "policy.relationship.kinds"},
			{name: "missing relationship", mutate: func(p *goodwillv1.Policy) { p.Relationship = nil }, field: "policy.relationship"},
			{name: "missing notice", mutate: func(p *goodwillv1.Policy) { p.Notice = nil }, field: "policy.notice"},
			{name: "missing notice window", mutate: func(p *goodwillv1.Policy) { p.Notice.Window = nil }, field: "policy.notice.window"},
			{name: "missing trend_half_life", mutate: func(p *goodwillv1.Policy) { p.TrendHalfLife = nil }, field: "policy.trend_half_life"},
			{name: "change notice factor 2", mutate: func(p *goodwillv1.Policy) { p.ChangeNotice.Factor = 2 }, field: "policy.change_notice.factor"},
			{name: "missing change notice window", mutate: func(p *goodwillv1.Policy) { p.ChangeNotice.Window = nil }, field: "policy.change_notice.window"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := proto.Clone(p1).(*goodwillv1.Policy)
				tc.mutate(p)
				_, err := s.SetPolicy(ctx, &goodwillv1.SetPolicyRequest{Policy: p})
				wantInvalid(t, err, tc.field)
				if g, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{}); err != nil || g.GetActiveVersion() != 1 || g.GetPolicy().GetVersion() != 1 {
					t.Errorf("after a rejected policy: %v, %v", g, err)
				}
			})
		}
		_, err := s.SetPolicy(ctx, &goodwillv1.SetPolicyRequest{})
		wantInvalid(t, err, "policy")
	})
	if t.Failed() {
		return
	}

	// Version 2 differs from version 1 in every field, so each one's way
	// in and out is seen.
	p2 := &goodwillv1.Policy{
		Weights: map[string]float64{
			"EVENT_KIND_CREDIT": 3, "EVENT_KIND_RELIABLE_DELIVERY": 1.5, "EVENT_KIND_OUTAGE": -24, "EVENT_KIND_RESPONSE": 6,
			"EVENT_KIND_PROACTIVE_NOTICE": 0.5, "EVENT_KIND_COMPLAINT": -8, "EVENT_KIND_SUGGESTION_ADOPTED": 9, "EVENT_KIND_ENGAGEMENT": 2.5,
			"EVENT_KIND_SERVICE_CHANGE": -2, "EVENT_KIND_BROKEN_PROMISE": -30,
		},
		HalfLife: durationpb.New(60 * day),
		Relationship: &goodwillv1.RelationshipEffect{Kinds: []goodwillv1.EventKind{response},
			Scale: 40, HollowBelow: -1, MinFactor: 0.2, MaxFactor: 3},
		Notice:                &goodwillv1.NoticeEffect{Window: durationpb.New(48 * time.Hour), Factor: 0.4},
		DefaultOverdraftLimit: -1,
		TrendHalfLife:         durationpb.New(20 * day),
		DustThreshold:         proto.Float64(0.25),
		ChangeNotice:          &goodwillv1.NoticeEffect{Window: durationpb.New(20 * day), Factor: 0.3},
	}
	set, err := s.SetPolicy(ctx, &goodwillv1.SetPolicyRequest{Policy: p2})
	if err != nil {
		t.Fatal(err)
	}
	echo := proto.Clone(set.GetPolicy()).(*goodwillv1.Policy)
	if echo.GetVersion() != 2 || !isNow(echo.GetCreatedAt().AsTime()) {
		t.Errorf("installed version %d created %v, want 2 now", echo.GetVersion(), echo.GetCreatedAt())
	}
	echo.Version, echo.CreatedAt = 0, nil
	if !proto.Equal(echo, p2) {
		t.Errorf("SetPolicy installed\n%v\nwant\n%v", echo, p2)
	}
	j := set.GetJob()
	if j.GetJobId() == "" || j.GetPolicyVersion() != 2 || j.GetState() != goodwillv1.JobState_JOB_STATE_RUNNING || j.GetCustomersTotal() != 2 ||
		!isNow(j.GetStartedAt().AsTime()) || j.GetFinishedAt() != nil {
		t.Errorf("SetPolicy's job: %v", j)
	}
	if g, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{}); err != nil || g.GetActiveVersion() != 2 || !proto.Equal(g.GetPolicy(), set.GetPolicy()) {
		t.Errorf("active policy: %v, %v; want what SetPolicy returned", g, err)
	}
	job := waitJob(t, s, j.GetJobId())
	if job.GetState() != goodwillv1.JobState_JOB_STATE_SUCCEEDED || job.GetCustomersDone() != 2 || job.GetCustomersTotal() != 2 ||
		job.GetFinishedAt() == nil || job.GetError() != "" {
		t.Fatalf("job: %v", job)
	}
	if b := balanceAt(t, s, "p-outage", x); b.GetPolicyVersion() != 2 {
		t.Errorf("p-outage: %v, want policy_version 2", b)
	}
	if g, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{Version: 1}); err != nil || g.GetActiveVersion() != 2 || !proto.Equal(g.GetPolicy(), p1) {
		t.Errorf("GetPolicy version 1 after installing 2: %v, %v", g, err)
	}
	_, err = s.GetRecomputeJob(ctx, &goodwillv1.GetRecomputeJobRequest{JobId: "no-such-job"})
	wantCode(t, err, codes.NotFound)
	_, err = s.ResumeRecomputeJob(ctx, &goodwillv1.ResumeRecomputeJobRequest{JobId: "no-such-job"})
	wantCode(t, err, codes.NotFound)

	t.Run("a failed job", func(t *testing.T) {
		approximate := func(t *testing.T, want bool) {
			t.Helper()
			lb, err := s.ListBalances(ctx, &goodwillv1.ListBalancesRequest{})
			if err != nil || lb.GetApproximateOrder() != want || lb.GetPolicyVersion() != 2 || len(lb.GetBalances()) != 2 {
				t.Errorf("ListBalances: %v, %v; want approximate_order %v", lb, err, want)
			}
			lo, err := s.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: recovery})
			if err != nil || lo.GetApproximateOrder() != want || lo.GetPolicyVersion() != 2 || len(lo.GetEntries()) != 2 {
				t.Errorf("ListOutreach: %v, %v; want approximate_order %v", lo, err, want)
			}
		}
		failJob(t, s, job.GetJobId())
		g, err := s.GetRecomputeJob(ctx, &goodwillv1.GetRecomputeJobRequest{JobId: job.GetJobId()})
		if err != nil || g.GetJob().GetState() != goodwillv1.JobState_JOB_STATE_FAILED || !strings.Contains(g.GetJob().GetError(), "failed by the test") {
			t.Fatalf("the failed job: %v, %v", g, err)
		}
		approximate(t, true)
		resumed, err := s.ResumeRecomputeJob(ctx, &goodwillv1.ResumeRecomputeJobRequest{JobId: job.GetJobId()})
		if err != nil || resumed.GetJob().GetState() != goodwillv1.JobState_JOB_STATE_RUNNING || resumed.GetJob().GetError() != "" {
			t.Fatalf("ResumeRecomputeJob: %v, %v", resumed, err)
		}
		if j := waitJob(t, s, job.GetJobId()); j.GetState() != goodwillv1.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("resumed job: %v", j)
		}
		approximate(t, false)
	})

	t.Run("REST", func(t *testing.T) {
		r := s.rest(t, http.MethodGet, "/v1/policy?version=1", nil)
		wantREST(t, r, http.StatusOK)
		if jsonInt(t, r.Body, "policy", "version") != 1 || jsonInt(t, r.Body, "activeVersion") != 2 ||
			num(t, r.Body, "policy", "weights", "EVENT_KIND_OUTAGE") != -12 {
			t.Errorf("REST GET /v1/policy?version=1: %s", r.Raw)
		}
		// Version 3 through REST: complaints weigh half.
		r = s.rest(t, http.MethodGet, "/v1/policy", nil)
		wantREST(t, r, http.StatusOK)
		body := get(r.Body, "policy").(map[string]any)
		delete(body, "version")
		delete(body, "createdAt")
		body["weights"].(map[string]any)["EVENT_KIND_COMPLAINT"] = -4.0

		bad := map[string]any{}
		for k, v := range body {
			bad[k] = v
		}
		bad["halfLife"] = "3600s"
		wantRESTError(t, s.rest(t, http.MethodPut, "/v1/policy", bad), http.StatusBadRequest, codes.InvalidArgument, "halfLife: must be")

		before := balanceAt(t, s, "p-complaint", x)
		put := s.rest(t, http.MethodPut, "/v1/policy", body)
		wantREST(t, put, http.StatusOK)
		if jsonInt(t, put.Body, "policy", "version") != 3 || num(t, put.Body, "policy", "weights", "EVENT_KIND_COMPLAINT") != -4 ||
			num(t, put.Body, "policy", "weights", "EVENT_KIND_OUTAGE") != -24 || str(t, put.Body, "policy", "halfLife") != "5184000s" {
			t.Fatalf("REST PUT /v1/policy: %s", put.Raw)
		}
		jobID := str(t, put.Body, "job", "jobId")
		deadline := time.Now().Add(20 * time.Second)
		for {
			j := s.rest(t, http.MethodGet, "/v1/policy/jobs/"+url.PathEscape(jobID), nil)
			wantREST(t, j, http.StatusOK)
			if st := str(t, j.Body, "job", "state"); st != "JOB_STATE_RUNNING" {
				if st != "JOB_STATE_SUCCEEDED" || jsonInt(t, j.Body, "job", "customersDone") != jsonInt(t, j.Body, "job", "customersTotal") ||
					jsonInt(t, j.Body, "job", "policyVersion") != 3 {
					t.Fatalf("REST job: %s", j.Raw)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("REST job still running after 20s: %s", j.Raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The weight PUT by name is the one the balance uses.
		if b := balanceAt(t, s, "p-complaint", x); b.GetPolicyVersion() != 3 || !relEq(b.GetBalance(), before.GetBalance()/2, relTol) {
			t.Errorf("p-complaint under version 3: %v, want half of %v", b, before.GetBalance())
		}
		wantRESTError(t, s.rest(t, http.MethodGet, "/v1/policy/jobs/no-such-job", nil), http.StatusNotFound, codes.NotFound)
		if g, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{}); err != nil || g.GetActiveVersion() != 3 {
			t.Errorf("active after REST: %v %v", g, err)
		}
	})

	// A failed job of a version since replaced cannot resume.
	failJob(t, s, job.GetJobId())
	_, err = s.ResumeRecomputeJob(ctx, &goodwillv1.ResumeRecomputeJobRequest{JobId: job.GetJobId()})
	wantCode(t, err, codes.FailedPrecondition)
}

// allow_stale asks for a follower read on CockroachDB; elsewhere the answer
// is the same as without it.
func TestAnalystReadsAcceptAllowStale(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	if _, err := s.Record(ctx, "stale-c1", client.Event{Kind: goodwillv1.EventKind_EVENT_KIND_OUTAGE}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/v1/balances?allowStale=true",
		"/v1/balances:summarize?allowStale=true",
		"/v1/outreach?purpose=OUTREACH_PURPOSE_RECOVERY&allowStale=true",
	} {
		r := s.rest(t, "GET", path, nil)
		if r.Status != 200 || !strings.Contains(string(r.Raw), "stale-c1") && !strings.Contains(string(r.Raw), `"customers":"1"`) {
			t.Errorf("GET %s: %d %s", path, r.Status, r.Raw)
		}
	}
	lb, err := s.ListBalances(ctx, &goodwillv1.ListBalancesRequest{AllowStale: true})
	if err != nil || !slices.Equal(entryIDs(lb.GetBalances()), []string{"stale-c1"}) {
		t.Errorf("ListBalances with allow_stale: %v, %v", lb, err)
	}
	sum, err := s.SummarizeBalances(ctx, &goodwillv1.SummarizeBalancesRequest{AllowStale: true})
	if err != nil || len(sum.GetSegments()) == 0 || sum.GetSegments()[len(sum.GetSegments())-1].GetCustomers() != 1 {
		t.Errorf("SummarizeBalances with allow_stale: %v, %v", sum, err)
	}
	lo, err := s.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: recovery, AllowStale: true})
	if err != nil || !slices.Equal(outreachIDs(lo.GetEntries()), []string{"stale-c1"}) {
		t.Errorf("ListOutreach with allow_stale: %v, %v", lo, err)
	}
}

// A policy install with an idempotency key, over REST: the retry replays,
// the key with another policy is a 409, and the gRPC client's own key
// makes its retries safe too.
func TestKeyedPolicyInstallOverREST(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	g := s.rest(t, http.MethodGet, "/v1/policy", nil)
	pol, ok := g.Body["policy"].(map[string]any)
	if g.Status != http.StatusOK || !ok {
		t.Fatalf("GET /v1/policy: %d %v", g.Status, g.Body)
	}
	delete(pol, "version")
	delete(pol, "createdAt")
	pol["weights"].(map[string]any)["EVENT_KIND_OUTAGE"] = -24.0
	first := s.rest(t, http.MethodPut, "/v1/policy?idempotencyKey=console-1", pol)
	again := s.rest(t, http.MethodPut, "/v1/policy?idempotencyKey=console-1", pol)
	if first.Status != http.StatusOK || get(first.Body, "replayed") != false || get(first.Body, "policy", "version") != "2" {
		t.Fatalf("first PUT: %d %v", first.Status, first.Body)
	}
	if again.Status != http.StatusOK || get(again.Body, "replayed") != true || get(again.Body, "policy", "version") != "2" ||
		get(again.Body, "job", "jobId") != get(first.Body, "job", "jobId") {
		t.Errorf("the same PUT again: %d %v; want version 2 replayed with the same job", again.Status, again.Body)
	}
	pol["weights"].(map[string]any)["EVENT_KIND_COMPLAINT"] = -16.0
	conflict := s.rest(t, http.MethodPut, "/v1/policy?idempotencyKey=console-1", pol)
	if conflict.Status != http.StatusConflict || !strings.Contains(conflict.Body["message"].(string), "idempotencyKey") {
		t.Errorf("the key with another policy: %d %v, want 409 naming idempotencyKey", conflict.Status, conflict.Body)
	}
	if got, err := s.GetPolicy(t.Context(), &goodwillv1.GetPolicyRequest{}); err != nil || got.GetActiveVersion() != 2 {
		t.Errorf("active version %d (%v), want 2: the replay and the conflict installed nothing", got.GetActiveVersion(), err)
	}
}
