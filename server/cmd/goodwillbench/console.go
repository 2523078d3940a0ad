package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
)

// consoleRenders is how many times the console's outreach page is opened.
const consoleRenders = 7

// consoleFirstRender opens the web console's outreach page in headless
// Chromium, signed in, consoleRenders times, and measures from the start
// of each navigation (the page's time origin) to the moment the first row
// of the RECOVERY list is in the document: the HTML, the script, the
// role check and the first page of ListOutreach through the REST gateway.
func consoleFirstRender(ctx context.Context, srv *server) (stats, error) {
	exe := ""
	for _, name := range []string{os.Getenv("GOODWILL_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); name != "" && err == nil {
			exe = p
			break
		}
	}
	if exe == "" {
		return stats{}, errors.New("no Chromium found (apt-get install chromium)")
	}
	dir, err := os.MkdirTemp("", "goodwillbench-chromium")
	if err != nil {
		return stats{}, err
	}
	defer os.RemoveAll(dir)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true))...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	base := "http://" + srv.httpAddr + "/console/"
	// Sign in once: the key lives in the tab's sessionStorage.
	if err := chromedp.Do(bctx, chromedp.Navigate(base),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`sessionStorage.setItem("goodwill.key", %q)`, srv.token))(ctx, t)
			return err
		})); err != nil {
		return stats{}, err
	}
	var st stats
	start := time.Now()
	for i := 0; i < consoleRenders; i++ {
		// A new URL each time (the fragment differs), so the browser loads
		// the page again rather than only changing the fragment.
		tctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		err := chromedp.Do(tctx, chromedp.Navigate(fmt.Sprintf("%s?run=%d#/outreach", base, i)))
		var ms float64
		if err == nil {
			ms, err = chromedp.Run(tctx, chromedp.Poll[float64](
				`document.querySelector('[data-testid="outreach_purpose_recovery"] tbody tr') && performance.now()`,
				chromedp.WithPollingTimeout(25*time.Second)))
		}
		cancel()
		if err != nil {
			return stats{}, fmt.Errorf("render %d: %w", i, err)
		}
		if i == 0 {
			continue // the first load warms the browser's own caches
		}
		st.events++
		st.latencies = append(st.latencies, time.Duration(ms*float64(time.Millisecond)))
	}
	st.elapsed = time.Since(start)
	slices.Sort(st.latencies)
	return st, nil
}

// consoleOnly loads the read scenarios' customers in-process (quicker than
// over gRPC), starts goodwilld on them and measures the console's first
// render: `-only-console -customers 1000000` is the 1M check.
func consoleOnly(ctx context.Context, o options, bin, store, db, keyFile string) ([]result, error) {
	srv, out, err := loadThenServe(ctx, o, bin, store, db, keyFile)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	return append(out, consoleResult(ctx, store, srv)), nil
}

// loadThenServe loads the read scenarios' customers in-process and starts
// goodwilld on them; the result is the load's row.
func loadThenServe(ctx context.Context, o options, bin, store, db, keyFile string) (*server, []result, error) {
	start := time.Now()
	loaded, err := loadDirect(ctx, o, db)
	if err != nil {
		return nil, nil, fmt.Errorf("load: %w", err)
	}
	log.Printf("%-8s loaded %d customers, %d events in %s", store, o.customers, loaded.events, time.Since(start).Round(time.Second))
	if o.analyze && store == "postgres" {
		// A ledger in service has statistics; one loaded a moment ago
		// may not yet (autovacuum analyses it within minutes).
		if err := analyzeAll(ctx, db); err != nil {
			return nil, nil, err
		}
	}
	srv, err := startServer(ctx, bin, db, keyFile)
	if err != nil {
		return nil, nil, err
	}
	out := []result{{Store: store, Scenario: "load for reads", Rate: loaded.rate(), Seconds: time.Since(start).Seconds(),
		Note: fmt.Sprintf("%d customers, %d events", o.customers, loaded.events)}}
	return srv, out, nil
}

// consoleResult is the console scenario as a result; without a browser it
// says why it did not run.
func consoleResult(ctx context.Context, store string, srv *server) result {
	st, err := consoleFirstRender(ctx, srv)
	if err != nil {
		log.Printf("%-8s console first render: %v", store, err)
		return result{Store: store, Scenario: "console outreach first render", Note: "not run: " + err.Error()}
	}
	r := result{Store: store, Scenario: "console outreach first render", P50ms: st.pct(0.5), P99ms: st.pct(1),
		Note: fmt.Sprintf("%d page loads after a warm-up; p99 is the slowest", len(st.latencies))}
	log.Printf("%-8s console outreach first render: p50 %.0f ms, slowest %.0f ms", store, r.P50ms, r.P99ms)
	return r
}

// analyzeAll runs ANALYZE on the PostgreSQL database at url.
func analyzeAll(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "ANALYZE")
	return err
}
