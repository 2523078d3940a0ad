package ledger

import (
	"math"
	"slices"
	"strconv"
	"testing"
	"time"
)

// t0 is a fixed moment a little after the default policy's epoch, so tests
// exercise both the growth factor and its inverse.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// ev builds an event whose fingerprint is derived from its id, so ties in
// time are broken deterministically.
func ev(id string, k Kind, mag float64, at time.Time) Event {
	return Event{
		TenantID:    DefaultTenant,
		CustomerID:  "c1",
		ID:          id,
		Kind:        k,
		Magnitude:   mag,
		OccurredAt:  at,
		RecordedAt:  at,
		Fingerprint: "fp-" + id,
	}
}

// relClose reports whether a and b agree within tol relative to the larger.
func relClose(a, b, tol float64) bool {
	if a == b {
		return true
	}
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return false
	}
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))
}

// applyAll applies events in the order given and returns the final state
// and each event's effect by id.
func applyAll(p *Policy, events []Event) (State, map[string]Effect) {
	var s State
	effs := make(map[string]Effect, len(events))
	for _, e := range events {
		var eff Effect
		s, eff = p.Apply(s, e)
		effs[e.ID] = eff
	}
	return s, effs
}

func without(events []Event, ids ...string) []Event {
	return slices.DeleteFunc(slices.Clone(events), func(e Event) bool { return slices.Contains(ids, e.ID) })
}

func TestDefaultPolicyIsValid(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatalf("DefaultPolicy().Validate() = %v, want nil", err)
	}
	if p.HalfLife != 90*day {
		t.Errorf("HalfLife = %v, want 90 days", p.HalfLife)
	}
	for _, k := range RecordableKinds() {
		if _, ok := p.Weights[k]; !ok {
			t.Errorf("no weight for %s", k)
		}
	}
}

func TestHalfLife(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	tests := []struct {
		name string
		ev   Event
		want float64 // points at the moment the event occurred
	}{
		{"reliable delivery at t0", ev("a", KindReliableDelivery, 1, t0), 1},
		{"outage of 3 hours", ev("a", KindOutage, 3, t0), -36},
		{"suggestion adopted", ev("a", KindSuggestionAdopted, 2.5, t0), 25},
		{"complaint", ev("a", KindComplaint, 1, t0), -8},
		{"engagement at the epoch", ev("a", KindEngagement, 1, p.Epoch), 2},
		{"credit to a new customer", ev("a", KindCredit, 4, t0), 8},
		{"response to a new customer", ev("a", KindResponse, 1, t0), 5},
		{"event long before the epoch", ev("a", KindReliableDelivery, 7, time.Date(1995, 6, 1, 0, 0, 0, 0, time.UTC)), 7},
		{"event long after the epoch", ev("a", KindOutage, 1, time.Date(2070, 6, 1, 0, 0, 0, 0, time.UTC)), -12},
		{"fractional-second time", ev("a", KindProactiveNotice, 1, t0.Add(1234567*time.Microsecond)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, eff := p.Apply(State{}, tt.ev)
			if !relClose(eff.Points, tt.want, 1e-12) {
				t.Fatalf("Points = %v, want %v", eff.Points, tt.want)
			}
			at := tt.ev.OccurredAt
			b0 := p.BalanceAt(s, at)
			if !relClose(b0, tt.want, 1e-9) {
				t.Fatalf("BalanceAt(occurred_at) = %v, want %v", b0, tt.want)
			}
			b1 := p.BalanceAt(s, at.Add(p.HalfLife))
			if !relClose(b1, b0/2, 1e-9) {
				t.Errorf("after one half-life = %v, want %v", b1, b0/2)
			}
			b2 := p.BalanceAt(s, at.Add(2*p.HalfLife))
			if !relClose(b2, b0/4, 1e-9) {
				t.Errorf("after two half-lives = %v, want %v", b2, b0/4)
			}
			bHalf := p.BalanceAt(s, at.Add(p.HalfLife/2))
			if !relClose(bHalf, b0/math.Sqrt2, 1e-9) {
				t.Errorf("after half a half-life = %v, want %v", bHalf, b0/math.Sqrt2)
			}
			bBack := p.BalanceAt(s, at.Add(-p.HalfLife))
			if !relClose(bBack, 2*b0, 1e-9) {
				t.Errorf("one half-life earlier = %v, want %v", bBack, 2*b0)
			}
		})
	}
}

