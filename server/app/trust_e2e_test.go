package app_test

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
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
)

// End-to-end tests of the trust model (the six rules of the default policy,
// order independence) and of the analyst reads (explain, history, balance
// lists, summaries, outreach, versioned policies), through the real server.

const (
	notice     = goodwillv1.EventKind_EVENT_KIND_PROACTIVE_NOTICE
	complaint  = goodwillv1.EventKind_EVENT_KIND_COMPLAINT
	engagement = goodwillv1.EventKind_EVENT_KIND_ENGAGEMENT
	suggestion = goodwillv1.EventKind_EVENT_KIND_SUGGESTION_ADOPTED

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

// pev builds an event for customer id.
func pev(id string, kind goodwillv1.EventKind, mag float64, at time.Time) *goodwillv1.Event {
	return &goodwillv1.Event{CustomerId: id, Kind: kind, Magnitude: proto.Float64(mag), OccurredAt: ts(at)}
}

// record appends one event through RecordEvent and fails the test on error.
func record(t *testing.T, s *testServer, e *goodwillv1.Event) *goodwillv1.RecordEventResponse {
	t.Helper()
	id := e.GetCustomerId()
	e = proto.Clone(e).(*goodwillv1.Event)
	e.CustomerId = ""
	resp, err := s.RecordEvent(t.Context(), &goodwillv1.RecordEventRequest{CustomerId: id, Event: e})
	if err != nil {
		t.Fatalf("record %v for %s: %v", e.GetKind(), id, err)
	}
	return resp
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

// topOf returns the first top event of a kind (at occurred, when not zero).
func topOf(t *testing.T, x *goodwillv1.ExplainBalanceResponse, kind goodwillv1.EventKind, occurred time.Time) *goodwillv1.EventContribution {
	t.Helper()
	for _, ec := range x.GetTopEvents() {
		if ec.GetEvent().GetKind() == kind && (occurred.IsZero() || ec.GetEvent().GetOccurredAt().AsTime().Equal(occurred)) {
			return ec
		}
	}
	t.Fatalf("no %v in top events of %s", kind, x.GetBalance().GetCustomerId())
	return nil
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

// ---------------------------------------------------------------------------
// 1. The six rules of the default policy.

func TestTrustRulesOfTheDefaultPolicy(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	now := time.Now().UTC().Truncate(time.Second)
	base := now.Add(-100 * day)

	t.Run("asymmetry", func(t *testing.T) {
		t.Parallel()
		record(t, s, pev("asym-outage", outage, 1, base))
		record(t, s, pev("asym-delivery", delivery, 1, base))
		o := balanceAt(t, s, "asym-outage", base).GetBalance()
		d := balanceAt(t, s, "asym-delivery", base).GetBalance()
		if d <= 0 || o >= 0 {
			t.Fatalf("delivery %v, outage %v: want a deposit and a withdrawal", d, o)
		}
		if -o < 10*d {
			t.Errorf("one outage withdraws %v, one delivery deposits %v: want at least 10x", -o, d)
		}
	})

	t.Run("overdraft protection", func(t *testing.T) {
		t.Parallel()
		outageAt := base.Add(60 * day)
		for _, tc := range []struct {
			name       string
			deliveries int
			want       goodwillv1.BalanceStatus
		}{
			{name: "sixty daily deliveries absorb a 3h outage", deliveries: 60, want: healthy},
			{name: "a new customer with the same outage", deliveries: 0, want: overdrawn},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := fmt.Sprintf("overdraft-%d", tc.deliveries)
				var evs []*goodwillv1.Event
				for i := range tc.deliveries {
					evs = append(evs, pev(id, delivery, 1, base.Add(time.Duration(i)*day)))
				}
				evs = append(evs, pev(id, outage, 3, outageAt))
				recordBatch(t, s, evs...)
				before := balanceAt(t, s, id, outageAt.Add(-time.Microsecond)).GetBalance()
				after := balanceAt(t, s, id, outageAt)
				if after.GetStatus() != tc.want {
					t.Errorf("after the outage: %v (balance %.3f), want %v", after.GetStatus(), after.GetBalance(), tc.want)
				}
				if got := after.GetBalance() - before; !relEq(got, -36, 1e-6) {
					t.Errorf("the outage withdrew %v, want -36", got)
				}
				if after.GetEventCount() != int64(tc.deliveries+1) {
					t.Errorf("event_count %d, want %d", after.GetEventCount(), tc.deliveries+1)
				}
			})
		}
	})

	t.Run("context", func(t *testing.T) {
		t.Parallel()
		// Balances just before the gesture, lowest first; the gesture must
		// add strictly more at each step.
		levels := []struct {
			name     string
			kind     goodwillv1.EventKind
			mag      float64
			wantRule string
		}{
			{name: "overdrawn", kind: complaint, mag: 1, wantRule: "hollow"},
			{name: "new", wantRule: "relationship"},
			{name: "modest", kind: delivery, mag: 5, wantRule: "relationship"},
			{name: "rich", kind: delivery, mag: 30, wantRule: "relationship"},
			{name: "capped", kind: delivery, mag: 100, wantRule: "relationship"},
		}
		for _, g := range []struct {
			name   string
			kind   goodwillv1.EventKind
			mag    float64
			weight float64
		}{
			{name: "response", kind: response, mag: 1, weight: 5},
			{name: "credit", kind: credit, mag: 5, weight: 2},
		} {
			t.Run(g.name, func(t *testing.T) {
				setupAt, gestureAt := base, base.Add(time.Hour)
				prevGain := math.Inf(-1)
				for i, lv := range levels {
					id := "ctx-" + g.name + "-" + lv.name
					if lv.kind != goodwillv1.EventKind_EVENT_KIND_UNSPECIFIED {
						record(t, s, pev(id, lv.kind, lv.mag, setupAt))
					}
					record(t, s, pev(id, g.kind, g.mag, gestureAt))
					before := balanceAt(t, s, id, gestureAt.Add(-time.Microsecond)).GetBalance()
					gain := balanceAt(t, s, id, gestureAt).GetBalance() - before
					wantFactor := 0.25
					if lv.wantRule == "relationship" {
						wantFactor = min(2, 1+before/50)
					}
					if !relEq(gain, g.weight*g.mag*wantFactor, 1e-6) {
						t.Errorf("%s: gesture added %v with balance %.3f before, want %v (factor %v)",
							lv.name, gain, before, g.weight*g.mag*wantFactor, wantFactor)
					}
					if gain <= prevGain {
						t.Errorf("%s (balance before %.3f): gesture added %v, not more than %v at the previous, lower balance",
							lv.name, before, gain, prevGain)
					}
					if i == 0 && before >= 0 {
						t.Fatalf("setup: %s balance before the gesture is %v, want negative", id, before)
					}
					prevGain = gain

					ec := topOf(t, explainAt(t, s, id, gestureAt, 100), g.kind, gestureAt)
					if ec.GetRule() != lv.wantRule || !relEq(ec.GetFactor(), wantFactor, 1e-6) {
						t.Errorf("%s: explain says rule %q factor %v, want %q factor %v", lv.name, ec.GetRule(), ec.GetFactor(), lv.wantRule, wantFactor)
					}
					if !relEq(ec.GetBasePoints(), g.weight*g.mag, relTol) || !relEq(ec.GetPointsWhenRecorded(), gain, 1e-6) {
						t.Errorf("%s: base %v points %v, want %v and %v", lv.name, ec.GetBasePoints(), ec.GetPointsWhenRecorded(), g.weight*g.mag, gain)
					}
					if lv.wantRule == "hollow" && !strings.Contains(ec.GetExplanation(), "hollow") {
						t.Errorf("%s: explanation %q does not say hollow", lv.name, ec.GetExplanation())
					}
				}
			})
		}
	})

	t.Run("warn before you fail", func(t *testing.T) {
		t.Parallel()
		outageAt := base.Add(10 * day)
		for _, tc := range []struct {
			name      string
			hasNotice bool
			before    time.Duration // how long before the outage the notice came
			softened  bool
		}{
			{name: "no notice"},
			{name: "notice 24h before", hasNotice: true, before: 24 * time.Hour, softened: true},
			{name: "notice at the same instant", hasNotice: true, before: 0, softened: true},
			{name: "notice exactly 72h before", hasNotice: true, before: 72 * time.Hour, softened: true},
			{name: "notice 73h before", hasNotice: true, before: 73 * time.Hour, softened: false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := "notice-" + strings.ReplaceAll(tc.name, " ", "-")
				var evs []*goodwillv1.Event
				if tc.hasNotice {
					evs = append(evs, pev(id, notice, 1, outageAt.Add(-tc.before)))
				}
				// The outage arrives first: the notice is applied by replay.
				evs = append([]*goodwillv1.Event{pev(id, outage, 2, outageAt)}, evs...)
				recordBatch(t, s, evs...)

				want, wantRule, wantFactor := -24.0, "", 1.0
				if tc.softened {
					want, wantRule, wantFactor = -12, "notice", 0.5
				}
				ec := topOf(t, explainAt(t, s, id, outageAt, 100), outage, outageAt)
				if !relEq(ec.GetPointsWhenRecorded(), want, relTol) || ec.GetRule() != wantRule || ec.GetFactor() != wantFactor {
					t.Errorf("outage: points %v rule %q factor %v, want %v %q %v",
						ec.GetPointsWhenRecorded(), ec.GetRule(), ec.GetFactor(), want, wantRule, wantFactor)
				}
				if tc.before > 0 || !tc.hasNotice {
					// The withdrawal seen on the balance itself.
					got := balanceAt(t, s, id, outageAt).GetBalance() - balanceAt(t, s, id, outageAt.Add(-time.Microsecond)).GetBalance()
					if !relEq(got, want, 1e-6) {
						t.Errorf("the outage withdrew %v, want %v", got, want)
					}
				}
			})
		}
	})

	t.Run("fading", func(t *testing.T) {
		t.Parallel()
		record(t, s, pev("fade-single", delivery, 10, base))
		for _, tc := range []struct {
			name  string
			after time.Duration
			want  float64
		}{
			{name: "at once", after: 0, want: 10},
			{name: "half a half-life", after: 45 * day, want: 10 / math.Sqrt2},
			{name: "one half-life", after: 90 * day, want: 5},
			{name: "two half-lives", after: 180 * day, want: 2.5},
		} {
			if got := balanceAt(t, s, "fade-single", base.Add(tc.after)).GetBalance(); !relEq(got, tc.want, relTol) {
				t.Errorf("%s: balance %v, want %v", tc.name, got, tc.want)
			}
		}

		// The order of balances does not change as time passes.
		ids := []string{"fade-a", "fade-b", "fade-c", "fade-d", "fade-e", "fade-f", "fade-g"}
		for _, id := range ids {
			upsert(t, s, id, &goodwillv1.Customer{Segment: "fade"})
		}
		recordBatch(t, s,
			pev("fade-a", delivery, 20, base.Add(10*day)),
			pev("fade-b", delivery, 5, base.Add(80*day)),
			pev("fade-c", outage, 1, base.Add(50*day)),
			pev("fade-d", complaint, 1, base.Add(95*day)),
			pev("fade-e", delivery, 30, base),
			pev("fade-f", delivery, 40, base),
			pev("fade-f", outage, 1, base.Add(90*day)),
			// fade-g has no events: balance 0.
		)
		t1 := time.Now()
		t2 := t1.Add(200 * day)
		orderAt := func(at time.Time) []string {
			vals := map[string]float64{}
			for _, id := range ids {
				vals[id] = balanceAt(t, s, id, at).GetBalance()
			}
			out := slices.Clone(ids)
			slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(vals[a], vals[b]), cmp.Compare(a, b)) })
			t.Logf("as of %v: %v", at.Format(time.DateOnly), vals)
			return out
		}
		o1, o2 := orderAt(t1), orderAt(t2)
		if !slices.Equal(o1, o2) {
			t.Errorf("order changed with time alone: %v now, %v 200 days later", o1, o2)
		}
		for _, order := range []goodwillv1.BalanceOrder{ascending, descending} {
			resp, err := s.ListBalances(t.Context(), &goodwillv1.ListBalancesRequest{Segment: "fade", Order: order})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range resp.GetBalances() {
				got = append(got, e.GetBalance().GetCustomerId())
			}
			want := slices.Clone(o1)
			if order == descending {
				slices.Reverse(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("ListBalances %v: %v, want %v", order, got, want)
			}
		}
	})

	t.Run("reversal", func(t *testing.T) {
		t.Parallel()
		type step struct {
			kind goodwillv1.EventKind
			mag  float64
			at   time.Duration // after base
		}
		for _, tc := range []struct {
			name    string
			history []step
			reverse int // index into history
			// The rule of the later RESPONSE before and after the reversal.
			ruleBefore, ruleAfter string
		}{
			{
				name:       "outage before a response",
				history:    []step{{outage, 1, 0}, {delivery, 1, day}, {response, 1, 2 * day}},
				reverse:    0,
				ruleBefore: "hollow", ruleAfter: "relationship",
			},
			{
				name:       "deliveries before a response",
				history:    []step{{delivery, 40, 0}, {response, 1, day}, {delivery, 2, 3 * day}},
				reverse:    0,
				ruleBefore: "relationship", ruleAfter: "relationship",
			},
			{
				name:       "a complaint answered late",
				history:    []step{{delivery, 3, 0}, {complaint, 1, day}, {response, 1, 2 * day}, {delivery, 1, 4 * day}},
				reverse:    1,
				ruleBefore: "hollow", ruleAfter: "relationship",
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := "rev-" + strings.ReplaceAll(tc.name, " ", "-")
				b := a + "-without"
				var reverseID string
				for i, st := range tc.history {
					r := record(t, s, pev(a, st.kind, st.mag, base.Add(st.at)))
					if i == tc.reverse {
						reverseID = r.GetEvent().GetEventId()
						continue
					}
					record(t, s, pev(b, st.kind, st.mag, base.Add(st.at)))
				}
				respAt := time.Time{}
				for _, st := range tc.history {
					if st.kind == response {
						respAt = base.Add(st.at)
					}
				}
				if got := topOf(t, explainAt(t, s, a, time.Time{}, 100), response, respAt).GetRule(); got != tc.ruleBefore {
					t.Errorf("before the reversal the response's rule is %q, want %q", got, tc.ruleBefore)
				}
				rev, err := s.ReverseEvent(t.Context(), &goodwillv1.ReverseEventRequest{CustomerId: a, EventId: reverseID})
				if err != nil {
					t.Fatal(err)
				}
				if rev.GetReversal().GetKind() != goodwillv1.EventKind_EVENT_KIND_REVERSAL {
					t.Errorf("reversal kind %v", rev.GetReversal().GetKind())
				}
				// Equal at every moment after the history, and now.
				check := func(at time.Time) {
					t.Helper()
					ba, bb := balanceAt(t, s, a, at), balanceAt(t, s, b, at)
					if !relEq(ba.GetBalance(), bb.GetBalance(), relTol) || ba.GetEventCount() != bb.GetEventCount() || ba.GetStatus() != bb.GetStatus() {
						t.Errorf("as of %v: reversed %v/%d/%v, never-recorded %v/%d/%v", at, ba.GetBalance(), ba.GetEventCount(),
							ba.GetStatus(), bb.GetBalance(), bb.GetEventCount(), bb.GetStatus())
					}
				}
				for _, st := range tc.history {
					check(base.Add(st.at))
				}
				check(now.Add(time.Minute))
				if !relEq(rev.GetBalance().GetBalance(), balanceAt(t, s, b, rev.GetBalance().GetAsOf().AsTime()).GetBalance(), relTol) {
					t.Errorf("ReverseEvent returned %v", rev.GetBalance())
				}
				ra := topOf(t, explainAt(t, s, a, now, 100), response, respAt)
				rb := topOf(t, explainAt(t, s, b, now, 100), response, respAt)
				if ra.GetRule() != tc.ruleAfter || ra.GetRule() != rb.GetRule() || !relEq(ra.GetFactor(), rb.GetFactor(), relTol) ||
					!relEq(ra.GetPointsWhenRecorded(), rb.GetPointsWhenRecorded(), relTol) {
					t.Errorf("the later response after the reversal: %q x%v = %v; never recorded: %q x%v = %v (want rule %q)",
						ra.GetRule(), ra.GetFactor(), ra.GetPointsWhenRecorded(), rb.GetRule(), rb.GetFactor(), rb.GetPointsWhenRecorded(), tc.ruleAfter)
				}
			})
		}
	})
}

