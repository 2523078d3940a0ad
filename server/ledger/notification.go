package ledger

import (
	"math"
	"time"
)

// NotificationType says what a notification announces, named the Standard
// Webhooks way ("resource.change").
type NotificationType string

const (
	// NotifyEventRecorded: an event was stored (reversals included), for
	// systems that mirror the ledger.
	NotifyEventRecorded NotificationType = "event.recorded"
	// NotifyOverdrawn: the customer's status went from HEALTHY to OVERDRAWN.
	NotifyOverdrawn NotificationType = "customer.overdrawn"
	// NotifyRecovered: from OVERDRAWN to HEALTHY, by an event, a profile or
	// policy change, or by time alone (a deficit fading inside the limit).
	NotifyRecovered NotificationType = "customer.recovered"
	// NotifyAdvocate: the customer entered the ADVOCACY list.
	NotifyAdvocate NotificationType = "customer.advocate"
	// NotifyPolicyActivated: a policy version finished recomputing.
	NotifyPolicyActivated NotificationType = "policy.activated"
)

// NotificationTypes lists every type, in the order the API documents them.
func NotificationTypes() []NotificationType {
	return []NotificationType{NotifyEventRecorded, NotifyOverdrawn, NotifyRecovered, NotifyAdvocate, NotifyPolicyActivated}
}

// Valid reports whether t is a known type.
func (t NotificationType) Valid() bool {
	for _, k := range NotificationTypes() {
		if t == k {
			return true
		}
	}
	return false
}

// Notification is one thing the ledger announces. It is written in the
// same transaction as the change that causes it (a transactional outbox),
// so a committed change never loses its notification and a rolled-back one
// never emits one. Its ID is the same on every delivery attempt and every
// channel.
type Notification struct {
	TenantID string
	// ID is "ntf_" and a UUIDv7.
	ID string
	// Seq is the notification's place in the stream, given after it
	// commits (the sequencer, outbox.go); 0 until then.
	Seq  int64
	Type NotificationType
	// CustomerID is "" for policy.activated.
	CustomerID string
	// CustomerSeq orders one customer's notifications: its n-th is n.
	CustomerSeq int64
	// OccurredAt is when what it announces happened: the change's moment,
	// or for a recovery by time alone the exact moment the deficit faded
	// inside the limit.
	OccurredAt time.Time
	CreatedAt  time.Time
	// EventID is the event that caused it, if one did.
	EventID       string
	PolicyVersion int64
	// Before and After are the customer's balance just before and after
	// the change (zero for policy.activated).
	Before, After Snapshot
	// Event is the stored event, for event.recorded.
	Event *Event
}

// Snapshot is a balance and its status at one moment.
type Snapshot struct {
	Value  float64
	Status Status
}

// Watch is what a customer's notifications have announced so far, kept on
// the customer's row and written with it, so deciding the next one needs
// no other read:
type Watch struct {
	// Status is the status last announced (StatusUnspecified: none yet,
	// which counts as HEALTHY).
	Status Status
	// Advocate: the customer was last announced as an advocate and has not
	// been seen to leave the list since.
	Advocate bool
	// Seq counts the customer's notifications.
	Seq int64
	// DueAt is when the customer's status changes by time alone (an
	// overdrawn balance fading back inside its limit); zero when it
	// never will. The scheduler announces it then (schedule.go).
	DueAt time.Time
}

// watcher collects the notifications of one transaction.
type watcher struct {
	s     *Service
	now   time.Time
	notes []Notification
}

func (s *Service) newWatcher(now time.Time) *watcher { return &watcher{s: s, now: now} }

// note adds one notification for c (or for the tenant, when c is nil),
// numbering it in c's order.
func (w *watcher) note(c *Customer, tenant string, typ NotificationType, at time.Time, pol *Policy) *Notification {
	n := Notification{TenantID: tenant, ID: "ntf_" + w.s.newID(), Type: typ, OccurredAt: at, CreatedAt: w.now,
		PolicyVersion: pol.Version}
	if c != nil {
		c.Watch.Seq++
		n.CustomerID, n.CustomerSeq = c.ID, c.Watch.Seq
	}
	w.notes = append(w.notes, n)
	return &w.notes[len(w.notes)-1]
}

// recorded announces a stored event, with the balance around it.
func (w *watcher) recorded(before Customer, after *Customer, e Event, pol *Policy) {
	n := w.note(after, after.TenantID, NotifyEventRecorded, e.OccurredAt, pol)
	ev := e
	n.EventID, n.Event = e.ID, &ev
	n.Before, n.After = w.snapshot(before, pol), w.snapshot(*after, pol)
}

