package ledger

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Gesture is an event a person could record now: what a recovery plan
// suggests, or assumes was done first.
type Gesture struct {
	Kind      Kind
	Magnitude float64
}

// RecoveryOption is the smallest gesture of one kind that brings an
// overdrawn balance back to its limit at the plan's moment.
type RecoveryOption struct {
	Kind Kind
	// Magnitude is the size of one event of this kind that is enough;
	// zero when no event up to the policy's largest magnitude is.
	Magnitude float64
	// Events is how many events of magnitude 1 are enough, recorded one
	// after another (each changes how the next counts); zero when more
	// than MaxRecoveryEvents would be needed.
	Events int64
	// Factor is what the context rules multiply this kind's points by now
	// (a credit to an overdrawn customer counts a quarter), and Rule which
	// rule sets it: "", "relationship", "hollow" or "notice".
	Factor float64
	Rule   string
}

// RecoveryPlan answers "what would it take" for one customer.
type RecoveryPlan struct {
	// Balance is the balance at the plan's moment (AsOf), the assumed
	// gestures applied.
	Balance Balance
	// Assumed are the gestures the plan took as done first, in order.
	Assumed []Gesture
	// Needed is how many points the balance lacks to reach its limit
	// (zero when it is not overdrawn).
	Needed float64
	// Options are the kinds that earn goodwill under the policy, in kind
	// order; empty when the customer is not overdrawn.
	Options []RecoveryOption
	// RecoversAt is when time alone brings the balance back inside its
	// limit; zero when it is not overdrawn, or never will be.
	RecoversAt time.Time
}

// MaxRecoveryEvents bounds the count of magnitude-1 events a plan
// considers: past it, an option says only "one event of magnitude ...".
const MaxRecoveryEvents = 10_000

// MaxAssumedGestures bounds the gestures one recovery plan may assume.
const MaxAssumedGestures = 16

// PlanRecovery works out, for a customer, the smallest gesture of each
// kind that would bring its balance back to its overdraft limit now, and
// how long time alone would take, after the assumed gestures (a response
// now, say, then what else). Everything is computed by applying events to
// the customer's state under the active policy, as recording them would;
// nothing is written.
func (s *Service) PlanRecovery(ctx context.Context, tenant, id string, assume []Gesture) (RecoveryPlan, error) {
	var v violations
	v.add(checkID("customer_id", id, s.limits.MaxIDLength))
	if len(assume) > MaxAssumedGestures {
		v.add(Invalid("assume", "must hold at most %d gestures", MaxAssumedGestures))
	}
	for i, g := range assume {
		field := fmt.Sprintf("assume[%d]", i)
		if !g.Kind.Recordable() {
			v.add(Invalid(field+".kind", "must be one of %s", recordableKindNames()))
		}
		if math.IsNaN(g.Magnitude) || g.Magnitude <= 0 || g.Magnitude > s.limits.MaxMagnitude {
			v.add(Invalid(field+".magnitude", "must be positive, at most %g", s.limits.MaxMagnitude))
		}
	}
	if err := v.err(); err != nil {
		return RecoveryPlan{}, err
	}
	now := s.clock()
	var plan RecoveryPlan
	err := s.viewCustomer(ctx, tenant, id, func(r Reader, pol *Policy, c Customer) error {
		st := c.State
		if c.PolicyVersion != pol.Version {
			hist, err := r.History(ctx, tenant, id)
			if err != nil {
				return err
			}
			st = pol.Replay(hist, time.Time{})
		}
		plan = planRecovery(c, st, pol, now, assume, s.limits.MaxMagnitude, nil)
		return nil
	})
	return plan, err
}

// planRecovery is PlanRecovery on a state at the moment at. The gestures
// it applies, assumed or suggested, come one after another, each just
// after the customer's latest event or gesture, and each option is judged
// just after its last gesture: what recording them in turn from at gives.
//
// only, when set, limits the options to those kinds.
func planRecovery(c Customer, st State, pol *Policy, at time.Time, assume []Gesture, maxMagnitude float64, only []Kind) RecoveryPlan {
	// Each gesture comes just after what precedes it: at the plan's
	// moment, or a microsecond after the gesture before (several at one
	// instant would be ordered by kind, not as given). So no two share a
	// moment, and one id serves them all: numbering each (a Sprintf per
	// gesture) was a tenth of ListOutreach's CPU.
	gesture := func(st State, k Kind, m float64) (State, Effect) {
		t := at
		if !t.After(st.Last.At) {
			t = st.Last.At.Add(time.Microsecond)
		}
		return pol.Apply(st, Event{TenantID: c.TenantID, CustomerID: c.ID, ID: "plan", Kind: k,
			Magnitude: m, OccurredAt: t})
	}
	// healthy judges a state just after its last gesture.
	healthy := func(st State) bool { return balanceOf(c, st, pol, laterOf(at, st.Last.At)).Status == StatusHealthy }
	for _, g := range assume {
		st, _ = gesture(st, g.Kind, g.Magnitude)
	}
	at = laterOf(at, st.Last.At)
	plan := RecoveryPlan{Balance: balanceOf(c, st, pol, at), Assumed: assume}
	if plan.Balance.Status != StatusOverdrawn {
		return plan
	}
	// The balance turns healthy at tau (a reported value of at least the
	// limit, dust counting as zero); see recoveryDue.
	tau := math.Min(c.Limit(pol), -pol.DustThreshold)
	plan.Needed = c.Limit(pol) - plan.Balance.Value
	for _, k := range RecordableKinds() {
		w := pol.Weights[k]
		if w <= 0 || (only != nil && !slices.Contains(only, k)) {
			continue
		}
		probed, probe := gesture(st, k, 1)
		opt := RecoveryOption{Kind: k, Factor: probe.Factor, Rule: probe.Rule}
		// One event: the context rules judge it by the balance just before
		// it, which its own size does not change, so the size needed is
		// (tau - before) / points per unit. Floating point may leave that a
		// hair short: it grows by ever larger steps until the state is
		// healthy, overshooting by about the shortfall.
		if probe.Points > 0 {
			before := probed.Value - probe.Points
			m := max((tau-before)/probe.Points, math.SmallestNonzeroFloat64)
			for step := 1e-12; ; step *= 2 {
				if m > maxMagnitude {
					m = 0
					break
				}
				if after, _ := gesture(st, k, m); healthy(after) {
					break
				}
				m *= 1 + step
			}
			opt.Magnitude = m
		}
		// Events of magnitude 1, one after another: each raises the
		// balance the next is judged by. (A plan for some kinds only, the
		// outreach list's, counts only the kinds people count.)
		if _, counted := plurals[k]; only != nil && !counted {
			plan.Options = append(plan.Options, opt)
			continue
		}
		cur := st
		for i := int64(1); i <= MaxRecoveryEvents; i++ {
			if cur, _ = gesture(cur, k, 1); healthy(cur) {
				opt.Events = i
				break
			}
		}
		plan.Options = append(plan.Options, opt)
	}
	c.State = st
	plan.RecoversAt = recoveryDue(c, pol)
	return plan
}