func TestBalanceAtEmptyState(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	for _, at := range []time.Time{t0, p.Epoch, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got := p.BalanceAt(State{}, at); got != 0 {
			t.Errorf("BalanceAt(empty, %v) = %v, want 0", at, got)
		}
	}
}

func TestForwardDecayPreservesOrder(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	tests := []struct {
		name string
		a, b []Event
	}{
		{
			name: "old large balance against recent small one",
			a:    []Event{ev("a1", KindSuggestionAdopted, 10, t0)},
			b:    []Event{ev("b1", KindReliableDelivery, 20, t0.Add(400*day))},
		},
		{
			name: "negative against positive",
			a:    []Event{ev("a1", KindOutage, 1, t0.Add(10*day))},
			b:    []Event{ev("b1", KindReliableDelivery, 1, t0)},
		},
		{
			name: "both negative",
			a:    []Event{ev("a1", KindOutage, 2, t0), ev("a2", KindReliableDelivery, 3, t0.Add(30*day))},
			b:    []Event{ev("b1", KindComplaint, 1, t0.Add(200*day))},
		},
		{
			name: "mixed histories of several events",
			a: []Event{
				ev("a1", KindReliableDelivery, 1, t0), ev("a2", KindReliableDelivery, 1, t0.Add(day)),
				ev("a3", KindOutage, 1, t0.Add(2*day)), ev("a4", KindResponse, 1, t0.Add(3*day)),
			},
			b: []Event{
				ev("b1", KindEngagement, 1, t0.Add(-100*day)), ev("b2", KindCredit, 2, t0.Add(50*day)),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sa := p.Replay(tt.a, time.Time{})
			sb := p.Replay(tt.b, time.Time{})
			last := sa.Last.At
			if sb.Last.At.After(last) {
				last = sb.Last.At
			}
			want := cmpFloat(p.Rank(sa), p.Rank(sb))
			if want == 0 {
				t.Fatalf("test case has equal ranks %v", p.Rank(sa))
			}
			for _, d := range []time.Duration{0, time.Second, day, 30 * day, p.HalfLife, 3 * p.HalfLife, 5 * 365 * day, 50 * 365 * day} {
				at := last.Add(d)
				ba, bb := p.BalanceAt(sa, at), p.BalanceAt(sb, at)
				if got := cmpFloat(ba, bb); got != want {
					t.Errorf("at last+%v: order of balances %v vs %v is %d, want %d (order of Rank)", d, ba, bb, got, want)
				}
				// Both decay by the same factor, so the ratio is constant.
				if r0, r := p.BalanceAt(sa, last)/p.BalanceAt(sb, last), ba/bb; !relClose(r, r0, 1e-9) {
					t.Errorf("at last+%v: ratio %v, want %v", d, r, r0)
				}
			}
		})
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestAsymmetry(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	for _, at := range []time.Time{t0, p.Epoch, time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)} {
		_, out := p.Apply(State{}, ev("o", KindOutage, 1, at))
		_, del := p.Apply(State{}, ev("d", KindReliableDelivery, 1, at))
		if del.Points <= 0 {
			t.Fatalf("delivery points %v, want positive", del.Points)
		}
		if out.Points >= 0 {
			t.Fatalf("outage points %v, want negative", out.Points)
		}
		if -out.Points < 10*del.Points {
			t.Errorf("at %v: outage withdraws %v, want at least 10x the delivery's %v", at, -out.Points, del.Points)
		}
	}

	// Ten days of reliable deliveries do not survive one outage.
	var events []Event
	for i := range 10 {
		events = append(events, ev("d"+string(rune('a'+i)), KindReliableDelivery, 1, t0.Add(time.Duration(i)*day)))
	}
	events = append(events, ev("o", KindOutage, 1, t0.Add(10*day)))
	s := p.Replay(events, time.Time{})
	if b := p.BalanceAt(s, t0.Add(10*day)); b >= 0 {
		t.Errorf("ten deliveries then one outage: balance %v, want < 0", b)
	}
}

func TestOverdraftProtection(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	var loyal []Event
	for i := range 60 {
		loyal = append(loyal, ev("d"+strconv.Itoa(i), KindReliableDelivery, 1, t0.Add(time.Duration(i)*day)))
	}
	outAt := t0.Add(60 * day)
	outage := ev("outage", KindOutage, 3, outAt)

	tests := []struct {
		name     string
		history  []Event
		wantSign int // +1: >= 0, -1: < 0
	}{
		{"sixty days of deliveries absorb a 3-hour outage", append(slices.Clone(loyal), outage), +1},
		{"a new customer is overdrawn by the same outage", []Event{outage}, -1},
		{"one week of deliveries does not absorb it", append(slices.Clone(loyal[53:]), outage), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, effs := applyAll(p, tt.history)
			if eff := effs["outage"]; eff.Points != -36 || eff.Rule != "" {
				t.Fatalf("outage effect = %+v, want Points -36 and no rule", eff)
			}
			b := p.BalanceAt(s, outAt)
			switch {
			case tt.wantSign > 0 && b < 0:
				t.Errorf("balance after outage = %v, want >= 0", b)
			case tt.wantSign < 0 && b >= 0:
				t.Errorf("balance after outage = %v, want < 0", b)
			}
			c := Customer{ID: "c1"}
			wantStatus := StatusHealthy
			if tt.wantSign < 0 {
				wantStatus = StatusOverdrawn
			}
			if got := balanceOf(c, s, p, outAt); got.Status != wantStatus || got.EventCount != int64(len(tt.history)) {
				t.Errorf("balanceOf = %+v, want status %v and %d events", got, wantStatus, len(tt.history))
			}
		})
	}
	// The loyal balance before the outage is what the outage is measured
	// against: check it is the geometric sum we expect.
	s := p.Replay(loyal, time.Time{})
	want := 0.0
	for i := range 60 {
		want += math.Exp2(-float64(60-i) / 90)
	}
	if got := p.BalanceAt(s, outAt); !relClose(got, want, 1e-9) {
		t.Errorf("balance of 60 daily deliveries = %v, want %v", got, want)
	}
}

