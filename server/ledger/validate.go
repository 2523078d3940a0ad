package ledger

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// minTime is the earliest instant the ledger accepts anywhere (event and
// incident times, as_of, cursors, a policy's epoch): older events would
// decay to nothing anyway, the bound keeps timestamps well inside every
// backend's range, and it keeps Go's zero time free to mean "not given".
var minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// CheckEarliest refuses a time before 1970-01-01, naming field. It is the
// one home of that rule; the API layer calls it on every timestamp it
// converts, before the zero time could be mistaken for "not given".
func CheckEarliest(field string, t time.Time) error {
	if t.Before(minTime) {
		return Invalid(field, "must not be before 1970-01-01")
	}
	return nil
}

// checkID validates a customer, event or incident id: 1 to max characters
// from [A-Za-z0-9._:@-], starting with a letter or digit, so ids are safe in
// URL paths (no "." or ".." segment) and logs.
func checkID(field, id string, max int) error {
	if id == "" {
		return Invalid(field, "is required")
	}
	if len(id) > max {
		return Invalid(field, "must be at most %d characters", max)
	}
	if c := id[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
		return Invalid(field, "must start with a letter or digit")
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == ':' || r == '@' || r == '-'
		if !ok {
			return Invalid(field, "may contain only letters, digits and . _ : @ -")
		}
	}
	return nil
}

// checkKey validates an idempotency key: optional, printable ASCII.
func checkKey(field, key string, max int) error {
	if len(key) > max {
		return Invalid(field, "must be at most %d characters", max)
	}
	for _, r := range key {
		if r < 0x21 || r > 0x7e {
			return Invalid(field, "must be printable ASCII without spaces")
		}
	}
	if strings.HasPrefix(key, incidentKeyPrefix) {
		return Invalid(field, "must not start with %q, which RecordIncident reserves", incidentKeyPrefix)
	}
	return nil
}

// checkText validates free text: valid UTF-8, no NUL, at most max characters.
func checkText(field, s string, max int) error {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return Invalid(field, "must be valid UTF-8 without NUL characters")
	}
	if utf8.RuneCountInString(s) > max {
		return Invalid(field, "must be at most %d characters", max)
	}
	return nil
}

func (l Limits) checkAttributes(field string, m map[string]string) error {
	if len(m) > l.MaxAttributes {
		return Invalid(field, "must have at most %d entries", l.MaxAttributes)
	}
	for k, v := range m {
		if k == "" {
			return Invalid(field, "keys must not be empty")
		}
		if err := checkText(fmt.Sprintf("%s[%q]", field, k), k, l.MaxAttributeKey); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("%s[%q]", field, k), v, l.MaxAttributeValue); err != nil {
			return err
		}
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func (l Limits) checkPositive(field string, f, max float64) error {
	if !finite(f) || f <= 0 {
		return Invalid(field, "must be a positive finite number")
	}
	if f > max {
		return Invalid(field, "must be at most %g", max)
	}
	return nil
}

func (l Limits) checkTime(field string, t, now time.Time) error {
	if err := CheckEarliest(field, t); err != nil {
		return err
	}
	if t.After(now.Add(l.MaxFutureSkew)) {
		return Invalid(field, "must not be more than %s in the future", l.MaxFutureSkew)
	}
	return nil
}

// checkNewEvent validates one event as a client sent it, reporting every
// invalid field. prefix is the event's path in the request ("event." or
// "events[3].").
func (l Limits) checkNewEvent(prefix string, e NewEvent, now time.Time) error {
	var v violations
	v.add(checkID(prefix+"customer_id", e.CustomerID, l.MaxIDLength))
	switch {
	case e.Kind == KindReversal:
		v.add(Invalid(prefix+"kind", "EVENT_KIND_REVERSAL is written only by ReverseEvent"))
	case !e.Kind.Recordable():
		v.add(Invalid(prefix+"kind", "is required: one of %s", recordableKindNames()))
	}
	if e.Magnitude != nil {
		v.add(l.checkPositive(prefix+"magnitude", *e.Magnitude, l.MaxMagnitude))
	}
	if !e.OccurredAt.IsZero() {
		v.add(l.checkTime(prefix+"occurred_at", e.OccurredAt, now))
	}
	v.add(checkKey(prefix+"idempotency_key", e.IdempotencyKey, l.MaxKeyLength))
	v.add(checkText(prefix+"source", e.Source, l.MaxSourceLength))
	v.add(checkText(prefix+"note", e.Note, l.MaxNoteLength))
	v.add(l.checkAttributes(prefix+"attributes", e.Attributes))
	return v.err()
}

func (l Limits) checkProfile(p Profile) error {
	var v violations
	v.add(checkText("customer.display_name", p.DisplayName, l.MaxNameLength))
	v.add(checkText("customer.segment", p.Segment, l.MaxSegmentLength))
	if !finite(p.Value) || p.Value < 0 || p.Value > l.MaxValue {
		v.add(Invalid("customer.value", "must be a finite number from 0 to %g", l.MaxValue))
	}
	if p.OverdraftLimit != nil && (!finite(*p.OverdraftLimit) || *p.OverdraftLimit > 0 || *p.OverdraftLimit < -1e9) {
		v.add(Invalid("customer.overdraft_limit", "must be zero or negative (how far below zero the balance may go), down to -1e9"))
	}
	v.add(l.checkAttributes("customer.attributes", p.Attributes))
	return v.err()
}

func (l Limits) pageSize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, Invalid("page_size", "must not be negative")
	case n == 0:
		return l.DefaultPageSize, nil
	case n > l.MaxPageSize:
		return 0, Invalid("page_size", "must be at most %d", l.MaxPageSize)
	}
	return n, nil
}
