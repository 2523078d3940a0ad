package ledger

import "time"

// TrendPoint is one day's summary of one segment, or of everyone
// (Overall): the balances as they stood at the end of the day (UTC).
type TrendPoint struct {
	// Day is the day's first moment, 00:00 UTC.
	Day time.Time
	SegmentStats
	// PolicyVersion is the policy the balances were valued under, and
	// TakenAt when the snapshot was taken (a backfill is later than Day).
	PolicyVersion int64
	TakenAt       time.Time
}

// TrendQuery selects the snapshots of one segment, or of everyone, over a
// range of days (both included; each a day's 00:00 UTC).
type TrendQuery struct {
	Segment    string
	Overall    bool
	Start, End time.Time
}

// Day returns the day t falls on, as its first moment in UTC.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// endOfDay is the last moment that counts for a day's snapshot: events
// that occurred at or before it are in the day's balances.
func endOfDay(day time.Time) time.Time { return day.AddDate(0, 0, 1).Add(-time.Microsecond) }
