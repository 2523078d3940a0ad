//go:build crash

// The crash test: `make test-crash` (go test -tags crash). It is behind a
// build tag so `go test ./...` never runs it.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/goodwill-ledger/goodwill/client"
	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// crashConfig is read from the environment; the defaults keep both stores
// well under two minutes.
type crashConfig struct {
	Cycles    int      `json:"cycles"`
	Writers   int      `json:"writers"`
	Customers int      `json:"customers"`
	Stores    []string `json:"stores"`
	// Uptime bounds how long the server runs between kills (uniform in
	// [Uptime/4, Uptime]).
	Uptime time.Duration `json:"-"`
}

func crashConfigFromEnv(t *testing.T) crashConfig {
	t.Helper()
	c := crashConfig{Cycles: 10, Writers: 16, Customers: 40, Stores: testStores(), Uptime: 1200 * time.Millisecond}
	ints := map[string]*int{"GOODWILL_CRASH_CYCLES": &c.Cycles, "GOODWILL_CRASH_WRITERS": &c.Writers,
		"GOODWILL_CRASH_CUSTOMERS": &c.Customers}
	for name, p := range ints {
		if v, ok := os.LookupEnv(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				t.Fatalf("%s=%q: want a positive integer", name, v)
			}
			*p = n
		}
	}
	if v, ok := os.LookupEnv("GOODWILL_CRASH_UPTIME"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("GOODWILL_CRASH_UPTIME=%q: want a positive duration such as 2s", v)
		}
		c.Uptime = d
	}
	if v, ok := os.LookupEnv("GOODWILL_CRASH_STORES"); ok {
		c.Stores = strings.Split(v, ",")
		for _, s := range c.Stores {
			if s != "sqlite" && s != "postgresql" {
				t.Fatalf("GOODWILL_CRASH_STORES=%q: want sqlite and/or postgresql, comma-separated", v)
			}
		}
	}
	return c
}

// crashFigures are one store's results.
type crashFigures struct {
	Store              string  `json:"store"`
	Replicas           int     `json:"replicas"`
	Cycles             int     `json:"cycles"`
	Writers            int     `json:"writers"`
	Customers          int     `json:"customers"`
	CallsAcknowledged  int64   `json:"calls_acknowledged"`
	EventsAcknowledged int64   `json:"events_acknowledged"`
	EventsStored       int64   `json:"events_stored"`
	CallsResent        int64   `json:"calls_resent_after_error"`
	Lost               int64   `json:"lost"`
	Doubled            int64   `json:"doubled"`
	Unexpected         int64   `json:"unexpected"`
	VerifyRuns         int     `json:"verify_runs"`
	VerifyMismatches   int     `json:"verify_runs_with_mismatches"`
	Seconds            float64 `json:"seconds"`
	FinalVerify        string  `json:"final_verify"`
	// The notifications of those events: in the stream (exactly once
	// each), and at a webhook on loopback (at least once each).
	StreamNotifications  int64 `json:"stream_notifications"`
	WebhookEvents        int64 `json:"webhook_events_delivered"`
	WebhookRedeliveries  int64 `json:"webhook_redeliveries"`
	NotificationsMissing int64 `json:"notifications_missing"`
	NotificationsPhantom int64 `json:"notifications_without_a_stored_event"`
}

// TestCrash runs concurrent writers against the real goodwilld, SIGKILLs it
// at random moments and restarts it; writers re-send every call that was
// not acknowledged, with the same idempotency keys. Afterwards every
// acknowledged event must be stored exactly once, nothing else may be
// stored, and `goodwilld verify` must pass, after every kill and at the end.
func TestCrash(t *testing.T) {
	cfg := crashConfigFromEnv(t)
	bin := buildBinary(t)
	var all []crashFigures
	for _, kind := range cfg.Stores {
		t.Run(kind, func(t *testing.T) {
			f := crashRun(t, bin, kind, cfg, 1)
			all = append(all, f)
			t.Logf("%s: %d cycles, %d writers: %d calls (%d events) acknowledged, %d events stored, %d calls re-sent after an error; lost %d, doubled %d, unexpected %d; verify ran %d times, %d with mismatches; %.1fs; final: %s",
				kind, f.Cycles, f.Writers, f.CallsAcknowledged, f.EventsAcknowledged, f.EventsStored, f.CallsResent,
				f.Lost, f.Doubled, f.Unexpected, f.VerifyRuns, f.VerifyMismatches, f.Seconds, f.FinalVerify)
			t.Logf("%s notifications: %d event.recorded in the stream, %d events delivered to the webhook (%d redeliveries); missing %d, without a stored event %d",
				kind, f.StreamNotifications, f.WebhookEvents, f.WebhookRedeliveries, f.NotificationsMissing, f.NotificationsPhantom)
		})
	}
	writeCrashFigures(t, cfg, "make test-crash", all)
}

