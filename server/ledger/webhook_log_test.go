package ledger

import (
	"fmt"
	"testing"
	"time"
)

// A round logs every failure and only its last loggedSuccesses deliveries,
// in time order, never more than the ring holds.
func TestAttemptsToLog(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var tries []Attempt
	for i := range 40 {
		// Out of time order, as the round's customers finish; every
		// tenth attempt failed.
		tries = append(tries, Attempt{NotificationID: fmt.Sprint(i), At: t0.Add(time.Duration((i*7)%40) * time.Second),
			Delivered: i%10 != 0})
	}
	got := attemptsToLog(tries)
	failures, successes := 0, 0
	for i, a := range got {
		if i > 0 && a.At.Before(got[i-1].At) {
			t.Fatalf("not in time order at %d", i)
		}
		if a.Delivered {
			successes++
		} else {
			failures++
		}
	}
	if failures != 4 || successes != loggedSuccesses {
		t.Fatalf("logged %d failures and %d successes, want 4 and %d", failures, successes, loggedSuccesses)
	}
	// The successes kept are the latest ones: none left out is later than
	// the earliest kept.
	kept := map[string]bool{}
	earliest := t0.Add(time.Hour)
	for _, a := range got {
		if a.Delivered {
			kept[a.NotificationID] = true
			if a.At.Before(earliest) {
				earliest = a.At
			}
		}
	}
	for _, a := range tries {
		if a.Delivered && !kept[a.NotificationID] && a.At.After(earliest) {
			t.Fatalf("success at %s left out, one at %s kept", a.At, earliest)
		}
	}
	many := make([]Attempt, 3*attemptRing)
	for i := range many {
		many[i] = Attempt{At: t0.Add(time.Duration(i) * time.Millisecond)}
	}
	if n := len(attemptsToLog(many)); n != attemptRing {
		t.Fatalf("%d failures logged, want the ring's %d", n, attemptRing)
	}
}