// Summary says the plan in words: "overdrawn by 12.4: a credit of 49.6
// (counts ×0.25: the relationship is overdrawn), or 3 responses, ...;
// without action, in 48 days."
func (p RecoveryPlan) Summary() string {
	if p.Balance.Status != StatusOverdrawn {
		return fmt.Sprintf("not overdrawn: the balance %s is within its limit %s", num(p.Balance.Value), num(p.Balance.OverdraftLimit))
	}
	var parts []string
	for _, o := range p.Options {
		s, ok := gestureWords(o)
		if !ok {
			continue
		}
		switch o.Rule {
		case "hollow":
			s += fmt.Sprintf(" (counting ×%s while the relationship is this low)", num(o.Factor))
		case "relationship", "notice":
			if o.Factor != 1 {
				s += fmt.Sprintf(" (counting ×%s now)", num(o.Factor))
			}
		}
		parts = append(parts, s)
	}
	out := fmt.Sprintf("overdrawn by %s: ", num(p.Needed))
	if len(parts) == 0 {
		out += "no single kind of gesture is enough"
	} else {
		out += strings.Join(parts, "; or ")
	}
	if p.RecoversAt.IsZero() {
		return out + "; time alone will not do it."
	}
	return out + fmt.Sprintf("; without action, in %s.", humanDuration(p.RecoversAt.Sub(p.Balance.AsOf)))
}

// plurals names the kinds a plan counts in events, as people say them.
var plurals = map[Kind][2]string{
	KindReliableDelivery:  {"reliable delivery", "reliable deliveries"},
	KindResponse:          {"response", "responses"},
	KindProactiveNotice:   {"proactive notice", "proactive notices"},
	KindSuggestionAdopted: {"adopted suggestion", "adopted suggestions"},
	KindEngagement:        {"engagement", "engagements"},
}

// gestureWords is an option as a person would say it: a credit by its
// amount, the other kinds by how many events; false when out of reach.
func gestureWords(o RecoveryOption) (string, bool) {
	names, counted := plurals[o.Kind]
	switch {
	case counted && o.Events == 1:
		return "one " + names[0], true
	case counted && o.Events > 1:
		return fmt.Sprintf("%d %s", o.Events, names[1]), true
	case o.Magnitude > 0:
		return fmt.Sprintf("a %s of %s", strings.ReplaceAll(o.Kind.String(), "_", " "), num(o.Magnitude)), true
	}
	return "", false
}

// num prints a number the way a person reads it: at most two decimals.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

// humanDuration is a duration in days, or hours when under two days.
func humanDuration(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%.0f hours", math.Ceil(d.Hours()))
	}
	return fmt.Sprintf("%.0f days", math.Ceil(d.Hours()/24))
}

// wayBack is the reason a RECOVERY outreach entry gives for what would
// win the customer back: the remedies a person can offer now (a credit,
// responses), with what the context rules make them worth, and time alone.
func wayBack(p RecoveryPlan) string {
	var offers []string
	factor, rule := 1.0, ""
	for _, o := range p.Options {
		if s, ok := gestureWords(o); ok {
			offers = append(offers, s)
			if o.Rule == "hollow" || (o.Rule != "" && o.Factor != 1) {
				factor, rule = o.Factor, o.Rule
			}
		}
	}
	if len(offers) == 0 {
		return ""
	}
	out := "a way back now: " + strings.Join(offers, " or ")
	if rule != "" {
		out += fmt.Sprintf(" (each counting ×%s now)", num(factor))
	}
	if !p.RecoversAt.IsZero() {
		out += fmt.Sprintf("; by time alone in %s", humanDuration(p.RecoversAt.Sub(p.Balance.AsOf)))
	}
	return out
}