// TestCrashReplicas is TestCrash against two goodwilld replicas on one
// PostgreSQL database, as a cluster runs: each writer sends to one replica
// and, when a call is not acknowledged, re-sends it with the same keys to
// the other (what a load balancer does when a backend dies), while the
// replicas are SIGKILLed and restarted in turn. Acknowledged events must
// be stored exactly once across both, their notifications must be in the
// stream exactly once, and goodwilld verify must pass at the end. (Verify
// runs only at the end: while one replica is down the other keeps
// writing.)
func TestCrashReplicas(t *testing.T) {
	cfg := crashConfigFromEnv(t)
	bin := buildBinary(t)
	var all []crashFigures
	for _, kind := range cfg.Stores {
		if kind == "sqlite" {
			continue // one process owns an embedded store
		}
		t.Run(kind, func(t *testing.T) {
			f := crashRun(t, bin, kind, cfg, 2)
			all = append(all, f)
			t.Logf("%s, %d replicas: %d kills, %d writers: %d calls (%d events) acknowledged, %d events stored, %d calls re-sent to the other replica; lost %d, doubled %d, unexpected %d; final verify: %s (%d mismatching runs); %.1fs",
				kind, f.Replicas, f.Cycles, f.Writers, f.CallsAcknowledged, f.EventsAcknowledged, f.EventsStored, f.CallsResent,
				f.Lost, f.Doubled, f.Unexpected, f.FinalVerify, f.VerifyMismatches, f.Seconds)
			t.Logf("%s notifications: %d event.recorded in the stream, %d events delivered to the webhook (%d redeliveries); missing %d, without a stored event %d",
				kind, f.StreamNotifications, f.WebhookEvents, f.WebhookRedeliveries, f.NotificationsMissing, f.NotificationsPhantom)
		})
	}
	writeCrashFigures(t, cfg, "make test-crash-replicas", all)
}

// writeCrashFigures writes the figures to GOODWILL_CRASH_OUT, if set.
func writeCrashFigures(t *testing.T, cfg crashConfig, target string, all []crashFigures) {
	if out := os.Getenv("GOODWILL_CRASH_OUT"); out != "" && len(all) > 0 {
		doc := map[string]any{
			"command": fmt.Sprintf("GOODWILL_CRASH_CYCLES=%d GOODWILL_CRASH_WRITERS=%d GOODWILL_CRASH_CUSTOMERS=%d GOODWILL_CRASH_UPTIME=%s %s",
				cfg.Cycles, cfg.Writers, cfg.Customers, cfg.Uptime, target),
			"date":   time.Now().UTC().Format(time.RFC3339),
			"stores": all,
		}
		raw, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, append(raw, '\n'), 0o644); err != nil {
			t.Fatalf("GOODWILL_CRASH_OUT: %v", err)
		}
		t.Logf("figures written to %s", out)
	}
}

