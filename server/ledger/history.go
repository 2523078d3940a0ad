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
	if err := checkID("customer_id", id, s.limits.MaxIDLength); err != nil {
		return nil, 0, err
	}
	if start.IsZero() {
		return nil, 0, Invalid("start", "is required")
	}
	if end.IsZero() {
		return nil, 0, Invalid("end", "is required")
	}
	if end.Before(start) {
		return nil, 0, Invalid("end", "must not be before start")
	}
	if step == 0 {
		step = 24 * time.Hour
	}
	if step < time.Minute {
		return nil, 0, Invalid("step", "must be at least 1 minute")
	}
	if n := math.Floor(seconds(start, end)/step.Seconds()) + 1; n > maxHistoryPoints {
		return nil, 0, Invalid("step", "makes %.0f points; at most %d are allowed (use a longer step or a shorter range)", n, maxHistoryPoints)
	}
	var points []Point
	var version int64
	err := s.viewHistory(ctx, tenant, id, func(pol *Policy, c Customer, hist []Event) {
		version = pol.Version
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