func TestRelationshipContext(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	at := t0.Add(10 * day)
	// stateWith returns a state whose balance at `at` is exactly b: one
	// event at the same instant that sorts before the gesture.
	stateWith := func(t *testing.T, b float64) State {
		t.Helper()
		if b == 0 {
			return State{}
		}
		k, w := KindEngagement, 2.0
		if b < 0 {
			k, w = KindComplaint, -8.0
		}
		s, _ := p.Apply(State{}, Event{ID: "prior", Kind: k, Magnitude: b / w, OccurredAt: at, Fingerprint: "0"})
		if got := p.BalanceAt(s, at); !relClose(got, b, 1e-12) {
			t.Fatalf("setup: balance %v, want %v", got, b)
		}
		return s
	}
	tests := []struct {
		name       string
		kind       Kind
		before     float64
		wantFactor float64
		wantRule   string
	}{
		{"response to a new customer", KindResponse, 0, 1, "relationship"},
		{"response at balance 10", KindResponse, 10, 1.2, "relationship"},
		{"response at balance 30", KindResponse, 30, 1.6, "relationship"},
		{"response at balance 50 reaches the cap", KindResponse, 50, 2, "relationship"},
		{"response at balance 500 is capped", KindResponse, 500, 2, "relationship"},
		{"credit at balance 25", KindCredit, 25, 1.5, "relationship"},
		{"response just below zero rings hollow", KindResponse, -0.001, 0.25, "hollow"},
		{"response to an overdrawn customer rings hollow", KindResponse, -12, 0.25, "hollow"},
		{"credit to an overdrawn customer rings hollow", KindCredit, -40, 0.25, "hollow"},
		{"engagement is not context-dependent", KindEngagement, 30, 1, ""},
		{"reliable delivery is not context-dependent", KindReliableDelivery, -30, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := stateWith(t, tt.before)
			e := Event{ID: "g", Kind: tt.kind, Magnitude: 1, OccurredAt: at, Fingerprint: "1"}
			s2, eff := p.Apply(s, e)
			if !relClose(eff.Factor, tt.wantFactor, 1e-12) || eff.Rule != tt.wantRule {
				t.Fatalf("Effect = %+v, want Factor %v Rule %q", eff, tt.wantFactor, tt.wantRule)
			}
			base := p.Weights[tt.kind]
			if eff.Base != base || !relClose(eff.Points, base*tt.wantFactor, 1e-12) {
				t.Errorf("Base %v Points %v, want %v and %v", eff.Base, eff.Points, base, base*tt.wantFactor)
			}
			if delta := p.BalanceAt(s2, at) - p.BalanceAt(s, at); !relClose(delta, eff.Points, 1e-9) {
				t.Errorf("balance moved by %v, want %v", delta, eff.Points)
			}
		})
	}

	// The same gesture adds strictly more points as the balance before it
	// rises (below the cap).
	for _, k := range []Kind{KindResponse, KindCredit} {
		prev := math.Inf(-1)
		for _, b := range []float64{-20, 0, 5, 10, 20, 40, 49} {
			_, eff := p.Apply(stateWith(t, b), Event{ID: "g", Kind: k, Magnitude: 1, OccurredAt: at, Fingerprint: "1"})
			if eff.Points <= prev {
				t.Errorf("%s at balance %v adds %v, want more than %v at the lower balance", k, b, eff.Points, prev)
			}
			prev = eff.Points
		}
	}
}

