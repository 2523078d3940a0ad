package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// uniformCustomers is how many customers the uniform ingest scenarios
// spread their events over.
const uniformCustomers = 10_000

// warmUp runs single events before the first measured ingest scenario of
// each store, as issue #15's method does (3 s).
const warmUp = 3 * time.Second

// runStore measures every scenario on one store.
func runStore(ctx context.Context, o options, bin, store string) ([]result, error) {
	keyDir, err := os.MkdirTemp("", "goodwillbench-key")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(keyDir)
	keyFile := filepath.Join(keyDir, "admin.key")
	var db, rawDB string
	switch store {
	case "sqlite":
		dir, err := os.MkdirTemp("", "goodwillbench-sqlite")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		db, rawDB = "sqlite:"+filepath.Join(dir, "goodwill.db"), filepath.Join(dir, "raw.db")
	case "postgres":
		u, drop, err := freshPostgres(ctx, o.pgURL)
		if err != nil {
			return nil, err
		}
		defer drop()
		db, rawDB = u, u
	default:
		return nil, fmt.Errorf("unknown store %q", store)
	}
	var out []result
	add := func(scenario string, s stats) {
		r := result{Store: store, Scenario: scenario, Rate: s.rate(), P50ms: s.pct(0.50), P99ms: s.pct(0.99), Note: s.note()}
		log.Printf("%-8s %-28s %10.0f events/s  p50 %6.2f ms  p99 %6.2f ms %s", store, scenario, r.Rate, r.P50ms, r.P99ms, r.Note)
		out = append(out, r)
	}

	// raw runs a baseline and records it with its CPU per event: this
	// program's own (the driver's side: the baselines run in it, before the
	// server starts) in the server column, and PostgreSQL's.
	raw := func(scenario string, run func(w *cpuWindow) (stats, error)) error {
		var w cpuWindow
		s, err := run(&w)
		if err != nil {
			return fmt.Errorf("%s: %w", scenario, err)
		}
		add(scenario, s)
		if r := &out[len(out)-1]; s.events > 0 {
			r.CPUus = w.self / float64(s.events) * 1e6
			if store == "postgres" {
				r.DBCPUus = w.db / float64(s.events) * 1e6
			}
			log.Printf("%-8s %-28s CPU %.0f us/event (this program), database %.0f us/event", store, scenario, r.CPUus, r.DBCPUus)
		}
		return nil
	}

	// 4. The raw baseline: the same rows through the driver, 500 per
	// transaction, no service.
	if err := raw("raw driver, batches of 500", func(w *cpuWindow) (stats, error) { return rawBaseline(ctx, w, store, rawDB, o.duration) }); err != nil {
		return nil, err
	}
	rowsDB, dropRows, err := serviceRowsDB(ctx, o, store)
	if err != nil {
		return nil, err
	}
	defer dropRows()
	// The service's rows at 500 a batch (the throughput targets' baseline)
	// and at 64, the largest batch 64 single-event clients can form: the
	// floor under the service's CPU per event at that load.
	for _, size := range []int{500, 64} {
		name := fmt.Sprintf("raw driver, service rows, batches of %d", size)
		d := o.duration
		if size < rawBatch {
			d /= 2 // its CPU per event is steady in half the time; make bench stays under 5 minutes
		}
		if err := raw(name, func(w *cpuWindow) (stats, error) { return rawServiceRows(ctx, w, store, rowsDB, size, false, d) }); err != nil {
			return nil, err
		}
	}
	// The same at 500 with a notification row per event: the rows the
	// service has written since push, for the record beside the target's
	// baseline above.
	if err := raw("raw driver, service rows and notifications, batches of 500", func(w *cpuWindow) (stats, error) {
		return rawServiceRows(ctx, w, store, rowsDB, rawBatch, true, o.duration/2)
	}); err != nil {
		return nil, err
	}
	if err := raw("raw driver, one transaction per event", func(w *cpuWindow) (stats, error) {
		return rawOneTxPerEvent(ctx, w, store, rawDB, o.clients, o.duration)
	}); err != nil {
		return nil, err
	}
	if o.onlyConsole {
		return consoleOnly(ctx, o, bin, store, db, keyFile)
	}
	if o.onlyInsight {
		return insightOnly(ctx, o, bin, store, db, keyFile)
	}
	if o.onlyReplicas {
		if store != "postgres" {
			return out, nil
		}
		reps, err := replicaScenarios(ctx, o, bin, store, db, keyFile)
		return append(out, reps...), err
	}

	var debug []string
	if o.profile != "" {
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		debug = []string{"--debug-addr", addr}
	}
	srv, err := startServer(ctx, bin, db, keyFile, debug...)
	if err != nil {
		return nil, err
	}
	c := srv.client
	// profiled runs scenario, which lasts about d, while the server's CPU
	// and allocations are profiled.
	profiled := func(name string, d time.Duration, scenario func() stats) stats {
		if o.profile == "" {
			return scenario()
		}
		done := profileCPU(ctx, debug[1], filepath.Join(o.profile, store+"-"+name+".pprof"), d-time.Second)
		allocs := profileAllocs(ctx, debug[1], filepath.Join(o.profile, store+"-"+name+".allocs.pprof"), d-time.Second)
		s := scenario()
		for _, err := range []error{<-done, <-allocs} {
			if err != nil {
				log.Printf("profile %s: %v", name, err)
			}
		}
		return s
	}
	// withCPU runs a scenario and notes the server's CPU per event.
	withCPU := func(name string, scenario func() stats) {
		before, dbBefore, loadBefore := srv.cpuSeconds(), postgresCPUSeconds(), selfCPUSeconds()
		st := scenario()
		cpu, dbCPU, loadCPU := srv.cpuSeconds()-before, postgresCPUSeconds()-dbBefore, selfCPUSeconds()-loadBefore
		r := result{Store: store, Scenario: name, Rate: st.rate(), P50ms: st.pct(0.50), P99ms: st.pct(0.99), Note: st.note()}
		if st.events > 0 {
			r.CPUus = cpu / float64(st.events) * 1e6
			r.LoadCPUus = loadCPU / float64(st.events) * 1e6
			if store == "postgres" {
				r.DBCPUus = dbCPU / float64(st.events) * 1e6
			}
		}
		log.Printf("%-8s %-28s %10.0f events/s  p50 %6.2f ms  p99 %6.2f ms  server CPU %.0f us/event  db CPU %.0f us/event  load CPU %.0f us/event %s",
			store, name, r.Rate, r.P50ms, r.P99ms, r.CPUus, r.DBCPUus, r.LoadCPUus, r.Note)
		out = append(out, r)
	}
	singleLoad := func(prefix string) stats {
		return drive(ctx, o.clients, o.duration, func(ctx context.Context, cl, n int) (int, error) {
			_, err := c.RecordEvent(ctx, single(fmt.Sprintf("u%d", rand.IntN(uniformCustomers)), fmt.Sprintf("%s-%d-%d", prefix, cl, n)))
			return 1, err
		})
	}
	// 1. Single events over gRPC, group commit on, after a warm-up (the
	// issue's method: "10 s after a 3 s warm-up"). Cold, the first events
	// create the 10,000 customers and the server's heap, caches and
	// prepared statements grow; those costs are the start's, not the rate's.
	warm := drive(ctx, o.clients, warmUp, func(ctx context.Context, cl, n int) (int, error) {
		_, err := c.RecordEvent(ctx, single(fmt.Sprintf("u%d", rand.IntN(uniformCustomers)), fmt.Sprintf("w-%d-%d", cl, n)))
		return 1, err
	})
	log.Printf("%-8s warm-up: %d events in %s", store, warm.events, warmUp)
	withCPU("grpc single, group commit", func() stats { return profiled("single", o.duration, func() stats { return singleLoad("g") }) })
	if o.onlyReads {
		return readsOnly(ctx, o, bin, srv, store, db, keyFile, out, profiled)
	}
	// 1a. The request path's floor: GetCaller runs the same transport,
	// authentication, validation, logging and metrics as RecordEvent, and
	// touches no store. What a single event costs above this is the
	// ledger's and the store's.
	withCPU("grpc GetCaller, request path floor", func() stats {
		return drive(ctx, o.clients, o.duration, func(ctx context.Context, cl, n int) (int, error) {
			_, err := c.GetCaller(ctx, &goodwillv1.GetCallerRequest{})
			return 1, err
		})
	})
	// 1b. The same with notifications consumed: a webhook on loopback
	// receiving every notification, and a stream reading them all. Run
	// twice, between three runs without (A B A B A), so the machine's
	// drift and the database's growth weigh on both sides alike.
	for i, suffix := range []string{"", " (again)"} {
		consumers, err := startConsumers(ctx, c, srv)
		if err != nil {
			return nil, fmt.Errorf("notification consumers: %w", err)
		}
		withCPU("grpc single, webhook + stream"+suffix, func() stats {
			if i > 0 {
				return singleLoad(fmt.Sprintf("gn%d", i))
			}
			return profiled("push", o.duration, func() stats { return singleLoad("gn") })
		})
		pushed := &out[len(out)-1]
		lag := consumers.stop(ctx, c)
		log.Printf("%-8s notifications: %s", store, lag)
		if pushed.Rate > 0 {
			pushed.PerEvent = float64(consumers.posted.Load()) / (pushed.Rate * o.duration.Seconds())
		}
		out = append(out, result{Store: store, Scenario: "notifications delivered" + suffix, Note: lag})
		withCPU("grpc single, group commit"+[]string{" (again)", " (third)"}[i], func() stats { return singleLoad(fmt.Sprintf("g%d", i+2)) })
	}
	// 1c. The floor under a webhook's cost: the same receiver taking
	// signed POSTs of a notification's size from a plain client, as many
	// in flight as goodwilld posts, with no ledger behind them.
	floor, err := webhookFloor(ctx, o.duration)
	if err != nil {
		return nil, fmt.Errorf("webhook floor: %w", err)
	}
	log.Printf("%-8s %-28s %10.0f posts/s  CPU %.0f us/post (client and receiver)", store, "webhook POST floor", floor.Rate, floor.LoadCPUus)
	floor.Store = store
	out = append(out, floor)
	if o.onlyPush {
		srv.stop()
		return out, nil
	}
	// 5. Single events over REST, before the batches: on PostgreSQL the
	// sequencer numbers a batch scenario's notifications for a while after
	// it, and a scenario run then would pay for that.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.clients}}
	withCPU("rest single, group commit", func() stats {
		return profiled("rest", o.duration, func() stats {
			return drive(ctx, o.clients, o.duration, func(ctx context.Context, cl, n int) (int, error) {
				body := fmt.Sprintf(`{"kind":"EVENT_KIND_RELIABLE_DELIVERY","idempotencyKey":"r-%d-%d"}`, cl, n)
				url := fmt.Sprintf("http://%s/v1/customers/u%d/events", srv.httpAddr, rand.IntN(uniformCustomers))
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
				if err != nil {
					return 0, err
				}
				req.Header.Set("Authorization", "Bearer "+srv.token)
				resp, err := hc.Do(req)
				if err != nil {
					return 0, err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return 0, fmt.Errorf("HTTP %d", resp.StatusCode)
				}
				return 1, nil
			})
		})
	})
	// 3. Batches over gRPC.
	for _, size := range []int{100, 1000} {
		withCPU(fmt.Sprintf("grpc batch of %d", size), func() stats {
			return profiled(fmt.Sprintf("batch%d", size), o.duration, func() stats {
				return drive(ctx, 4, o.duration, func(ctx context.Context, cl, n int) (int, error) {
					_, err := c.RecordEvents(ctx, batch(size, fmt.Sprintf("b%d-%d-%d", size, cl, n)))
					return size, err
				})
			})
		})
	}
	// 3a. The same batches through `goodwill import`'s library, from a CSV
	// of about as many rows as RecordEvents 1000 took in: what the
	// importer's parsing, key derivation and pipeline cost on top.
	b1000Rate := 0.0
	if r, ok := find(out, store, "grpc batch of 1000"); ok {
		b1000Rate = r.Rate
	}
	for _, past := range []bool{false, true} {
		name := "import events, CSV, 1000 a call"
		if past {
			name = "import events older than the ledger's"
		}
		withCPU(name, func() stats {
			rows := importRows(b1000Rate, o.duration)
			if past {
				rows /= 4 // slower, and for the record only: a shorter run keeps make bench under 5 minutes
			}
			st, err := importCSV(ctx, c, rows, past)
			if err != nil {
				st.errors, st.firstErr = st.errors+1, err
			}
			return st
		})
	}
	// 6. One hot customer takes every client's events.
	withCPU("grpc single, hot customer", func() stats {
		return drive(ctx, o.clients, o.duration, func(ctx context.Context, cl, n int) (int, error) {
			_, err := c.RecordEvent(ctx, single("hot", fmt.Sprintf("h-%d-%d", cl, n)))
			return 1, err
		})
	})

	// 7. Reads with many customers loaded. The full run restarts the
	// server around its load, so peak RSS is the larger of the two.
	rss := srv.peakRSSMB()
	ingestRate := 0.0
	if r, ok := find(out, store, "grpc single, group commit"); ok {
		ingestRate = r.Rate
	}
	reads, srv, err := readScenarios(ctx, o, bin, srv, store, db, keyFile, ingestRate, profiled)
	if err != nil {
		if srv != nil {
			srv.stop()
		}
		return nil, err
	}
	out = append(out, reads...)
	// 8. Peak resident memory of the server over all of the above.
	rss = max(rss, srv.peakRSSMB())
	out = append(out, result{Store: store, Scenario: "server peak RSS", RSSMB: rss})
	log.Printf("%-8s server peak RSS %.0f MB", store, rss)
	// 9. What-if and trends over the loaded customers: in the full run
	// (and -only-insight); the quick run keeps under 5 minutes without.
	if o.full {
		insight, err := insightScenarios(ctx, store, srv)
		if err != nil {
			srv.stop()
			return nil, fmt.Errorf("insight: %w", err)
		}
		out = append(out, insight...)
	}
	srv.stop()

	// 2. Single events with group commit off: one transaction per event.
	off, err := startServer(ctx, bin, db, keyFile, "--no-group-commit")
	if err != nil {
		return nil, err
	}
	add("grpc single, no group commit", drive(ctx, o.clients, o.duration, func(ctx context.Context, cl, n int) (int, error) {
		_, err := off.client.RecordEvent(ctx, single(fmt.Sprintf("u%d", rand.IntN(uniformCustomers)), fmt.Sprintf("o-%d-%d", cl, n)))
		return 1, err
	}))
	off.stop()

	// 9. Two replicas on one database (PostgreSQL; SQLite is one process's
	// file).
	if store == "postgres" && o.replicas {
		reps, err := replicaScenarios(ctx, o, bin, store, db, keyFile)
		if err != nil {
			return nil, fmt.Errorf("replicas: %w", err)
		}
		out = append(out, reps...)
	}
	return out, nil
}