// changed announces what a change to a customer (an event, a profile, a
// policy) did to its status and its place on the advocacy list, judged now
// against what was last announced, and keeps c.Watch in step. cause is the
// event behind the change, if any.
func (w *watcher) changed(before Customer, after *Customer, pol *Policy, cause *Event) {
	// A recovery by time alone that fell due before this change and was not
	// announced yet comes first, at its own moment.
	w.catchUp(before, after, pol)
	b, a := w.snapshot(before, pol), w.snapshot(*after, pol)
	if announced := announcedStatus(after.Watch); a.Status != announced {
		typ := NotifyOverdrawn
		if a.Status == StatusHealthy {
			typ = NotifyRecovered
		}
		n := w.note(after, after.TenantID, typ, w.now, pol)
		n.Before, n.After = b, a
		if cause != nil {
			n.EventID = cause.ID
		}
		after.Watch.Status = a.Status
	}
	// Entering the list is announced; leaving it, by an event or by time,
	// only resets the flag so the next entry is announced again.
	wasMember := after.Watch.Advocate && w.advocate(before, pol)
	isMember := w.advocate(*after, pol)
	if isMember && !wasMember {
		n := w.note(after, after.TenantID, NotifyAdvocate, w.now, pol)
		n.Before, n.After = b, a
		if cause != nil {
			n.EventID = cause.ID
		}
	}
	after.Watch.Advocate = isMember
	after.Watch.DueAt = time.Time{}
	if after.Watch.Status == StatusOverdrawn {
		after.Watch.DueAt = recoveryDue(*after, pol)
	}
}

// catchUp announces a recovery by time alone whose moment has passed: the
// customer as it was (before) recovered at its due time; after carries the
// announcement on.
func (w *watcher) catchUp(before Customer, after *Customer, pol *Policy) {
	due := after.Watch.DueAt
	if due.IsZero() || due.After(w.now) || announcedStatus(after.Watch) != StatusOverdrawn {
		return
	}
	at := balanceOf(before, before.State, pol, due)
	if at.Status != StatusHealthy {
		return // the state moved since the due time was set; changed decides
	}
	n := w.note(after, after.TenantID, NotifyRecovered, due, pol)
	n.Before = Snapshot{Value: pol.reported(pol.BalanceAt(before.State, due.Add(-time.Microsecond))), Status: StatusOverdrawn}
	n.After = Snapshot{Value: at.Value, Status: at.Status}
	after.Watch.Status, after.Watch.DueAt = StatusHealthy, time.Time{}
}

func (w *watcher) snapshot(c Customer, pol *Policy) Snapshot {
	b := balanceOf(c, c.State, pol, laterOf(w.now, c.State.Last.At))
	return Snapshot{Value: b.Value, Status: b.Status}
}

// advocate reports whether c is on the ADVOCACY list now: a positive
// reported balance and a rising trend (the list's own filter).
func (w *watcher) advocate(c Customer, pol *Policy) bool {
	return c.State.Count > 0 && w.snapshot(c, pol).Value > 0 && c.State.Trend > 0
}

func announcedStatus(w Watch) Status {
	if w.Status == StatusUnspecified {
		return StatusHealthy
	}
	return w.Status
}

// recoveryDue is when an overdrawn customer's balance, fading towards zero,
// comes back inside its limit without any event: zero if it is not
// overdrawn, or never will be healthy by time alone.
//
// A balance V at T fades as V·2^(-(t-T)/h). It is overdrawn while its
// reported value is below the limit L (zero or negative), and a value
// closer to zero than the dust threshold D is reported as zero, so it turns
// healthy when it reaches τ = min(L, -D): at t = T + h·log2(V/τ). Floating
// point may land a hair before that moment, so the answer is checked and
// nudged forward a microsecond at a time.
func recoveryDue(c Customer, pol *Policy) time.Time {
	st := c.State
	if st.Value >= 0 || st.Count == 0 {
		return time.Time{}
	}
	start := st.Last.At
	if balanceOf(c, st, pol, start).Status != StatusOverdrawn {
		return time.Time{}
	}
	tau := math.Min(c.Limit(pol), -pol.DustThreshold)
	if tau >= 0 {
		return time.Time{} // no dust rule and a zero limit: it never gets there
	}
	secs := pol.HalfLife.Seconds() * math.Log2(st.Value/tau)
	if math.IsNaN(secs) || math.IsInf(secs, 0) || secs > 1e10 { // about 300 years
		return time.Time{}
	}
	due := start.Add(time.Duration(secs * float64(time.Second))).Truncate(time.Microsecond)
	for range 1000 {
		if balanceOf(c, st, pol, due).Status == StatusHealthy {
			return due
		}
		due = due.Add(time.Microsecond)
	}
	return due
}
