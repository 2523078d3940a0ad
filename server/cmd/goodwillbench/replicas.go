package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	goodwillv1 "github.com/goodwill-ledger/goodwill/gen/goodwill/v1"
)

// replicaScenarios measures writes through two goodwilld replicas on one
// database, as a cluster deployment runs, against one replica in the same
// run: uniform customers, and a few hot customers both replicas write to
// at once. Each replica batches its own writes (group commit), so the two
// replicas' transactions meet only in the database, where SERIALIZABLE
// makes one of two conflicting transactions retry. The retries per 1,000
// events come from the replicas' own counter
// (goodwill_store_transaction_retries_total).
func replicaScenarios(ctx context.Context, o options, bin, store, db, keyFile string, extra ...string) ([]result, error) {
	var out []result
	var reps []*server
	var metrics []string
	defer func() {
		for _, r := range reps {
			r.stop()
		}
	}()
	// Two plain replicas, a third process with four group-commit writers
	// (customers partitioned among them): parallel writers inside one
	// process, against the same database; and two more plain replicas, for
	// four (docs/capacity.md checks its model against two and four).
	n := 3
	if o.onlyReplicas || o.full {
		n = 5
	}
	for i := range n {
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		flags := append([]string{"--metrics-addr", addr}, extra...)
		if i == 2 {
			flags = append(flags, "--group-commit-writers", "4")
		}
		r, err := startServer(ctx, bin, db, keyFile, flags...)
		if err != nil {
			return nil, err
		}
		reps, metrics = append(reps, r), append(metrics, addr)
	}
	// The database holds the earlier scenarios' events (unless only the
	// replicas run), and no server has taken yesterday's trend snapshot
	// of them: the first server started on an empty database, and each
	// checks once an hour. One replica takes it at start, replaying every
	// event; a fleet that ran yesterday has it already, so it is waited
	// out rather than measured.
	if !o.onlyReplicas {
		if err := awaitTrendSnapshot(ctx, reps[0], store); err != nil {
			return nil, err
		}
	}
	retries := func() float64 {
		total := 0.0
		for _, m := range metrics {
			total += scrape(ctx, m, "goodwill_store_transaction_retries_total")
		}
		return total
	}
	hot := 10
	// The quick run keeps four of the seven (make bench stays under five
	// minutes); -only-replicas and -full measure them all.
	all := o.onlyReplicas || o.full
	for i, sc := range []struct {
		name      string
		servers   []int // which of reps the clients are spread over
		customers int
		quick     bool
	}{
		{"1 replica, uniform", []int{0}, uniformCustomers, true},
		{"2 replicas, uniform", []int{0, 1}, uniformCustomers, true},
		{"1 replica, 4 writers, uniform", []int{2}, uniformCustomers, true},
		{"4 replicas, uniform", []int{0, 1, 3, 4}, uniformCustomers, false},
		{"1 replica, 10 hot customers", []int{0}, hot, false},
		{"2 replicas, 10 hot customers", []int{0, 1}, hot, true},
		{"1 replica, 4 writers, 10 hot customers", []int{2}, hot, false},
	} {
		if !sc.quick && !all {
			continue
		}
		before := retries()
		cpu0 := 0.0
		for _, r := range reps {
			cpu0 += r.cpuSeconds()
		}
		s := drive(ctx, o.clients, o.duration, func(ctx context.Context, cl, n int) (int, error) {
			r := reps[sc.servers[cl%len(sc.servers)]]
			_, err := r.client.RecordEvent(ctx, single(fmt.Sprintf("r%d", rand.IntN(sc.customers)), fmt.Sprintf("rep%d-%d-%d", i, cl, n)))
			return 1, err
		})
		perK := (retries() - before) / float64(max(s.events, 1)) * 1000
		cpu := -cpu0
		for _, r := range reps {
			cpu += r.cpuSeconds()
		}
		// Every replica's CPU, over the events all of them took.
		r := result{Store: store, Scenario: sc.name, Rate: s.rate(), P50ms: s.pct(0.5), P99ms: s.pct(0.99),
			CPUus: cpu / float64(max(s.events, 1)) * 1e6,
			Note:  strings.TrimSpace(fmt.Sprintf("%.1f retries per 1,000 events %s", perK, s.note()))}
		log.Printf("%-8s %-28s %10.0f events/s  p50 %6.2f ms  p99 %6.2f ms  %s", store, sc.name, r.Rate, r.P50ms, r.P99ms, r.Note)
		out = append(out, r)
	}
	if !o.onlyReplicas {
		return out, nil // verify replays every event: a minute the quick run keeps
	}
	// Every write above went through several replicas at once: the stored
	// balances must still equal a replay of the log.
	for _, r := range reps {
		r.stop()
	}
	reps = nil
	report, err := exec.CommandContext(ctx, bin, "verify", "--db", db).CombinedOutput()
	summary := strings.TrimSpace(string(report))
	if i := strings.LastIndex(summary, "checked "); i >= 0 {
		summary = summary[i:]
	}
	log.Printf("%-8s goodwilld verify after the replica scenarios: %s", store, summary)
	if err != nil {
		return out, fmt.Errorf("goodwilld verify after the replica scenarios: %v\n%s", err, report)
	}
	return append(out, result{Store: store, Scenario: "verify after the replica scenarios", Note: summary}), nil
}

// scrape reads one counter from a goodwilld /metrics page (0 when absent).
func scrape(ctx context.Context, addr, name string) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// awaitTrendSnapshot waits until the replicas' trend worker has taken the
// snapshot of yesterday.
func awaitTrendSnapshot(ctx context.Context, r *server, store string) error {
	start := time.Now()
	yesterday := start.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1).Format(time.DateOnly)
	for {
		resp, err := r.client.GetBalanceTrend(ctx, &goodwillv1.GetBalanceTrendRequest{Start: yesterday, End: yesterday})
		if err != nil {
			return fmt.Errorf("read the trend: %w", err)
		}
		if len(resp.GetPoints()) > 0 {
			log.Printf("%-8s the replicas' start-up trend snapshot (one replica replays every event) took %.1f s; not measured",
				store, time.Since(start).Seconds())
			return nil
		}
		if time.Since(start) > 5*time.Minute {
			return errors.New("no trend snapshot of yesterday 5 minutes after the replicas started")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
