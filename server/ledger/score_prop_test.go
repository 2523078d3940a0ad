package ledger

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// propStart is the start of the year random events fall in.
var propStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// genFingerprint draws a short hex string: short enough that two events at
// the same instant sometimes share one, so the id tie-break is exercised.
var genFingerprint = rapid.StringMatching(`[0-9a-f]{1,4}`)

// genTime draws a time within a year of propStart. The span and the grain
// are drawn too, so some histories are packed into hours (ties, notices just
// before outages) and others spread over the year.
func genTime(t *rapid.T, span, grain time.Duration, label string) time.Time {
	n := rapid.Int64Range(0, int64(span/grain)).Draw(t, label)
	return propStart.Add(time.Duration(n) * grain)
}

// genEvents draws a history of recordable events with unique ids.
func genEvents(t *rapid.T, minN, maxN int) []Event {
	span := rapid.SampledFrom([]time.Duration{6 * time.Hour, 7 * day, 90 * day, 365 * day}).Draw(t, "span")
	grain := rapid.SampledFrom([]time.Duration{time.Second, time.Minute, time.Hour}).Draw(t, "grain")
	if grain > span {
		grain = span
	}
	n := rapid.IntRange(minN, maxN).Draw(t, "n")
	kinds := RecordableKinds()
	events := make([]Event, n)
	for i := range events {
		events[i] = Event{
			TenantID:    DefaultTenant,
			CustomerID:  "c1",
			ID:          fmt.Sprintf("ev-%03d", i),
			Kind:        rapid.SampledFrom(kinds).Draw(t, "kind"),
			Magnitude:   rapid.Float64Range(0.01, 100).Draw(t, "magnitude"),
			OccurredAt:  genTime(t, span, grain, "occurred_at"),
			Fingerprint: genFingerprint.Draw(t, "fingerprint"),
		}
		events[i].RecordedAt = events[i].OccurredAt
	}
	return events
}

// reversalOf returns a REVERSAL of e at a random later (or earlier: a
// reversal's own position must not matter) time.
func reversalOf(t *rapid.T, e Event, id string) Event {
	return Event{
		TenantID:        e.TenantID,
		CustomerID:      e.CustomerID,
		ID:              id,
		Kind:            KindReversal,
		Magnitude:       e.Magnitude,
		OccurredAt:      genTime(t, 400*day, time.Minute, "reversal_at"),
		Fingerprint:     genFingerprint.Draw(t, "reversal_fingerprint"),
		ReversesEventID: e.ID,
	}
}

// sameState fails unless a and b are the same state: Value within a tight
// relative tolerance, everything else exactly.
func sameState(t *rapid.T, got, want State) {
	t.Helper()
	if !relClose(got.Value, want.Value, 1e-9) {
		t.Fatalf("Value = %v, want %v", got.Value, want.Value)
	}
	if got.Count != want.Count {
		t.Fatalf("Count = %d, want %d", got.Count, want.Count)
	}
	if got.Last.Compare(want.Last) != 0 {
		t.Fatalf("Last = %+v, want %+v", got.Last, want.Last)
	}
	if !got.LastNoticeAt.Equal(want.LastNoticeAt) || !got.LastGrievanceAt.Equal(want.LastGrievanceAt) ||
		!got.LastRemedyAt.Equal(want.LastRemedyAt) {
		t.Fatalf("State = %+v, want %+v", got, want)
	}
}

// Property 1: Replay does not depend on the order of its input.
func TestPropReplayIgnoresInputOrder(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	rapid.Check(t, func(t *rapid.T) {
		events := genEvents(t, 0, 40)
		// Reverse a few events, so reversals are shuffled in too.
		for i := range events {
			if rapid.IntRange(0, 9).Draw(t, "reverse?") == 0 {
				events = append(events, reversalOf(t, events[i], fmt.Sprintf("rev-%03d", i)))
			}
		}
		shuffled := rapid.Permutation(events).Draw(t, "shuffled")

		want := p.Replay(events, time.Time{})
		got := p.Replay(shuffled, time.Time{})
		sameState(t, got, want)

		effective := 0
		reversed := map[string]bool{}
		for _, e := range events {
			if e.Kind == KindReversal {
				reversed[e.ReversesEventID] = true
			}
		}
		for _, e := range events {
			if e.Kind != KindReversal && !reversed[e.ID] {
				effective++
			}
		}
		if got.Count != int64(effective) {
			t.Fatalf("Count = %d, want %d effective events", got.Count, effective)
		}
		// Balances, not just the stored sum, agree at any moment.
		at := genTime(t, 2*365*day, time.Hour, "as_of")
		if b, w := p.BalanceAt(got, at), p.BalanceAt(want, at); !relClose(b, w, 1e-9) {
			t.Fatalf("BalanceAt = %v, want %v", b, w)
		}
	})
}

