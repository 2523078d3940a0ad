package ledger

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// KindContribution is what one kind of event adds to a balance.
type KindContribution struct {
	Kind   Kind
	Events int64
	// Points are decayed to the moment explained.
	Points float64
}

// EventContribution is how one event shaped a balance.
type EventContribution struct {
	Event       Event
	Effect      Effect
	PointsNow   float64
	Explanation string
}

// Explanation says why a balance is what it is.
type Explanation struct {
	Balance Balance
	ByKind  []KindContribution
	Top     []EventContribution
	Summary string
}

// ExplainBalance replays a customer's history up to asOf (now when zero)
// and reports each kind's share and the top events by weight at that
// moment, with the rule that shaped each.
func (s *Service) ExplainBalance(ctx context.Context, tenant, id string, asOf time.Time, top int) (Explanation, error) {
	if err := checkID("customer_id", id, s.limits.MaxIDLength); err != nil {
		return Explanation{}, err
	}
	switch {
	case top == 0:
		top = 5
	case top < 0 || top > s.limits.MaxExplainTop:
		return Explanation{}, Invalid("top", "must be between 1 and %d", s.limits.MaxExplainTop)
	}
	at := asOf
	if at.IsZero() {
		at = s.clock()
	}
	var out Explanation
	err := s.viewHistory(ctx, tenant, id, func(pol *Policy, c Customer, hist []Event) {
		// Only events up to `at` count, also without as_of: an event
		// another replica dated by a clock a little ahead is not "now" yet
		// here, and GetBalance leaves it out too.
		st, applied := pol.ReplayEffects(hist, at)
		out = explain(pol, c, st, applied, at, top)
	})
	return out, err
}

// viewHistory reads, in one snapshot, the active policy, a customer and its
// whole history, for the reads that replay it.
func (s *Service) viewHistory(ctx context.Context, tenant, id string, fn func(pol *Policy, c Customer, hist []Event)) error {
	return s.viewCustomer(ctx, tenant, id, func(r Reader, pol *Policy, c Customer) error {
		hist, err := r.History(ctx, tenant, id)
		if err != nil {
			return err
		}
		fn(pol, c, hist)
		return nil
	})
}

// viewCustomer reads, in one snapshot, the tenant's active policy and a
// customer (NOT_FOUND naming it), and runs fn with them and the snapshot.
func (s *Service) viewCustomer(ctx context.Context, tenant, id string, fn func(r Reader, pol *Policy, c Customer) error) error {
	return s.store.View(ctx, func(r Reader) error {
		pol, err := s.active(ctx, r, tenant)
		if err != nil {
			return err
		}
		c, err := s.customer(ctx, r, tenant, id)
		if err != nil {
			return err
		}
		return fn(r, pol, c)
	})
}

func explain(pol *Policy, c Customer, st State, applied []Applied, at time.Time, top int) Explanation {
	out := Explanation{Balance: balanceOf(c, st, pol, at)}
	byKind := map[Kind]*KindContribution{}
	contribs := make([]EventContribution, 0, len(applied))
	for _, a := range applied {
		now := a.Effect.Points * pol.decay(a.Event.OccurredAt, at)
		if now == 0 {
			now = 0 // never -0, which JSON would print
		}
		kc := byKind[a.Event.Kind]
		if kc == nil {
			kc = &KindContribution{Kind: a.Event.Kind}
			byKind[a.Event.Kind] = kc
		}
		kc.Events++
		kc.Points += now
		contribs = append(contribs, EventContribution{Event: a.Event, Effect: a.Effect, PointsNow: now})
	}
	for _, kc := range byKind {
		out.ByKind = append(out.ByKind, *kc)
	}
	slices.SortFunc(out.ByKind, func(a, b KindContribution) int {
		return cmp.Or(cmp.Compare(math.Abs(b.Points), math.Abs(a.Points)), cmp.Compare(a.Kind, b.Kind))
	})
	slices.SortFunc(contribs, func(a, b EventContribution) int {
		return cmp.Or(cmp.Compare(math.Abs(b.PointsNow), math.Abs(a.PointsNow)), b.Event.Pos().Compare(a.Event.Pos()))
	})
	contribs = contribs[:min(top, len(contribs))]
	for i := range contribs {
		contribs[i].Explanation = explainEvent(contribs[i], at)
	}
	out.Top = contribs
	out.Summary = summarize(out)
	return out
}

