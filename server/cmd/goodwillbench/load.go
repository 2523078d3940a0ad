package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// stats are what one load scenario measured.
type stats struct {
	events    int64
	elapsed   time.Duration
	latencies []time.Duration
	errors    int64
	firstErr  error
}

func (s stats) rate() float64 { return float64(s.events) / s.elapsed.Seconds() }

func (s stats) pct(p float64) float64 {
	if len(s.latencies) == 0 {
		return 0
	}
	slices.Sort(s.latencies)
	i := min(len(s.latencies)-1, int(p*float64(len(s.latencies))))
	return float64(s.latencies[i].Microseconds()) / 1000
}

// call does one request for client c (its n-th) and returns how many events
// it carried.
type call func(ctx context.Context, c, n int) (int, error)

// drive runs clients goroutines calling fn until d has passed, and collects
// every call's latency. Calls are bounded in time; the loop stops itself.
func drive(ctx context.Context, clients int, d time.Duration, fn call) stats {
	var (
		mu     sync.Mutex
		all    []time.Duration
		events atomic.Int64
		errs   atomic.Int64
		first  error
		wg     sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			var lat []time.Duration
			for n := 0; time.Now().Before(deadline); n++ {
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				t0 := time.Now()
				k, err := fn(cctx, c, n)
				cancel()
				if errors.Is(err, errDone) {
					break
				}
				if err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						first = err
						mu.Unlock()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				events.Add(int64(k))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return stats{events: events.Load(), elapsed: time.Since(start), latencies: all, errors: errs.Load(), firstErr: first}
}

func (s stats) note() string {
	if s.errors == 0 {
		return ""
	}
	return fmt.Sprintf("%d errors, first: %v", s.errors, s.firstErr)
}

// paced calls fn rate times a second, each call in its own goroutine, until
// stop is closed, and counts the calls that succeeded. Each tick (every
// millisecond at most) starts every call due since the start, so ticks the
// scheduler delays are caught up rather than lost; calls falling due while
// 256 are in flight are dropped, not owed.
func paced(ctx context.Context, rate float64, stop <-chan struct{}, fn func(ctx context.Context, n int) error) stats {
	tick := time.NewTicker(max(time.Millisecond, time.Duration(float64(time.Second)/rate)))
	defer tick.Stop()
	busy := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var (
		ok, failed atomic.Int64
		mu         sync.Mutex
		first      error
	)
	start := time.Now()
	launched := 0
	for {
		select {
		case <-stop:
			wg.Wait()
			return stats{events: ok.Load(), elapsed: time.Since(start), errors: failed.Load(), firstErr: first}
		case <-tick.C:
		}
		due := int(time.Since(start).Seconds() * rate)
	launch:
		for ; launched < due; launched++ {
			select {
			case busy <- struct{}{}:
			default:
				launched = due
				break launch
			}
			n := launched
			wg.Go(func() {
				defer func() { <-busy }()
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				if err := fn(cctx, n); err == nil {
					ok.Add(1)
				} else if failed.Add(1) == 1 {
					mu.Lock()
					first = err
					mu.Unlock()
				}
			})
		}
	}
}

// cpuWindow is the CPU a baseline spent while it drove its load: this
// program's (the driver's side of the baseline) and PostgreSQL's, read
// before the baseline closes its connections (a backend that exits takes
// its CPU time with it).
type cpuWindow struct{ self, db float64 }

// drive is drive, measured.
func (w *cpuWindow) drive(ctx context.Context, clients int, d time.Duration, fn call) stats {
	self, db := selfCPUSeconds(), postgresCPUSeconds()
	s := drive(ctx, clients, d, fn)
	w.self, w.db = selfCPUSeconds()-self, postgresCPUSeconds()-db
	return s
}
