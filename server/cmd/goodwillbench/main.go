// Command goodwillbench measures goodwilld's ingest and read paths against a
// raw-driver baseline, in one run, on the embedded store and on PostgreSQL.
//
//	go run ./server/cmd/goodwillbench              # quick (make bench)
//	go run ./server/cmd/goodwillbench -full        # 1M customers, 10M events (make bench-full)
//
// It builds goodwilld, starts it as a child process per configuration (so
// its peak RSS is the server's alone), drives it over loopback gRPC and
// REST, prints a table with the ratios the performance targets name, and
// writes the figures as JSON. docs/benchmarks.md explains the method.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

type options struct {
	full      bool
	duration  time.Duration
	clients   int
	pgURL     string
	out       string
	customers int // loaded for the read scenarios
	events    int // total events loaded for the read scenarios
	stores    string
	// profile, when set, is a folder for CPU profiles of the server taken
	// during the single-event and 1,000-event scenarios.
	profile string
	// serverBin is a prebuilt goodwilld to measure ("" builds this checkout).
	serverBin string
	// replicas adds the two-replica scenarios on PostgreSQL; onlyReplicas
	// runs nothing else (with the raw baselines, for scale).
	replicas, onlyReplicas, onlyPush, onlyConsole, onlyInsight, onlyReads, analyze bool
}

