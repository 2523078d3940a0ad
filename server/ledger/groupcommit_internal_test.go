package ledger

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func write(tenant, customer string, seq int) *pending {
	return &pending{tenant: tenant, e: Event{CustomerID: customer, ID: fmt.Sprint(seq)}}
}

func ids(batch []*pending) []string {
	out := make([]string, len(batch))
	for i, p := range batch {
		out[i] = p.e.CustomerID + "/" + p.e.ID
	}
	return out
}

// A write whose customer is in a batch being committed waits for it, then
// goes before that customer's newer writes; other customers pass it.
func TestSchedulerHoldsACustomerInFlight(t *testing.T) {
	s := newScheduler(2)
	a := s.admit(nil, write("t", "x", 1))
	a = s.admit(a, write("t", "y", 2))
	s.dispatch(a)

	b := s.admit(nil, write("t", "x", 3)) // x is in flight: held
	b = s.admit(b, write("t", "z", 4))
	b = s.admit(b, write("t", "x", 5)) // behind x/3
	b = s.admit(b, write("u", "y", 6)) // another tenant's y is another customer
	if got := fmt.Sprint(ids(b)); got != "[z/4 y/6]" {
		t.Fatalf("batch formed while x is in flight: %s, want [z/4 y/6]", got)
	}
	if got := s.release(nil, 10); len(got) != 0 {
		t.Fatalf("released %v while x is still in flight", ids(got))
	}
	s.dispatch(b)
	s.done(a)
	c := s.release(nil, 10)
	c = s.admit(c, write("t", "x", 7))
	if got := fmt.Sprint(ids(c)); got != "[x/3 x/5 x/7]" {
		t.Fatalf("after x's batch: %s, want [x/3 x/5 x/7]", got)
	}
	if len(s.held) != 0 || len(s.heldOf) != 0 {
		t.Fatalf("still held: %v %v", ids(s.held), s.heldOf)
	}
}

// A full batch leaves the rest held, and a customer's later write never
// passes its earlier one.
func TestSchedulerReleasesInOrderUpToTheBatchSize(t *testing.T) {
	s := newScheduler(2)
	a := s.admit(nil, write("t", "x", 1))
	a = s.admit(a, write("t", "y", 2))
	s.dispatch(a)
	var none []*pending
	none = s.admit(none, write("t", "x", 3))
	none = s.admit(none, write("t", "y", 4))
	none = s.admit(none, write("t", "x", 5))
	if len(none) != 0 {
		t.Fatalf("admitted %v", ids(none))
	}
	s.done(a)
	for _, want := range []string{"[x/3]", "[y/4]", "[x/5]"} {
		if got := fmt.Sprint(ids(s.release(nil, 1))); got != want {
			t.Fatalf("released %s, want %s", got, want)
		}
	}
}

// Under random arrivals, dispatches and completions over several writers:
// no customer is ever in two batches in flight, every customer's writes
// are dispatched in arrival order, and none is lost.
func TestSchedulerKeepsEveryCustomersOrder(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		writers := 1 + rng.IntN(4)
		s := newScheduler(writers)
		var inFlight [][]*pending
		var forming []*pending
		arrived, sent := 0, map[string]int{}
		const total = 2000
		dispatched := 0
		check := func(batch []*pending) {
			for _, p := range batch {
				var seq int
				fmt.Sscan(p.e.ID, &seq)
				if last, ok := sent[p.e.CustomerID]; ok && seq <= last {
					t.Fatalf("seed %d: %s/%d dispatched after %d", seed, p.e.CustomerID, seq, last)
				}
				sent[p.e.CustomerID] = seq
			}
			for _, other := range inFlight {
				for _, p := range batch {
					for _, q := range other {
						if refOf(p) == refOf(q) {
							t.Fatalf("seed %d: %s in two batches in flight", seed, p.e.CustomerID)
						}
					}
				}
			}
		}
		for dispatched < total {
			switch op := rng.IntN(10); {
			case op < 6 && arrived < total:
				arrived++
				forming = s.admit(forming, write("t", fmt.Sprintf("c%d", rng.IntN(8)), arrived))
			case op < 8 && s.idle > 0:
				forming = s.release(forming, 16)
				if len(forming) == 0 {
					continue
				}
				check(forming)
				s.dispatch(forming)
				inFlight = append(inFlight, forming)
				dispatched += len(forming)
				forming = nil
			case len(inFlight) > 0:
				i := rng.IntN(len(inFlight))
				s.done(inFlight[i])
				inFlight = append(inFlight[:i], inFlight[i+1:]...)
				forming = s.release(forming, 16)
			}
		}
		if len(s.held) != 0 || len(forming) != 0 {
			t.Fatalf("seed %d: %d held, %d forming after all were dispatched", seed, len(s.held), len(forming))
		}
	}
}

// The collector's times follow arrival: an event without a time that
// arrives with an older stamp than the last write's is recorded a
// microsecond after it, where the clock allows; one with its own time
// keeps it; a stopped clock keeps the tie.
func TestStampFollowsArrival(t *testing.T) {
	base := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	at := func(us int) time.Time { return base.Add(time.Duration(us) * time.Microsecond) }
	clock := at(100)
	c := &committer{svc: &Service{now: func() time.Time { return clock }}}
	arrive := func(now int, stamped bool, occurred time.Time) *pending {
		p := &pending{now: at(now), stamped: stamped, e: Event{OccurredAt: occurred, RecordedAt: at(now)}}
		if stamped {
			p.e.OccurredAt = at(now)
		}
		c.stamp(p)
		return p
	}
	check := func(name string, p *pending, now, occurred time.Time) {
		t.Helper()
		if !p.now.Equal(now) || !p.e.RecordedAt.Equal(now) || !p.e.OccurredAt.Equal(occurred) {
			t.Errorf("%s: now %s, recorded %s, occurred %s; want now and recorded %s, occurred %s", name,
				p.now.Format("05.000000"), p.e.RecordedAt.Format("05.000000"), p.e.OccurredAt.Format("05.000000"),
				now.Format("05.000000"), occurred.Format("05.000000"))
		}
	}
	check("first", arrive(5, true, time.Time{}), at(5), at(5))
	check("stamped earlier, arriving later", arrive(3, true, time.Time{}), at(6), at(6))
	old := base.Add(-time.Hour)
	check("with its own time", arrive(4, false, old), at(6), old)
	check("stamped at the last time", arrive(6, true, time.Time{}), at(7), at(7))
	check("stamped later", arrive(50, true, time.Time{}), at(50), at(50))
	clock = at(50) // stopped at the last time
	check("a stopped clock", arrive(50, true, time.Time{}), at(50), at(50))
}