func crashRun(t *testing.T, bin, kind string, cfg crashConfig, replicas int) crashFigures {
	start := time.Now()
	f := crashFigures{Store: kind, Replicas: replicas, Cycles: cfg.Cycles, Writers: cfg.Writers, Customers: cfg.Customers}
	db := freshStore(t, kind)
	keyFile := filepath.Join(t.TempDir(), "admin.key")
	// Each replica keeps its addresses across restarts.
	grpcAddrs, httpAddrs := make([]string, replicas), make([]string, replicas)
	ds := make([]*daemon, replicas)
	for i := range ds {
		grpcAddrs[i], httpAddrs[i] = freeAddr(t), freeAddr(t)
		// The first creates the admin key; the others start once it has.
		ds[i] = startDaemon(t, bin, db, keyFile, grpcAddrs[i], httpAddrs[i])
	}
	grpcAddr := grpcAddrs[0]
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	hook := newEventHook(t)
	admin, err := client.Dial(grpcAddr, client.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.CreateWebhook(context.Background(), &goodwillv1.CreateWebhookRequest{Url: hook.srv.URL,
		Types: []string{"event.recorded"}}); err != nil {
		t.Fatalf("create the webhook: %v", err)
	}

	customers := make([]string, cfg.Customers)
	for i := range customers {
		customers[i] = fmt.Sprintf("cust-%03d", i)
	}
	stop := make(chan struct{})
	writers := make([]*writer, cfg.Writers)
	var wg sync.WaitGroup
	for i := range writers {
		w := &writer{id: i, customers: customers, rng: rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))),
			acked: map[string]string{}, cur: i % replicas}
		for _, addr := range grpcAddrs {
			c, err := client.Dial(addr, client.WithToken(token),
				client.WithRetry(6), client.WithRetryBackoff(20*time.Millisecond, 400*time.Millisecond),
				grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{
					BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond}}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			w.cs = append(w.cs, c)
		}
		writers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			writers[i].run(stop)
		}()
	}

	// Kill, verify the store the dead server left, restart; cfg.Cycles
	// times. With replicas, one at a time, in turn, while the others write.
	rng := rand.New(rand.NewPCG(99, uint64(start.UnixNano())))
	for cycle := 1; cycle <= cfg.Cycles; cycle++ {
		time.Sleep(cfg.Uptime/4 + rand.N(cfg.Uptime*3/4))
		victim := (cycle - 1) % replicas
		ds[victim].kill()
		if replicas == 1 {
			code, report := runVerify(t, bin, db)
			f.VerifyRuns++
			if code != 0 {
				f.VerifyMismatches++
				t.Errorf("cycle %d: goodwilld verify after SIGKILL exited %d:\n%s", cycle, code, report)
			}
		}
		time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond) // down a little longer
		ds[victim] = startDaemon(t, bin, db, keyFile, grpcAddrs[victim], httpAddrs[victim])
	}
	// Let the writers finish what they hold, against a server that stays up.
	time.Sleep(cfg.Uptime / 2)
	close(stop)
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		t.Fatal("writers did not finish their last calls within 2 minutes of the last restart")
	}

	// Every acknowledged key, exactly once; nothing else.
	want := map[string]string{} // key -> customer
	for _, w := range writers {
		for _, e := range w.errs {
			t.Errorf("writer %d: %s", w.id, e)
		}
		f.CallsAcknowledged += w.calls
		f.CallsResent += w.resent
		for k, c := range w.acked {
			want[k] = c
		}
	}
	f.EventsAcknowledged = int64(len(want))
	seen := map[string]int{}
	storedIDs := map[string]bool{}
	lister := writers[0].cs[0]
	for _, cust := range customers {
		for _, e := range listAll(t, lister, cust) {
			storedIDs[e.GetEventId()] = true
			f.EventsStored++
			k := e.GetIdempotencyKey()
			seen[k]++
			switch wc, ok := want[k]; {
			case !ok:
				f.Unexpected++
				t.Errorf("customer %s holds event %s with key %q that no writer had acknowledged", cust, e.GetEventId(), k)
			case wc != cust:
				f.Unexpected++
				t.Errorf("key %q was acknowledged for %s but is stored on %s", k, wc, cust)
			}
		}
	}
	for k, c := range want {
		switch n := seen[k]; {
		case n == 0:
			f.Lost++
			t.Errorf("acknowledged event %q of %s is missing", k, c)
		case n > 1:
			f.Doubled += int64(n - 1)
			t.Errorf("acknowledged event %q of %s is stored %d times", k, c, n)
		}
	}
	checkNotifications(t, lister, hook, storedIDs, &f)
	for _, d := range ds {
		d.stop(t)
	}
	code, report := runVerify(t, bin, db)
	f.VerifyRuns++
	if code != 0 {
		f.VerifyMismatches++
		t.Errorf("final goodwilld verify exited %d:\n%s", code, report)
	}
	for _, line := range strings.Split(report, "\n") {
		if strings.HasPrefix(line, "checked ") {
			f.FinalVerify = line
		}
	}
	if f.EventsAcknowledged == 0 {
		t.Error("no event was acknowledged: the test tested nothing")
	}
	f.Seconds = time.Since(start).Seconds()
	return f
}