func TestRelationshipUsesDecayedBalance(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	// 40 points one half-life before the response count as 20.
	s, _ := p.Apply(State{}, ev("s", KindSuggestionAdopted, 4, t0))
	_, eff := p.Apply(s, ev("r", KindResponse, 1, t0.Add(p.HalfLife)))
	if !relClose(eff.Factor, 1+20.0/50, 1e-9) {
		t.Errorf("Factor = %v, want %v", eff.Factor, 1+20.0/50)
	}
	// An overdraft that has decayed is still negative: still hollow.
	s, _ = p.Apply(State{}, ev("o", KindOutage, 1, t0))
	_, eff = p.Apply(s, ev("r", KindResponse, 1, t0.Add(5*p.HalfLife)))
	if eff.Rule != "hollow" || eff.Factor != 0.25 {
		t.Errorf("Effect = %+v, want hollow 0.25", eff)
	}
}

func TestNotice(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	noticeAt := t0
	tests := []struct {
		name     string
		kind     Kind
		after    time.Duration // outage time minus notice time
		soften   bool
		wantRule string
	}{
		{"outage an hour after the notice", KindOutage, time.Hour, true, "notice"},
		{"outage at the same instant, sorting after", KindOutage, 0, true, "notice"},
		{"outage exactly at the end of the window", KindOutage, p.Notice.Window, true, "notice"},
		{"outage a second after the window", KindOutage, p.Notice.Window + time.Second, false, ""},
		{"outage a month after the notice", KindOutage, 30 * day, false, ""},
		{"complaint after a notice is not softened", KindComplaint, time.Hour, false, ""},
		// Apply's contract forbids this order, but the guard must hold.
		{"outage an hour before the notice", KindOutage, -time.Hour, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			notice := Event{ID: "n", Kind: KindProactiveNotice, Magnitude: 1, OccurredAt: noticeAt, Fingerprint: "a"}
			failure := Event{ID: "o", Kind: tt.kind, Magnitude: 2, OccurredAt: noticeAt.Add(tt.after), Fingerprint: "b"}

			withNotice, _ := p.Apply(State{}, notice)
			if !withNotice.LastNoticeAt.Equal(noticeAt) {
				t.Fatalf("LastNoticeAt = %v, want %v", withNotice.LastNoticeAt, noticeAt)
			}
			after, eff := p.Apply(withNotice, failure)
			_, plain := p.Apply(State{}, failure)

			if eff.Rule != tt.wantRule {
				t.Errorf("Rule = %q, want %q", eff.Rule, tt.wantRule)
			}
			if plain.Rule != "" || plain.Factor != 1 {
				t.Errorf("without notice: Effect = %+v, want no rule, factor 1", plain)
			}
			if tt.soften {
				if eff.Factor != p.Notice.Factor || eff.Points != plain.Points*p.Notice.Factor {
					t.Errorf("Effect = %+v, want factor %v and points %v", eff, p.Notice.Factor, plain.Points*p.Notice.Factor)
				}
				if !(math.Abs(eff.Points) < math.Abs(plain.Points)) {
					t.Errorf("with notice withdraws %v, want less than %v", -eff.Points, -plain.Points)
				}
			} else if eff.Points != plain.Points || eff.Factor != 1 {
				t.Errorf("Effect = %+v, want the unsoftened %+v", eff, plain)
			}
			// The withdrawal, measured on balances.
			at := failure.OccurredAt
			withdrawn := p.BalanceAt(withNotice, at) - p.BalanceAt(after, at)
			if !relClose(withdrawn, -eff.Points, 1e-9) {
				t.Errorf("balance dropped by %v, want %v", withdrawn, -eff.Points)
			}
		})
	}
}

