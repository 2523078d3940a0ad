package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// reference is the goal column of a row that is no target.
const reference = "(reference)"

// report prints every figure, then each target of the performance issue
// with the measured ratio and whether it is met; cpus is the cores of the
// machine that measured them.
func report(w io.Writer, rs []result, cpus int) {
	sortResults(rs)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "store\tscenario\tevents/s\tp50 ms\tp99 ms\tserver CPU us/event\tdb CPU us/event\tload CPU us/event\tseconds\tRSS MB\tnote")
	for _, r := range rs {
		rate, secs, rss, cpu, db, load := "-", "-", "-", "-", "-", "-"
		if r.CPUus > 0 {
			cpu = fmt.Sprintf("%.0f", r.CPUus)
		}
		if r.LoadCPUus > 0 {
			load = fmt.Sprintf("%.0f", r.LoadCPUus)
		}
		if r.DBCPUus > 0 {
			db = fmt.Sprintf("%.0f", r.DBCPUus)
		}
		if r.Rate > 0 {
			rate = fmt.Sprintf("%.0f", r.Rate)
		}
		if r.Seconds > 0 {
			secs = fmt.Sprintf("%.2f", r.Seconds)
		}
		if r.RSSMB > 0 {
			rss = fmt.Sprintf("%.0f", r.RSSMB)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Store, r.Scenario, rate, fmtMs(r.P50ms), fmtMs(r.P99ms), cpu, db, load, secs, rss,
			r.Note)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "store\ttarget\tmeasured\tgoal\tmet")
	for _, store := range []string{"sqlite", "postgres"} {
		get := func(s string) result { r, _ := find(rs, store, s); return r }
		if _, ok := find(rs, store, "grpc single, group commit"); !ok {
			continue
		}
		single, off, oneTx := get("grpc single, group commit"), get("grpc single, no group commit"), get("raw driver, one transaction per event")
		rows500 := get("raw driver, service rows, batches of 500")
		rowsNotes := get("raw driver, service rows and notifications, batches of 500")
		gb1, out1 := get("GetBalance, 1 client"), get("ListOutreach first 100, 1 client")
		b1000, rest, hot := get("grpc batch of 1000"), get("rest single, group commit"), get("grpc single, hot customer")
		imported := get("import events, CSV, 1000 a call")
		gb, out, rec, rss := get("GetBalance"), get("ListOutreach first 100"), get("full recompute of ranking"), get("server peak RSS")
		console, gbLoaded := get("console outreach first render"), get("GetBalance, under ingest")
		floor, floorLoaded := get("gRPC floor, 8 clients"), get("gRPC floor, under ingest")
		// Push's cost against the runs without it, interleaved with them
		// (A B A B A), so a drift of the machine's load cancels out.
		var plain, plainCPU, pushed, pushedCPU float64
		for _, name := range []string{"grpc single, group commit", "grpc single, group commit (again)", "grpc single, group commit (third)"} {
			r := get(name)
			plain, plainCPU = plain+r.Rate/3, plainCPU+(r.CPUus+r.DBCPUus)/3
		}
		for _, name := range []string{"grpc single, webhook + stream", "grpc single, webhook + stream (again)"} {
			r := get(name)
			pushed, pushedCPU = pushed+r.Rate/2, pushedCPU+(r.CPUus+r.DBCPUus)/2
		}
		ratio := func(a, b float64) float64 {
			if b == 0 {
				return 0
			}
			return a / b
		}
		// ceiling is the most events a second this machine's cores allow
		// a scenario at the CPU per event it measured (the server's, the
		// database's and the load's own), every core busy all the time: a
		// ratio target whose ceiling falls short cannot be met without
		// cutting that CPU, whatever else changes.
		ceiling := func(r result) float64 {
			if cpu := r.CPUus + r.DBCPUus + r.LoadCPUus; cpu > 0 {
				return float64(cpus) * 1e6 / cpu
			}
			return 0
		}
		rows := []struct {
			name     string
			measured float64
			goal     string
			met      bool
			unit     string
		}{
			{"group commit / one tx per event", ratio(single.Rate, off.Rate), ">= 10x", ratio(single.Rate, off.Rate) >= 10, "x"},
			// Issue #15's targets.
			{"gRPC single: server CPU per event", single.CPUus, cpuGoal(store, 150, 100), single.CPUus > 0 && single.CPUus <= cpuLimit(store, 150, 100), " us"},
			{"REST single: server CPU per event", rest.CPUus, cpuGoal(store, 200, 150), rest.CPUus > 0 && rest.CPUus <= cpuLimit(store, 200, 150), " us"},
			{"REST single / raw, one tx per event", ratio(rest.Rate, oneTx.Rate), ">= 2x", ratio(rest.Rate, oneTx.Rate) >= 2, "x"},
			{"gRPC single / raw, service's rows", ratio(single.Rate, rows500.Rate), ">= 0.5x", ratio(single.Rate, rows500.Rate) >= 0.5, "x"},
			{"RecordEvents 1000 / raw, service's rows", ratio(b1000.Rate, rows500.Rate), ">= 0.8x", ratio(b1000.Rate, rows500.Rate) >= 0.8, "x"},
			// Not targets: the same three ratios at their ceilings.
			{"REST single at its CPU's ceiling / raw, one tx", ratio(ceiling(rest), oneTx.Rate), reference, false, "x"},
			{"gRPC single at its CPU's ceiling / raw, service's rows", ratio(ceiling(single), rows500.Rate), reference, false, "x"},
			{"RecordEvents 1000 at its CPU's ceiling / raw, service's rows", ratio(ceiling(b1000), rows500.Rate), reference, false, "x"},
			// Not a target: the same against the rows the service has
			// written since push (a notification per event), for the record.
			{"RecordEvents 1000 / raw, rows and notifications", ratio(b1000.Rate, rowsNotes.Rate), reference, false, "x"},
			// Issue #16's target.
			{"import events / RecordEvents 1000", ratio(imported.Rate, b1000.Rate), ">= 0.8x", ratio(imported.Rate, b1000.Rate) >= 0.8, "x"},
			{"p99 gRPC single, 64 clients", single.P99ms, "<= 25 ms", single.P99ms > 0 && single.P99ms <= 25, " ms"},
			{"hot customer / uniform", ratio(hot.Rate, single.Rate), ">= 0.5x", ratio(hot.Rate, single.Rate) >= 0.5, "x"},
			{"GetBalance p99, 1 client", gb1.P99ms, "<= 2 ms", gb1.P99ms > 0 && gb1.P99ms <= 2, " ms"},
			{"GetBalance p99, 8 clients", gb.P99ms, "<= 2 ms", gb.P99ms > 0 && gb.P99ms <= 2, " ms"},
			{"GetBalance p99, 8 clients, under ingest at half rate", gbLoaded.P99ms, "<= 2 ms", gbLoaded.P99ms > 0 && gbLoaded.P99ms <= 2, " ms"},
			// Not targets: the bare gRPC server's p99 from the same 8
			// clients (floor.go), below which no read path can go.
			{"gRPC floor p99, 8 clients", floor.P99ms, reference, false, " ms"},
			{"gRPC floor p99, 8 clients, under ingest", floorLoaded.P99ms, reference, false, " ms"},
			{"ListOutreach first page p99, 1 client", out1.P99ms, "<= 20 ms", out1.P99ms > 0 && out1.P99ms <= 20, " ms"},
			{"ListOutreach first page p99, 4 clients", out.P99ms, "<= 20 ms", out.P99ms > 0 && out.P99ms <= 20, " ms"},
			{"full recompute / ListOutreach p99", ratio(rec.Seconds*1000, out.P99ms), ">= 100x", ratio(rec.Seconds*1000, out.P99ms) >= 100, "x"},
			{"server peak RSS", rss.RSSMB, "<= 256 MB", rss.RSSMB > 0 && rss.RSSMB <= 256, " MB"},
			{"console outreach first render, slowest", console.P99ms, "<= 1000 ms", console.P99ms > 0 && console.P99ms <= 1000, " ms"},
			{"single events with webhook + stream / without", ratio(pushed, plain), ">= 0.8x", ratio(pushed, plain) >= 0.8, "x"},
			{"server + database CPU per event, push / without", ratio(pushedCPU, plainCPU), "<= 1.2x", plainCPU > 0 && ratio(pushedCPU, plainCPU) <= 1.2, "x"},
		}
		for _, r := range rows {
			if r.measured == 0 { // a scenario it needs did not run (-only-push...)
				fmt.Fprintf(tw, "%s\t%s\t-\t%s\tnot run\n", store, r.name, r.goal)
				continue
			}
			met := "no"
			switch {
			case r.goal == reference:
				met = "-"
			case r.met:
				met = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%.2f%s\t%s\t%s\n", store, r.name, r.measured, r.unit, r.goal, met)
		}
	}
	tw.Flush()
	pushAccounts(w, rs)
}