// result is one measured figure.
type result struct {
	Store    string  `json:"store"`
	Scenario string  `json:"scenario"`
	Rate     float64 `json:"events_per_second,omitempty"`
	P50ms    float64 `json:"p50_ms,omitempty"`
	P99ms    float64 `json:"p99_ms,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
	RSSMB    float64 `json:"peak_rss_mb,omitempty"`
	// CPUus is the server's CPU time (user and system, from /proc) per
	// event, in microseconds: steadier than throughput on a shared machine.
	CPUus float64 `json:"server_cpu_us_per_event,omitempty"`
	// DBCPUus is PostgreSQL's CPU time per event, all its processes on
	// this machine (SQLite's is in CPUus: it runs in the server).
	DBCPUus float64 `json:"db_cpu_us_per_event,omitempty"`
	// LoadCPUus is this program's own CPU per event: the load's clients
	// and, in the push scenarios, the webhook receiver and the stream
	// reader. They share the machine's two cores with the server.
	LoadCPUus float64 `json:"load_cpu_us_per_event,omitempty"`
	// PerEvent is, for a push scenario, the notifications posted to the
	// webhook per event recorded.
	PerEvent float64 `json:"notifications_per_event,omitempty"`
	Note     string  `json:"note,omitempty"`
}

func main() {
	var o options
	flag.BoolVar(&o.full, "full", false, "the full run: 1M customers and 10M events for the read scenarios")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "how long each ingest scenario runs")
	flag.IntVar(&o.clients, "clients", 64, "concurrent clients for single-event scenarios")
	flag.StringVar(&o.pgURL, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL admin URL (a fresh database is created)")
	flag.StringVar(&o.out, "out", "docs/bench/latest.json", "where to write the results")
	flag.StringVar(&o.stores, "stores", "sqlite,postgres", "stores to measure")
	flag.StringVar(&o.serverBin, "server", "", "measure this goodwilld binary instead of building the checkout's (to compare two builds in turn)")
	flag.StringVar(&o.profile, "profile", "", "folder for server CPU and allocation profiles (go tool pprof) of the single-event, batch, REST, 8-client GetBalance and 4-client ListOutreach scenarios")
	flag.BoolVar(&o.replicas, "replicas", true, "measure writes through two replicas on one PostgreSQL database")
	flag.BoolVar(&o.onlyPush, "only-push", false, "measure only the raw baselines and single events with and without notification consumers")
	flag.BoolVar(&o.onlyConsole, "only-console", false, "load the read scenarios' customers, then measure only the web console's first render (headless Chromium)")
	flag.BoolVar(&o.onlyInsight, "only-insight", false, "load the read scenarios' customers, then measure only a policy simulation, a trend backfill and read, and the recompute job of installing the simulated draft")
	flag.BoolVar(&o.onlyReads, "only-reads", false, "measure single events briefly (for the ingest rate), then only the read scenarios")
	flag.BoolVar(&o.analyze, "analyze", false, "with -only-insight or -only-console on PostgreSQL: ANALYZE the tables after loading them, as autovacuum does within minutes")
	flag.BoolVar(&o.onlyReplicas, "only-replicas", false, "measure only the raw baselines and the replica scenarios")
	customers := flag.Int("customers", 0, "customers loaded for the read scenarios (default 50,000; 1M with -full)")
	events := flag.Int("events", 0, "events loaded for the read scenarios (default 100,000; 10M with -full)")
	dbDelay := flag.Duration("db-delay", 0, "send PostgreSQL's traffic through a proxy that holds it this long each way, as across a network (a round trip gains twice it)")
	again := flag.String("report", "", "print the report of a run saved in this JSON file (-out of an earlier run) and exit")
	floorAddr := flag.String(floorFlag, "", "internal: serve the reads' gRPC floor on this address (the benchmark starts itself so)")
	flag.Parse()
	if *floorAddr != "" {
		log.Fatal(serveFloor(*floorAddr))
	}
	if *again != "" {
		rs, cpus, err := readJSON(*again)
		if err != nil {
			log.Fatal(err)
		}
		report(os.Stdout, rs, cpus)
		return
	}
	o.customers, o.events = 50_000, 100_000
	if o.full {
		o.customers, o.events = 1_000_000, 10_000_000
		o.duration = max(o.duration, 10*time.Second)
	}
	if *customers > 0 {
		o.customers = *customers
	}
	if *events > 0 {
		o.events = *events
	}
	log.SetFlags(log.Ltime)
	if *dbDelay < 0 {
		log.Fatalf("-db-delay %s: must not be negative", *dbDelay)
	}
	if *dbDelay > 0 {
		delayed, err := delayDatabase(o.pgURL, *dbDelay)
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("PostgreSQL through a proxy holding each direction %s", *dbDelay)
		o.pgURL = delayed
	}

	ctx := context.Background()
	bin := o.serverBin
	if bin == "" {
		built, cleanup, err := buildServer()
		if err != nil {
			log.Fatal(err)
		}
		defer cleanup()
		bin = built
	}

	var results []result
	for _, store := range strings.Split(o.stores, ",") {
		rs, err := runStore(ctx, o, bin, store)
		if err != nil {
			log.Printf("%s: %v (skipped)", store, err)
			results = append(results, result{Store: store, Scenario: "skipped", Note: err.Error()})
			continue
		}
		results = append(results, rs...)
	}
	report(os.Stdout, results, runtime.NumCPU())
	if err := writeJSON(o.out, o, results); err != nil {
		log.Fatal(err)
	}
	log.Printf("results written to %s", o.out)
}

func writeJSON(path string, o options, rs []result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	host, _ := os.Hostname()
	doc := map[string]any{
		"when":      time.Now().UTC().Format(time.RFC3339),
		"host":      host,
		"cpus":      runtime.NumCPU(),
		"full":      o.full,
		"clients":   o.clients,
		"duration":  o.duration.String(),
		"customers": o.customers,
		"events":    o.events,
		"results":   rs,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// readJSON reads the results writeJSON wrote, and the cores of the machine
// that measured them (a file from before they were recorded: 2, the
// development machine's).
func readJSON(path string) ([]result, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	var doc struct {
		CPUs    int      `json:"cpus"`
		Results []result `json:"results"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if doc.CPUs == 0 {
		doc.CPUs = 2
	}
	return doc.Results, doc.CPUs, nil
}

func find(rs []result, store, scenario string) (result, bool) {
	i := slices.IndexFunc(rs, func(r result) bool { return r.Store == store && r.Scenario == scenario })
	if i < 0 {
		return result{}, false
	}
	return rs[i], true
}

// sortResults keeps the table grouped by store.
func sortResults(rs []result) {
	slices.SortStableFunc(rs, func(a, b result) int { return cmp.Compare(a.Store, b.Store) })
}

func fmtMs(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}