func TestNoticeOrderAtTheSameInstant(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	// Replay order is by time, whatever the slice order.
	events := []Event{ev("n", KindProactiveNotice, 1, t0.Add(time.Hour)), ev("o", KindOutage, 1, t0)}
	_, effs := applyAll(p, Effective(events))
	if effs["o"].Rule != "" || effs["o"].Points != -12 {
		t.Errorf("outage before notice: Effect = %+v, want -12 with no rule", effs["o"])
	}
	// Same instant: a notice always counts as given before the outage,
	// whatever the fingerprints (which would otherwise decide by chance).
	for _, fps := range [][2]string{{"a", "b"}, {"b", "a"}} {
		events = []Event{
			{ID: "n", Kind: KindProactiveNotice, Magnitude: 1, OccurredAt: t0, Fingerprint: fps[0]},
			{ID: "o", Kind: KindOutage, Magnitude: 1, OccurredAt: t0, Fingerprint: fps[1]},
		}
		_, effs = applyAll(p, Effective(events))
		if effs["o"].Rule != "notice" {
			t.Errorf("fingerprints %v: same-instant outage Rule = %q, want notice", fps, effs["o"].Rule)
		}
	}
}

func TestReversal(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	history := []Event{
		ev("d1", KindReliableDelivery, 5, t0),
		ev("o1", KindOutage, 2, t0.Add(1*day)),
		ev("r1", KindResponse, 1, t0.Add(2*day)),
		ev("n1", KindProactiveNotice, 1, t0.Add(3*day)),
		ev("o2", KindOutage, 1, t0.Add(4*day)),
		ev("c1", KindCredit, 2, t0.Add(5*day)),
	}
	rev := func(id string) Event {
		r := ev("rev-"+id, KindReversal, 0, t0.Add(30*day))
		r.ReversesEventID = id
		return r
	}
	tests := []struct {
		name     string
		reversed string
		// markOnly: mark the original with ReversedByEventID instead of
		// including the REVERSAL event (as a Reader derives it).
		markOnly bool
		both     bool
		// ruleChanges: the context rule an event gets before and after.
		ruleChanges map[string][2]string
	}{
		{
			name: "reversing an outage makes a later response relationship, not hollow", reversed: "o1",
			ruleChanges: map[string][2]string{"r1": {"hollow", "relationship"}, "c1": {"hollow", "relationship"}},
		},
		{
			name: "reversing a notice removes the softening of a later outage", reversed: "n1",
			ruleChanges: map[string][2]string{"o2": {"notice", ""}},
		},
		{name: "reversing the first event", reversed: "d1"},
		{name: "reversing the last event", reversed: "c1"},
		{name: "marked reversed on read", reversed: "o1", markOnly: true},
		{name: "marked and reversal present", reversed: "o1", both: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events := slices.Clone(history)
			if tt.markOnly || tt.both {
				for i := range events {
					if events[i].ID == tt.reversed {
						events[i].ReversedByEventID = "rev-" + tt.reversed
					}
				}
			}
			if !tt.markOnly {
				// Put the reversal first: slice order must not matter.
				events = append([]Event{rev(tt.reversed)}, events...)
			}
			got := p.Replay(events, time.Time{})
			want := p.Replay(without(history, tt.reversed), time.Time{})
			if got.Count != int64(len(history)-1) || got.Count != want.Count {
				t.Errorf("Count = %d, want %d", got.Count, len(history)-1)
			}
			if got.Value != want.Value {
				t.Errorf("Value = %v, want %v (history without %s)", got.Value, want.Value, tt.reversed)
			}
			if got.Last != want.Last || !got.LastNoticeAt.Equal(want.LastNoticeAt) ||
				!got.LastGrievanceAt.Equal(want.LastGrievanceAt) || !got.LastRemedyAt.Equal(want.LastRemedyAt) {
				t.Errorf("State = %+v, want %+v", got, want)
			}
			full := p.Replay(history, time.Time{})
			if full.Value == got.Value {
				t.Errorf("reversal of %s changed nothing: Value %v", tt.reversed, got.Value)
			}

			eff := Effective(events)
			var ids []string
			for _, e := range eff {
				ids = append(ids, e.ID)
				if e.Kind == KindReversal {
					t.Errorf("Effective kept the reversal %s", e.ID)
				}
			}
			if slices.Contains(ids, tt.reversed) {
				t.Errorf("Effective kept the reversed event: %v", ids)
			}

			_, before := applyAll(p, Effective(history))
			_, after := applyAll(p, eff)
			for id, rules := range tt.ruleChanges {
				if before[id].Rule != rules[0] || after[id].Rule != rules[1] {
					t.Errorf("%s: rule %q -> %q, want %q -> %q", id, before[id].Rule, after[id].Rule, rules[0], rules[1])
				}
			}
		})
	}
}