// pushAccounts sets push's extra CPU per event, the whole machine's
// (server, database and this program, which runs the load and the
// consumers), beside what the webhook's POSTs alone would cost at the
// floor measured in the same run: the part of push that no change to
// the ledger can take away while each notification is one POST.
func pushAccounts(w io.Writer, rs []result) {
	machine := func(r result) float64 { return r.CPUus + r.DBCPUus + r.LoadCPUus }
	for _, store := range []string{"sqlite", "postgres"} {
		floor, ok := find(rs, store, "webhook POST floor")
		if !ok || floor.LoadCPUus == 0 {
			continue
		}
		var plain, pushed, perEvent float64
		for _, name := range []string{"grpc single, group commit", "grpc single, group commit (again)", "grpc single, group commit (third)"} {
			r, _ := find(rs, store, name)
			plain += machine(r) / 3
		}
		for _, name := range []string{"grpc single, webhook + stream", "grpc single, webhook + stream (again)"} {
			r, _ := find(rs, store, name)
			pushed, perEvent = pushed+machine(r)/2, perEvent+r.PerEvent/2
		}
		posts := perEvent * floor.LoadCPUus
		fmt.Fprintf(w, "\n%s push accounts: machine CPU %.0f us/event without consumers, %.0f with (+%.0f); "+
			"%.2f notifications posted per event x %.0f us per POST at the floor = %.0f us/event (%.0f%% of the extra, %.0f%% of an event without)\n",
			store, plain, pushed, pushed-plain, perEvent, floor.LoadCPUus, posts, 100*posts/max(pushed-plain, 1), 100*posts/max(plain, 1))
	}
}

// cpuLimit is issue #15's ceiling on server CPU per event for a store.
func cpuLimit(store string, sqlite, postgres float64) float64 {
	if store == "sqlite" {
		return sqlite
	}
	return postgres
}

func cpuGoal(store string, sqlite, postgres float64) string {
	return fmt.Sprintf("<= %.0f us", cpuLimit(store, sqlite, postgres))
}
