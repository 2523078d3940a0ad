package ledger

import (
	"context"
	"math"
	"time"
)

// Point is one sample of a balance series.
type Point struct {
	At     time.Time
	Value  float64
	Status Status
	Count  int64
}

// maxHistoryPoints bounds one series.
const maxHistoryPoints = 1000

// BalanceHistory samples a customer's balance from start to end every step
// (a day when zero), replaying the log once. It returns the points and the
// policy version they were computed under.
func (s *Service) BalanceHistory(ctx context.Context, tenant, id string, start, end time.Time, step time.Duration) ([]Point, int64, error) {
	var v violations
	v.add(checkID("customer_id", id, s.limits.MaxIDLength))
	if start.IsZero() {
		v.add(Invalid("start", "is required"))
	}
	if end.IsZero() {
		v.add(Invalid("end", "is required"))
	}
	if step == 0 {
		step = 24 * time.Hour
	}
	switch {
	case step < time.Minute:
		v.add(Invalid("step", "must be at least 1 minute"))
	case start.IsZero() || end.IsZero():
	case end.Before(start):
		v.add(Invalid("end", "must not be before start"))
	default:
		if n := math.Floor(seconds(start, end)/step.Seconds()) + 1; n > maxHistoryPoints {
			v.add(Invalid("step", "makes %.0f points; at most %d are allowed (use a longer step or a shorter range)", n, maxHistoryPoints))
		}
	}
	if err := v.err(); err != nil {
		return nil, 0, err
	}
	var points []Point
	var version int64
	err := s.viewHistory(ctx, tenant, id, func(pol *Policy, c Customer, hist []Event) {
		points, version = nil, pol.Version // the store may run this again
		events := Effective(hist)
		var st State
		next := 0
		for at := start; !at.After(end); at = at.Add(step) {
			for next < len(events) && !events[next].OccurredAt.After(at) {
				st, _ = pol.Apply(st, events[next])
				next++
			}
			b := balanceOf(c, st, pol, at)
			points = append(points, Point{At: at, Value: b.Value, Status: b.Status, Count: b.EventCount})
		}
	})
	return points, version, err
}