// ---------------------------------------------------------------------------
// 2. Order independence.

func TestOrderIndependenceThroughTheAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	base := time.Now().UTC().Truncate(time.Second).Add(-60 * day)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	specs := []*goodwillv1.Event{
		pev("", delivery, 3, at(0)),
		pev("", delivery, 2, at(day)),
		pev("", engagement, 1, at(day)),
		pev("", notice, 1, at(2*day)), // same instant as the outage it softens
		pev("", outage, 2, at(2*day)),
		pev("", response, 1, at(2*day)), // same instant: answers the outage
		pev("", credit, 5, at(3*day)),
		pev("", complaint, 1, at(5*day)),
		pev("", response, 1, at(5*day)),
		pev("", delivery, 1, at(6*day)),
		pev("", delivery, 1, at(6*day)), // identical payload, another key
		pev("", suggestion, 1, at(8*day)),
		pev("", notice, 1, at(10*day)),
		pev("", outage, 1, at(11*day)),
		pev("", credit, 3, at(11*day)),
		pev("", delivery, 4, at(12*day)),
		pev("", engagement, 2, at(12*day)),
		pev("", complaint, 2, at(15*day)),
		pev("", response, 1, at(15*day+time.Hour)),
		pev("", delivery, 5, at(20*day)),
	}
	for i, e := range specs {
		e.IdempotencyKey = fmt.Sprintf("ev-%02d", i)
	}
	for_ := func(id string, idx []int) []*goodwillv1.Event {
		out := make([]*goodwillv1.Event, len(idx))
		for i, j := range idx {
			out[i] = proto.Clone(specs[j]).(*goodwillv1.Event)
			out[i].CustomerId = id
		}
		return out
	}
	inOrder := make([]int, len(specs))
	for i := range inOrder {
		inOrder[i] = i
	}
	shuffled := slices.Clone(inOrder)
	rand.New(rand.NewPCG(20260101, 7)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	batched := slices.Clone(inOrder)
	rand.New(rand.NewPCG(99, 1)).Shuffle(len(batched), func(i, j int) { batched[i], batched[j] = batched[j], batched[i] })
	// held-back: in order, but the notice that softens the first outage
	// arrives last, backdated.
	heldBack := append(slices.Delete(slices.Clone(inOrder), 3, 4), 3)
	t.Logf("shuffled order %v", shuffled)

	for _, e := range for_("in-order", inOrder) {
		record(t, s, e)
	}
	for _, e := range for_("shuffled", shuffled) {
		record(t, s, e)
	}
	recordBatch(t, s, for_("batched", batched)...)
	var last *goodwillv1.RecordEventResponse
	for _, e := range for_("held-back", heldBack) {
		last = record(t, s, e)
	}

	ref := func(at time.Time) *goodwillv1.Balance { return balanceAt(t, s, "in-order", at) }
	if got := ref(time.Now()).GetEventCount(); got != int64(len(specs)) {
		t.Fatalf("in-order has %d events, want %d", got, len(specs))
	}
	if want := ref(last.GetBalance().GetAsOf().AsTime()).GetBalance(); !relEq(last.GetBalance().GetBalance(), want, relTol) {
		t.Errorf("the backdated notice returned balance %v, want the in-order %v", last.GetBalance().GetBalance(), want)
	}
	// The backdated notice really mattered: without it the outage is not softened.
	if ec := topOf(t, explainAt(t, s, "held-back", time.Time{}, 100), outage, at(2*day)); ec.GetRule() != "notice" {
		t.Errorf("after the backdated notice the first outage's rule is %q, want notice", ec.GetRule())
	}

	moments := []time.Time{at(2 * day), at(5 * day), at(6 * day), at(11 * day), at(15*day + 30*time.Minute), time.Now()}
	type contrib struct {
		kind                 goodwillv1.EventKind
		at                   time.Time
		rule                 string
		factor, points, base float64
	}
	contribs := func(id string) []contrib {
		var out []contrib
		for _, ec := range explainAt(t, s, id, moments[len(moments)-1], 100).GetTopEvents() {
			out = append(out, contrib{ec.GetEvent().GetKind(), ec.GetEvent().GetOccurredAt().AsTime(), ec.GetRule(),
				ec.GetFactor(), ec.GetPointsWhenRecorded(), ec.GetBasePoints()})
		}
		return out
	}
	refContribs := contribs("in-order")
	for _, id := range []string{"shuffled", "batched", "held-back"} {
		t.Run(id, func(t *testing.T) {
			for _, m := range moments {
				got, want := balanceAt(t, s, id, m), ref(m)
				if !relEq(got.GetBalance(), want.GetBalance(), relTol) || got.GetEventCount() != want.GetEventCount() {
					t.Errorf("as of %v: %v (%d events), in order %v (%d events)", m, got.GetBalance(), got.GetEventCount(),
						want.GetBalance(), want.GetEventCount())
				}
			}
			got := contribs(id)
			if len(got) != len(refContribs) {
				t.Fatalf("%d contributions, want %d", len(got), len(refContribs))
			}
			for i := range got {
				g, w := got[i], refContribs[i]
				if g.kind != w.kind || !g.at.Equal(w.at) || g.rule != w.rule || !relEq(g.factor, w.factor, relTol) ||
					!relEq(g.points, w.points, relTol) || !relEq(g.base, w.base, relTol) {
					t.Errorf("top event %d: %+v, in order %+v", i, g, w)
				}
			}
		})
	}

	// Retrying the shuffled arrivals with the same keys changes nothing.
	before := balanceAt(t, s, "shuffled", moments[len(moments)-1])
	for _, e := range for_("shuffled", shuffled) {
		if r := record(t, s, e); !r.GetReplayed() {
			t.Errorf("retry of %s was not replayed", e.GetIdempotencyKey())
		}
	}
	after := balanceAt(t, s, "shuffled", moments[len(moments)-1])
	if after.GetBalance() != before.GetBalance() || after.GetEventCount() != int64(len(specs)) {
		t.Errorf("after retries: %v, before %v", after, before)
	}
	evs, err := s.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: "shuffled", PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.GetEvents()) != len(specs) {
		t.Errorf("shuffled holds %d events, want %d", len(evs.GetEvents()), len(specs))
	}
}