func listAll(t *testing.T, c *client.Client, customer string) []*goodwillv1.Event {
	t.Helper()
	var out []*goodwillv1.Event
	token := ""
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := c.ListEvents(ctx, &goodwillv1.ListEventsRequest{CustomerId: customer, PageSize: 1000, PageToken: token})
		cancel()
		if status.Code(err) == codes.NotFound {
			return nil
		}
		if err != nil {
			t.Fatalf("list events of %s: %v", customer, err)
		}
		out = append(out, resp.GetEvents()...)
		if token = resp.GetNextPageToken(); token == "" {
			return out
		}
	}
}

// writer makes calls with idempotency keys it chooses, and re-sends a call
// that failed (server killed, restarting) with the same keys until it is
// acknowledged.
type writer struct {
	id int
	// cs are clients of each replica; cur is the one calls go to until
	// one is not acknowledged, when the re-send goes to the next.
	cs        []*client.Client
	cur       int
	customers []string
	rng       *rand.Rand
	seq       int
	// acked maps every acknowledged key to its customer.
	acked map[string]string
	// reversible are acknowledged events of this writer not yet reversed.
	reversible []reversible
	calls      int64
	resent     int64
	errs       []string
}

type reversible struct{ customer, eventID string }

type writeCall struct {
	customer string
	batch    []*goodwillv1.Event // RecordEvents when more than one
	reverse  *reversible
	key      string // of a single event or a reversal
}

var crashKinds = []goodwillv1.EventKind{
	goodwillv1.EventKind_EVENT_KIND_CREDIT, goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY,
	goodwillv1.EventKind_EVENT_KIND_OUTAGE, goodwillv1.EventKind_EVENT_KIND_RESPONSE,
	goodwillv1.EventKind_EVENT_KIND_PROACTIVE_NOTICE, goodwillv1.EventKind_EVENT_KIND_COMPLAINT,
	goodwillv1.EventKind_EVENT_KIND_SUGGESTION_ADOPTED, goodwillv1.EventKind_EVENT_KIND_ENGAGEMENT,
}

func (w *writer) key() string {
	w.seq++
	return fmt.Sprintf("w%d-%d", w.id, w.seq)
}

func (w *writer) event(customer string) *goodwillv1.Event {
	m := 0.5 + 3*w.rng.Float64()
	e := &goodwillv1.Event{CustomerId: customer, Kind: crashKinds[w.rng.IntN(len(crashKinds))], Magnitude: &m, IdempotencyKey: w.key()}
	if w.rng.IntN(5) == 0 { // backdated: the server replays the history
		e.OccurredAt = timestampBefore(time.Duration(w.rng.IntN(72)) * time.Hour)
	}
	return e
}

// next picks the next call: mostly single events, some batches of three,
// a few reversals of this writer's own acknowledged events.
func (w *writer) next() *writeCall {
	cust := w.customers[w.rng.IntN(len(w.customers))]
	switch r := w.rng.IntN(20); {
	case r == 0 && len(w.reversible) > 0:
		i := w.rng.IntN(len(w.reversible))
		rv := w.reversible[i]
		w.reversible = append(w.reversible[:i], w.reversible[i+1:]...)
		return &writeCall{customer: rv.customer, reverse: &rv, key: w.key()}
	case r < 4:
		var batch []*goodwillv1.Event
		for range 3 {
			batch = append(batch, w.event(w.customers[w.rng.IntN(len(w.customers))]))
		}
		return &writeCall{batch: batch}
	default:
		e := w.event(cust)
		return &writeCall{customer: cust, batch: []*goodwillv1.Event{e}, key: e.IdempotencyKey}
	}
}

func (w *writer) run(stop <-chan struct{}) {
	var pending *writeCall
	for {
		if pending == nil {
			select {
			case <-stop:
				return
			default:
			}
			pending = w.next()
		}
		err := w.do(pending)
		switch status.Code(err) {
		case codes.OK:
			w.calls++
			pending = nil
		case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.Canceled:
			// Not acknowledged: the server is down or restarting. Send
			// the same call, same keys, again: to the next replica, if
			// there are several, as a load balancer would.
			w.resent++
			w.cur = (w.cur + 1) % len(w.cs)
			time.Sleep(50 * time.Millisecond)
		default:
			w.errs = append(w.errs, fmt.Sprintf("call refused: %v", err))
			pending = nil
		}
	}
}