func TestEffectiveSortsByPosition(t *testing.T) {
	t.Parallel()
	events := []Event{
		{ID: "z", Kind: KindEngagement, OccurredAt: t0.Add(time.Hour), Fingerprint: "00"},
		{ID: "b", Kind: KindEngagement, OccurredAt: t0, Fingerprint: "ff"},
		{ID: "a", Kind: KindEngagement, OccurredAt: t0, Fingerprint: "ff"},
		{ID: "y", Kind: KindEngagement, OccurredAt: t0, Fingerprint: "10"},
		{ID: "x", Kind: KindEngagement, OccurredAt: t0.Add(-time.Hour), Fingerprint: "ff"},
	}
	var got []string
	for _, e := range Effective(events) {
		got = append(got, e.ID)
	}
	if want := []string{"x", "y", "a", "b", "z"}; !slices.Equal(got, want) {
		t.Errorf("Effective order = %v, want %v", got, want)
	}
	if events[0].ID != "z" {
		t.Errorf("Effective reordered its input")
	}
}

func TestReplayUntil(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	events := []Event{
		ev("a", KindReliableDelivery, 1, t0),
		ev("b", KindOutage, 1, t0.Add(day)),
		ev("c", KindResponse, 1, t0.Add(2*day)),
		ev("d", KindCredit, 1, t0.Add(3*day)),
	}
	tests := []struct {
		name  string
		until time.Time
		keep  int
	}{
		{"zero means all", time.Time{}, 4},
		{"before everything", t0.Add(-time.Nanosecond), 0},
		{"exactly at an event includes it", t0.Add(day), 2},
		{"between events", t0.Add(day + time.Hour), 2},
		{"after everything", t0.Add(100 * day), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := p.Replay(events, tt.until)
			want, _ := applyAll(p, events[:tt.keep])
			if got != want {
				t.Errorf("Replay(until %v) = %+v, want %+v", tt.until, got, want)
			}
		})
	}
}

