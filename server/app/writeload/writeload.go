// Package writeload drives a goodwilld with concurrent writers that use
// idempotency keys, and checks afterwards that every acknowledged write is
// stored exactly once. It is test support for the fault, shutdown and disk
// tests; it must never be imported by the server.
package writeload

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// Config shapes a load.
type Config struct {
	// Writers is the number of concurrent writers (default 16).
	Writers int
	// Customers spreads the writes over this many customers (default 8).
	Customers int
	// Prefix starts every idempotency key and customer id, so two loads on
	// one store do not collide.
	Prefix string
	// Attempt is each call's deadline (default 2s).
	Attempt time.Duration
	// Retry: a write that fails with UNAVAILABLE or DEADLINE_EXCEEDED is
	// retried with the same idempotency key until it is acknowledged or
	// GiveUp passes. Without it each write is tried once and its outcome
	// counted.
	Retry bool
	// GiveUp bounds the retries of one write (default 60s).
	GiveUp time.Duration
	// Pause between two writes of one writer (default none).
	Pause time.Duration
}

// Outcome is how one attempt ended.
type Outcome struct {
	Code     codes.Code
	Message  string
	Took     time.Duration
	At       time.Time
	Key      string
	Customer string
}

// Load is a running set of writers.
type Load struct {
	cfg    Config
	c      *client.Client
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	acks   atomic.Int64
	mu     sync.Mutex
	acked  map[string]string // key -> customer
	failed map[string]string // keys that were given up on, never acknowledged
	// failures are the final outcomes of the writes in failed.
	failures []Outcome
	// attempts by code; Unknown includes transport errors.
	codes    map[codes.Code]int
	others   []Outcome // attempts ending with a code no fault explains
	longest  Outcome
	lastAck  time.Time
	ackTimes []time.Time
	replayed int
}

// Start starts cfg.Writers writers on c. Stop them with Stop.
func Start(c *client.Client, cfg Config) *Load {
	if cfg.Writers <= 0 {
		cfg.Writers = 16
	}
	if cfg.Customers <= 0 {
		cfg.Customers = 8
	}
	if cfg.Attempt <= 0 {
		cfg.Attempt = 2 * time.Second
	}
	if cfg.GiveUp <= 0 {
		cfg.GiveUp = 60 * time.Second
	}
	l := &Load{cfg: cfg, c: c, stop: make(chan struct{}), acked: map[string]string{}, failed: map[string]string{},
		codes: map[codes.Code]int{}}
	for w := range cfg.Writers {
		l.wg.Add(1)
		go l.writer(w)
	}
	return l
}

func (l *Load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *Load) writer(w int) {
	defer l.wg.Done()
	for n := 0; !l.stopped(); n++ {
		key := fmt.Sprintf("%sw%d-%d", l.cfg.Prefix, w, n)
		customer := fmt.Sprintf("%sc%d", l.cfg.Prefix, (w+n)%l.cfg.Customers)
		l.write(key, customer)
		if l.cfg.Pause > 0 {
			select {
			case <-l.stop:
			case <-time.After(l.cfg.Pause):
			}
		}
	}
}

// write records one event, retrying when configured. A write that was
// started is seen through to an outcome even after Stop: that is the
// point of retrying with the same key.
func (l *Load) write(key, customer string) {
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Attempt)
		t0 := time.Now()
		resp, err := l.c.Record(ctx, customer, client.Event{Kind: goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY,
			IdempotencyKey: key, Source: "writeload"})
		cancel()
		o := Outcome{Code: status.Code(err), Took: time.Since(t0), At: time.Now(), Key: key, Customer: customer}
		if err != nil {
			o.Message = status.Convert(err).Message()
		}
		l.note(o, resp.GetReplayed())
		if err == nil {
			return
		}
		retryable := o.Code == codes.Unavailable || o.Code == codes.DeadlineExceeded
		if !l.cfg.Retry || !retryable || time.Since(start) > l.cfg.GiveUp {
			l.mu.Lock()
			l.failed[key] = customer
			l.failures = append(l.failures, o)
			l.mu.Unlock()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *Load) note(o Outcome, replayed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.codes[o.Code]++
	if o.Took > l.longest.Took {
		l.longest = o
	}
	switch o.Code {
	case codes.OK:
		l.acked[o.Key] = o.Customer
		l.lastAck = o.At
		l.ackTimes = append(l.ackTimes, o.At)
		if replayed {
			l.replayed++
		}
		l.acks.Add(1)
	case codes.Unavailable, codes.DeadlineExceeded:
	default:
		l.others = append(l.others, o)
	}
}

// Codes returns how many attempts ended with each code so far.
func (l *Load) Codes() map[codes.Code]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[codes.Code]int, len(l.codes))
	for k, v := range l.codes {
		out[k] = v
	}
	return out
}

// Acks is the number of writes acknowledged so far.
func (l *Load) Acks() int64 { return l.acks.Load() }