func (w *writer) do(c *writeCall) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := w.cs[w.cur]
	switch {
	case c.reverse != nil:
		resp, err := cl.ReverseEvent(ctx, &goodwillv1.ReverseEventRequest{CustomerId: c.customer, EventId: c.reverse.eventID,
			IdempotencyKey: c.key, Note: "crash test"})
		if err != nil {
			return err
		}
		w.acked[c.key] = c.customer
		if resp.GetReversal().GetIdempotencyKey() != c.key {
			w.errs = append(w.errs, fmt.Sprintf("reversal acknowledged with key %q, sent %q", resp.GetReversal().GetIdempotencyKey(), c.key))
		}
	case len(c.batch) == 1:
		e := c.batch[0]
		resp, err := cl.RecordEvent(ctx, &goodwillv1.RecordEventRequest{CustomerId: c.customer, Event: e})
		if err != nil {
			return err
		}
		w.acked[e.IdempotencyKey] = c.customer
		w.reversible = append(w.reversible, reversible{c.customer, resp.GetEvent().GetEventId()})
	default:
		resp, err := cl.RecordEvents(ctx, &goodwillv1.RecordEventsRequest{Events: c.batch})
		if err != nil {
			return err
		}
		for i, r := range resp.GetResults() {
			e := c.batch[i]
			if r.GetOutcome() == goodwillv1.RecordOutcome_RECORD_OUTCOME_CONFLICT {
				w.errs = append(w.errs, fmt.Sprintf("batch item %s: conflict: %s", e.IdempotencyKey, r.GetError()))
				continue
			}
			w.acked[e.IdempotencyKey] = e.CustomerId
			w.reversible = append(w.reversible, reversible{e.CustomerId, r.GetEvent().GetEventId()})
		}
	}
	return nil
}

func timestampBefore(d time.Duration) *timestamppb.Timestamp {
	return timestamppb.New(time.Now().Add(-d).Truncate(time.Microsecond))
}

// eventHook is a webhook receiver on loopback: it counts, by event id,
// the event.recorded notifications it is sent.
type eventHook struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]int // event id -> deliveries
	ids map[string]int // notification id -> deliveries
}

func newEventHook(t *testing.T) *eventHook {
	h := &eventHook{got: map[string]int{}, ids: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Data struct {
				NotificationID string `json:"notificationId"`
				EventID        string `json:"eventId"`
			} `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got[body.Data.EventID]++
		h.ids[body.Data.NotificationID]++
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// checkNotifications: every stored event has exactly one event.recorded in
// the stream and reached the webhook at least once, whatever the kills; no
// notification names an event that is not stored (a write that did not
// commit announced nothing). The server is up: what was not numbered or
// delivered before the last kill is, now.
func checkNotifications(t *testing.T, c *client.Client, hook *eventHook, stored map[string]bool, f *crashFigures) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	var inStream map[string]int
	for {
		inStream = map[string]int{}
		f.StreamNotifications = 0
		after := ""
		for {
			resp, err := c.ListNotifications(ctx, &goodwillv1.ListNotificationsRequest{After: after,
				Types: []string{"event.recorded"}, PageSize: 1000})
			if err != nil {
				t.Fatalf("list notifications: %v", err)
			}
			for _, n := range resp.GetNotifications() {
				inStream[n.GetEventId()]++
				f.StreamNotifications++
			}
			if len(resp.GetNotifications()) == 0 {
				break
			}
			after = resp.GetNextCursor()
		}
		hook.mu.Lock()
		delivered := len(hook.got)
		hook.mu.Unlock()
		if (len(inStream) >= len(stored) && delivered >= len(stored)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for id := range stored {
		if inStream[id] != 1 {
			f.NotificationsMissing++
			t.Errorf("stored event %s has %d event.recorded notifications in the stream, want exactly 1", id, inStream[id])
		}
		if hook.got[id] == 0 {
			f.NotificationsMissing++
			t.Errorf("stored event %s never reached the webhook", id)
		}
	}
	for id := range inStream {
		if !stored[id] {
			f.NotificationsPhantom++
			t.Errorf("the stream announces event %s, which is not stored", id)
		}
	}
	for id, n := range hook.got {
		if !stored[id] {
			f.NotificationsPhantom++
			t.Errorf("the webhook was told of event %s, which is not stored", id)
		}
		f.WebhookEvents++
		_ = n
	}
	for _, n := range hook.ids {
		f.WebhookRedeliveries += int64(n - 1)
	}
}