func TestApplyBookkeeping(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	events := []Event{
		ev("n", KindProactiveNotice, 1, t0),
		ev("o", KindOutage, 1, t0.Add(time.Hour)),
		ev("r", KindResponse, 1, t0.Add(2*time.Hour)),
		ev("k", KindComplaint, 1, t0.Add(3*time.Hour)),
		ev("e", KindEngagement, 1, t0.Add(4*time.Hour)),
	}
	s, _ := applyAll(p, events)
	if s.Count != 5 {
		t.Errorf("Count = %d, want 5", s.Count)
	}
	if s.Last != events[4].Pos() {
		t.Errorf("Last = %+v, want %+v", s.Last, events[4].Pos())
	}
	if !s.LastNoticeAt.Equal(t0) {
		t.Errorf("LastNoticeAt = %v, want %v", s.LastNoticeAt, t0)
	}
	if !s.LastGrievanceAt.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("LastGrievanceAt = %v, want %v", s.LastGrievanceAt, t0.Add(3*time.Hour))
	}
	if !s.LastRemedyAt.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("LastRemedyAt = %v, want %v", s.LastRemedyAt, t0.Add(2*time.Hour))
	}
}

func TestPositionCompare(t *testing.T) {
	t.Parallel()
	est := time.FixedZone("EST", -5*3600)
	tests := []struct {
		name string
		p, q Position
		want int
	}{
		{"equal", Position{At: t0, Fingerprint: "aa", ID: "1"}, Position{At: t0, Fingerprint: "aa", ID: "1"}, 0},
		{"earlier time wins over fingerprint and id", Position{At: t0, Fingerprint: "ff", ID: "9"}, Position{At: t0.Add(time.Nanosecond), Fingerprint: "00", ID: "0"}, -1},
		{"later time", Position{At: t0.Add(time.Second), Fingerprint: "00", ID: "0"}, Position{At: t0, Fingerprint: "ff", ID: "9"}, 1},
		{"same time: fingerprint decides over id", Position{At: t0, Fingerprint: "aa", ID: "9"}, Position{At: t0, Fingerprint: "ab", ID: "0"}, -1},
		{"same time: greater fingerprint", Position{At: t0, Fingerprint: "b", ID: "0"}, Position{At: t0, Fingerprint: "a", ID: "9"}, 1},
		{"same time and fingerprint: id decides", Position{At: t0, Fingerprint: "aa", ID: "1"}, Position{At: t0, Fingerprint: "aa", ID: "2"}, -1},
		{"same time and fingerprint: greater id", Position{At: t0, Fingerprint: "aa", ID: "x"}, Position{At: t0, Fingerprint: "aa", ID: "w"}, 1},
		{"same instant in another zone is the same time", Position{At: t0.In(est), Fingerprint: "aa", ID: "1"}, Position{At: t0, Fingerprint: "aa", ID: "1"}, 0},
		{"same instant in another zone: fingerprint decides", Position{At: t0.In(est), Fingerprint: "b", ID: "1"}, Position{At: t0, Fingerprint: "a", ID: "1"}, 1},
		{"same time: notice before outage whatever the fingerprint", Position{At: t0, Kind: KindProactiveNotice, Fingerprint: "ff"}, Position{At: t0, Kind: KindOutage, Fingerprint: "00"}, -1},
		{"same time: grievance before remedy", Position{At: t0, Kind: KindComplaint, Fingerprint: "ff"}, Position{At: t0, Kind: KindResponse, Fingerprint: "00"}, -1},
		{"same time: kind decides before fingerprint", Position{At: t0, Kind: KindCredit, Fingerprint: "00"}, Position{At: t0, Kind: KindEngagement, Fingerprint: "ff"}, 1},
		{"zero position sorts first", Position{}, Position{At: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), Fingerprint: "", ID: ""}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.Compare(tt.q); got != tt.want {
				t.Errorf("p.Compare(q) = %d, want %d", got, tt.want)
			}
			if got := tt.q.Compare(tt.p); got != -tt.want {
				t.Errorf("q.Compare(p) = %d, want %d", got, -tt.want)
			}
		})
	}
}

func TestPositionIsZero(t *testing.T) {
	t.Parallel()
	if !(Position{}).IsZero() {
		t.Error("zero Position is not IsZero")
	}
	if (Position{At: t0}).IsZero() || (Position{ID: "x"}).IsZero() {
		t.Error("non-zero Position reports IsZero")
	}
	if got := ev("a", KindEngagement, 1, t0).Pos(); got != (Position{At: t0, Kind: KindEngagement, Fingerprint: "fp-a", ID: "a"}) {
		t.Errorf("Pos() = %+v", got)
	}
}