// ---------------------------------------------------------------------------
// 3. ExplainBalance.

func TestExplainBalance(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	base := now.Add(-50 * day)
	recordBatch(t, s,
		pev("mixed", delivery, 10, base),
		pev("mixed", delivery, 2, base.Add(day)),
		pev("mixed", delivery, 3, base.Add(2*day)),
		pev("mixed", notice, 1, base.Add(5*day)),
		pev("mixed", outage, 1, base.Add(6*day)),
		pev("mixed", response, 1, base.Add(6*day+time.Hour)),
		pev("mixed", credit, 4, base.Add(7*day)),
		pev("mixed", complaint, 1, base.Add(20*day)),
		pev("mixed", engagement, 1, base.Add(25*day)),
		pev("mixed", suggestion, 1, base.Add(30*day)),
		pev("mixed", delivery, 1, base.Add(40*day)),
		pev("mixed", delivery, 1, base.Add(41*day)),
		pev("sunk", delivery, 2, base),
		pev("sunk", outage, 3, base.Add(10*day)),
		pev("sunk", response, 1, base.Add(11*day)),
	)
	upsert(t, s, "quiet", &goodwillv1.Customer{DisplayName: "No events"})

	for _, tc := range []struct {
		name          string
		id            string
		asOf          time.Time
		top           int32
		wantTop       int
		wantEvents    int64
		wantOverdrawn bool
	}{
		{name: "default top is 5", id: "mixed", wantTop: 5, wantEvents: 12},
		{name: "top 3", id: "mixed", top: 3, wantTop: 3, wantEvents: 12},
		{name: "top 100 lists every event", id: "mixed", top: 100, wantTop: 12, wantEvents: 12},
		{name: "as of the past", id: "mixed", asOf: base.Add(6*day + 2*time.Hour), top: 100, wantTop: 6, wantEvents: 6},
		{name: "overdrawn", id: "sunk", top: 2, wantTop: 2, wantEvents: 3, wantOverdrawn: true},
		{name: "no events", id: "quiet", top: 5, wantTop: 0, wantEvents: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := explainAt(t, s, tc.id, tc.asOf, tc.top)
			b := x.GetBalance()
			at := b.GetAsOf().AsTime()
			if !tc.asOf.IsZero() && !at.Equal(tc.asOf) {
				t.Errorf("balance as_of %v, want %v", at, tc.asOf)
			}
			if want := balanceAt(t, s, tc.id, at); !relEq(b.GetBalance(), want.GetBalance(), relTol) || b.GetEventCount() != want.GetEventCount() {
				t.Errorf("explained balance %v (%d events), GetBalance %v (%d)", b.GetBalance(), b.GetEventCount(), want.GetBalance(), want.GetEventCount())
			}
			if b.GetEventCount() != tc.wantEvents {
				t.Errorf("event_count %d, want %d", b.GetEventCount(), tc.wantEvents)
			}
			// Contributions: one per kind, summing to the balance.
			sum, events := 0.0, int64(0)
			seen := map[goodwillv1.EventKind]bool{}
			for i, kc := range x.GetContributions() {
				if seen[kc.GetKind()] {
					t.Errorf("kind %v listed twice", kc.GetKind())
				}
				seen[kc.GetKind()] = true
				sum += kc.GetPoints()
				events += kc.GetEvents()
				if i > 0 && math.Abs(kc.GetPoints()) > math.Abs(x.GetContributions()[i-1].GetPoints()) {
					t.Errorf("contributions not by |points| desc at %d: %v", i, x.GetContributions())
				}
			}
			if !relEq(sum, b.GetBalance(), 1e-9) {
				t.Errorf("contributions sum to %v, balance is %v", sum, b.GetBalance())
			}
			if events != b.GetEventCount() {
				t.Errorf("contributions count %d events, balance %d", events, b.GetEventCount())
			}
			// Top events: heaviest first, limited, each explained.
			top := x.GetTopEvents()
			if len(top) != tc.wantTop {
				t.Errorf("%d top events, want %d", len(top), tc.wantTop)
			}
			for i, ec := range top {
				if i > 0 && math.Abs(ec.GetPointsNow()) > math.Abs(top[i-1].GetPointsNow()) {
					t.Errorf("top event %d |%v| above %d |%v|", i, ec.GetPointsNow(), i-1, top[i-1].GetPointsNow())
				}
				if ec.GetExplanation() == "" {
					t.Errorf("top event %d has no explanation", i)
				}
				if !relEq(ec.GetPointsWhenRecorded(), ec.GetBasePoints()*ec.GetFactor(), relTol) {
					t.Errorf("top event %d: %v x %v != %v", i, ec.GetBasePoints(), ec.GetFactor(), ec.GetPointsWhenRecorded())
				}
				want := ec.GetPointsWhenRecorded() * fade(at.Sub(ec.GetEvent().GetOccurredAt().AsTime()))
				if !relEq(ec.GetPointsNow(), want, 1e-9) {
					t.Errorf("top event %d: points_now %v, want %v", i, ec.GetPointsNow(), want)
				}
			}
			if tc.wantTop == 12 {
				// With every event listed, the top events sum to the balance too.
				total := 0.0
				for _, ec := range top {
					total += ec.GetPointsNow()
				}
				if !relEq(total, b.GetBalance(), 1e-9) {
					t.Errorf("all top events sum to %v, balance %v", total, b.GetBalance())
				}
			}
			if x.GetSummary() == "" {
				t.Fatal("empty summary")
			}
			if got := strings.Contains(x.GetSummary(), "overdrawn"); got != tc.wantOverdrawn || (b.GetStatus() == overdrawn) != tc.wantOverdrawn {
				t.Errorf("status %v, summary %q: want overdrawn=%v", b.GetStatus(), x.GetSummary(), tc.wantOverdrawn)
			}
		})
	}

	// The rules shaping the mixed history.
	x := explainAt(t, s, "mixed", time.Time{}, 100)
	for _, w := range []struct {
		kind goodwillv1.EventKind
		rule string
	}{{outage, "notice"}, {response, "relationship"}, {credit, "relationship"}, {complaint, ""}} {
		if got := topOf(t, x, w.kind, time.Time{}).GetRule(); got != w.rule {
			t.Errorf("%v: rule %q, want %q", w.kind, got, w.rule)
		}
	}
	if got := topOf(t, explainAt(t, s, "sunk", time.Time{}, 5), response, time.Time{}); got.GetRule() != "hollow" || got.GetFactor() != 0.25 {
		t.Errorf("response to the overdrawn customer: %q x%v, want hollow x0.25", got.GetRule(), got.GetFactor())
	}

	t.Run("errors", func(t *testing.T) {
		_, err := s.ExplainBalance(ctx, &goodwillv1.ExplainBalanceRequest{CustomerId: "nobody"})
		wantCode(t, err, codes.NotFound)
		for _, top := range []int32{101, -1} {
			_, err = s.ExplainBalance(ctx, &goodwillv1.ExplainBalanceRequest{CustomerId: "mixed", Top: top})
			wantInvalid(t, err, "top")
		}
		wantRESTError(t, s.rest(t, http.MethodGet, "/v1/customers/mixed/balance:explain?top=101", nil),
			http.StatusBadRequest, codes.InvalidArgument, "top")
		wantRESTError(t, s.rest(t, http.MethodGet, "/v1/customers/nobody/balance:explain", nil),
			http.StatusNotFound, codes.NotFound)
	})

	t.Run("REST", func(t *testing.T) {
		asOf := now.Add(-time.Hour)
		want := explainAt(t, s, "sunk", asOf, 2)
		r := s.rest(t, http.MethodGet, "/v1/customers/sunk/balance:explain?top=2&asOf="+url.QueryEscape(rfc3339(asOf)), nil)
		wantREST(t, r, http.StatusOK)
		if got := num(t, r.Body, "balance", "balance"); !relEq(got, want.GetBalance().GetBalance(), relTol) {
			t.Errorf("REST balance %v, gRPC %v", got, want.GetBalance().GetBalance())
		}
		if str(t, r.Body, "balance", "status") != "BALANCE_STATUS_OVERDRAWN" || !strings.Contains(str(t, r.Body, "summary"), "overdrawn") {
			t.Errorf("REST explain: %s", r.Raw)
		}
		top := list(t, r.Body, "topEvents")
		if len(top) != 2 {
			t.Fatalf("REST: %d top events, want 2: %s", len(top), r.Raw)
		}
		for i, ec := range top {
			w := want.GetTopEvents()[i]
			if str(t, ec, "event", "eventId") != w.GetEvent().GetEventId() || str(t, ec, "rule") != w.GetRule() ||
				!relEq(num(t, ec, "pointsNow"), w.GetPointsNow(), relTol) || str(t, ec, "explanation") != w.GetExplanation() {
				t.Errorf("REST top event %d: %v, gRPC %v", i, ec, w)
			}
		}
		if n := len(list(t, r.Body, "contributions")); n != len(want.GetContributions()) {
			t.Errorf("REST: %d contributions, gRPC %d", n, len(want.GetContributions()))
		}
	})
}

// ---------------------------------------------------------------------------
// 4. GetBalanceHistory.