// describe names an event the way a support agent would say it.
func describe(e Event) string {
	d := e.Kind.info().describe
	if d == nil {
		return e.Kind.String()
	}
	return d(fmtAmount(e.Magnitude), e.Magnitude == 1)
}

func explainEvent(c EventContribution, at time.Time) string {
	var why string
	switch c.Effect.Rule {
	case "notice":
		if c.Event.Kind.info().notice == changeNotice {
			why = fmt.Sprintf(", softened to %.2gx because the change was announced in advance", c.Effect.Factor)
		} else {
			why = fmt.Sprintf(", softened to %.2gx because the customer was warned in advance", c.Effect.Factor)
		}
	case "hollow":
		why = fmt.Sprintf(", worth only %.2gx because the relationship was already in the red (a hollow gesture)", c.Effect.Factor)
	case "relationship":
		switch {
		case c.Effect.Factor > 1:
			why = fmt.Sprintf(", worth %.1fx because the relationship was strong", c.Effect.Factor)
		case c.Effect.Factor < 1:
			why = fmt.Sprintf(", worth %.1fx because the relationship was weak", c.Effect.Factor)
		}
	}
	return fmt.Sprintf("%s %s: %+.1f points%s; %+.1f now", describe(c.Event), ago(c.Event.OccurredAt, at),
		c.Effect.Points, why, c.PointsNow)
}

// summarize puts a balance in one sentence: where it stands and the kinds
// that weigh most on each side.
func summarize(x Explanation) string {
	b := x.Balance
	var sb strings.Builder
	fmt.Fprintf(&sb, "Balance %.1f", b.Value)
	if b.Status == StatusOverdrawn {
		fmt.Fprintf(&sb, " (overdrawn: limit %g)", b.OverdraftLimit)
	} else {
		fmt.Fprintf(&sb, " (healthy: limit %g)", b.OverdraftLimit)
	}
	var neg, pos []string
	for _, kc := range x.ByKind {
		part := fmt.Sprintf("%s %+.1f from %d event%s", strings.ReplaceAll(kc.Kind.String(), "_", " "), kc.Points,
			kc.Events, plural(float64(kc.Events)))
		if kc.Points < 0 && len(neg) < 2 {
			neg = append(neg, part)
		} else if kc.Points > 0 && len(pos) < 2 {
			pos = append(pos, part)
		}
	}
	if len(x.ByKind) == 0 {
		sb.WriteString(": no events yet.")
		return sb.String()
	}
	if len(neg) > 0 {
		sb.WriteString("; drawn down by " + strings.Join(neg, " and "))
	}
	if len(pos) > 0 {
		sb.WriteString("; built up by " + strings.Join(pos, " and "))
	}
	sb.WriteString(".")
	return sb.String()
}

func fmtAmount(f float64) string { return fmtFloat(math.Round(f*100) / 100) }

func plural(n float64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// ago says how long before now something happened, roughly. It counts in
// seconds, not time.Duration, which stops at about 292 years.
func ago(then, now time.Time) string {
	d := seconds(then, now)
	const minute, hour, day = 60, 3600, 86400
	switch {
	case d < 0:
		return "in the future"
	case d < minute:
		return "just now"
	case d < hour:
		return unitsAgo(int(d/minute), "minute")
	case d < 48*hour:
		return unitsAgo(int(d/hour), "hour")
	case d < 60*day:
		return unitsAgo(int(d/day), "day")
	case d < 730*day:
		return unitsAgo(int(d/(30*day)), "month")
	}
	return unitsAgo(int(d/(365*day)), "year")
}

func unitsAgo(n int, unit string) string {
	if n == 1 {
		return "1 " + unit + " ago"
	}
	return fmt.Sprintf("%d %ss ago", n, unit)
}