// WaitAcks waits until n more writes than now are acknowledged, or
// timeout passes.
func (l *Load) WaitAcks(n int64, timeout time.Duration) error {
	want := l.Acks() + n
	deadline := time.Now().Add(timeout)
	for l.Acks() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d more acknowledgements within %s", l.Acks()-(want-n), n, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// FirstAckAfter returns the time of the first acknowledgement at or after
// t, waiting up to timeout for one.
func (l *Load) FirstAckAfter(t time.Time, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		i := sort.Search(len(l.ackTimes), func(i int) bool { return !l.ackTimes[i].Before(t) })
		var at time.Time
		if i < len(l.ackTimes) {
			at = l.ackTimes[i]
		}
		l.mu.Unlock()
		if !at.IsZero() {
			return at, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("no write acknowledged within %s after %s", timeout, t.Format(time.StampMilli))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Result is what a load saw.
type Result struct {
	// Acked maps each acknowledged idempotency key to its customer.
	Acked map[string]string
	// Failed maps each write that was never acknowledged to its customer;
	// Failures are their last attempts.
	Failed   map[string]string
	Failures []Outcome
	// Codes counts attempts by status code.
	Codes map[codes.Code]int
	// Others are attempts that ended with a code other than OK,
	// UNAVAILABLE or DEADLINE_EXCEEDED.
	Others []Outcome
	// Longest is the slowest attempt.
	Longest Outcome
	// Replayed counts acknowledgements that were replays of a write
	// committed by an earlier attempt whose answer was lost.
	Replayed  int
	Customers []string
}

// Stop stops starting new writes, waits for the writes in flight to reach
// an outcome, and returns the result.
func (l *Load) Stop() Result {
	l.once.Do(func() { close(l.stop) }) // a second Stop returns the same result

	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := Result{Acked: l.acked, Failed: l.failed, Failures: l.failures, Codes: l.codes, Others: l.others, Longest: l.longest, Replayed: l.replayed}
	for i := range l.cfg.Customers {
		r.Customers = append(r.Customers, fmt.Sprintf("%sc%d", l.cfg.Prefix, i))
	}
	return r
}

// Attempts is the total number of calls made.
func (r Result) Attempts() int {
	n := 0
	for _, v := range r.Codes {
		n += v
	}
	return n
}

// Stored is what the server holds for a load's customers.
type Stored struct {
	// Count maps each idempotency key found to how often it was found.
	Count map[string]int
	// Events is the number of events listed; EventCount the sum of the
	// balances' event counts.
	Events, EventCount int
}

// Read lists every event of the customers (through the API) and counts
// their idempotency keys.
func Read(ctx context.Context, c *client.Client, customers []string) (Stored, error) {
	s := Stored{Count: map[string]int{}}
	for _, cust := range customers {
		token := ""
		for {
			resp, err := c.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: cust, PageSize: 1000, PageToken: token})
			if status.Code(err) == codes.NotFound {
				break
			}
			if err != nil {
				return s, fmt.Errorf("list events of %s: %w", cust, err)
			}
			for _, e := range resp.GetEvents() {
				s.Count[e.GetIdempotencyKey()]++
				s.Events++
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		b, err := c.Balance(ctx, cust)
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return s, fmt.Errorf("balance of %s: %w", cust, err)
		}
		s.EventCount += int(b.GetEventCount())
	}
	return s, nil
}

// Check compares what is stored with what was acknowledged: every
// acknowledged key exactly once, no key more than once, nothing stored
// that was neither acknowledged nor attempted, and the balances' event
// counts equal to the events listed.
func Check(r Result, s Stored) (Verdict, error) {
	var v Verdict
	var errs []error
	var lost, doubled []string
	for k := range r.Acked {
		switch n := s.Count[k]; {
		case n == 0:
			lost = append(lost, k)
		case n > 1:
			doubled = append(doubled, fmt.Sprintf("%s x%d", k, n))
		}
	}
	for k, n := range s.Count {
		if _, ok := r.Acked[k]; ok {
			continue
		}
		if _, ok := r.Failed[k]; !ok {
			errs = append(errs, fmt.Errorf("stored key %q was never written by this load", k))
			continue
		}
		if n > 1 {
			doubled = append(doubled, fmt.Sprintf("%s x%d (unacknowledged)", k, n))
		}
		v.CommittedUnacked++
	}
	v.Lost, v.Doubled = len(lost), len(doubled)
	if len(lost) > 0 {
		sort.Strings(lost)
		errs = append(errs, fmt.Errorf("%d acknowledged writes lost, e.g. %v", len(lost), lost[:min(5, len(lost))]))
	}
	if len(doubled) > 0 {
		sort.Strings(doubled)
		errs = append(errs, fmt.Errorf("%d writes stored more than once, e.g. %v", len(doubled), doubled[:min(5, len(doubled))]))
	}
	if s.EventCount != s.Events {
		errs = append(errs, fmt.Errorf("balances count %d events but %d are listed", s.EventCount, s.Events))
	}
	return v, errors.Join(errs...)
}

// Verdict counts what Check found.
type Verdict struct {
	// Lost: acknowledged but not stored. Doubled: stored more than once.
	Lost, Doubled int
	// CommittedUnacked: stored although the client was told of a failure
	// (a commit whose answer never reached it); harmless, but counted.
	CommittedUnacked int
}