func single(customer, key string) *goodwillv1.RecordEventRequest {
	return &goodwillv1.RecordEventRequest{CustomerId: customer, Event: &goodwillv1.Event{
		Kind: goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY, IdempotencyKey: key,
	}}
}

func batch(size int, prefix string) *goodwillv1.RecordEventsRequest {
	req := &goodwillv1.RecordEventsRequest{Events: make([]*goodwillv1.Event, size)}
	for i := range req.Events {
		req.Events[i] = &goodwillv1.Event{
			CustomerId:     fmt.Sprintf("u%d", rand.IntN(uniformCustomers)),
			Kind:           goodwillv1.EventKind_EVENT_KIND_RELIABLE_DELIVERY,
			IdempotencyKey: fmt.Sprintf("%s-%d", prefix, i),
		}
	}
	return req
}

// readScenarios measures GetBalance and the first page of ListOutreach
// with o.customers customers and o.events events loaded, and the time a
// full recompute of the same ranking from the event log takes. The quick
// run loads over gRPC; the full run loads in-process through the ledger
// Service (the same rows, without a day of RPCs), with the server stopped,
// then restarts it: srv is replaced and returned.
func readScenarios(ctx context.Context, o options, bin string, srv *server, store, db, keyFile string, ingestRate float64,
	profiled func(name string, d time.Duration, scenario func() stats) stats) ([]result, *server, error) {
	start := time.Now()
	var loaded stats
	if o.full {
		srv.stop()
		var err error
		if loaded, err = loadDirect(ctx, o, db); err != nil {
			return nil, nil, fmt.Errorf("load: %w", err)
		}
		if srv, err = startServer(ctx, bin, db, keyFile, srv.extra...); err != nil {
			return nil, nil, err
		}
	} else {
		loaded = drive(ctx, 4, 24*time.Hour, func(ctx context.Context, cl, n int) (int, error) {
			lo := (n*4 + cl) * loadChunk
			if lo >= o.customers*perCustomer(o) {
				return 0, errDone
			}
			_, err := srv.client.RecordEvents(ctx, &goodwillv1.RecordEventsRequest{Events: loadEvents(o, lo)})
			return len(loadEvents(o, lo)), err
		})
	}
	c := srv.client
	log.Printf("%-8s loaded %d customers, %d events in %s (%.0f events/s) %s", store, o.customers, loaded.events,
		time.Since(start).Round(time.Second), loaded.rate(), loaded.note())
	var out []result
	out = append(out, result{Store: store, Scenario: "load for reads", Rate: loaded.rate(), Seconds: time.Since(start).Seconds(),
		Note: fmt.Sprintf("%d customers, %d events", o.customers, loaded.events)})

	getBalances := func(clients int) stats {
		return drive(ctx, clients, 3*time.Second, func(ctx context.Context, cl, n int) (int, error) {
			_, err := c.GetBalance(ctx, &goodwillv1.GetBalanceRequest{CustomerId: fmt.Sprintf("load-%07d", rand.IntN(o.customers))})
			return 1, err
		})
	}
	pid := srv.cmd.Process.Pid
	out = append(out, readResult(store, "GetBalance", pid, store == "postgres", func() stats {
		return profiled("getbalance", 3*time.Second, func() stats { return getBalances(8) })
	}))
	// The reads' baseline: the same client and 8 callers against a bare
	// gRPC server (floor.go). A floor that does not start costs its own
	// rows, not the store's.
	fl, err := startFloor(ctx)
	if err != nil {
		log.Printf("%-8s gRPC floor: %v", store, err)
		out = append(out, result{Store: store, Scenario: "gRPC floor, 8 clients", Note: "not run: " + err.Error()})
	} else {
		defer fl.stop() // stop is idempotent; this covers the returns below
		out = append(out, readResult(store, "gRPC floor, 8 clients", fl.pid(), false, func() stats { return fl.check(ctx, 8, 3*time.Second) }))
	}
	// The same with one client: the service's own latency, without clients
	// queueing for the two cores.
	out = append(out, readResult(store, "GetBalance, 1 client", pid, store == "postgres", func() stats { return getBalances(1) }))
	// The same while single events are recorded at half the rate the
	// uniform single-event scenario reached (issue #15: reads under load),
	// and the floor under its own ingest of the same rate.
	if ingestRate > 0 {
		underIngest := func(name, tag string, measure func() stats) result {
			stop := make(chan struct{})
			ingested := make(chan stats, 1)
			go func() {
				ingested <- paced(ctx, ingestRate/2, stop, func(ctx context.Context, n int) error {
					_, err := c.RecordEvent(ctx, single(fmt.Sprintf("load-%07d", rand.IntN(o.customers)), fmt.Sprintf("rl-%s-%d", tag, n)))
					return err
				})
			}()
			time.Sleep(time.Second) // the ingest settles
			st := measure()
			close(stop)
			in := <-ingested
			return result{Store: store, Scenario: name, Rate: st.rate(), P50ms: st.pct(0.5), P99ms: st.pct(0.99),
				Note: strings.TrimSpace(fmt.Sprintf("8 clients, while %.0f events/s were recorded (target %.0f: half the single-event rate) %s %s",
					in.rate(), ingestRate/2, st.note(), in.note()))}
		}
		out = append(out, underIngest("GetBalance, under ingest", "get", func() stats { return getBalances(8) }))
		if fl != nil {
			out = append(out, underIngest("gRPC floor, under ingest", "floor", func() stats { return fl.check(ctx, 8, 3*time.Second) }))
		}
	}
	if fl != nil {
		fl.stop()
	}
	listOutreach := func(clients int) stats {
		return drive(ctx, clients, 3*time.Second, func(ctx context.Context, cl, n int) (int, error) {
			_, err := c.ListOutreach(ctx, &goodwillv1.ListOutreachRequest{Purpose: goodwillv1.OutreachPurpose_OUTREACH_PURPOSE_RECOVERY, PageSize: 100})
			return 1, err
		})
	}
	out = append(out, readResult(store, "ListOutreach first 100", pid, store == "postgres", func() stats {
		return profiled("outreach", 3*time.Second, func() stats { return listOutreach(4) })
	}))
	out = append(out, readResult(store, "ListOutreach first 100, 1 client", pid, store == "postgres", func() stats { return listOutreach(1) }))
	out = append(out, consoleResult(ctx, store, srv))
	rec, err := recomputeRanking(ctx, store, db)
	if err != nil {
		return nil, srv, fmt.Errorf("full recompute: %w", err)
	}
	out = append(out, result{Store: store, Scenario: "full recompute of ranking", Seconds: rec.Seconds()})
	for _, r := range out[1:] {
		log.Printf("%-8s %-28s p50 %s ms  p99 %s ms  %.2f s", store, r.Scenario, fmtMs(r.P50ms), fmtMs(r.P99ms), r.Seconds)
	}
	return out, srv, nil
}

// readsOnly is -only-reads: the read scenarios, after the single-event
// scenario that sets their ingest rate.
func readsOnly(ctx context.Context, o options, bin string, srv *server, store, db, keyFile string, out []result,
	profiled func(name string, d time.Duration, scenario func() stats) stats) ([]result, error) {
	ingestRate := 0.0
	if r, ok := find(out, store, "grpc single, group commit"); ok {
		ingestRate = r.Rate
	}
	reads, srv, err := readScenarios(ctx, o, bin, srv, store, db, keyFile, ingestRate, profiled)
	if srv != nil {
		srv.stop()
	}
	return append(out, reads...), err
}