func TestBalanceHistory(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	base := now.Add(-40 * day)
	recordBatch(t, s,
		pev("h", delivery, 10, base),                             // exactly on a daily point
		pev("h", notice, 1, base.Add(3*day+5*time.Hour)),         // between points
		pev("h", outage, 2, base.Add(4*day)),                     // softened, on a point
		pev("h", response, 1, base.Add(4*day+time.Minute)),       // within the same hour
		pev("h", complaint, 2, base.Add(9*day+12*time.Hour)),     // overdraws
		pev("h", credit, 5, base.Add(10*day)),                    // hollow
		pev("h", delivery, 30, base.Add(20*day+time.Nanosecond)), // just after a point
	)
	dur := func(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

	for _, tc := range []struct {
		name       string
		start, end time.Time
		step       *durationpb.Duration
		wantStep   time.Duration
		wantPoints int
	}{
		{name: "daily", start: base.Add(-day), end: base.Add(30 * day), step: dur(day), wantStep: day, wantPoints: 32},
		{name: "end between steps", start: base.Add(-day), end: base.Add(30*day + 5*time.Hour), step: dur(day), wantStep: day, wantPoints: 32},
		{name: "default step is a day", start: base, end: base.Add(12 * day), wantStep: day, wantPoints: 13},
		{name: "hourly", start: base.Add(3 * day), end: base.Add(5 * day), step: dur(time.Hour), wantStep: time.Hour, wantPoints: 49},
		{name: "one minute", start: base.Add(4*day - 2*time.Minute), end: base.Add(4*day + 2*time.Minute), step: dur(time.Minute), wantStep: time.Minute, wantPoints: 5},
		{name: "start equals end", start: base.Add(10 * day), end: base.Add(10 * day), step: dur(day), wantStep: day, wantPoints: 1},
		{name: "up to now and beyond", start: now.Add(-2 * day), end: now.Add(2 * day), step: dur(12 * time.Hour), wantStep: 12 * time.Hour, wantPoints: 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := s.GetBalanceHistory(ctx, &goodwillv1.GetBalanceHistoryRequest{CustomerId: "h", Start: ts(tc.start), End: ts(tc.end), Step: tc.step})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetPolicyVersion() != 1 {
				t.Errorf("policy_version %d", resp.GetPolicyVersion())
			}
			pts := resp.GetPoints()
			if len(pts) != tc.wantPoints {
				t.Fatalf("%d points, want %d", len(pts), tc.wantPoints)
			}
			for i, p := range pts {
				at := p.GetAt().AsTime()
				if want := tc.start.Add(time.Duration(i) * tc.wantStep); !at.Equal(want) {
					t.Errorf("point %d at %v, want %v", i, at, want)
				}
				if at.After(tc.end) {
					t.Errorf("point %d at %v is after end %v", i, at, tc.end)
				}
				want := balanceAt(t, s, "h", at)
				if !relEq(p.GetBalance(), want.GetBalance(), relTol) || p.GetStatus() != want.GetStatus() || p.GetEventCount() != want.GetEventCount() {
					t.Errorf("point %d at %v: %v %v %d; GetBalance: %v %v %d", i, at, p.GetBalance(), p.GetStatus(), p.GetEventCount(),
						want.GetBalance(), want.GetStatus(), want.GetEventCount())
				}
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			req   *goodwillv1.GetBalanceHistoryRequest
			field string
		}{
			{name: "step under a minute", req: &goodwillv1.GetBalanceHistoryRequest{Start: ts(base), End: ts(base.Add(day)), Step: dur(59 * time.Second)}, field: "step"},
			{name: "negative step", req: &goodwillv1.GetBalanceHistoryRequest{Start: ts(base), End: ts(base.Add(day)), Step: dur(-time.Hour)}, field: "step"},
			{name: "end before start", req: &goodwillv1.GetBalanceHistoryRequest{Start: ts(base), End: ts(base.Add(-time.Second)), Step: dur(day)}, field: "end"},
			{name: "missing start", req: &goodwillv1.GetBalanceHistoryRequest{End: ts(base), Step: dur(day)}, field: "start"},
			{name: "missing end", req: &goodwillv1.GetBalanceHistoryRequest{Start: ts(base), Step: dur(day)}, field: "end"},
			{name: "1001 points", req: &goodwillv1.GetBalanceHistoryRequest{Start: ts(base), End: ts(base.Add(1000 * time.Minute)), Step: dur(time.Minute)}, field: "step"},
			{name: "1001 daily points by default", req: &goodwillv1.GetBalanceHistoryRequest{Start: ts(base.Add(-1000 * day)), End: ts(base)}, field: "step"},
			// Regression: time.Time.Sub saturates at about 292 years; the point count once let 8036 points through.
			{name: "1970 to 9999 yearly", req: &goodwillv1.GetBalanceHistoryRequest{Start: ts(time.Unix(0, 0)),
				End: ts(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)), Step: dur(365 * day)}, field: "step"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.req.CustomerId = "h"
				_, err := s.GetBalanceHistory(ctx, tc.req)
				wantInvalid(t, err, tc.field)
			})
		}
		// 1000 points is the limit, not over it.
		resp, err := s.GetBalanceHistory(ctx, &goodwillv1.GetBalanceHistoryRequest{CustomerId: "h", Start: ts(base), End: ts(base.Add(999 * time.Minute)), Step: dur(time.Minute)})
		if err != nil || len(resp.GetPoints()) != 1000 {
			t.Errorf("1000 points: %d, %v", len(resp.GetPoints()), err)
		}
		_, err = s.GetBalanceHistory(ctx, &goodwillv1.GetBalanceHistoryRequest{CustomerId: "nobody", Start: ts(base), End: ts(base)})
		wantCode(t, err, codes.NotFound)
	})

	t.Run("REST", func(t *testing.T) {
		start, end := base.Add(-day), base.Add(25*day)
		want, err := s.GetBalanceHistory(ctx, &goodwillv1.GetBalanceHistoryRequest{CustomerId: "h", Start: ts(start), End: ts(end), Step: dur(day)})
		if err != nil {
			t.Fatal(err)
		}
		q := url.Values{"start": {rfc3339(start)}, "end": {rfc3339(end)}, "step": {"86400s"}}
		r := s.rest(t, http.MethodGet, "/v1/customers/h/balance/history?"+q.Encode(), nil)
		wantREST(t, r, http.StatusOK)
		pts := list(t, r.Body, "points")
		if len(pts) != 27 || len(pts) != len(want.GetPoints()) {
			t.Fatalf("REST: %d points, want 27: %s", len(pts), r.Raw)
		}
		for i, p := range pts {
			w := want.GetPoints()[i]
			at, err := time.Parse(time.RFC3339Nano, str(t, p, "at"))
			if err != nil || !at.Equal(w.GetAt().AsTime()) || !relEq(num(t, p, "balance"), w.GetBalance(), relTol) ||
				str(t, p, "status") != w.GetStatus().String() || jsonInt(t, p, "eventCount") != w.GetEventCount() {
				t.Errorf("REST point %d: %v, gRPC %v", i, p, w)
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

// ---------------------------------------------------------------------------
// 5 and 6. ListBalances and SummarizeBalances over a seeded population.

// seeded is one customer of the seeded population.
type seeded struct {
	id, segment string
	value       float64
	limit       *float64
	// target is the balance when its single event occurred (0: no event).
	target  float64
	daysAgo float64
}

// seedPopulation creates 33 customers in segments gold, silver and "":
// varied balances, value weights and event times; one with overdraft limit
// -50 and balance near -10, two with no events (balance exactly 0).
func seedPopulation(t *testing.T, s *testServer, now time.Time) []seeded {
	t.Helper()
	targets := map[string][]float64{
		// The smallest ones (0.75, -0.6) stay above the default dust
		// threshold (0.5) over the days they are backdated.
		"gold":   {-1, -2.5, -4, -7, -20, 3, 12, 40, 0.75, -0.6},
		"silver": {-3, -9, -15, 1, 2, 5, 8, 25, -30, 60},
		"":       {-0.7, -6, -11, 4, 6.5, 9, 18, 33, -45, 100},
	}
	var pop []seeded
	n := 0
	for _, seg := range []string{"gold", "silver", ""} {
		for j, v := range targets[seg] {
			pop = append(pop, seeded{
				id:      fmt.Sprintf("cust-%02d", n),
				segment: seg,
				value:   float64(1 + n%4),
				target:  v,
				daysAgo: float64((n*7)%30) + 0.25*float64(j%3),
			})
			n++
		}
	}
	pop = append(pop,
		seeded{id: "limit-50", value: 2, limit: proto.Float64(-50), target: -10, daysAgo: 0.1},
		seeded{id: "zero-a", segment: "silver", value: 1},
		seeded{id: "zero-b", segment: "gold", value: 5},
	)
	var evs []*goodwillv1.Event
	for _, c := range pop {
		upsert(t, s, c.id, &goodwillv1.Customer{DisplayName: "Customer " + c.id, Segment: c.segment, Value: proto.Float64(c.value), OverdraftLimit: c.limit})
		at := now.Add(-time.Duration(c.daysAgo * float64(day)))
		switch {
		case c.target > 0:
			evs = append(evs, pev(c.id, delivery, c.target, at))
		case c.target < 0:
			evs = append(evs, pev(c.id, complaint, -c.target/8, at))
		}
	}
	recordBatch(t, s, evs...)
	return pop
}

// balancesAt reads every seeded customer's balance as of at.
func balancesAt(t *testing.T, s *testServer, pop []seeded, at time.Time) map[string]*goodwillv1.Balance {
	t.Helper()
	out := map[string]*goodwillv1.Balance{}
	for _, c := range pop {
		out[c.id] = balanceAt(t, s, c.id, at)
	}
	return out
}

// listAllBalances pages through ListBalances, checking page sizes, and
// returns the entries in order.
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
		size := int(req.GetPageSize())
		if size == 0 {
			size = 50
		}
		if len(resp.GetBalances()) > size || (resp.GetNextPageToken() != "" && len(resp.GetBalances()) != size) {
			t.Errorf("page %d holds %d entries (page size %d, next %q)", pages, len(resp.GetBalances()), size, resp.GetNextPageToken())
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
	now := time.Now().UTC().Truncate(time.Second)
	pop := seedPopulation(t, s, now)
	at := time.Now()
	bals := balancesAt(t, s, pop, at)
	byID := map[string]seeded{}
	for _, c := range pop {
		byID[c.id] = c
	}
	// The expected ascending order: by balance, ties by id.
	asc := make([]string, 0, len(pop))
	for _, c := range pop {
		asc = append(asc, c.id)
	}
	slices.SortFunc(asc, func(a, b string) int {
		return cmp.Or(cmp.Compare(bals[a].GetBalance(), bals[b].GetBalance()), cmp.Compare(a, b))
	})
	t.Logf("ascending: %v", asc)
	if b := bals["limit-50"]; b.GetStatus() != healthy || b.GetBalance() > -9 || b.GetBalance() < -10 {
		t.Fatalf("setup: limit-50 is %v", b)
	}

	type filter func(id string, b *goodwillv1.Balance, c seeded) bool
	expect := func(keep filter, desc bool) []string {
		var out []string
		for _, id := range asc {
			if keep(id, bals[id], byID[id]) {
				out = append(out, id)
			}
		}
		if desc {
			slices.Reverse(out)
		}
		return out
	}
	all := func(string, *goodwillv1.Balance, seeded) bool { return true }
	// No balance sits near a bound used below, so the moments of the reads
	// cannot matter.
	for _, b := range bals {
		for _, bound := range []float64{-5, 10, 1000, 2000} {
			if relEq(b.GetBalance(), bound, 1e-4) {
				t.Fatalf("setup: balance %v of %s is too close to bound %v", b.GetBalance(), b.GetCustomerId(), bound)
			}
		}
	}
	inRange := func(lo, hi *float64) filter {
		return func(_ string, b *goodwillv1.Balance, _ seeded) bool {
			v := b.GetBalance()
			return (lo == nil || v >= *lo) && (hi == nil || v <= *hi)
		}
	}
	f := proto.Float64
	for _, tc := range []struct {
		name    string
		req     *goodwillv1.ListBalancesRequest
		keep    filter
		wantLen int // checked when not zero
	}{
		{name: "ascending by default", req: &goodwillv1.ListBalancesRequest{PageSize: 1000}, keep: all, wantLen: 33},
		{name: "ascending", req: &goodwillv1.ListBalancesRequest{Order: ascending, PageSize: 1000}, keep: all},
		{name: "descending", req: &goodwillv1.ListBalancesRequest{Order: descending, PageSize: 1000}, keep: all},
		{name: "pages of 7 ascending", req: &goodwillv1.ListBalancesRequest{PageSize: 7}, keep: all},
		{name: "pages of 7 descending", req: &goodwillv1.ListBalancesRequest{Order: descending, PageSize: 7}, keep: all},
		{name: "segment gold", req: &goodwillv1.ListBalancesRequest{Segment: "gold"},
			keep: func(_ string, _ *goodwillv1.Balance, c seeded) bool { return c.segment == "gold" }, wantLen: 11},
		{name: "segment silver descending in pages of 3", req: &goodwillv1.ListBalancesRequest{Segment: "silver", Order: descending, PageSize: 3},
			keep: func(_ string, _ *goodwillv1.Balance, c seeded) bool { return c.segment == "silver" }, wantLen: 11},
		{name: "unknown segment", req: &goodwillv1.ListBalancesRequest{Segment: "platinum"},
			keep: func(string, *goodwillv1.Balance, seeded) bool { return false }},
		{name: "overdrawn", req: &goodwillv1.ListBalancesRequest{Status: overdrawn},
			keep: func(_ string, b *goodwillv1.Balance, _ seeded) bool {
				return b.GetBalance() < 0 && b.GetCustomerId() != "limit-50"
			}, wantLen: 14},
		{name: "healthy includes the customer within its limit", req: &goodwillv1.ListBalancesRequest{Status: healthy, PageSize: 7},
			keep: func(_ string, b *goodwillv1.Balance, _ seeded) bool {
				return b.GetBalance() >= 0 || b.GetCustomerId() == "limit-50"
			}, wantLen: 19},
		{name: "overdrawn gold descending", req: &goodwillv1.ListBalancesRequest{Status: overdrawn, Segment: "gold", Order: descending, PageSize: 2},
			keep: func(_ string, b *goodwillv1.Balance, c seeded) bool { return c.segment == "gold" && b.GetBalance() < 0 }},
		{name: "min -5", req: &goodwillv1.ListBalancesRequest{MinBalance: f(-5)}, keep: inRange(f(-5), nil)},
		{name: "max 10", req: &goodwillv1.ListBalancesRequest{MaxBalance: f(10), Order: descending}, keep: inRange(nil, f(10))},
		{name: "between -5 and 10 in pages of 7", req: &goodwillv1.ListBalancesRequest{MinBalance: f(-5), MaxBalance: f(10), PageSize: 7}, keep: inRange(f(-5), f(10))},
		{name: "min 0 includes zero balances", req: &goodwillv1.ListBalancesRequest{MinBalance: f(0)}, keep: inRange(f(0), nil)},
		{name: "max 0 includes zero balances", req: &goodwillv1.ListBalancesRequest{MaxBalance: f(0)}, keep: inRange(nil, f(0))},
		{name: "min 0 max 0 is the zero balances", req: &goodwillv1.ListBalancesRequest{MinBalance: f(0), MaxBalance: f(0)}, keep: inRange(f(0), f(0)), wantLen: 2},
		{name: "empty range", req: &goodwillv1.ListBalancesRequest{MinBalance: f(1000), MaxBalance: f(2000)}, keep: inRange(f(1000), f(2000))},
		{name: "overdrawn with min -5 descending", req: &goodwillv1.ListBalancesRequest{Status: overdrawn, MinBalance: f(-5), Order: descending},
			keep: func(id string, b *goodwillv1.Balance, c seeded) bool {
				return b.GetStatus() == overdrawn && inRange(f(-5), nil)(id, b, c)
			}},
		{name: "healthy with max -5", req: &goodwillv1.ListBalancesRequest{Status: healthy, MaxBalance: f(-5)},
			keep: func(id string, b *goodwillv1.Balance, _ seeded) bool { return id == "limit-50" }, wantLen: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := listAllBalances(t, s, tc.req)
			want := expect(tc.keep, tc.req.GetOrder() == descending)
			if !slices.Equal(entryIDs(got), want) {
				t.Errorf("got  %v\nwant %v", entryIDs(got), want)
			}
			if tc.wantLen != 0 && len(want) != tc.wantLen {
				t.Errorf("setup: %d expected entries, meant %d", len(want), tc.wantLen)
			}
			for _, e := range got {
				b, c := e.GetBalance(), byID[e.GetBalance().GetCustomerId()]
				if e.GetSegment() != c.segment || e.GetValue() != c.value || e.GetDisplayName() != "Customer "+c.id {
					t.Errorf("entry %s: segment %q value %v name %q", c.id, e.GetSegment(), e.GetValue(), e.GetDisplayName())
				}
				if b.GetStatus() != bals[c.id].GetStatus() || b.GetPolicyVersion() != 1 || b.GetEventCount() != bals[c.id].GetEventCount() ||
					!relEq(b.GetBalance(), bals[c.id].GetBalance(), 1e-6) {
					t.Errorf("entry %s: %v, GetBalance %v", c.id, b, bals[c.id])
				}
				if tc.req.MinBalance != nil && b.GetBalance() < tc.req.GetMinBalance() || tc.req.MaxBalance != nil && b.GetBalance() > tc.req.GetMaxBalance() {
					t.Errorf("entry %s balance %v is outside [%v, %v]", c.id, b.GetBalance(), tc.req.MinBalance, tc.req.MaxBalance)
				}
			}
		})
	}

	t.Run("pages stay stable while customers are added", func(t *testing.T) {
		for _, order := range []goodwillv1.BalanceOrder{ascending, descending} {
			// A segment of its own per pass, so nothing else interferes.
			seg := "stable-" + order.String()
			req := &goodwillv1.ListBalancesRequest{Order: order, PageSize: 7, Segment: seg}
			var ids []string
			for i, v := range []float64{-40, -12, -3, -1, 2, 5, 9, 14, 22, 35, 50, 70, 90, 120} {
				id := fmt.Sprintf("stable-%v-%02d", order, i)
				ids = append(ids, id)
				upsert(t, s, id, &goodwillv1.Customer{Segment: seg})
				if v > 0 {
					record(t, s, pev(id, delivery, v, now.Add(-time.Duration(i)*day)))
				} else {
					record(t, s, pev(id, complaint, -v/8, now.Add(-time.Duration(i)*day)))
				}
			}
			want := listAllBalances(t, s, req)
			first, err := s.ListBalances(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			// New customers land before, inside and after the first page.
			for i, v := range []float64{-100, -2, 0.5, 3, 60, 500} {
				id := fmt.Sprintf("stable-%v-new-%d", order, i)
				if v > 0 {
					record(t, s, pev(id, delivery, v, now))
				} else {
					record(t, s, pev(id, complaint, -v/8, now))
				}
				upsert(t, s, id, &goodwillv1.Customer{Segment: seg})
			}
			got := first.GetBalances()
			req.PageToken = first.GetNextPageToken()
			rest := listAllBalances(t, s, req)
			got = append(got, rest...)
			var originals []string
			seen := map[string]bool{}
			for _, id := range entryIDs(got) {
				if seen[id] {
					t.Errorf("%v: %s listed twice", order, id)
				}
				seen[id] = true
				if !strings.Contains(id, "-new-") {
					originals = append(originals, id)
				}
			}
			if !slices.Equal(originals, entryIDs(want)) {
				t.Errorf("%v: originals %v\nwant %v", order, originals, entryIDs(want))
			}
			if len(want) != len(ids) {
				t.Errorf("setup: %d originals listed, want %d", len(want), len(ids))
			}
			// A new customer is listed exactly when it sorts after the
			// first page's last entry.
			cursor := first.GetBalances()[len(first.GetBalances())-1].GetBalance().GetCustomerId()
			at := time.Now()
			cb := balanceAt(t, s, cursor, at).GetBalance()
			for i := range 6 {
				id := fmt.Sprintf("stable-%v-new-%d", order, i)
				v := balanceAt(t, s, id, at).GetBalance()
				after := v > cb
				if order == descending {
					after = v < cb
				}
				if seen[id] != after {
					t.Errorf("%v: new %s (balance %.3f, cursor %.3f) listed=%v, want %v", order, id, v, cb, seen[id], after)
				}
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			req   *goodwillv1.ListBalancesRequest
			field string
		}{
			{name: "garbage page token", req: &goodwillv1.ListBalancesRequest{PageToken: "not a token!"}, field: "page_token"},
			{name: "base64 page token without a cursor", req: &goodwillv1.ListBalancesRequest{PageToken: "Zm9v"}, field: "page_token"},
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
		path := "/v1/balances?order=BALANCE_ORDER_DESCENDING&segment=gold&status=BALANCE_STATUS_OVERDRAWN&minBalance=-5&pageSize=2"
		want := expect(func(_ string, b *goodwillv1.Balance, c seeded) bool {
			return c.segment == "gold" && b.GetBalance() < 0 && b.GetBalance() >= -5
		}, true)
		if len(want) != 4 {
			t.Fatalf("setup: %d gold customers in [-5, 0), want 4: %v", len(want), want)
		}
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
			if len(entries) > 2 {
				t.Errorf("page of %d entries, page size 2", len(entries))
			}
			for _, e := range entries {
				id := str(t, e, "balance", "customerId")
				got = append(got, id)
				if str(t, e, "segment") != "gold" || str(t, e, "balance", "status") != "BALANCE_STATUS_OVERDRAWN" ||
					!relEq(num(t, e, "balance", "balance"), bals[id].GetBalance(), 1e-6) || num(t, e, "value") != byID[id].value {
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
		if !slices.Equal(got, want) {
			t.Errorf("REST: %v, want %v", got, want)
		}
	})
}

// percentileOf is the nearest-rank percentile: sorted[ceil(p*n)-1].
func percentileOf(sorted []float64, p float64) float64 {
	return sorted[int(math.Ceil(p*float64(len(sorted))))-1]
}

func TestSummarizeBalances(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	pop := seedPopulation(t, s, now)

	resp, err := s.SummarizeBalances(ctx, &goodwillv1.SummarizeBalancesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetPolicyVersion() != 1 || resp.GetAsOf() == nil {
		t.Fatalf("summary: %v", resp)
	}
	at := resp.GetAsOf().AsTime()
	if d := time.Since(at); d < 0 || d > time.Minute {
		t.Errorf("as_of %v is not now", at)
	}
	bals := balancesAt(t, s, pop, at)

	type stats struct {
		customers, overdrawn int64
		mean, p10, p50, p90  float64
		risk                 float64
	}
	expected := func(keep func(seeded) bool) stats {
		var vals []float64
		var st stats
		for _, c := range pop {
			if !keep(c) {
				continue
			}
			b := bals[c.id]
			vals = append(vals, b.GetBalance())
			st.customers++
			st.mean += b.GetBalance()
			if b.GetStatus() == overdrawn {
				st.overdrawn++
				st.risk += c.value
			}
		}
		if len(vals) == 0 {
			return st
		}
		slices.Sort(vals)
		st.mean /= float64(len(vals))
		st.p10, st.p50, st.p90 = percentileOf(vals, 0.1), percentileOf(vals, 0.5), percentileOf(vals, 0.9)
		return st
	}
	check := func(t *testing.T, name string, got *goodwillv1.SegmentSummary, want stats) {
		t.Helper()
		g := stats{got.GetCustomers(), got.GetOverdrawn(), got.GetMean(), got.GetP10(), got.GetP50(), got.GetP90(), got.GetValueAtRisk()}
		if g.customers != want.customers || g.overdrawn != want.overdrawn || !relEq(g.mean, want.mean, 1e-9) || !relEq(g.p10, want.p10, 1e-9) ||
			!relEq(g.p50, want.p50, 1e-9) || !relEq(g.p90, want.p90, 1e-9) || !relEq(g.risk, want.risk, 1e-12) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", name, g, want)
		}
	}
	seg := func(name string) func(seeded) bool { return func(c seeded) bool { return c.segment == name } }

	rows := resp.GetSegments()
	var names []string
	for _, r := range rows {
		names = append(names, fmt.Sprintf("%q/overall=%v", r.GetSegment(), r.GetOverall()))
	}
	if len(rows) != 4 || rows[3].GetOverall() != true || rows[3].GetSegment() != "" || rows[0].GetOverall() || rows[1].GetOverall() || rows[2].GetOverall() {
		t.Fatalf("rows: %v, want the segments \"\", gold, silver and an overall row", names)
	}
	for _, tc := range []struct {
		name string
		row  *goodwillv1.SegmentSummary
		keep func(seeded) bool
		// Sanity of the population, so the test cannot pass vacuously.
		wantCustomers, wantOverdrawn int64
	}{
		{name: "no segment", row: rows[0], keep: seg(""), wantCustomers: 11, wantOverdrawn: 4},
		{name: "gold", row: rows[1], keep: seg("gold"), wantCustomers: 11, wantOverdrawn: 6},
		{name: "silver", row: rows[2], keep: seg("silver"), wantCustomers: 11, wantOverdrawn: 4},
		{name: "overall", row: rows[3], keep: func(seeded) bool { return true }, wantCustomers: 33, wantOverdrawn: 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "overall" && tc.row.GetSegment() != tc.name && !(tc.name == "no segment" && tc.row.GetSegment() == "") {
				t.Fatalf("row segment %q", tc.row.GetSegment())
			}
			want := expected(tc.keep)
			if want.customers != tc.wantCustomers || want.overdrawn != tc.wantOverdrawn {
				t.Fatalf("setup: %d customers, %d overdrawn; meant %d and %d", want.customers, want.overdrawn, tc.wantCustomers, tc.wantOverdrawn)
			}
			check(t, tc.name, tc.row, want)
		})
	}

	t.Run("segment filter", func(t *testing.T) {
		r, err := s.SummarizeBalances(ctx, &goodwillv1.SummarizeBalancesRequest{Segment: "gold"})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetSegments()) != 1 || r.GetSegments()[0].GetSegment() != "gold" || r.GetSegments()[0].GetOverall() {
			t.Fatalf("gold only: %v", r.GetSegments())
		}
		// Balances decay between the two calls: compare at this call's as_of.
		b := balancesAt(t, s, pop, r.GetAsOf().AsTime())
		bals = b
		check(t, "gold", r.GetSegments()[0], expected(seg("gold")))

		r, err = s.SummarizeBalances(ctx, &goodwillv1.SummarizeBalancesRequest{Segment: "platinum"})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetSegments()) != 1 || r.GetSegments()[0].GetCustomers() != 0 || r.GetSegments()[0].GetSegment() != "platinum" {
			t.Errorf("unknown segment: %v", r.GetSegments())
		}
	})

	t.Run("REST", func(t *testing.T) {
		r := s.rest(t, http.MethodGet, "/v1/balances:summarize?segment=gold", nil)
		wantREST(t, r, http.StatusOK)
		rows := list(t, r.Body, "segments")
		if len(rows) != 1 {
			t.Fatalf("REST: %s", r.Raw)
		}
		at, err := time.Parse(time.RFC3339Nano, str(t, r.Body, "asOf"))
		if err != nil {
			t.Fatal(err)
		}
		bals = balancesAt(t, s, pop, at)
		want := expected(seg("gold"))
		row := rows[0]
		got := &goodwillv1.SegmentSummary{
			Segment: str(t, row, "segment"), Customers: jsonInt(t, row, "customers"), Overdrawn: jsonInt(t, row, "overdrawn"),
			Mean: num(t, row, "mean"), P10: num(t, row, "p10"), P50: num(t, row, "p50"), P90: num(t, row, "p90"), ValueAtRisk: num(t, row, "valueAtRisk"),
		}
		if got.GetSegment() != "gold" || get(row, "overall") != false {
			t.Errorf("REST row: %v", row)
		}
		check(t, "REST gold", got, want)
	})
}

// ---------------------------------------------------------------------------
// 7. ListOutreach.

// outreachAll pages through an outreach list with page size size.
func outreachAll(t *testing.T, s *testServer, purpose goodwillv1.OutreachPurpose, size int32) []*goodwillv1.OutreachEntry {
	t.Helper()
	var out []*goodwillv1.OutreachEntry
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("more than 100 pages")
		}
		resp, err := s.ListOutreach(t.Context(), &goodwillv1.ListOutreachRequest{Purpose: purpose, PageSize: size, PageToken: tok})
		if err != nil {
			t.Fatalf("outreach %v: %v", purpose, err)
		}
		if size > 0 && len(resp.GetEntries()) > int(size) {
			t.Errorf("page of %d entries, page size %d", len(resp.GetEntries()), size)
		}
		out = append(out, resp.GetEntries()...)
		if tok = resp.GetNextPageToken(); tok == "" {
			return out
		}
	}
}

func outreachIDs(es []*goodwillv1.OutreachEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.GetCustomerId())
	}
	return out
}

func entryOf(es []*goodwillv1.OutreachEntry, id string) (*goodwillv1.OutreachEntry, int) {
	for i, e := range es {
		if e.GetCustomerId() == id {
			return e, i
		}
	}
	return nil, -1
}

func TestOutreach(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	at := now.Add(-10 * day)

	recordBatch(t, s,
		// Value 3 at -10 against value 1 at -20.
		pev("v3", complaint, 1.25, at),
		pev("v1", complaint, 2.5, at),
		// The same balance; one outage unanswered, one answered.
		pev("noresp", outage, 1, at),
		pev("noresp", engagement, 0.625, at.Add(time.Hour)),
		pev("answered", outage, 1, at),
		pev("answered", response, 1, at.Add(time.Hour)),
		// Healthy and rising.
		pev("happy", delivery, 1, now.Add(-6*day)),
		pev("happy", delivery, 1, now.Add(-4*day)),
		pev("happy", delivery, 1, now.Add(-2*day)),
		pev("adv-big", delivery, 10, now.Add(-5*day)),
		pev("adv-big", delivery, 10, now.Add(-3*day)),
		pev("adv-big", delivery, 10, now.Add(-day)),
		pev("adv-mid", engagement, 5, now.Add(-2*day)),
		// A high balance from long ago, losing lately: positive, not rising.
		pev("adv-falling", delivery, 100, now.Add(-150*day)),
		pev("adv-falling", complaint, 1, now.Add(-day)),
	)
	// The value weight set after the events still counts.
	upsert(t, s, "v3", &goodwillv1.Customer{DisplayName: "Val Three", Segment: "gold", Value: proto.Float64(3)})

	if b := balanceAt(t, s, "adv-falling", now); b.GetBalance() <= 10 {
		t.Fatalf("setup: adv-falling balance %v, want well above zero", b.GetBalance())
	}
	if a, b := balanceAt(t, s, "noresp", now).GetBalance(), balanceAt(t, s, "answered", now).GetBalance(); !relEq(a, b, 1e-9) || a >= 0 {
		t.Fatalf("setup: noresp %v and answered %v should be equal and negative", a, b)
	}

	checkRecovery := func(t *testing.T, es []*goodwillv1.OutreachEntry) {
		t.Helper()
		for i, e := range es {
			if e.GetBalance().GetBalance() >= 0 {
				t.Errorf("RECOVERY lists %s with balance %v", e.GetCustomerId(), e.GetBalance().GetBalance())
			}
			if i > 0 && e.GetPriority() > es[i-1].GetPriority()*(1+1e-9) {
				t.Errorf("RECOVERY priority rises at %d: %v after %v", i, e.GetPriority(), es[i-1].GetPriority())
			}
			if len(e.GetReasons()) == 0 {
				t.Errorf("%s has no reasons", e.GetCustomerId())
			}
		}
	}

	t.Run("recovery", func(t *testing.T) {
		es := outreachAll(t, s, recovery, 0)
		t.Logf("recovery: %v", outreachIDs(es))
		checkRecovery(t, es)
		v3, i3 := entryOf(es, "v3")
		v1, i1 := entryOf(es, "v1")
		if v3 == nil || v1 == nil || i3 > i1 {
			t.Errorf("v3 (value 3, balance -10) at %d, v1 (value 1, balance -20) at %d: want v3 first", i3, i1)
		}
		if v3 != nil {
			if want := -v3.GetBalance().GetBalance() * 3 * 2; !relEq(v3.GetPriority(), want, 1e-6) {
				t.Errorf("v3 priority %v, want %v (deficit x value 3 x 2 unanswered)", v3.GetPriority(), want)
			}
			if v3.GetValue() != 3 || v3.GetSegment() != "gold" || v3.GetDisplayName() != "Val Three" ||
				!slices.ContainsFunc(v3.GetReasons(), func(r string) bool { return strings.Contains(r, "value weight 3") }) {
				t.Errorf("v3 entry: %v", v3)
			}
		}
		nr, inr := entryOf(es, "noresp")
		an, ian := entryOf(es, "answered")
		if nr == nil || an == nil || inr > ian {
			t.Fatalf("noresp at %d, answered at %d: want the unanswered outage first", inr, ian)
		}
		join := func(e *goodwillv1.OutreachEntry) string { return strings.Join(e.GetReasons(), "; ") }
		if r := join(nr); !strings.Contains(r, "no response") || !strings.Contains(r, "balance") || !strings.Contains(r, "outage") {
			t.Errorf("noresp reasons %q: want the unanswered outage and the balance", r)
		}
		if r := join(an); strings.Contains(r, "no response") || !strings.Contains(r, "answered") || !strings.Contains(r, "balance") {
			t.Errorf("answered reasons %q", r)
		}
		if !relEq(nr.GetPriority(), 2*an.GetPriority(), 1e-6) {
			t.Errorf("noresp priority %v, answered %v: want double", nr.GetPriority(), an.GetPriority())
		}
		for _, id := range []string{"happy", "adv-big", "adv-mid", "adv-falling"} {
			if e, _ := entryOf(es, id); e != nil {
				t.Errorf("healthy %s is on the RECOVERY list", id)
			}
		}
	})

	t.Run("advocacy", func(t *testing.T) {
		es := outreachAll(t, s, advocacy, 0)
		t.Logf("advocacy: %v", outreachIDs(es))
		want := []string{"adv-big", "adv-mid", "happy"}
		var got []string
		for _, id := range outreachIDs(es) {
			if slices.Contains(want, id) {
				got = append(got, id)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("advocates in order %v, want %v", got, want)
		}
		for i, e := range es {
			if e.GetBalance().GetBalance() <= 0 {
				t.Errorf("ADVOCACY lists %s with balance %v", e.GetCustomerId(), e.GetBalance().GetBalance())
			}
			if i > 0 && e.GetBalance().GetBalance() > es[i-1].GetBalance().GetBalance() {
				t.Errorf("ADVOCACY not highest balance first at %d", i)
			}
			if !relEq(e.GetPriority(), e.GetBalance().GetBalance(), 1e-9) || len(e.GetReasons()) == 0 ||
				!strings.Contains(e.GetReasons()[0], "rising") {
				t.Errorf("advocate %s: priority %v reasons %q", e.GetCustomerId(), e.GetPriority(), e.GetReasons())
			}
		}
		for _, id := range []string{"adv-falling", "v1", "v3", "noresp", "answered"} {
			if e, _ := entryOf(es, id); e != nil {
				t.Errorf("%s is on the ADVOCACY list", id)
			}
		}
	})

	t.Run("the worked example", func(t *testing.T) {
		upsert(t, s, "dana", &goodwillv1.Customer{DisplayName: "Dana", Segment: "family", Value: proto.Float64(2)})
		// 1. Twenty reliable deliveries over two months.
		var evs []*goodwillv1.Event
		want := 0.0
		for i := 60; i >= 3; i -= 3 {
			evs = append(evs, pev("dana", delivery, 1, now.Add(-time.Duration(i+20)*day)))
			want += fade(time.Duration(i) * day)
		}
		recordBatch(t, s, evs...)
		if b := balanceAt(t, s, "dana", now.Add(-20*day)); !relEq(b.GetBalance(), want, relTol) || b.GetStatus() != healthy {
			t.Errorf("after the deliveries: %v, want %v healthy", b.GetBalance(), want)
		}
		if e, _ := entryOf(outreachAll(t, s, recovery, 0), "dana"); e != nil {
			t.Errorf("healthy dana is on the RECOVERY list")
		}
		// 2. A three-hour outage, 20 days ago, without warning.
		if b := record(t, s, pev("dana", outage, 3, now.Add(-20*day))).GetBalance(); b.GetStatus() != overdrawn {
			t.Errorf("after the outage: %v", b)
		}
		es := outreachAll(t, s, recovery, 0)
		checkRecovery(t, es)
		e2, _ := entryOf(es, "dana")
		if e2 == nil {
			t.Fatalf("dana is not on the RECOVERY list after the outage: %v", outreachIDs(es))
		}
		if r := strings.Join(e2.GetReasons(), "; "); !strings.Contains(r, "no response") || !strings.Contains(r, "value weight 2") {
			t.Errorf("reasons after the outage: %q", r)
		}
		// 3. The next day: a bill credit of 5 and a personal response.
		record(t, s, pev("dana", credit, 5, now.Add(-19*day)))
		if b := record(t, s, pev("dana", response, 1, now.Add(-19*day))).GetBalance(); b.GetStatus() != overdrawn {
			t.Errorf("after the hollow credit and response: %v", b)
		}
		e3, _ := entryOf(outreachAll(t, s, recovery, 0), "dana")
		if e3 == nil {
			t.Fatal("dana left the RECOVERY list after a hollow credit and response")
		}
		if r := strings.Join(e3.GetReasons(), "; "); !strings.Contains(r, "answered") || strings.Contains(r, "no response") {
			t.Errorf("reasons after the response: %q", r)
		}
		if e3.GetPriority() >= e2.GetPriority()/2 {
			t.Errorf("priority %v after the response, %v before: want less than half", e3.GetPriority(), e2.GetPriority())
		}
		// 4. Two weeks of reliable service, then her suggestion is adopted.
		evs = nil
		for i := 16; i >= 3; i-- {
			evs = append(evs, pev("dana", delivery, 1, now.Add(-time.Duration(i)*day)))
		}
		evs = append(evs, pev("dana", suggestion, 1, now.Add(-2*day)))
		recordBatch(t, s, evs...)
		if b := balanceAt(t, s, "dana", now); b.GetStatus() != healthy || b.GetBalance() <= 0 {
			t.Errorf("after climbing back: %v", b)
		}
		if e, _ := entryOf(outreachAll(t, s, recovery, 0), "dana"); e != nil {
			t.Errorf("dana is still on the RECOVERY list after climbing back: %v", e)
		}
		if e, _ := entryOf(outreachAll(t, s, advocacy, 0), "dana"); e == nil {
			t.Errorf("dana, healthy and rising, is not on the ADVOCACY list")
		}
	})

	t.Run("pages of 2", func(t *testing.T) {
		for _, p := range []goodwillv1.OutreachPurpose{recovery, advocacy} {
			all := outreachIDs(outreachAll(t, s, p, 1000))
			paged := outreachIDs(outreachAll(t, s, p, 2))
			if len(all) < 3 || !slices.Equal(all, paged) {
				t.Errorf("%v: pages of 2 %v, one page %v", p, paged, all)
			}
		}
	})

	t.Run("REST", func(t *testing.T) {
		want := outreachAll(t, s, recovery, 0)
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
				str(t, e, "balance", "status") != w.GetBalance().GetStatus().String() {
				t.Errorf("REST entry %d: %v, gRPC %v", i, e, w)
			}
		}
		r = s.rest(t, http.MethodGet, "/v1/outreach?purpose=OUTREACH_PURPOSE_ADVOCACY&pageSize=1", nil)
		wantREST(t, r, http.StatusOK)
		if es := list(t, r.Body, "entries"); len(es) != 1 || str(t, es[0], "customerId") != "adv-big" || str(t, r.Body, "nextPageToken") == "" {
			t.Errorf("REST advocacy page: %s", r.Raw)
		}
		wantRESTError(t, s.rest(t, http.MethodGet, "/v1/outreach", nil), http.StatusBadRequest, codes.InvalidArgument, "purpose")
	})

	t.Run("errors", func(t *testing.T) {
		_, err := s.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{})
		wantInvalid(t, err, "purpose")
		_, err = s.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: recovery, PageToken: "nope"})
		wantInvalid(t, err, "page_token")
		_, err = s.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: recovery, PageSize: -1})
		wantInvalid(t, err, "page_size")
	})
}