// Property 2: reversing an event is the same as never having recorded it.
func TestPropReversalEqualsRemoval(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	rapid.Check(t, func(t *rapid.T) {
		events := genEvents(t, 1, 40)
		i := rapid.IntRange(0, len(events)-1).Draw(t, "reversed")
		target := events[i]

		with := slices.Clone(events)
		// How the reversal shows up: as a REVERSAL event, as the derived
		// ReversedByEventID on the original, or both.
		mode := rapid.SampledFrom([]string{"event", "mark", "both"}).Draw(t, "mode")
		if mode != "event" {
			with[i].ReversedByEventID = "rev"
		}
		if mode != "mark" {
			with = append(with, reversalOf(t, target, "rev"))
		}
		with = rapid.Permutation(with).Draw(t, "with")
		withoutIt := slices.Delete(slices.Clone(events), i, i+1)

		got := p.Replay(with, time.Time{})
		want := p.Replay(withoutIt, time.Time{})
		sameState(t, got, want)
		if got.Count != int64(len(events)-1) {
			t.Fatalf("Count = %d, want %d", got.Count, len(events)-1)
		}
		for _, e := range Effective(with) {
			if e.ID == target.ID || e.Kind == KindReversal {
				t.Fatalf("Effective kept %s (%s)", e.ID, e.Kind)
			}
		}
	})
}

// Property 3: applying events one at a time in replay order gives Replay's
// state, and every prefix equals Replay up to that moment.
func TestPropIncrementalApplyEqualsReplay(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	rapid.Check(t, func(t *rapid.T) {
		events := genEvents(t, 0, 40)
		sorted := slices.Clone(events)
		slices.SortFunc(sorted, func(a, b Event) int { return a.Pos().Compare(b.Pos()) })

		var s State
		for k, e := range sorted {
			if k > 0 && e.Pos().Compare(s.Last) <= 0 {
				t.Fatalf("event %d at %+v does not sort after Last %+v", k, e.Pos(), s.Last)
			}
			var eff Effect
			s, eff = p.Apply(s, e)
			if s.Count != int64(k+1) {
				t.Fatalf("Count = %d after %d events", s.Count, k+1)
			}
			if got := eff.Base * eff.Factor; got != eff.Points {
				t.Fatalf("Points %v != Base %v x Factor %v", eff.Points, eff.Base, eff.Factor)
			}
			// The state after the last event at this instant is what
			// Replay gives up to this instant.
			if k == len(sorted)-1 || sorted[k+1].OccurredAt.After(e.OccurredAt) {
				sameState(t, p.Replay(events, e.OccurredAt), s)
			}
		}
		shuffled := rapid.Permutation(events).Draw(t, "shuffled")
		sameState(t, p.Replay(shuffled, time.Time{}), s)
	})
}

// Property 4: balances halve every half-life.
func TestPropBalanceHalvesEveryHalfLife(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	minT := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxT := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	rapid.Check(t, func(t *rapid.T) {
		s := p.Replay(genEvents(t, 0, 30), time.Time{})
		at := minT.Add(time.Duration(rapid.Int64Range(0, int64(maxT.Sub(minT))).Draw(t, "at")))
		b := p.BalanceAt(s, at)
		if got := p.BalanceAt(s, at.Add(p.HalfLife)); !relClose(got, b/2, 1e-9) {
			t.Fatalf("BalanceAt(t+halfLife) = %v, want %v / 2 = %v", got, b, b/2)
		}
		k := rapid.IntRange(-4, 4).Draw(t, "k")
		want := b
		for range max(k, -k) {
			if k > 0 {
				want /= 2
			} else {
				want *= 2
			}
		}
		if got := p.BalanceAt(s, at.Add(time.Duration(k)*p.HalfLife)); !relClose(got, want, 1e-9) {
			t.Fatalf("BalanceAt(t%+d half-lives) = %v, want %v", k, got, want)
		}
		if s.Count == 0 && b != 0 {
			t.Fatalf("empty history has balance %v", b)
		}
	})
}

// The notice rules, whatever the history's order: a SERVICE_CHANGE is
// softened exactly when the latest PROACTIVE_NOTICE before it (or at its
// instant) lies within the change-notice window; a BROKEN_PROMISE never is;
// and an OUTAGE keeps its own, shorter window.
func TestPropNoticeWindowsByKind(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		p := DefaultPolicy()
		kind := rapid.SampledFrom([]Kind{KindServiceChange, KindBrokenPromise, KindOutage}).Draw(t, "kind")
		at := propStart.Add(60 * day)
		// Offsets in whole seconds around both windows' edges.
		offset := time.Duration(rapid.Int64Range(-40*86400, 40*86400).Draw(t, "notice_offset_s")) * time.Second
		mag := rapid.Float64Range(0.01, 100).Draw(t, "magnitude")
		events := []Event{
			{TenantID: DefaultTenant, CustomerID: "c1", ID: "ev-change", Kind: kind, Magnitude: mag, OccurredAt: at, Fingerprint: "a"},
			{TenantID: DefaultTenant, CustomerID: "c1", ID: "ev-notice", Kind: KindProactiveNotice, Magnitude: 1, OccurredAt: at.Add(-offset), Fingerprint: "b"},
		}
		if rapid.Bool().Draw(t, "notice_first") {
			events[0], events[1] = events[1], events[0]
		}
		_, applied := p.ReplayEffects(events, time.Time{})
		var eff Effect
		for _, a := range applied {
			if a.Event.Kind == kind {
				eff = a.Effect
			}
		}
		window := map[Kind]time.Duration{KindServiceChange: p.ChangeNotice.Window, KindOutage: p.Notice.Window}[kind]
		softened := kind != KindBrokenPromise && offset >= 0 && offset <= window
		want := p.Weights[kind] * mag
		if softened {
			want *= 0.5
		}
		if !relClose(eff.Points, want, 1e-12) || (eff.Rule == "notice") != softened {
			t.Fatalf("%v with a notice %v before: %+v, want %v points (softened %v)", kind, offset, eff, want, softened)
		}
	})
}