// TestFadingUnderTheLongestHalfLife checks rule 5 (fading) under the longest
// half-life a policy may have, 100 years, far into the future.
func TestFadingUnderTheLongestHalfLife(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	g, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	p := proto.Clone(g.GetPolicy()).(*goodwillv1.Policy)
	century := 100 * 365 * day
	p.HalfLife = durationpb.New(century)
	set, err := s.SetPolicy(ctx, &goodwillv1.SetPolicyRequest{Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, s, set.GetJob().GetJobId()); j.GetState() != goodwillv1.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job: %v", j)
	}
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	record(t, s, pev("c", delivery, 64, base))
	record(t, s, pev("d", delivery, 32, base))
	for _, tc := range []struct {
		name      string
		centuries int
		want      float64
	}{
		{name: "at once", centuries: 0, want: 64},
		{name: "one half-life", centuries: 1, want: 32},
		{name: "two half-lives", centuries: 2, want: 16},
		// Regression: decay once used time.Time.Sub, which saturates at about 292 years, so balances stopped fading.
		{name: "three half-lives", centuries: 3, want: 8},
		{name: "four half-lives", centuries: 4, want: 4},
		{name: "six half-lives", centuries: 6, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := base.Add(time.Duration(tc.centuries) * century)
			if tc.centuries > 2 {
				at = base.AddDate(0, 0, tc.centuries*36500) // beyond what a Duration holds
			}
			b := balanceAt(t, s, "c", at)
			if !relEq(b.GetBalance(), tc.want, 1e-9) || b.GetPolicyVersion() != 2 {
				t.Errorf("as of %v: %v (policy %d), want %v", at.Format(time.DateOnly), b.GetBalance(), b.GetPolicyVersion(), tc.want)
			}
			// A customer with half the points keeps half the balance.
			if d := balanceAt(t, s, "d", at).GetBalance(); !relEq(d, b.GetBalance()/2, 1e-9) {
				t.Errorf("as of %v: d %v, c %v", at.Format(time.DateOnly), d, b.GetBalance())
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 8. Versioned policies.

// waitJob polls a recompute job until it leaves RUNNING (20 s at most).
func waitJob(t *testing.T, s *testServer, id string) *goodwillv1.RecomputeJob {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := s.GetRecomputeJob(t.Context(), &goodwillv1.GetRecomputeJobRequest{JobId: id})
		if err != nil {
			t.Fatalf("job %s: %v", id, err)
		}
		if j := resp.GetJob(); j.GetState() != goodwillv1.JobState_JOB_STATE_RUNNING {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still running after 20s: %v", id, resp.GetJob())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestVersionedPolicy(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	x := now // a fixed moment to compare balances at

	// Version 1 is the default policy.
	v1, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	wantWeights := map[string]float64{
		"EVENT_KIND_CREDIT": 2, "EVENT_KIND_RELIABLE_DELIVERY": 1, "EVENT_KIND_OUTAGE": -12, "EVENT_KIND_RESPONSE": 5,
		"EVENT_KIND_PROACTIVE_NOTICE": 1, "EVENT_KIND_COMPLAINT": -8, "EVENT_KIND_SUGGESTION_ADOPTED": 10, "EVENT_KIND_ENGAGEMENT": 2,
	}
	p1 := v1.GetPolicy()
	if v1.GetActiveVersion() != 1 || p1.GetVersion() != 1 || !maps.Equal(p1.GetWeights(), wantWeights) ||
		p1.GetHalfLife().AsDuration() != halfLife || p1.GetNotice().GetWindow().AsDuration() != 72*time.Hour || p1.GetNotice().GetFactor() != 0.5 ||
		p1.GetRelationship().GetScale() != 50 || p1.GetRelationship().GetMinFactor() != 0.25 || p1.GetRelationship().GetMaxFactor() != 2 ||
		p1.GetDefaultOverdraftLimit() != 0 || p1.GetTrendHalfLife().AsDuration() != 30*day {
		t.Fatalf("version 1: %v", v1)
	}

	r := s.rest(t, http.MethodGet, "/v1/policy", nil)
	wantREST(t, r, http.StatusOK)
	if jsonInt(t, r.Body, "policy", "version") != 1 || jsonInt(t, r.Body, "activeVersion") != 1 ||
		num(t, r.Body, "policy", "weights", "EVENT_KIND_OUTAGE") != -12 || str(t, r.Body, "policy", "halfLife") != "7776000s" {
		t.Errorf("REST GET /v1/policy: %s", r.Raw)
	}

	recordBatch(t, s,
		pev("p-outage", outage, 1, now.Add(-10*day)),
		pev("p-complaint", complaint, 2, now.Add(-10*day)),
		pev("p-delivery", delivery, 3, now.Add(-10*day)),
		// Under v1 the outage leaves the balance positive and the response
		// counts in the relationship; under v2 it overdraws: hollow.
		pev("p-mixed", delivery, 20, now.Add(-30*day)),
		pev("p-mixed", outage, 1, now.Add(-20*day)),
		pev("p-mixed", response, 1, now.Add(-19*day)),
	)
	ids := []string{"p-complaint", "p-delivery", "p-mixed", "p-outage"}
	old := map[string]float64{}
	for _, id := range ids {
		old[id] = balanceAt(t, s, id, x).GetBalance()
	}
	rec1 := outreachIDs(outreachAll(t, s, recovery, 0))
	if !slices.Equal(rec1, []string{"p-complaint", "p-outage"}) {
		t.Errorf("RECOVERY under version 1: %v, want [p-complaint p-outage]", rec1)
	}

	t.Run("bad policies are rejected", func(t *testing.T) {
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
			{name: "NaN weight", mutate: func(p *goodwillv1.Policy) { p.Weights["EVENT_KIND_OUTAGE"] = math.NaN() }, field: "EVENT_KIND_OUTAGE"},
			{name: "min_factor 2", mutate: func(p *goodwillv1.Policy) { p.Relationship.MinFactor = 2 }, field: "policy.relationship.min_factor"},
			{name: "relationship kind REVERSAL", mutate: func(p *goodwillv1.Policy) {
				p.Relationship.Kinds = append(p.Relationship.Kinds, goodwillv1.EventKind_EVENT_KIND_REVERSAL)
			}, field: "policy.relationship.kinds"},
			{name: "notice factor 1.5", mutate: func(p *goodwillv1.Policy) { p.Notice.Factor = 1.5 }, field: "policy.notice.factor"},
			{name: "positive default_overdraft_limit", mutate: func(p *goodwillv1.Policy) { p.DefaultOverdraftLimit = 5 }, field: "policy.default_overdraft_limit"},
			{name: "missing relationship", mutate: func(p *goodwillv1.Policy) { p.Relationship = nil }, field: "policy.relationship"},
			{name: "missing notice", mutate: func(p *goodwillv1.Policy) { p.Notice = nil }, field: "policy.notice"},
			{name: "missing trend_half_life", mutate: func(p *goodwillv1.Policy) { p.TrendHalfLife = nil }, field: "policy.trend_half_life"},
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
		_, err = s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{Version: 2})
		wantCode(t, err, codes.NotFound)
	})
	if t.Failed() {
		return
	}

	// Version 2: outages weigh double.
	p2 := proto.Clone(p1).(*goodwillv1.Policy)
	p2.Weights["EVENT_KIND_OUTAGE"] *= 2
	set, err := s.SetPolicy(ctx, &goodwillv1.SetPolicyRequest{Policy: p2})
	if err != nil {
		t.Fatal(err)
	}
	if set.GetPolicy().GetVersion() != 2 || set.GetPolicy().GetWeights()["EVENT_KIND_OUTAGE"] != -24 || set.GetJob().GetJobId() == "" ||
		set.GetJob().GetPolicyVersion() != 2 || set.GetPolicy().GetCreatedAt() == nil {
		t.Fatalf("SetPolicy: %v", set)
	}
	job := waitJob(t, s, set.GetJob().GetJobId())
	if job.GetState() != goodwillv1.JobState_JOB_STATE_SUCCEEDED || job.GetCustomersDone() != job.GetCustomersTotal() ||
		job.GetCustomersTotal() != int64(len(ids)) || job.GetFinishedAt() == nil || job.GetError() != "" {
		t.Fatalf("job: %v", job)
	}

	for _, id := range ids {
		b := balanceAt(t, s, id, x)
		if b.GetPolicyVersion() != 2 {
			t.Errorf("%s: policy_version %d", id, b.GetPolicyVersion())
		}
		want := old[id]
		switch id {
		case "p-outage":
			want = 2 * old[id]
		case "p-mixed":
			// Delivery 20 at -30d, outage -24 at -20d, a hollow response at -19d.
			v := 20*fade(10*day) - 24
			v = v*fade(day) + 5*0.25
			want = v * fade(19*day)
		}
		if !relEq(b.GetBalance(), want, 1e-9) {
			t.Errorf("%s under version 2: %v, want %v (version 1: %v)", id, b.GetBalance(), want, old[id])
		}
	}
	if ec := topOf(t, explainAt(t, s, "p-mixed", x, 100), response, time.Time{}); ec.GetRule() != "hollow" {
		t.Errorf("p-mixed's response under version 2: rule %q, want hollow", ec.GetRule())
	}
	lb, err := s.ListBalances(ctx, &goodwillv1.ListBalancesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if lb.GetPolicyVersion() != 2 || len(lb.GetBalances()) != len(ids) {
		t.Errorf("ListBalances: version %d, %d entries", lb.GetPolicyVersion(), len(lb.GetBalances()))
	}
	for _, e := range lb.GetBalances() {
		if e.GetBalance().GetPolicyVersion() != 2 {
			t.Errorf("ListBalances entry %s at version %d", e.GetBalance().GetCustomerId(), e.GetBalance().GetPolicyVersion())
		}
	}
	if got := entryIDs(lb.GetBalances()); !slices.Equal(got, []string{"p-outage", "p-complaint", "p-mixed", "p-delivery"}) {
		t.Errorf("ListBalances order under version 2: %v", got)
	}
	rec2, err := s.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: recovery})
	if err != nil {
		t.Fatal(err)
	}
	if got := outreachIDs(rec2.GetEntries()); rec2.GetPolicyVersion() != 2 || !slices.Equal(got, []string{"p-outage", "p-complaint", "p-mixed"}) {
		t.Errorf("RECOVERY under version 2 (v%d): %v, want [p-outage p-complaint p-mixed]", rec2.GetPolicyVersion(), got)
	}

	// The old version stays readable; the active one is 2.
	g1, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if g1.GetActiveVersion() != 2 || g1.GetPolicy().GetVersion() != 1 || !maps.Equal(g1.GetPolicy().GetWeights(), wantWeights) {
		t.Errorf("GetPolicy version 1 after installing 2: %v", g1)
	}
	g2, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if g2.GetPolicy().GetVersion() != 2 || g2.GetPolicy().GetWeights()["EVENT_KIND_OUTAGE"] != -24 {
		t.Errorf("active policy: %v", g2)
	}

	_, err = s.GetRecomputeJob(ctx, &goodwillv1.GetRecomputeJobRequest{JobId: "no-such-job"})
	wantCode(t, err, codes.NotFound)

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

		put := s.rest(t, http.MethodPut, "/v1/policy", body)
		wantREST(t, put, http.StatusOK)
		if jsonInt(t, put.Body, "policy", "version") != 3 || num(t, put.Body, "policy", "weights", "EVENT_KIND_COMPLAINT") != -4 ||
			num(t, put.Body, "policy", "weights", "EVENT_KIND_OUTAGE") != -24 {
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
		b := balanceAt(t, s, "p-complaint", x)
		if b.GetPolicyVersion() != 3 || !relEq(b.GetBalance(), old["p-complaint"]/2, 1e-9) {
			t.Errorf("p-complaint under version 3: %v, want %v", b, old["p-complaint"]/2)
		}
		wantRESTError(t, s.rest(t, http.MethodGet, "/v1/policy/jobs/no-such-job", nil), http.StatusNotFound, codes.NotFound)
		if g, err := s.GetPolicy(ctx, &goodwillv1.GetPolicyRequest{}); err != nil || g.GetActiveVersion() != 3 {
			t.Errorf("active after REST: %v %v", g, err)
		}
	})
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
}
